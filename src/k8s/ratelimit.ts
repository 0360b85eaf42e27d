// A token bucket (client-go's flowcontrol QPS/burst) for client requests.
import { realClock, type Clock } from "./clock.ts";

export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  constructor(qps: number, burst: number, clock: Clock = realClock) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`invalid token bucket qps=${qps} burst=${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.qps);
    this.#last = now;
  }

  /** Milliseconds until a token would be available (0 if one is). Does not take it. */
  delayMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.qps) * 1000);
  }

  /** Takes a token now, possibly ahead of time; returns the milliseconds until it is due (0 if at once). */
  reserve(): number {
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.qps) * 1000);
  }

  /** Waits for a token, first come first served (reservations are handed out in call order). */
  async take(): Promise<void> {
    const d = this.reserve();
    if (d > 0) await this.#clock.sleep(d);
  }
}

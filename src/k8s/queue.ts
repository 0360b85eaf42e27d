// A keyed work queue with client-go's semantics:
//  - de-duplicating: an item added several times before a worker takes it is processed once;
//  - never concurrent per item: an item re-added while being processed is queued again only
//    when done() is called for it;
//  - delayed adds (addAfter; a second addAfter keeps the earlier time) and per-item
//    exponential rate limiting (addRateLimited / forget / numRequeues);
//  - shutdown: new adds are ignored, items already queued are still handed out, then get()
//    reports shutdown;
//  - (moco-ts) two lanes: addFirst() queues an item ahead of every item queued by add(), so
//    that new work (a cluster never reconciled at its generation) does not wait behind the
//    repeat passes of other items (bench/controller-scale.ts, docs/performance.md).
// Items are compared by value (SameValueZero), so use strings such as "namespace/name".
import type { Logger } from "pino";
import { backoffDelay } from "../util/backoff.ts";
import { realClock, type Clock, type TimerHandle } from "./clock.ts";
import { TokenBucket } from "./ratelimit.ts";
import { errorMessage } from "../util/errors.ts";
import { defaultLogger } from "./log.ts";

export interface RateLimiter<T> {
  /** Delay before the item may be processed again; counts one more failure. */
  when(item: T): number;
  /** Clears the item's failure history. */
  forget(item: T): void;
  numRequeues(item: T): number;
}

/** base × 2^failures per item, capped (client-go: 5 ms .. 1000 s). */
export class ItemExponentialRateLimiter<T> implements RateLimiter<T> {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly #failures = new Map<T, number>();

  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  when(item: T): number {
    const n = this.#failures.get(item) ?? 0;
    this.#failures.set(item, n + 1);
    return backoffDelay(n, { initialMs: this.baseMs, maxMs: this.maxMs });
  }

  forget(item: T): void { this.#failures.delete(item); }
  numRequeues(item: T): number { return this.#failures.get(item) ?? 0; }
}

/** An overall token bucket (client-go: 10 qps, burst 100): each when() reserves one token. */
export class BucketRateLimiter<T> implements RateLimiter<T> {
  readonly #bucket: TokenBucket;

  constructor(qps = 10, burst = 100, clock: Clock = realClock) {
    this.#bucket = new TokenBucket(qps, burst, clock);
  }

  when(_item: T): number { return this.#bucket.reserve(); }

  forget(_item: T): void { /* no per-item state */ }
  numRequeues(_item: T): number { return 0; }
}

/** The largest delay of several limiters. */
export class MaxOfRateLimiter<T> implements RateLimiter<T> {
  readonly #limiters: RateLimiter<T>[];
  constructor(...limiters: RateLimiter<T>[]) { this.#limiters = limiters; }
  when(item: T): number { return Math.max(0, ...this.#limiters.map((l) => l.when(item))); }
  forget(item: T): void { for (const l of this.#limiters) l.forget(item); }
  numRequeues(item: T): number { return Math.max(0, ...this.#limiters.map((l) => l.numRequeues(item))); }
}

/** client-go's DefaultControllerRateLimiter: max(per-item 5 ms..1000 s, overall 10 qps/100 burst). */
export function defaultControllerRateLimiter<T>(clock: Clock = realClock): RateLimiter<T> {
  return new MaxOfRateLimiter<T>(new ItemExponentialRateLimiter<T>(5, 1_000_000), new BucketRateLimiter<T>(10, 100, clock));
}

export interface WorkQueueOptions<T> {
  name?: string;
  rateLimiter?: RateLimiter<T>;
  clock?: Clock;
}

export type GetResult<T> = { item: T; shutdown: false } | { item: undefined; shutdown: true };

export class WorkQueue<T = string> {
  readonly name: string;
  readonly #clock: Clock;
  readonly #limiter: RateLimiter<T>;
  readonly #queue: T[] = [];
  /** The first lane (addFirst), handed out before #queue. */
  readonly #first: T[] = [];
  /** Items added with addFirst while being processed: done() queues them in the first lane. */
  readonly #firstOnDone = new Set<T>();
  readonly #dirty = new Set<T>();
  readonly #processing = new Set<T>();
  readonly #waiting = new Map<T, { at: number; timer: TimerHandle }>();
  readonly #getters: Array<(r: GetResult<T>) => void> = [];
  readonly #idleWaiters: Array<() => void> = [];
  #shuttingDown = false;

  constructor(opts: WorkQueueOptions<T> = {}) {
    this.name = opts.name ?? "queue";
    this.#clock = opts.clock ?? realClock;
    this.#limiter = opts.rateLimiter ?? defaultControllerRateLimiter<T>(this.#clock);
  }

  add(item: T): void {
    if (this.#shuttingDown || this.#dirty.has(item)) return;
    this.#dirty.add(item);
    if (this.#processing.has(item)) return;
    this.#queue.push(item);
    this.#wake();
  }

  /**
   * Adds the item ahead of every item queued by add() (behind earlier addFirst items); an
   * item already queued by add() moves to the first lane. Same de-duplication as add().
   */
  addFirst(item: T): void {
    if (this.#shuttingDown) return;
    if (this.#processing.has(item)) {
      this.#dirty.add(item);
      this.#firstOnDone.add(item);
      return;
    }
    if (this.#dirty.has(item)) {
      const i = this.#queue.indexOf(item);
      if (i < 0) return; // already in the first lane
      this.#queue.splice(i, 1);
    }
    this.#dirty.add(item);
    this.#first.push(item);
    this.#wake();
  }

  /** Adds the item after delayMs; if it is already waiting, the earlier time wins. */
  addAfter(item: T, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) { this.add(item); return; }
    const at = this.#clock.now() + delayMs;
    const w = this.#waiting.get(item);
    if (w) {
      if (w.at <= at) return;
      w.timer.cancel();
    }
    const timer = this.#clock.setTimer(() => {
      this.#waiting.delete(item);
      this.add(item);
    }, delayMs);
    this.#waiting.set(item, { at, timer });
  }

  /** Adds the item after the rate limiter's delay for it (one more failure counted). */
  addRateLimited(item: T): void {
    this.addAfter(item, this.#limiter.when(item));
  }

  /** Clears the item's failure count (call after a success). */
  forget(item: T): void { this.#limiter.forget(item); }

  numRequeues(item: T): number { return this.#limiter.numRequeues(item); }

  /** Waits for the next item; the caller must call done(item) when finished with it. */
  get(): Promise<GetResult<T>> {
    const r = this.#tryGet();
    if (r) return Promise.resolve(r);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  #tryGet(): GetResult<T> | undefined {
    if (this.#first.length > 0 || this.#queue.length > 0) {
      const it = (this.#first.length > 0 ? this.#first.shift() : this.#queue.shift()) as T;
      this.#processing.add(it);
      this.#dirty.delete(it);
      return { item: it, shutdown: false };
    }
    if (this.#shuttingDown) return { item: undefined, shutdown: true };
    return undefined;
  }

  #wake(): void {
    while (this.#getters.length > 0) {
      const r = this.#tryGet();
      if (!r) return;
      this.#getters.shift()?.(r);
    }
  }

  done(item: T): void {
    this.#processing.delete(item);
    const first = this.#firstOnDone.delete(item);
    if (this.#dirty.has(item)) {
      (first ? this.#first : this.#queue).push(item);
      this.#wake();
    }
    if (this.#processing.size === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Items queued and not yet handed out. */
  len(): number { return this.#first.length + this.#queue.length; }
  /** Items waiting for a delayed add. */
  waitingLen(): number { return this.#waiting.size; }
  processingLen(): number { return this.#processing.size; }
  isShuttingDown(): boolean { return this.#shuttingDown; }

  /** Stops accepting items and drops delayed ones; queued items are still handed out. */
  shutdown(): void {
    this.#shuttingDown = true;
    for (const w of this.#waiting.values()) w.timer.cancel();
    this.#waiting.clear();
    this.#wake();
  }

  /** shutdown(), then waits until no item is being processed. */
  async shutdownAndWait(): Promise<void> {
    this.shutdown();
    if (this.#processing.size === 0) return;
    await new Promise<void>((r) => this.#idleWaiters.push(r));
  }
}

/** What a worker function may return: nothing (success), or a request to process again. */
export type WorkResult = void | { requeueAfterMs?: number; requeue?: boolean };

export interface RunWorkersOptions {
  logger?: Logger;
}

/**
 * Runs n workers over the queue until it shuts down. fn's success forgets the item's failures;
 * a thrown error re-adds it with the rate limiter's delay; {requeueAfterMs} re-adds it after
 * that delay; {requeue: true} re-adds it rate limited. Resolves when every worker has exited.
 */
export async function runWorkers<T>(queue: WorkQueue<T>, n: number, fn: (item: T) => Promise<WorkResult>, opts: RunWorkersOptions = {}): Promise<void> {
  const log = (opts.logger ?? defaultLogger).child({ queue: queue.name });
  const worker = async (id: number) => {
    for (;;) {
      const r = await queue.get();
      if (r.shutdown) return;
      const item = r.item;
      try {
        const res = await fn(item);
        if (res && res.requeueAfterMs !== undefined && res.requeueAfterMs > 0) {
          queue.forget(item);
          queue.addAfter(item, res.requeueAfterMs);
        } else if (res && res.requeue) {
          queue.addRateLimited(item);
        } else {
          queue.forget(item);
        }
      } catch (e) {
        log.warn({ worker: id, item: String(item), requeues: queue.numRequeues(item), err: errorMessage(e) }, "work item failed; retrying with back-off");
        queue.addRateLimited(item);
      } finally {
        queue.done(item);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, n) }, (_, i) => worker(i)));
}

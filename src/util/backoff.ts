// Capped exponential back-off, as a pure function and as a small stateful helper.

export interface BackoffOptions {
  /** First delay in ms. */
  initialMs: number;
  /** Largest delay in ms. */
  maxMs: number;
  /** Growth factor per failure (default 2). */
  factor?: number;
  /** Random extra fraction in [0, jitter) of the delay (default 0). */
  jitter?: number;
}

/** Delay before retry number `failures` (0-based): min(initial * factor^failures, max). */
export function backoffDelay(failures: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const factor = opts.factor ?? 2;
  const n = Math.max(0, Math.floor(failures));
  // Compare exponents instead of computing factor^n for large n (avoids Infinity).
  const raw = n > 1000 ? Infinity : opts.initialMs * Math.pow(factor, n);
  const base = Math.min(raw, opts.maxMs);
  const jitter = opts.jitter ?? 0;
  return jitter > 0 ? base + base * jitter * random() : base;
}

/** Counts consecutive failures; next() returns the delay to wait, reset() after a success. */
export class Backoff {
  readonly opts: BackoffOptions;
  #failures = 0;
  readonly #random: () => number;

  constructor(opts: BackoffOptions, random: () => number = Math.random) {
    this.opts = opts;
    this.#random = random;
  }

  get failures(): number { return this.#failures; }

  next(): number {
    const d = backoffDelay(this.#failures, this.opts, this.#random);
    this.#failures++;
    return d;
  }

  reset(): void { this.#failures = 0; }
}

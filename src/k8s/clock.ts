// Time as an injectable dependency so that queues, back-off, resync and leader election can
// be tested with a fake clock (test/unit/k8s/fake-clock.ts; no wall-clock waits in unit tests).
import { setTimeout as sleep } from "node:timers/promises";

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls fn after ms; the timer never keeps the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  /** Resolves after ms, or rejects when the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  sleep(ms, signal) { return sleep(Math.max(0, ms), undefined, { signal, ref: false }); },
};

// Capped exponential back-off for transient failures (network errors, throttling, 5xx)
// of object stores and MySQL connections. Permanent errors (bad credentials, missing
// bucket, 4xx) are rethrown at once so the user sees them quickly.

import { setTimeout as delay } from "node:timers/promises";
import { backoffDelay } from "../util/backoff.ts";

export interface RetryOptions {
  /** Total attempts including the first (default 5). */
  attempts?: number;
  /** First delay in ms (default 200). */
  baseDelayMs?: number;
  /** Delay cap in ms (default 10 s). */
  maxDelayMs?: number;
  /** Whether an error is worth another attempt (default isTransientError). */
  isTransient?: (e: unknown) => boolean;
  /** Called before each re-attempt. */
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

const TRANSIENT_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND", "ECONNABORTED", "EHOSTUNREACH",
  "ENETUNREACH", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "PROTOCOL_CONNECTION_LOST", "ER_LOCK_DEADLOCK",
  "ER_LOCK_WAIT_TIMEOUT", "RequestTimeout", "RequestTimeTooSkewed", "SlowDown", "Throttling", "ThrottlingException",
  "TooManyRequests", "InternalError", "ServiceUnavailable", "TimeoutError", "NetworkingError", "ServerBusy",
  "OperationTimedOut", "REQUEST_SEND_ERROR",
]);

function statusOf(e: Record<string, unknown>): number | undefined {
  const meta = e["$metadata"] as { httpStatusCode?: unknown } | undefined;
  for (const v of [e["statusCode"], e["status"], e["code"], meta?.httpStatusCode]) {
    if (typeof v === "number") return v;
  }
  return undefined;
}

/** Network failures, throttling (429), server errors (5xx) and well-known transient codes. */
export function isTransientError(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const err = e as Record<string, unknown>;
  const status = statusOf(err);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  for (const k of ["code", "name", "Code"]) {
    const v = err[k];
    if (typeof v === "string" && TRANSIENT_CODES.has(v)) return true;
  }
  const cause = err["cause"];
  if (cause !== undefined && cause !== e) return isTransientError(cause);
  return false;
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const base = opts.baseDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 10_000;
  const transient = opts.isTransient ?? isTransientError;
  const sleep = opts.sleep ?? ((ms: number) => delay(ms));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= attempts || !transient(e)) throw e;
      const wait = backoffDelay(attempt - 1, { initialMs: base, maxMs: max });
      opts.onRetry?.(e, attempt, wait);
      await sleep(wait);
    }
  }
}

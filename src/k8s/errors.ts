// Errors returned by the Kubernetes API, and predicates over them that also understand
// @kubernetes/client-node's ApiException (its `code` field), so callers can use one set of
// helpers whichever client produced the error.

/** The body of a non-2xx answer: a meta/v1 Status when the API server produced it. */
export interface StatusBody {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: Record<string, unknown>;
}

export class ApiError extends Error {
  readonly statusCode: number;
  readonly reason: string;
  readonly body: StatusBody | undefined;
  readonly method: string;
  readonly path: string;

  constructor(method: string, path: string, statusCode: number, body: StatusBody | undefined, text?: string) {
    const reason = body?.reason ?? "";
    const msg = body?.message ?? text ?? "";
    super(`${method} ${path}: ${statusCode}${reason ? ` ${reason}` : ""}${msg ? `: ${msg}` : ""}`);
    this.name = "ApiError";
    this.statusCode = statusCode;
    this.reason = reason;
    this.body = body;
    this.method = method;
    this.path = path;
  }
}

/** HTTP status of an API error (ours or client-node's ApiException), or undefined. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.statusCode;
  if (typeof err === "object" && err !== null) {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.statusCode === "number") return e.statusCode;
    if (typeof e.code === "number") return e.code;
  }
  return undefined;
}

function reasonOf(err: unknown): string | undefined {
  if (err instanceof ApiError) return err.reason || undefined;
  if (typeof err === "object" && err !== null) {
    const body = (err as { body?: unknown }).body;
    let parsed: unknown = body;
    if (typeof body === "string") {
      try { parsed = JSON.parse(body); } catch { return undefined; }
    }
    if (typeof parsed === "object" && parsed !== null) {
      const r = (parsed as { reason?: unknown }).reason;
      if (typeof r === "string") return r;
    }
  }
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return statusCodeOf(err) === 404;
}

/** 409 with reason Conflict (an update lost an optimistic-concurrency race). */
export function isConflict(err: unknown): boolean {
  return statusCodeOf(err) === 409 && reasonOf(err) !== "AlreadyExists";
}

export function isAlreadyExists(err: unknown): boolean {
  return statusCodeOf(err) === 409 && reasonOf(err) === "AlreadyExists";
}

/** 410 Gone / Expired: a resourceVersion or continue token is too old; the caller must re-list. */
export function isGone(err: unknown): boolean {
  const code = statusCodeOf(err);
  return code === 410 || reasonOf(err) === "Expired" || reasonOf(err) === "Gone";
}

/**
 * 422 Invalid or 400 BadRequest: the API server refused the object itself (its schema or
 * validation), so sending it again unchanged cannot succeed.
 */
export function isRefusedObject(err: unknown): boolean {
  const code = statusCodeOf(err);
  return code === 422 || code === 400;
}



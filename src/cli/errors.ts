// Exit codes and errors of `kubectl moco` (docs/cli.md "Exit codes"). Every failure the
// plugin reports ends up as a CliError carrying one of these codes, so scripts can tell
// "the cluster does not exist" from "the cluster is not ready yet" from "refused".
import { ApiError } from "../k8s/errors.ts";
import { errorMessage } from "../util/errors.ts";

export const EXIT = Object.freeze({
  /** Success (also: nothing to do, e.g. "already stopped"). */
  OK: 0,
  /** Any other runtime error: API errors other than NotFound, exec failures, bad Secrets. */
  ERROR: 1,
  /** Usage error: unknown flag or subcommand, wrong number of arguments, invalid flag value. */
  USAGE: 2,
  /** The MySQLCluster (or its Secret, or the target Pod) does not exist. */
  NOT_FOUND: 3,
  /** The cluster exists but is not ready for the request yet (no status, Pod not running). */
  NOT_AVAILABLE: 4,
  /** The request was refused by a precondition (switchover on an offline, single-instance or unhealthy cluster). */
  REFUSED: 5,
  /** Waiting for an outcome timed out (switchover --wait). */
  TIMEOUT: 6,
});
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure with the exit code the plugin ends with. The message never holds a password. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.ERROR) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** The meta/v1 Status of a failed API call (KubeClient's ApiError), if the error carries one. */
export function apiStatusOf(err: unknown): { code: number; message: string; reason: string } | undefined {
  if (!(err instanceof ApiError)) return undefined;
  const message = err.body?.message ?? "";
  return { code: err.statusCode, message: message === "" ? `the server answered HTTP ${err.statusCode}` : message, reason: err.reason };
}

/**
 * A CliError for an API error: NotFound becomes EXIT.NOT_FOUND, anything else EXIT.ERROR.
 * The message is the server's (like kubectl: `mysqlclusters.moco.cybozu.com "x" not found`),
 * prefixed by `context` when given.
 */
export function apiError(err: unknown, context?: string): CliError {
  if (err instanceof CliError) return err;
  const status = apiStatusOf(err);
  const prefix = context ? `${context}: ` : "";
  if (status) {
    return new CliError(`${prefix}${status.message}`, status.code === 404 ? EXIT.NOT_FOUND : EXIT.ERROR);
  }
  const msg = errorMessage(err);
  return new CliError(`${prefix}${msg}`, EXIT.ERROR);
}

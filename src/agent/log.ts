// Structured (pino, JSON) logging for the agent, and the redaction every error passes
// through before it reaches a log line or an API response.
import { pino, type Logger } from "pino";

import type { LogLevel } from "./config.ts";

export type { Logger } from "pino";

const PINO_LEVELS: Readonly<Record<LogLevel, string>> = {
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
  critical: "fatal",
};

/** The agent's logger: JSON lines on stderr (or `logFile`), with the Pod's identity on each. */
export function createAgentLogger(opts: {
  readonly level?: LogLevel;
  readonly logFile?: string;
  readonly bindings?: Readonly<Record<string, string | number>>;
}): Logger {
  const destination = opts.logFile ? pino.destination({ dest: opts.logFile, mkdir: true, sync: false }) : pino.destination(2);
  return pino(
    {
      level: PINO_LEVELS[opts.level ?? "info"],
      base: { ...(opts.bindings ?? {}) },
      // Defence in depth: fields that may carry secrets are never printed.
      redact: { paths: ["password", "*.password", "init_password", "*.init_password", "params", "*.params", "sql", "*.sql"], censor: "[redacted]" },
    },
    destination,
  );
}

/** Replaces every occurrence of each non-empty secret in `text` with "[redacted]". */
export function redactSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  const list = [...secrets].filter((s): s is string => typeof s === "string" && s.length > 0).sort((a, b) => b.length - a.length);
  for (const s of list) out = out.split(s).join("[redacted]");
  return out;
}

/**
 * The message of an error with secrets removed. mysql2 errors carry the interpolated
 * statement in `err.sql`; only `message` (the server's text) is used, then redacted.
 */
export function safeErrorMessage(err: unknown, secrets: Iterable<string | undefined> = []): string {
  let message: string;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const errno = (err as { errno?: unknown }).errno;
    message = err.message;
    if (typeof errno === "number" && typeof code === "string" && !message.includes(code)) message = `${code} (${errno}): ${message}`;
  } else {
    message = String(err);
  }
  return redactSecrets(message, secrets);
}

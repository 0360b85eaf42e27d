// Structured JSON logs on stderr for the backup and restore jobs (docs/backup.md#command-line: logs are
// JSON on stderr; child process output is passed through). Passwords never reach a
// log: they are never put into log fields, and `redact` strips the usual suspects from
// error messages of child processes and SDKs before they are logged or reported.
import pino from "pino";

export type Logger = pino.Logger;

export function createLogger(bindings: Record<string, string> = {}, level = process.env["MOCO_BACKUP_LOG_LEVEL"] ?? "info"): Logger {
  return pino(
    {
      level,
      base: { ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["password", "*.password", "secret", "*.secret", "accountKey", "connectionString"], censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

const SECRET_PATTERNS: readonly RegExp[] = [
  /(-p|--password=)\S+/g,
  /(password\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi,
  /(AccountKey=)[^;]+/gi,
  /(SharedAccessSignature=)[^;]+/gi,
  /(IDENTIFIED (?:WITH \S+ )?(?:BY|AS) )('[^']*'|0x[0-9A-Fa-f]+)/gi,
];

/** Removes password-like substrings from a message. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[redacted]");
  for (const re of SECRET_PATTERNS) out = out.replace(re, "$1[redacted]");
  return out;
}


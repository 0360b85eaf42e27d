// A pino logger that drops everything (tests, library use); the agent's and the backup
// jobs' loggers are both pino, so one silent logger serves both.
import { pino, type Logger } from "pino";

export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

// Slow query log rotation (docs/agent.md#log-rotation): on each tick of a cron schedule, and
// (with a size limit) whenever the file is larger than the limit, checked every second:
// rename mysql.slow to mysql.slow.0 and make mysqld reopen it (FLUSH LOCAL SLOW LOGS).
import fs from "node:fs/promises";

import type { CronFieldSet, CronSchedule } from "../api/v1beta2/cron.ts";
import { exec } from "./db.ts";
import type { Queryable } from "../mysql/query.ts";
import { safeErrorMessage, type Logger } from "./log.ts";
import type { AgentMetrics } from "./metrics.ts";

// ---------------------------------------------------------------------------------
// Pure: when to rotate

interface ZonedFields {
  minute: number;
  hour: number;
  dayOfMonth: number;
  month: number;
  dayOfWeek: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function zonedFields(t: Date, timeZone: string | undefined): ZonedFields {
  if (timeZone === undefined || timeZone === "Local") {
    return { minute: t.getMinutes(), hour: t.getHours(), dayOfMonth: t.getDate(), month: t.getMonth() + 1, dayOfWeek: t.getDay() };
  }
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      minute: "numeric",
      hour: "numeric",
      day: "numeric",
      month: "numeric",
      weekday: "short",
    });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(t)) parts[p.type] = p.value;
  return {
    minute: Number(parts.minute),
    hour: Number(parts.hour),
    dayOfMonth: Number(parts.day),
    month: Number(parts.month),
    dayOfWeek: WEEKDAYS[parts.weekday ?? ""] ?? 0,
  };
}

function has(set: CronFieldSet, v: number): boolean {
  return set.values.includes(v);
}

const MINUTE_MS = 60_000;

/**
 * The first time strictly after `after` at which `schedule` fires (robfig/cron
 * semantics: whole minutes for field schedules, day-of-month OR day-of-week when both
 * are restricted; `@every d` fires d after the previous run, rounded to whole seconds).
 * Returns null when a field schedule never fires (e.g. February 30).
 */
export function nextCronTime(schedule: CronSchedule, after: Date): Date | null {
  if (schedule.kind === "every") {
    const next = after.getTime() + schedule.everyMs;
    return new Date(next - (next % 1000));
  }
  let t = Math.floor(after.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const limit = t + 5 * 366 * 24 * 60 * MINUTE_MS;
  while (t <= limit) {
    const f = zonedFields(new Date(t), schedule.timeZone);
    const minuteOfDay = f.hour * 60 + f.minute;
    const domMatch = has(schedule.dayOfMonth, f.dayOfMonth);
    const dowMatch = has(schedule.dayOfWeek, f.dayOfWeek);
    const dayMatch = schedule.dayOfMonth.star || schedule.dayOfWeek.star ? domMatch && dowMatch : domMatch || dowMatch;
    if (!has(schedule.month, f.month) || !dayMatch) {
      t += (1440 - minuteOfDay) * MINUTE_MS;
      continue;
    }
    if (!has(schedule.hour, f.hour)) {
      t += (60 - f.minute) * MINUTE_MS;
      continue;
    }
    if (!has(schedule.minute, f.minute)) {
      t += MINUTE_MS;
      continue;
    }
    return new Date(t);
  }
  return null;
}

/** The size trigger: rotate when the file is strictly larger than a non-zero limit. */
export function slowLogNeedsRotation(sizeBytes: number | null, limitBytes: number): boolean {
  return limitBytes > 0 && sizeBytes !== null && sizeBytes > limitBytes;
}

/** Where a rotated slow log goes. */
export function rotatedPath(slowLogPath: string): string {
  return `${slowLogPath}.0`;
}

// ---------------------------------------------------------------------------------
// Effects

export type RotationResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * Renames the slow log to `<path>.0` (overwriting; a missing file is fine) and runs
 * FLUSH LOCAL SLOW LOGS so mysqld opens a new one. Never throws.
 */
export async function rotateSlowLog(db: Queryable, slowLogPath: string): Promise<RotationResult> {
  try {
    await fs.rename(slowLogPath, rotatedPath(slowLogPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      return { ok: false, error: `failed to rename ${slowLogPath}: ${safeErrorMessage(err)}` };
    }
  }
  try {
    await exec(db, "FLUSH LOCAL SLOW LOGS");
  } catch (err) {
    return { ok: false, error: `FLUSH LOCAL SLOW LOGS failed: ${safeErrorMessage(err)}` };
  }
  return { ok: true };
}

export interface LogRotatorOptions {
  readonly db: Queryable;
  readonly slowLogPath: string;
  readonly schedule: CronSchedule;
  /** Bytes; 0 turns the size trigger off. */
  readonly sizeLimit: number;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly sizeCheckIntervalMs?: number;
}

/** Runs rotations on the schedule and on the size trigger; one rotation at a time. */
export class LogRotator {
  private readonly opts: LogRotatorOptions;
  private cronTimer: NodeJS.Timeout | undefined;
  private sizeTimer: NodeJS.Timeout | undefined;
  private running: Promise<RotationResult> | undefined;
  private stopped = true;

  constructor(opts: LogRotatorOptions) {
    this.opts = opts;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.scheduleNextTick(new Date());
    if (this.opts.sizeLimit > 0) {
      this.sizeTimer = setInterval(() => void this.checkSize(), this.opts.sizeCheckIntervalMs ?? 1000);
      this.sizeTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.cronTimer);
    clearInterval(this.sizeTimer);
    await this.running;
  }

  /** One rotation now (waits for one in progress first). */
  async rotate(trigger: "schedule" | "size" | "manual" = "manual"): Promise<RotationResult> {
    while (this.running) await this.running;
    const run = this.doRotate(trigger);
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }

  private async doRotate(trigger: string): Promise<RotationResult> {
    const { metrics, logger } = this.opts;
    const end = metrics.logRotationDurationSeconds.labels(metrics.labels).startTimer();
    metrics.logRotationCount.labels(metrics.labels).inc();
    const result = await rotateSlowLog(this.opts.db, this.opts.slowLogPath);
    end();
    if (result.ok) {
      logger.info({ trigger, path: this.opts.slowLogPath }, "rotated the slow query log");
    } else {
      metrics.logRotationFailureCount.labels(metrics.labels).inc();
      logger.error({ trigger, error: result.error }, "slow query log rotation failed");
    }
    return result;
  }

  private scheduleNextTick(from: Date): void {
    if (this.stopped) return;
    const next = nextCronTime(this.opts.schedule, from);
    if (next === null) {
      this.opts.logger.warn("the log rotation schedule never fires");
      return;
    }
    // setTimeout takes at most 2^31-1 ms; wake up earlier and re-plan if needed.
    const delay = Math.min(Math.max(0, next.getTime() - Date.now()), 2 ** 31 - 1);
    this.cronTimer = setTimeout(() => {
      if (Date.now() + 5 < next.getTime()) {
        this.scheduleNextTick(from);
        return;
      }
      void this.rotate("schedule").finally(() => this.scheduleNextTick(next));
    }, delay);
    this.cronTimer.unref();
  }

  private async checkSize(): Promise<void> {
    if (this.running || this.stopped) return;
    let size: number | null;
    try {
      size = (await fs.stat(this.opts.slowLogPath)).size;
    } catch {
      size = null;
    }
    if (slowLogNeedsRotation(size, this.opts.sizeLimit)) await this.rotate("size");
  }
}

// A small, pure parser for "standard" cron specs, matching the grammar MOCO accepts
// (robfig/cron v3 ParseStandard, the cron check of docs/api.md#mysqlcluster-validation-on-create): five fields (minute hour
// day-of-month month day-of-week) with `*`/`?`, numbers, names (jan-dec, sun-sat),
// ranges `a-b`, steps `/n` and lists `a,b`; the descriptors @yearly @annually
// @monthly @weekly @daily @midnight @hourly; `@every <Go duration>`; and an optional
// `TZ=<zone> ` or `CRON_TZ=<zone> ` prefix. Error messages follow robfig/cron's.

import { parseGoDuration } from "../../util/duration.ts";
import { errorMessage } from "../../util/errors.ts";

export interface CronFieldSet {
  /** Allowed values, ascending. */
  values: number[];
  /** The field was `*` or `?` (matters for day-of-month/day-of-week matching). */
  star: boolean;
}

export type CronSchedule =
  | {
      kind: "fields";
      timeZone?: string;
      minute: CronFieldSet;
      hour: CronFieldSet;
      dayOfMonth: CronFieldSet;
      month: CronFieldSet;
      dayOfWeek: CronFieldSet;
    }
  | { kind: "every"; timeZone?: string; /** period in milliseconds, at least one second */ everyMs: number };

export type CronParseResult = { ok: true; schedule: CronSchedule } | { ok: false; error: string };

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTH_NAMES: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
};
const DOW_NAMES: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

const FIELD_BOUNDS: readonly Bounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTH_NAMES },
  { min: 0, max: 6, names: DOW_NAMES },
];

const DESCRIPTORS: Record<string, readonly string[]> = {
  "@yearly": ["0", "0", "1", "1", "*"],
  "@annually": ["0", "0", "1", "1", "*"],
  "@monthly": ["0", "0", "1", "*", "*"],
  "@weekly": ["0", "0", "*", "*", "0"],
  "@daily": ["0", "0", "*", "*", "*"],
  "@midnight": ["0", "0", "*", "*", "*"],
  "@hourly": ["0", "*", "*", "*", "*"],
};

class CronSyntaxError extends Error {}

/** Go's strconv.Atoi on a non-negative decimal ("+5" and "05" are accepted). */
function parseNonNegativeInt(expr: string): number {
  if (!/^[+-]?[0-9]+$/.test(expr)) {
    throw new CronSyntaxError(`failed to parse int from ${expr}: strconv.Atoi: parsing "${expr}": invalid syntax`);
  }
  const n = Number(expr);
  if (!Number.isSafeInteger(n)) {
    throw new CronSyntaxError(`failed to parse int from ${expr}: strconv.Atoi: parsing "${expr}": value out of range`);
  }
  if (n < 0) throw new CronSyntaxError(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

function parseIntOrName(expr: string, bounds: Bounds): number {
  const named = bounds.names?.[expr.toLowerCase()];
  if (named !== undefined) return named;
  return parseNonNegativeInt(expr);
}

function parseRange(expr: string, bounds: Bounds, into: Set<number>): boolean {
  const rangeAndStep = expr.split("/");
  const lowAndHigh = (rangeAndStep[0] as string).split("-");
  const single = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  let star = false;
  if (lowAndHigh[0] === "*" || lowAndHigh[0] === "?") {
    start = bounds.min;
    end = bounds.max;
    star = true;
  } else {
    start = parseIntOrName(lowAndHigh[0] as string, bounds);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1] as string, bounds);
    else throw new CronSyntaxError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = parseNonNegativeInt(rangeAndStep[1] as string);
    if (single) end = bounds.max; // "N/step" means "N-max/step"
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) {
    throw new CronSyntaxError(`too many slashes: ${expr}`);
  }
  if (start < bounds.min) throw new CronSyntaxError(`beginning of range (${start}) below minimum (${bounds.min}): ${expr}`);
  if (end > bounds.max) throw new CronSyntaxError(`end of range (${end}) above maximum (${bounds.max}): ${expr}`);
  if (start > end) throw new CronSyntaxError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronSyntaxError(`step of range should be a positive number: ${expr}`);
  for (let v = start; v <= end; v += step) into.add(v);
  return star;
}

function parseField(field: string, bounds: Bounds): CronFieldSet {
  const values = new Set<number>();
  let star = false;
  for (const part of field.split(",")) {
    if (parseRange(part, bounds, values)) star = true;
  }
  return { values: [...values].sort((a, b) => a - b), star };
}

/** Whether Go's time.LoadLocation would accept the zone name (best effort via Intl). */
export function isLoadableTimeZone(zone: string): boolean {
  if (zone === "" || zone === "UTC" || zone === "Local") return true;
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(zone)) return false;
  try {
    const resolved = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
    // Intl matches case-insensitively; the zoneinfo files Go reads do not.
    return resolved.toLowerCase() !== zone.toLowerCase() || resolved === zone;
  } catch {
    return false;
  }
}

/** Parses a standard cron spec; never throws. */
export function parseCronSpec(spec: string): CronParseResult {
  try {
    return { ok: true, schedule: parseCronSpecOrThrow(spec) };
  } catch (e) {
    return { ok: false, error: errorMessage(e) };
  }
}

function parseCronSpecOrThrow(input: string): CronSchedule {
  if (typeof input !== "string") throw new CronSyntaxError("spec is not a string");
  let spec = input;
  if (spec.length === 0) throw new CronSyntaxError("empty spec string");
  let timeZone: string | undefined;
  if (spec.startsWith("TZ=") || spec.startsWith("CRON_TZ=")) {
    const space = spec.search(/\s/);
    if (space < 0) throw new CronSyntaxError(`missing schedule after time zone: ${spec}`);
    const zone = spec.slice(spec.indexOf("=") + 1, space);
    if (!isLoadableTimeZone(zone)) throw new CronSyntaxError(`provided bad location ${zone}: unknown time zone ${zone}`);
    timeZone = zone;
    spec = spec.slice(space).trim();
  }
  const withZone = <T extends object>(s: T): T & { timeZone?: string } =>
    timeZone === undefined ? s : { ...s, timeZone };

  if (spec.startsWith("@")) {
    if (spec.startsWith("@every ")) {
      const text = spec.slice("@every ".length);
      let ms: number;
      try {
        ms = parseGoDuration(text);
      } catch (e) {
        throw new CronSyntaxError(`failed to parse duration ${spec}: ${errorMessage(e)}`);
      }
      // robfig/cron rounds to whole seconds and never runs more often than once a second.
      const everyMs = Math.max(1000, Math.floor(ms / 1000) * 1000);
      return withZone({ kind: "every" as const, everyMs });
    }
    const fields = DESCRIPTORS[spec];
    if (fields === undefined) throw new CronSyntaxError(`unrecognized descriptor: ${spec}`);
    return withZone(parseFields(fields));
  }
  const fields = spec.split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 5) {
    throw new CronSyntaxError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(" ")}]`);
  }
  return withZone(parseFields(fields));
}

function parseFields(fields: readonly string[]): CronSchedule {
  const [minute, hour, dom, month, dow] = fields.map((f, i) => parseField(f, FIELD_BOUNDS[i] as Bounds));
  return {
    kind: "fields",
    minute: minute as CronFieldSet,
    hour: hour as CronFieldSet,
    dayOfMonth: dom as CronFieldSet,
    month: month as CronFieldSet,
    dayOfWeek: dow as CronFieldSet,
  };
}

// Go's time.ParseDuration, the one parser of duration strings ("1h2m3.5s", "500ms", "0")
// for flags, environment overrides, cron "@every" and backup status fields.

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3, // U+00B5 micro sign
  "μs": 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const MAX_NS = 2 ** 63 - 1;

/**
 * Go's time.ParseDuration: "300ms", "-1.5h", "2h45m", ".5s", "0". Returns milliseconds
 * (fractions for sub-millisecond units) or throws an Error with Go's message
 * (`time: invalid duration "x"`, `time: missing unit in duration "1"`, `time: unknown unit "d" ...`).
 */
export function parseGoDuration(text: string): number {
  const orig = text;
  const invalid = () => new Error(`time: invalid duration "${orig}"`);
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw invalid();
  let totalNs = 0;
  while (s !== "") {
    const m = /^([0-9]*)(\.([0-9]*))?/.exec(s) as RegExpExecArray;
    const intPart = m[1] ?? "";
    const fracPart = m[3];
    if (intPart === "" && (fracPart === undefined || fracPart === "")) throw invalid();
    s = s.slice(m[0].length);
    const unit = (/^[^0-9.]*/.exec(s) as RegExpExecArray)[0];
    if (unit === "") throw new Error(`time: missing unit in duration "${orig}"`);
    const scale = UNIT_NS[unit];
    if (scale === undefined) throw new Error(`time: unknown unit "${unit}" in duration "${orig}"`);
    s = s.slice(unit.length);
    totalNs += Number(`${intPart === "" ? "0" : intPart}.${fracPart ?? ""}0`) * scale;
    if (totalNs > MAX_NS) throw invalid();
  }
  const ms = totalNs / 1e6;
  return negative ? -ms : ms;
}

/** parseGoDuration for callers with their own error or fallback: undefined when invalid. */
export function tryParseGoDuration(text: string): number | undefined {
  try {
    return parseGoDuration(text);
  } catch {
    return undefined;
  }
}

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseCronSpec, type CronSchedule } from "../../../src/api/v1beta2/cron.ts";

function fields(s: CronSchedule) {
  assert.equal(s.kind, "fields");
  return s;
}

describe("parseCronSpec accepts the standard grammar", () => {
  const valid: { spec: string; check?: (s: CronSchedule) => void }[] = [
    { spec: "* * * * *", check: (s) => assert.equal(fields(s).minute.values.length, 60) },
    { spec: "*/5 * * * *", check: (s) => assert.deepEqual(fields(s).minute.values, [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]) },
    { spec: "0 0 * * *", check: (s) => assert.deepEqual(fields(s).hour.values, [0]) },
    { spec: "0-10/3 * * * *", check: (s) => assert.deepEqual(fields(s).minute.values, [0, 3, 6, 9]) },
    { spec: "5/20 * * * *", check: (s) => assert.deepEqual(fields(s).minute.values, [5, 25, 45]) },
    { spec: "1,2,3 * * * *", check: (s) => assert.deepEqual(fields(s).minute.values, [1, 2, 3]) },
    { spec: "0 9-17 * * mon-fri", check: (s) => assert.deepEqual(fields(s).dayOfWeek.values, [1, 2, 3, 4, 5]) },
    { spec: "0 0 1 JAN,jul *", check: (s) => assert.deepEqual(fields(s).month.values, [1, 7]) },
    { spec: "0 0 ? * SUN", check: (s) => assert.deepEqual(fields(s).dayOfWeek.values, [0]) },
    { spec: "0 0 31 12 6" },
    { spec: "*/61 * * * *", check: (s) => assert.deepEqual(fields(s).minute.values, [0]) }, // robfig accepts a step beyond the range
    { spec: "  0   0  *  *  *  " },
    { spec: "00 +5 * * *", check: (s) => assert.deepEqual(fields(s).hour.values, [5]) },
    { spec: "@yearly", check: (s) => assert.deepEqual(fields(s).month.values, [1]) },
    { spec: "@annually" },
    { spec: "@monthly", check: (s) => assert.deepEqual(fields(s).dayOfMonth.values, [1]) },
    { spec: "@weekly", check: (s) => assert.deepEqual(fields(s).dayOfWeek.values, [0]) },
    { spec: "@daily" },
    { spec: "@midnight" },
    { spec: "@hourly", check: (s) => assert.equal(fields(s).hour.values.length, 24) },
    { spec: "@every 1h30m", check: (s) => assert.deepEqual(s, { kind: "every", everyMs: 5_400_000 }) },
    { spec: "@every 500ms", check: (s) => assert.deepEqual(s, { kind: "every", everyMs: 1000 }) },
    { spec: "@every 1.5s", check: (s) => assert.deepEqual(s, { kind: "every", everyMs: 1000 }) },
    { spec: "TZ=Asia/Tokyo 0 3 * * *", check: (s) => assert.equal(s.timeZone, "Asia/Tokyo") },
    { spec: "CRON_TZ=UTC @daily", check: (s) => assert.equal(s.timeZone, "UTC") },
    { spec: "CRON_TZ=America/New_York 30 4 * * 1" },
  ];
  for (const { spec, check } of valid) {
    it(JSON.stringify(spec), () => {
      const r = parseCronSpec(spec);
      assert.ok(r.ok, r.ok ? "" : r.error);
      check?.(r.schedule);
    });
  }
});

describe("parseCronSpec rejects malformed specs with robfig/cron's message", () => {
  const invalid: { spec: string; error: RegExp }[] = [
    { spec: "", error: /empty spec string/ },
    { spec: "* * * *", error: /expected exactly 5 fields, found 4/ },
    { spec: "* * * * * *", error: /expected exactly 5 fields, found 6/ },
    { spec: "60 * * * *", error: /end of range \(60\) above maximum \(59\)/ },
    { spec: "* 24 * * *", error: /above maximum \(23\)/ },
    { spec: "* * 0 * *", error: /below minimum \(1\)/ },
    { spec: "* * * 13 *", error: /above maximum \(12\)/ },
    { spec: "* * * * 7", error: /above maximum \(6\)/ },
    { spec: "5-2 * * * *", error: /beyond end of range/ },
    { spec: "*/0 * * * *", error: /step of range should be a positive number/ },
    { spec: "1-2-3 * * * *", error: /too many hyphens/ },
    { spec: "*/2/3 * * * *", error: /too many slashes/ },
    { spec: "a * * * *", error: /failed to parse int from a/ },
    { spec: "1,,2 * * * *", error: /failed to parse int from/ },
    { spec: "* * * foo *", error: /failed to parse int from foo/ },
    { spec: "* * * * funday", error: /failed to parse int from funday/ },
    { spec: "@fortnightly", error: /unrecognized descriptor: @fortnightly/ },
    { spec: "@every", error: /unrecognized descriptor/ },
    { spec: "@every 5", error: /failed to parse duration @every 5: time: missing unit/ },
    { spec: "@every 5 minutes", error: /failed to parse duration/ },
    { spec: "@every 1d", error: /unknown unit "d"/ },
    { spec: "TZ=Mars/Olympus 0 * * * *", error: /provided bad location Mars\/Olympus/ },
    { spec: "CRON_TZ=asia/tokyo 0 * * * *", error: /provided bad location asia\/tokyo/ },
    { spec: "TZ=UTC", error: /missing schedule after time zone/ },
    { spec: "TZ=UTC ", error: /expected exactly 5 fields, found 0/ },
  ];
  for (const { spec, error } of invalid) {
    it(JSON.stringify(spec), () => {
      const r = parseCronSpec(spec);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, error);
    });
  }
});


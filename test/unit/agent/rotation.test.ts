// When the slow log rotates: the cron schedule's next time and the size trigger.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { parseCronSpec, type CronSchedule } from "../../../src/api/v1beta2/cron.ts";
import { nextCronTime, rotatedPath, slowLogNeedsRotation } from "../../../src/agent/rotation.ts";

function schedule(spec: string): CronSchedule {
  const r = parseCronSpec(spec);
  if (!r.ok) throw new Error(r.error);
  return r.schedule;
}
/** Next fire time in UTC for a spec evaluated in UTC. */
function next(spec: string, afterIso: string): string | undefined {
  return nextCronTime(schedule(`TZ=UTC ${spec}`), new Date(afterIso))?.toISOString();
}

describe("nextCronTime", () => {
  const table: Array<[string, string, string | undefined]> = [
    ["*/5 * * * *", "2025-03-01T10:02:30Z", "2025-03-01T10:05:00.000Z"],
    ["*/5 * * * *", "2025-03-01T10:05:00Z", "2025-03-01T10:10:00.000Z"],
    ["*/5 * * * *", "2025-03-01T23:58:00Z", "2025-03-02T00:00:00.000Z"],
    ["0 3 * * *", "2025-03-01T03:00:00Z", "2025-03-02T03:00:00.000Z"],
    ["30 1 1 * *", "2025-01-31T12:00:00Z", "2025-02-01T01:30:00.000Z"],
    ["0 0 29 2 *", "2025-03-01T00:00:00Z", "2028-02-29T00:00:00.000Z"],
    ["0 0 30 2 *", "2025-03-01T00:00:00Z", undefined],
    ["@hourly", "2025-03-01T10:59:59Z", "2025-03-01T11:00:00.000Z"],
    ["@daily", "2025-12-31T23:00:00Z", "2026-01-01T00:00:00.000Z"],
    // Day of month OR day of week when both are restricted (robfig/cron, like Vixie cron).
    ["0 0 13 * 5", "2025-06-01T00:00:00Z", "2025-06-06T00:00:00.000Z"],
    // AND when one of them is "*".
    ["0 0 * * 1", "2025-06-01T00:00:00Z", "2025-06-02T00:00:00.000Z"],
    ["0 12 * jan,jul mon-fri", "2025-02-01T00:00:00Z", "2025-07-01T12:00:00.000Z"],
  ];
  for (const [spec, after, expected] of table) {
    it(`${spec} after ${after}`, () => assert.equal(next(spec, after), expected));
  }

  it("honours a time zone prefix", () => {
    // 09:00 in Tokyo (UTC+9) is 00:00 UTC.
    assert.equal(nextCronTime(schedule("CRON_TZ=Asia/Tokyo 0 9 * * *"), new Date("2025-03-01T01:00:00Z"))?.toISOString(), "2025-03-02T00:00:00.000Z");
  });

  it("@every adds the period, rounded down to whole seconds", () => {
    assert.equal(nextCronTime(schedule("@every 10s"), new Date("2025-03-01T10:00:00.400Z"))?.toISOString(), "2025-03-01T10:00:10.000Z");
    assert.equal(nextCronTime(schedule("@every 1m30s"), new Date("2025-03-01T10:00:00Z"))?.toISOString(), "2025-03-01T10:01:30.000Z");
  });

  it("is strictly after the given time for every minute of a day", () => {
    const s = schedule("TZ=UTC */7 */3 * * *");
    let t = new Date("2025-05-05T00:00:00Z");
    for (let i = 0; i < 50; i++) {
      const n = nextCronTime(s, t)!;
      assert.ok(n.getTime() > t.getTime());
      assert.equal(n.getUTCMinutes() % 7, 0);
      assert.equal(n.getUTCHours() % 3, 0);
      t = n;
    }
  });
});

describe("slowLogNeedsRotation", () => {
  it("rotates only strictly above a non-zero limit", () => {
    assert.equal(slowLogNeedsRotation(1001, 1000), true);
    assert.equal(slowLogNeedsRotation(1000, 1000), false);
    assert.equal(slowLogNeedsRotation(10, 1000), false);
    assert.equal(slowLogNeedsRotation(10 ** 9, 0), false, "0 disables");
    assert.equal(slowLogNeedsRotation(null, 1000), false, "missing file");
    assert.equal(rotatedPath("/var/log/mysql/mysql.slow"), "/var/log/mysql/mysql.slow.0");
  });
});

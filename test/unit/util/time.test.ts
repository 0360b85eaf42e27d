import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rfc3339 } from "../../../src/util/time.ts";

describe("rfc3339 (metav1.Time: RFC 3339, second precision)", () => {
  const table: [Date | number, string][] = [
    [new Date("2026-12-07T09:40:27.000Z"), "2026-12-07T09:40:27Z"],
    [new Date("2026-12-07T09:40:27.999Z"), "2026-12-07T09:40:27Z"],
    [new Date("2026-12-07T09:40:27.001Z"), "2026-12-07T09:40:27Z"],
    [new Date("2024-02-29T00:00:00+09:00"), "2024-02-28T15:00:00Z"],
    [0, "1970-01-01T00:00:00Z"],
    [Date.UTC(2026, 0, 2, 3, 4, 5, 678), "2026-01-02T03:04:05Z"],
  ];
  for (const [input, want] of table) {
    it(`${typeof input === "number" ? `${input} ms` : input.toISOString()} → ${want}`, () => {
      assert.equal(rfc3339(input), want);
    });
  }
});

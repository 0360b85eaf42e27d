import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseGoDuration, tryParseGoDuration } from "../../../src/util/duration.ts";

describe("parseGoDuration (Go's time.ParseDuration, in milliseconds)", () => {
  const table: [string, number | RegExp][] = [
    ["0", 0],
    ["-0", 0],
    ["1s", 1000],
    ["3s", 3000],
    ["500ms", 500],
    ["250ms", 250],
    ["1m30s", 90_000],
    ["1h2m3.5s", 3_723_500],
    ["1.5h", 5_400_000],
    ["-1.5h", -5_400_000],
    ["+2s", 2000],
    ["2h45m", 9_900_000],
    ["1us", 0.001],
    ["1µs", 0.001],
    ["1μs", 0.001],
    ["1ns", 0.000001],
    [".5s", 500],
    ["5.s", 5000],
    ["", /^Error: time: invalid duration ""$/],
    [".", /invalid duration "\."/],
    ["-", /invalid duration "-"/],
    ["1", /missing unit in duration "1"/],
    ["3", /missing unit in duration "3"/],
    ["1x", /unknown unit "x" in duration "1x"/],
    ["5d", /unknown unit "d"/],
    ["1.5.5s", /missing unit/],
    ["5 minutes", /unknown unit " minutes"/],
    ["m5", /invalid duration "m5"/],
    ["10000000h", /invalid duration/],
  ];
  for (const [text, want] of table) {
    it(JSON.stringify(text), () => {
      if (typeof want === "number") assert.equal(parseGoDuration(text), want);
      else assert.throws(() => parseGoDuration(text), want);
    });
  }
});

describe("tryParseGoDuration", () => {
  it("returns the milliseconds, or undefined instead of throwing", () => {
    assert.deepEqual(["1m30s", "0", "3", "", "x"].map(tryParseGoDuration), [90_000, 0, undefined, undefined, undefined]);
  });
});

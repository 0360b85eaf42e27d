import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { QuantityParseError, parseQuantity, parseQuantityValue } from "../../../src/util/quantity.ts";

describe("parseQuantityValue (resource.Quantity.Value(), rounded up)", () => {
  const cases: [string | number, bigint][] = [
    ["0", 0n],
    ["128974848", 128974848n],
    ["129e6", 129000000n],
    ["1e9", 1000000000n],
    ["1E3", 1000n],
    ["5e-1", 1n],
    ["129M", 129000000n],
    ["500M", 500000000n],
    ["1k", 1000n],
    ["123Mi", 128974848n],
    ["1000Mi", 1048576000n],
    ["1Gi", 1073741824n],
    ["0.5Gi", 536870912n],
    [".5Gi", 536870912n],
    ["1.5Ki", 1536n],
    ["1Ti", 1099511627776n],
    ["2Pi", 2251799813685248n],
    ["1Ei", 1152921504606846976n],
    ["1.5", 2n],
    ["100m", 1n],
    ["1000m", 1n],
    ["1001m", 2n],
    ["3n", 1n],
    ["+7", 7n],
    ["-1Ki", -1024n],
    ["1.", 1n],
    [" 2Gi ", 2147483648n],
    [1024, 1024n],
    [0.5, 1n],
  ];
  for (const [input, want] of cases) {
    it(JSON.stringify(input), () => assert.equal(parseQuantityValue(input), want));
  }
  for (const bad of ["", "Mi", "1MiB", "1 Gi", "abc", "1.2.3", "1e", "--1", "1Gi1", "0x10"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseQuantityValue(bad), QuantityParseError));
  }
});

describe("parseQuantity (a number to compare sizes)", () => {
  const cases: [string | number | undefined, number | undefined][] = [
    ["10Gi", 10 * 2 ** 30],
    ["5000Mi", 5000 * 2 ** 20],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["100m", 0.1],
    ["3n", 3e-9],
    ["129e6", 129e6],
    ["-1Ki", -1024],
    [" 1k ", 1000],
    ["1E", 1e18],
    [0.5, 0.5],
    [Number.POSITIVE_INFINITY, undefined],
    [undefined, undefined],
    ["", undefined],
    ["1MiB", undefined],
    ["1e", undefined],
    ["abc", undefined],
  ];
  for (const [input, want] of cases) {
    it(typeof input === "string" ? JSON.stringify(input) : String(input), () => assert.equal(parseQuantity(input), want));
  }
});

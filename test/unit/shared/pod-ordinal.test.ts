import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { podOrdinal } from "../../../src/shared/names.ts";

describe("podOrdinal (the last `-` field of a StatefulSet Pod name)", () => {
  const table: [string, number | undefined][] = [
    ["moco-c-0", 0],
    ["moco-c-2", 2],
    ["moco-c-12", 12],
    ["moco-my-cluster-3", 3],
    ["moco-c-1-4", 4],
    ["moco-c", undefined],
    ["moco-c-", undefined],
    ["moco-c-x", undefined],
    ["moco-c-1a", undefined],
    ["moco-c-007", undefined],
    ["moco-c-4294967295", 4294967295],
    ["moco-c-4294967296", undefined],
    ["moco-c-99999999999", undefined],
    ["", undefined],
  ];
  for (const [name, want] of table) {
    it(`${JSON.stringify(name)} → ${String(want)}`, () => {
      assert.equal(podOrdinal(name), want);
    });
  }
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isPlainObject, nameAndNamespace } from "../../../src/util/object.ts";

describe("isPlainObject (a JSON object)", () => {
  const table: [string, unknown, boolean][] = [
    ["empty object", {}, true],
    ["object with keys", { a: 1, b: [2] }, true],
    ["parsed JSON object", JSON.parse('{"x":{"y":null}}'), true],
    ["null-prototype object", Object.create(null), true],
    ["null", null, false],
    ["undefined", undefined, false],
    ["array", [], false],
    ["array of objects", [{}], false],
    ["string", "{}", false],
    ["number", 0, false],
    ["boolean", true, false],
    ["Date (client-node's metav1.Time)", new Date(0), false],
  ];
  for (const [name, value, want] of table) {
    it(`${name} → ${want}`, () => {
      assert.equal(isPlainObject(value), want);
    });
  }
});

describe("nameAndNamespace (a cluster's metric labels)", () => {
  const table: [string, { name: string; namespace: string }, { name: string; namespace: string }][] = [
    ["a plain key", { name: "c", namespace: "ns" }, { name: "c", namespace: "ns" }],
    ["extra fields are dropped", { name: "c", namespace: "ns", uid: "u", ordinal: 2 } as { name: string; namespace: string }, { name: "c", namespace: "ns" }],
    ["empty strings kept", { name: "", namespace: "" }, { name: "", namespace: "" }],
  ];
  for (const [name, input, want] of table) {
    it(name, () => {
      assert.deepEqual(nameAndNamespace(input), want);
    });
  }
});

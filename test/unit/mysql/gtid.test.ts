import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  EMPTY_GTID_SET,
  GtidParseError,
  errantGtids,
  formatGtidSet,
  formerPrimaryTail,
  gtidContains,
  gtidCount,
  gtidEquals,
  gtidIntersect,
  gtidIsEmpty,
  gtidIsSubset,
  gtidSubtract,
  gtidUnion,
  gtidUuids,
  hasErrantGtids,
  parseGtidSet,
} from "../../../src/mysql/gtid.ts";
import { prng } from "../../env/random.ts";

const A = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const B = "4b2c4e50-0000-11e1-9e33-c80aa9429562";
const C = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

/** Format with "," between UUIDs so expectations fit on one line. */
function flat(text: string): string {
  return formatGtidSet(parseGtidSet(text), { separator: "," });
}

describe("parseGtidSet + formatGtidSet", () => {
  const cases: { name: string; input: string; want: string }[] = [
    { name: "empty", input: "", want: "" },
    { name: "whitespace only", input: "  \n ", want: "" },
    { name: "single gtid", input: `${A}:1`, want: `${A}:1` },
    { name: "range", input: `${A}:1-5`, want: `${A}:1-5` },
    { name: "two ranges sorted", input: `${A}:10-20:1-5`, want: `${A}:1-5:10-20` },
    { name: "adjacent ranges merge", input: `${A}:1-5:6-9`, want: `${A}:1-9` },
    { name: "overlapping ranges merge", input: `${A}:1-5:3-9:2`, want: `${A}:1-9` },
    { name: "degenerate range prints as one number", input: `${A}:7-7`, want: `${A}:7` },
    { name: "upper-case uuid is lowered", input: `${A.toUpperCase()}:1-3`, want: `${A}:1-3` },
    { name: "uuid without dashes", input: `${A.replaceAll("-", "")}:4`, want: `${A}:4` },
    { name: "uuids sorted", input: `${C}:1,${A}:2,${B}:3`, want: `${A}:2,${B}:3,${C}:1` },
    { name: "same uuid twice merges", input: `${A}:1-3,${A}:4-6`, want: `${A}:1-6` },
    { name: "newline after comma", input: `${A}:1-3,\n${B}:1`, want: `${A}:1-3,${B}:1` },
    { name: "spaces everywhere", input: `  ${A} : 1 - 3 : 5 ,  ${B}:1  `, want: `${A}:1-3:5,${B}:1` },
    { name: "empty entries between commas", input: `,${A}:1,,${B}:2,`, want: `${A}:1,${B}:2` },
    { name: "uuid with no interval is nothing", input: `${A}`, want: "" },
    { name: "tagged gtid", input: `${A}:blue:1-3`, want: `${A}:blue:1-3` },
    { name: "untagged before tags", input: `${A}:blue:1-3,${A}:1-5`, want: `${A}:1-5:blue:1-3` },
    { name: "a tag holds for the rest of its uuid_set", input: `${A}:blue:1-3:5`, want: `${A}:blue:1-3:5` },
    { name: "tag switches within a uuid_set", input: `${A}:1-4:aaaa:1:abc:1-3`, want: `${A}:1-4:aaaa:1:abc:1-3` },
    { name: "tags sorted", input: `${A}:zeta:1,${A}:alpha:2`, want: `${A}:alpha:2:zeta:1` },
    { name: "tags are case-insensitive", input: `${A}:Domain_1:1-3,${A}:domain_1:4`, want: `${A}:domain_1:1-4` },
    {
      name: "MySQL bug-116789 example",
      input: `3E11FA47-71CA-11E1-9E33-C80AA9429562:Domain_1:1-3:15-21, 3E11FA47-71CA-11E1-9E33-C80AA9429562:Domain_2:8-52`,
      want: `${A}:domain_1:1-3:15-21:domain_2:8-52`,
    },
    { name: "tag starting with underscore", input: `${A}:_x9:5`, want: `${A}:_x9:5` },
    { name: "reversed range is empty, as in MySQL", input: `${A}:1-3,${A}:5-2:7`, want: `${A}:1-3:7` },
    { name: "uuid in braces", input: `{${A}}:1`, want: `${A}:1` },
    { name: "trailing tag without intervals", input: `${A}:1-5:t`, want: `${A}:1-5` },
    { name: "tag of 32 characters", input: `${A}:${"t".repeat(32)}:1`, want: `${A}:${"t".repeat(32)}:1` },
    { name: "largest gno", input: `${A}:9223372036854775806`, want: `${A}:9223372036854775806` },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(flat(c.input), c.want);
    });
  }

  it("prints ',\\n' between UUIDs by default, as MySQL does", () => {
    assert.equal(formatGtidSet(`${B}:1,${A}:1-2`), `${A}:1-2,\n${B}:1`);
  });

  it("round-trips MySQL's own output", () => {
    const mysqlText = `${A}:1-5:11-18,\n${B}:1-27:blue:3`;
    assert.equal(formatGtidSet(parseGtidSet(mysqlText)), mysqlText);
  });

  const bad = [
    "not-a-uuid:1",
    `${A}:0`,
    `${A}:0-3`,
    `${A}:1-9223372036854775807`,
    `${A}:a-b:1`,
    `${A}:1-`,
    `${A}:-1`,
    `${A}:1:`,
    `${A}::1`,
    `${A}:9tag:1`,
    `${A}:${"t".repeat(33)}:1`,
    `${A}:9223372036854775807`,
    `${A}:1 2`,
    `${A.slice(0, 35)}:1`,
  ];
  for (const text of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseGtidSet(text), GtidParseError);
    });
  }
});

describe("set operations (table)", () => {
  const cases: {
    a: string;
    b: string;
    union: string;
    subtract: string;
    intersect: string;
    subset: boolean;
  }[] = [
    { a: "", b: "", union: "", subtract: "", intersect: "", subset: true },
    { a: `${A}:1-5`, b: "", union: `${A}:1-5`, subtract: `${A}:1-5`, intersect: "", subset: false },
    { a: "", b: `${A}:1-5`, union: `${A}:1-5`, subtract: "", intersect: "", subset: true },
    { a: `${A}:1-5`, b: `${A}:1-5`, union: `${A}:1-5`, subtract: "", intersect: `${A}:1-5`, subset: true },
    { a: `${A}:1-3`, b: `${A}:1-5`, union: `${A}:1-5`, subtract: "", intersect: `${A}:1-3`, subset: true },
    { a: `${A}:1-10`, b: `${A}:3-4:7`, union: `${A}:1-10`, subtract: `${A}:1-2:5-6:8-10`, intersect: `${A}:3-4:7`, subset: false },
    { a: `${A}:1-3`, b: `${A}:4-6`, union: `${A}:1-6`, subtract: `${A}:1-3`, intersect: "", subset: false },
    { a: `${A}:1-3`, b: `${A}:5-6`, union: `${A}:1-3:5-6`, subtract: `${A}:1-3`, intersect: "", subset: false },
    { a: `${A}:1-5:10-15`, b: `${A}:4-11`, union: `${A}:1-15`, subtract: `${A}:1-3:12-15`, intersect: `${A}:4-5:10-11`, subset: false },
    { a: `${A}:1-5,${B}:1`, b: `${A}:1-5`, union: `${A}:1-5,${B}:1`, subtract: `${B}:1`, intersect: `${A}:1-5`, subset: false },
    { a: `${A}:1-5`, b: `${A}:1-9,${B}:1-3`, union: `${A}:1-9,${B}:1-3`, subtract: "", intersect: `${A}:1-5`, subset: true },
    { a: `${A}:1-5:t:1-2`, b: `${A}:1-5`, union: `${A}:1-5:t:1-2`, subtract: `${A}:t:1-2`, intersect: `${A}:1-5`, subset: false },
    { a: `${A}:t:1-2`, b: `${A}:u:1-2`, union: `${A}:t:1-2:u:1-2`, subtract: `${A}:t:1-2`, intersect: "", subset: false },
    { a: `${A}:t:3`, b: `${A}:1-9:t:1-5`, union: `${A}:1-9:t:1-5`, subtract: "", intersect: `${A}:t:3`, subset: true },
    { a: `${A}:1-100`, b: `${A}:1:3:5:7:9-99`, union: `${A}:1-100`, subtract: `${A}:2:4:6:8:100`, intersect: `${A}:1:3:5:7:9-99`, subset: false },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.a)} vs ${JSON.stringify(c.b)}`, () => {
      const show = (s: Parameters<typeof formatGtidSet>[0]) => formatGtidSet(s, { separator: "," });
      assert.equal(show(gtidUnion(c.a, c.b)), c.union, "union");
      assert.equal(show(gtidSubtract(c.a, c.b)), c.subtract, "subtract");
      assert.equal(show(gtidIntersect(c.a, c.b)), c.intersect, "intersect");
      assert.equal(gtidIsSubset(c.a, c.b), c.subset, "subset");
      assert.equal(gtidIsEmpty(gtidSubtract(c.a, c.b)), c.subtract === "", "subtract empty");
    });
  }
});

describe("count, emptiness, membership", () => {
  const cases: { set: string; count: bigint; empty: boolean; uuids: string[] }[] = [
    { set: "", count: 0n, empty: true, uuids: [] },
    { set: `${A}:1`, count: 1n, empty: false, uuids: [A] },
    { set: `${A}:1-5:10-12`, count: 8n, empty: false, uuids: [A] },
    { set: `${A}:1-5,${B}:1-5:t:1-5`, count: 15n, empty: false, uuids: [A, B] },
    { set: `${A}:1-9223372036854775806`, count: 9223372036854775806n, empty: false, uuids: [A] },
  ];
  for (const c of cases) {
    it(JSON.stringify(c.set), () => {
      assert.equal(gtidCount(c.set), c.count);
      assert.equal(gtidIsEmpty(c.set), c.empty);
      assert.deepEqual(gtidUuids(c.set), c.uuids);
    });
  }
  it("gtidContains honours tags and intervals", () => {
    const s = `${A}:1-5:t:7`;
    assert.equal(gtidContains(s, A, 3n), true);
    assert.equal(gtidContains(s, A, 6n), false);
    assert.equal(gtidContains(s, A, 7n), false);
    assert.equal(gtidContains(s, A.toUpperCase(), 7n, "T"), true);
    assert.equal(gtidContains(s, B, 1n), false);
  });
  it("gtidEquals ignores spelling", () => {
    assert.equal(gtidEquals(`${A}:1-3:4`, `${A.toUpperCase()}:1-4`), true);
    assert.equal(gtidEquals(`${A}:1-3`, `${A}:1-4`), false);
    assert.equal(gtidEquals(EMPTY_GTID_SET, ""), true);
  });
});

describe("errantGtids (docs/clustering.md#gathering-status step 7)", () => {
  const cases: { name: string; replica: string; primary: string; uuid: string; errant: string }[] = [
    { name: "replica equal to primary", replica: `${A}:1-5`, primary: `${A}:1-5`, uuid: A, errant: "" },
    { name: "replica behind primary", replica: `${A}:1-3`, primary: `${A}:1-5`, uuid: A, errant: "" },
    { name: "empty replica", replica: "", primary: `${A}:1-5`, uuid: A, errant: "" },
    { name: "replica ahead on the primary's own uuid is not errant", replica: `${A}:1-7`, primary: `${A}:1-5`, uuid: A, errant: "" },
    { name: "primary's own uuid with a tag is not errant", replica: `${A}:1-5:t:1`, primary: `${A}:1-5`, uuid: A, errant: "" },
    { name: "foreign uuid is errant", replica: `${A}:1-5,${B}:1`, primary: `${A}:1-5`, uuid: A, errant: `${B}:1` },
    { name: "foreign uuid the primary also has is fine", replica: `${A}:1-5,${B}:1-3`, primary: `${A}:1-9,${B}:1-3`, uuid: A, errant: "" },
    { name: "foreign uuid ahead of primary is errant", replica: `${A}:1-5,${B}:1-4`, primary: `${A}:1-9,${B}:1-3`, uuid: A, errant: `${B}:4` },
    { name: "only the errant part is returned", replica: `${A}:1-7,${B}:1-4,${C}:2`, primary: `${A}:1-5,${B}:1-3`, uuid: A, errant: `${B}:4,${C}:2` },
    { name: "primary uuid given in upper case", replica: `${A}:1-7`, primary: `${A}:1-5`, uuid: A.toUpperCase(), errant: "" },
    { name: "primary uuid with surrounding whitespace", replica: `${A}:6`, primary: `${A}:1-5`, uuid: ` ${A}\n`, errant: "" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(formatGtidSet(errantGtids(c.replica, c.primary, c.uuid), { separator: "," }), c.errant);
      assert.equal(hasErrantGtids(c.replica, c.primary, c.uuid), c.errant !== "");
    });
  }
});

describe("formerPrimaryTail (docs/clustering.md \"Errant former primary\")", () => {
  // The instance (A) was the primary the new primary (B) replicated from.
  const cases: { name: string; instance: string; uuid: string; primary: string; tail: string | null }[] = [
    { name: "the old primary's unreplicated tail", instance: `${A}:1-12`, uuid: A, primary: `${A}:1-10,${B}:1-4`, tail: `${A}:11-12` },
    { name: "one transaction", instance: `${A}:1-11`, uuid: A, primary: `${A}:1-10,${B}:1`, tail: `${A}:11` },
    { name: "a tail over an earlier primary's transactions", instance: `${C}:1-3,${A}:1-12`, uuid: A, primary: `${C}:1-3,${A}:1-10,${B}:1-2`, tail: `${A}:11-12` },
    { name: "uuid spelled in upper case with whitespace", instance: `${A}:1-12`, uuid: ` ${A.toUpperCase()}\n`, primary: `${A}:1-10,${B}:1-4`, tail: `${A}:11-12` },
    { name: "not errant", instance: `${A}:1-10`, uuid: A, primary: `${A}:1-10,${B}:1-4`, tail: null },
    { name: "never a source: the primary has none of its transactions", instance: `${B}:1-4,${A}:1`, uuid: A, primary: `${B}:1-4`, tail: null },
    { name: "a gap after the replicated ones", instance: `${A}:1-10:12`, uuid: A, primary: `${A}:1-10,${B}:1-4`, tail: null },
    { name: "two intervals", instance: `${A}:1-11:13`, uuid: A, primary: `${A}:1-10,${B}:1-4`, tail: null },
    { name: "a foreign transaction beside the tail", instance: `${A}:1-12,${C}:1`, uuid: A, primary: `${A}:1-10,${B}:1-4`, tail: null },
    { name: "only a foreign transaction", instance: `${A}:1-10,${C}:1`, uuid: A, primary: `${A}:1-10,${B}:1-4`, tail: null },
    { name: "a tagged transaction of its own uuid", instance: `${A}:1-10,${A}:t:1`, uuid: A, primary: `${A}:1-10,${B}:1-4`, tail: null },
    { name: "another instance's uuid (not its own)", instance: `${A}:1-12`, uuid: C, primary: `${A}:1-10,${B}:1-4`, tail: null },
    { name: "the primary also lacks earlier ones (hole inside)", instance: `${A}:1-12`, uuid: A, primary: `${A}:1-5:7-10,${B}:1-4`, tail: null },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = formerPrimaryTail(c.instance, c.uuid, c.primary, B);
      assert.equal(got === null ? null : formatGtidSet(got, { separator: "," }), c.tail);
    });
  }
});

// ---- property test against a naive model: a set of "source#gno" strings ----

/** mulberry32: a small seeded PRNG so failures are reproducible. */
const SOURCES = [
  { uuid: A, tag: "" },
  { uuid: A, tag: "x" },
  { uuid: B, tag: "" },
  { uuid: C, tag: "" },
  { uuid: C, tag: "yy" },
];

/** A random GTID set text (in a random, unnormalised spelling) and its model. */
function randomSet(rand: () => number): { text: string; model: Set<string> } {
  const model = new Set<string>();
  const entries: string[] = [];
  const n = Math.floor(rand() * 5);
  for (let i = 0; i < n; i++) {
    const src = SOURCES[Math.floor(rand() * SOURCES.length)] ?? SOURCES[0];
    if (src === undefined) continue;
    const parts: string[] = [rand() < 0.3 ? src.uuid.toUpperCase() : src.uuid];
    if (src.tag !== "") parts.push(rand() < 0.5 ? src.tag.toUpperCase() : src.tag);
    const k = 1 + Math.floor(rand() * 3);
    for (let j = 0; j < k; j++) {
      const start = 1 + Math.floor(rand() * 30);
      const end = start + Math.floor(rand() * 6);
      parts.push(start === end && rand() < 0.5 ? `${start}` : `${start}-${end}`);
      for (let g = start; g <= end; g++) model.add(`${src.uuid}#${src.tag}#${g}`);
    }
    entries.push(parts.join(":"));
  }
  return { text: entries.join(rand() < 0.5 ? "," : ",\n  "), model };
}

/** Model of a set, read back from the implementation through gtidContains. */
function modelOf(set: Parameters<typeof gtidContains>[0]): Set<string> {
  const out = new Set<string>();
  for (const src of SOURCES) {
    for (let g = 1; g <= 40; g++) {
      if (gtidContains(set, src.uuid, BigInt(g), src.tag)) out.add(`${src.uuid}#${src.tag}#${g}`);
    }
  }
  return out;
}

const sorted = (s: Iterable<string>) => [...s].sort();

describe("property: agrees with a naive set-of-integers model (seeded)", () => {
  for (const seed of [1, 2, 3, 42, 20240601]) {
    it(`seed ${seed}: 200 random pairs`, () => {
      const rand = prng(seed);
      for (let round = 0; round < 200; round++) {
        const a = randomSet(rand);
        const b = randomSet(rand);
        const ctx = `seed=${seed} round=${round} a=${JSON.stringify(a.text)} b=${JSON.stringify(b.text)}`;
        const union = new Set([...a.model, ...b.model]);
        const minus = new Set([...a.model].filter((x) => !b.model.has(x)));
        const inter = new Set([...a.model].filter((x) => b.model.has(x)));
        assert.deepEqual(sorted(modelOf(a.text)), sorted(a.model), `parse ${ctx}`);
        assert.deepEqual(sorted(modelOf(gtidUnion(a.text, b.text))), sorted(union), `union ${ctx}`);
        assert.deepEqual(sorted(modelOf(gtidSubtract(a.text, b.text))), sorted(minus), `subtract ${ctx}`);
        assert.deepEqual(sorted(modelOf(gtidIntersect(a.text, b.text))), sorted(inter), `intersect ${ctx}`);
        assert.equal(gtidIsSubset(a.text, b.text), minus.size === 0, `subset ${ctx}`);
        assert.equal(gtidIsEmpty(a.text), a.model.size === 0, `empty ${ctx}`);
        assert.equal(gtidCount(a.text), BigInt(a.model.size), `count ${ctx}`);
        // Canonical text is a fixed point and identifies the set.
        const canon = formatGtidSet(a.text);
        assert.equal(formatGtidSet(canon), canon, `fixed point ${ctx}`);
        assert.equal(canon === formatGtidSet(b.text), sorted(a.model).join() === sorted(b.model).join(), `canonical ${ctx}`);
        // Errant part w.r.t. A as primary: the model minus everything of uuid A.
        const errantModel = [...minus].filter((x) => !x.startsWith(`${A}#`));
        assert.deepEqual(sorted(modelOf(errantGtids(a.text, b.text, A))), sorted(errantModel), `errant ${ctx}`);
      }
    });
  }
});

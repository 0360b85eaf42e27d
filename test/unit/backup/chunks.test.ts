import assert from "node:assert/strict";
import { test } from "node:test";
import { chunkCount, isIntegerType, planChunks } from "../../../src/backup/dump/chunks.ts";

const base = { keyColumn: "id", estimatedRows: 0, estimatedBytes: 0, chunkRows: 1000, chunkBytes: 1 << 20 };

test("chunkCount: enough for rows and bytes, at most the key span and maxChunks, 1 without an integer key", () => {
  assert.equal(chunkCount({ ...base, min: 1n, max: 10_000n, estimatedRows: 10_000 }), 10);
  assert.equal(chunkCount({ ...base, min: 1n, max: 10_000n, estimatedRows: 10, estimatedBytes: 5 << 20 }), 5);
  assert.equal(chunkCount({ ...base, min: 1n, max: 3n, estimatedRows: 10_000 }), 3);
  assert.equal(chunkCount({ ...base, min: 1n, max: 10n ** 12n, estimatedRows: 10 ** 9, maxChunks: 64 }), 64);
  assert.equal(chunkCount({ ...base, estimatedRows: 10_000 }), 1, "empty table");
  const { keyColumn: _k, ...nokey } = base;
  assert.equal(chunkCount({ ...nokey, min: 1n, max: 10_000n, estimatedRows: 10_000 }), 1);
});

/** Which chunk a key falls in, by evaluating the WHERE clauses. */
function owner(ranges: { where: string }[], v: bigint): number[] {
  const hits: number[] = [];
  ranges.forEach((r, i) => {
    const ok = r.where === "" || r.where.split(" AND ").every((cond) => {
      const m = /^`id` (>=|<) (-?\d+)$/.exec(cond);
      if (!m) throw new Error(`unexpected condition ${cond}`);
      return m[1] === ">=" ? v >= BigInt(m[2] as string) : v < BigInt(m[2] as string);
    });
    if (ok) hits.push(i);
  });
  return hits;
}

test("planChunks: half-open ranges cover every key exactly once, unbounded at both ends", () => {
  const ranges = planChunks({ ...base, min: -50n, max: 9_949n, estimatedRows: 10_000 });
  assert.equal(ranges.length, 10);
  assert.equal(ranges[0]?.where, "`id` < 950");
  assert.equal(ranges[9]?.where, "`id` >= 8950");
  for (const v of [-(10n ** 6n), -50n, 0n, 949n, 950n, 5000n, 9_949n, 10n ** 15n]) assert.equal(owner(ranges, v).length, 1, `key ${v}`);
  assert.deepEqual(planChunks({ ...base, min: 1n, max: 5n, estimatedRows: 1 }), [{ where: "" }]);
  const huge = planChunks({ ...base, min: 0n, max: 2n ** 63n - 1n, estimatedRows: 4000 });
  assert.equal(huge.length, 4);
  for (const v of [0n, 2n ** 62n, 2n ** 63n - 1n]) assert.equal(owner(huge, v).length, 1);
});

test("isIntegerType", () => {
  for (const t of ["tinyint", "SMALLINT", "mediumint", "int", "integer", "bigint"]) assert.ok(isIntegerType(t), t);
  for (const t of ["decimal", "varchar", "double", "bit"]) assert.ok(!isIntegerType(t), t);
});

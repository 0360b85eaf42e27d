// The campaign's turns (chaos/campaign.ts Turns): faults of different clusters overlap, a fault
// of the node runs alone, and a waiting one is not starved by new cluster faults.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Turns } from "../../../chaos/campaign.ts";

/** Runs the steps (start time ms, kind, duration ms) and records which ran at the same time. */
async function run(steps: readonly { at: number; kind: "shared" | "alone"; ms: number; name: string }[]) {
  const turns = new Turns();
  const running = new Set<string>();
  const overlaps: string[] = [];
  const order: string[] = [];
  await Promise.all(steps.map(async (s) => {
    if (s.at > 0) await sleep(s.at);
    const body = async () => {
      order.push(s.name);
      for (const r of running) overlaps.push([r, s.name].sort().join("+"));
      running.add(s.name);
      await sleep(s.ms);
      running.delete(s.name);
    };
    await (s.kind === "alone" ? turns.alone(body) : turns.shared(body));
  }));
  return { overlaps: overlaps.sort(), order };
}

describe("chaos campaign turns", () => {
  const cases = [
    {
      name: "cluster faults overlap",
      steps: [{ at: 0, kind: "shared", ms: 60, name: "a" }, { at: 10, kind: "shared", ms: 60, name: "b" }],
      overlaps: ["a+b"], order: ["a", "b"],
    },
    {
      name: "a node fault waits for the running cluster faults and runs alone",
      steps: [{ at: 0, kind: "shared", ms: 60, name: "a" }, { at: 10, kind: "alone", ms: 40, name: "n" }, { at: 100, kind: "shared", ms: 10, name: "b" }],
      overlaps: [], order: ["a", "n", "b"],
    },
    {
      name: "a waiting node fault goes before a cluster fault asked for after it",
      steps: [{ at: 0, kind: "shared", ms: 60, name: "a" }, { at: 10, kind: "alone", ms: 30, name: "n" }, { at: 20, kind: "shared", ms: 10, name: "b" }],
      overlaps: [], order: ["a", "n", "b"],
    },
    {
      // The turn is taken in the tick of the check: a node fault asked for right after a
      // cluster fault (no time between, as when the campaign's loops start) must still wait.
      name: "a node fault asked for in the same tick as a cluster fault waits for it",
      steps: [{ at: 0, kind: "shared", ms: 40, name: "a" }, { at: 0, kind: "alone", ms: 20, name: "n" }, { at: 0, kind: "shared", ms: 20, name: "b" }],
      overlaps: [], order: ["a", "n", "b"],
    },
    {
      name: "two node faults never overlap",
      steps: [{ at: 0, kind: "alone", ms: 40, name: "n1" }, { at: 10, kind: "alone", ms: 20, name: "n2" }],
      overlaps: [], order: ["n1", "n2"],
    },
  ] as const;
  for (const c of cases) {
    it(c.name, async () => {
      const got = await run(c.steps);
      assert.deepEqual(got.overlaps, [...c.overlaps]);
      assert.deepEqual(got.order, [...c.order]);
    });
  }
});

// The short fault campaign (issue #13): `npm run chaos -- --each --short` over ten fault kinds
// of chaos/faults.ts against moco-ts and a 3-instance MySQLCluster on a real node, so the
// campaign and its checker stay tested. Every fault must be followed by Healthy, no
// acknowledged insert may be missing on the final primary and no sample may show two writable
// instances. Needs test/env/provision-node.sh. Run with `bash test/run.sh node test/node/chaos.test.ts`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { makeTmpDir, repoRoot } from "../env/procs.ts";
import { startRealNode, nodeLayout, type RealNode } from "../../sandbox/realnode/node.ts";
import { hostSnapshot, nodeLeftovers, type HostSnapshot } from "../../sandbox/realnode/host-check.ts";
import type { FaultResult } from "../../chaos/checker.ts";

const NAME = "moco-ts-chaos-test";
const KINDS = [
  "kill -9 mysqld (primary)", "kill -9 mysqld (replica)", "Pod deletion (primary)", "full partition of the primary",
  "one-way partition of the primary", "controller cut from the MySQL Pods", "kill -9 controller mid-switchover",
  "API server stopped 30 s", "kill -9 agent", "client holds a lock during switchover",
];
let node: RealNode;
let snapshot: HostSnapshot;

describe("the short fault campaign", { timeout: 3_600_000 }, () => {
  before(async () => {
    snapshot = hostSnapshot();
    node = await startRealNode({ name: NAME });
  });

  after(async () => {
    if (!node) return;
    await node.down();
    assert.deepEqual(nodeLeftovers(nodeLayout(NAME), snapshot), [], "the node left this on the host");
  });

  it("ten faults of different kinds: all recovered, 0 acknowledged writes lost, 0 dual-writable samples", async () => {
    const out = path.join(makeTmpDir("chaos-"), "result.json");
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [path.join(repoRoot, "chaos", "main.ts"), "--node", NAME, "--seed", "13", "--each", "--short",
        "--kinds", KINDS.join(","), "--json", out], { stdio: "inherit" });
      child.on("exit", (c) => resolve(c));
    });
    const r = JSON.parse(fs.readFileSync(out, "utf8")) as {
      info: { acked: number; lostTotal: number; dualTotal: number; samples: number }; results: FaultResult[];
    };
    assert.deepEqual(r.results.map((x) => x.kind).sort(), [...KINDS].sort(), "every kind ran once");
    assert.deepEqual(r.results.filter((x) => x.recoveredMs === undefined).map((x) => x.kind), [], "not recovered");
    assert.ok(r.info.acked > 100, `the writer was acknowledged (${r.info.acked})`);
    assert.ok(r.info.samples > 1000, `the sampler sampled (${r.info.samples})`);
    assert.equal(r.info.lostTotal, 0, "acknowledged writes missing on the final primary");
    assert.equal(r.info.dualTotal, 0, "samples with two writable instances");
    assert.equal(code, 0);
  });
});

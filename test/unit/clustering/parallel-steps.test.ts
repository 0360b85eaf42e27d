// Which configure steps run at once (act.ts parallelGroups, issue #14): table-driven.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { parallelGroups } from "../../../src/clustering/act.ts";
import type { ConfigureStep } from "../../../src/clustering/types.ts";

const SETTLE: ConfigureStep = { kind: "sleep", ms: 300, reason: "roleChange" };
const rm = (i: number): ConfigureStep => ({ kind: "removeRoleLabel", instance: i });
const label = (i: number, role: "primary" | "replica"): ConfigureStep => ({ kind: "setRoleLabel", instance: i, role });
const kill = (i: number): ConfigureStep => ({ kind: "killConnections", instance: i });
const sro = (i: number): ConfigureStep => ({ kind: "setSuperReadOnly", instance: i });
const repl = (i: number): ConfigureStep => ({ kind: "configureReplication", instance: i, source: { host: "h", port: 3306, credentials: "moco-repl" }, semiSync: true });
const writable = (i: number): ConfigureStep => ({ kind: "makeWritable", instance: i });

describe("parallelGroups", () => {
  const table: [string, ConfigureStep[], ConfigureStep[][]][] = [
    ["empty", [], []],
    [
      "after a switchover 0→1: labels removed together, kills together, replicas re-pointed together, writable alone, labels together",
      [rm(0), rm(1), SETTLE, kill(0), kill(1), repl(0), repl(2), writable(1), label(1, "primary"), label(0, "replica")],
      [[rm(0), rm(1)], [SETTLE], [kill(0), kill(1)], [repl(0), repl(2)], [writable(1)], [label(1, "primary"), label(0, "replica")]],
    ],
    ["kill then super_read_only per instance stay in order (different kinds)", [kill(1), sro(1), kill(2), sro(2)], [[kill(1)], [sro(1)], [kill(2)], [sro(2)]]],
    ["the same instance twice in a row: not at once", [kill(1), kill(1)], [[kill(1)], [kill(1)]]],
    ["writable steps are never grouped", [writable(0), writable(1)], [[writable(0)], [writable(1)]]],
  ];
  for (const [name, steps, want] of table) it(name, () => assert.deepEqual(parallelGroups(steps), want));
});

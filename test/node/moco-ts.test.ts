// `npm run sandbox` as a user runs it (sandbox/run.sh → sandbox/main.ts, docs/sandbox.md):
// the real node, moco-ts installed by `helm install` of charts/moco-ts with the image built
// from the project's Dockerfile, and a 3-instance MySQLCluster of the MySQL 9.7 image that
// becomes Available and Healthy with its volumes from the default StorageClass; `status`
// reports it; `down` stops it and leaves nothing of the node on the host.
// Needs test/env/provision-node.sh. Run with `bash test/run.sh node`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { kubectlFor } from "../env/kube.ts";
import { repoRoot } from "../env/procs.ts";
import { nodeLayout } from "../../sandbox/realnode/node.ts";
import { hostKubeconfig } from "../../sandbox/realnode/main.ts";
import { hostSnapshot, nodeLeftovers, type HostSnapshot } from "../../sandbox/realnode/host-check.ts";
import { STORAGE_CLASS } from "../../sandbox/realnode/config.ts";

const NAME = "moco-ts-node-test-sandbox";
let snapshot: HostSnapshot;
let started = false;

/** `bash sandbox/run.sh ARGS` (what `npm run sandbox -- ARGS` runs) on the test's node. */
function sandbox(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("bash", [path.join(repoRoot, "sandbox", "run.sh"), ...args], {
      env: { ...process.env, MOCO_TS_SANDBOX_NODE: NAME }, maxBuffer: 64 << 20, timeout: 1_500_000,
    }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
  });
}

const kubectl = kubectlFor(hostKubeconfig(nodeLayout(NAME)));

describe("npm run sandbox", { timeout: 1_800_000 }, () => {
  before(() => { snapshot = hostSnapshot(); });

  after(async () => {
    if (!started) return;
    const down = await sandbox(["down"]);
    assert.equal(down.code, 0, `sandbox down:\n${down.out}`);
    assert.deepEqual(nodeLeftovers(nodeLayout(NAME), snapshot), [], "the sandbox left this on the host");
  });

  it("brings up moco-ts from the chart and a Healthy 3-instance MySQLCluster; status shows it", async (t) => {
    started = true;
    const start = Date.now();
    const up = await sandbox([]);
    assert.equal(up.code, 0, `sandbox up:\n${up.out}`);
    t.diagnostic(`npm run sandbox: ${((Date.now() - start) / 1000).toFixed(0)} s; ${up.out.match(/apply → Available and Healthy [\d.]+ s/)?.[0] ?? "?"}`);
    assert.match(up.out, /moco-ts sandbox is up/);
    const c = JSON.parse(await kubectl(["get", "mysqlcluster", "sandbox", "-o", "json"])) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    const is = (ty: string) => c.status?.conditions?.some((x) => x.type === ty && x.status === "True") ?? false;
    assert.ok(is("Available") && is("Healthy"), "Available and Healthy");
    const release = await kubectl(["-n", "moco-system", "get", "secret", "-l", "owner=helm,name=moco", "-o", "name"]);
    assert.match(release, /sh\.helm\.release\.v1\.moco\.v1/, "installed by helm");
    const pod = JSON.parse(await kubectl(["get", "pod", "moco-sandbox-0", "-o", "json"])) as {
      spec: { containers: { name: string; image: string }[] };
    };
    assert.equal(pod.spec.containers.find((x) => x.name === "agent")?.image, "ghcr.io/moco-ts/moco-ts:0.1.0");
    assert.match(await kubectl(["exec", "moco-sandbox-0", "-c", "mysqld", "--", "mysqld", "--version"]), /Ver 9\.7\./);
    const pvcs = JSON.parse(await kubectl(["get", "pvc", "-o", "json"])) as {
      items: { spec: { storageClassName?: string }; status: { phase: string } }[];
    };
    assert.equal(pvcs.items.length, 3);
    for (const p of pvcs.items) {
      assert.equal(p.spec.storageClassName, STORAGE_CLASS);
      assert.equal(p.status.phase, "Bound");
    }
    const status = await sandbox(["status"]);
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /sandbox: running[\s\S]*default\s+sandbox\s+True\s+True/);
  });
});

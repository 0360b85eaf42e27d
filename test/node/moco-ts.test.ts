// moco-ts on the real node (sandbox/realnode, docs/sandbox.md "Real node"): the manifests of
// deploy/ with the image built from the project's Dockerfile, then a 3-instance MySQLCluster
// of the MySQL 9.7 image becomes Available and Healthy, with its volumes from the default
// StorageClass; down() leaves nothing on the host.
// Needs test/env/provision-node.sh. Run with `bash test/run.sh node`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { eventually } from "../env/eventually.ts";
import { repoRoot } from "../env/procs.ts";
import { waitCrdsEstablished } from "../env/kube.ts";
import { startRealNode, nodeLayout, type RealNode } from "../../sandbox/realnode/node.ts";
import { hostSnapshot, nodeLeftovers, type HostSnapshot } from "../../sandbox/realnode/host-check.ts";
import { mysqlClusterManifest } from "../../sandbox/cluster-manifest.ts";
import { STORAGE_CLASS } from "../../sandbox/realnode/config.ts";

const NAME = "moco-ts-node-test-moco";
let node: RealNode;
let snapshot: HostSnapshot;
const deploy = (p: string) => path.join(repoRoot, "deploy", p);

describe("moco-ts on the real node", { timeout: 900_000 }, () => {
  before(async () => {
    snapshot = hostSnapshot();
    node = await startRealNode({ name: NAME });
  });

  after(async () => {
    if (!node) return;
    await node.down();
    assert.deepEqual(nodeLeftovers(nodeLayout(NAME), snapshot), [], "the node left this on the host");
  });

  it("runs the controller from deploy/ and makes a 3-instance MySQLCluster Healthy", async () => {
    await node.kubectl(["apply", "--server-side", "-f", deploy("crds")]);
    await waitCrdsEstablished(node, ["mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com"]);
    await node.kubectl(["apply", "-f", deploy("controller"), "-f", deploy("webhooks")]);
    await node.kubectl(["-n", "moco-system", "rollout", "status", "deploy/moco-controller", "--timeout=300s"]);
    await node.kubectl(["create", "namespace", "demo"]);
    // The webhooks answer once the controller has injected their CA bundle.
    await eventually("the MySQLCluster accepted", () =>
      node.kubectl(["apply", "-f", "-"], mysqlClusterManifest({ name: "test", namespace: "demo", replicas: 3 })), 120_000, 2000);
    await eventually("Available and Healthy", async () => {
      const c = JSON.parse(await node.kubectl(["-n", "demo", "get", "mysqlcluster", "test", "-o", "json"])) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      const is = (t: string) => c.status?.conditions?.some((x) => x.type === t && x.status === "True") ?? false;
      return is("Available") && is("Healthy");
    }, 600_000, 2000);
    const pod = JSON.parse(await node.kubectl(["-n", "demo", "get", "pod", "moco-test-0", "-o", "json"])) as {
      spec: { containers: { name: string; image: string }[] };
    };
    assert.equal(pod.spec.containers.find((c) => c.name === "agent")?.image, "ghcr.io/moco-ts/moco-ts:0.1.0");
    assert.match(await node.kubectl(["-n", "demo", "exec", "moco-test-0", "-c", "mysqld", "--", "mysqld", "--version"]), /Ver 9\.7\./);
    const pvcs = JSON.parse(await node.kubectl(["-n", "demo", "get", "pvc", "-o", "json"])) as {
      items: { spec: { storageClassName?: string }; status: { phase: string } }[];
    };
    assert.equal(pvcs.items.length, 3);
    for (const p of pvcs.items) {
      assert.equal(p.spec.storageClassName, STORAGE_CLASS);
      assert.equal(p.status.phase, "Bound");
    }
  });
});

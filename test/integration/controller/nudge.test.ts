// A mysqld Pod's readiness change starts a clustering pass at once (origin "pod-readiness"),
// and so does its mysqld container becoming started (origin "pod-started": the startup probe
// passed, the instance can be configured), even with a check interval of an hour: the pass is caused by the Pod event, not by the
// interval. Real kube-apiserver and kube-controller-manager (the StatefulSet controller
// creates the Pod; with no kubelet the test writes the Pod's status itself).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import type { RunningController } from "../../../src/controller/main.ts";
import { clusterManifest, eventually, scrape, startHarness, waitIdle, type Harness } from "../../env/controller-harness.ts";

const NS = "nudge";
const NAME = "c1";
const HOUR_MS = 3600_000;

/** Origins of the passes the controller logged for the cluster. */
function passOrigins(h: Harness): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync(h.logFile, "utf8").split("\n")) {
    if (!line.includes("\"start a pass\"") || !line.includes(`"cluster":"${NS}/${NAME}"`)) continue;
    out.push(String((JSON.parse(line) as { origin?: string }).origin));
  }
  return out;
}

describe("clustering nudges", { timeout: 240_000 }, () => {
  let h: Harness;
  let ctl: RunningController;

  before(async () => {
    h = await startHarness();
    await h.kubectl(["create", "namespace", NS]);
    ctl = await h.startController({ checkIntervalMs: HOUR_MS });
    await h.apply(clusterManifest(NS, NAME, { replicas: 1 }));
    await eventually("the Pod from the StatefulSet controller", async () =>
      (await h.kubectl(["get", "pod", "-n", NS, "-o", "name"])).includes(`pod/moco-${NAME}-0`));
    await eventually("a first pass (started by the reconciler)", async () => passOrigins(h).length > 0);
    await waitIdle(ctl);
  });
  after(async () => {
    await h?.stop();
  });

  it("a Pod becoming Ready and then not Ready starts a pass each time, with an hour's check interval", async () => {
    const labels = { name: NAME, namespace: NS };
    for (const status of ["True", "False"]) {
      const before = await scrape(ctl, "moco_cluster_checks_total", labels) ?? 0;
      const readinessPasses = passOrigins(h).filter((o) => o === "pod-readiness").length;
      await h.kubectl(["patch", "pod", `moco-${NAME}-0`, "-n", NS, "--subresource=status", "--type=merge", "-p",
        JSON.stringify({ status: { conditions: [{ type: "Ready", status, lastTransitionTime: new Date().toISOString() }] } })]);
      await eventually(`a pass started by the readiness change to ${status}`, async () =>
        passOrigins(h).filter((o) => o === "pod-readiness").length > readinessPasses, 60_000);
      assert.ok((await scrape(ctl, "moco_cluster_checks_total", labels) ?? 0) > before, "the checks counter grew");
    }
  });

  it("the mysqld container becoming started starts a pass; staying started does not", async () => {
    await waitIdle(ctl);
    const count = () => passOrigins(h).filter((o) => o === "pod-started").length;
    const status = (started: boolean) => ({
      name: "mysqld", image: "mysql:9.7", imageID: "", ready: false, restartCount: 0, started,
      state: { running: { startedAt: new Date().toISOString() } },
    });
    const patch = (started: boolean) => h.kubectl(["patch", "pod", `moco-${NAME}-0`, "-n", NS, "--subresource=status", "--type=merge", "-p",
      JSON.stringify({ status: { containerStatuses: [status(started)] } })]);
    await patch(false);
    await waitIdle(ctl);
    const before = count();
    await patch(true);
    await eventually("a pass started by the mysqld container becoming started", async () => count() > before, 60_000);
    await waitIdle(ctl);
    const after = count();
    await patch(true);
    await eventually("the cached Pod is started", async () =>
      ctl.leaderState()?.caches.pods.get(`moco-${NAME}-0`, NS)?.status?.containerStatuses?.[0]?.started === true);
    await waitIdle(ctl);
    assert.equal(count(), after, "no second pass while it stays started");
  });

  it("an update that changes neither readiness nor the IP does not", async () => {
    await waitIdle(ctl);
    const readinessPasses = passOrigins(h).filter((o) => o === "pod-readiness").length;
    await h.kubectl(["annotate", "pod", `moco-${NAME}-0`, "-n", NS, "example.com/touched=1"]);
    // The annotation reached the controller's cache (the Pod watcher saw the update).
    await eventually("the cached Pod has the annotation", async () =>
      ctl.leaderState()?.caches.pods.get(`moco-${NAME}-0`, NS)?.metadata?.annotations?.["example.com/touched"] === "1");
    await waitIdle(ctl);
    assert.equal(passOrigins(h).filter((o) => o === "pod-readiness").length, readinessPasses);
  });
});

// The partition controller's "primary last" (docs/objects.md#partition-controller step 5)
// against a real kube-apiserver and kube-controller-manager: the StatefulSet controller
// recreates Pods as the partition goes down, with real revision hashes. There is no kubelet:
// the test plays it (marks Pods Running and Ready through the status subresource) and plays
// the clustering engine (moves status.currentPrimaryIndex, removes the demote annotation),
// while reconcilePartition runs on the controller's own caches. The controller process is
// stopped after it created the objects, so nothing else writes the cluster's status.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import type { V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { createCaches, startCaches, stopCaches, type ControllerCaches } from "../../../src/controller/caches.ts";
import { clusterPorts, podView } from "../../../src/controller/clustering-adapter.ts";
import type { CertificateStore } from "../../../src/controller/cert-store.ts";
import { PartitionRateLimiter, reconcilePartition, type PartitionDeps } from "../../../src/controller/partition.ts";
import { EventRecorder } from "../../../src/k8s/events.ts";
import { ControllerMetrics } from "../../../src/metrics/index.ts";
import { clusterManifest, eventually, getJson, startHarness, type Harness } from "../../env/controller-harness.ts";

const NS = "plast";
const NAME = "db";
const STS = `moco-${NAME}`;
const KEY = `${NS}/${STS}`;
const LONG_AGO = "2024-01-01T00:00:00Z";

describe("partition controller: the primary's Pod last, after a planned switchover", { timeout: 300_000 }, () => {
  let h: Harness;
  let caches: ControllerCaches;
  let events: EventRecorder;
  let d: PartitionDeps;

  const partition = (): number | undefined => caches.statefulSets.get(STS, NS)?.spec?.updateStrategy?.rollingUpdate?.partition;
  const updateRevision = (): string => caches.statefulSets.get(STS, NS)?.status?.updateRevision ?? "";
  const pod = (i: number): V1Pod | undefined => caches.pods.get(`${STS}-${i}`, NS);
  const isUpdated = (i: number): boolean => pod(i)?.metadata?.labels?.["controller-revision-hash"] === updateRevision();
  const plannedEvents = async (): Promise<number> => {
    await events.flush();
    const list = await getJson<{ items: { count?: number; involvedObject: { kind: string; name: string }; message: string }[] }>(
      h, ["events", "-n", NS, "--field-selector", "reason=PlannedSwitchOver"]);
    for (const e of list.items) assert.deepEqual([e.involvedObject.kind, e.involvedObject.name], ["MySQLCluster", NAME]);
    return list.items.reduce((n, e) => n + (e.count ?? 1), 0);
  };

  /** The kubelet's part: every Pod of the StatefulSet Running and Ready (long ago, so available). */
  async function markPodsReady(): Promise<void> {
    for (const p of caches.pods.list({ namespace: NS })) {
      if (p.status?.phase === "Running") continue;
      const containers = (p.spec?.containers ?? []).map((c) => ({
        name: c.name, ready: true, started: true, restartCount: 0, image: "x", imageID: "x", state: { running: { startedAt: LONG_AGO } },
      }));
      const status = {
        phase: "Running",
        conditions: [{ type: "Ready", status: "True", lastTransitionTime: LONG_AGO }],
        containerStatuses: containers,
      };
      await h.kubectl(["patch", "pod", "-n", NS, p.metadata?.name ?? "", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
    }
  }

  /** Waits until the caches show `what`, giving the StatefulSet controller and the "kubelet" their turn. */
  async function settle(what: string, probe: () => boolean): Promise<void> {
    await eventually(what, async () => {
      await markPodsReady();
      return probe();
    }, 120_000, 200);
  }

  async function setClusterStatus(currentPrimaryIndex: number): Promise<void> {
    const c = await getJson<MySQLCluster>(h, ["mysqlcluster", "-n", NS, NAME]);
    const status = {
      currentPrimaryIndex,
      reconcileInfo: { generation: c.metadata?.generation ?? 0, reconcileVersion: 1 },
      conditions: [{ type: "Healthy", status: "True", reason: "Healthy", message: "", lastTransitionTime: LONG_AGO }],
    };
    await h.kubectl(["patch", "mysqlcluster", "-n", NS, NAME, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
    await eventually("the cluster status in the cache", async () => caches.clusters.get(NAME, NS)?.status?.currentPrimaryIndex === currentPrimaryIndex);
  }

  before(async () => {
    h = await startHarness();
    await h.kubectl(["create", "namespace", NS]);
    const ctl = await h.startController();
    await h.apply(clusterManifest(NS, NAME));
    await eventually("the StatefulSet with its partition walked down", async () => {
      const sts = await getJson<V1StatefulSet>(h, ["sts", "-n", NS, STS]).catch(() => undefined);
      return sts?.spec?.updateStrategy?.rollingUpdate?.partition === 0;
    });
    await ctl.stop();
    const logger = pino({ level: "silent" });
    caches = createCaches(h.client, { logger, namespace: NS });
    await startCaches(caches);
    events = new EventRecorder(h.client, { host: "", reportingInstance: "primary-last-test", logger });
    d = { client: h.client, caches, metrics: new ControllerMetrics({ processMetrics: false }), events, limiter: new PartitionRateLimiter(0), logger };
    await settle("3 Pods Ready", () => [0, 1, 2].every((i) => pod(i)?.status?.phase === "Running"));
    await setClusterStatus(0);
  });
  after(async () => {
    if (caches !== undefined) await stopCaches(caches);
    await h?.stop();
  });

  it("switches over before lowering the partition onto the primary's Pod, then goes on", async () => {
    // A Pod template change: the webhook puts the partition back at replicas.
    await h.kubectl(["patch", "sts", "-n", NS, STS, "--type=merge", "-p", JSON.stringify({ spec: { template: { metadata: { annotations: { "test/rollout": "1" } } } } })]);
    await settle("partition 3 and a new update revision", () => partition() === 3 && updateRevision() !== "" && !isUpdated(0));
    const stsObserved = () => {
      const s = caches.statefulSets.get(STS, NS);
      return (s?.metadata?.generation ?? 0) === (s?.status?.observedGeneration ?? -1);
    };

    // Pods 2 and 1 are replicas: the partition goes down as upstream, no switchover.
    for (const target of [2, 1]) {
      await settle(`ready to roll Pod ${target}`, () => stsObserved() && partition() === target + 1);
      await reconcilePartition(d, KEY);
      await settle(`Pod ${target} recreated on the update revision`, () => partition() === target && isUpdated(target) && pod(target)?.status?.phase === "Running");
    }
    assert.equal(await plannedEvents(), 0, "no planned switchover while replicas roll");
    assert.equal(isUpdated(0), false);

    // The engine sees which Pods run the update revision and prefers them.
    const ports = clusterPorts({ client: h.client, caches, metrics: d.metrics, events, certs: {} as CertificateStore, logger: d.logger }, { namespace: NS, name: NAME });
    const views = [...await ports.source.listPods()].sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(views.map((v) => v.updated), [false, true, true]);

    // Pod 0 is the primary: the controller asks for a switchover and keeps the partition.
    await settle("ready to roll Pod 0", () => stsObserved() && partition() === 1 && pod(1)?.status?.phase === "Running" && pod(2)?.status?.phase === "Running");
    const r = await reconcilePartition(d, KEY);
    assert.ok(r !== undefined && r.requeueAfterMs !== undefined && r.requeueAfterMs > 0, "requeued while the switchover is pending");
    await eventually("the demote annotation in the cache", async () => pod(0)?.metadata?.annotations?.["moco.cybozu.com/demote"] === "true");
    assert.equal(partition(), 1, "the partition stays while the primary has not moved");
    assert.equal((await getJson<V1StatefulSet>(h, ["sts", "-n", NS, STS])).spec?.updateStrategy?.rollingUpdate?.partition, 1);
    assert.equal(await plannedEvents(), 1);
    // Asked again while pending: no second request, no second event, still no step.
    await reconcilePartition(d, KEY);
    assert.equal(await plannedEvents(), 1);
    assert.equal((await getJson<V1StatefulSet>(h, ["sts", "-n", NS, STS])).spec?.updateStrategy?.rollingUpdate?.partition, 1);
    assert.equal(podView(pod(0) as V1Pod, updateRevision()).demote, true);

    // The engine switches over to an updated replica and removes the annotation.
    await h.kubectl(["annotate", "pod", "-n", NS, `${STS}-0`, "moco.cybozu.com/demote-"]);
    await setClusterStatus(1);
    await eventually("the annotation gone from the cache", async () => pod(0)?.metadata?.annotations?.["moco.cybozu.com/demote"] === undefined);
    await reconcilePartition(d, KEY);
    await settle("Pod 0 recreated on the update revision", () => partition() === 0 && isUpdated(0) && pod(0)?.status?.phase === "Running");
    assert.equal(await plannedEvents(), 1, "one planned switchover for the whole rolling update");
  });
});

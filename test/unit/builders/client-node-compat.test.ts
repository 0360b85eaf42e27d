// The decision helpers take structural views; the client-node models the k8s layer
// hands over (Date fields, classes) must fit them. This file fails typechecking if not.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1ConfigMap, V1PersistentVolumeClaim, V1Pod, V1StatefulSet, V1StorageClass } from "@kubernetes/client-node";
import {
  buildStatefulSet,
  decidePartitionUpdate,
  isStatefulSetReady,
  isStatefulSetUpdating,
  needsStatefulSetRecreation,
  planPvcMetadataSync,
  planPvcResize,
  selectConfigMapsToPrune,
  selectResizeTargets,
} from "../../../src/controller/builders/index.ts";
import { UID, cluster, options } from "./fixtures.ts";

describe("client-node models fit the builders' inputs", () => {
  it("V1StatefulSet, V1Pod, V1ConfigMap, V1PersistentVolumeClaim, V1StorageClass", () => {
    const live: V1StatefulSet = buildStatefulSet(cluster(), {}, options());
    live.metadata = { ...live.metadata, generation: 1, creationTimestamp: new Date("2024-01-01T00:00:00Z") };
    live.status = { replicas: 3, observedGeneration: 1, readyReplicas: 3, currentRevision: "a", updateRevision: "a", availableReplicas: 3 };
    const pods: V1Pod[] = [{ metadata: { name: "moco-test-0", deletionTimestamp: new Date() } }];
    const cms: V1ConfigMap[] = [
      { metadata: { name: "moco-test.00000001", creationTimestamp: new Date(0), ownerReferences: [{ apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", name: "test", uid: UID, controller: true }] } },
    ];
    const pvcs: V1PersistentVolumeClaim[] = [{ metadata: { name: "mysql-data-moco-test-0" }, spec: { resources: { requests: { storage: "1Gi" } } } }];
    const classes: V1StorageClass[] = [{ metadata: { name: "x" }, provisioner: "p", allowVolumeExpansion: true }];

    const again = buildStatefulSet(cluster(), { live }, options());
    assert.equal(needsStatefulSetRecreation(again, live), false);
    assert.equal(isStatefulSetUpdating(live), false);
    assert.equal(isStatefulSetReady(live), true);
    assert.equal(decidePartitionUpdate(cluster(), live, pods, new Date()).kind, "requeue");
    assert.deepEqual(selectConfigMapsToPrune(cms, { prefix: "moco-test.", currentName: "moco-test.ffffffff", clusterUid: UID, historyLimit: 1 }), [
      "moco-test.00000001",
    ]);
    assert.deepEqual(planPvcMetadataSync(cluster(), pvcs, [], []), []);
    assert.deepEqual(planPvcResize("test", selectResizeTargets(cluster(), live), 3, pvcs, classes).resize, []);
  });
});

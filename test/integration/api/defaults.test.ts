// Acceptance through a real kube-apiserver with the moco-ts CRDs and webhooks: every
// example is accepted and reads back with the documented defaults (docs/api.md#mysqlcluster-in-short, docs/api.md#backuppolicy-in-short, docs/api.md#mysqlcluster-defaulting),
// `kubectl get mysqlcluster` prints the eight printer columns (docs/api.md#printer-columns), and the CRDs
// declare conversion strategy None (docs/api.md, Divergences).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "../../../scripts/gen-crds.ts";
import { BACKUPPOLICIES, MYSQLCLUSTERS, startApiHarness, type ApiHarness, type Json } from "./harness.ts";

const FINALIZER = "moco.cybozu.com/mysqlcluster";
const examplesDir = path.join(REPO_ROOT, "examples");
const exampleFiles = readdirSync(examplesDir).filter((f) => f.endsWith(".yaml")).sort();

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** JobConfig (and its BucketConfig) with the CRD defaults of docs/api.md#jobconfig, docs/api.md#bucketconfig. */
function withJobConfigDefaults(jobConfig: Json): Json {
  const out = clone(jobConfig);
  out["threads"] ??= 4;
  if (!("cpu" in out)) out["cpu"] = 4;
  if (!("memory" in out)) out["memory"] = "4Gi";
  const bucket = (out["bucketConfig"] ?? {}) as Json;
  bucket["backendType"] ??= "s3";
  out["bucketConfig"] = bucket;
  return out;
}

/** The spec the API server must store for a manifest spec (docs/api.md#mysqlcluster-in-short, docs/api.md#mysqlcluster-defaulting). */
function expectedClusterSpec(manifest: Json, storedServerIDBase: unknown): Json {
  const spec = clone(manifest);
  spec["replicas"] ??= 1;
  spec["maxDelaySeconds"] ??= 60;
  spec["maxDelaySecondsForPodDeletion"] ??= 0;
  spec["startupWaitSeconds"] ??= 3600;
  spec["initializeTimezoneData"] ??= false;
  if (spec["serverIDBase"] === undefined || spec["serverIDBase"] === 0) spec["serverIDBase"] = storedServerIDBase;
  const restore = spec["restore"] as Json | undefined;
  if (restore !== undefined && restore !== null) {
    restore["jobConfig"] = withJobConfigDefaults(restore["jobConfig"] as Json);
  }
  return spec;
}

function expectedPolicySpec(manifest: Json): Json {
  const spec = clone(manifest);
  spec["concurrencyPolicy"] ??= "Allow";
  spec["jobConfig"] = withJobConfigDefaults(spec["jobConfig"] as Json);
  return spec;
}

interface Stored {
  metadata: { name: string; namespace: string; finalizers?: string[]; uid: string };
  spec: Json;
}

describe("MySQLCluster and BackupPolicy through a real kube-apiserver: examples and defaults", () => {
  let h: ApiHarness;
  const serverIDBases: number[] = [];

  before(async () => {
    h = await startApiHarness();
    await h.cp.kubectl(["create", "namespace", "backup"]);
    await h.cp.kubectl(["create", "namespace", "defaults"]);
  });
  after(async () => {
    await h?.stop();
  });

  async function getCluster(namespace: string, name: string): Promise<Stored> {
    return (await h.custom.getNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace, name })) as Stored;
  }
  async function getPolicy(namespace: string, name: string): Promise<Stored> {
    return (await h.custom.getNamespacedCustomObject({ ...BACKUPPOLICIES, namespace, name })) as Stored;
  }

  function checkCluster(manifest: Json, stored: Stored, what: string): void {
    const mSpec = manifest["spec"] as Json;
    const base = stored.spec["serverIDBase"];
    assert.equal(typeof base, "number", `${what}: serverIDBase`);
    assert.ok((base as number) > 0 && (base as number) <= 2 ** 30, `${what}: serverIDBase ${String(base)} in 1..2^30`);
    if (typeof mSpec["serverIDBase"] === "number" && mSpec["serverIDBase"] !== 0) {
      assert.equal(base, mSpec["serverIDBase"], `${what}: a given serverIDBase is kept`);
    } else {
      serverIDBases.push(base as number);
    }
    assert.ok(stored.metadata.finalizers?.includes(FINALIZER), `${what}: finalizer ${FINALIZER}`);
    assert.equal(stored.metadata.finalizers?.filter((f) => f === FINALIZER).length, 1, `${what}: finalizer once`);
    // Nothing pruned, nothing else added: the manifest plus the documented defaults.
    assert.deepEqual(stored.spec, expectedClusterSpec(mSpec, base), what);
  }

  for (const file of exampleFiles) {
    it(`examples/${file} is accepted (kubectl apply) and reads back with the documented defaults`, async () => {
      const out = await h.cp.kubectl(["apply", "-f", path.join(examplesDir, file)]);
      const docs = parseAllDocuments(readFileSync(path.join(examplesDir, file), "utf8")).map((d) => d.toJS() as Json);
      let checked = 0;
      for (const doc of docs) {
        const meta = doc["metadata"] as { name: string; namespace: string };
        if (doc["kind"] === "MySQLCluster") {
          assert.match(out, new RegExp(`mysqlcluster\\.moco\\.cybozu\\.com/${meta.name} created`));
          checkCluster(doc, await getCluster(meta.namespace, meta.name), `${file} ${meta.name}`);
          checked++;
        } else if (doc["kind"] === "BackupPolicy") {
          assert.match(out, new RegExp(`backuppolicy\\.moco\\.cybozu\\.com/${meta.name} created`));
          const stored = await getPolicy(meta.namespace, meta.name);
          assert.deepEqual(stored.spec, expectedPolicySpec(doc["spec"] as Json), `${file} ${meta.name}`);
          checked++;
        }
      }
      assert.ok(checked > 0, `${file} has a moco.cybozu.com object`);
    });
  }

  it("the webhook chose a distinct serverIDBase for every example cluster", () => {
    assert.ok(serverIDBases.length >= exampleFiles.length - 1, String(serverIDBases.length));
    assert.equal(new Set(serverIDBases).size, serverIDBases.length);
  });

  it("a minimal MySQLCluster gets replicas 1 and every schema default; user finalizers are kept", async () => {
    const manifest: Json = {
      apiVersion: "moco.cybozu.com/v1beta2",
      kind: "MySQLCluster",
      metadata: { name: "minimal", namespace: "defaults", finalizers: ["example.com/keep"] },
      spec: {
        podTemplate: { spec: { containers: [{ name: "mysqld", image: "mysql", ports: [{ name: "app", containerPort: 8080 }] }] } },
        volumeClaimTemplates: [{ metadata: { name: "mysql-data" }, spec: { resources: { requests: { storage: "1Gi" } } } }],
      },
    };
    const created = (await h.custom.createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: "defaults", body: manifest })) as Stored;
    assert.deepEqual(created.metadata.finalizers, ["example.com/keep", FINALIZER]);
    const stored = await getCluster("defaults", "minimal");
    assert.equal(stored.spec["replicas"], 1);
    assert.equal(stored.spec["maxDelaySeconds"], 60);
    assert.equal(stored.spec["maxDelaySecondsForPodDeletion"], 0);
    assert.equal(stored.spec["startupWaitSeconds"], 3600);
    assert.equal(stored.spec["initializeTimezoneData"], false);
    // core/v1 defaults inside the embedded PodSpec come from the Kubernetes OpenAPI.
    const expected = expectedClusterSpec(manifest["spec"] as Json, stored.spec["serverIDBase"]);
    (((expected["podTemplate"] as Json)["spec"] as Json)["containers"] as Json[])[0]!["ports"] = [
      { name: "app", containerPort: 8080, protocol: "TCP" },
    ];
    assert.deepEqual(stored.spec, expected);
    assert.deepEqual(stored.metadata.finalizers, ["example.com/keep", FINALIZER]);
  });

  it("explicit zero/null values: replicas 0 is not defaulted (rejected), serverIDBase 0 is chosen by the webhook", async () => {
    const base = (name: string, extra: Json): Json => ({
      apiVersion: "moco.cybozu.com/v1beta2",
      kind: "MySQLCluster",
      metadata: { name, namespace: "defaults", finalizers: [FINALIZER] },
      spec: {
        podTemplate: { spec: { containers: [{ name: "mysqld", image: "mysql" }] } },
        volumeClaimTemplates: [{ metadata: { name: "mysql-data" }, spec: { resources: { requests: { storage: "1Gi" } } } }],
        ...extra,
      },
    });
    const created = (await h.custom.createNamespacedCustomObject({
      ...MYSQLCLUSTERS,
      namespace: "defaults",
      body: base("zero-base", { serverIDBase: 0, replicas: null, maxDelaySeconds: null }),
    })) as Stored;
    assert.ok((created.spec["serverIDBase"] as number) > 0);
    // null on a non-nullable field is pruned, then defaulted.
    assert.equal(created.spec["replicas"], 1);
    assert.equal(created.spec["maxDelaySeconds"], 60);
    assert.deepEqual(created.metadata.finalizers, [FINALIZER], "an existing moco finalizer is not duplicated");
    await assert.rejects(
      h.custom.createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: "defaults", body: base("zero-replicas", { replicas: 0 }) }),
      /spec\.replicas/,
    );
  });

  it("a minimal BackupPolicy gets concurrencyPolicy Allow and the jobConfig/bucketConfig defaults; explicit null cpu/memory stay null", async () => {
    const manifest: Json = {
      apiVersion: "moco.cybozu.com/v1beta2",
      kind: "BackupPolicy",
      metadata: { name: "minimal", namespace: "defaults" },
      spec: {
        schedule: "0 * * * *",
        jobConfig: { serviceAccountName: "sa", bucketConfig: { bucketName: "b" }, workVolume: { emptyDir: {} } },
      },
    };
    await h.custom.createNamespacedCustomObject({ ...BACKUPPOLICIES, namespace: "defaults", body: manifest });
    const stored = await getPolicy("defaults", "minimal");
    assert.deepEqual(stored.spec, {
      schedule: "0 * * * *",
      concurrencyPolicy: "Allow",
      jobConfig: {
        serviceAccountName: "sa",
        bucketConfig: { bucketName: "b", backendType: "s3" },
        workVolume: { emptyDir: {} },
        threads: 4,
        cpu: 4,
        memory: "4Gi",
      },
    });

    const nulls = clone(manifest);
    (nulls["metadata"] as Json)["name"] = "no-requests";
    Object.assign((nulls["spec"] as Json)["jobConfig"] as Json, { cpu: null, memory: null });
    await h.custom.createNamespacedCustomObject({ ...BACKUPPOLICIES, namespace: "defaults", body: nulls });
    const storedNulls = await getPolicy("defaults", "no-requests");
    const jc = storedNulls.spec["jobConfig"] as Json;
    assert.equal(jc["cpu"], null);
    assert.equal(jc["memory"], null);
    assert.equal(jc["threads"], 4);
  });

  it("kubectl get mysqlcluster prints the eight printer columns with the status values", async () => {
    // Give one cluster a status through the status subresource.
    const now = "2025-01-15T03:00:00Z";
    const cond = (type: string, status: string) => ({
      type,
      status,
      reason: type,
      message: "the current state is Healthy",
      lastTransitionTime: now,
    });
    const res = await h.request(
      "PATCH",
      "/apis/moco.cybozu.com/v1beta2/namespaces/default/mysqlclusters/test/status",
      // A JSON patch, not a merge patch: in a merge patch `warnings: null` would delete
      // the key, while a Go controller writes the nullable field as null.
      [{
        op: "add",
        path: "/status",
        value: {
          conditions: [
            cond("Available", "True"),
            cond("Healthy", "False"),
            cond("ClusteringActive", "True"),
            cond("ReconciliationActive", "False"),
          ],
          currentPrimaryIndex: 2,
          syncedReplicas: 3,
          errantReplicas: 1,
          errantReplicaList: [1],
          backup: {
            time: now,
            elapsed: "1m2s",
            sourceIndex: 0,
            sourceUUID: "00000000-0000-0000-0000-000000000000",
            binlogFilename: "binlog.000001",
            gtidSet: "",
            dumpSize: 1,
            binlogSize: 2,
            workDirUsage: 3,
            warnings: null,
          },
          reconcileInfo: { generation: 1, reconcileVersion: 1 },
        },
      }],
      "application/json-patch+json",
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const backup = (res.body["status"] as Json)["backup"] as Json;
    assert.equal(backup["warnings"], null, "a nullable required field accepts null");

    const out = await h.cp.kubectl(["get", "mysqlcluster", "-n", "default"]);
    const lines = out.trimEnd().split("\n");
    const header = lines[0]!.trim().split(/\s{2,}/);
    assert.deepEqual(header, [
      "NAME",
      "AVAILABLE",
      "HEALTHY",
      "PRIMARY",
      "SYNCED REPLICAS",
      "ERRANT REPLICAS",
      "CLUSTERING ACTIVE",
      "RECONCILE ACTIVE",
      "LAST BACKUP",
    ]); // no AGE: a CRD with printer columns shows only those (and NAME), like MOCO's
    // Column values line up with the header (kubectl pads columns to the header width).
    const starts = header.map((c) => lines[0]!.indexOf(c));
    const row = lines.find((l) => l.startsWith("test "));
    assert.ok(row, out);
    const cells = starts.map((s, i) => row.slice(s, starts[i + 1] ?? row.length).trim());
    assert.deepEqual(cells, ["test", "True", "False", "2", "3", "1", "True", "False", now]);
    // A cluster without status shows empty cells.
    const other = lines.find((l) => l.startsWith("public "));
    assert.ok(other, out);
    const otherCells = starts.map((s, i) => other.slice(s, starts[i + 1] ?? other.length).trim());
    assert.deepEqual(otherCells.slice(1), Array(8).fill("") as string[]);
  });

  it("both CRDs have conversion strategy None (no /convert reference) and v1beta2 as the only version", async () => {
    const ext = h.kc.makeApiClient(k8s.ApiextensionsV1Api);
    for (const name of ["mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com"]) {
      const crd = await ext.readCustomResourceDefinition({ name });
      assert.equal(crd.spec.conversion?.strategy, "None", name);
      assert.equal(crd.spec.conversion?.webhook, undefined, name);
      assert.deepEqual(
        crd.spec.versions.map((v) => [v.name, v.served, v.storage]),
        [["v1beta2", true, true]],
        name,
      );
      assert.ok(!JSON.stringify(crd).includes("/convert"), `${name} does not mention /convert`);
      const established = crd.status?.conditions?.find((c) => c.type === "Established");
      assert.equal(established?.status, "True");
      const structural = crd.status?.conditions?.find((c) => c.type === "NonStructuralSchema");
      assert.equal(structural, undefined, `${name} has a structural schema`);
    }
    const mysql = await ext.readCustomResourceDefinition({ name: "mysqlclusters.moco.cybozu.com" });
    assert.deepEqual(mysql.spec.versions[0]?.subresources?.status, {});
  });
});

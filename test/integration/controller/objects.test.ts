// The MySQLCluster reconciler against a real kube-apiserver + kube-controller-manager:
// the objects a cluster yields (names, labels, owner references, key fields), no writes
// when nothing changed, spec changes propagate to exactly the objects they concern, user
// edits of owned fields are reverted while fields left to users are kept, backup
// objects follow backupPolicyName, volumeClaimTemplates changes re-create the StatefulSet.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import type { RunningController } from "../../../src/controller/main.ts";
import { STATUS_WRITERS, STATUS_WRITES_REFUSED } from "../../../src/metrics/index.ts";
import { SYS_NS, clusterManifest, eventually, getJson, listOwnedKinds, scrape, startHarness, waitIdle, type Harness, type Json, type ObjectSummary } from "../../env/controller-harness.ts";

const NS = "objects";
const NAME = "db";
const LABELS = { "app.kubernetes.io/created-by": "moco", "app.kubernetes.io/instance": NAME, "app.kubernetes.io/name": "mysql" };

interface Obj {
  kind?: string;
  metadata: {
    name: string; uid: string; resourceVersion: string;
    labels?: Record<string, string>; annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
    finalizers?: string[]; generation?: number;
  };
  spec?: Json;
  data?: Record<string, string>;
  status?: Json;
}

function byKind(list: ObjectSummary[]): Map<string, ObjectSummary> {
  return new Map(list.map((o) => [`${o.kind}/${o.name}`, o]));
}

describe("MySQLCluster reconciler: objects", { timeout: 300_000 }, () => {
  let h: Harness;
  let ctl: RunningController;
  let cluster: Obj;

  before(async () => {
    h = await startHarness();
    await h.kubectl(["create", "namespace", NS]);
    await h.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "mycnf", namespace: NS }, data: { max_connections: "500" } });
    await h.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "backup-owner", namespace: NS } });
    await h.apply({
      apiVersion: "moco.cybozu.com/v1beta2", kind: "BackupPolicy", metadata: { name: "daily", namespace: NS },
      spec: { schedule: "@daily", jobConfig: { serviceAccountName: "backup-owner", bucketConfig: { bucketName: "b" }, workVolume: { emptyDir: {} } } },
    });
    ctl = await h.startController();
    await h.apply(clusterManifest(NS, NAME, { mysqlConfigMapName: "mycnf" }));
    await eventually("the StatefulSet", () => h.kubectl(["get", "sts", "-n", NS, `moco-${NAME}`]).then(() => true));
    await waitIdle(ctl);
    cluster = await getJson<Obj>(h, ["mysqlcluster", "-n", NS, NAME]);
  });
  after(async () => {
    await h?.stop();
  });

  it("creates exactly the expected objects, each labelled and owned by the cluster", async () => {
    const objs = await listOwnedKinds(h, NS);
    const names = objs.map((o) => `${o.kind}/${o.name}`).filter((n) => n !== "ConfigMap/mycnf" && n !== "ServiceAccount/backup-owner");
    const mycnf = names.filter((n) => n.startsWith(`ConfigMap/moco-${NAME}.`));
    const slow = names.filter((n) => n.startsWith(`ConfigMap/moco-slow-log-agent-config-${NAME}.`));
    assert.equal(mycnf.length, 1, `one my.cnf ConfigMap: ${names.join(" ")}`);
    assert.deepEqual(slow, [`ConfigMap/moco-slow-log-agent-config-${NAME}.13246250`]);
    assert.deepEqual(names.filter((n) => !mycnf.includes(n) && !slow.includes(n)).sort(), [
      `PodDisruptionBudget/moco-${NAME}`,
      `Secret/moco-${NAME}`,
      `Secret/moco-${NAME}-grpc`,
      `Secret/moco-my-cnf-${NAME}`,
      `Service/moco-${NAME}`,
      `Service/moco-${NAME}-primary`,
      `Service/moco-${NAME}-replica`,
      `ServiceAccount/moco-${NAME}`,
      `StatefulSet/moco-${NAME}`,
    ].sort());
    for (const n of names) {
      const [kind, name] = n.split("/") as [string, string];
      const o = await getJson<Obj>(h, [kind.toLowerCase(), "-n", NS, name]);
      for (const [k, v] of Object.entries(LABELS)) assert.equal(o.metadata.labels?.[k], v, `${n} label ${k}`);
      assert.deepEqual(o.metadata.ownerReferences, [{
        apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", name: NAME, uid: cluster.metadata.uid, controller: true, blockOwnerDeletion: true,
      }], `${n} owner reference`);
    }
  });

  it("the controller Secret in the controller namespace is the source of the passwords", async () => {
    const sys = await getJson<Obj>(h, ["secret", "-n", SYS_NS, `mysql-${NS}.${NAME}`]);
    assert.equal(sys.metadata.annotations?.["moco.cybozu.com/secret-version"], "1");
    assert.equal(sys.metadata.labels?.["app.kubernetes.io/instance-namespace"], NS);
    assert.equal(sys.metadata.ownerReferences, undefined);
    const user = await getJson<Obj>(h, ["secret", "-n", NS, `moco-${NAME}`]);
    assert.deepEqual(user.data, sys.data);
    assert.equal(Object.keys(sys.data ?? {}).length, 8);
    for (const v of Object.values(sys.data ?? {})) assert.match(Buffer.from(v, "base64").toString(), /^[0-9a-f]{32}$/);
    const mycnf = await getJson<Obj>(h, ["secret", "-n", NS, `moco-my-cnf-${NAME}`]);
    const admin = Buffer.from(mycnf.data?.["moco-admin-my.cnf"] ?? "", "base64").toString();
    const pw = Buffer.from(sys.data?.["ADMIN_PASSWORD"] ?? "", "base64").toString();
    assert.equal(admin, `[client]\nuser="moco-admin"\npassword="${pw}"\n`);
  });

  it("issues the agent certificate into moco-<name>-grpc, signed by the controller CA", async () => {
    const grpc = await getJson<Obj>(h, ["secret", "-n", NS, `moco-${NAME}-grpc`]);
    const ca = await getJson<Obj>(h, ["secret", "-n", SYS_NS, "moco-grpc-ca"]);
    const dec = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString();
    assert.equal(dec(grpc.data?.["ca.crt"]), dec(ca.data?.["ca.crt"]));
    const leaf = new X509Certificate(dec(grpc.data?.["tls.crt"]));
    assert.ok(leaf.verify(new X509Certificate(dec(ca.data?.["ca.crt"])).publicKey), "signed by the CA");
    assert.equal(leaf.subjectAltName, `DNS:*.moco-${NAME}.${NS}.svc`);
    assert.ok(leaf.checkHost(`moco-${NAME}-0.moco-${NAME}.${NS}.svc`));
    assert.ok(leaf.keyUsage?.includes("1.3.6.1.5.5.7.3.1"), "server auth");
    // The key matches the certificate (a TLS context accepts the pair).
    tls.createSecureContext({ cert: dec(grpc.data?.["tls.crt"]), key: dec(grpc.data?.["tls.key"]) });
  });

  it("the StatefulSet, Services, PDB and ConfigMap carry the key fields", async () => {
    const sts = await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`]);
    const spec = sts.spec as { replicas: number; serviceName: string; podManagementPolicy: string; updateStrategy: { rollingUpdate?: { partition?: number } }; template: { spec: { serviceAccountName: string; containers: { name: string }[]; initContainers: { name: string }[]; volumes: { name: string; configMap?: { name: string } }[] } }; volumeClaimTemplates: { metadata: { name: string } }[] };
    assert.equal(spec.replicas, 3);
    assert.equal(spec.serviceName, `moco-${NAME}`);
    assert.equal(spec.podManagementPolicy, "Parallel");
    // The webhook set partition = replicas; the partition controller then walks it down
    // (all Pods were created at the update revision, so each step is "ready").
    assert.equal(typeof spec.updateStrategy.rollingUpdate?.partition, "number", "the webhook set a partition");
    assert.equal(spec.template.spec.serviceAccountName, `moco-${NAME}`);
    assert.deepEqual(spec.template.spec.containers.map((c) => c.name), ["mysqld", "agent", "slow-log"]);
    assert.deepEqual(spec.template.spec.initContainers.map((c) => c.name), ["moco-init"]);
    const conf = spec.template.spec.volumes.find((v) => v.name === "mysql-conf");
    assert.match(conf?.configMap?.name ?? "", new RegExp(`^moco-${NAME}\\.[0-9a-f]{8}$`));
    const cm = await getJson<Obj>(h, ["configmap", "-n", NS, conf?.configMap?.name ?? ""]);
    assert.match(cm.data?.["my.cnf"] ?? "", /max_connections = 500/);
    assert.deepEqual(spec.volumeClaimTemplates.map((t) => t.metadata.name), ["mysql-data"]);
    const headless = await getJson<Obj>(h, ["svc", "-n", NS, `moco-${NAME}`]);
    assert.equal((headless.spec as { clusterIP: string }).clusterIP, "None");
    const primary = await getJson<Obj>(h, ["svc", "-n", NS, `moco-${NAME}-primary`]);
    assert.equal((primary.spec as { selector: Record<string, string> }).selector["moco.cybozu.com/role"], "primary");
    const pdb = await getJson<Obj>(h, ["pdb", "-n", NS, `moco-${NAME}`]);
    assert.equal((pdb.spec as { maxUnavailable: number }).maxUnavailable, 1);
  });

  it("the partition controller walks the partition down with PartitionUpdate events", async () => {
    await eventually("partition 0", async () =>
      ((await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`])).spec as { updateStrategy: { rollingUpdate?: { partition?: number } } }).updateStrategy.rollingUpdate?.partition === 0);
    const ev = await getJson<{ items: { reason: string; message: string; involvedObject: { kind: string }; source?: { component?: string } }[] }>(h, ["events", "-n", NS, "--field-selector", "reason=PartitionUpdate"]);
    assert.ok(ev.items.length > 0);
    assert.equal(ev.items[0]?.involvedObject.kind, "StatefulSet");
    assert.match(ev.items[0]?.message ?? "", /^Updated partition from \d+ to \d+$/);
    assert.equal(ev.items[0]?.source?.component, "moco-controller");
    assert.ok((await scrape(ctl, "moco_cluster_last_partition_updated", { name: NAME, namespace: NS }) ?? 0) > 1.7e9);
    assert.equal(typeof await scrape(ctl, "moco_cluster_updated_replicas", { name: NAME, namespace: NS }), "number");
  });

  it("writes status: reconcileInfo and the reconciler's conditions", async () => {
    const c = await getJson<Obj>(h, ["mysqlcluster", "-n", NS, NAME]);
    const st = c.status as { reconcileInfo: { generation: number; reconcileVersion: number }; conditions: { type: string; status: string; reason: string }[] };
    assert.deepEqual(st.reconcileInfo, { generation: c.metadata.generation, reconcileVersion: 1 });
    const cond = (t: string) => st.conditions.find((x) => x.type === t);
    assert.equal(cond("ReconcileSuccess")?.status, "True");
    assert.equal(cond("ReconciliationActive")?.status, "True");
    assert.equal(cond("StatefulSetReady")?.status, "False", "no kubelet: Pods stay Pending");
    assert.ok(c.metadata.finalizers?.includes("moco.cybozu.com/mysqlcluster"));
    assert.equal(await scrape(ctl, "moco_cluster_reconciliation_stopped", { name: NAME, namespace: NS }), 0);
    assert.equal(await scrape(ctl, "moco_cluster_clustering_stopped", { name: NAME, namespace: NS }), 0);
    assert.ok((await scrape(ctl, "moco_cluster_checks_total", { name: NAME, namespace: NS }) ?? 0) >= 1, "the clustering manager runs");
  });

  it("sends nothing when nothing changed (re-reconcile after an unrelated metadata change)", async () => {
    const before = await listOwnedKinds(h, NS);
    const stats = { ...(ctl.leaderState()?.reconciler.stats ?? { applies: -1 }) };
    const start = ctl.leaderState()?.clusterRunner.reconciles ?? 0;
    await h.kubectl(["annotate", "mysqlcluster", "-n", NS, NAME, "example.com/touch=1"]);
    await eventually("a reconcile", async () => (ctl.leaderState()?.clusterRunner.reconciles ?? 0) > start, 10_000);
    await waitIdle(ctl);
    assert.equal(ctl.leaderState()?.reconciler.stats.applies, stats.applies, "no server-side apply was sent");
    assert.deepEqual(await listOwnedKinds(h, NS), before);
  });

  it("a spec change updates the objects it concerns and nothing else", async () => {
    const before = byKind(await listOwnedKinds(h, NS));
    await h.kubectl(["patch", "mysqlcluster", "-n", NS, NAME, "--type=merge", "-p", JSON.stringify({ spec: { replicas: 5 } })]);
    await eventually("StatefulSet replicas 5", async () => ((await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`])).spec as { replicas: number }).replicas === 5);
    await waitIdle(ctl);
    const pdb = await getJson<Obj>(h, ["pdb", "-n", NS, `moco-${NAME}`]);
    assert.equal((pdb.spec as { maxUnavailable: number }).maxUnavailable, 2);
    const after = byKind(await listOwnedKinds(h, NS));
    const changed = [...after.keys()].filter((k) => before.get(k)?.resourceVersion !== after.get(k)?.resourceVersion).sort();
    assert.deepEqual(changed, [`PodDisruptionBudget/moco-${NAME}`, `StatefulSet/moco-${NAME}`]);
  });

  it("a change of the user ConfigMap yields a new my.cnf ConfigMap and a StatefulSet pointing at it", async () => {
    const stsBefore = await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`]);
    const oldName = (stsBefore.spec as { template: { spec: { volumes: { name: string; configMap?: { name: string } }[] } } }).template.spec.volumes.find((v) => v.name === "mysql-conf")?.configMap?.name;
    await h.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "mycnf", namespace: NS }, data: { max_connections: "600" } });
    const newName = await eventually("the StatefulSet to use a new my.cnf", async () => {
      const sts = await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`]);
      const n = (sts.spec as { template: { spec: { volumes: { name: string; configMap?: { name: string } }[] } } }).template.spec.volumes.find((v) => v.name === "mysql-conf")?.configMap?.name;
      return n !== oldName ? n : undefined;
    });
    const cm = await getJson<Obj>(h, ["configmap", "-n", NS, newName ?? ""]);
    assert.match(cm.data?.["my.cnf"] ?? "", /max_connections = 600/);
    await getJson<Obj>(h, ["configmap", "-n", NS, oldName ?? ""]); // kept: history limit 10
  });

  it("reverts a user's edit of an owned field and keeps a field the spec leaves to users", async () => {
    const svc = `moco-${NAME}-primary`;
    await h.kubectl(["patch", "svc", "-n", NS, svc, "--type=merge", "-p", JSON.stringify({
      metadata: { labels: { "team.example.com/owner": "dba", "app.kubernetes.io/instance": "hijacked" }, annotations: { "example.com/note": "mine" } },
    })]);
    await eventually("the owned label to be restored", async () =>
      (await getJson<Obj>(h, ["svc", "-n", NS, svc])).metadata.labels?.["app.kubernetes.io/instance"] === NAME);
    await waitIdle(ctl);
    const s = await getJson<Obj>(h, ["svc", "-n", NS, svc]);
    assert.equal(s.metadata.labels?.["team.example.com/owner"], "dba");
    assert.equal(s.metadata.annotations?.["example.com/note"], "mine");
    // A Secret's data is owned: an edit is reverted.
    await h.kubectl(["patch", "secret", "-n", NS, `moco-${NAME}`, "--type=merge", "-p", JSON.stringify({ data: { ADMIN_PASSWORD: Buffer.from("x").toString("base64") } })]);
    const sys = await getJson<Obj>(h, ["secret", "-n", SYS_NS, `mysql-${NS}.${NAME}`]);
    await eventually("the password to be restored", async () =>
      (await getJson<Obj>(h, ["secret", "-n", NS, `moco-${NAME}`])).data?.["ADMIN_PASSWORD"] === sys.data?.["ADMIN_PASSWORD"]);
    // StatefulSet: a mutable field the controller owns (the Pod template's ServiceAccount) is
    // reverted; an annotation the user adds is kept. The patch itself must succeed: the API
    // server answers with the patched object.
    const saPath = "{.spec.template.spec.serviceAccountName}";
    const patched = await h.kubectl(["patch", "sts", "-n", NS, `moco-${NAME}`, "--type=merge", "-o", `jsonpath=${saPath}`, "-p", JSON.stringify({ spec: { template: { spec: { serviceAccountName: "hijacked" } } } })]);
    assert.equal(patched.trim(), "hijacked");
    await h.kubectl(["patch", "sts", "-n", NS, `moco-${NAME}`, "--type=merge", "-p", JSON.stringify({ metadata: { annotations: { "example.com/keep": "yes" } } })]);
    await eventually("the owned ServiceAccount name to be restored", async () =>
      (await h.kubectl(["get", "sts", "-n", NS, `moco-${NAME}`, "-o", `jsonpath=${saPath}`])).trim() === `moco-${NAME}`);
    await waitIdle(ctl);
    const sts = await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`]);
    assert.equal(sts.metadata.annotations?.["example.com/keep"], "yes");
    assert.equal((sts.spec as { template: { spec: { serviceAccountName: string } } }).template.spec.serviceAccountName, `moco-${NAME}`);
  });

  it("backup objects follow spec.backupPolicyName", async () => {
    await h.kubectl(["patch", "mysqlcluster", "-n", NS, NAME, "--type=merge", "-p", JSON.stringify({ spec: { backupPolicyName: "daily" } })]);
    await eventually("the backup CronJob", () => h.kubectl(["get", "cronjob", "-n", NS, `moco-backup-${NAME}`]).then(() => true));
    await waitIdle(ctl);
    const cj = await getJson<Obj>(h, ["cronjob", "-n", NS, `moco-backup-${NAME}`]);
    assert.equal((cj.spec as { schedule: string }).schedule, "@daily");
    assert.equal(cj.metadata.labels?.["app.kubernetes.io/name"], "mysql-backup");
    const rb = await getJson<{ subjects: { name: string }[]; roleRef: { name: string } }>(h, ["rolebinding", "-n", NS, `moco-backup-${NAME}`]);
    assert.deepEqual(rb.subjects.map((s) => s.name), ["backup-owner"]);
    assert.equal(rb.roleRef.name, `moco-backup-${NAME}`);
    // The policy's schedule is watched.
    await h.kubectl(["patch", "backuppolicy", "-n", NS, "daily", "--type=merge", "-p", JSON.stringify({ spec: { schedule: "@hourly" } })]);
    await eventually("the new schedule", async () => ((await getJson<Obj>(h, ["cronjob", "-n", NS, `moco-backup-${NAME}`])).spec as { schedule: string }).schedule === "@hourly");
    await h.kubectl(["patch", "mysqlcluster", "-n", NS, NAME, "--type=json", "-p", JSON.stringify([{ op: "remove", path: "/spec/backupPolicyName" }])]);
    await eventually("the backup objects to be deleted", async () => {
      const out = await h.kubectl(["get", "cronjob,role,rolebinding", "-n", NS, "-o", "name"]);
      return out.trim() === "";
    });
  });

  it("a volumeClaimTemplates change re-creates the StatefulSet (orphan) and counts it", async () => {
    const before = await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`]);
    const c = await getJson<Obj>(h, ["mysqlcluster", "-n", NS, NAME]);
    const vct = structuredClone((c.spec as { volumeClaimTemplates: Json[] }).volumeClaimTemplates);
    ((vct[0] as { metadata: Json }).metadata)["labels"] = { tier: "db" };
    await h.kubectl(["patch", "mysqlcluster", "-n", NS, NAME, "--type=merge", "-p", JSON.stringify({ spec: { volumeClaimTemplates: vct } })]);
    const after = await eventually("a new StatefulSet", async () => {
      const s = await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`]);
      return s.metadata.uid !== before.metadata.uid ? s : undefined;
    });
    const t = (after.spec as { volumeClaimTemplates: { metadata: { labels?: Record<string, string> } }[] }).volumeClaimTemplates[0];
    assert.equal(t?.metadata.labels?.["tier"], "db");
    assert.equal(await scrape(ctl, "moco_cluster_statefulset_recreate_total", { name: NAME, namespace: NS }), 1);
    await waitIdle(ctl);
  });

  it("offline deletes the PDB and scales the StatefulSet to 0", async () => {
    await h.kubectl(["patch", "mysqlcluster", "-n", NS, NAME, "--type=merge", "-p", JSON.stringify({ spec: { offline: true } })]);
    await eventually("the PDB to be deleted", async () => (await h.kubectl(["get", "pdb", "-n", NS, "-o", "name"])).trim() === "");
    const sts = await getJson<Obj>(h, ["sts", "-n", NS, `moco-${NAME}`]);
    assert.equal((sts.spec as { replicas: number }).replicas, 0);
  });

  it("a clusterIP pinned in a service template is honoured; an unpinned one is left to the API server (issue 18)", async () => {
    const ns = "pinned";
    // 10.0.0.10 lies in the static band of the /24 service range, which allocation avoids.
    const pinned = "10.0.0.10";
    await h.kubectl(["create", "namespace", ns]);
    await h.apply(clusterManifest(ns, NAME, { primaryServiceTemplate: { spec: { clusterIP: pinned } } }));
    const primary = await eventually("the primary Service", () => getJson<Obj>(h, ["svc", "-n", ns, `moco-${NAME}-primary`]).catch(() => undefined));
    assert.equal((primary.spec as { clusterIP: string }).clusterIP, pinned);
    assert.deepEqual((primary.spec as { clusterIPs: string[] }).clusterIPs, [pinned]);
    const replica = await eventually("the replica Service", () => getJson<Obj>(h, ["svc", "-n", ns, `moco-${NAME}-replica`]).catch(() => undefined));
    const allocated = (replica.spec as { clusterIP: string }).clusterIP;
    assert.match(allocated, /^10\.0\.0\.\d+$/, "the API server allocated an address");
    await waitIdle(ctl);
    // The controller owns the pinned field, and not the allocated one: nothing to contend over.
    const owned = (o: Obj) => JSON.stringify(((o.metadata as { managedFields?: { manager: string; fieldsV1?: unknown }[] }).managedFields ?? [])
      .filter((m) => m.manager === "moco-controller").map((m) => m.fieldsV1));
    const withFields = (name: string) => getJson<Obj>(h, ["svc", "-n", ns, name, "--show-managed-fields"]);
    assert.match(owned(await withFields(`moco-${NAME}-primary`)), /"f:clusterIP"/);
    assert.match(owned(await withFields(`moco-${NAME}-replica`)), /"f:selector"/, "the replica Service's fields are read");
    assert.doesNotMatch(owned(await withFields(`moco-${NAME}-replica`)), /"f:clusterIP"/);
    // A re-reconcile sends nothing and leaves both addresses as they are.
    const services = (await listOwnedKinds(h, ns)).filter((o) => o.kind === "Service");
    const applies = ctl.leaderState()?.reconciler.stats.applies;
    const start = ctl.leaderState()?.clusterRunner.reconciles ?? 0;
    await h.kubectl(["annotate", "mysqlcluster", "-n", ns, NAME, "example.com/touch=1"]);
    await eventually("a reconcile", async () => (ctl.leaderState()?.clusterRunner.reconciles ?? 0) > start, 10_000);
    await waitIdle(ctl);
    assert.equal(ctl.leaderState()?.reconciler.stats.applies, applies, "no server-side apply was sent");
    assert.deepEqual((await listOwnedKinds(h, ns)).filter((o) => o.kind === "Service"), services);
    assert.equal(((await getJson<Obj>(h, ["svc", "-n", ns, `moco-${NAME}-replica`])).spec as { clusterIP: string }).clusterIP, allocated);
  });

  it("no status write was refused by the API server (issue 19)", async () => {
    for (const writer of STATUS_WRITERS) assert.equal(await scrape(ctl, STATUS_WRITES_REFUSED, { writer }), 0, writer);
  });
});

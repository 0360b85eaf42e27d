// The controller's RBAC is what it uses, no more, no less. A real kube-apiserver writes
// its audit log; moco-controller runs (in this process) as the chart's ServiceAccount,
// with a token and exactly the chart's rendered RBAC (helm template), serving the chart's
// webhook configurations (pointed at it by URL: no kube-proxy here) and injecting their
// caBundle. A lifecycle drives it: leader election, caBundle injection, BackupPolicy,
// MySQLCluster create / scale up / offline / spec update / PVC label sync / StatefulSet re-create /
// backup removal / restore / delete. Then the (group, resource, verb) triples of the
// ServiceAccount's requests are compared with the rendered rules (test/env/rbac-audit.ts:
// nothing refused or ungranted; nothing granted unused unless the backup/restore Roles need
// it or UNREACHED says why). The e2e audit (test/e2e/zz-rbac-audit.test.ts) compares the
// same rules with the whole e2e run on the real node; this file reaches what the e2e files
// do not (its UNREACHED list names them): PVC label sync and resize, volume expansion
// through the webhook, the password rotation's Secret update, my.cnf pruning, StatefulSet
// re-creation, offline and backup-policy removal (PDB, CronJob, Role, RoleBinding deletes).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { CONTROLLER_SERVICE_ACCOUNT, controllerUser, helmTemplate } from "../../env/helm.ts";
import { readAuditLog, startControlPlane, waitCrdsEstablished, type ControlPlane } from "../../env/kube.ts";
import { eventually } from "../../env/eventually.ts";
import { freePort } from "../../env/procs.ts";
import { assertRbacAudit, auditRbac, expandRules, type PolicyRule } from "../../env/rbac-audit.ts";
import { documentsBySource } from "../../../scripts/render-deploy.ts";
import { startController, type RunningController } from "../../../src/controller/main.ts";
import { ANNOTATION_ROTATE_PASSWORD, ROTATION_STATE_ANNOTATION } from "../../../src/controller/password-rotation.ts";
import { pino } from "pino";

const SYS = "moco-system";
const NS = "rbac";
const SA_USER = controllerUser(SYS);

type Obj = { kind: string; metadata: { name: string; namespace?: string }; rules?: PolicyRule[]; webhooks?: { clientConfig: Record<string, unknown> }[] };

/** Granted triples this lifecycle cannot reach, each with why (and where it is exercised). */
const UNREACHED: Record<string, string> = {
  "/pods patch": "role labels on the mysqld Pods: the clustering pass patches them only once mysqld runs (no kubelet here; the e2e and real-node tests run it)",
  "moco.cybozu.com/mysqlclusters/finalizers update": "the OwnerReferencesPermissionEnforcement admission plugin (not enabled on this API server) checks it for blockOwnerDeletion owner references",
};

describe("the controller's RBAC (chart) matches the API calls it makes (audit log)", () => {
  let cp: ControlPlane;
  let ctl: RunningController | undefined;
  let granted: Set<string>;
  let templates: Map<string, string[]>;
  const docs = (file: string): Obj[] => (templates.get(file) ?? []).map((d) => YAML.parse(d) as Obj).filter((o) => o !== null);
  const kubectl = (args: string[], input?: string) => cp.kubectl(args, input);
  const applyJson = (obj: unknown) => kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], JSON.stringify(obj));
  const vct = (team: string, storage: string, storageClassName?: string) => [{
    metadata: { name: "mysql-data", labels: { team } },
    spec: { ...(storageClassName === undefined ? {} : { storageClassName }), accessModes: ["ReadWriteOnce"], resources: { requests: { storage } } },
  }];
  const cluster = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name, namespace: NS },
    spec: {
      replicas: 3,
      podTemplate: { spec: { containers: [{ name: "mysqld", image: "ghcr.io/cybozu-go/moco/mysql:8.4.6" }] } },
      volumeClaimTemplates: vct("a", "1Gi", "expandable"),
      ...spec,
    },
  });

  before(async () => {
    cp = await startControlPlane({ controllerManager: true, audit: true });
    templates = documentsBySource(helmTemplate({ namespace: SYS }));
    await kubectl(["create", "namespace", SYS]);
    await kubectl(["create", "namespace", NS]);
    for (const f of ["crds/moco.cybozu.com_mysqlclusters.yaml", "crds/moco.cybozu.com_backuppolicies.yaml", "rbac.yaml"]) {
      assert.ok(templates.has(f), `the chart renders ${f}`);
      await kubectl(["apply", "--server-side", "-f", "-"], (templates.get(f) ?? []).join("---\n"));
    }
    await waitCrdsEstablished(cp, ["mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com"]);
    const rbac = docs("rbac.yaml");
    granted = expandRules(rbac.filter((o) => o.kind === "ClusterRole" || o.kind === "Role").flatMap((o) => o.rules ?? []));
    // The webhook configurations, pointed at the controller's webhook server by URL.
    const port = await freePort();
    for (const o of docs("webhook-configurations.yaml")) {
      for (const w of o.webhooks ?? []) {
        const svc = w.clientConfig["service"] as { path: string };
        w.clientConfig = { url: `https://127.0.0.1:${port}${svc.path}` };
      }
      await applyJson(o);
    }
    // The ServiceAccount's token, and a kubeconfig with nothing else.
    const token = (await kubectl(["-n", SYS, "create", "token", CONTROLLER_SERVICE_ACCOUNT, "--duration=2h"])).trim();
    const kubeconfig = path.join(cp.dir, "controller.kubeconfig");
    fs.writeFileSync(kubeconfig, YAML.stringify({
      apiVersion: "v1", kind: "Config", "current-context": "sa",
      clusters: [{ name: "c", cluster: { server: cp.server, "certificate-authority-data": fs.readFileSync(cp.ca.cert).toString("base64") } }],
      users: [{ name: "sa", user: { token } }],
      contexts: [{ name: "sa", context: { cluster: "c", user: "sa" } }],
    }), { mode: 0o600 });
    const certDir = path.join(cp.dir, "empty-cert-dir");
    fs.mkdirSync(certDir);
    ctl = await startController({
      kubeconfig, namespace: SYS, metricsAddr: "127.0.0.1:0", healthProbeAddr: "127.0.0.1:0",
      webhookAddr: `127.0.0.1:${port}`, certDir, injectWebhookCaBundle: true, leaseDurationMs: 4_000,
      pvcSyncLabelKeys: ["team"], configMapHistoryLimit: 1, processMetrics: false,
      logger: pino({ level: "info", base: undefined }, pino.destination({ dest: path.join(cp.dir, "controller.log"), sync: false })),
      manager: { fetchAttempts: 1, fetchRetryGapMs: 100, connectTimeoutMs: 500 },
    });
  });
  after(async () => {
    await ctl?.stop().catch(() => undefined);
    await cp?.stop();
  });

  it("drives a lifecycle as the ServiceAccount, then compares the audit log with the rules", async () => {
    const c = ctl;
    assert.ok(c !== undefined);
    await eventually("leadership", async () => c.isLeader(), 60_000);
    await eventually("the caBundle injected into both configurations", async () => {
      const out = await kubectl(["get", "mutatingwebhookconfiguration,validatingwebhookconfiguration", "-o", "jsonpath={range .items[*]}{.webhooks[0].clientConfig.caBundle}{\"\\n\"}{end}"]);
      const lines = out.split("\n").filter((l) => l !== "");
      return lines.length === 2 && lines.every((l) => l.length > 100);
    }, 60_000);
    // Through the webhooks (served by the controller, trusted through the injected caBundle).
    await applyJson({
      apiVersion: "moco.cybozu.com/v1beta2", kind: "BackupPolicy", metadata: { name: "daily", namespace: NS },
      spec: { schedule: "@daily", jobConfig: { serviceAccountName: "backup-owner", bucketConfig: { bucketName: "b" }, workVolume: { emptyDir: {} } } },
    });
    await kubectl(["apply", "-f", "-"], JSON.stringify({
      apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: "expandable", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "example.com/none", allowVolumeExpansion: true, volumeBindingMode: "WaitForFirstConsumer",
    }));
    // The cluster first: its ConfigMap is not in the cache yet, so the controller GETs it (404).
    await applyJson(cluster("db", { backupPolicyName: "daily", mysqlConfigMapName: "mycnf" }));
    await eventually("the controller to GET the ConfigMap", async () => readAuditLog(cp.auditLog ?? "").some((e) => e.user.username === SA_USER && e.verb === "get" && e.objectRef?.resource === "configmaps" && e.objectRef.name === "mycnf"), 60_000);
    await kubectl(["-n", NS, "create", "configmap", "mycnf", "--from-literal=max_connections=100"]);
    await eventually("the StatefulSet, CronJob and PDB", () => kubectl(["-n", NS, "get", "sts/moco-db", "cronjob/moco-backup-db", "pdb/moco-db"]).then(() => true), 60_000);
    await eventually("the PVCs from the StatefulSet controller", async () => (await kubectl(["-n", NS, "get", "pvc", "-o", "name"])).split("\n").filter((l) => l !== "").length === 3, 60_000);
    // A my.cnf change: a new ConfigMap, the old one pruned (--mysql-configmap-history-limit 1).
    const mycnfs = async () => (await kubectl(["-n", NS, "get", "configmap", "-o", "name"])).split("\n").filter((l) => l.includes("moco-db."));
    const before = await mycnfs();
    await kubectl(["-n", NS, "patch", "configmap", "mycnf", "--type=merge", "-p", '{"data":{"max_connections":"200"}}']);
    await eventually("the old my.cnf ConfigMap pruned", async () => { const now = await mycnfs(); return now.length === 1 && !before.includes(now[0] ?? ""); }, 60_000);
    // A volume expansion: the webhook reads the named StorageClass (get).
    await applyJson(cluster("db", { backupPolicyName: "daily", mysqlConfigMapName: "mycnf", volumeClaimTemplates: vct("a", "2Gi", "expandable") }));
    // PVC label sync (--pvc-sync-label-keys team) and the StatefulSet re-created (template metadata changed).
    await applyJson(cluster("db", { backupPolicyName: "daily", mysqlConfigMapName: "mycnf", volumeClaimTemplates: vct("b", "2Gi", "expandable") }));
    await eventually("the PVC labels synced", async () => (await kubectl(["-n", NS, "get", "pvc", "-l", "team=b", "-o", "name"])).split("\n").filter((l) => l !== "").length === 3, 60_000);
    // A password rotation request: its first step stores the new passwords in the controller
    // Secret (an update guarded by its resourceVersion) before any MySQL is asked.
    await kubectl(["-n", NS, "annotate", "mysqlcluster", "db", `${ANNOTATION_ROTATE_PASSWORD}=audit-1`]);
    await eventually("the rotation state on the controller Secret", async () => (await kubectl(["-n", SYS, "get", "secret", `mysql-${NS}.db`, "-o", "jsonpath={.metadata.annotations}"])).includes(ROTATION_STATE_ANNOTATION), 60_000);
    // Scale up to 5, then take it offline (the PDB goes) and drop the backup policy (CronJob, Role, RoleBinding go).
    await applyJson(cluster("db", { replicas: 5, backupPolicyName: "daily", mysqlConfigMapName: "mycnf", volumeClaimTemplates: vct("b", "2Gi", "expandable") }));
    await eventually("the StatefulSet scaled to 5", async () => (await kubectl(["-n", NS, "get", "sts/moco-db", "-o", "jsonpath={.spec.replicas}"])) === "5", 60_000);
    await applyJson(cluster("db", { replicas: 5, offline: true, mysqlConfigMapName: "mycnf", volumeClaimTemplates: vct("b", "2Gi", "expandable") }));
    await eventually("the PDB and the backup objects removed", async () => (await kubectl(["-n", NS, "get", "pdb,cronjob,role,rolebinding", "-o", "name"])).trim() === "", 60_000);
    // A restore: Role, RoleBinding and the Job.
    const restoredSpec = (storage: string) => ({
      replicas: 1, volumeClaimTemplates: vct("a", storage),
      restore: { sourceName: "db", sourceNamespace: NS, restorePoint: "2025-01-15T03:00:00Z", jobConfig: { serviceAccountName: "restore-owner", bucketConfig: { bucketName: "b" }, workVolume: { emptyDir: {} } } },
    });
    await applyJson(cluster("restored", restoredSpec("1Gi")));
    await eventually("the restore Job", () => kubectl(["-n", NS, "get", "job/moco-restore-restored", "role/moco-restore-restored"]).then(() => true), 60_000);
    // A volume expansion of a template without storageClassName: the webhook lists the classes for the default.
    await applyJson(cluster("restored", restoredSpec("2Gi")));
    // Delete both clusters: the finalizer removes the controller Secrets, then the objects go.
    await kubectl(["-n", NS, "delete", "mysqlcluster", "db", "restored", "--wait=false"]);
    await eventually("the clusters gone", async () => (await kubectl(["-n", NS, "get", "mysqlcluster", "-o", "name"])).trim() === "", 60_000);
    await eventually("the controller Secrets gone", async () => !(await kubectl(["-n", SYS, "get", "secret", "-o", "name"])).includes("mysql-rbac."), 30_000);
    // Leadership released on stop (the Lease update).
    await c.stop();
    ctl = undefined;

    const summary = assertRbacAudit(auditRbac(readAuditLog(cp.auditLog ?? ""), SA_USER, granted, UNREACHED));
    process.stdout.write(`# ServiceAccount ${summary}\n`);
  });
});

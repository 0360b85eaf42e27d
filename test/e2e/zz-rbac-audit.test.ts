// The controller's RBAC against the API calls it made during the whole e2e run. The real
// node's kube-apiserver writes an audit log of the requests of moco-controller's
// ServiceAccount only (sandbox/realnode/node.ts nodeAuditLog, Metadata level; both
// controller replicas are this one user). The e2e files run in sorted order on one node
// (test/run.sh), so this file, named to sort last, reads the log the others produced: the
// (group, resource, verb) triples used are compared with the rules of every Role and
// ClusterRole bound to the ServiceAccount on the node (test/env/rbac-audit.ts): a refused
// request or a used triple no rule grants fails, and so does a granted triple nothing used,
// unless the backup/restore Roles need it (escalation) or UNREACHED gives the reason.
// Run alone (without the other e2e files before it on the same node) it fails: the verbs of
// backups, restores, scaling and deletion are then unused.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { CONTROLLER_SERVICE_ACCOUNT, controllerUser, DEFAULT_NAMESPACE } from "../env/helm.ts";
import { readAuditLog } from "../env/kube.ts";
import { assertRbacAudit, auditRbac, expandRules, type PolicyRule } from "../env/rbac-audit.ts";
import { AUDIT_LOG_MAX_MB, nodeAuditLog } from "../../sandbox/realnode/node.ts";
import { attachE2E, type E2E } from "./harness.ts";

const USER = controllerUser();
const SA = { kind: "ServiceAccount", name: CONTROLLER_SERVICE_ACCOUNT, namespace: DEFAULT_NAMESPACE };

/**
 * Granted triples the e2e files do not reach, each with why. Every one but the first is
 * reached by the integration audit's lifecycle (test/integration/chart/rbac-audit.test.ts,
 * the controller with the same rules on a real API server), which is why that file stays.
 */
const INTEGRATION = "reached in test/integration/chart/rbac-audit.test.ts";
const UNREACHED: Record<string, string> = {
  "moco.cybozu.com/mysqlclusters/finalizers update": "checked only by the OwnerReferencesPermissionEnforcement admission plugin (not enabled on the node's API server) for blockOwnerDeletion owner references: no request has this verb; not reached anywhere",
  "/configmaps get": `a ConfigMap of spec.mysqlConfigMapName missing from the informer cache is read directly: the e2e files create it before the cluster names it (a cache lag can still make the read); ${INTEGRATION}`,
  "/configmaps delete": `my.cnf ConfigMaps beyond --mysql-configmap-history-limit (10) are pruned: no e2e file changes a cluster's my.cnf that often; ${INTEGRATION} (limit 1)`,
  "/persistentvolumeclaims get": `PVC label sync (--pvc-sync-label-keys, not set by the e2e install) and PVC resize (local-path cannot expand volumes: no e2e file grows one); ${INTEGRATION}`,
  "/persistentvolumeclaims list": `as persistentvolumeclaims get; ${INTEGRATION}`,
  "/persistentvolumeclaims update": `as persistentvolumeclaims get; ${INTEGRATION}`,
  "storage.k8s.io/storageclasses get": `the admission webhook reads the StorageClass of a growing volumeClaimTemplate (list for the default class), as does the PVC resize: no e2e file grows a volume; ${INTEGRATION}`,
  "storage.k8s.io/storageclasses list": `as storageclasses get; ${INTEGRATION}`,
  "/secrets update": `an existing Secret is updated when a certificate is re-issued (renewal 30 days before the end of 365, or a CA rollover) or by a password rotation: neither happens on the node (a create racing a lagging cache falls back to an update); ${INTEGRATION}`,
  "apps/statefulsets delete": `the StatefulSet is re-created (orphan delete, then read until gone) only when its volumeClaimTemplates change: no e2e file changes them; ${INTEGRATION}`,
  "apps/statefulsets get": `as statefulsets delete; ${INTEGRATION}`,
  "policy/poddisruptionbudgets delete": `the PDB goes when a cluster goes offline or below 3 instances: the e2e files only scale up and delete clusters (the garbage collector removes their objects); ${INTEGRATION}`,
  "batch/cronjobs delete": `the backup objects go when spec.backupPolicyName is removed from a live cluster: the e2e files delete the cluster instead; ${INTEGRATION}`,
  "rbac.authorization.k8s.io/roles delete": `as cronjobs delete; ${INTEGRATION}`,
  "rbac.authorization.k8s.io/rolebindings delete": `as cronjobs delete; ${INTEGRATION}`,
};

interface Binding { roleRef: { kind: string; name: string }; subjects?: { kind: string; name: string; namespace?: string }[]; metadata: { namespace?: string } }

/** The rules of every Role and ClusterRole bound to the controller's ServiceAccount on the node. */
async function boundRules(env: E2E): Promise<PolicyRule[]> {
  const list = async <T>(args: string[]) => (JSON.parse(await env.kubectl([...args, "-o", "json"])) as { items: T[] }).items;
  const bindings = [...await list<Binding>(["get", "clusterrolebindings"]), ...await list<Binding>(["get", "rolebindings", "-A"])]
    .filter((b) => (b.subjects ?? []).some((s) => s.kind === SA.kind && s.name === SA.name && s.namespace === SA.namespace));
  assert.ok(bindings.length > 0, `no binding names the ServiceAccount ${SA.namespace}/${SA.name}: is moco-ts installed?`);
  const rules: PolicyRule[] = [];
  for (const b of bindings) {
    const ns = b.roleRef.kind === "Role" ? ["-n", b.metadata.namespace ?? ""] : [];
    const role = JSON.parse(await env.kubectl(["get", b.roleRef.kind.toLowerCase(), b.roleRef.name, ...ns, "-o", "json"])) as { rules?: PolicyRule[] };
    rules.push(...(role.rules ?? []));
  }
  return rules;
}

describe("the controller's RBAC matches its API calls during the e2e run (the real node's audit log)", () => {
  it("every granted verb was used (or is listed with a reason) and every used one is granted", async () => {
    const env = attachE2E();
    const file = nodeAuditLog(env.layout);
    assert.ok(fs.existsSync(file), `${file} is missing: the real node's kube-apiserver writes it from its start`);
    const rotated = fs.readdirSync(path.dirname(file)).filter((f) => /^audit-.+\.log$/.test(f));
    assert.deepEqual(rotated, [], `the audit log was rotated (over ${AUDIT_LOG_MAX_MB} MB), requests of the run are missing: run the e2e files on a fresh node`);
    const granted = expandRules(await boundRules(env));
    const audit = auditRbac(readAuditLog(file), USER, granted, UNREACHED);
    const summary = assertRbacAudit(audit, "; run this file after the other e2e files on the same node (bash test/run.sh e2e)");
    process.stdout.write(`# ${USER}: ${summary}; audit log ${(fs.statSync(file).size / 1e6).toFixed(1)} MB\n`);
  });
});

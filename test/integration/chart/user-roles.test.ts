// The chart's user roles on a real kube-apiserver + kube-controller-manager (whose
// ClusterRole aggregation controller does the work): a user bound only to the built-in
// `edit` role in a namespace manages MySQLClusters and BackupPolicies there, one bound to
// `view` reads them, and neither reaches other namespaces. Before the chart's roles are
// applied the same `edit` user is refused (so the check can fail).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { helmTemplate } from "../../env/helm.ts";
import { startControlPlane, waitCrdsEstablished, type ControlPlane } from "../../env/kube.ts";
import { eventually } from "../../env/eventually.ts";
import { documentsBySource } from "../../../scripts/render-deploy.ts";
import { mysqlClusterManifest } from "../../../sandbox/cluster-manifest.ts";

const ns = "team";
const other = "elsewhere";

describe("aggregated MySQLCluster/BackupPolicy roles of the chart", () => {
  let cp: ControlPlane;
  let templates: Map<string, string[]>;
  /** A SubjectAccessReview: may `user` do `verb` on `resource` (group.moco.cybozu.com or core) in `namespace`? */
  const canI = async (user: string, verb: string, resource: string, namespace: string, subresource?: string): Promise<boolean> => {
    const [plural, ...group] = resource.split(".");
    const review = {
      apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview",
      spec: { user, resourceAttributes: { namespace, verb, group: group.join("."), resource: plural, ...(subresource === undefined ? {} : { subresource }) } },
    };
    const out = await cp.kubectl(["create", "-f", "-", "-o", "jsonpath={.status.allowed}"], JSON.stringify(review));
    assert.ok(out === "true" || out === "false", `SubjectAccessReview answered ${JSON.stringify(out)}`);
    return out === "true";
  };
  const apply = (file: string) => cp.kubectl(["apply", "--server-side", "-f", "-"], (templates.get(file) ?? []).join("---\n"));

  before(async () => {
    cp = await startControlPlane();
    templates = documentsBySource(helmTemplate());
    for (const n of [ns, other]) await cp.kubectl(["create", "namespace", n]);
    await cp.kubectl(["-n", ns, "create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice"]);
    await cp.kubectl(["-n", ns, "create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob"]);
    await apply("crds/moco.cybozu.com_mysqlclusters.yaml");
    await apply("crds/moco.cybozu.com_backuppolicies.yaml");
    await waitCrdsEstablished(cp, ["mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com"]);
  });
  after(async () => { await cp?.stop(); });

  it("without the chart's roles, edit does not cover MySQLClusters", async () => {
    assert.equal(await canI("alice", "create", "mysqlclusters.moco.cybozu.com", ns), false);
    assert.equal(await canI("bob", "get", "mysqlclusters.moco.cybozu.com", ns), false);
  });

  it("with them, an edit user manages MySQLClusters and BackupPolicies in its namespace only", async () => {
    assert.ok(templates.has("user-roles.yaml"), "the chart renders user-roles.yaml");
    await apply("user-roles.yaml");
    await eventually("edit aggregates the MySQLCluster editor role", async () => (await canI("alice", "create", "mysqlclusters.moco.cybozu.com", ns)) ? true : undefined, 60_000);
    for (const verb of ["create", "get", "list", "watch", "update", "patch", "delete"]) {
      assert.equal(await canI("alice", verb, "mysqlclusters.moco.cybozu.com", ns), true, `alice ${verb} mysqlclusters`);
      assert.equal(await canI("alice", verb, "backuppolicies.moco.cybozu.com", ns), true, `alice ${verb} backuppolicies`);
      assert.equal(await canI("alice", verb, "mysqlclusters.moco.cybozu.com", other), false, `alice ${verb} mysqlclusters elsewhere`);
    }
    // As the user, for real (no webhooks are installed here, so only RBAC and the schema decide).
    await cp.kubectl(["apply", "-f", "-", "--as", "alice"], mysqlClusterManifest({ name: "db", namespace: ns, replicas: 3 }));
    assert.equal(await cp.kubectl(["-n", ns, "get", "mysqlcluster", "db", "-o", "jsonpath={.spec.replicas}", "--as", "alice"]), "3");
    await assert.rejects(cp.kubectl(["apply", "-f", "-", "--as", "alice"], mysqlClusterManifest({ name: "db", namespace: other, replicas: 1 })), /forbidden/i);
    await cp.kubectl(["-n", ns, "delete", "mysqlcluster", "db", "--as", "alice"]);
  });

  it("a view user reads them but cannot change them", async () => {
    await eventually("view aggregates the MySQLCluster viewer role", async () => (await canI("bob", "get", "mysqlclusters.moco.cybozu.com", ns)) ? true : undefined, 60_000);
    for (const resource of ["mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com"]) {
      for (const verb of ["get", "list", "watch"]) assert.equal(await canI("bob", verb, resource, ns), true, `bob ${verb} ${resource}`);
      for (const verb of ["create", "update", "patch", "delete"]) assert.equal(await canI("bob", verb, resource, ns), false, `bob ${verb} ${resource}`);
    }
    assert.equal(await canI("bob", "get", "mysqlclusters.moco.cybozu.com", ns, "status"), true);
    assert.equal(await canI("bob", "update", "mysqlclusters.moco.cybozu.com", ns, "status"), false);
    assert.equal(await canI("bob", "get", "mysqlclusters.moco.cybozu.com", other), false);
  });
});

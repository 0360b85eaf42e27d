// `helm install`, `helm upgrade` and `helm uninstall` of charts/moco-ts against a real
// kube-apiserver (no node: the controller Pods are not run here; the e2e tests run them).
// Shows that the API server accepts every object of the chart, that an upgrade changes
// the controller Deployment as the values say, and that uninstalling keeps the CRDs.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chartDir, runHelm } from "../../env/helm.ts";
import { startControlPlane, waitCrdsEstablished, type ControlPlane } from "../../env/kube.ts";
import { eventually } from "../../env/eventually.ts";

const ns = "moco-system";
const crds = ["mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com"];

describe("helm install / upgrade / uninstall of charts/moco-ts", () => {
  let cp: ControlPlane;
  const helm = (args: string[], values?: Record<string, unknown>) => runHelm([...args, "--kubeconfig", cp.kubeconfig], values);
  const deploymentField = (jsonpath: string) => cp.kubectl(["-n", ns, "get", "deployment", "moco-controller", "-o", `jsonpath=${jsonpath}`]);

  before(async () => { cp = await startControlPlane({ controllerManager: false }); });
  after(async () => { await cp?.stop(); });

  it("installs every object of the chart", async () => {
    helm(["install", "moco", chartDir, "--namespace", ns, "--create-namespace"]);
    assert.match(helm(["status", "moco", "--namespace", ns]), /STATUS: deployed/);
    await waitCrdsEstablished(cp, crds);
    assert.equal(await deploymentField("{.spec.replicas}"), "2");
    assert.equal(await deploymentField("{.spec.template.spec.containers[0].name}"), "moco-controller");
    for (const [kind, name] of [
      ["clusterrole", "moco-manager-role"], ["clusterrole", "moco-mysqlcluster-editor-role"], ["clusterrolebinding", "moco-manager-rolebinding"],
      ["mutatingwebhookconfiguration", "moco-mutating-webhook-configuration"], ["validatingwebhookconfiguration", "moco-validating-webhook-configuration"],
      ["validatingadmissionpolicy", "moco-delete-validator"],
    ] as const) {
      assert.equal(await cp.kubectl(["get", kind, name, "-o", "jsonpath={.metadata.name}"]), name);
    }
    for (const [kind, name] of [["service", "moco-webhook-service"], ["serviceaccount", "moco-controller-manager"], ["pdb", "moco-controller"]] as const) {
      assert.equal(await cp.kubectl(["-n", ns, "get", kind, name, "-o", "jsonpath={.metadata.name}"]), name);
    }
  });

  it("upgrades the controller Deployment from new values", async () => {
    helm(["upgrade", "moco", chartDir, "--namespace", ns], { replicaCount: 3, extraArgs: ["--check-interval=30s"], podDisruptionBudget: { enabled: false } });
    assert.match(helm(["status", "moco", "--namespace", ns]), /REVISION: 2/);
    assert.equal(await deploymentField("{.spec.replicas}"), "3");
    const args = (await deploymentField("{.spec.template.spec.containers[0].args}"));
    assert.ok((JSON.parse(args) as string[]).at(-1) === "--check-interval=30s", `args end with the extra argument: ${args}`);
    await eventually("the PodDisruptionBudget is removed", async () =>
      (await cp.kubectl(["-n", ns, "get", "pdb", "-o", "name"])).trim() === "" ? true : undefined, 30_000);
  });

  it("uninstalls everything but the CRDs", async () => {
    helm(["uninstall", "moco", "--namespace", ns]);
    await eventually("the Deployment is gone", async () =>
      (await cp.kubectl(["-n", ns, "get", "deployment", "-o", "name"])).trim() === "" ? true : undefined, 30_000);
    assert.equal((await cp.kubectl(["get", "clusterrole", "-l", "app.kubernetes.io/name=moco", "-o", "name"])).trim(), "");
    assert.equal((await cp.kubectl(["get", "mutatingwebhookconfiguration", "-o", "name"])).trim(), "");
    assert.equal(await cp.kubectl(["get", "crd", ...crds, "-o", "jsonpath={.items[*].metadata.name}"]), crds.join(" "), "CRDs kept (helm.sh/resource-policy: keep)");
  });
});

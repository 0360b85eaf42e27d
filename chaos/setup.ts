// Brings what the campaign runs against: moco-ts installed from its Helm chart (helm template
// applied with kubectl, as the e2e harness does) and a 3-instance MySQLCluster, Healthy.
// Skips what is there already. (The node itself: `npm run sandbox`.)
import { helmTemplate } from "../test/env/helm.ts";
import { eventually } from "../test/env/eventually.ts";
import { mysqlClusterManifest } from "../sandbox/cluster-manifest.ts";
import { CONTROLLER_NS, clusterStatus, type Kube } from "./kube.ts";

export const CONTROLLER_REPLICAS = 2;

export async function installMoco(kube: Kube, values: Record<string, unknown>, log: (m: string) => void): Promise<void> {
  const have = await kube.kubectl(["-n", CONTROLLER_NS, "get", "deploy", "moco-controller", "--ignore-not-found", "-o", "name"]).catch(() => "");
  if (have.trim() !== "") { log("moco-ts: installed already"); return; }
  log(`moco-ts: installing the chart (${JSON.stringify(values)})`);
  await kube.kubectl(["create", "namespace", CONTROLLER_NS]).catch(() => "");
  await kube.kubectl(["apply", "--server-side", "-f", "-"], { input: helmTemplate({ values: { replicaCount: CONTROLLER_REPLICAS, ...values } }), timeoutS: 60 });
  await eventually("CRDs established", async () => {
    const out = await kube.kubectl(["get", "crd", "mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com", "-o",
      "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Established')].status}{end}"]);
    return out === "TrueTrue" ? true : undefined;
  }, 60_000, 1000);
  await eventually("moco-controller available", async () => {
    const out = await kube.kubectl(["-n", CONTROLLER_NS, "get", "deploy", "moco-controller", "-o", "jsonpath={.status.availableReplicas}"]);
    return Number(out) >= CONTROLLER_REPLICAS ? true : undefined;
  }, 300_000, 2000);
}

export async function ensureCluster(kube: Kube, namespace: string, name: string, log: (m: string) => void): Promise<void> {
  await kube.kubectl(["create", "namespace", namespace]).catch(() => "");
  const have = await kube.kubectl(["-n", namespace, "get", "mysqlcluster", name, "--ignore-not-found", "-o", "name"]);
  if (have.trim() === "") {
    log(`MySQLCluster ${namespace}/${name}: creating (3 instances)`);
    // The webhooks answer once the controller has injected their CA bundle.
    await eventually("the MySQLCluster accepted", () =>
      kube.kubectl(["apply", "-f", "-"], { input: mysqlClusterManifest({ name, namespace, replicas: 3, memory: "256Mi", terminationGracePeriodSeconds: 60 }) }), 180_000, 2000);
  }
  const t = Date.now();
  await eventually(`${namespace}/${name} Available and Healthy`, async () => {
    const s = await clusterStatus(kube, namespace, name).catch(() => undefined);
    return s?.available && s.healthy ? true : undefined;
  }, 900_000, 2000);
  log(`MySQLCluster ${namespace}/${name}: Healthy (${((Date.now() - t) / 1000).toFixed(0)} s)`);
}

export async function secretValue(kube: Kube, namespace: string, name: string, key: string): Promise<string> {
  const v = await kube.kubectl(["-n", namespace, "get", "secret", name, "-o", `jsonpath={.data.${key}}`]);
  if (!v) throw new Error(`secret ${namespace}/${name} has no ${key}`);
  return Buffer.from(v, "base64").toString("utf8");
}

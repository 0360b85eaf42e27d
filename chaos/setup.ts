// Brings what the campaign runs against: moco-ts installed from its Helm chart (helm template
// applied with kubectl, as the e2e harness does) and a 3-instance MySQLCluster, Healthy.
// Skips what is there already. (The node itself: `npm run sandbox`.)
import { helmTemplate } from "../test/env/helm.ts";
import { eventually } from "../test/env/eventually.ts";
import { mysqlClusterManifest } from "../sandbox/cluster-manifest.ts";
import YAML from "yaml";
import { helmUpgradeInstall, nodeChartValues } from "../sandbox/realnode/chart.ts";
import { CONTROLLER_NS, CONTROLLER_SELECTOR, clusterStatus, controllerLeader, type Kube } from "./kube.ts";

export const CONTROLLER_REPLICAS = 2;

/**
 * Installs moco-ts when missing. With `upgrade`, an installed moco-ts is changed to `values`
 * by `helm upgrade` (the sandbox's release) and this returns once every controller Pod runs
 * with the chart's `--check-interval` of `values` (the rollout done, a new Pod leading).
 */
export async function installMoco(kube: Kube, values: Record<string, unknown>, log: (m: string) => void, opts: { upgrade?: boolean } = {}): Promise<void> {
  const have = await kube.kubectl(["-n", CONTROLLER_NS, "get", "deploy", "moco-controller", "--ignore-not-found", "-o", "name"]).catch(() => "");
  if (have.trim() !== "" && opts.upgrade) { await upgradeMoco(kube, values, log); return; }
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

/** The `--check-interval=` argument the chart renders for `values` (undefined: none, the controller's 1m). */
export function chartCheckIntervalArg(values: Record<string, unknown>): string | undefined {
  const args = controllerArgs(helmTemplate({ values: { replicaCount: CONTROLLER_REPLICAS, ...values } }));
  return args.find((a) => a.startsWith("--check-interval="));
}

/** The moco-controller container's args in a rendered manifest or a Deployment/Pod's JSON. */
function controllerArgs(manifest: string): string[] {
  const docs = YAML.parseAllDocuments(manifest).map((d) => d.toJS() as { kind?: string; spec?: { template?: { spec?: PodSpec } } } | null);
  const dep = docs.find((d) => d?.kind === "Deployment" && d.spec?.template?.spec?.containers?.some((c) => c.name === "moco-controller"));
  return dep?.spec?.template?.spec?.containers?.find((c) => c.name === "moco-controller")?.args ?? [];
}

interface PodSpec { containers?: { name: string; args?: string[] }[] }

async function upgradeMoco(kube: Kube, values: Record<string, unknown>, log: (m: string) => void): Promise<void> {
  const want = chartCheckIntervalArg(values);
  log(`moco-ts: helm upgrade (${JSON.stringify(values)}; controller ${want ?? "without --check-interval (1m)"})`);
  helmUpgradeInstall(kube.kubeconfig, nodeChartValues({ replicaCount: CONTROLLER_REPLICAS, ...values }));
  const t = Date.now();
  await eventually("every moco-controller Pod runs the new flags and one of them leads", async () => {
    const pods = JSON.parse(await kube.kubectl(["-n", CONTROLLER_NS, "get", "pods", "-l", CONTROLLER_SELECTOR, "-o", "json"])) as {
      items: { metadata: { name: string; deletionTimestamp?: string }; spec: PodSpec; status?: { conditions?: { type: string; status: string }[] } }[];
    };
    const live = pods.items.filter((p) => !p.metadata.deletionTimestamp);
    if (live.length !== pods.items.length || live.length < CONTROLLER_REPLICAS) return undefined;
    const flagsOk = live.every((p) => {
      const args = p.spec.containers?.find((c) => c.name === "moco-controller")?.args ?? [];
      return args.find((a) => a.startsWith("--check-interval=")) === want;
    });
    const ready = live.every((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    const leader = await controllerLeader(kube);
    return flagsOk && ready && leader !== undefined && live.some((p) => p.metadata.name === leader) ? true : undefined;
  }, 300_000, 2000);
  log(`moco-ts: every controller Pod runs ${want ?? "the 1m default"} (${((Date.now() - t) / 1000).toFixed(0)} s)`);
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

// What the campaign asks the API server (kubectl with a request timeout: a stopped API server
// must not stall the writer or the sampler, which keep the last answer).
import { execFile } from "node:child_process";
import path from "node:path";
import { binDir } from "../test/env/procs.ts";
import { KubeClient } from "../src/k8s/client.ts";
import { loadKubeconfigFile } from "../src/k8s/kubeconfig.ts";
import { ANNOTATION_DEMOTE } from "../src/shared/names.ts";

export interface Kube {
  readonly kubeconfig: string;
  kubectl(args: string[], opts?: { input?: string; timeoutS?: number }): Promise<string>;
  /**
   * A GET through moco-ts's own client (one kept-alive connection): the reads the campaign
   * repeats every second per cluster (Pods, the MySQLCluster), where a kubectl process each
   * time cost more CPU than the faults' subjects on a 2-core machine.
   */
  get<T>(apiPath: string, query?: Record<string, string>, timeoutS?: number): Promise<T>;
}

export function kubeFor(kubeconfig: string): Kube {
  const bin = path.join(binDir, "kubectl");
  const client = new KubeClient(loadKubeconfigFile(kubeconfig), { qps: 0, userAgent: "moco-ts-chaos" });
  return {
    kubeconfig,
    get: (apiPath, query, timeoutS = 5) => client.request("GET", apiPath, { query, timeoutMs: timeoutS * 1000, signal: AbortSignal.timeout(timeoutS * 1000) }),
    kubectl: (args, opts = {}) => new Promise((resolve, reject) => {
      const t = opts.timeoutS ?? 10;
      const child = execFile(bin, ["--kubeconfig", kubeconfig, `--request-timeout=${t}s`, ...args],
        { encoding: "utf8", timeout: (t + 5) * 1000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
          if (err) reject(new Error(`kubectl ${args.join(" ")}: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        });
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    }),
  };
}

export interface PodInfo {
  name: string;
  ip: string | undefined;
  role: string | undefined;
  ready: boolean;
  deleting: boolean;
  /** Carries the demote annotation: a switchover asked for and not done yet (the controller removes it when done). */
  demoting: boolean;
}

interface PodJson {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
}

export function podInfo(p: PodJson): PodInfo {
  return {
    name: p.metadata.name,
    ip: p.status?.podIP,
    role: p.metadata.labels?.["moco.cybozu.com/role"],
    ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    deleting: p.metadata.deletionTimestamp !== undefined,
    demoting: p.metadata.annotations?.[ANNOTATION_DEMOTE] !== undefined,
  };
}

export async function listPods(kube: Kube, namespace: string, selector: string, timeoutS = 5): Promise<PodInfo[]> {
  const out = await kube.get<{ items: PodJson[] }>(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: selector }, timeoutS);
  return out.items.map(podInfo).sort((a, b) => a.name.localeCompare(b.name));
}

export const instanceSelector = (cluster: string) => `app.kubernetes.io/name=mysql,app.kubernetes.io/instance=${cluster}`;
export const CONTROLLER_NS = "moco-system";
export const CONTROLLER_SELECTOR = "app.kubernetes.io/component=moco-controller";

export interface ClusterStatus {
  available: boolean;
  healthy: boolean;
  currentPrimaryIndex: number | undefined;
  reason: string;
  /** `status.errantReplicas`: instances the controller reports errant (they stay so until re-initialised). */
  errantReplicas: number;
}

export async function clusterStatus(kube: Kube, namespace: string, cluster: string): Promise<ClusterStatus> {
  const c = await kube.get<{
    status?: { currentPrimaryIndex?: number; errantReplicas?: number; conditions?: { type: string; status: string; reason?: string }[] };
  }>(`/apis/moco.cybozu.com/v1beta2/namespaces/${namespace}/mysqlclusters/${cluster}`);
  const is = (t: string) => c.status?.conditions?.some((x) => x.type === t && x.status === "True") ?? false;
  return {
    available: is("Available"), healthy: is("Healthy"), currentPrimaryIndex: c.status?.currentPrimaryIndex,
    reason: c.status?.conditions?.find((x) => x.type === "Healthy")?.reason ?? "",
    errantReplicas: c.status?.errantReplicas ?? 0,
  };
}

/** The controller Pod holding the leader-election Lease `moco`. */
export async function controllerLeader(kube: Kube): Promise<string | undefined> {
  const holder = await kube.kubectl(["-n", CONTROLLER_NS, "get", "lease", "moco", "-o", "jsonpath={.spec.holderIdentity}"], { timeoutS: 5 });
  const pods = await listPods(kube, CONTROLLER_NS, CONTROLLER_SELECTOR);
  return pods.find((p) => holder.startsWith(`${p.name}_`))?.name;
}

/** What `kubectl moco switchover` does: the demote annotation on the primary Pod. */
export async function requestSwitchover(kube: Kube, namespace: string, primaryPod: string): Promise<void> {
  await kube.kubectl(["-n", namespace, "annotate", "pod", primaryPod, `${ANNOTATION_DEMOTE}=true`, "--overwrite"]);
}

/** The ordinals the MySQLCluster's status lists as errant replicas. */
export async function errantReplicas(kube: Kube, namespace: string, cluster: string): Promise<number[]> {
  const out = await kube.kubectl(["-n", namespace, "get", "mysqlcluster", cluster, "-o", "jsonpath={.status.errantReplicaList}"], { timeoutS: 5 });
  return out.trim() === "" ? [] : (JSON.parse(out) as number[]);
}

/** Re-initialises every instance the MySQLCluster's status lists as errant; their ordinals. */
export async function reinitialiseErrantInstances(kube: Kube, namespace: string, cluster: string): Promise<number[]> {
  const errant = await errantReplicas(kube, namespace, cluster);
  for (const i of errant) await reinitialiseInstance(kube, namespace, cluster, i);
  return errant;
}

/**
 * Re-initialises an instance by hand, as docs/reliability.md did for an errant old primary:
 * its data PVC and its Pod deleted, so the StatefulSet makes both again and the controller
 * clones the new instance from the primary.
 */
export async function reinitialiseInstance(kube: Kube, namespace: string, cluster: string, ordinal: number): Promise<void> {
  await kube.kubectl(["-n", namespace, "delete", "pvc", `mysql-data-moco-${cluster}-${ordinal}`, "--wait=false", "--ignore-not-found"]);
  await kube.kubectl(["-n", namespace, "delete", "pod", `moco-${cluster}-${ordinal}`, "--wait=false", "--ignore-not-found"]);
}

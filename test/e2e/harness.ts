// End-to-end environment: the real control plane, the sandbox node running real Pods,
// the moco-ts CRDs, webhooks and controller installed from the Helm chart (two controller
// replicas, as Pods of the sandbox like in a real cluster), and helpers to drive
// MySQLClusters and talk to their mysqld instances.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import mysql from "mysql2/promise";
import { helmTemplate } from "../env/helm.ts";
import { startControlPlane, type ControlPlane } from "../env/kube.ts";
import { cacheDir, makeTmpDir, repoRoot, sleep } from "../env/procs.ts";
import { eventually as pollUntil } from "../env/eventually.ts";
import { metricValue } from "../env/metrics-text.ts";
import { SandboxNode } from "../../sandbox/node.ts";
import { BRIDGE_IP, ensureBridge } from "../../sandbox/net.ts";
import { mysqlClusterManifest } from "../../sandbox/cluster-manifest.ts";

export interface E2E {
  cp: ControlPlane;
  node: SandboxNode;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  custom: k8s.CustomObjectsApi;
  kubectl(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export { sleep };

/** `eventually` with the longer defaults end-to-end steps need. */
export function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000, intervalMs = 500): Promise<T> {
  return pollUntil(what, probe, timeoutMs, intervalMs);
}

/**
 * Starts the environment. Files that may run at the same time as another e2e file
 * (during development) pass their own `addressBlocks`/`kubeletPort`; the test runner
 * itself runs e2e files one at a time.
 */
export async function startE2E(opts: { checkInterval?: string; addressBlocks?: [number, number]; kubeletPort?: number } = {}): Promise<E2E> {
  ensureBridge();
  const dataDir = makeTmpDir("e2e-");
  const cp = await startControlPlane({ bindAddress: BRIDGE_IP, volumeBinder: true });
  const port = Number(new URL(cp.server).port);
  const logFile = path.join(dataDir, "node.log");
  const node = new SandboxNode({
    kubeconfig: cp.kubeconfig, dataDir, apiserver: { host: BRIDGE_IP, port }, caCertFile: cp.ca.cert, caKeyFile: cp.ca.key,
    kubeletPort: opts.kubeletPort ?? 30250, addressBlocks: opts.addressBlocks ?? [101, 140],
    log: (m, e) => fs.appendFileSync(logFile, JSON.stringify({ t: new Date().toISOString(), m, ...e }) + "\n"),
  });
  await node.start();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  const env: E2E = {
    cp, node, kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    kubectl: cp.kubectl,
    async stop() {
      await node.stop();
      await cp.stop();
      if (!process.env.KEEP_E2E_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await installMoco(env, opts.checkInterval ?? "5s");
  } catch (e) {
    await env.stop();
    throw e;
  }
  return env;
}

/** Replicas of the controller Deployment (the chart's default, 2: leader election hands over). */
export const CONTROLLER_REPLICAS = 2;

async function installMoco(env: E2E, checkInterval: string): Promise<void> {
  // moco-ts from its Helm chart: `helm template` with the test's values, applied with kubectl
  // into the namespace that `helm install --create-namespace` would make.
  await env.kubectl(["apply", "--server-side", "-f", path.join(repoRoot, "deploy", "controller", "00-namespace.yaml")]);
  const manifests = helmTemplate({ values: { replicaCount: CONTROLLER_REPLICAS, checkInterval } });
  await env.kubectl(["apply", "--server-side", "-f", "-"], manifests);
  await eventually("CRDs established", async () => {
    const out = await env.kubectl(["get", "crd", "mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com", "-o",
      "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Established')].status}{end}"]);
    return out === "TrueTrue" ? true : undefined;
  }, 60_000);
  await eventually("moco-controller available", async () => {
    const out = await env.kubectl(["-n", "moco-system", "get", "deploy", "moco-controller", "-o", "jsonpath={.status.availableReplicas}"]);
    return Number(out) >= CONTROLLER_REPLICAS ? true : undefined;
  }, 180_000);
  await eventually("webhook CA injected", async () => {
    const out = await env.kubectl(["get", "mutatingwebhookconfiguration", "moco-mutating-webhook-configuration", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"]);
    return out.length > 0 ? true : undefined;
  }, 120_000);
}

/** Names of the controller Pods. */
export async function controllerPods(env: E2E): Promise<string[]> {
  const out = await env.kubectl(["-n", "moco-system", "get", "pods", "-l", "app.kubernetes.io/component=moco-controller", "-o", "jsonpath={.items[*].metadata.name}"]);
  return out.split(/\s+/).filter(Boolean);
}

/** The controller Pod holding the leader-election Lease `moco` (its identity is `<pod name>_<random>`). */
export async function controllerLeader(env: E2E): Promise<string | undefined> {
  const holder = await env.kubectl(["-n", "moco-system", "get", "lease", "moco", "-o", "jsonpath={.spec.holderIdentity}"]);
  return (await controllerPods(env)).find((p) => holder.startsWith(`${p}_`));
}

export function clusterManifest(name: string, namespace: string, replicas: number, extra: { image?: string; mysqlConfigMapName?: string } = {}): string {
  return mysqlClusterManifest({ name, namespace, replicas, memory: "256Mi", terminationGracePeriodSeconds: 60, ...extra });
}

export interface ClusterState {
  available?: string;
  healthy?: string;
  currentPrimaryIndex?: number;
  syncedReplicas?: number;
  errantReplicas?: number;
}

export async function clusterState(env: E2E, namespace: string, name: string): Promise<ClusterState> {
  const obj = await env.custom.getNamespacedCustomObject({ group: "moco.cybozu.com", version: "v1beta2", namespace, plural: "mysqlclusters", name }) as {
    status?: { conditions?: { type: string; status: string }[]; currentPrimaryIndex?: number; syncedReplicas?: number; errantReplicas?: number };
  };
  const cond = (t: string) => obj.status?.conditions?.find((c) => c.type === t)?.status;
  return {
    available: cond("Available"), healthy: cond("Healthy"), currentPrimaryIndex: obj.status?.currentPrimaryIndex,
    syncedReplicas: obj.status?.syncedReplicas, errantReplicas: obj.status?.errantReplicas,
  };
}

export async function waitHealthy(env: E2E, namespace: string, name: string, timeoutMs = 600_000): Promise<ClusterState> {
  return eventually(`${namespace}/${name} Available and Healthy`, async () => {
    const s = await clusterState(env, namespace, name);
    return s.available === "True" && s.healthy === "True" ? s : undefined;
  }, timeoutMs, 1000);
}

export async function clusterPassword(env: E2E, namespace: string, name: string, key: string): Promise<string> {
  const s = await env.core.readNamespacedSecret({ name: `moco-${name}`, namespace });
  const v = s.data?.[key];
  if (!v) throw new Error(`secret moco-${name} has no ${key}`);
  return Buffer.from(v, "base64").toString("utf8");
}

export async function podIP(env: E2E, namespace: string, pod: string): Promise<string> {
  const p = await env.core.readNamespacedPod({ name: pod, namespace });
  if (!p.status?.podIP) throw new Error(`pod ${namespace}/${pod} has no IP`);
  return p.status.podIP;
}

/** The Pod that the primary Service selects (role label), from the API. */
export async function primaryPod(env: E2E, namespace: string, name: string): Promise<k8s.V1Pod | undefined> {
  const pods = await env.core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${name},moco.cybozu.com/role=primary` });
  return pods.items.length === 1 ? pods.items[0] : undefined;
}

/** Addresses behind a Service, from its EndpointSlices (there is no kube-proxy). */
export async function serviceEndpoints(env: E2E, namespace: string, service: string): Promise<string[]> {
  const api = env.kc.makeApiClient(k8s.DiscoveryV1Api);
  const slices = await api.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
  return slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses));
}

/**
 * One series of the controllers' /metrics (port 8080 in deploy/controller), summed over
 * every running controller Pod (leader or not, so a series is not missed after a
 * leadership change); undefined when no Pod has it.
 */
export async function controllerMetric(env: E2E, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const pods = await env.core.listNamespacedPod({ namespace: "moco-system", labelSelector: "app.kubernetes.io/component=moco-controller" });
  const ips = pods.items.filter((p) => p.status?.phase === "Running" && p.status.podIP).map((p) => p.status?.podIP ?? "");
  if (ips.length === 0) throw new Error("no running moco-controller Pod");
  let sum: number | undefined;
  for (const ip of ips) {
    const res = await fetch(`http://${ip}:8080/metrics`);
    const v = metricValue(await res.text(), name, labels);
    if (v !== undefined) sum = (sum ?? 0) + v;
  }
  return sum;
}

export function connectMysql(host: string, user: string, password: string): Promise<mysql.Connection> {
  return mysql.createConnection({ host, port: 3306, user, password, connectTimeout: 3000 });
}

export function kubectlBinary(): string {
  return path.join(cacheDir, "bin", "kubectl");
}

export function runKubectlSync(env: E2E, args: string[]): string {
  return execFileSync(kubectlBinary(), ["--kubeconfig", env.cp.kubeconfig, ...args], { encoding: "utf8" });
}

/**
 * Inserts increasing ids through whichever Pod currently carries the primary role
 * label, recording every insert the server acknowledged. Errors (no primary,
 * read-only, connection lost) are retried after a short pause.
 */
export class AckedWriter {
  readonly acked: number[] = [];
  private next = 1;
  private started = false;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly env: E2E;
  private readonly namespace: string;
  private readonly cluster: string;
  private readonly password: string;
  lastError = "";

  constructor(env: E2E, namespace: string, cluster: string, writablePassword: string) {
    this.env = env;
    this.namespace = namespace;
    this.cluster = cluster;
    this.password = writablePassword;
  }

  async setup(): Promise<void> {
    const p = await primaryPod(this.env, this.namespace, this.cluster);
    if (!p?.status?.podIP) throw new Error("no primary");
    const c = await connectMysql(p.status.podIP, "moco-writable", this.password);
    await c.query("CREATE DATABASE IF NOT EXISTS e2e");
    await c.query("CREATE TABLE IF NOT EXISTS e2e.acked (id INT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))");
    await c.end();
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      let conn: mysql.Connection | undefined;
      while (this.running) {
        try {
          if (!conn) {
            const p = await primaryPod(this.env, this.namespace, this.cluster);
            if (!p?.status?.podIP) throw new Error("no primary");
            conn = await connectMysql(p.status.podIP, "moco-writable", this.password);
            if (!this.started) {
              // Continue after the ids of earlier writers on the same table.
              const [[row]] = await conn.query<mysql.RowDataPacket[]>("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM e2e.acked");
              this.next = Number(row!.n);
              this.started = true;
            }
          }
          const id = this.next;
          await conn.query("INSERT INTO e2e.acked (id) VALUES (?)", [id]);
          this.acked.push(id);
          this.next++;
        } catch (e) {
          this.lastError = (e as Error).message;
          // A failed insert may or may not have committed: never reuse its id.
          this.next++;
          try { await conn?.destroy(); } catch { /* ignore */ }
          conn = undefined;
          await sleep(200);
        }
      }
      try { await conn?.end(); } catch { /* ignore */ }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Ids acknowledged but missing on `host`. */
  async missingOn(host: string): Promise<number[]> {
    const c = await connectMysql(host, "moco-writable", this.password);
    const [rows] = await c.query<mysql.RowDataPacket[]>("SELECT id FROM e2e.acked");
    await c.end();
    const have = new Set(rows.map((r) => Number(r.id)));
    return this.acked.filter((id) => !have.has(id));
  }
}

/** Polls until some instance accepts a write, returning the elapsed ms since `since`. */
export async function timeUntilWritable(env: E2E, namespace: string, cluster: string, password: string, since: number, timeoutMs = 300_000): Promise<number> {
  await eventually("a writable primary", async () => {
    const p = await primaryPod(env, namespace, cluster);
    if (!p?.status?.podIP) return undefined;
    const c = await connectMysql(p.status.podIP, "moco-writable", password);
    try {
      const [[row]] = await c.query<mysql.RowDataPacket[]>("SELECT @@read_only AS ro");
      return Number(row!.ro) === 0 ? true : undefined;
    } finally { await c.end(); }
  }, timeoutMs, 100);
  return Date.now() - since;
}

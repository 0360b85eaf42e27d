// End-to-end environment: the real single-node Kubernetes (sandbox/realnode) that
// test/run.sh starts once for every e2e file (node MOCO_TS_E2E_NODE, default moco-ts-e2e)
// and runs the e2e files inside the network namespace of (so Pod and Service addresses are
// reachable, as from a machine of the cluster's network). startE2E attaches to it, installs
// moco-ts with `helm upgrade --install` of charts/moco-ts (two controller replicas, the
// images the node imported) and gives the file its own namespaces, deleted by stop().
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import * as k8s from "@kubernetes/client-node";
import mysql from "mysql2/promise";
import { DEFAULT_NAMESPACE } from "../env/helm.ts";
import { k8sBinary, kubectlFor } from "../env/kube.ts";
import { sleep } from "../env/procs.ts";
import { eventually as pollUntil } from "../env/eventually.ts";
import { metricValue } from "../env/metrics-text.ts";
import { helmUpgradeInstall, nodeChartValues } from "../../sandbox/realnode/chart.ts";
import { innerKubeconfigFile, nodeLayout, nodeNetnsFile } from "../../sandbox/realnode/node.ts";
import { paths, type NodeLayout } from "../../sandbox/realnode/config.ts";
import { nodeTasks } from "../../sandbox/realnode/faults.ts";
import { mysqlClusterManifest } from "../../sandbox/cluster-manifest.ts";
import { AckedWriter } from "../env/acked-writer.ts";
import { mysqlClientTlsOptions, type MysqlClientTls } from "../../src/mysql/tls.ts";

export interface E2E {
  /** The real node's layout (its directories, for faults and checks on the host). */
  layout: NodeLayout;
  /** kubeconfig reaching kube-apiserver from inside the node's network namespace. */
  kubeconfig: string;
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  custom: k8s.CustomObjectsApi;
  kubectl(args: string[], input?: string): Promise<string>;
  /** Deletes the file's namespaces (moco-ts and the node stay for the next file). */
  stop(): Promise<void>;
}

export { sleep };

/** `eventually` with the longer defaults end-to-end steps need. */
export function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000, intervalMs = 500): Promise<T> {
  return pollUntil(what, probe, timeoutMs, intervalMs);
}

/** The real node the e2e files share (test/run.sh starts it). */
export const E2E_NODE = process.env.MOCO_TS_E2E_NODE ?? "moco-ts-e2e";

/** Whether this process runs in the network namespace `file` (same nsfs inode). */
function inNetnsOf(file: string): boolean {
  try { return fs.statSync("/proc/self/ns/net").ino === fs.statSync(file).ino; } catch { return false; }
}

/**
 * Attaches to the shared real node as it is (no install; stop() deletes `namespaces`). Fails
 * (never skips) when not run inside the node's namespace.
 */
export function attachE2E(namespaces: string[] = []): E2E {
  const layout = nodeLayout(E2E_NODE);
  const kubeconfig = innerKubeconfigFile(layout);
  if (!fs.existsSync(kubeconfig) || !inNetnsOf(nodeNetnsFile(layout))) {
    throw new Error(`the e2e files run inside the network namespace of the real node ${E2E_NODE}, which test/run.sh starts: ` +
      "run them with `bash test/run.sh e2e [FILE...]`");
  }
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const kubectl = kubectlFor(kubeconfig);
  return {
    layout, kubeconfig, kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    kubectl,
    async stop() { if (!process.env.KEEP_E2E_NAMESPACES && namespaces.length > 0) await deleteNamespaces(kubectl, namespaces); },
  };
}

const deleteNamespaces = (kubectl: E2E["kubectl"], namespaces: string[]) =>
  kubectl(["delete", "namespace", ...namespaces, "--ignore-not-found", "--wait", "--timeout=600s"]);

/**
 * Attaches to the shared real node, installs (or upgrades) moco-ts on it (unless `moco` is
 * false: the node's own checks need no operator) and creates the file's `namespaces` afresh.
 * Fails (never skips) when not run inside the node's namespace.
 */
export async function startE2E(opts: { namespaces: string[]; checkInterval?: string; moco?: boolean }): Promise<E2E> {
  const env = attachE2E(opts.namespaces);
  if (opts.moco !== false) await installMoco(env, { checkInterval: opts.checkInterval ?? "5s" });
  // A namespace left by an interrupted earlier run goes first.
  await deleteNamespaces(env.kubectl, opts.namespaces);
  for (const ns of opts.namespaces) await env.core.createNamespace({ body: { metadata: { name: ns } } });
  return env;
}

/** Replicas of the controller Deployment (the chart's default, 2: leader election hands over). */
export const CONTROLLER_REPLICAS = 2;

/** The chart values of the e2e install: two replicas, the check interval, the node's images. */
export function mocoValues(extra: { checkInterval: string } & Record<string, unknown>): Record<string, unknown> {
  return nodeChartValues({ replicaCount: CONTROLLER_REPLICAS, ...extra });
}

/**
 * `helm upgrade --install` of charts/moco-ts as MOCO recommends (release moco, namespace
 * moco-system), then waits for the CRDs, the controller replicas and the webhooks' CA.
 * Returns helm's revision of the release.
 */
export async function installMoco(env: E2E, values: { checkInterval: string } & Record<string, unknown>): Promise<number> {
  const revision = helmUpgradeInstall(env.kubeconfig, mocoValues(values));
  await eventually("CRDs established", async () => {
    const out = await env.kubectl(["get", "crd", "mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com", "-o",
      "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Established')].status}{end}"]);
    return out === "TrueTrue" ? true : undefined;
  }, 60_000);
  await env.kubectl(["-n", DEFAULT_NAMESPACE, "rollout", "status", "deploy/moco-controller", "--timeout=300s"]);
  await eventually("moco-controller available", async () => {
    const out = await env.kubectl(["-n", DEFAULT_NAMESPACE, "get", "deploy", "moco-controller", "-o", "jsonpath={.status.availableReplicas}"]);
    return Number(out) >= CONTROLLER_REPLICAS ? true : undefined;
  }, 180_000);
  await eventually("webhook CA injected", async () => {
    const out = await env.kubectl(["get", "mutatingwebhookconfiguration", "moco-mutating-webhook-configuration", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"]);
    return out.length > 0 ? true : undefined;
  }, 120_000);
  return revision;
}

/** kill -9 of a container's main process, kept down for `holdMs` (a crash loop). */
export { killAndHold } from "../../sandbox/realnode/faults.ts";

/**
 * Gives an image the node imported another name in its containerd (a user pushing a new tag
 * of the same image): e.g. the MySQL 9.7.4 image under a second tag for a rolling update.
 */
export function tagNodeImage(env: E2E, from: string, to: string): void {
  execFileSync("ctr", ["--address", paths(env.layout).containerdSock, "-n", "k8s.io", "images", "tag", "--force", from, to], { stdio: "pipe" });
}

/** Whether a container (its id as in a Pod's containerStatuses, `containerd://…`) still has a process on the node. */
export function containerRuns(env: E2E, containerID: string): boolean {
  const id = containerID.replace(/^containerd:\/\//, "");
  return nodeTasks(env).some((t) => t.id === id && t.pid !== undefined);
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

/** A cluster manifest with extra lines right under `spec:` (fields the harness's manifest lacks). */
export function withSpec(manifest: string, extra: string): string {
  const at = manifest.indexOf("\nspec:\n");
  if (at < 0) throw new Error("the manifest has no spec");
  return manifest.slice(0, at + 7) + extra + manifest.slice(at + 7);
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

/** Addresses behind a Service, from its EndpointSlices. */
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

/** A session on port 3306 (or `port`); with `tls`, verified against its CA and server name (docs/tls.md). */
export function connectMysql(host: string, user: string, password: string, tls?: MysqlClientTls, port = 3306): Promise<mysql.Connection> {
  return mysql.createConnection({ ...mysqlClientTlsOptions(host, port, tls), user, password, connectTimeout: 3000 });
}

export function kubectlBinary(): string {
  return k8sBinary("kubectl");
}

export function runKubectlSync(env: E2E, args: string[]): string {
  return execFileSync(kubectlBinary(), ["--kubeconfig", env.kubeconfig, ...args], { encoding: "utf8" });
}

/**
 * Inserts increasing ids through whichever Pod currently carries the primary role
 * label, recording every insert the server acknowledged. Errors (no primary,
 * read-only, connection lost) are retried after a short pause; the primary is looked up
 * again only after one.
 */
export class E2eWriter extends AckedWriter {
  readonly #env: E2E;
  readonly #namespace: string;
  readonly #cluster: string;
  readonly #password: string;
  readonly #tls: ((pod: string) => MysqlClientTls) | undefined;

  /** `tls`: how to verify the Pod named (a cluster with spec.tls). */
  constructor(env: E2E, namespace: string, cluster: string, writablePassword: string, tls?: (pod: string) => MysqlClientTls) {
    super({
      target: async () => {
        const p = await primaryPod(env, namespace, cluster);
        const ip = p?.status?.podIP;
        const pod = p?.metadata?.name;
        return ip === undefined || pod === undefined ? null : { key: pod, connect: () => connectMysql(ip, "moco-writable", writablePassword, tls?.(pod)) };
      },
      targetOnReconnectOnly: true,
      insertSql: "INSERT INTO e2e.acked (id) VALUES (?)",
      retryPauseMs: 200,
      // Continue after the ids of earlier writers on the same table.
      firstId: async (conn) => {
        const [[row]] = await conn.query<mysql.RowDataPacket[]>("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM e2e.acked");
        return Number(row!.n);
      },
    });
    this.#env = env;
    this.#namespace = namespace;
    this.#cluster = cluster;
    this.#password = writablePassword;
    this.#tls = tls;
  }

  async setup(): Promise<void> {
    const p = await primaryPod(this.#env, this.#namespace, this.#cluster);
    if (!p?.status?.podIP || !p.metadata?.name) throw new Error("no primary");
    const c = await connectMysql(p.status.podIP, "moco-writable", this.#password, this.#tls?.(p.metadata.name));
    await c.query("CREATE DATABASE IF NOT EXISTS e2e");
    await c.query("CREATE TABLE IF NOT EXISTS e2e.acked (id INT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))");
    await c.end();
  }

  /** Ids acknowledged but missing on `host` (Pod `pod`, for TLS; `password`: moco-writable's now, after a rotation). */
  async missingOn(host: string, pod?: string, password = this.#password): Promise<number[]> {
    const c = await connectMysql(host, "moco-writable", password, pod === undefined ? undefined : this.#tls?.(pod));
    const [rows] = await c.query<mysql.RowDataPacket[]>("SELECT id FROM e2e.acked");
    await c.end();
    return this.missingFrom(new Set(rows.map((r) => Number(r.id))));
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

// A real control plane (etcd, kube-apiserver, kube-controller-manager for garbage
// collection and the StatefulSet controller; no kubelet, so Pods stay Pending) with the
// moco-ts CRDs and the admission webhooks (served by a webhook server in this process),
// plus helpers to run moco-controller in-process against it.
import fs from "node:fs";
import path from "node:path";
import { pino, type Logger } from "pino";
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from "./kube.ts";
import { ensureCa, ensureCert } from "./pki.ts";
import { buildWebhookConfigurations, startWebhookServer, type WebhookServer } from "../../src/controller/webhooks/index.ts";
import { webhookDependencies } from "../../src/controller/webhooks/k8s-deps.ts";
import { KubeClient } from "../../src/k8s/client.ts";
import { startController, type ControllerOptions, type RunningController } from "../../src/controller/main.ts";
import { eventually } from "./eventually.ts";
import { metricValue } from "./metrics-text.ts";
export { eventually };

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
export const SYS_NS = "moco-system";

export type Json = Record<string, unknown>;

export { sleep } from "./procs.ts";


export interface Harness {
  cp: ControlPlane;
  client: KubeClient;
  webhook: WebhookServer;
  kubectl(args: string[], input?: string): Promise<string>;
  apply(obj: unknown): Promise<void>;
  logFile: string;
  logger: Logger;
  /** Starts moco-controller in this process (metrics/health on ephemeral ports, no webhook server). */
  startController(extra?: Partial<ControllerOptions>): Promise<RunningController>;
  stop(): Promise<void>;
}

export async function startHarness(opts: Pick<ControlPlaneOptions, "apiserverFlags" | "audit"> = {}): Promise<Harness> {
  const cp = await startControlPlane({ controllerManager: true, ...(opts.apiserverFlags === undefined ? {} : { apiserverFlags: opts.apiserverFlags }), ...(opts.audit === undefined ? {} : { audit: opts.audit }) });
  let webhook: WebhookServer | undefined;
  const controllers: RunningController[] = [];
  try {
    const client = KubeClient.fromFile(cp.kubeconfig, { qps: 0 });
    const pki = path.join(cp.dir, "webhook-pki");
    const ca = ensureCa(pki, "moco-ts-webhook-ca");
    const cert = ensureCert(pki, "webhook", ca, { cn: "127.0.0.1", sans: ["127.0.0.1"], usage: "server" });
    webhook = await startWebhookServer({
      certFile: cert.cert, keyFile: cert.key, host: "127.0.0.1", port: 0,
      dependencies: webhookDependencies(client),
    });
    const apply = (obj: unknown) => cp.kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], JSON.stringify(obj)).then(() => undefined);
    await cp.kubectl(["apply", "--server-side", "-f", path.join(REPO_ROOT, "deploy", "crds")]);
    await eventually("the CRDs to be Established", () =>
      cp.kubectl(["wait", "--for=condition=Established", "crd/mysqlclusters.moco.cybozu.com", "crd/backuppolicies.moco.cybozu.com", "--timeout=60s"]).then(() => true));
    const { mutating, validating } = buildWebhookConfigurations({
      target: { url: webhook.url },
      caBundle: Buffer.from(fs.readFileSync(ca.cert, "utf8")).toString("base64"),
    });
    await apply(mutating);
    await apply(validating);
    await cp.kubectl(["create", "namespace", SYS_NS]);
    // Wait until the mutating webhook answers (it adds the finalizer).
    await cp.kubectl(["create", "namespace", "probe"]);
    await eventually("the admission webhooks", async () => {
      const out = await cp.kubectl(["create", "--dry-run=server", "-o", "json", "-f", "-"], JSON.stringify(clusterManifest("probe", "probe")));
      return (JSON.parse(out) as { metadata?: { finalizers?: string[] } }).metadata?.finalizers?.includes("moco.cybozu.com/mysqlcluster") === true;
    });
    const logFile = path.join(cp.dir, "controller.log");
    const logger = pino({ level: process.env["MOCO_TEST_LOG_LEVEL"] ?? "info", base: undefined }, pino.destination({ dest: logFile, sync: false, mkdir: true }));
    const h: Harness = {
      cp, client, webhook, logFile, logger,
      kubectl: (args, input) => cp.kubectl(args, input),
      apply,
      async startController(extra = {}) {
        const ctl = await startController({
          kubeconfig: cp.kubeconfig,
          namespace: SYS_NS,
          metricsAddr: "127.0.0.1:0",
          healthProbeAddr: "127.0.0.1:0",
          webhookAddr: "0",
          leaseDurationMs: 4_000,
          qps: 0,
          processMetrics: true,
          logger,
          manager: { fetchAttempts: 1, fetchRetryGapMs: 100, connectTimeoutMs: 500 },
          ...extra,
        });
        controllers.push(ctl);
        return ctl;
      },
      async stop() {
        for (const c of controllers) await c.stop().catch(() => undefined);
        await webhook?.close().catch(() => undefined);
        if (process.env["MOCO_KEEP_LOGS"] !== undefined) fs.copyFileSync(logFile, path.join(REPO_ROOT, ".cache", `controller-${Date.now()}.log`));
        await cp.stop();
      },
    };
    return h;
  } catch (e) {
    await webhook?.close().catch(() => undefined);
    await cp.stop();
    throw e;
  }
}

/** A minimal valid MySQLCluster manifest. */
export function clusterManifest(namespace: string, name: string, spec: Json = {}): Json {
  return {
    apiVersion: "moco.cybozu.com/v1beta2",
    kind: "MySQLCluster",
    metadata: { name, namespace },
    spec: {
      replicas: 3,
      podTemplate: { spec: { containers: [{ name: "mysqld", image: "ghcr.io/cybozu-go/moco/mysql:8.4.6" }] } },
      volumeClaimTemplates: [{ metadata: { name: "mysql-data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
      ...spec,
    },
  };
}

/** Waits until the controller's queues are empty and nothing is in flight for `quietMs`. */
export async function waitIdle(ctl: RunningController, quietMs = 1500, timeoutMs = 120_000): Promise<void> {
  await eventually("the controller to become leader", async () => ctl.isLeader(), 30_000);
  let since = Date.now();
  let lastCount = -1;
  await eventually("the controller to become idle", async () => {
    const s = ctl.leaderState();
    if (s === undefined) return false;
    const count = s.clusterRunner.reconciles;
    if (!s.clusterRunner.idle() || count !== lastCount) {
      lastCount = count;
      since = Date.now();
      return false;
    }
    return Date.now() - since >= quietMs;
  }, timeoutMs, 100);
}

export interface ObjectSummary {
  kind: string;
  name: string;
  uid: string;
  resourceVersion: string;
}

/** Every object of the kinds the controller writes in `ns` (+ the controller Secret in SYS_NS). */
export async function listOwnedKinds(h: Harness, ns: string): Promise<ObjectSummary[]> {
  const kinds = "statefulsets,services,secrets,serviceaccounts,configmaps,poddisruptionbudgets,cronjobs,jobs,roles,rolebindings";
  const out = JSON.parse(await h.kubectl(["get", kinds, "-n", ns, "-o", "json"])) as { items: { kind: string; metadata: { name: string; uid: string; resourceVersion: string } }[] };
  return out.items
    .filter((i) => !(i.kind === "ConfigMap" && i.metadata.name === "kube-root-ca.crt"))
    .filter((i) => !(i.kind === "ServiceAccount" && i.metadata.name === "default"))
    .map((i) => ({ kind: i.kind, name: i.metadata.name, uid: i.metadata.uid, resourceVersion: i.metadata.resourceVersion }))
    .sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
}

export async function getJson<T = Json>(h: Harness, args: string[]): Promise<T> {
  return JSON.parse(await h.kubectl(["get", ...args, "-o", "json"])) as T;
}

/** The value of one series from the controller's /metrics text. */
export async function scrape(ctl: RunningController, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const res = await fetch(`${ctl.metricsUrl ?? ""}/metrics`);
  return metricValue(await res.text(), name, labels);
}

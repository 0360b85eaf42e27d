// moco-controller: the controller process (docs/controller.md#flags). `startController(options)`
// runs it in-process (tests, the sandbox); running this file runs the CLI.
//
// Every replica serves the webhooks, /metrics and the health probes; only the leader
// (Lease `--leader-election-id` in POD_NAMESPACE) runs the informers, the MySQLCluster
// reconciler, the partition controller, the Pod watcher and the clustering managers.
import http from "node:http";
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { closeServer, guardedListener, listenOn, type GuardedHandler } from "../http/server.ts";
import { Command, Option } from "commander";
import { pino, type Logger } from "pino";
import type { MySQLCluster } from "../api/v1beta2/index.ts";
import { ClusterManager, DEFAULT_PRIMARY_WATCH_INTERVAL_MS } from "../clustering/manager.ts";
import type { ManagerOptions } from "../clustering/manager.ts";
import { KubeClient } from "../k8s/client.ts";
import { isNotFound } from "../k8s/errors.ts";
import { errorMessage } from "../util/errors.ts";
import { EventRecorder } from "../k8s/events.ts";
import { LeaderElector } from "../k8s/leader.ts";
import type { KubeObject } from "../k8s/types.ts";
import { ControllerMetrics } from "../metrics/index.ts";
import { tryParseGoDuration } from "../util/duration.ts";
import {
  DEFAULT_CONFIGMAP_HISTORY_LIMIT,
  DEFAULT_EXPORTER_IMAGE,
  DEFAULT_FLUENT_BIT_IMAGE,
  DEFAULT_MOCO_TS_IMAGE,
  LABEL_APP_INSTANCE,
  LABEL_INSTANCE_NAMESPACE,
  MOCO_TS_VERSION,
  mysqlTlsDnsNames,
  names,
  resolveBuilderOptions,
  tlsIssuedByController,
  tlsNames,
  type BuilderOptions,
} from "./builders/index.ts";
import { allInformers, createCaches, startCaches, stopCaches, type ControllerCaches } from "./caches.ts";
import { CertificateStore, DEFAULT_WEBHOOK_SERVICE_NAME } from "./cert-store.ts";
import { agentDnsNames } from "./certs.ts";
import { DEFAULT_CERT_LIFETIMES, certificateNotAfter, renewalCheckIntervalMs, validateLifetimes, type CertLifetimes } from "./cert-renewal.ts";
import { clusterPorts, clusteringLogger, clusteringMetrics } from "./clustering-adapter.ts";
import { MySQLClusterReconciler } from "./mysqlcluster.ts";
import { PartitionRateLimiter, controllerOf, podNudge, reconcilePartition } from "./partition.ts";
import { ControllerRunner } from "./runner.ts";
import { MUTATING_WEBHOOK_CONFIGURATION_NAME, VALIDATING_WEBHOOK_CONFIGURATION_NAME, startWebhookServer, type WebhookServer } from "./webhooks/index.ts";
import { webhookDependencies } from "./webhooks/k8s-deps.ts";
import { setTimeout as sleep } from "node:timers/promises";

export interface ControllerOptions {
  /** Path of a kubeconfig; default: in-cluster config, else $KUBECONFIG / ~/.kube/config. */
  readonly kubeconfig?: string | undefined;
  /** POD_NAMESPACE: the controller namespace (required). */
  readonly namespace: string;
  readonly agentImage?: string | undefined;
  readonly backupImage?: string | undefined;
  readonly fluentBitImage?: string | undefined;
  readonly exporterImage?: string | undefined;
  readonly pvcSyncLabelKeys?: readonly string[] | undefined;
  readonly pvcSyncAnnotationKeys?: readonly string[] | undefined;
  readonly configMapHistoryLimit?: number | undefined;
  readonly disableDefaultSecurityContext?: boolean | undefined;
  readonly omitJobResources?: boolean | undefined;
  /** --check-interval (default 1 min). */
  readonly checkIntervalMs?: number | undefined;
  /** --primary-watch-interval (default 500 ms; 0 disables the liveness watch of the primaries). */
  readonly primaryWatchIntervalMs?: number | undefined;
  /** --reclone-errant-former-primary (default true). */
  readonly recloneErrantFormerPrimary?: boolean | undefined;
  /** --max-concurrent-reconciles (default 8). */
  readonly maxConcurrentReconciles?: number | undefined;
  /** --partition-update-interval (default 0). */
  readonly partitionUpdateIntervalMs?: number | undefined;
  /** --leader-election-id (default "moco"). */
  readonly leaderElectionId?: string | undefined;
  /** This replica's identity in the Lease (default hostname_random). */
  readonly identity?: string | undefined;
  readonly leaseDurationMs?: number | undefined;
  /** --metrics-addr (default ":8080"; "0" disables). */
  readonly metricsAddr?: string | undefined;
  /** --health-probe-addr (default ":8081"; "0" disables). */
  readonly healthProbeAddr?: string | undefined;
  /** --webhook-addr (default ":9443"; "0" disables the webhook server). */
  readonly webhookAddr?: string | undefined;
  /** --cert-dir (default /tmp/k8s-webhook-server/serving-certs). */
  readonly certDir?: string | undefined;
  /**
   * Keep caBundle of the webhook configurations equal to the trusted CA bundle (the
   * controller CA's, or ca.crt of a mounted --cert-dir); configurations annotated for
   * cert-manager's CA injector are left alone.
   */
  readonly injectWebhookCaBundle?: boolean | undefined;
  /** --cert-validity / --cert-renew-before of the certificates the controller issues. */
  readonly certLifetimes?: CertLifetimes | undefined;
  /** How often certificates are checked (default: from certLifetimes, renewalCheckIntervalMs). */
  readonly certCheckIntervalMs?: number | undefined;
  readonly webhookServiceName?: string | undefined;
  /** --apiserver-qps-throttle (default DEFAULT_APISERVER_QPS). */
  readonly qps?: number | undefined;
  /** Replicas' SOURCE_HOST: Pod DNS name (default) or Pod IP. */
  readonly sourceHostMode?: "dns" | "pod-ip" | undefined;
  /** Agent clone API port (default 9080). */
  readonly agentPort?: number | undefined;
  /** Further clustering manager options (tests). */
  readonly manager?: Omit<ManagerOptions, "metrics" | "logger" | "checkIntervalMs"> | undefined;
  readonly logger?: Logger | undefined;
  /** Informer resync period (default 10 h). */
  readonly resyncPeriodMs?: number | undefined;
  readonly processMetrics?: boolean | undefined;
  /**
   * Called when leadership was lost and the leader's work has not ended within
   * leaseDuration − renewDeadline (the CLI ends the process; default: an error log).
   */
  readonly onWorkNotStopped?: (() => void) | undefined;
}

export interface RunningController {
  readonly metrics: ControllerMetrics;
  readonly client: KubeClient;
  /** http://host:port of /metrics (undefined when disabled). */
  readonly metricsUrl: string | undefined;
  readonly healthUrl: string | undefined;
  readonly webhook: WebhookServer | undefined;
  /** The CA bundle of the webhook serving certificate (PEM), when the controller issued it (at start). */
  readonly webhookCa: string | undefined;
  isLeader(): boolean;
  /** The current leader term's parts (undefined when not leading). */
  leaderState(): LeaderState | undefined;
  /**
   * Graceful stop: controllers, clustering loops (awaited), servers; releases the lease.
   * `webhookGraceMs`: the webhook server keeps answering (drained: no keep-alive) until that
   * long after the call, so that a request the API server sends to this Pod's address while
   * the Service's endpoints and kube-proxy's rules still name it is answered, not sent to an
   * address that is gone (a 10 s admission time-out, seen after every controller rollout on
   * the real node). Default 0.
   */
  stop(options?: { webhookGraceMs?: number }): Promise<void>;
}

export interface LeaderState {
  readonly caches: ControllerCaches;
  readonly reconciler: MySQLClusterReconciler;
  readonly clusterRunner: ControllerRunner;
  readonly partitionRunner: ControllerRunner;
  readonly manager: ClusterManager;
}

export const DEFAULT_CERT_DIR = "/tmp/k8s-webhook-server/serving-certs";

/** Parses "host:port" / ":port"; undefined for "0" or "" (disabled). */
export function parseListenAddr(addr: string): { host: string; port: number } | undefined {
  if (addr === "0" || addr === "") return undefined;
  const i = addr.lastIndexOf(":");
  if (i < 0) throw new Error(`invalid address ${JSON.stringify(addr)}: want host:port`);
  const host = addr.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port in ${JSON.stringify(addr)}`);
  return { host: host === "" ? "0.0.0.0" : host, port };
}

/** Parses `addr`, serves `handler` on it; undefined when the address disables the server. */
async function serveHttp(addr: string, handler: GuardedHandler, log: Logger): Promise<{ server: http.Server; url: string } | undefined> {
  const a = parseListenAddr(addr);
  if (a === undefined) return undefined;
  const server = http.createServer(guardedListener(handler, (e) => log.error({ err: errorMessage(e) }, "HTTP request failed")));
  const port = await listenOn(server, a.port, a.host);
  const host = a.host === "0.0.0.0" ? "127.0.0.1" : a.host;
  return { server, url: `http://${host.includes(":") ? `[${host}]` : host}:${port}` };
}

/**
 * --apiserver-qps-throttle's default (MOCO's is 20). A new cluster costs ~20 API requests; at
 * QPS 20, 1000 clusters took over 15 minutes, bound by the client's own limit (bench/controller-scale.ts,
 * docs/performance.md#controller-at-scale). The API server protects itself (API Priority
 * and Fairness); the client limit is a guard against a runaway loop, not the pace.
 */
export const DEFAULT_APISERVER_QPS = 500;

function makeClient(o: ControllerOptions): KubeClient {
  const qps = o.qps ?? DEFAULT_APISERVER_QPS;
  const opts = { qps, burst: Math.max(1, Math.floor(qps * 1.5)), userAgent: `moco-controller/${MOCO_TS_VERSION}` };
  return o.kubeconfig !== undefined && o.kubeconfig !== "" ? KubeClient.fromFile(o.kubeconfig, opts) : KubeClient.fromDefault(opts);
}

/**
 * The Lease's own client: the same credentials with a token bucket of its own (as
 * controller-runtime gives leader election its own rest client). Behind the controller's
 * bucket a renewal waits for every queued reconcile write: with 100 new clusters at QPS 20
 * that is longer than the renew deadline, and the controller lost the Lease and exited
 * (measured by bench/controller-scale.ts).
 */
function leaseClient(client: KubeClient): KubeClient {
  return new KubeClient(client.kubeConfig, { qps: 5, burst: 10, userAgent: `moco-controller/${MOCO_TS_VERSION} leader-election` });
}

/** Starts the controller; resolves once the servers listen (leadership is acquired in the background). */
export async function startController(o: ControllerOptions): Promise<RunningController> {
  if (o.namespace === "") throw new Error("POD_NAMESPACE is required");
  const log = o.logger ?? pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
  const client = makeClient(o);
  const metrics = new ControllerMetrics({ processMetrics: o.processMetrics ?? true });
  const certs = new CertificateStore(client, o.namespace, validateLifetimes(o.certLifetimes ?? DEFAULT_CERT_LIFETIMES));
  const builderOptions: BuilderOptions = resolveBuilderOptions({
    controllerNamespace: o.namespace,
    agentImage: o.agentImage,
    backupImage: o.backupImage,
    fluentBitImage: o.fluentBitImage,
    exporterImage: o.exporterImage,
    pvcSyncLabelKeys: o.pvcSyncLabelKeys,
    pvcSyncAnnotationKeys: o.pvcSyncAnnotationKeys,
    configMapHistoryLimit: o.configMapHistoryLimit,
    disableDefaultSecurityContext: o.disableDefaultSecurityContext,
    omitJobResources: o.omitJobResources,
  });
  const stopping = new AbortController();
  let state: LeaderState | undefined;

  // ---- servers every replica runs ----
  const metricsSrv = await serveHttp(o.metricsAddr ?? ":8080", (_req, res, url) => {
    if (url.pathname !== "/metrics") { res.writeHead(404).end(); return; }
    metrics.metricsText().then(
      (text) => { res.writeHead(200, { "content-type": metrics.registry.contentType }); res.end(text); },
      (e: unknown) => { res.writeHead(500).end(errorMessage(e)); },
    );
  }, log);
  const healthSrv = await serveHttp(o.healthProbeAddr ?? ":8081", (_req, res, url) => {
    const p = url.pathname;
    if (p === "/healthz" || p === "/readyz") { res.writeHead(200, { "content-type": "text/plain" }); res.end("ok"); return; }
    res.writeHead(404).end();
  }, log);

  let webhook: WebhookServer | undefined;
  let webhookCa: string | undefined;
  const certCheckMs = o.certCheckIntervalMs ?? renewalCheckIntervalMs(certs.lifetimes);
  const webhookAddr = parseListenAddr(o.webhookAddr ?? ":9443");
  if (webhookAddr !== undefined) {
    const dir = o.certDir !== undefined && o.certDir !== "" ? o.certDir : DEFAULT_CERT_DIR;
    const certFile = path.join(dir, "tls.crt");
    const keyFile = path.join(dir, "tls.key");
    const mounted = fs.existsSync(certFile) && fs.existsSync(keyFile);
    // The controller's own client: admission reads count against its QPS limit (one client per process).
    const deps = webhookDependencies(client);
    const webhookLog = log.child({ component: "webhook" });
    if (mounted) {
      // A mounted certificate (cert-manager, --cert-dir): re-read when the files change.
      webhook = await startWebhookServer({ certFile, keyFile, port: webhookAddr.port, host: webhookAddr.host, dependencies: deps, logger: webhookLog, reloadIntervalMs: Math.min(certCheckMs, 10_000) });
    } else {
      // No mounted certificate: issue one from the controller CA (Secret moco-controller-cert),
      // kept in memory and renewed by the certificate loop below.
      const pair = await certs.ensureWebhookCertificate(o.webhookServiceName ?? DEFAULT_WEBHOOK_SERVICE_NAME, [], ["127.0.0.1"]);
      webhookCa = pair.ca;
      webhook = await startWebhookServer({ certificate: pair, port: webhookAddr.port, host: webhookAddr.host, dependencies: deps, logger: webhookLog });
      log.info({}, "issued the webhook serving certificate from the controller CA");
      let served = pair.cert;
      const w = webhook;
      void every(certCheckMs, stopping.signal, async () => {
        await certs.refreshCa();
        const next = await certs.ensureWebhookCertificate(o.webhookServiceName ?? DEFAULT_WEBHOOK_SERVICE_NAME, [], ["127.0.0.1"]);
        webhookCa = next.ca;
        if (next.cert === served) return;
        w.setCertificate(next);
        served = next.cert;
        log.info({ notAfter: certificateNotAfter(next.cert)?.toISOString() }, "renewed the webhook serving certificate");
      }, (e) => log.error({ err: errorMessage(e) }, "webhook certificate renewal failed; retrying"));
    }
    if (o.injectWebhookCaBundle === true) {
      // The bundle to inject: ca.crt of a mounted certificate, else the controller CA's
      // trusted bundle; checked every round so that a CA rollover reaches the configurations.
      const mountedCa = path.join(dir, "ca.crt");
      const bundle = async (): Promise<string> => (mounted && fs.existsSync(mountedCa) ? fs.readFileSync(mountedCa, "utf8") : (await certs.ca()).bundle);
      const skipped = new Set<string>();
      void every(certCheckMs, stopping.signal, async () => { await injectCaBundle(client, await bundle(), log, skipped); },
        (e) => log.warn({ err: errorMessage(e) }, "failed to inject the webhook CA bundle; retrying"));
    }
  }

  // ---- leader-only part ----
  const startLeading = async (leading: AbortSignal): Promise<void> => {
    const caches = createCaches(client, { logger: log.child({ component: "informer" }), ...(o.resyncPeriodMs === undefined ? {} : { resyncPeriodMs: o.resyncPeriodMs }) });
    // Events: source.component moco-controller without source.host (as controller-runtime), reportingInstance POD_NAME.
    const events = new EventRecorder(client, { host: "", reportingInstance: process.env["POD_NAME"] ?? "moco-controller", logger: log });
    const adapter = { client, caches, metrics, events, certs, logger: log, sourceHostMode: o.sourceHostMode ?? "dns", signal: leading, ...(o.agentPort === undefined ? {} : { agentPort: o.agentPort }) } as const;
    const manager = new ClusterManager((key) => {
      metrics.initManagerSeries(key);
      return clusterPorts(adapter, key);
    }, { ...(o.manager ?? {}), checkIntervalMs: o.checkIntervalMs ?? 60_000, ...(o.primaryWatchIntervalMs === undefined ? {} : { primaryWatchIntervalMs: o.primaryWatchIntervalMs }), ...(o.recloneErrantFormerPrimary === undefined ? {} : { recloneErrantFormerPrimary: o.recloneErrantFormerPrimary }), metrics: clusteringMetrics(metrics), logger: clusteringLogger(log.child({ component: "clustering" })) });
    const reconciler = new MySQLClusterReconciler({ client, caches, options: builderOptions, metrics, events, clustering: manager, certs, logger: log.child({ controller: "mysqlcluster" }) });
    const workers = o.maxConcurrentReconciles ?? 8;
    const clusterRunner = new ControllerRunner("mysqlcluster", workers, (k) => reconciler.reconcile(k), metrics, log.child({ controller: "mysqlcluster" }));
    const limiter = new PartitionRateLimiter(o.partitionUpdateIntervalMs ?? 0);
    const partitionRunner = new ControllerRunner("statefulset", workers, (k) => reconcilePartition({ client, caches, metrics, events, limiter, logger: log.child({ controller: "statefulset" }) }, k), metrics, log.child({ controller: "statefulset" }));
    registerTriggers(caches, clusterRunner, partitionRunner, manager, metrics, o.namespace);
    state = { caches, reconciler, clusterRunner, partitionRunner, manager };
    try {
      await startCaches(caches, leading);
    } catch (e) {
      if (!leading.aborted) log.error({ err: errorMessage(e) }, "caches failed to sync");
    }
    if (!leading.aborted) {
      clusterRunner.start();
      partitionRunner.start();
      log.info({ informers: allInformers(caches).length }, "controllers started");
    }
    // Agent certificates: a cluster whose Secret moco-<name>-grpc is due for renewal (or
    // holds another CA bundle after a rollover) is reconciled, which re-issues it.
    const certLoop = every(certCheckMs, leading, async () => {
      await certs.refreshCa();
      for (const c of caches.clusters.list()) {
        const ns = c.metadata?.namespace ?? "";
        const name = c.metadata?.name ?? "";
        const secret = caches.secrets.get(names.grpcSecret(name), ns);
        if (secret !== undefined && !(await certs.isLeafSecretCurrent(agentDnsNames(name, ns), secret))) clusterRunner.enqueue(`${ns}/${name}`);
        // mysqld's certificate of spec.tls (docs/tls.md), when the controller issues it.
        const mysqlTls = tlsIssuedByController(c) ? caches.secrets.get(tlsNames.issuedSecret(name), ns) : undefined;
        if (mysqlTls !== undefined && !(await certs.isLeafSecretCurrent(mysqlTlsDnsNames(c), mysqlTls))) clusterRunner.enqueue(`${ns}/${name}`);
      }
    }, (e) => log.error({ err: errorMessage(e) }, "agent certificate check failed; retrying"));
    await new Promise<void>((r) => { if (leading.aborted) r(); else leading.addEventListener("abort", () => r(), { once: true }); });
    // Everything at once: the clustering passes see the same signal in their SQL and API
    // calls and end now; reconciles in flight finish their current call.
    await Promise.all([clusterRunner.stop(), partitionRunner.stop(), manager.stopAll(), certLoop]);
    await stopCaches(caches);
    await events.flush();
    state = undefined;
    log.info({}, "controllers stopped");
  };

  // Lease `--leader-election-id` in POD_NAMESPACE; lease 15 s (MOCO_LEASE_DURATION), renew
  // deadline and retry period derived from it by the elector. One elector per term: after
  // losing the Lease the controller campaigns again with a new one; stop() releases it.
  const leaseName = o.leaderElectionId ?? "moco";
  const identity = o.identity ?? `${os.hostname()}_${randomBytes(8).toString("hex")}`;
  let elector: LeaderElector | undefined;
  const electionClient = leaseClient(client);
  const electionLoop = (async () => {
    while (!stopping.signal.aborted) {
      const e = new LeaderElector(electionClient, {
        namespace: o.namespace, name: leaseName, identity,
        logger: log.child({ component: "leader-election" }),
        ...(o.leaseDurationMs === undefined ? {} : { leaseDurationMs: o.leaseDurationMs }),
        onStartedLeading: (leading) => startLeading(leading).catch((err: unknown) => { log.error({ err: errorMessage(err) }, "leader loop failed"); }),
        onWorkNotStopped: o.onWorkNotStopped ?? (() => log.error({}, "the leader's work has not ended after leadership was lost")),
      });
      elector = e;
      const stop = (): void => { void e.stop(); };
      stopping.signal.addEventListener("abort", stop, { once: true });
      await e.run();
      stopping.signal.removeEventListener("abort", stop);
      if (stopping.signal.aborted) break;
      log.error({}, "leader election lost");
      metrics.leader.set({ name: leaseName }, 0);
    }
  })();
  const leaderGaugeTimer = setInterval(() => metrics.leader.set({ name: leaseName }, elector?.isLeader() === true ? 1 : 0), 1000);
  leaderGaugeTimer.unref();

  return {
    metrics, client, webhook, webhookCa,
    metricsUrl: metricsSrv?.url,
    healthUrl: healthSrv?.url,
    isLeader: () => elector?.isLeader() === true && state !== undefined,
    leaderState: () => state,
    async stop(options?: { webhookGraceMs?: number }) {
      const webhookUntil = Date.now() + (options?.webhookGraceMs ?? 0);
      webhook?.drain();
      stopping.abort();
      clearInterval(leaderGaugeTimer);
      await electionLoop;
      const left = webhookUntil - Date.now();
      if (webhook !== undefined && left > 0) await sleep(left);
      await webhook?.close();
      await closeServer(metricsSrv?.server);
      await closeServer(healthSrv?.server);
    },
  };
}

interface OwnerRef { kind?: string; name?: string; controller?: boolean }

/** The cluster's status does not (yet) say it was reconciled at its current generation, or it is being deleted. */
export function needsFirstReconcile(c: MySQLCluster): boolean {
  if (c.metadata?.deletionTimestamp !== undefined && c.metadata.deletionTimestamp !== null) return true;
  return c.status?.reconcileInfo?.generation !== (c.metadata?.generation ?? 0);
}

/** The triggers (docs/objects.md#triggers), the partition controller's watches and the Pod watcher. */
function registerTriggers(caches: ControllerCaches, clusters: ControllerRunner, partitions: ControllerRunner, manager: ClusterManager, metrics: ControllerMetrics, sysNamespace: string): void {
  const byOwner = (o: KubeObject | undefined) => {
    const ns = o?.metadata?.namespace;
    if (o === undefined || ns === undefined) return;
    const owner = ((o.metadata?.ownerReferences ?? []) as OwnerRef[]).find((r) => r.controller === true && r.kind === "MySQLCluster");
    if (owner?.name !== undefined) { clusters.enqueue(`${ns}/${owner.name}`); return; }
    if (ns === sysNamespace) {
      const l = o.metadata?.labels ?? {};
      const inst = l[LABEL_APP_INSTANCE];
      const instNs = l[LABEL_INSTANCE_NAMESPACE];
      if (inst !== undefined && instNs !== undefined) clusters.enqueue(`${instNs}/${inst}`);
    }
  };
  const handlers = (fn: (o: KubeObject) => void) => ({
    onAdd: fn, onUpdate: (_a: KubeObject, b: KubeObject) => fn(b), onDelete: fn,
  });
  caches.clusters.addHandler(handlers((c) => {
    const ns = c.metadata?.namespace ?? "";
    const name = c.metadata?.name ?? "";
    // A cluster not yet reconciled at its generation (new, spec changed, being deleted) goes
    // ahead of the repeat passes that status writes and owned objects' events queue.
    clusters.enqueue(`${ns}/${name}`, needsFirstReconcile(c as MySQLCluster));
    if (caches.statefulSets.get(names.prefixed(name), ns) !== undefined) partitions.enqueue(`${ns}/${names.prefixed(name)}`);
  }));
  for (const inf of [caches.services, caches.secrets, caches.serviceAccounts, caches.pdbs, caches.cronJobs, caches.jobs, caches.roles, caches.roleBindings]) {
    (inf as unknown as { addHandler(h: object): void }).addHandler(handlers(byOwner));
  }
  caches.statefulSets.addHandler(handlers((s) => {
    byOwner(s);
    partitions.enqueue(`${s.metadata?.namespace ?? ""}/${s.metadata?.name ?? ""}`);
  }));
  caches.configMaps.addHandler(handlers((cm) => {
    byOwner(cm);
    const ns = cm.metadata?.namespace ?? "";
    for (const c of caches.clusters.list({ namespace: ns })) {
      if (c.spec?.mysqlConfigMapName === cm.metadata?.name) clusters.enqueue(`${ns}/${c.metadata?.name ?? ""}`);
    }
  }));
  caches.backupPolicies.addHandler(handlers((bp) => {
    const ns = bp.metadata?.namespace ?? "";
    for (const c of caches.clusters.list({ namespace: ns })) {
      if (c.spec?.backupPolicyName === bp.metadata?.name) clusters.enqueue(`${ns}/${c.metadata?.name ?? ""}`);
    }
  }));
  const onPod = (p: KubeObject, old?: KubeObject): void => {
    const stsName = controllerOf(p, "StatefulSet");
    if (stsName !== undefined) partitions.enqueue(`${p.metadata?.namespace ?? ""}/${stsName}`);
    const end = metrics.reconcileTime.startTimer({ controller: "pod" });
    podNudge(caches, manager, p as never, old as never);
    metrics.reconcileTotal.inc({ controller: "pod", result: "success" });
    end();
  };
  caches.pods.addHandler({ onAdd: (p) => onPod(p), onUpdate: (a, b) => onPod(b, a), onDelete: (p) => onPod(p) });
}

/** Annotations by which cert-manager's cainjector owns a configuration's caBundle. */
export const CA_INJECTOR_ANNOTATIONS = ["cert-manager.io/inject-ca-from", "cert-manager.io/inject-ca-from-secret", "cert-manager.io/inject-apiserver-ca"] as const;

const WEBHOOK_CONFIGURATIONS = [
  { name: MUTATING_WEBHOOK_CONFIGURATION_NAME, r: { group: "admissionregistration.k8s.io", version: "v1", plural: "mutatingwebhookconfigurations", namespaced: false } },
  { name: VALIDATING_WEBHOOK_CONFIGURATION_NAME, r: { group: "admissionregistration.k8s.io", version: "v1", plural: "validatingwebhookconfigurations", namespaced: false } },
] as const;

/**
 * Writes `caPem` as caBundle into the two webhook configurations where it differs
 * (get, then update; nothing when equal). A configuration carrying a cert-manager
 * injection annotation is left alone (logged once per name in `skipped`). A missing
 * configuration is not an error (the next round looks again).
 */
async function injectCaBundle(client: KubeClient, caPem: string, log: Logger, skipped: Set<string>): Promise<void> {
  const caBundle = Buffer.from(caPem, "utf8").toString("base64");
  for (const k of WEBHOOK_CONFIGURATIONS) {
    let cfg: KubeObject & { webhooks?: { clientConfig?: { caBundle?: string } }[] };
    try {
      cfg = await client.get(k.r, k.name);
    } catch (e) {
      if (isNotFound(e)) continue;
      throw e;
    }
    const owner = CA_INJECTOR_ANNOTATIONS.find((a) => cfg.metadata?.annotations?.[a] !== undefined);
    if (owner !== undefined) {
      if (!skipped.has(k.name)) log.info({ configuration: k.name, annotation: owner }, "caBundle is injected by cert-manager; not touching it");
      skipped.add(k.name);
      continue;
    }
    skipped.delete(k.name);
    const hooks = cfg.webhooks ?? [];
    if (hooks.every((h) => h.clientConfig?.caBundle === caBundle)) continue;
    for (const h of hooks) h.clientConfig = { ...(h.clientConfig ?? {}), caBundle };
    await client.update(k.r, cfg);
    log.info({ configuration: k.name }, "injected the webhook CA bundle");
  }
}

/** Runs `fn` now and then every `intervalMs` until `signal` aborts; a failure goes to `onError`. */
async function every(intervalMs: number, signal: AbortSignal, fn: () => Promise<void>, onError: (e: unknown) => void): Promise<void> {
  while (!signal.aborted) {
    try {
      await fn();
    } catch (e) {
      if (!signal.aborted) onError(e);
    }
    await sleep(intervalMs, undefined, { signal, ref: false }).catch(() => undefined);
  }
}

// ---- CLI ------------------------------------------------------------------------

function durationMs(flag: string): (v: string) => number {
  return (v: string) => {
    const ms = tryParseGoDuration(v);
    if (ms === undefined || ms < 0) throw new Error(`${flag}: invalid duration ${JSON.stringify(v)}`);
    return Math.round(ms);
  };
}

function intArg(flag: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`${flag}: not an integer: ${JSON.stringify(v)}`);
    return n;
  };
}

function boolArg(flag: string): (v: string) => boolean {
  return (v: string) => {
    if (v === "true") return true;
    if (v === "false") return false;
    throw new Error(`${flag}: not true or false: ${JSON.stringify(v)}`);
  };
}

function listArg(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), ...v.split(",").map((s) => s.trim()).filter((s) => s !== "")];
}

/** The command line of docs/controller.md#flags (+ moco-ts extensions). */
export function buildCommand(): Command {
  const cmd = new Command("moco-controller")
    .description("MOCO-compatible MySQL operator controller (moco-ts)")
    .version(`moco-controller version ${MOCO_TS_VERSION}`, "--version")
    .allowUnknownOption(false)
    .option("--metrics-addr <addr>", "listen address of /metrics", ":8080")
    .option("--health-probe-addr <addr>", "listen address of /healthz and /readyz", ":8081")
    .option("--pprof-addr <addr>", "accepted for compatibility; ignored", "")
    .option("--leader-election-id <id>", "name of the leader-election Lease", "moco")
    .option("--webhook-addr <addr>", "host:port of the webhook HTTPS server (0 disables)", ":9443")
    .option("--cert-dir <dir>", "directory with tls.crt/tls.key of the webhook server", "")
    .option("--grpc-cert-dir <dir>", "accepted for compatibility; moco-ts issues its client certificate from its own CA", "/grpc-cert")
    .option("--agent-image <image>", "image of the agent sidecar", DEFAULT_MOCO_TS_IMAGE)
    .option("--backup-image <image>", "image of backup/restore Jobs", DEFAULT_MOCO_TS_IMAGE)
    .option("--fluent-bit-image <image>", "image of the slow-log sidecar", DEFAULT_FLUENT_BIT_IMAGE)
    .option("--mysqld-exporter-image <image>", "image of the mysqld-exporter sidecar", DEFAULT_EXPORTER_IMAGE)
    .option("--pvc-sync-annotation-keys <keys>", "annotation keys copied from volumeClaimTemplates to PVCs (comma-separated, repeatable)", listArg)
    .option("--pvc-sync-label-keys <keys>", "label keys copied from volumeClaimTemplates to PVCs (comma-separated, repeatable)", listArg)
    .addOption(new Option("--check-interval <duration>", "interval of each cluster's clustering pass").argParser(durationMs("--check-interval")).default(60_000, "1m"))
    .addOption(new Option("--primary-watch-interval <duration>", "moco-ts: interval (and timeout) of the liveness check of each cluster's primary between passes; 2 failed checks in a row start a pass (0 disables)").argParser(durationMs("--primary-watch-interval")).default(DEFAULT_PRIMARY_WATCH_INTERVAL_MS, "500ms"))
    .addOption(new Option("--reclone-errant-former-primary [bool]", "moco-ts: clone an errant former primary from the primary when its errant transactions are its own unacknowledged ones (docs/clustering.md \"Errant former primary\"); false keeps MOCO's behaviour (it stays errant)").argParser(boolArg("--reclone-errant-former-primary")).default(true, "true").preset(true))
    .option("--max-concurrent-reconciles <n>", "concurrency of each controller", intArg("--max-concurrent-reconciles"), 8)
    .option("--mysql-configmap-history-limit <n>", "my.cnf ConfigMaps kept per cluster", intArg("--mysql-configmap-history-limit"), DEFAULT_CONFIGMAP_HISTORY_LIMIT)
    .addOption(new Option("--partition-update-interval <duration>", "minimum interval between partition decrements (0 = unlimited)").argParser(durationMs("--partition-update-interval")).default(0, "0"))
    .option("--disable-default-security-context", "do not inject runAsUser/runAsGroup/fsGroup 10000", false)
    .option("--apiserver-qps-throttle <n>", "client QPS to the API server (burst 1.5x)", intArg("--apiserver-qps-throttle"), DEFAULT_APISERVER_QPS)
    .option("--kubeconfig <path>", "kubeconfig (default: in-cluster, else $KUBECONFIG)")
    .option("--inject-webhook-ca-bundle", "patch caBundle of moco-*-webhook-configuration with the controller CA", false)
    .addOption(new Option("--cert-validity <duration>", "lifetime of the certificates the controller issues (webhook, agents, its client certificate)").argParser(durationMs("--cert-validity")).default(DEFAULT_CERT_LIFETIMES.validityMs, "8760h"))
    .addOption(new Option("--cert-renew-before <duration>", "re-issue a certificate when it expires within this").argParser(durationMs("--cert-renew-before")).default(DEFAULT_CERT_LIFETIMES.renewBeforeMs, "720h"))
    .option("--webhook-service-name <name>", "Service in front of the webhook server (certificate DNS names)", DEFAULT_WEBHOOK_SERVICE_NAME)
    .addOption(new Option("--replication-source-host <mode>", "what replicas use as SOURCE_HOST").choices(["dns", "pod-ip"]).default("dns"))
    .option("--zap-log-level <level>", "log level: debug, info, error or an integer", "info")
    .option("--zap-encoder <enc>", "json or console (accepted; output is JSON)", "json")
    .option("--zap-devel", "development defaults (debug level)", false)
    .option("--zap-stacktrace-level <level>", "accepted; ignored")
    .option("--zap-time-encoding <enc>", "accepted; ignored");
  for (const f of ["--vmodule", "--log_backtrace_at", "--log_dir", "--log_file", "--log_file_max_size", "--stderrthreshold"]) cmd.option(`${f} <v>`, "klog option (accepted; ignored)");
  for (const f of ["--add_dir_header", "--alsologtostderr", "--logtostderr", "--one_output", "--skip_headers", "--skip_log_headers"]) cmd.addOption(new Option(`${f} [v]`, "klog option (accepted; ignored)"));
  cmd.option("-v, --v <level>", "klog verbosity (> 0 raises the log level to debug)");
  return cmd;
}

function logLevel(o: Record<string, unknown>): string {
  if (o["zapDevel"] === true) return "debug";
  const v = Number(o["v"] ?? 0);
  if (v > 0) return "debug";
  const l = String(o["zapLogLevel"] ?? "info");
  if (/^[0-9]+$/.test(l)) return Number(l) > 0 ? "debug" : "info";
  return ["debug", "info", "error", "warn"].includes(l) ? l : "info";
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const cmd = buildCommand();
  cmd.parse(argv);
  const f = cmd.opts<Record<string, unknown>>();
  const log = pino({ level: logLevel(f), base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
  const namespace = process.env["POD_NAMESPACE"] ?? "";
  if (namespace === "") {
    log.error({}, "POD_NAMESPACE must be set");
    process.exit(1);
  }
  let ctl: RunningController;
  try {
    ctl = await startController({
      namespace,
      kubeconfig: f["kubeconfig"] as string | undefined,
      agentImage: f["agentImage"] as string,
      backupImage: f["backupImage"] as string,
      fluentBitImage: f["fluentBitImage"] as string,
      exporterImage: f["mysqldExporterImage"] as string,
      pvcSyncLabelKeys: (f["pvcSyncLabelKeys"] as string[] | undefined) ?? [],
      pvcSyncAnnotationKeys: (f["pvcSyncAnnotationKeys"] as string[] | undefined) ?? [],
      configMapHistoryLimit: f["mysqlConfigmapHistoryLimit"] as number,
      disableDefaultSecurityContext: f["disableDefaultSecurityContext"] === true,
      omitJobResources: process.env["TEST_NO_JOB_RESOURCE"] === "1",
      checkIntervalMs: f["checkInterval"] as number,
      primaryWatchIntervalMs: f["primaryWatchInterval"] as number,
      recloneErrantFormerPrimary: f["recloneErrantFormerPrimary"] as boolean,
      maxConcurrentReconciles: f["maxConcurrentReconciles"] as number,
      partitionUpdateIntervalMs: f["partitionUpdateInterval"] as number,
      leaderElectionId: f["leaderElectionId"] as string,
      metricsAddr: f["metricsAddr"] as string,
      healthProbeAddr: f["healthProbeAddr"] as string,
      webhookAddr: f["webhookAddr"] as string,
      certDir: f["certDir"] as string,
      injectWebhookCaBundle: f["injectWebhookCaBundle"] === true,
      certLifetimes: { validityMs: f["certValidity"] as number, renewBeforeMs: f["certRenewBefore"] as number },
      webhookServiceName: f["webhookServiceName"] as string,
      qps: f["apiserverQpsThrottle"] as number,
      sourceHostMode: f["replicationSourceHost"] as "dns" | "pod-ip",
      leaseDurationMs: process.env["MOCO_LEASE_DURATION"] === undefined ? undefined : durationMs("MOCO_LEASE_DURATION")(process.env["MOCO_LEASE_DURATION"]),
      logger: log,
      // Leadership lost and the work did not end in time: only ending the process is sure
      // to stop it before another replica's work starts.
      onWorkNotStopped: () => {
        log.error({}, "leadership lost and the leader's work has not ended; exiting");
        process.exit(1);
      },
    });
  } catch (e) {
    log.error({ err: errorMessage(e) }, "failed to start");
    process.exit(1);
  }
  log.info({ version: MOCO_TS_VERSION, metrics: ctl.metricsUrl, health: ctl.healthUrl, webhook: ctl.webhook?.url }, "moco-controller started");
  // The Pod's endpoint leaves the webhook Service when the Pod starts terminating, and
  // kube-proxy's rules follow a moment later: keep answering admission requests for 5 s
  // (within the chart's 10 s grace period; the Lease is released at once).
  const WEBHOOK_SHUTDOWN_GRACE_MS = 5_000;
  let shuttingDown = false;
  const shutdown = (sig: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal: sig }, "shutting down");
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    ctl.stop({ webhookGraceMs: WEBHOOK_SHUTDOWN_GRACE_MS }).then(() => process.exit(0), (e: unknown) => { log.error({ err: errorMessage(e) }, "shutdown failed"); process.exit(1); });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

export type { MySQLCluster };

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main();
}

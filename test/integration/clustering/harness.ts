// A MySQLCluster of real mysqld 9.7 processes driven by the clustering engine, with the
// engine's ports implemented in memory: Pods are the instances (Pod IP = the instance's
// loopback address, readiness computed like the agent's /readyz with --max-delay=0),
// labels/annotations/status/events are plain objects, and the Cloner runs the agent's
// clone procedure with SQL (clone_valid_donor_list, CLONE INSTANCE, restart mysqld,
// post-clone user/password reset). Replicas use the Pod IP as SOURCE_HOST
// (ClusterObservation.podHostnames), because Pod DNS names do not resolve in mysqld.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import mysql from "mysql2/promise";
import type { Connection } from "mysql2/promise";

import { startMysqlds } from "../../env/mysqld.ts";
import type { MysqldInstance, MysqldSet } from "../../env/mysqld.ts";
import { cacheDir, sleep } from "../../env/procs.ts";
import { ClusterManager } from "../../../src/clustering/manager.ts";
import type { ManagerOptions, PassResult } from "../../../src/clustering/manager.ts";
import { PRIMARY_WATCH_FAILURES, PingProber } from "../../../src/clustering/watch.ts";
import type { CheckResult, Prober, WatchTarget } from "../../../src/clustering/watch.ts";
import type { ClusteringLogger } from "../../../src/clustering/ports.ts";
import type {
  CloneRequest,
  ClusterKey,
  ClusterPorts,
  ClusterStatusWrite,
  ClusterTlsSource,
  ClusteringEventReason,
  ClusteringMetrics,
  EventType,
  ReplicationSourceSecret,
} from "../../../src/clustering/ports.ts";
import type { ClusterCondition, MySQLClusterLike, PodView, RoleLabel } from "../../../src/clustering/types.ts";
import { CloneService, DEFAULT_BOOT_TIMEOUT_SECONDS, type CloneOutcome } from "../../../src/agent/clone.ts";
import { cloneRequestFor } from "../../../src/controller/clustering-adapter.ts";
import { initializeOnFirstBoot } from "../../../src/agent/initialize.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { createAgentMetrics } from "../../../src/agent/metrics.ts";
import { decideReadiness, observeReadiness } from "../../../src/agent/readiness.ts";
import { randomPasswords } from "../../env/random.ts";
import type { MocoPasswords } from "../../../src/mysql/users.ts";
import { TLS_CA_FILE, mysqlClientTlsOptions } from "../../../src/mysql/tls.ts";
import { TLS_DIR } from "../tls-fixtures.ts";
import type { MysqlClientTls } from "../../../src/mysql/tls.ts";
import { eventually } from "../../env/eventually.ts";
import { errorMessage } from "../../../src/util/errors.ts";
import { AckedWriter, BackgroundLoop } from "../../env/acked-writer.ts";

/** A my.cnf fragment close to moco-ts's constant section (docs/objects.md#constmycnf). */
export const CLUSTER_MYCNF = `
read_only=ON
super_read_only=ON
skip_replica_start=ON
relay_log_recovery=OFF
log_replica_updates=ON
loose_replication_optimize_for_static_plugin_config=ON
loose_replication_sender_observe_commit_only=OFF
binlog_expire_logs_seconds=86400
`;

export { sleep, BackgroundLoop };

async function q(conn: Connection, sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
  const [rows] = await conn.query(sql, params as unknown[]);
  return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
}

/**
 * The agent's first-boot initialization (docs/agent.md#startup step 2): the agent's own
 * initializeOnFirstBoot, through the socket as root without a password. The instance must
 * be fresh (the template's root@localhost); an initialized one fails here.
 */
export async function agentFirstBoot(inst: MysqldInstance, passwords: MocoPasswords): Promise<void> {
  const result = await initializeOnFirstBoot({ socketPath: inst.socketPath, passwords, logger: silentLogger(), rootRetryIntervalMs: 500 });
  if (result !== "initialized") throw new Error(`${inst.host}: the agent's first boot found an initialized instance`);
}

/**
 * The agent's /readyz with --max-delay=0 (docs/agent.md#probes): the agent's own queries
 * (observeReadiness) and decision (decideReadiness) on a moco-agent connection.
 */
async function instanceReady(inst: MysqldInstance, passwords: MocoPasswords): Promise<boolean> {
  if (!inst.running()) return false;
  let conn: Connection | undefined;
  try {
    conn = await mysql.createConnection({
      host: inst.host,
      port: inst.adminPort,
      user: "moco-agent",
      password: passwords.AGENT_PASSWORD,
      connectTimeout: 1000,
    });
    conn.on("error", () => undefined);
    const observation = await observeReadiness(conn, (e) => (e instanceof Error ? e.message : String(e)));
    return decideReadiness(observation, { maxDelayMs: 0, transactionQueueingWaitMs: 60_000 }).status === 200;
  } catch {
    // Not reachable as moco-agent (stopped, restarting): the probe's connection fails too.
    return false;
  } finally {
    conn?.destroy();
  }
}

export interface PodMeta {
  deleting: boolean;
  annotations: Map<string, string>;
  role: string | null;
}

export interface RecordedEvent {
  readonly type: EventType;
  readonly reason: ClusteringEventReason;
  readonly message: string;
  readonly at: number;
}

export interface MutableCluster {
  metadata: { name: string; namespace: string };
  spec: {
    replicas: number;
    serverIDBase: number;
    offline?: boolean;
    replicationSourceSecretName?: string | null;
    maxDelaySecondsForPodDeletion?: number;
    startupWaitSeconds?: number;
  };
  status: {
    currentPrimaryIndex: number;
    errantReplicaList?: number[];
    errantReplicas?: number;
    syncedReplicas?: number;
    cloned?: boolean;
    conditions?: ClusterCondition[];
  };
}

/** Metrics kept in a map (`name{namespace,name}` → value). */
export class MemoryMetrics implements ClusteringMetrics {
  readonly values = new Map<string, number>();
  private k(name: string, l: { name: string; namespace: string }): string {
    return `${name}{${l.namespace}/${l.name}}`;
  }
  incCounter(name: string, l: { name: string; namespace: string }, v = 1): void {
    this.values.set(this.k(name, l), (this.values.get(this.k(name, l)) ?? 0) + v);
  }
  setGauge(name: string, l: { name: string; namespace: string }, v: number): void {
    this.values.set(this.k(name, l), v);
  }
  observe(name: string, l: { name: string; namespace: string }, v: number): void {
    this.incCounter(`${name}_count`, l);
    this.incCounter(`${name}_sum`, l, v);
  }
  deleteCluster(l: { name: string; namespace: string }): void {
    for (const key of [...this.values.keys()]) if (key.endsWith(`{${l.namespace}/${l.name}}`)) this.values.delete(key);
  }
  get(name: string, l: { name: string; namespace: string }): number | undefined {
    return this.values.get(this.k(name, l));
  }
}

export interface HarnessOptions {
  readonly replicas: number;
  readonly name?: string;
  readonly serverIdBase?: number;
  readonly replicationSourceSecretName?: string;
  readonly replicationSourceSecret?: ReplicationSourceSecret;
  readonly checkIntervalMs?: number;
  readonly manager?: ManagerOptions;
  /** Print pass results. */
  readonly verbose?: boolean;
  /** Where the engine reads the passwords each pass (default: `passwords`, as they are now). */
  readonly credentials?: () => Promise<MocoPasswords>;
  /** Extra [mysqld] lines after CLUSTER_MYCNF. */
  readonly mycnf?: string;
  /** Files written into each instance directory before start (MysqldOptions.files). */
  readonly files?: (index: number, host: string) => Record<string, string> | Promise<Record<string, string>>;
  /** The engine's TLS port (ClusterPorts.tls). */
  readonly tls?: ClusterTlsSource;
  /**
   * How long listPods waits for its readiness probes before it reports an instance's last
   * probed readiness (a kubelet's probe result, read from a cache, costs a pass nothing);
   * default: it waits for every probe (up to its 1 s connect timeout against a hung instance).
   */
  readonly readinessWaitMs?: number;
  /**
   * listPods reports each mysqld container's state as a kubelet would (PodView.mysqldStopped:
   * the process is not running); default: left out (unknown).
   */
  readonly kubelet?: boolean;
}

export class ClusterHarness {
  readonly set: MysqldSet;
  /** The passwords the harness's "agent" (readiness, clone) and writers use; a rotation test replaces them. */
  passwords: MocoPasswords;
  readonly cluster: MutableCluster;
  readonly key: ClusterKey;
  readonly pods: PodMeta[];
  readonly events: RecordedEvent[] = [];
  readonly passes: PassResult[] = [];
  readonly metrics = new MemoryMetrics();
  readonly clones: { ordinal: number; donor: string; ms: number; verifyDonorTls: boolean }[] = [];
  replicationSourceSecret: ReplicationSourceSecret | null;
  manager: ClusterManager | null = null;
  /** Ordinals the engine is cut from (cutFromEngine): their Pod IP and host name lead to a silent listener. */
  private readonly cut = new Map<number, { readonly servers: net.Server[]; readonly held: Set<net.Socket>; readonly host: string }>();
  private readonly verbose: boolean;
  private readonly options: HarnessOptions;

  private constructor(set: MysqldSet, passwords: MocoPasswords, options: HarnessOptions) {
    this.set = set;
    this.passwords = passwords;
    this.options = options;
    this.verbose = options.verbose ?? process.env.CLUSTERING_VERBOSE === "1";
    const name = options.name ?? "test";
    this.key = { namespace: "default", name };
    this.cluster = {
      metadata: { name, namespace: "default" },
      spec: {
        replicas: options.replicas,
        serverIDBase: options.serverIdBase ?? 100,
        ...(options.replicationSourceSecretName === undefined
          ? {}
          : { replicationSourceSecretName: options.replicationSourceSecretName }),
        startupWaitSeconds: 120,
      },
      status: { currentPrimaryIndex: 0 },
    };
    this.replicationSourceSecret = options.replicationSourceSecret ?? null;
    this.pods = set.instances.map(() => ({ deleting: false, annotations: new Map(), role: null }));
  }

  /** Starts `replicas` mysqld, initializes each like the agent's first boot. */
  static async start(options: HarnessOptions): Promise<ClusterHarness> {
    const set = await startMysqlds(options.replicas, {
      mycnf: CLUSTER_MYCNF + (options.mycnf ?? ""),
      serverIdBase: options.serverIdBase ?? 100,
      ...(options.files === undefined ? {} : { files: options.files }),
    });
    const passwords = randomPasswords();
    try {
      await Promise.all(set.instances.map((inst) => agentFirstBoot(inst, passwords)));
    } catch (e) {
      await set.stopAll();
      throw e;
    }
    return new ClusterHarness(set, passwords, options);
  }

  get instances(): MysqldInstance[] {
    return this.set.instances;
  }

  inst(i: number): MysqldInstance {
    const inst = this.set.instances[i];
    if (inst === undefined) throw new Error(`no instance ${i}`);
    return inst;
  }

  podName(i: number): string {
    return `moco-${this.cluster.metadata.name}-${i}`;
  }

  private podIndex(podName: string): number {
    const i = Number(podName.slice(podName.lastIndexOf("-") + 1));
    if (!Number.isInteger(i) || this.pods[i] === undefined) throw new Error(`unknown pod ${podName}`);
    return i;
  }

  private pod(podName: string): PodMeta {
    return this.pods[this.podIndex(podName)] as PodMeta;
  }

  ports(): ClusterPorts {
    return {
      key: this.key,
      source: {
        getCluster: async () => structuredClone(this.cluster) as MySQLClusterLike,
        listPods: async () => {
          const ready = await this.podReadiness();
          return this.instances.map((inst, i): PodView => {
            const meta = this.pods[i] as PodMeta;
            return {
              name: this.podName(i),
              ready: ready[i] === true,
              deleting: meta.deleting,
              demote: meta.annotations.get("moco.cybozu.com/demote") === "true",
              hasDemoteAnnotation: meta.annotations.has("moco.cybozu.com/demote"),
              hasPreventDeleteAnnotation: meta.annotations.has("moco.cybozu.com/prevent-delete"),
              roleLabel: meta.role,
              ip: this.engineAddress(i),
              ...(this.options.kubelet === true ? { mysqldStopped: !inst.running() } : {}),
            };
          });
        },
      },
      status: {
        writeStatus: async (u: ClusterStatusWrite) => {
          const s = this.cluster.status;
          s.syncedReplicas = u.syncedReplicas;
          s.errantReplicaList = [...u.errantReplicaList];
          s.errantReplicas = u.errantReplicas;
          if (u.cloned === true) s.cloned = true;
          s.conditions = u.conditions.map((c) => ({ ...c }));
        },
        setCurrentPrimaryIndex: async (index: number) => {
          this.cluster.status.currentPrimaryIndex = index;
        },
      },
      pods: {
        setRoleLabel: async (name: string, role: RoleLabel) => {
          this.pod(name).role = role;
        },
        removeRoleLabel: async (name: string) => {
          this.pod(name).role = null;
        },
        removeDemoteAnnotation: async (name: string) => {
          this.pod(name).annotations.delete("moco.cybozu.com/demote");
        },
        setPreventDelete: async (name: string) => {
          this.pod(name).annotations.set("moco.cybozu.com/prevent-delete", "true");
        },
        removePreventDelete: async (name: string) => {
          this.pod(name).annotations.delete("moco.cybozu.com/prevent-delete");
        },
      },
      events: {
        emit: (type, reason, message) => {
          this.events.push({ type, reason, message, at: Date.now() });
          if (this.verbose) console.log(`event ${type} ${reason}: ${message}`);
        },
      },
      credentials: { getPasswords: async () => (this.options.credentials === undefined ? this.passwords : this.options.credentials()) },
      cloner: { clone: (req) => this.clone(req) },
      replicationSource: {
        read: async (name: string) => {
          if (this.replicationSourceSecret === null || name !== this.options.replicationSourceSecretName) {
            throw new Error(`secret ${name} not found`);
          }
          return this.replicationSourceSecret;
        },
      },
      addressing: {
        podHostname: (_cluster, ordinal) => this.engineAddress(ordinal),
      },
      ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
    };
  }

  /** Where the engine reaches instance i: its own address, or the silent listener while cut. */
  private engineAddress(i: number): string {
    return this.cut.get(i)?.host ?? this.inst(i).host;
  }

  /**
   * Cuts the engine (the controller) off instance i, the way a network partition looks to it:
   * its address now leads to a listener on a spare loopback address of the same block that
   * accepts TCP connections and never answers (connects time out), while the instance itself
   * keeps running (its agent, and clients that share its side, still reach it). Readiness
   * ("the kubelet") is unaffected. healEngine(i) undoes it.
   */
  async cutFromEngine(i: number): Promise<void> {
    if (this.cut.has(i)) return;
    const host = this.inst(i).host.replace(/\.\d+$/, `.${250 + i}`);
    const held = new Set<net.Socket>();
    const hold = (sock: net.Socket): void => {
      held.add(sock);
      sock.on("error", () => undefined);
      sock.on("close", () => held.delete(sock));
    };
    const servers: net.Server[] = [];
    try {
      for (const port of [3306, 33062]) {
        const srv = net.createServer(hold);
        await new Promise<void>((resolve, reject) => {
          srv.once("error", reject);
          srv.listen(port, host, () => resolve());
        });
        servers.push(srv);
      }
    } catch (e) {
      for (const srv of servers) srv.close();
      throw e;
    }
    this.cut.set(i, { servers, held, host });
  }

  healEngine(i: number): void {
    const c = this.cut.get(i);
    this.cut.delete(i);
    for (const srv of c?.servers ?? []) srv.close();
    for (const sock of c?.held ?? []) sock.destroy();
  }

  /**
   * The agent's Clone (docs/agent.md#clone-api): the agent's own CloneService on the
   * recipient, with the harness restarting mysqld when it exits after the clone (as the
   * kubelet restarts the container).
   */
  async clone(req: CloneRequest): Promise<void> {
    const started = Date.now();
    const inst = this.inst(req.ordinal);
    const agentDb = await mysql.createConnection({ host: inst.host, port: inst.adminPort, user: "moco-agent", password: this.passwords.AGENT_PASSWORD });
    agentDb.on("error", () => undefined);
    const service = new CloneService({
      agentDb,
      socketPath: inst.socketPath,
      agentPassword: this.passwords.AGENT_PASSWORD,
      passwords: this.passwords,
      metrics: createAgentMetrics(this.cluster.metadata.name, req.ordinal, { defaultMetrics: false }),
      logger: silentLogger(),
      // spec.tls: the instances' CA as mysqld sees it (tls-fixtures), for verify_donor_tls.
      ...(this.options.tls === undefined ? {} : { donorCaFile: `${TLS_DIR}/${TLS_CA_FILE}` }),
    });
    let settled = false;
    const kubelet = (async () => {
      await inst.waitExit(600_000);
      if (!settled) await inst.start();
    })();
    kubelet.catch(() => undefined); // awaited below; a failed clone leaves it pending
    let outcome: CloneOutcome;
    try {
      const request = cloneRequestFor(req);
      outcome = await service.clone({
        ...request, boot_timeout_seconds: request.boot_timeout_seconds ?? DEFAULT_BOOT_TIMEOUT_SECONDS, verify_donor_tls: request.verify_donor_tls ?? false,
        discard_errant_gtids: request.discard_errant_gtids ?? "",
      });
    } finally {
      agentDb.destroy();
    }
    if (!outcome.ok) {
      // mysqld did not go down for a restart: nothing for "the kubelet" to do.
      settled = true;
      throw new Error(`${outcome.code}: ${outcome.message}`);
    }
    await kubelet;
    settled = true;
    this.clones.push({ ordinal: req.ordinal, donor: req.donorHost, ms: Date.now() - started, verifyDonorTls: req.verifyDonorTls ?? false });
  }

  /** Last probed readiness per ordinal and the probes in flight (HarnessOptions.readinessWaitMs). */
  private readonly lastReady = new Map<number, boolean>();
  private readonly probing = new Map<number, Promise<boolean>>();

  private podReadiness(): Promise<boolean[]> {
    const probes = this.instances.map((inst, i) => {
      let p = this.probing.get(i);
      if (p === undefined) {
        p = instanceReady(inst, this.passwords).then((r) => {
          this.lastReady.set(i, r);
          this.probing.delete(i);
          return r;
        });
        this.probing.set(i, p);
      }
      return p;
    });
    const waitMs = this.options.readinessWaitMs;
    if (waitMs === undefined) return Promise.all(probes);
    return Promise.all(probes.map((p, i) => Promise.race([p, sleep(waitMs).then(() => this.lastReady.get(i) ?? false)])));
  }

  /** Start the manager worker (nudged once, then every checkIntervalMs); `overrides` go over the harness's options. */
  startManager(overrides: ManagerOptions = {}): void {
    const opts: ManagerOptions = {
      checkIntervalMs: this.options.checkIntervalMs ?? 2000,
      fetchRetryGapMs: 300,
      cloneSettleMs: 500,
      metrics: this.metrics,
      onPass: (r) => {
        this.passes.push(r);
        if (this.verbose) {
          console.log(
            `pass ${r.opId} ${r.origin} state=${r.state ?? "-"} op=${r.operation?.kind ?? "-"} redo=${r.redo} ${r.error ?? ""} ${Math.round(r.durationMs)}ms`,
          );
        }
      },
      ...this.options.manager,
      ...overrides,
    };
    // The liveness watch's connection is cut too (cutFromEngine), unless a test brings its own prober.
    const primaryWatch = { prober: (t: WatchTarget) => new CuttableProber(t, (i) => this.engineAddress(i)), ...opts.primaryWatch };
    this.manager = new ClusterManager(() => this.ports(), { ...opts, primaryWatch });
    this.manager.update(this.key, "harness");
  }

  nudge(origin = "test"): void {
    this.manager?.updateNoStart(this.key, origin);
  }

  condition(type: ClusterCondition["type"]): ClusterCondition | undefined {
    return this.cluster.status.conditions?.find((c) => c.type === type);
  }

  /** The state of the last pass that decided one. */
  lastState(): string | null {
    for (let i = this.passes.length - 1; i >= 0; i--) {
      const s = this.passes[i]?.state;
      if (s !== null && s !== undefined) return s;
    }
    return null;
  }

  async waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 90_000): Promise<void> {
    try {
      await eventually(what, pred, timeoutMs, 100);
    } catch (e) {
      const last = this.passes.slice(-5).map((p) => `${p.state ?? "-"}/${p.operation?.kind ?? "-"}${p.error !== undefined ? ` (${p.error})` : ""}`);
      throw new Error(`${errorMessage(e)}; last passes: ${last.join("; ")}`, { cause: e });
    }
  }

  /** Waits until a pass that started after now ends Healthy. */
  async waitHealthy(timeoutMs = 120_000): Promise<void> {
    const from = this.passes.length;
    await this.waitFor("Healthy", () => this.passes.slice(from).some((p) => p.state === "Healthy" && p.operation?.kind === "none"), timeoutMs);
  }

  /**
   * Waits until old primary `p` is back as a replica (Healthy, labelled replica, not errant):
   * directly, or after the engine cloned it over the transactions only it had (docs/clustering.md
   * "Errant former primary"), which `recloned` tells (an Event for `p` at or after `since`).
   */
  async waitRejoined(p: number, timeoutMs: number, since = 0): Promise<{ recloned: boolean }> {
    await this.waitFor(
      `the old primary ${p} rejoined as a replica`,
      () => this.lastState() === "Healthy" && this.pods[p]?.role === "replica" && !(this.cluster.status.errantReplicaList ?? []).includes(p),
      timeoutMs,
    );
    const recloned = this.events.some((e) => e.reason === "ReinitializingErrantFormerPrimary" && e.at >= since && e.message.startsWith(`Instance ${p} `));
    console.log(recloned ? `old primary ${p}: kept transactions nobody acknowledged, cloned over them and rejoined` : `old primary ${p}: rejoined as a replica`);
    return { recloned };
  }

  async waitState(state: string, timeoutMs = 90_000): Promise<void> {
    const from = this.passes.length;
    await this.waitFor(state, () => this.passes.slice(from).some((p) => p.state === state), timeoutMs);
  }

  /** Query an instance as root over the admin port (a fresh connection). */
  async query(i: number, sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    const conn = await this.inst(i).connect({ admin: true });
    conn.on("error", () => undefined);
    try {
      return await q(conn, sql, params);
    } finally {
      conn.destroy();
    }
  }

  async variables(i: number, names: readonly string[]): Promise<Record<string, string>> {
    const rows = await this.query(
      i,
      `SELECT VARIABLE_NAME AS n, VARIABLE_VALUE AS v FROM performance_schema.global_variables WHERE VARIABLE_NAME IN (${names.map(() => "?").join(",")})`,
      names,
    );
    return Object.fromEntries(rows.map((r) => [String(r.n), String(r.v)]));
  }

  /** Ordinal whose Pod carries role=primary (what the primary Service selects), or null. */
  labelledPrimary(): number | null {
    const i = this.pods.findIndex((p) => p.role === "primary");
    return i < 0 ? null : i;
  }

  /** Stops the engine (the manager) only. */
  async stopManager(): Promise<void> {
    await this.manager?.stopAll();
  }

  /** Re-creates an instance's data directory from the template and runs the agent's first boot. */
  async reinitialize(i: number): Promise<void> {
    const inst = this.inst(i);
    if (inst.running()) await inst.kill();
    inst.wipeData();
    fs.cpSync(path.join(cacheDir, "mysql-template", "data"), inst.dataDir, { recursive: true });
    await inst.start();
    await agentFirstBoot(inst, this.passwords);
  }

  async close(): Promise<void> {
    for (const i of [...this.cut.keys()]) this.healEngine(i);
    await this.stopManager().catch(() => undefined);
    await this.set.stopAll();
  }
}

/**
 * Inserts increasing ids through the instance labelled primary (as the primary Service
 * would), as moco-writable, recording every acknowledged insert (keyed by ordinal).
 */
export class Writer extends AckedWriter<number> {
  /** `tls`: connect with TLS, verifying the instances against this CA. */
  constructor(h: ClusterHarness, tls?: MysqlClientTls) {
    super({
      target: () => {
        const p = h.labelledPrimary();
        return p === null ? null : {
          key: p,
          connect: () => mysql.createConnection({
            ...mysqlClientTlsOptions(h.inst(p).host, 3306, tls),
            user: "moco-writable",
            password: h.passwords.WRITABLE_PASSWORD,
            connectTimeout: 1000,
          }),
        };
      },
      insertSql: "INSERT INTO test.t (id, via) VALUES (?, ?)",
      insertValues: (id, p) => [id, p],
      insertTimeoutMs: 5000,
      retryPauseMs: 20,
    });
  }
}

/** Polls read_only of every instance in a tight loop; records samples with more than one writable instance. */
export class WritableMonitor extends BackgroundLoop {
  readonly violations: string[] = [];
  samples = 0;
  /** By ordinal: when the instance answered writable. */
  readonly writableAt: number[][] = [];
  private readonly h: ClusterHarness;

  constructor(h: ClusterHarness) {
    super();
    this.h = h;
  }

  protected async run(): Promise<void> {
    const conns: (Connection | null)[] = this.h.instances.map(() => null);
    const open = async (i: number): Promise<Connection> => {
      const have = conns[i];
      if (have) return have;
      const c = await mysql.createConnection({
        host: this.h.inst(i).host,
        // 3306: the admin port needs SERVICE_CONNECTION_ADMIN, which moco-exporter lacks (on
        // 33062 every sample was "down" and no violation could ever be seen).
        port: 3306,
        user: "moco-exporter",
        password: this.h.passwords.EXPORTER_PASSWORD,
        connectTimeout: 1000,
      });
      c.on("error", () => {
        conns[i] = null;
      });
      conns[i] = c;
      return c;
    };
    while (this.running) {
      const states = await Promise.all(
        this.h.instances.map(async (_inst, i) => {
          try {
            const c = await open(i);
            const [rows] = await c.query("SELECT @@read_only AS ro, @@super_read_only AS sro");
            const r = (rows as Record<string, unknown>[])[0];
            return Number(r?.ro) === 0 ? "writable" : "ro";
          } catch {
            conns[i]?.destroy();
            conns[i] = null;
            return "down";
          }
        }),
      );
      this.samples++;
      const writable = states.flatMap((s, i) => (s === "writable" ? [i] : []));
      for (const i of writable) (this.writableAt[i] ??= []).push(Date.now());
      if (writable.length > 1) this.violations.push(`writable at once: ${writable.join(",")}`);
    }
    for (const c of conns) c?.destroy();
  }
}

/**
 * The liveness watch's prober (src/clustering/watch.ts PingProber) as a partition looks to
 * it: while the engine is cut from the watched instance (cutFromEngine), the connection it
 * kept to the real address is dropped and every check goes to the silent listener, so it
 * gets no answer ("silent"), as a kept connection whose packets are dropped gets none;
 * healed, the next check connects to the real address again.
 */
class CuttableProber implements Prober {
  private readonly target: WatchTarget;
  private readonly address: (ordinal: number) => string;
  private host: string;
  private inner: PingProber;

  constructor(target: WatchTarget, address: (ordinal: number) => string) {
    this.target = target;
    this.address = address;
    this.host = target.sql.host;
    this.inner = new PingProber(target.sql);
  }

  check(timeoutMs: number): Promise<CheckResult> {
    const host = this.address(this.target.ordinal);
    if (host !== this.host) {
      this.inner.close();
      this.host = host;
      this.inner = new PingProber({ ...this.target.sql, host });
    }
    return this.inner.check(timeoutMs);
  }

  close(): void {
    this.inner.close();
  }
}

/** The engine's log (timestamped lines), with its status tries, failover guards, watch reports and pass starts picked out. */
export interface EngineLog {
  readonly logger: ClusteringLogger;
  /** `<ms since epoch> <level> <msg> <fields>` */
  readonly logs: string[];
  readonly fetchStarts: { at: number; instance: number; attempt: number }[];
  readonly fetchFailures: { at: number; instance: number; attempt: number; error: string }[];
  /** Starts and failures of status tries, in the order they happened (`start 0/1`, `fail 0/1`). */
  readonly fetchSequence: string[];
  /** The failover guard's waits (docs/clustering.md "Self-fencing"), when each started. */
  readonly guards: { at: number; waitMs: number; msg: string }[];
  /** The liveness watch's reports (the primary failed its checks; a pass nudged). */
  readonly watchReports: { at: number; instance: number; silent: boolean }[];
  readonly passStarts: { at: number; op: string; origin: string }[];
}

export function engineLog(): EngineLog {
  const out: Omit<EngineLog, "logger"> = { logs: [], fetchStarts: [], fetchFailures: [], fetchSequence: [], guards: [], watchReports: [], passStarts: [] };
  const line = (level: string, o: object, msg: string | undefined): void => void out.logs.push(`${Date.now()} ${level} ${msg ?? ""} ${JSON.stringify(o)}`);
  const logger: ClusteringLogger = {
    debug: (o: object, msg?: string) => {
      const f = o as { instance: number; attempt: number; error: string };
      line("debug", o, msg);
      if (msg === "trying the instance status") {
        out.fetchSequence.push(`start ${f.instance}/${f.attempt}`);
        out.fetchStarts.push({ at: Date.now(), instance: f.instance, attempt: f.attempt });
      }
      if (msg === "failed to get the instance status") {
        out.fetchSequence.push(`fail ${f.instance}/${f.attempt}`);
        out.fetchFailures.push({ at: Date.now(), ...f });
      }
    },
    info: (o: object, msg?: string) => {
      line("info", o, msg);
      if (msg?.startsWith("failover guard") === true) out.guards.push({ at: Date.now(), waitMs: (o as { waitMs: number }).waitMs, msg });
      if (msg === "start a pass") out.passStarts.push({ at: Date.now(), ...(o as { op: string; origin: string }) });
    },
    warn: (o: object, msg?: string) => {
      line("warn", o, msg);
      if (msg?.startsWith("the primary failed its liveness checks") === true) out.watchReports.push({ at: Date.now(), ...(o as { instance: number; silent: boolean }) });
    },
    error: (o: object, msg?: string) => line("error", o, msg),
  };
  return { ...out, logger };
}

/**
 * The combined path of a primary's partition (docs/clustering.md "Where a partition's client
 * write gap goes"): the liveness watch reported `from` after PRIMARY_WATCH_FAILURES silent
 * checks, that report's pass failed over, the failover guard waited (> 0) before the
 * FailOver event, and the new primary was writable (`writableAt`) only after that. Returns a
 * line of the offsets from `tCut` for the test's output.
 */
export function assertFailoverOrder(h: ClusterHarness, log: EngineLog, o: { from: number; tCut: number; passesBefore: number; writableAt: number }): string {
  const passes = h.passes.slice(o.passesBefore);
  const failoverPass = passes.find((p) => p.operation?.kind === "failover");
  assert.ok(failoverPass !== undefined, `a failover pass among ${passes.map((p) => `${p.origin}:${p.operation?.kind ?? "-"}`).join(", ")}`);
  assert.equal(failoverPass.origin, "watch", "the failover pass was the watch's");
  const report = log.watchReports.find((r) => r.at >= o.tCut);
  assert.ok(report !== undefined, "the watch reported the primary");
  assert.equal(report.instance, o.from);
  assert.equal(report.silent, true, "the watch saw the primary silent (no answer), not refusing");
  const start = log.passStarts.find((p) => p.op === failoverPass.opId);
  assert.ok(start !== undefined, "the failover pass's start is logged");
  assert.ok(start.at >= report.at, "the failover pass started after the watch's report");
  const guard = log.guards.find((g) => g.at >= start.at);
  assert.ok(guard !== undefined && guard.waitMs > 0, "the failover waited for the old primary's self-fence");
  const failover = h.events.find((e) => e.reason === "FailOver" && e.at >= start.at);
  assert.ok(failover !== undefined, "a FailOver event after the failover pass started");
  // Timers may fire a millisecond early against Date.now().
  assert.ok(failover.at >= guard.at + guard.waitMs - 5, "FailOver before the guard's wait ended");
  assert.ok(o.writableAt >= failover.at, "the new primary writable before the FailOver");
  const t = (x: number): string => `+${x - o.tCut} ms`;
  return `watch report (${PRIMARY_WATCH_FAILURES} silent checks) ${t(report.at)}, failover pass start ${t(start.at)}, ` +
    `guard ${t(guard.at)} for ${guard.waitMs} ms, FailOver ${t(failover.at)}, new primary writable ${t(o.writableAt)}`;
}

/** Creates test.t through the labelled primary. */
export async function createTestTable(h: ClusterHarness): Promise<void> {
  const p = h.labelledPrimary();
  if (p === null) throw new Error("no primary");
  const conn = await mysql.createConnection({
    host: h.inst(p).host,
    port: 3306,
    user: "moco-writable",
    password: h.passwords.WRITABLE_PASSWORD,
  });
  try {
    await conn.query("CREATE DATABASE IF NOT EXISTS test");
    await conn.query("CREATE TABLE IF NOT EXISTS test.t (id INT PRIMARY KEY, via INT)");
  } finally {
    await conn.end();
  }
}

/** Ids in test.t on instance i. */
export async function idsOn(h: ClusterHarness, i: number): Promise<Set<number>> {
  const rows = await h.query(i, "SELECT id FROM test.t");
  return new Set(rows.map((r) => Number(r.id)));
}

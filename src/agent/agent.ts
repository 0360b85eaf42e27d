// The agent process put together (docs/agent.md#startup): first-boot
// initialization, the working pool, probes, metrics, log rotation and the clone API.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import type { ServerResponse } from "node:http";
import mysql from "mysql2/promise";
import type { Pool, PoolConnection, RowDataPacket } from "mysql2/promise";

import { CloneService } from "./clone.ts";
import { ADMIN_MY_CNF_PATH, AGENT_MY_CNF_PATH, AgentCredentials, DEFAULT_CREDENTIAL_CHECK_INTERVAL_MS, parseMyCnfPassword, sessionPassword } from "./credentials.ts";
import { EXPORTER_HEALTH_PATH, EXPORTER_MY_CNF_PATH, ExporterCredentials } from "./exporter-credentials.ts";
import { startCloneServer, type CloneServer } from "./clone-server.ts";
import { DEFAULT_SLOW_LOG_PATH, MYSQLD_ADMIN_PORT, requireAllPasswords, type AgentEnvironment, type AgentFlags } from "./config.ts";
import { ER_ACCESS_DENIED_ERROR, connectSocket, createAgentPool, isConnectionLost, mysqlErrno } from "./db.ts";
import type { Queryable } from "../mysql/query.ts";
import { TlsReloader } from "./tls-reload.ts";
import { TLS_CA_FILE, mysqlClientTlsOptions } from "../mysql/tls.ts";
import { initializeOnFirstBoot, type FirstBootOptions, type FirstBootResult } from "./initialize.ts";
import { safeErrorMessage, type Logger } from "./log.ts";
import { createAgentMetrics, type AgentMetrics } from "./metrics.ts";
import { checkHealth, decideReadiness, observeReadiness, sourceToCheck, type Observed, type ProbeDecision } from "./readiness.ts";
import { LogRotator } from "./rotation.ts";
import { SelfFence } from "./self-fence.ts";
import { SourceAnswerer, defaultPeerAddress, localAddresses, parseRequester, peerAsker } from "./peers.ts";
import { REPLICATION_SOURCE_PATH } from "../mysql/self-fence.ts";
import { closeServer, guardedListener, listenOn, sendJson } from "../http/server.ts";

export interface AgentOptions {
  readonly flags: AgentFlags;
  readonly env: AgentEnvironment;
  readonly logger: Logger;
  /** Host of mysqld's admin interface; default "localhost" with --mysqld-localhost, else POD_NAME. */
  readonly mysqldHost?: string;
  readonly mysqldAdminPort?: number;
  readonly slowLogPath?: string;
  /** Skip first-boot initialization (it is otherwise always attempted). */
  readonly skipInitialization?: boolean;
  /** Retry timing of the first-boot initialization (tests shorten it). */
  readonly firstBoot?: Pick<FirstBootOptions, "rootRetryIntervalMs" | "rootRetryBudgetMs" | "adminRetryIntervalMs" | "adminRetryBudgetMs">;
  /** Process and runtime metrics (default true). */
  readonly defaultMetrics?: boolean;
  /** The my.cnf the agent follows for its own password (default AGENT_MY_CNF_PATH); null: the environment only. */
  readonly credentialFile?: string | null;
  /** moco-admin's my.cnf, read at each socket login (default ADMIN_MY_CNF_PATH); null: the environment only. */
  readonly adminCredentialFile?: string | null;
  /** How often that file is read (default 10 s); also the exporter's my.cnf. */
  readonly credentialCheckIntervalMs?: number;
  /** The exporter's my.cnf, for its liveness (default EXPORTER_MY_CNF_PATH; exporter-credentials.ts). */
  readonly exporterCredentialFile?: string;
  /** The exporter's /metrics (default EXPORTER_METRICS_URL). */
  readonly exporterMetricsUrl?: string;
  /**
   * Where mysqld's certificate is mounted (env MYSQL_TLS_DIR, spec.tls; docs/tls.md): the
   * pool then uses TLS verified against its ca.crt, and the agent reloads mysqld's
   * certificate when the files change. Absent ⇒ plaintext, no reloader.
   */
  readonly tlsDir?: string | undefined;
  /**
   * tlsDir as mysqld sees it (the clone plugin's `clone_ssl_ca`); default tlsDir (the Pod
   * mounts the Secret at the same path in both containers; the tests run mysqld chrooted).
   */
  readonly mysqldTlsDir?: string | undefined;
  /** Poll interval of the certificate reloader (default TLS_RELOAD_INTERVAL_MS). */
  readonly tlsReloadIntervalMs?: number;
  /** How often self-fencing looks at mysqld and asks the peers (default SELF_FENCE_POLL_INTERVAL_MS). */
  readonly selfFenceIntervalMs?: number;
  /** Where peer `ordinal`'s agent probe port is (default `moco-C-i.moco-C`:the own probe port). */
  readonly selfFencePeerAddress?: (ordinal: number) => { host: string; port: number };
  /** The addresses replicas use as this instance's SOURCE_HOST besides its Pod-name DNS name (default: the local interfaces' addresses). */
  readonly selfFenceHosts?: readonly string[];
  /** How long a peer confirmation counts (default SELF_FENCE_CONFIRMATION_TTL_MS; tests with a longer interval raise it). */
  readonly selfFenceConfirmationTtlMs?: number;
  /** How often the clone API re-reads its certificate directory (default CERT_RELOAD_INTERVAL_MS, 1 h). */
  readonly cloneCertReloadIntervalMs?: number;
}

export interface RunningAgent {
  readonly initialization: FirstBootResult | "skipped";
  readonly metrics: AgentMetrics;
  readonly pool: Pool;
  /** moco-agent's current password (environment, then the followed my.cnf). */
  readonly credentials: AgentCredentials;
  /** The exporter's my.cnf followed for its liveness probe (GET /exporter-healthz). */
  readonly exporterCredentials: ExporterCredentials;
  readonly rotator: LogRotator;
  /** The certificate reloader (with tlsDir). */
  readonly tlsReloader: TlsReloader | undefined;
  /** Self-fencing (--self-fence-threshold > 0 and ADMIN_PASSWORD set). */
  readonly selfFence: SelfFence | undefined;
  readonly cloneService: CloneService;
  readonly cloneServer: CloneServer;
  readonly probePort: number;
  readonly metricsPort: number;
  /** The /readyz decision now (what the endpoint answers). */
  readiness(): Promise<ProbeDecision>;
  close(): Promise<void>;
}

/** The host the agent dials for mysqld's admin port (docs/agent.md#startup step 3). */
export function mysqldAdminHost(flags: Pick<AgentFlags, "mysqldLocalhost">, env: Pick<AgentEnvironment, "podName">): string {
  return flags.mysqldLocalhost ? "localhost" : env.podName;
}

/**
 * Runs `fn` on one pooled connection; a connection that turns out dead is replaced once.
 * An idle session opened with a password the agent no longer uses is closed and replaced,
 * so the session the probes keep alive shows the current password's fingerprint.
 */
async function withConnection<T>(pool: Pool, fn: (c: Queryable) => Promise<T>, password?: () => string): Promise<T> {
  for (let attempt = 0, stale = 0; ; attempt++) {
    let conn: PoolConnection;
    try {
      conn = await pool.getConnection();
    } catch (err) {
      if (attempt === 0 && isConnectionLost(err)) continue;
      throw err;
    }
    if (password !== undefined && stale < 8 && sessionPassword(conn) !== password()) {
      conn.destroy();
      stale++;
      attempt--;
      continue;
    }
    try {
      const result = await fn(conn);
      conn.release();
      return result;
    } catch (err) {
      if (isConnectionLost(err)) {
        conn.destroy();
        if (attempt === 0) continue;
      } else {
        conn.release();
      }
      throw err;
    }
  }
}

function text(res: ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Starts the agent. Rejects when first-boot initialization fails (the container then restarts). */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const { flags, env, logger } = opts;
  const secrets = [...Object.values(env.passwords)];

  let initialization: FirstBootResult | "skipped" = "skipped";
  if (!opts.skipInitialization) {
    initialization = await initializeOnFirstBoot({
      socketPath: flags.socketPath,
      passwords: requireAllPasswords(env.passwords),
      logger,
      connectTimeoutMs: flags.connectionTimeoutMs,
      ...opts.firstBoot,
    });
  }

  const host = opts.mysqldHost ?? mysqldAdminHost(flags, env);
  const port = opts.mysqldAdminPort ?? MYSQLD_ADMIN_PORT;
  const tlsCa = opts.tlsDir === undefined || opts.tlsDir === "" ? undefined : fs.readFileSync(path.join(opts.tlsDir, TLS_CA_FILE), "utf8");
  const pool = createAgentPool({
    ...(tlsCa === undefined ? {} : { tls: { ca: tlsCa } }),
    host,
    port,
    user: "moco-agent",
    password: env.passwords.AGENT_PASSWORD,
    connectTimeoutMs: flags.connectionTimeoutMs,
    maxIdleTimeMs: flags.maxIdleTimeMs,
  });
  // An idle connection dropped by a restarting mysqld must not crash the process.
  pool.pool.on("connection", (c) => c.on("error", () => undefined));
  const creds = new AgentCredentials({
    pool,
    initialPassword: env.passwords.AGENT_PASSWORD,
    file: opts.credentialFile === undefined ? AGENT_MY_CNF_PATH : opts.credentialFile,
    intervalMs: opts.credentialCheckIntervalMs,
    tryLogin: async (password) => {
      const c = await mysql.createConnection({
        ...mysqlClientTlsOptions(host, port, tlsCa === undefined ? undefined : { ca: tlsCa }),
        user: "moco-agent", password, connectTimeout: flags.connectionTimeoutMs,
      });
      await c.end().catch(() => c.destroy());
    },
    logger,
  });
  const current = () => creds.password;
  const exporterCreds = new ExporterCredentials({
    file: opts.exporterCredentialFile ?? EXPORTER_MY_CNF_PATH,
    ...(opts.exporterMetricsUrl === undefined ? {} : { metricsUrl: opts.exporterMetricsUrl }),
    intervalMs: opts.credentialCheckIntervalMs ?? DEFAULT_CREDENTIAL_CHECK_INTERVAL_MS,
  });
  // moco-admin's current password (set below, read at each message: it follows rotations).
  let adminSecrets = (): string[] => [];
  const describe = (err: unknown) => safeErrorMessage(err, [...secrets, creds.password, ...adminSecrets()]);

  const metrics = createAgentMetrics(env.clusterName, env.ordinal, { defaultMetrics: opts.defaultMetrics });
  const readTimeout = flags.readTimeoutMs > 0 ? flags.readTimeoutMs : undefined;

  /** @@gtid_executed of the replica's source, as moco-agent (every instance has it, same password). */
  const sourceGtidExecuted = async (src: { host: string; port: number }): Promise<Observed<string>> => {
    try {
      const c = await mysql.createConnection({
        ...mysqlClientTlsOptions(src.host, src.port, tlsCa === undefined ? undefined : { ca: tlsCa }),
        user: "moco-agent", password: current(), connectTimeout: flags.connectionTimeoutMs,
      });
      c.on("error", () => undefined);
      try {
        const [rows] = await c.query<RowDataPacket[]>({ sql: "SELECT @@gtid_executed AS g", ...(readTimeout === undefined ? {} : { timeout: readTimeout }) });
        return { ok: true, value: String(rows[0]?.g ?? "") };
      } finally {
        await c.end().catch(() => c.destroy());
      }
    } catch (err) {
      return { ok: false, error: describe(err) };
    }
  };

  const readiness = async (): Promise<ProbeDecision> => {
    let decision: ProbeDecision;
    try {
      const opts = { maxDelayMs: flags.maxDelayMs, transactionQueueingWaitMs: flags.transactionQueueingWaitMs };
      const obs = await withConnection(pool, (c) => observeReadiness(c, describe, readTimeout), current);
      const src = sourceToCheck(obs, opts);
      decision = decideReadiness(src === undefined ? obs : { ...obs, sourceGtidExecuted: await sourceGtidExecuted(src) }, opts);
    } catch (err) {
      decision = { status: 500, reason: `cannot reach mysqld: ${describe(err)}`, delayGauge: { kind: "keep" } };
    }
    metrics.applyDelayGauge(decision.delayGauge);
    return decision;
  };

  /** A peer's question (docs/clustering.md "Self-fencing"): does this instance replicate from it? */
  const answerPeer = async (res: ServerResponse, url: URL): Promise<void> => {
    let who;
    try {
      who = parseRequester(url);
    } catch (err) {
      sendJson(res, 400, { error: describe(err) });
      return;
    }
    try {
      sendJson(res, 200, await sourceAnswerer.answer(who));
    } catch (err) {
      sendJson(res, 503, { error: `cannot read the replication source: ${describe(err)}` });
    }
  };

  const logServerError = (err: unknown) => logger.error({ error: describe(err) }, "HTTP request failed");
  const probeServer = http.createServer(guardedListener((req, res, url) => {
    if (req.method !== "GET" && req.method !== "HEAD") return text(res, 405, "method not allowed\n");
    if (url.pathname === "/healthz") {
      withConnection(pool, (c) => checkHealth(c, readTimeout), current).then(
        () => text(res, 200, "ok\n"),
        (err: unknown) => {
          const message = describe(err);
          logger.warn({ error: message }, "health check failed");
          text(res, 503, `mysqld is not healthy: ${message}\n`);
        },
      );
      return;
    }
    if (url.pathname === REPLICATION_SOURCE_PATH) {
      void answerPeer(res, url);
      return;
    }
    if (url.pathname === "/readyz") {
      void readiness().then((d) => {
        if (d.status !== 200) logger.debug({ status: d.status, reason: d.reason }, "not ready");
        text(res, d.status, `${d.reason}\n`);
      });
      return;
    }
    if (url.pathname === EXPORTER_HEALTH_PATH) {
      void exporterCreds.verdict().then((v) => {
        if (v.restart) logger.info({ reason: v.reason }, "asking the kubelet to restart mysqld-exporter");
        text(res, v.restart ? 503 : 200, `${v.reason}\n`);
      });
      return;
    }
    text(res, 404, "not found\n");
  }, logServerError));
  const metricsServer = http.createServer(guardedListener((_req, res, url) => {
    if (url.pathname !== "/metrics") return text(res, 404, "not found\n");
    metrics.registry.metrics().then(
      (body) => text(res, 200, body, metrics.registry.contentType),
      (err: unknown) => text(res, 500, `${describe(err)}\n`),
    );
  }, logServerError));

  const rotator = new LogRotator({
    db: pool,
    slowLogPath: opts.slowLogPath ?? DEFAULT_SLOW_LOG_PATH,
    schedule: flags.logRotationScheduleParsed,
    sizeLimit: flags.logRotationSize,
    metrics,
    logger,
  });
  const cloneService = new CloneService({
    agentDb: pool,
    socketPath: flags.socketPath,
    agentPassword: current,
    passwords: env.passwords,
    metrics,
    logger,
    connectTimeoutMs: flags.connectionTimeoutMs,
    donorCaFile: tlsCa === undefined ? undefined : path.join(opts.mysqldTlsDir ?? opts.tlsDir ?? "", TLS_CA_FILE),
  });

  // moco-admin over the socket (certificate reload, self-fencing, the peers' questions): the
  // password of the mounted moco-admin-my.cnf (next to the agent's; it follows password
  // rotations, docs/password-rotation.md), then the environment's (MOCO's Pod spec, tests).
  const adminPassword = env.passwords.ADMIN_PASSWORD;
  const adminFile = opts.adminCredentialFile !== undefined
    ? opts.adminCredentialFile
    : opts.credentialFile === null ? null : path.join(path.dirname(opts.credentialFile ?? AGENT_MY_CNF_PATH), path.basename(ADMIN_MY_CNF_PATH));
  const adminPasswords = (): string[] => {
    const out: string[] = [];
    if (adminFile !== null) {
      try {
        out.push(parseMyCnfPassword(fs.readFileSync(adminFile, "utf8"), "moco-admin"));
      } catch {
        // absent (a Pod without the mount) or unreadable: the environment's
      }
    }
    if (adminPassword !== undefined && !out.includes(adminPassword)) out.push(adminPassword);
    return out;
  };
  const connectAdmin = async () => {
    let last: unknown = new Error("no moco-admin password");
    for (const password of adminPasswords()) {
      try {
        return await connectSocket({ socketPath: flags.socketPath, user: "moco-admin", password, connectTimeoutMs: flags.connectionTimeoutMs });
      } catch (err) {
        last = err;
        if (mysqlErrno(err) !== ER_ACCESS_DENIED_ERROR) throw err;
      }
    }
    throw last;
  };
  const tlsReloader = opts.tlsDir === undefined || opts.tlsDir === "" || adminPassword === undefined
    ? undefined
    : new TlsReloader({
      dir: opts.tlsDir,
      intervalMs: opts.tlsReloadIntervalMs,
      // ALTER INSTANCE RELOAD TLS needs CONNECTION_ADMIN.
      connect: async () => {
        const c = await connectAdmin();
        c.on("error", () => undefined);
        return { query: (sql: string) => c.query(sql), end: () => c.end() };
      },
      logger: { info: (o, m) => logger.info(o, m), warn: (o, m) => logger.warn({ ...o, error: describe((o as { error?: unknown }).error) }, m) },
    });
  adminSecrets = adminPasswords;
  // The replica side of self-fencing: peers' questions answered over its own socket session.
  const sourceAnswerer = new SourceAnswerer(connectAdmin);

  // Self-fencing (docs/clustering.md): moco-admin over the socket (PROCESS to see the waiting
  // commits, CONNECTION_ADMIN to stay connected in offline_mode and to kill client sessions).
  if (flags.selfFenceThresholdMs > 0 && adminPassword === undefined) logger.warn({}, "self-fencing is off: ADMIN_PASSWORD is not set");
  const selfFence = flags.selfFenceThresholdMs <= 0 || adminPassword === undefined
    ? undefined
    : new SelfFence({
      connect: connectAdmin,
      thresholdMs: flags.selfFenceThresholdMs,
      intervalMs: opts.selfFenceIntervalMs,
      ordinal: env.ordinal,
      askPeer: peerAsker({
        requester: { pod: env.podName, hosts: opts.selfFenceHosts ?? localAddresses() },
        peerAddress: opts.selfFencePeerAddress ?? defaultPeerAddress(env.clusterName, flags.probeAddress.port),
      }),
      confirmationTtlMs: opts.selfFenceConfirmationTtlMs,
      logger,
      metrics: {
        fenced: () => metrics.selfFenceCount.labels(metrics.labels).inc(),
        failed: () => metrics.selfFenceFailureCount.labels(metrics.labels).inc(),
      },
      describe,
    });

  const started: Array<() => Promise<void>> = [];
  try {
    const probePort = await listenOn(probeServer, flags.probeAddress.port, flags.probeAddress.host);
    started.push(() => closeServer(probeServer));
    const metricsPort = await listenOn(metricsServer, flags.metricsAddress.port, flags.metricsAddress.host);
    started.push(() => closeServer(metricsServer));
    const cloneServer = await startCloneServer({
      address: flags.address, certDir: flags.grpcCertDir, service: cloneService, logger, reloadIntervalMs: opts.cloneCertReloadIntervalMs,
    });
    started.push(() => cloneServer.close());
    rotator.start();
    await creds.check();
    creds.start();
    started.push(() => creds.stop());
    await exporterCreds.check();
    exporterCreds.start();
    started.push(() => exporterCreds.stop());
    if (tlsReloader !== undefined) {
      tlsReloader.start();
      started.push(() => tlsReloader.stop());
    }
    if (selfFence !== undefined) {
      selfFence.start();
      started.push(() => selfFence.stop());
    }
    started.push(async () => sourceAnswerer.close());
    logger.info({ probePort, metricsPort, clonePort: cloneServer.port, initialization }, "moco-agent started");
    return {
      initialization,
      metrics,
      pool,
      credentials: creds,
      exporterCredentials: exporterCreds,
      rotator,
      tlsReloader,
      selfFence,
      cloneService,
      cloneServer,
      probePort,
      metricsPort,
      readiness,
      async close() {
        await rotator.stop();
        for (const stop of started.reverse()) await stop();
        await pool.end().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const stop of started.reverse()) await stop();
    await pool.end().catch(() => undefined);
    throw err;
  }
}

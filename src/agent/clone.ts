// The clone API (docs/agent.md#clone-api). Upstream serves it over gRPC; moco-ts serves the
// same request over HTTPS with mutual TLS as JSON (`POST /v1/clone`), with the same
// semantics and the gRPC status code names in error bodies.
import type { Connection } from "mysql2/promise";

import { formatGtidSet, gtidIsEmpty, gtidIsSubset, gtidUuids, parseGtidSet } from "../mysql/gtid.ts";
import type { MocoPasswords } from "../mysql/users.ts";
import { requireAllPasswords } from "./config.ts";
import { ER_CLONE_RESTART_FAILED, connectSocket, exec, mysqlErrno } from "./db.ts";
import { queryRows, type Queryable } from "../mysql/query.ts";
import { initializeAfterClone } from "./initialize.ts";
import { safeErrorMessage, type Logger } from "./log.ts";
import type { AgentMetrics } from "./metrics.ts";
import type { CloneErrorBody, CloneRequest } from "../shared/clone-api.ts";
import { setTimeout as sleep } from "node:timers/promises";

export type CloneOutcome = { readonly ok: true } | ({ readonly ok: false } & CloneErrorBody);

export const DEFAULT_BOOT_TIMEOUT_SECONDS = 600;

const HOST_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252}[A-Za-z0-9])?$/;

export type CloneRequestValidation = { readonly ok: true; readonly request: Required<CloneRequest> } | { readonly ok: false; readonly message: string };

/** Checks a decoded JSON body. Messages name fields, never values of password fields. */
export function validateCloneRequest(body: unknown): CloneRequestValidation {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { ok: false, message: "the request body must be a JSON object" };
  const b = body as Record<string, unknown>;
  const known = new Set(["host", "port", "user", "password", "init_user", "init_password", "boot_timeout_seconds", "verify_donor_tls", "discard_errant_gtids"]);
  const unknown = Object.keys(b).filter((k) => !known.has(k));
  if (unknown.length > 0) return { ok: false, message: `unknown fields: ${unknown.sort().join(", ")}` };
  const { host, port, user, password, init_user: initUser, init_password: initPassword, boot_timeout_seconds: bootTimeout, verify_donor_tls: verifyTls, discard_errant_gtids: discard } = b;
  if (typeof host !== "string" || host === "") return { ok: false, message: "host must be a non-empty string" };
  if (host.includes(":")) return { ok: false, message: "host must be a host name or an IPv4 address (IPv6 literals are not supported)" };
  if (!HOST_PATTERN.test(host)) return { ok: false, message: `invalid host ${JSON.stringify(host)}` };
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, message: "port must be an integer in [1, 65535]" };
  for (const [name, v] of [["user", user], ["init_user", initUser]] as const) {
    if (typeof v !== "string" || v === "" || v.length > 32) return { ok: false, message: `${name} must be a non-empty string of at most 32 characters` };
  }
  for (const [name, v] of [["password", password], ["init_password", initPassword]] as const) {
    if (typeof v !== "string") return { ok: false, message: `${name} must be a string` };
  }
  let boot = DEFAULT_BOOT_TIMEOUT_SECONDS;
  if (bootTimeout !== undefined && bootTimeout !== null) {
    if (typeof bootTimeout !== "number" || !Number.isFinite(bootTimeout) || bootTimeout < 0) {
      return { ok: false, message: "boot_timeout_seconds must be a non-negative number" };
    }
    if (bootTimeout > 0) boot = bootTimeout;
  }
  if (verifyTls !== undefined && verifyTls !== null && typeof verifyTls !== "boolean") return { ok: false, message: "verify_donor_tls must be a boolean" };
  let discardText = "";
  if (discard !== undefined && discard !== null) {
    if (typeof discard !== "string") return { ok: false, message: "discard_errant_gtids must be a string (a GTID set)" };
    try {
      discardText = formatGtidSet(parseGtidSet(discard), { separator: "," });
    } catch (e) {
      return { ok: false, message: `discard_errant_gtids: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  return {
    ok: true,
    request: {
      host,
      port,
      user: user as string,
      password: password as string,
      init_user: initUser as string,
      init_password: initPassword as string,
      boot_timeout_seconds: boot,
      verify_donor_tls: verifyTls === true,
      discard_errant_gtids: discardText,
    },
  };
}

export interface CloneServiceOptions {
  /** The agent's working connection (moco-agent over the admin port). */
  readonly agentDb: Queryable;
  readonly socketPath: string;
  /** moco-agent's password; a function when it can change (the agent follows its my.cnf). */
  readonly agentPassword: string | (() => string);
  /** This cluster's passwords (the agent's environment); all eight are needed. */
  readonly passwords: Partial<MocoPasswords>;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly connectTimeoutMs?: number;
  /** Poll interval while waiting for mysqld to restart; default 1 s. */
  readonly bootPollIntervalMs?: number;
  /**
   * The CA file as mysqld sees it (spec.tls: `<MYSQL_TLS_DIR>/ca.crt`), set as
   * `clone_ssl_ca` for a request with verify_donor_tls. Absent ⇒ such a request is refused.
   */
  readonly donorCaFile?: string | undefined;
}

/** Runs clones, one at a time. */
export class CloneService {
  private readonly opts: CloneServiceOptions;
  private busy = false;

  constructor(opts: CloneServiceOptions) {
    this.opts = opts;
  }

  get inProgress(): boolean {
    return this.busy;
  }

  /** docs/agent.md#clone-api steps 1–7. Never throws; errors carry no secret. */
  async clone(request: Required<CloneRequest>): Promise<CloneOutcome> {
    if (this.busy) return { ok: false, code: "RESOURCE_EXHAUSTED", message: "another request is undergoing" };
    this.busy = true;
    try {
      return await this.run(request);
    } finally {
      this.busy = false;
    }
  }

  private agentPassword(): string {
    const p = this.opts.agentPassword;
    return typeof p === "string" ? p : p();
  }

  private secrets(request: Required<CloneRequest>): string[] {
    return [request.password, request.init_password, this.agentPassword(), ...Object.values(this.opts.passwords)];
  }

  private async run(request: Required<CloneRequest>): Promise<CloneOutcome> {
    const { metrics, logger } = this.opts;
    const secrets = this.secrets(request);
    const log = logger.child({ donor: `${request.host}:${request.port}`, donorUser: request.user, initUser: request.init_user });
    let passwords: MocoPasswords;
    try {
      passwords = requireAllPasswords(this.opts.passwords);
    } catch (err) {
      return { ok: false, code: "INTERNAL", message: safeErrorMessage(err, secrets) };
    }

    let executed: string;
    try {
      const rows = await queryRows(this.opts.agentDb, "SELECT @@GLOBAL.gtid_executed AS g");
      executed = String(rows[0]?.g ?? "");
    } catch (err) {
      return { ok: false, code: "INTERNAL", message: `failed to get the executed GTID set: ${safeErrorMessage(err, secrets)}` };
    }
    let empty: boolean;
    try {
      empty = gtidIsEmpty(executed);
    } catch (err) {
      return { ok: false, code: "INTERNAL", message: `failed to parse the executed GTID set: ${safeErrorMessage(err, secrets)}` };
    }
    if (!empty) {
      if (request.discard_errant_gtids === "") return { ok: false, code: "FAILED_PRECONDITION", message: "recipient is not empty" };
      // An errant former primary (docs/clustering.md "Errant former primary"): the controller
      // found that what it has beyond the primary is this set; the set must name only
      // transactions this instance holds and wrote itself (its own server_uuid).
      let own: string;
      try {
        const rows = await queryRows(this.opts.agentDb, "SELECT @@GLOBAL.server_uuid AS u");
        own = String(rows[0]?.u ?? "").trim().toLowerCase();
      } catch (err) {
        return { ok: false, code: "INTERNAL", message: `failed to get the server UUID: ${safeErrorMessage(err, secrets)}` };
      }
      const discard = request.discard_errant_gtids;
      const uuids = gtidUuids(discard);
      if (gtidIsEmpty(discard) || uuids.some((u) => u !== own) || !gtidIsSubset(discard, executed)) {
        return { ok: false, code: "FAILED_PRECONDITION", message: `recipient is not empty and discard_errant_gtids (${discard}) is not a set of its own executed transactions (server_uuid ${own})` };
      }
      log.warn({ discard }, "cloning over this instance's own errant transactions (a former primary's unacknowledged ones)");
    }
    const donorCa = request.verify_donor_tls ? (this.opts.donorCaFile ?? "") : "";
    if (request.verify_donor_tls && donorCa === "") {
      return { ok: false, code: "FAILED_PRECONDITION", message: "verify_donor_tls needs the agent's TLS directory (MYSQL_TLS_DIR)" };
    }

    metrics.cloneCount.labels(metrics.labels).inc();
    metrics.cloneInProgress.labels(metrics.labels).set(1);
    const endTimer = metrics.cloneDurationSeconds.labels(metrics.labels).startTimer();
    const fail = (message: string): CloneOutcome => {
      metrics.cloneFailureCount.labels(metrics.labels).inc();
      log.error({ error: message }, "clone failed");
      return { ok: false, code: "INTERNAL", message };
    };
    try {
      log.info("clone started");
      try {
        await exec(this.opts.agentDb, "SET GLOBAL clone_valid_donor_list = ?", [`${request.host}:${request.port}`]);
      } catch (err) {
        return fail(`failed to set clone_valid_donor_list: ${safeErrorMessage(err, secrets)}`);
      }
      try {
        // The CA the donor is verified against; '' (the default) leaves the plugin's own choice.
        await exec(this.opts.agentDb, "SET GLOBAL clone_ssl_ca = ?", [donorCa]);
      } catch (err) {
        return fail(`failed to set clone_ssl_ca: ${safeErrorMessage(err, secrets)}`);
      }

      // An empty recipient clones as moco-agent (MOCO). Over an errant former primary's data
      // the clone drops that data first, which super_read_only forbids: the init user
      // (moco-admin, this cluster's, the same on the recipient before the clone; moco-agent
      // lacks CONNECTION_ADMIN, as in MOCO) keeps clients out (offline_mode, which would also
      // end a moco-agent session), turns super_read_only off with read_only left ON (no
      // application can write), and clones; both come back if the clone fails (after a clone
      // mysqld restarts with its my.cnf's super_read_only=ON).
      const cloneUser = empty ? { user: "moco-agent", password: this.agentPassword() } : { user: request.init_user, password: request.init_password };
      let conn: Connection;
      try {
        conn = await connectSocket({ socketPath: this.opts.socketPath, ...cloneUser, connectTimeoutMs: this.opts.connectTimeoutMs });
      } catch (err) {
        return fail(`failed to connect to mysqld as ${cloneUser.user}: ${safeErrorMessage(err, secrets)}`);
      }
      conn.on("error", () => undefined);
      try {
        if (!empty) {
          await conn.query("SET GLOBAL offline_mode=ON");
          await conn.query("SET GLOBAL super_read_only=OFF");
        }
        await conn.query(`CLONE INSTANCE FROM ?@?:? IDENTIFIED BY ?${donorCa === "" ? "" : " REQUIRE SSL"}`, [request.user, request.host, request.port, request.password]);
      } catch (err) {
        if (mysqlErrno(err) !== ER_CLONE_RESTART_FAILED) {
          if (!empty) {
            await conn.query("SET GLOBAL super_read_only=ON").catch(() => undefined);
            await conn.query("SET GLOBAL offline_mode=OFF").catch(() => undefined);
          }
          return fail(`CLONE INSTANCE failed: ${safeErrorMessage(err, secrets)}`);
        }
      } finally {
        conn.destroy();
      }
      log.info("clone finished; waiting for mysqld to restart");

      await sleep(100);
      const init = await this.waitForBoot(request, secrets);
      if (init === null) return fail(`mysqld did not accept ${request.init_user} within ${request.boot_timeout_seconds} s after the clone`);
      try {
        const users = await initializeAfterClone(init, passwords);
        log.info({ createdUsers: users.created, resetUsers: users.reset }, "post-clone initialization done");
      } catch (err) {
        return fail(`post-clone initialization failed: ${safeErrorMessage(err, secrets)}`);
      } finally {
        await init.end().catch(() => undefined);
      }
      return { ok: true };
    } finally {
      endTimer();
      metrics.cloneInProgress.labels(metrics.labels).set(0);
    }
  }

  private async waitForBoot(request: Required<CloneRequest>, secrets: readonly string[]): Promise<Connection | null> {
    const deadline = Date.now() + request.boot_timeout_seconds * 1000;
    for (;;) {
      try {
        return await connectSocket({
          socketPath: this.opts.socketPath,
          user: request.init_user,
          password: request.init_password,
          connectTimeoutMs: this.opts.connectTimeoutMs,
        });
      } catch (err) {
        this.opts.logger.debug({ error: safeErrorMessage(err, secrets) }, "mysqld not back yet");
      }
      if (Date.now() >= deadline) return null;
      await sleep(this.opts.bootPollIntervalMs ?? 1000);
    }
  }
}

// Runs the password rotation (moco-ts addition; the phases and their invariants are in
// password-rotation.ts, the user-facing description in docs/password-rotation.md): one
// `pass` observes what the current phase needs, asks `decideRotationStep` for one step and
// runs it. Every step is idempotent and every phase change is one update of the controller
// Secret guarded by its resourceVersion, so a controller killed anywhere leaves a state the
// next pass (of this or another controller) completes.
//
// Side effects go through three small ports: the controller Secret, the instances (SQL), and
// the consumers the controller cannot see through SQL (user Secrets, agents, exporters, Jobs).
// The replicas' replication password is a consumer handled here, with SQL.
import type { V1Secret } from "@kubernetes/client-node";
import { SqlConnection, errnoOf, type Row, type SqlParam } from "../clustering/sql.ts";
import type { MysqlClientTls } from "../mysql/tls.ts";
import {
  REPLICATION_STORED_PASSWORD_QUERY,
  discardOldPasswordStatement,
  mocoUser,
  replicationPasswordStatements,
  retainPasswordStatement,
  type MocoPasswords,
  type MocoUserName,
  type SqlStatement,
} from "../mysql/users.ts";
import { agentSessionsWithFingerprint, passwordFingerprint } from "../mysql/password-id.ts";
import { generatePasswords, passwordsFromSecret } from "./builders/secrets.ts";
import {
  PENDING_PREFIX,
  ROTATION_COMPLETED_ANNOTATION,
  ROTATION_STATE_ANNOTATION,
  decideRotationStep,
  encodeRotationState,
  pendingPasswords,
  rotatedKeys,
  rotationStateOf,
  type ConsumerCheck,
  type RotationObservation,
  type RotationRequest,
  type RotationState,
  type RotationStep,
} from "./password-rotation.ts";

/** MySQL's ER_ACCESS_DENIED_ERROR: the server rejected the user/password. */
export const ER_ACCESS_DENIED = 1045;

/** The controller Secret `<sys>/mysql-<ns>.<name>`. */
export interface RotationSecretStore {
  /** A fresh read (not a cache: the resourceVersion guards the next write). */
  read(): Promise<V1Secret>;
  /** Replaces the Secret; rejects on a conflict (the pass fails and is retried). */
  replace(next: V1Secret): Promise<V1Secret>;
}

export interface RotationTopology {
  /** The instances that must take part (0 … replicas-1), down ones included. */
  readonly ordinals: readonly number[];
  /** status.currentPrimaryIndex; -1 when unknown. */
  readonly primary: number;
}

export interface RotationInstances {
  topology(): Promise<RotationTopology>;
  /** Logs in as `user`: true, false (access denied), null (unreachable or another error). */
  accepts(ordinal: number, user: MocoUserName, password: string): Promise<boolean | null>;
  /** Runs the statements in order as moco-admin; the rows of each. Errors never carry params. */
  run(ordinal: number, adminPassword: string, statements: readonly SqlStatement[]): Promise<Row[][]>;
}

/** The consumers outside SQL (user Secrets, agents, exporters, Jobs). */
export interface RotationConsumers {
  /** Checks each consumer against `passwords` (the new ones, now the Secret's); brings up to date what it can. */
  confirm(state: RotationState, passwords: MocoPasswords): Promise<ConsumerCheck[]>;
}

export interface RotatorOptions {
  readonly now?: () => Date;
  /** Random bytes for new passwords (tests). */
  readonly random?: (size: number) => Uint8Array;
}

/** What one pass did (for logs, Events and tests; never a password). */
export interface RotationPassResult {
  readonly step: RotationStep;
  /** The state after the pass (null: none in progress). */
  readonly state: RotationState | null;
  /** The rotation with this id just finished. */
  readonly completed?: string;
}

function decodeData(secret: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
  return out;
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

export class PasswordRotator {
  readonly #store: RotationSecretStore;
  readonly #instances: RotationInstances;
  readonly #consumers: RotationConsumers;
  readonly #now: () => Date;
  readonly #random: ((size: number) => Uint8Array) | undefined;

  constructor(store: RotationSecretStore, instances: RotationInstances, consumers: RotationConsumers, options: RotatorOptions = {}) {
    this.#store = store;
    this.#instances = instances;
    this.#consumers = consumers;
    this.#now = options.now ?? (() => new Date());
    this.#random = options.random;
  }

  /** One observe → decide → act pass. `request` comes from the MySQLCluster's annotations. */
  async pass(request: RotationRequest | null): Promise<RotationPassResult> {
    const secret = await this.#store.read();
    const annotations = secret.metadata?.annotations ?? {};
    const state = rotationStateOf(annotations);
    const data = decodeData(secret);
    const current = passwordsFromSecret(secret);
    let obs: RotationObservation = { request, state, lastCompleted: annotations[ROTATION_COMPLETED_ANNOTATION] ?? null };
    let topology: RotationTopology | undefined;

    if (state?.phase === "Retaining") {
      const pending = pendingPasswords(state.users, data);
      topology = await this.#instances.topology();
      const acceptsNew = await Promise.all(topology.ordinals.map(async (ordinal) => ({
        ordinal,
        accepts: await this.#acceptsAll(ordinal, state.users, pending),
      })));
      obs = { ...obs, acceptsNew, primaryOrdinal: topology.primary };
    } else if (state?.phase === "Confirming") {
      topology = await this.#instances.topology();
      const replicas = state.users.includes("moco-repl") ? await this.#confirmReplicas(topology, current) : [];
      const agents = state.users.includes("moco-agent") ? await this.#confirmAgents(topology, current) : [];
      obs = { ...obs, consumers: [...replicas, ...agents, ...(await this.#consumers.confirm(state, current))] };
    }

    const step = decideRotationStep(obs);
    switch (step.kind) {
      case "idle":
      case "wait":
      case "confirm":
        return { step, state };
      case "start": {
        const fresh = generatePasswords(this.#random);
        const next: RotationState = { id: step.request.id, phase: "Retaining", users: step.request.users };
        const pendingData: Record<string, string> = {};
        for (const key of rotatedKeys(next.users)) pendingData[PENDING_PREFIX + key] = b64(fresh[key]);
        await this.#write(secret, next, pendingData);
        return { step, state: next };
      }
      case "retain": {
        if (state === null) throw new Error("retain without a rotation");
        const pending = pendingPasswords(state.users, data);
        // Only the users the primary does not accept yet: a second RETAIN would drop the old password.
        const statements: SqlStatement[] = [];
        for (const name of state.users) {
          const user = mocoUser(name);
          const pw = pending[user.passwordKey] ?? "";
          if ((await this.#instances.accepts(step.ordinal, name, pw)) === true) continue;
          statements.push(retainPasswordStatement(user, pw));
        }
        // One session, authenticated before the first ALTER: altering moco-admin does not end it.
        await this.#instances.run(step.ordinal, current.ADMIN_PASSWORD, statements);
        return { step, state };
      }
      case "distribute": {
        if (state === null) throw new Error("distribute without a rotation");
        const pending = pendingPasswords(state.users, data);
        const swapped: Record<string, string | null> = {};
        for (const key of rotatedKeys(state.users)) {
          swapped[key] = b64(pending[key] ?? "");
          swapped[PENDING_PREFIX + key] = null;
        }
        const next: RotationState = { ...state, phase: "Confirming", distributedAt: this.#now().toISOString() };
        await this.#write(secret, next, swapped);
        return { step, state: next };
      }
      case "discard": {
        if (state === null) throw new Error("discard without a rotation");
        const next: RotationState = { ...state, phase: "Discarding" };
        const written = await this.#write(secret, next, {});
        return this.#finish(written, next, topology, step);
      }
      case "finish": {
        if (state === null) throw new Error("finish without a rotation");
        return this.#finish(secret, state, topology, step);
      }
      default: {
        const never: never = step;
        throw new Error(`unknown rotation step ${JSON.stringify(never)}`);
      }
    }
  }

  /** DISCARD OLD PASSWORD on the primary (idempotent), then the state is removed. */
  async #finish(secret: V1Secret, state: RotationState, known: RotationTopology | undefined, step: RotationStep): Promise<RotationPassResult> {
    const topology = known ?? (await this.#instances.topology());
    if (topology.primary < 0) return { step: { kind: "wait", reason: "the primary is not known yet" }, state };
    const current = passwordsFromSecret(secret);
    await this.#instances.run(topology.primary, current.ADMIN_PASSWORD, state.users.map((u) => discardOldPasswordStatement(mocoUser(u))));
    const annotations = { ...(secret.metadata?.annotations ?? {}) };
    delete annotations[ROTATION_STATE_ANNOTATION];
    annotations[ROTATION_COMPLETED_ANNOTATION] = state.id;
    await this.#store.replace({ ...secret, metadata: { ...secret.metadata, annotations } });
    return { step, state: null, completed: state.id };
  }

  async #write(secret: V1Secret, state: RotationState, dataChanges: Readonly<Record<string, string | null>>): Promise<V1Secret> {
    const data = { ...(secret.data ?? {}) };
    for (const [k, v] of Object.entries(dataChanges)) {
      if (v === null) delete data[k];
      else data[k] = v;
    }
    const annotations = { ...(secret.metadata?.annotations ?? {}), [ROTATION_STATE_ANNOTATION]: encodeRotationState(state) };
    return this.#store.replace({ ...secret, metadata: { ...secret.metadata, annotations }, data });
  }

  async #acceptsAll(ordinal: number, users: readonly MocoUserName[], pending: Partial<MocoPasswords>): Promise<boolean | null> {
    for (const name of users) {
      const ok = await this.#instances.accepts(ordinal, name, pending[mocoUser(name).passwordKey] ?? "");
      if (ok !== true) return ok;
    }
    return true;
  }

  /**
   * The agent of each instance logs in with the new moco-agent password: one of its
   * sessions carries the new password's fingerprint as a connection attribute (the agent
   * follows its my.cnf in Secret moco-my-cnf-<name> and replaces its sessions; see
   * src/agent/credentials.ts). An instance that is down is not confirmed.
   */
  async #confirmAgents(topology: RotationTopology, passwords: MocoPasswords): Promise<ConsumerCheck[]> {
    const query = agentSessionsWithFingerprint(passwordFingerprint(passwords.AGENT_PASSWORD));
    const out: ConsumerCheck[] = [];
    for (const ordinal of topology.ordinals) {
      const name = `agent of instance ${ordinal}`;
      try {
        const [rows] = await this.#instances.run(ordinal, passwords.ADMIN_PASSWORD, [query]);
        const n = Number(rows?.[0]?.n ?? 0);
        out.push(n > 0 ? { name, confirmed: true } : { name, confirmed: false, reason: "no session with the new password yet (the agent reads it from its mounted Secret)" });
      } catch (e) {
        out.push({ name, confirmed: false, reason: e instanceof Error ? e.message : "unreachable" });
      }
    }
    return out;
  }

  /**
   * Each replica's stored replication password (default channel) becomes the new one:
   * STOP REPLICA IO_THREAD, CHANGE … SOURCE_PASSWORD, START REPLICA IO_THREAD when it
   * differs. A replica that is down is not confirmed: DISCARD waits for it.
   */
  async #confirmReplicas(topology: RotationTopology, passwords: MocoPasswords): Promise<ConsumerCheck[]> {
    const out: ConsumerCheck[] = [];
    for (const ordinal of topology.ordinals) {
      if (ordinal === topology.primary) continue;
      const name = `replication of instance ${ordinal}`;
      try {
        const [rows] = await this.#instances.run(ordinal, passwords.ADMIN_PASSWORD, [REPLICATION_STORED_PASSWORD_QUERY]);
        const stored = rows?.[0]?.p;
        if (stored === undefined || stored === null) {
          out.push({ name, confirmed: false, reason: "not configured as a replica yet" });
          continue;
        }
        if (String(stored) !== passwords.REPLICATION_PASSWORD) {
          await this.#instances.run(ordinal, passwords.ADMIN_PASSWORD, replicationPasswordStatements(passwords.REPLICATION_PASSWORD));
        }
        out.push({ name, confirmed: true });
      } catch (e) {
        out.push({ name, confirmed: false, reason: e instanceof Error ? e.message : "unreachable" });
      }
    }
    return out;
  }
}

// ---- the SQL adapter ----------------------------------------------------------------

export interface SqlRotationInstancesOptions {
  readonly topology: () => Promise<RotationTopology>;
  /** The address of an instance (Pod IP), null when it has none. */
  readonly address: (ordinal: number) => Promise<string | null>;
  readonly port: number;
  readonly adminPort: number;
  readonly connectTimeoutMs?: number;
  /** How to verify instance `ordinal` over TLS (spec.tls; docs/tls.md); undefined: plaintext. */
  readonly tls?: (ordinal: number) => Promise<MysqlClientTls | undefined>;
}

/** RotationInstances over mysql2 (src/clustering/sql.ts): logins on the MySQL port, admin work on the admin port. */
export class SqlRotationInstances implements RotationInstances {
  readonly #o: SqlRotationInstancesOptions;

  constructor(options: SqlRotationInstancesOptions) {
    this.#o = options;
  }

  topology(): Promise<RotationTopology> {
    return this.#o.topology();
  }

  async accepts(ordinal: number, user: MocoUserName, password: string): Promise<boolean | null> {
    const host = await this.#o.address(ordinal);
    if (host === null) return null;
    let conn: SqlConnection | undefined;
    try {
      conn = await SqlConnection.open({ host, port: this.#o.port, user, password, tls: await this.#o.tls?.(ordinal) }, { connectTimeoutMs: this.#o.connectTimeoutMs });
      return true;
    } catch (e) {
      return errnoOf(e) === ER_ACCESS_DENIED ? false : null;
    } finally {
      await conn?.close();
    }
  }

  async run(ordinal: number, adminPassword: string, statements: readonly SqlStatement[]): Promise<Row[][]> {
    const host = await this.#o.address(ordinal);
    if (host === null) throw new Error(`instance ${ordinal} has no address`);
    const conn = await SqlConnection.open(
      { host, port: this.#o.adminPort, user: "moco-admin", password: adminPassword, tls: await this.#o.tls?.(ordinal) },
      { connectTimeoutMs: this.#o.connectTimeoutMs },
    );
    try {
      const out: Row[][] = [];
      for (const s of statements) {
        const secrets = s.params.filter((p): p is string => typeof p === "string");
        out.push(await conn.query(s.sql, s.params as SqlParam[], { secrets }));
      }
      return out;
    } finally {
      await conn.close();
    }
  }
}

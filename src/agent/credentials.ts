// The agent's own password, followed without a restart (moco-ts addition;
// docs/password-rotation.md). The controller writes `moco-agent-my.cnf` into Secret
// `moco-my-cnf-<name>`, mounted (whole directory, so kubelet refreshes it) at
// /mysql-credentials. The agent starts with AGENT_PASSWORD from its environment (MOCO's
// way, the fallback when the file is absent), reads the file periodically, and when it
// names another password that mysqld accepts, switches its pool to it: new sessions log in
// with it and carry its fingerprint as a connection attribute, and the pool's idle
// sessions opened with the old one are replaced (see withConnection in agent.ts).
import type { Pool } from "mysql2/promise";

import { AGENT_PASSWORD_ATTRIBUTE, passwordFingerprint } from "../mysql/password-id.ts";
import { ER_ACCESS_DENIED_ERROR, mysqlErrno } from "./db.ts";
import { safeErrorMessage, type Logger } from "./log.ts";
import { FileWatch } from "../util/file-watch.ts";
import { errorMessage } from "../util/errors.ts";

/** Where the agent container mounts Secret `moco-my-cnf-<name>` (the mysqld container's path). */
export const AGENT_MY_CNF_PATH = "/mysql-credentials/moco-agent-my.cnf";
/** moco-admin's file in the same Secret (the agent's socket sessions as moco-admin follow it). */
export const ADMIN_MY_CNF_PATH = "/mysql-credentials/moco-admin-my.cnf";
export const DEFAULT_CREDENTIAL_CHECK_INTERVAL_MS = 10_000;

/**
 * The password of `user` in a `[client]` my.cnf text as the controller writes it
 * (`password="…"`, Go-quoted; an unquoted value is taken as is). Errors never carry it.
 */
export function parseMyCnfPassword(text: string, user: string): string {
  let section = "";
  let fileUser: string | undefined;
  let password: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec !== null) {
      section = sec[1]!.trim();
      continue;
    }
    if (section !== "client") continue;
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = unquote(line.slice(eq + 1).trim(), key);
    if (key === "user") fileUser = value;
    if (key === "password") password = value;
  }
  if (password === undefined || password === "") throw new Error("my.cnf: no password in [client]");
  if (fileUser !== undefined && fileUser !== user) throw new Error(`my.cnf: user ${JSON.stringify(fileUser)} is not ${JSON.stringify(user)}`);
  return password;
}

function unquote(value: string, key: string): string {
  if (!value.startsWith('"')) return value;
  try {
    const v: unknown = JSON.parse(value);
    if (typeof v === "string") return v;
  } catch {
    // fall through
  }
  throw new Error(`my.cnf: ${key} is not a quoted string`);
}

/** The part of mysql2's pool the switch touches (the config new sessions are made from). */
interface PoolConfigView {
  pool: { config: { connectionConfig: { password?: string; connectAttributes?: Record<string, string> } } };
}

/** The password a pooled session logged in with (its own copy of the pool config). */
export function sessionPassword(conn: unknown): string | undefined {
  return (conn as { connection?: { config?: { password?: string } } }).connection?.config?.password;
}

/** New sessions of `pool` log in with `password` and carry its fingerprint. */
export function setPoolPassword(pool: Pool, password: string): void {
  const cc = (pool as unknown as PoolConfigView).pool.config.connectionConfig;
  cc.password = password;
  cc.connectAttributes = { ...cc.connectAttributes, [AGENT_PASSWORD_ATTRIBUTE]: passwordFingerprint(password) };
}

export interface AgentCredentialsOptions {
  readonly pool: Pool;
  /** The password the agent started with (AGENT_PASSWORD). */
  readonly initialPassword: string;
  /** The my.cnf file to follow; null: the environment only. */
  readonly file: string | null;
  readonly intervalMs?: number;
  /** Logs in once with a candidate password: resolves when mysqld accepts it. */
  readonly tryLogin: (password: string) => Promise<void>;
  readonly logger: Logger;
}

/** The agent's current moco-agent password; `check()` follows the file. */
export class AgentCredentials {
  readonly #o: AgentCredentialsOptions;
  readonly #watch: FileWatch | undefined;
  #password: string;
  #lastProblem = "";

  constructor(o: AgentCredentialsOptions) {
    this.#o = o;
    this.#password = o.initialPassword;
    setPoolPassword(o.pool, o.initialPassword);
    const file = o.file;
    this.#watch = file === null ? undefined : new FileWatch({
      files: [file],
      intervalMs: o.intervalMs ?? DEFAULT_CREDENTIAL_CHECK_INTERVAL_MS,
      onChange: ([text]) => this.#follow(file, String(text)),
      // Absent file: a Pod spec without the mount (MOCO's), the environment is used.
      onReadError: (e) => {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") this.#problem(`cannot read ${file}: ${safeErrorMessage(e, [])}`);
      },
    });
  }

  get password(): string {
    return this.#password;
  }

  get fingerprint(): string {
    return passwordFingerprint(this.#password);
  }

  /** Reads the file once; switches when it holds another password mysqld accepts. */
  async check(): Promise<void> {
    await this.#watch?.check();
  }

  /** The file's new text: false (asked again at the next poll) while its password is not usable. */
  async #follow(file: string, text: string): Promise<boolean> {
    let next: string;
    try {
      next = parseMyCnfPassword(text, "moco-agent");
    } catch (e) {
      this.#problem(`${file}: ${errorMessage(e)}`);
      return false;
    }
    if (next === this.#password) return true;
    try {
      await this.#o.tryLogin(next);
    } catch (e) {
      const why = mysqlErrno(e) === ER_ACCESS_DENIED_ERROR ? "mysqld refuses it yet" : safeErrorMessage(e, [next, this.#password]);
      this.#problem(`the password in ${file} is not used: ${why}`);
      return false;
    }
    const from = this.fingerprint;
    this.#password = next;
    setPoolPassword(this.#o.pool, next);
    this.#lastProblem = "";
    this.#o.logger.info({ from, to: this.fingerprint }, "moco-agent password changed (fingerprints)");
    return true;
  }

  #problem(message: string): void {
    if (message === this.#lastProblem) return;
    this.#lastProblem = message;
    this.#o.logger.warn({ error: message }, "moco-agent password file");
  }

  start(): void {
    this.#watch?.start();
  }

  async stop(): Promise<void> {
    await this.#watch?.stop();
  }
}

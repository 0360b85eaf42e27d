// Hot reload of mysqld's TLS certificate (moco-ts addition, docs/tls.md): the agent polls
// the mounted certificate files (the kubelet swaps a Secret volume's files when the
// controller renews the Secret) and, when their content changed, runs ALTER INSTANCE
// RELOAD TLS for the main and admin interfaces. mysqld keeps running; connections already
// open keep their session, new ones get the new certificate. A failed reload (mysqld
// down, a half-written pair) is retried at the next poll; mysqld keeps its old context.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import { RELOAD_TLS_STATEMENTS, TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE } from "../mysql/tls.ts";
import { errorMessage } from "../util/errors.ts";

/** The poll interval of the agent (the kubelet's own Secret sync is about a minute). */
export const TLS_RELOAD_INTERVAL_MS = 10_000;

/** SHA-256 over ca.crt, tls.crt and tls.key of `dir`; null while one is missing. */
export function tlsFilesFingerprint(dir: string): string | null {
  const h = createHash("sha256");
  for (const f of [TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE]) {
    let data: Buffer;
    try {
      data = fs.readFileSync(path.join(dir, f));
    } catch {
      return null;
    }
    h.update(f).update("\0").update(data).update("\0");
  }
  return h.digest("hex");
}

/** Something that runs one statement (a connection as a user holding CONNECTION_ADMIN). */
export interface ReloadSession {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

export interface TlsReloaderOptions {
  readonly dir: string;
  /** Opens a session for the reload (the agent: moco-admin over the Unix socket). */
  readonly connect: () => Promise<ReloadSession>;
  readonly intervalMs?: number;
  readonly logger?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

export type ReloadOutcome = "unchanged" | "reloaded" | "missing" | "failed";

export class TlsReloader {
  readonly #o: TlsReloaderOptions;
  /** Fingerprint of the files mysqld was last made to load (undefined: none yet). */
  #loaded: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<ReloadOutcome> | undefined;
  /** Reloads done (metrics and tests). */
  reloads = 0;

  /** `startupFingerprint`: the files mysqld read when it started, when known (no reload for those). */
  constructor(o: TlsReloaderOptions, startupFingerprint?: string) {
    this.#o = o;
    this.#loaded = startupFingerprint;
  }

  /** One poll: reload when the files differ from what mysqld was last made to load. */
  check(): Promise<ReloadOutcome> {
    this.#running ??= this.#check().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #check(): Promise<ReloadOutcome> {
    const fp = tlsFilesFingerprint(this.#o.dir);
    if (fp === null) return "missing";
    if (fp === this.#loaded) return "unchanged";
    let session: ReloadSession | undefined;
    try {
      session = await this.#o.connect();
      for (const sql of RELOAD_TLS_STATEMENTS) await session.query(sql);
    } catch (e) {
      this.#o.logger?.warn({ error: errorMessage(e) }, "reloading the TLS certificate failed; retrying at the next poll");
      return "failed";
    } finally {
      await session?.end().catch(() => undefined);
    }
    this.#loaded = fp;
    this.reloads++;
    this.#o.logger?.info({ dir: this.#o.dir }, "mysqld reloaded its TLS certificate");
    return "reloaded";
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.check(), this.#o.intervalMs ?? TLS_RELOAD_INTERVAL_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}

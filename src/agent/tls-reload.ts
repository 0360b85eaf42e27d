// Hot reload of mysqld's TLS certificate (moco-ts addition, docs/tls.md): the agent polls
// the mounted certificate files (the kubelet swaps a Secret volume's files when the
// controller renews the Secret) and, when their content changed, runs ALTER INSTANCE
// RELOAD TLS for the main and admin interfaces. mysqld keeps running; connections already
// open keep their session, new ones get the new certificate. A failed reload (mysqld
// down, a half-written pair) is retried at the next poll; mysqld keeps its old context.
import path from "node:path";

import { RELOAD_TLS_STATEMENTS, TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE } from "../mysql/tls.ts";
import { errorMessage } from "../util/errors.ts";
import { FileWatch, type FilePollOutcome } from "../util/file-watch.ts";

/** The poll interval of the agent (the kubelet's own Secret sync is about a minute). */
export const TLS_RELOAD_INTERVAL_MS = 10_000;

function tlsFiles(dir: string): string[] {
  return [TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE].map((f) => path.join(dir, f));
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

const OUTCOME: Record<FilePollOutcome, ReloadOutcome> = { unchanged: "unchanged", changed: "reloaded", unreadable: "missing", rejected: "failed" };

export class TlsReloader {
  readonly #o: TlsReloaderOptions;
  readonly #watch: FileWatch;
  /** Reloads done (metrics and tests). */
  reloads = 0;

  constructor(o: TlsReloaderOptions) {
    this.#o = o;
    this.#watch = new FileWatch({
      files: tlsFiles(o.dir),
      intervalMs: o.intervalMs ?? TLS_RELOAD_INTERVAL_MS,
      onChange: () => this.#reload(),
    });
  }

  /** One poll: reload when the files differ from what mysqld was last made to load. */
  async check(): Promise<ReloadOutcome> {
    return OUTCOME[await this.#watch.check()];
  }

  async #reload(): Promise<boolean> {
    let session: ReloadSession | undefined;
    try {
      session = await this.#o.connect();
      for (const sql of RELOAD_TLS_STATEMENTS) await session.query(sql);
    } catch (e) {
      this.#o.logger?.warn({ error: errorMessage(e) }, "reloading the TLS certificate failed; retrying at the next poll");
      return false;
    } finally {
      await session?.end().catch(() => undefined);
    }
    this.reloads++;
    this.#o.logger?.info({ dir: this.#o.dir }, "mysqld reloaded its TLS certificate");
    return true;
  }

  start(): void {
    this.#watch.start();
  }

  stop(): Promise<void> {
    return this.#watch.stop();
  }
}

// Following files that change under a running process (a mounted Secret the kubelet swaps
// by symlink, --cert-dir files cert-manager rewrites, the agent's password file): one
// poller for the webhook serving certificate, mysqld's TLS files and the agent's password.
//
// Every poll reads all `files`; when their fingerprint differs from the one last accepted,
// `onChange` gets their contents. The change is accepted when onChange resolves (true or
// nothing); when it returns false or throws, the old state is kept and the next poll
// offers the same contents again. A file that cannot be read (missing mid-swap) is
// retried on the next poll. Polls never overlap.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";

export interface FileWatchOptions {
  /** The files, read together (e.g. ca.crt, tls.crt, tls.key). */
  readonly files: readonly string[];
  /** Poll interval in ms. */
  readonly intervalMs: number;
  /** The new contents (same order as `files`); false or a throw keeps the old state. */
  readonly onChange: (contents: Buffer[]) => Promise<boolean | void> | boolean | void;
  /** A file could not be read (the poll is retried). */
  readonly onReadError?: (err: unknown, file: string) => void;
  /** onChange threw. */
  readonly onError?: (err: unknown) => void;
}

/** What one poll found: the same files, a change accepted, a file unreadable, a change refused. */
export type FilePollOutcome = "unchanged" | "changed" | "unreadable" | "rejected";

/** SHA-256 over each file's base name and contents. */
export function contentsFingerprint(files: readonly string[], contents: readonly Buffer[]): string {
  const h = createHash("sha256");
  files.forEach((f, i) => h.update(path.basename(f)).update("\0").update(contents[i] ?? Buffer.alloc(0)).update("\0"));
  return h.digest("hex");
}

export class FileWatch {
  readonly #o: FileWatchOptions;
  /** Fingerprint of the contents last accepted (undefined: none yet). */
  #accepted: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<FilePollOutcome> | undefined;

  /** `acceptedFingerprint`: the contents already in use (contentsFingerprint), when known. */
  constructor(o: FileWatchOptions, acceptedFingerprint?: string) {
    this.#o = o;
    this.#accepted = acceptedFingerprint;
  }

  /** One poll now (joins the one running, if any). */
  check(): Promise<FilePollOutcome> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #poll(): Promise<FilePollOutcome> {
    const contents: Buffer[] = [];
    for (const f of this.#o.files) {
      try {
        contents.push(await readFile(f));
      } catch (e) {
        this.#o.onReadError?.(e, f);
        return "unreadable";
      }
    }
    const fp = contentsFingerprint(this.#o.files, contents);
    if (fp === this.#accepted) return "unchanged";
    try {
      if ((await this.#o.onChange(contents)) === false) return "rejected";
    } catch (e) {
      this.#o.onError?.(e);
      return "rejected";
    }
    this.#accepted = fp;
    return "changed";
  }

  /** Polls every intervalMs; the timer does not keep the process alive. */
  start(): this {
    this.#timer ??= setInterval(() => void this.check(), this.#o.intervalMs);
    this.#timer.unref();
    return this;
  }

  /** Stops polling and waits for a poll in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#polling;
  }
}

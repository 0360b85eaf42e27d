// Renewal of the certificates moco-ts issues and the reloading of the ones it serves
// (docs/certificates.md). One module for every certificate: the webhook serving
// certificate, the agents' server certificates, the controller's client certificate (and
// any other leaf issued from the controller CA).
//
//  - `CertLifetimes`: how long a leaf lives and how long before its end it is re-issued
//    (--cert-validity, --cert-renew-before); `renewalCheckIntervalMs` how often the
//    controller looks.
//  - `renewalDue`: whether a PEM certificate must be re-issued now (pure).
//  - `FileReloader`: polls files (a mounted Secret or --cert-dir: kubelet swaps a symlink,
//    cert-manager rewrites them) and hands their new contents to a callback once they
//    changed and parse; a TLS server then calls setSecureContext, so open connections
//    keep the old certificate and new ones get the new one, without a restart.
import "reflect-metadata";
import fs from "node:fs";
import * as x509 from "@peculiar/x509";
import { LEAF_RENEW_BEFORE_DAYS, LEAF_VALIDITY_DAYS } from "./certs.ts";

const DAY_MS = 86_400_000;

export interface CertLifetimes {
  /** Lifetime of an issued leaf certificate. */
  readonly validityMs: number;
  /** A leaf is re-issued when it expires within this. */
  readonly renewBeforeMs: number;
}

export const DEFAULT_CERT_LIFETIMES: CertLifetimes = {
  validityMs: LEAF_VALIDITY_DAYS * DAY_MS,
  renewBeforeMs: LEAF_RENEW_BEFORE_DAYS * DAY_MS,
};

/** Checks a pair of lifetimes; the error names the flag. */
export function validateLifetimes(l: CertLifetimes): CertLifetimes {
  if (!(l.validityMs >= 10_000)) throw new Error(`--cert-validity: must be at least 10s, got ${l.validityMs} ms`);
  if (!(l.renewBeforeMs > 0 && l.renewBeforeMs < l.validityMs)) {
    throw new Error(`--cert-renew-before: must be more than 0 and less than --cert-validity (${l.validityMs} ms), got ${l.renewBeforeMs} ms`);
  }
  return l;
}

/** How often the controller checks its certificates: a quarter of renew-before, within [1 s, 10 min]. */
export function renewalCheckIntervalMs(l: CertLifetimes): number {
  return Math.min(600_000, Math.max(1_000, Math.floor(l.renewBeforeMs / 4)));
}

/** notAfter of the first certificate of `pem`; undefined when it does not parse. */
export function certificateNotAfter(pem: string): Date | undefined {
  try {
    return new x509.X509Certificate(pem).notAfter;
  } catch {
    return undefined;
  }
}

/** Whether `pem` must be re-issued at `now`: absent, unparsable, or expiring within renewBeforeMs. */
export function renewalDue(pem: string | undefined, l: Pick<CertLifetimes, "renewBeforeMs">, now: Date = new Date()): boolean {
  if (pem === undefined || pem === "") return true;
  const notAfter = certificateNotAfter(pem);
  return notAfter === undefined || notAfter.getTime() - now.getTime() < l.renewBeforeMs;
}

export interface FileReloaderOptions {
  /** The files, read together (e.g. tls.crt, tls.key[, ca.crt]). */
  readonly files: readonly string[];
  /** Poll interval (default 10 s). */
  readonly intervalMs?: number;
  /** Called with the new contents (same order as `files`); a throw keeps the old ones (reported to onError). */
  readonly onChange: (contents: Buffer[]) => void;
  readonly onError?: (err: unknown) => void;
}

/**
 * Polls `files`; when any content differs from what was last applied, calls onChange with
 * all of them. A missing file (mid-swap) is retried on the next poll.
 */
export class FileReloader {
  readonly #o: FileReloaderOptions;
  #last: Buffer[] | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: FileReloaderOptions, initial?: Buffer[]) {
    this.#o = o;
    this.#last = initial;
  }

  start(): this {
    this.#timer ??= setInterval(() => { this.check(); }, this.#o.intervalMs ?? 10_000);
    this.#timer.unref();
    return this;
  }

  /** Reads the files now; returns whether onChange ran (and succeeded). */
  check(): boolean {
    let contents: Buffer[];
    try {
      contents = this.#o.files.map((f) => fs.readFileSync(f));
    } catch (e) {
      this.#o.onError?.(e);
      return false;
    }
    const last = this.#last;
    if (last !== undefined && contents.every((c, i) => last[i] !== undefined && c.equals(last[i]))) return false;
    try {
      this.#o.onChange(contents);
    } catch (e) {
      this.#o.onError?.(e);
      return false;
    }
    this.#last = contents;
    return true;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

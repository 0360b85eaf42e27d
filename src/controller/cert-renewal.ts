// Renewal of the certificates moco-ts issues and the reloading of the ones it serves
// (docs/certificates.md). One module for every certificate: the webhook serving
// certificate, the agents' server certificates, the controller's client certificate (and
// any other leaf issued from the controller CA).
//
//  - `CertLifetimes`: how long a leaf lives and how long before its end it is re-issued
//    (--cert-validity, --cert-renew-before); `renewalCheckIntervalMs` how often the
//    controller looks.
//  - `renewalDue`: whether a PEM certificate must be re-issued now (pure).
// The files a TLS server serves are followed with src/util/file-watch.ts (FileWatch); the
// server then calls setSecureContext, so open connections keep the old certificate and new
// ones get the new one, without a restart.
import "reflect-metadata";
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

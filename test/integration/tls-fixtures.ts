// Shared pieces of the TLS tests on real mysqld (docs/tls.md): my.cnf lines, per-instance
// certificate files from a test CA, and the certificate mysqld presents.
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import mysql from "mysql2/promise";

import { MYSQLD_INSTANCE_DIR } from "../env/mysqld.ts";
import { issueCertificate } from "../../src/controller/certs.ts";
import type { CertificateAuthority } from "../../src/controller/certs.ts";
import { mysqlClientTlsOptions, mysqldTlsMyCnf, mysqlServerDnsNames } from "../../src/mysql/tls.ts";
import type { MysqlClientTls } from "../../src/mysql/tls.ts";

/** Where the files of instanceTlsFiles are inside the mysqld chroot. */
export const TLS_DIR = `${MYSQLD_INSTANCE_DIR}/tls`;

/** The my.cnf fragment of mysqldTlsMyCnf for TLS_DIR. */
export function tlsMyCnfLines(requireSecureTransport: boolean): string {
  return Object.entries(mysqldTlsMyCnf({ dir: TLS_DIR, requireSecureTransport })).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
}

/**
 * tls/{ca.crt,tls.crt,tls.key} for instance `host` of cluster `name` in `namespace`
 * (its names plus its loopback IP). `issuedDaysAgo` back-dates the (1-year) certificate:
 * 364 leaves it one day to live.
 */
export async function instanceTlsFiles(ca: CertificateAuthority, name: string, replicas: number, host: string, issuedDaysAgo = 0, namespace = "default"): Promise<Record<string, string>> {
  const dnsNames = mysqlServerDnsNames(name, namespace, replicas);
  const issued = new Date(Date.now() - issuedDaysAgo * 86_400_000);
  const leaf = await issueCertificate(ca, { commonName: dnsNames[0] ?? name, dnsNames, ipAddresses: [host], usage: "server" }, issued);
  return { "tls/ca.crt": ca.cert, "tls/tls.crt": leaf.cert, "tls/tls.key": leaf.key };
}

/** The serial number (lower-case hex) of the certificate mysqld presents on a new TLS connection. */
export async function presentedSerial(host: string, port: number, user: string, password: string, tls: MysqlClientTls): Promise<string> {
  const c = await mysql.createConnection({ ...mysqlClientTlsOptions(host, port, tls), user, password, connectTimeout: 5000 });
  try {
    const stream = (c as unknown as { connection: { stream: TLSSocket } }).connection.stream;
    return stream.getPeerCertificate().serialNumber.toLowerCase();
  } finally {
    c.destroy();
  }
}

export function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase();
}

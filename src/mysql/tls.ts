// TLS on MySQL connections (moco-ts addition, docs/tls.md): the mysqld side (my.cnf keys,
// the server certificate's names), the client side every mysql2 connection of moco-ts
// goes through (mysqlClientTlsOptions), and the replication channel's options.
import net from "node:net";

/** Where the server certificate Secret is mounted in the mysqld and agent containers. */
export const MYSQL_TLS_DIR = "/etc/mysql-tls";
export const TLS_CA_FILE = "ca.crt";
export const TLS_CERT_FILE = "tls.crt";
export const TLS_KEY_FILE = "tls.key";

/** mysqld error for a plaintext client when require_secure_transport=ON. */
export const ER_SECURE_TRANSPORT_REQUIRED = 3159;

export interface MysqldTlsConfig {
  /** Directory holding ca.crt, tls.crt and tls.key. */
  readonly dir: string;
  /** require_secure_transport=ON: plaintext TCP clients are refused (the Unix socket stays allowed). */
  readonly requireSecureTransport: boolean;
}

/**
 * The `[mysqld]` keys that turn TLS on, forced over the user's my.cnf: the main and the
 * admin interface (port 33062, where the controller and agent connect) use the same files
 * (the agent points the clone plugin's `clone_ssl_ca` at the same CA when it clones).
 */
export function mysqldTlsMyCnf(c: MysqldTlsConfig): Record<string, string> {
  const ca = `${c.dir}/${TLS_CA_FILE}`;
  const cert = `${c.dir}/${TLS_CERT_FILE}`;
  const key = `${c.dir}/${TLS_KEY_FILE}`;
  return {
    ssl_ca: ca,
    ssl_cert: cert,
    ssl_key: key,
    admin_ssl_ca: ca,
    admin_ssl_cert: cert,
    admin_ssl_key: key,
    tls_version: "TLSv1.2,TLSv1.3",
    require_secure_transport: c.requireSecureTransport ? "ON" : "OFF",
  };
}

/** Statements that make mysqld read its certificate files again, for both interfaces. */
export const RELOAD_TLS_STATEMENTS: readonly string[] = Object.freeze([
  "ALTER INSTANCE RELOAD TLS FOR CHANNEL mysql_main",
  "ALTER INSTANCE RELOAD TLS FOR CHANNEL mysql_admin",
]);

/**
 * DNS names of a cluster's server certificate: each instance's Pod (short, headless-Service
 * and `.svc` forms), the primary and replica Services (short, namespaced, `.svc`), and
 * `localhost` (the agent's --mysqld-localhost). Stable order; `.svc.cluster.local` forms
 * of the `.svc` names are included too.
 */
export function mysqlServerDnsNames(cluster: string, namespace: string, replicas: number): string[] {
  const out: string[] = [];
  const svc = (host: string): string[] => [`${host}.${namespace}.svc`, `${host}.${namespace}.svc.cluster.local`];
  const headless = `moco-${cluster}`;
  for (let i = 0; i < replicas; i++) {
    const pod = `moco-${cluster}-${i}`;
    out.push(pod, `${pod}.${headless}`, ...svc(`${pod}.${headless}`));
  }
  for (const s of [`moco-${cluster}-primary`, `moco-${cluster}-replica`]) {
    out.push(s, `${s}.${namespace}`, ...svc(s));
  }
  out.push("localhost");
  return out;
}

/** How a client verifies mysqld: the CA (PEM) and the name the certificate must carry. */
export interface MysqlClientTls {
  readonly ca: string;
  /**
   * The name verified against the certificate. When the connection goes to an IP
   * (a Pod IP), the TCP connection still goes there but the certificate must carry this
   * name; absent ⇒ the host itself (an IP is checked against the IP SANs).
   */
  readonly serverName?: string | undefined;
}

/** The mysql2 options of a connection to host:port, with TLS when `tls` is given. */
export function mysqlClientTlsOptions(
  host: string,
  port: number,
  tls: MysqlClientTls | undefined,
): { host: string; port: number; ssl?: { ca: string; rejectUnauthorized: true; verifyIdentity: true; minVersion: "TLSv1.2" }; stream?: () => net.Socket } {
  if (tls === undefined) return { host, port };
  const ssl = { ca: tls.ca, rejectUnauthorized: true as const, verifyIdentity: true as const, minVersion: "TLSv1.2" as const };
  const name = tls.serverName;
  if (name === undefined || name === "" || name === host) return { host, port, ssl };
  // mysql2 verifies `host`; connect to the real address ourselves.
  return {
    host: name,
    port,
    ssl,
    stream: () => {
      const s = net.connect(port, host);
      s.setNoDelay(true);
      return s;
    },
  };
}

/** How a replica verifies its source (CHANGE REPLICATION SOURCE TO ... SOURCE_SSL=1). */
export interface ReplicationTls {
  /** Path of the CA file inside the replica's mysqld. */
  readonly caFile: string;
  /** SOURCE_SSL_VERIFY_SERVER_CERT=1: the source's certificate must carry SOURCE_HOST. */
  readonly verifyServerName: boolean;
}

/** The CHANGE REPLICATION SOURCE TO options for `tls` (SOURCE_SSL=0 when absent, as MySQL's default). */
export function replicationSslOptions(tls: ReplicationTls | undefined): { sql: string; params: string[] } {
  if (tls === undefined) return { sql: "SOURCE_SSL=0", params: [] };
  return {
    sql: `SOURCE_SSL=1, SOURCE_SSL_CA=?, SOURCE_SSL_VERIFY_SERVER_CERT=${tls.verifyServerName ? 1 : 0}`,
    params: [tls.caFile],
  };
}

// Shared pieces of the agent integration tests: passwords, SHOW GRANTS parsing, the
// users/privileges table of the spec (written out here, independently of
// src/mysql/users.ts), a certificate set for the clone API, and agent flags.
import fs from "node:fs";
import path from "node:path";
import type { Connection, RowDataPacket } from "mysql2/promise";

import { ensureCa, ensureCert } from "../../env/pki.ts";
import { cacheDir } from "../../env/procs.ts";
import { parseAgentFlags, type AgentEnvironment, type AgentFlags } from "../../../src/agent/config.ts";
import type { MocoPasswords } from "../../../src/mysql/users.ts";
import { startAgent, type AgentOptions, type RunningAgent } from "../../../src/agent/agent.ts";
import { silentLogger } from "../../../src/util/log.ts";
import type { MysqldInstance } from "../../env/mysqld.ts";

export function agentEnv(passwords: MocoPasswords, ordinal = 0, cluster = "test"): AgentEnvironment {
  return { podName: `moco-${cluster}-${ordinal}`, clusterName: cluster, ordinal, passwords };
}

/** docs/agent.md#startup / docs/objects.md#mysql-users, verbatim. */
export const SPEC_PRIVILEGES: Readonly<Record<string, { privs: string[]; grantOption: boolean; revokedOnMysql: string[] }>> = {
  "moco-agent": { privs: ["BINLOG_ADMIN", "CLONE_ADMIN", "RELOAD", "REPLICATION CLIENT", "SELECT", "SERVICE_CONNECTION_ADMIN", "SYSTEM_VARIABLES_ADMIN"], grantOption: false, revokedOnMysql: [] },
  "moco-repl": { privs: ["REPLICATION CLIENT", "REPLICATION SLAVE"], grantOption: false, revokedOnMysql: [] },
  "moco-clone-donor": { privs: ["BACKUP_ADMIN", "SERVICE_CONNECTION_ADMIN"], grantOption: false, revokedOnMysql: [] },
  "moco-exporter": { privs: ["PROCESS", "REPLICATION CLIENT", "SELECT"], grantOption: false, revokedOnMysql: [] },
  "moco-backup": {
    privs: ["BACKUP_ADMIN", "EVENT", "RELOAD", "SELECT", "SHOW VIEW", "TRIGGER", "REPLICATION CLIENT", "REPLICATION SLAVE", "SERVICE_CONNECTION_ADMIN"],
    grantOption: false,
    revokedOnMysql: [],
  },
  "moco-readonly": { privs: ["PROCESS", "REPLICATION CLIENT", "REPLICATION SLAVE", "SELECT", "SHOW DATABASES", "SHOW VIEW"], grantOption: false, revokedOnMysql: [] },
  "moco-writable": {
    privs: [
      "ALTER", "ALTER ROUTINE", "CREATE", "CREATE ROLE", "CREATE ROUTINE", "CREATE TEMPORARY TABLES", "CREATE USER", "CREATE VIEW",
      "DELETE", "DROP", "DROP ROLE", "EVENT", "EXECUTE", "INDEX", "INSERT", "LOCK TABLES", "PROCESS", "REFERENCES",
      "REPLICATION CLIENT", "REPLICATION SLAVE", "SELECT", "SHOW DATABASES", "SHOW VIEW", "TRIGGER", "UPDATE",
    ],
    grantOption: true,
    revokedOnMysql: [
      "CREATE", "CREATE ROUTINE", "CREATE TEMPORARY TABLES", "CREATE VIEW", "DELETE", "DROP", "EVENT", "EXECUTE", "INDEX",
      "INSERT", "LOCK TABLES", "REFERENCES", "TRIGGER", "UPDATE",
    ],
  },
};

/**
 * SHOW GRANTS as a sorted list of "GRANT <priv> ON <object>[ WITH GRANT OPTION]" and
 * "REVOKE <priv> ON <object>" entries, one per privilege (USAGE dropped), with the
 * account stripped so that two users' grants compare.
 */
export async function grantSet(db: Connection, user: string, host = "%"): Promise<string[]> {
  const [rows] = await db.query<RowDataPacket[]>("SHOW GRANTS FOR ?@?", [user, host]);
  const out: string[] = [];
  for (const row of rows) {
    const line = String(Object.values(row)[0]);
    const m = /^(GRANT|REVOKE) (.+) ON (\S+) (?:TO|FROM) \S+?( WITH GRANT OPTION)?$/.exec(line);
    if (m === null) throw new Error(`unparsed SHOW GRANTS line: ${line}`);
    const [, kind, privs, object, grantOption] = m as unknown as [string, string, string, string, string | undefined];
    for (const p of privs.split(",").map((s) => s.trim())) {
      if (p === "USAGE") continue;
      out.push(`${kind} ${p} ON ${object}${kind === "GRANT" && grantOption ? " WITH GRANT OPTION" : ""}`);
    }
  }
  return out.sort();
}

/** The grant set the spec gives `user` (not moco-admin, which is compared with root's ALL). */
export function expectedGrantSet(user: string): string[] {
  const spec = SPEC_PRIVILEGES[user];
  if (spec === undefined) throw new Error(`no spec for ${user}`);
  return [
    ...spec.privs.map((p) => `GRANT ${p} ON *.*${spec.grantOption ? " WITH GRANT OPTION" : ""}`),
    ...spec.revokedOnMysql.map((p) => `REVOKE ${p} ON \`mysql\`.*`),
  ].sort();
}

export interface AgentTestCerts {
  /** Directory with tls.crt, tls.key, ca.crt (the agent's --grpc-cert-dir). */
  readonly serverDir: string;
  readonly ca: string;
  readonly controller: { readonly cert: string; readonly key: string };
  readonly other: { readonly cert: string; readonly key: string };
}

/** A CA, the agent's server certificate (localhost, 127.0.0.1), a moco-controller and an "intruder" client certificate. */
export function agentTestCerts(): AgentTestCerts {
  const dir = path.join(cacheDir, "tmp", "agent-pki");
  fs.mkdirSync(dir, { recursive: true });
  const ca = ensureCa(dir, "moco-agent-test-ca");
  const server = ensureCert(dir, "agent-server", ca, { cn: "moco-test-agent", sans: ["localhost", "127.0.0.1"], usage: "server" });
  const controller = ensureCert(dir, "controller", ca, { cn: "moco-controller", usage: "client" });
  const other = ensureCert(dir, "intruder", ca, { cn: "moco-intruder", usage: "client" });
  const serverDir = path.join(dir, "grpc-cert");
  fs.mkdirSync(serverDir, { recursive: true });
  fs.copyFileSync(server.cert, path.join(serverDir, "tls.crt"));
  fs.copyFileSync(server.key, path.join(serverDir, "tls.key"));
  fs.copyFileSync(ca.cert, path.join(serverDir, "ca.crt"));
  return { serverDir, ca: ca.cert, controller, other };
}

/** Agent flags for a test: everything on 127.0.0.1 with ephemeral ports. */
export function testAgentFlags(socketPath: string, certDir: string, extra: readonly string[] = []): AgentFlags {
  return parseAgentFlags([
    "--address=127.0.0.1:0",
    "--probe-address=127.0.0.1:0",
    "--metrics-address=127.0.0.1:0",
    `--socket-path=${socketPath}`,
    `--grpc-cert-dir=${certDir}`,
    ...extra,
  ]);
}

export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** startAgent for instance `inst` as ordinal 0 with the test flags and certificates (options override). */
export function startTestAgent(inst: MysqldInstance, passwords: MocoPasswords, certs: AgentTestCerts, extra: Partial<AgentOptions> = {}): Promise<RunningAgent> {
  return startAgent({
    flags: testAgentFlags(inst.socketPath, certs.serverDir),
    env: agentEnv(passwords, 0),
    logger: silentLogger(),
    mysqldHost: inst.host,
    slowLogPath: `${inst.dir}/mysql.slow`,
    firstBoot: { rootRetryIntervalMs: 500 },
    defaultMetrics: false,
    ...extra,
  });
}

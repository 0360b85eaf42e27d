// The agent's password, seen from outside without revealing it (moco-ts addition;
// docs/password-rotation.md): the agent opens its sessions with a connection attribute
// carrying a fingerprint of the password it uses, and the password rotator reads it from
// performance_schema.session_connect_attrs before it discards the old password. The
// fingerprint is 64 bits of a SHA-256 of a 128-bit random password: it identifies the
// password, it does not reveal it.
import { createHash } from "node:crypto";
import type { SqlStatement } from "./users.ts";

/** The connection attribute (mysql2 `connectAttributes`) the agent sets on its sessions. */
export const AGENT_PASSWORD_ATTRIBUTE = "moco_ts_password_id";

/** 16 hex characters identifying `password`. */
export function passwordFingerprint(password: string): string {
  return createHash("sha256").update(`moco-ts password id\0${password}`).digest("hex").slice(0, 16);
}

/** How many sessions of moco-agent carry `fingerprint` (column `n`). */
export function agentSessionsWithFingerprint(fingerprint: string): SqlStatement {
  return {
    sql:
      "SELECT COUNT(*) AS n FROM performance_schema.session_connect_attrs a " +
      "JOIN performance_schema.threads t ON t.PROCESSLIST_ID = a.PROCESSLIST_ID " +
      "WHERE t.PROCESSLIST_USER = 'moco-agent' AND a.ATTR_NAME = ? AND a.ATTR_VALUE = ?",
    params: [AGENT_PASSWORD_ATTRIBUTE, fingerprint],
  };
}

// Password Secrets and my.cnf credential files (docs/objects.md#secrets-and-certificates). The agent's certificate
// Secret is issued by the controller itself (src/controller/cert-store.ts), not cert-manager.
import { randomBytes } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import { goQuote } from "../../api/v1beta2/index.ts";
import type { MySQLCluster } from "../../api/v1beta2/index.ts";
import { PASSWORD_KEYS } from "../../mysql/users.ts";
import type { MocoPasswords, PasswordKey } from "../../mysql/users.ts";
import type { BuilderOptions } from "./options.ts";
import {
  ANNOTATION_SECRET_VERSION,
  SECRET_VERSION,
  clusterIdentity,
  clusterOwnerReference,
  controllerNamespaceLabelSet,
  labelSet,
  names,
  sortedRecord,
} from "./meta.ts";

/** Eight fresh passwords: 16 CSPRNG bytes each, as 32 lower-case hex characters. */
export function generatePasswords(random: (size: number) => Uint8Array = randomBytes): MocoPasswords {
  const out: Partial<Record<PasswordKey, string>> = {};
  for (const key of PASSWORD_KEYS) out[key] = Buffer.from(random(16)).toString("hex");
  return Object.freeze(out as Record<PasswordKey, string>);
}

function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

function passwordData(passwords: MocoPasswords): Record<string, string> {
  const data: Record<string, string> = {};
  for (const key of PASSWORD_KEYS) data[key] = base64(passwords[key]);
  return sortedRecord(data);
}

/**
 * Controller-side Secret `<sys>/mysql-<ns>.<name>` (docs/objects.md#controller-secret): created once,
 * never updated, no owner reference (cross-namespace; the finalizer deletes it).
 */
export function buildControllerSecret(cluster: MySQLCluster, passwords: MocoPasswords, options: BuilderOptions): V1Secret {
  const id = clusterIdentity(cluster);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: names.controllerSecret(id.namespace, id.name),
      namespace: options.controllerNamespace,
      labels: controllerNamespaceLabelSet(id.name, id.namespace),
      annotations: { [ANNOTATION_SECRET_VERSION]: SECRET_VERSION },
    },
    data: passwordData(passwords),
  };
}

/** Thrown when a password Secret is unusable (missing version annotation or keys). */
export class PasswordSecretError extends Error {
  override name = "PasswordSecretError";
}

/**
 * Reads the eight passwords from a controller (or user) Secret. Refuses a Secret whose
 * `moco.cybozu.com/secret-version` is not "1" or that lacks a key; the error names the
 * Secret, never a value.
 */
export function passwordsFromSecret(secret: Pick<V1Secret, "metadata" | "data">): MocoPasswords {
  const where = `${secret.metadata?.namespace ?? ""}/${secret.metadata?.name ?? ""}`;
  const version = secret.metadata?.annotations?.[ANNOTATION_SECRET_VERSION];
  if (version !== SECRET_VERSION) {
    throw new PasswordSecretError(`Secret ${where} has no ${ANNOTATION_SECRET_VERSION}: "${SECRET_VERSION}" annotation`);
  }
  const out: Partial<Record<PasswordKey, string>> = {};
  for (const key of PASSWORD_KEYS) {
    const value = secret.data?.[key];
    if (value === undefined) throw new PasswordSecretError(`Secret ${where} has no key ${key}`);
    out[key] = Buffer.from(value, "base64").toString("utf8");
  }
  return Object.freeze(out as Record<PasswordKey, string>);
}

/** User Secret `moco-<name>` (docs/objects.md#secrets-in-the-cluster-namespace): the eight passwords, server-side applied. */
export function buildUserSecret(cluster: MySQLCluster, passwords: MocoPasswords): V1Secret {
  const id = clusterIdentity(cluster);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: names.userSecret(id.name),
      namespace: id.namespace,
      labels: labelSet(id.name),
      annotations: { [ANNOTATION_SECRET_VERSION]: SECRET_VERSION },
      ownerReferences: [clusterOwnerReference(id)],
    },
    data: passwordData(passwords),
  };
}

/** Go's `%q` for a string (strconv.Quote), one implementation for all of moco-ts. */
export { goQuote };

/** `[client]` file of one user: `user="…"`, `password="…"` and an optional `socket="…"`. */
export function myCnfClientFileText(user: string, password: string, socket?: string): string {
  let text = `[client]\nuser=${goQuote(user)}\npassword=${goQuote(password)}\n`;
  if (socket !== undefined) text += `socket=${goQuote(socket)}\n`;
  return text;
}

/** The credential files of Secret `moco-my-cnf-<name>`: key, user, password key, socket. */
export const MY_CNF_CREDENTIAL_FILES: readonly {
  readonly key: string;
  readonly user: string;
  readonly passwordKey: PasswordKey;
  readonly socket?: string;
}[] = Object.freeze([
  { key: "moco-admin-my.cnf", user: "moco-admin", passwordKey: "ADMIN_PASSWORD" },
  // moco-ts addition: the agent follows its password in this file (docs/password-rotation.md).
  { key: "moco-agent-my.cnf", user: "moco-agent", passwordKey: "AGENT_PASSWORD" },
  { key: "moco-backup-my.cnf", user: "moco-backup", passwordKey: "BACKUP_PASSWORD" },
  { key: "moco-exporter-my.cnf", user: "moco-exporter", passwordKey: "EXPORTER_PASSWORD", socket: "/run/mysqld.sock" },
  { key: "moco-readonly-my.cnf", user: "moco-readonly", passwordKey: "READONLY_PASSWORD" },
  { key: "moco-writable-my.cnf", user: "moco-writable", passwordKey: "WRITABLE_PASSWORD" },
]);

/** Secret `moco-my-cnf-<name>` with the five `[client]` files (docs/objects.md#secrets-in-the-cluster-namespace) and moco-ts's `moco-agent-my.cnf`. */
export function buildMyCnfSecret(cluster: MySQLCluster, passwords: MocoPasswords): V1Secret {
  const id = clusterIdentity(cluster);
  const data: Record<string, string> = {};
  for (const f of MY_CNF_CREDENTIAL_FILES) {
    data[f.key] = base64(myCnfClientFileText(f.user, passwords[f.passwordKey], f.socket));
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: names.myCnfSecret(id.name),
      namespace: id.namespace,
      labels: labelSet(id.name),
      annotations: { [ANNOTATION_SECRET_VERSION]: SECRET_VERSION },
      ownerReferences: [clusterOwnerReference(id)],
    },
    data: sortedRecord(data),
  };
}

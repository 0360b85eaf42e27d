// A password-rotation request (moco-ts addition, docs/password-rotation.md): the annotations
// the CLI writes on a MySQLCluster and the controller reads, their parsing, and the id the CLI
// makes. Shared by the CLI and the controller (src/controller/password-rotation.ts runs it).
import { MOCO_USER_NAMES, type MocoUserName } from "../mysql/users.ts";

/** On the MySQLCluster: a rotation request; the value is an id (any new value starts a new rotation). */
export const ANNOTATION_ROTATE_PASSWORD = "moco-ts.cybozu.com/rotate-password";
/** On the MySQLCluster: optional comma-separated MOCO user names (default: all eight). */
export const ANNOTATION_ROTATE_PASSWORD_USERS = "moco-ts.cybozu.com/rotate-password-users";

/** A request read from the MySQLCluster's annotations. */
export interface RotationRequest {
  readonly id: string;
  readonly users: readonly MocoUserName[];
}

/** Thrown for a malformed request or state; names the annotation, never a password. */
export class RotationInputError extends Error {
  override name = "RotationInputError";
}

export const ROTATION_ID_PATTERN = /^[A-Za-z0-9._-]{1,63}$/;

/** Parses a user list ("" or undefined = all eight); rejects unknown names. */
export function parseRotationUsers(text: string | undefined, field: string): MocoUserName[] {
  if (text === undefined || text.trim() === "") return [...MOCO_USER_NAMES];
  const out: MocoUserName[] = [];
  for (const raw of text.split(",")) {
    const name = raw.trim();
    if (!(MOCO_USER_NAMES as readonly string[]).includes(name)) {
      throw new RotationInputError(`${field}: unknown user ${JSON.stringify(name)} (one of ${MOCO_USER_NAMES.join(", ")})`);
    }
    if (!out.includes(name as MocoUserName)) out.push(name as MocoUserName);
  }
  // Keep MOCO's order, so the same set always reads the same.
  return MOCO_USER_NAMES.filter((n) => out.includes(n));
}

/** The request on a MySQLCluster, or null when there is none. */
export function rotationRequestOf(annotations: Readonly<Record<string, string>> | undefined): RotationRequest | null {
  const id = annotations?.[ANNOTATION_ROTATE_PASSWORD];
  if (id === undefined || id === "") return null;
  if (!ROTATION_ID_PATTERN.test(id)) {
    throw new RotationInputError(`annotation ${ANNOTATION_ROTATE_PASSWORD}: ${JSON.stringify(id)} is not 1-63 of [A-Za-z0-9._-]`);
  }
  return { id, users: parseRotationUsers(annotations?.[ANNOTATION_ROTATE_PASSWORD_USERS], `annotation ${ANNOTATION_ROTATE_PASSWORD_USERS}`) };
}

/** A fresh request id for the CLI: UTC time plus 4 random hex characters. */
export function newRotationId(now: Date, randomHex: string): string {
  return `${now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${randomHex}`.toLowerCase();
}

// Rotation of the MOCO users' passwords (moco-ts addition; docs/password-rotation.md): the
// persisted state machine and its pure decision. No I/O here: password-rotator.ts observes
// the instances, Secrets and consumers, asks `decideRotationStep` for one step, and runs it.
//
// The state lives in the controller Secret `<sys>/mysql-<ns>.<name>`, the one object every
// phase already writes, so a single update (guarded by its resourceVersion) moves the
// phase and the passwords together:
//   - annotation ROTATION_STATE_ANNOTATION: JSON {id, phase, users, distributedAt?};
//   - data `PENDING_<KEY>`: the new password of each rotated user, written before MySQL
//     sees it, so a controller killed after the ALTER still knows it;
//   - annotation ROTATION_COMPLETED_ANNOTATION: the id of the last finished rotation, so a
//     request annotation left on the MySQLCluster is not run twice.
//
// Phases, in order (each entered by one Secret update; the work of a phase is idempotent):
//   Retaining   pending passwords stored; `ALTER USER … RETAIN CURRENT PASSWORD` on the
//               primary for each user the primary does not accept the new password of yet;
//               left once every instance (replicas through replication) accepts them.
//   Confirming  the controller Secret's keys hold the new passwords (the reconciler copies
//               them to the user Secrets); replicas get the new replication password;
//               left once every consumer is confirmed (secrets, replicas, agents, exporters,
//               jobs started before the switch).
//   Discarding  `ALTER USER … DISCARD OLD PASSWORD` on the primary, then the state is removed.
// Until Discarding both passwords are valid, so no consumer ever holds a rejected one.
import { PASSWORD_KEYS, mocoUser, type MocoPasswords, type MocoUserName, type PasswordKey } from "../mysql/users.ts";
import { ROTATION_ID_PATTERN, RotationInputError, parseRotationUsers, type RotationRequest } from "../shared/rotation-request.ts";
// The request (annotations on the MySQLCluster, written by the CLI) lives in src/shared/.
export {
  ANNOTATION_ROTATE_PASSWORD,
  ANNOTATION_ROTATE_PASSWORD_USERS,
  RotationInputError,
  newRotationId,
  parseRotationUsers,
  rotationRequestOf,
  type RotationRequest,
} from "../shared/rotation-request.ts";

/** On the controller Secret: the rotation in progress (JSON RotationState). */
export const ROTATION_STATE_ANNOTATION = "moco-ts.cybozu.com/password-rotation";
/** On the controller Secret: the id of the last completed rotation. */
export const ROTATION_COMPLETED_ANNOTATION = "moco-ts.cybozu.com/password-rotation-completed";
/** Prefix of the controller Secret keys holding the new passwords during a rotation. */
export const PENDING_PREFIX = "PENDING_";

export const ROTATION_PHASES = ["Retaining", "Confirming", "Discarding"] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

export interface RotationState {
  readonly id: string;
  readonly phase: RotationPhase;
  readonly users: readonly MocoUserName[];
  /** RFC 3339 time the controller Secret switched to the new passwords (Confirming on). */
  readonly distributedAt?: string;
}

/** Reads the persisted state from the controller Secret's annotations (null: none). */
export function rotationStateOf(annotations: Readonly<Record<string, string>> | undefined): RotationState | null {
  const raw = annotations?.[ROTATION_STATE_ANNOTATION];
  if (raw === undefined || raw === "") return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new RotationInputError(`annotation ${ROTATION_STATE_ANNOTATION} is not JSON`);
  }
  const o = v as Partial<Record<keyof RotationState, unknown>>;
  if (typeof o.id !== "string" || !ROTATION_ID_PATTERN.test(o.id)) throw new RotationInputError(`annotation ${ROTATION_STATE_ANNOTATION}: bad id`);
  if (typeof o.phase !== "string" || !(ROTATION_PHASES as readonly string[]).includes(o.phase)) {
    throw new RotationInputError(`annotation ${ROTATION_STATE_ANNOTATION}: bad phase`);
  }
  if (!Array.isArray(o.users)) throw new RotationInputError(`annotation ${ROTATION_STATE_ANNOTATION}: bad users`);
  const users = parseRotationUsers(o.users.join(","), `annotation ${ROTATION_STATE_ANNOTATION} users`);
  const state: RotationState = { id: o.id, phase: o.phase as RotationPhase, users };
  if (typeof o.distributedAt === "string") return { ...state, distributedAt: o.distributedAt };
  return state;
}

export function encodeRotationState(state: RotationState): string {
  return JSON.stringify({ id: state.id, phase: state.phase, users: state.users, ...(state.distributedAt === undefined ? {} : { distributedAt: state.distributedAt }) });
}

/** The Secret keys of the rotated users. */
export function rotatedKeys(users: readonly MocoUserName[]): PasswordKey[] {
  return PASSWORD_KEYS.filter((k) => users.some((u) => mocoUser(u).passwordKey === k));
}

/** The new passwords stored under `PENDING_<KEY>` (data already decoded), or an error naming the missing key. */
export function pendingPasswords(users: readonly MocoUserName[], decoded: Readonly<Record<string, string | undefined>>): Partial<MocoPasswords> {
  const out: Partial<Record<PasswordKey, string>> = {};
  for (const key of rotatedKeys(users)) {
    const v = decoded[PENDING_PREFIX + key];
    if (v === undefined || v === "") throw new RotationInputError(`the controller Secret has no key ${PENDING_PREFIX}${key} for the rotation in progress`);
    out[key] = v;
  }
  return out;
}

// ---- the decision ------------------------------------------------------------------

/** One consumer of the passwords and whether it is known to use the new ones. */
export interface ConsumerCheck {
  /** e.g. "user Secret", "replica 2", "agent of moco-x-1" (never a password). */
  readonly name: string;
  readonly confirmed: boolean;
  /** Why not confirmed (shown in the Event / status). */
  readonly reason?: string;
}

/** What the executor observed for this pass (only the part the phase needs). */
export interface RotationObservation {
  readonly request: RotationRequest | null;
  readonly state: RotationState | null;
  readonly lastCompleted: string | null;
  /** Retaining: per instance, whether it accepts the new password of every rotated user (null: unreachable). */
  readonly acceptsNew?: readonly { readonly ordinal: number; readonly accepts: boolean | null }[];
  readonly primaryOrdinal?: number;
  /** Confirming: the consumers' checks. */
  readonly consumers?: readonly ConsumerCheck[];
}

export type RotationStep =
  | { readonly kind: "idle" }
  /** Generate the new passwords, store them as PENDING_*, phase Retaining. */
  | { readonly kind: "start"; readonly request: RotationRequest }
  /** ALTER … RETAIN on the primary for the users it does not accept the new password of yet. */
  | { readonly kind: "retain"; readonly ordinal: number }
  /** Switch the controller Secret's keys to the new passwords, phase Confirming. */
  | { readonly kind: "distribute" }
  /** Bring the consumers up to date (replicas' replication password) and check again. */
  | { readonly kind: "confirm"; readonly waitingFor: readonly ConsumerCheck[] }
  /** Phase Discarding (persisted first), then DISCARD OLD PASSWORD on the primary. */
  | { readonly kind: "discard" }
  /** Remove PENDING_* and the state; record the id as completed. */
  | { readonly kind: "finish" }
  | { readonly kind: "wait"; readonly reason: string };

/** The one step to take now (pure). */
export function decideRotationStep(o: RotationObservation): RotationStep {
  const s = o.state;
  if (s === null) {
    if (o.request === null || o.request.id === o.lastCompleted) return { kind: "idle" };
    return { kind: "start", request: o.request };
  }
  switch (s.phase) {
    case "Retaining": {
      const acc = o.acceptsNew;
      const p = o.primaryOrdinal;
      if (acc === undefined || p === undefined || p < 0) return { kind: "wait", reason: "the primary is not known yet" };
      const primary = acc.find((a) => a.ordinal === p);
      if (primary === undefined || primary.accepts === null) return { kind: "wait", reason: `the primary (instance ${p}) is not reachable` };
      if (!primary.accepts) return { kind: "retain", ordinal: p };
      const behind = acc.filter((a) => a.accepts !== true).map((a) => a.ordinal);
      if (behind.length > 0) {
        return { kind: "wait", reason: `instance ${behind.join(", ")} does not accept the new passwords yet (unreachable or behind the primary)` };
      }
      return { kind: "distribute" };
    }
    case "Confirming": {
      const waiting = (o.consumers ?? []).filter((c) => !c.confirmed);
      if (o.consumers === undefined || waiting.length > 0) return { kind: "confirm", waitingFor: waiting };
      return { kind: "discard" };
    }
    case "Discarding":
      return { kind: "finish" };
    default: {
      const never: never = s.phase;
      throw new Error(`unknown rotation phase ${String(never)}`);
    }
  }
}

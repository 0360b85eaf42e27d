// The password rotation's phase machine (src/controller/password-rotation.ts): one table of
// observations → step, plus the parsing of the request and of the persisted state.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ANNOTATION_ROTATE_PASSWORD,
  ANNOTATION_ROTATE_PASSWORD_USERS,
  ROTATION_STATE_ANNOTATION,
  RotationInputError,
  decideRotationStep,
  encodeRotationState,
  newRotationId,
  pendingPasswords,
  rotatedKeys,
  rotationRequestOf,
  rotationStateOf,
  type RotationObservation,
  type RotationState,
  type RotationStep,
} from "../../../src/controller/password-rotation.ts";
import { MOCO_USER_NAMES } from "../../../src/mysql/users.ts";

const all = [...MOCO_USER_NAMES];
const req = { id: "r1", users: all };
const st = (phase: RotationState["phase"]): RotationState => ({ id: "r1", phase, users: all });
const ok = (name: string) => ({ name, confirmed: true });
const no = (name: string, reason: string) => ({ name, confirmed: false, reason });

const cases: { name: string; obs: RotationObservation; want: RotationStep }[] = [
  { name: "no request, no state: idle", obs: { request: null, state: null, lastCompleted: null }, want: { kind: "idle" } },
  { name: "request already completed: idle", obs: { request: req, state: null, lastCompleted: "r1" }, want: { kind: "idle" } },
  { name: "new request: start", obs: { request: req, state: null, lastCompleted: "r0" }, want: { kind: "start", request: req } },
  {
    name: "Retaining, primary unknown: wait",
    obs: { request: req, state: st("Retaining"), lastCompleted: null, acceptsNew: [], primaryOrdinal: -1 },
    want: { kind: "wait", reason: "the primary is not known yet" },
  },
  {
    name: "Retaining, primary unreachable: wait (never ALTER elsewhere)",
    obs: { request: req, state: st("Retaining"), lastCompleted: null, acceptsNew: [{ ordinal: 0, accepts: null }, { ordinal: 1, accepts: false }], primaryOrdinal: 0 },
    want: { kind: "wait", reason: "the primary (instance 0) is not reachable" },
  },
  {
    name: "Retaining, primary does not accept: retain on the primary",
    obs: { request: req, state: st("Retaining"), lastCompleted: null, acceptsNew: [{ ordinal: 0, accepts: false }, { ordinal: 1, accepts: true }, { ordinal: 2, accepts: false }], primaryOrdinal: 2 },
    want: { kind: "retain", ordinal: 2 },
  },
  {
    name: "Retaining, a replica down: wait, the Secret keeps the old passwords",
    obs: { request: req, state: st("Retaining"), lastCompleted: null, acceptsNew: [{ ordinal: 0, accepts: true }, { ordinal: 1, accepts: null }, { ordinal: 2, accepts: true }], primaryOrdinal: 0 },
    want: { kind: "wait", reason: "instance 1 does not accept the new passwords yet (unreachable or behind the primary)" },
  },
  {
    name: "Retaining, every instance accepts: distribute",
    obs: { request: req, state: st("Retaining"), lastCompleted: null, acceptsNew: [{ ordinal: 0, accepts: true }, { ordinal: 1, accepts: true }], primaryOrdinal: 0 },
    want: { kind: "distribute" },
  },
  {
    name: "Retaining goes on when the request annotation was removed",
    obs: { request: null, state: st("Retaining"), lastCompleted: null, acceptsNew: [{ ordinal: 0, accepts: true }], primaryOrdinal: 0 },
    want: { kind: "distribute" },
  },
  {
    name: "Confirming, not observed: confirm",
    obs: { request: req, state: st("Confirming"), lastCompleted: null },
    want: { kind: "confirm", waitingFor: [] },
  },
  {
    name: "Confirming, a replica not updated: confirm, listing it",
    obs: { request: req, state: st("Confirming"), lastCompleted: null, consumers: [ok("user Secret"), no("replica 2", "unreachable")] },
    want: { kind: "confirm", waitingFor: [no("replica 2", "unreachable")] },
  },
  {
    name: "Confirming, every consumer confirmed: discard",
    obs: { request: req, state: st("Confirming"), lastCompleted: null, consumers: [ok("user Secret"), ok("replica 1")] },
    want: { kind: "discard" },
  },
  {
    name: "Confirming with no consumers to check: discard",
    obs: { request: req, state: st("Confirming"), lastCompleted: null, consumers: [] },
    want: { kind: "discard" },
  },
  { name: "Discarding: finish", obs: { request: req, state: st("Discarding"), lastCompleted: null }, want: { kind: "finish" } },
  {
    name: "a new request while one runs: the running one goes on",
    obs: { request: { id: "r2", users: ["moco-admin"] }, state: st("Discarding"), lastCompleted: "r0" },
    want: { kind: "finish" },
  },
];

describe("decideRotationStep", () => {
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(decideRotationStep(c.obs), c.want);
    });
  }
});

describe("rotation request and state", () => {
  const bad: { name: string; annotations: Record<string, string>; match: RegExp }[] = [
    { name: "unknown user", annotations: { [ANNOTATION_ROTATE_PASSWORD]: "x", [ANNOTATION_ROTATE_PASSWORD_USERS]: "moco-admin,root" }, match: /rotate-password-users: unknown user "root"/ },
    { name: "bad id", annotations: { [ANNOTATION_ROTATE_PASSWORD]: "a b" }, match: /rotate-password: "a b" is not/ },
  ];
  for (const b of bad) {
    it(`refuses a request with ${b.name}, naming the annotation`, () => {
      assert.throws(() => rotationRequestOf(b.annotations), (e: unknown) => e instanceof RotationInputError && b.match.test(e.message));
    });
  }
  it("reads a request: users in MOCO's order, duplicates dropped, default all", () => {
    assert.equal(rotationRequestOf({}), null);
    assert.deepEqual(rotationRequestOf({ [ANNOTATION_ROTATE_PASSWORD]: "r1" }), { id: "r1", users: all });
    assert.deepEqual(
      rotationRequestOf({ [ANNOTATION_ROTATE_PASSWORD]: "r1", [ANNOTATION_ROTATE_PASSWORD_USERS]: " moco-repl, moco-admin,moco-repl" }),
      { id: "r1", users: ["moco-admin", "moco-repl"] },
    );
  });
  it("round-trips the persisted state and refuses a corrupt one", () => {
    const s: RotationState = { id: "r9", phase: "Confirming", users: ["moco-agent", "moco-exporter"], distributedAt: "2026-12-07T05:00:00Z" };
    assert.deepEqual(rotationStateOf({ [ROTATION_STATE_ANNOTATION]: encodeRotationState(s) }), s);
    assert.equal(rotationStateOf({}), null);
    for (const raw of ["{", JSON.stringify({ id: "r", phase: "Nope", users: [] }), JSON.stringify({ id: "r", phase: "Retaining", users: ["x"] })]) {
      assert.throws(() => rotationStateOf({ [ROTATION_STATE_ANNOTATION]: raw }), RotationInputError);
    }
  });
  it("maps users to Secret keys and requires every pending key, naming only the key", () => {
    assert.deepEqual(rotatedKeys(["moco-repl", "moco-admin"]), ["ADMIN_PASSWORD", "REPLICATION_PASSWORD"]);
    assert.deepEqual(pendingPasswords(["moco-admin"], { PENDING_ADMIN_PASSWORD: "s3cret" }), { ADMIN_PASSWORD: "s3cret" });
    assert.throws(
      () => pendingPasswords(["moco-admin", "moco-repl"], { PENDING_ADMIN_PASSWORD: "s3cret" }),
      (e: unknown) => e instanceof Error && /PENDING_REPLICATION_PASSWORD/.test(e.message) && !e.message.includes("s3cret"),
    );
  });
  it("makes request ids that the request parser accepts", () => {
    const id = newRotationId(new Date("2026-12-07T05:30:00.123Z"), "a1b2");
    assert.equal(id, "20261207t053000z-a1b2");
    assert.equal(rotationRequestOf({ [ANNOTATION_ROTATE_PASSWORD]: id })?.id, id);
  });
});

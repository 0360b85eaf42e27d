// Clone request validation, the service's refusals before any CLONE statement runs,
// secret redaction and the metrics of the agent.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { CloneService, validateCloneRequest, DEFAULT_BOOT_TIMEOUT_SECONDS } from "../../../src/agent/clone.ts";
import { isControllerSubject } from "../../../src/agent/clone-server.ts";
import type { Queryable } from "../../../src/mysql/query.ts";
import { redactSecrets, safeErrorMessage } from "../../../src/agent/log.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { createAgentMetrics } from "../../../src/agent/metrics.ts";

const valid = {
  host: "moco-donor-0.moco-donor.ns.svc", port: 3306, user: "moco-clone-donor", password: "p4ss-donor",
  init_user: "moco-init", init_password: "p4ss-init",
};

const OWN = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const OTHER = "4b2c4e50-0000-11e1-9e33-c80aa9429562";

describe("validateCloneRequest", () => {
  it("accepts a full request and defaults the boot timeout", () => {
    const r = validateCloneRequest(valid);
    assert.ok(r.ok);
    assert.deepEqual(r.request, { ...valid, boot_timeout_seconds: DEFAULT_BOOT_TIMEOUT_SECONDS, verify_donor_tls: false, discard_errant_gtids: "" });
    const d = validateCloneRequest({ ...valid, discard_errant_gtids: `${OWN}:1-x` });
    assert.ok(!d.ok && /discard_errant_gtids/.test(d.message), "a malformed interval");
    const e = validateCloneRequest({ ...valid, discard_errant_gtids: `${OWN.toUpperCase()}:11-12` });
    assert.ok(e.ok && e.request.discard_errant_gtids === `${OWN}:11-12`, "the set is normalised");
    const v = validateCloneRequest({ ...valid, verify_donor_tls: true });
    assert.ok(v.ok && v.request.verify_donor_tls);
    const t = validateCloneRequest({ ...valid, boot_timeout_seconds: 30 });
    assert.ok(t.ok && t.request.boot_timeout_seconds === 30);
    const z = validateCloneRequest({ ...valid, boot_timeout_seconds: 0 });
    assert.ok(z.ok && z.request.boot_timeout_seconds === DEFAULT_BOOT_TIMEOUT_SECONDS, "0 means unset, like an empty Duration");
    assert.ok(validateCloneRequest({ ...valid, host: "10.1.2.3", password: "" }).ok);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ["not an object", "x", /JSON object/],
    ["array", [], /JSON object/],
    ["unknown field", { ...valid, extra: 1 }, /unknown fields: extra/],
    ["missing host", { ...valid, host: "" }, /host/],
    ["IPv6 host", { ...valid, host: "fd00::1" }, /IPv6/],
    ["host with a comma (two donors)", { ...valid, host: "a,b" }, /invalid host/],
    ["host with a quote", { ...valid, host: "a'b" }, /invalid host/],
    ["port 0", { ...valid, port: 0 }, /port/],
    ["port too large", { ...valid, port: 70000 }, /port/],
    ["port as string", { ...valid, port: "3306" }, /port/],
    ["empty user", { ...valid, user: "" }, /^user/],
    ["long init user", { ...valid, init_user: "x".repeat(33) }, /init_user/],
    ["password not a string", { ...valid, password: 5 }, /^password must be a string/],
    ["negative boot timeout", { ...valid, boot_timeout_seconds: -1 }, /boot_timeout_seconds/],
    ["verify_donor_tls not a boolean", { ...valid, verify_donor_tls: "yes" }, /verify_donor_tls must be a boolean/],
    ["discard_errant_gtids not a string", { ...valid, discard_errant_gtids: 5 }, /discard_errant_gtids must be a string/],
    ["discard_errant_gtids malformed", { ...valid, discard_errant_gtids: "x:1" }, /discard_errant_gtids: malformed UUID/],
  ];
  for (const [name, body, message] of bad) {
    it(`rejects ${name}`, () => {
      const r = validateCloneRequest(body);
      assert.ok(!r.ok);
      assert.match(r.message, message);
      assert.ok(!r.message.includes("p4ss"), "no password in the message");
    });
  }
});

function fakeDb(handler: (sql: string) => Promise<unknown[]>): Queryable {
  return {
    query: async (q: string | { sql: string }) => [await handler(typeof q === "string" ? q : q.sql), []],
  } as unknown as Queryable;
}
const allPasswords = {
  ADMIN_PASSWORD: "s1", AGENT_PASSWORD: "s2", REPLICATION_PASSWORD: "s3", CLONE_DONOR_PASSWORD: "s4",
  EXPORTER_PASSWORD: "s5", BACKUP_PASSWORD: "s6", READONLY_PASSWORD: "s7", WRITABLE_PASSWORD: "s8",
};

describe("CloneService refusals", () => {
  const request = { ...valid, boot_timeout_seconds: 1, verify_donor_tls: false, discard_errant_gtids: "" };

  it("refuses a recipient that has executed transactions (FAILED_PRECONDITION), counting nothing", async () => {
    const metrics = createAgentMetrics("c", 0, { defaultMetrics: false });
    const db = fakeDb(async () => [{ g: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5" }]);
    const svc = new CloneService({ agentDb: db, socketPath: "/nonexistent", agentPassword: "s2", passwords: allPasswords, metrics, logger: silentLogger() });
    assert.deepEqual(await svc.clone(request), { ok: false, code: "FAILED_PRECONDITION", message: "recipient is not empty" });
    assert.equal((await metrics.cloneCount.get()).values[0]?.value, 0);
  });

  // An errant former primary (docs/clustering.md "Errant former primary"): executed OWN:1-12, server_uuid OWN.
  const formerPrimary = (discard: string, setDonorList: () => never) => {
    const db = fakeDb(async (sql) => {
      if (/gtid_executed/.test(sql)) return [{ g: `${OWN}:1-12` }];
      if (/server_uuid/.test(sql)) return [{ u: OWN.toUpperCase() }];
      if (/clone_valid_donor_list/.test(sql)) setDonorList();
      throw new Error(`unexpected ${sql}`);
    });
    const svc = new CloneService({ agentDb: db, socketPath: "/nonexistent", agentPassword: "s2", passwords: allPasswords, metrics: createAgentMetrics("c", 0, { defaultMetrics: false }), logger: silentLogger() });
    return svc.clone({ ...request, discard_errant_gtids: discard });
  };
  const reached = () => { throw new Error("reached the clone"); };
  const refusals: Array<[string, string]> = [
    ["a foreign transaction", `${OTHER}:1`],
    ["its own transactions it does not hold", `${OWN}:12-13`],
    ["its own and a foreign one", `${OWN}:11-12,${OTHER}:1`],
  ];
  for (const [name, discard] of refusals) {
    it(`refuses to clone over data when discard_errant_gtids names ${name} (FAILED_PRECONDITION)`, async () => {
      const out = await formerPrimary(discard, reached);
      assert.ok(!out.ok && out.code === "FAILED_PRECONDITION", JSON.stringify(out));
      assert.match(out.message, /not a set of its own executed transactions/);
    });
  }
  it("clones over its own executed transactions named in discard_errant_gtids (gets past the precondition)", async () => {
    const out = await formerPrimary(`${OWN}:11-12`, reached);
    assert.ok(!out.ok && out.code === "INTERNAL" && /clone_valid_donor_list: .*reached the clone/.test(out.message), JSON.stringify(out));
  });

  it("reports a failed GTID read as INTERNAL without secrets", async () => {
    const db = fakeDb(async () => {
      throw Object.assign(new Error("Access denied for user 'moco-agent' using password p4ss-donor"), { errno: 1045, code: "ER_ACCESS_DENIED_ERROR" });
    });
    const svc = new CloneService({ agentDb: db, socketPath: "/x", agentPassword: "s2", passwords: allPasswords, metrics: createAgentMetrics("c", 0, { defaultMetrics: false }), logger: silentLogger() });
    const out = await svc.clone(request);
    assert.ok(!out.ok && out.code === "INTERNAL");
    assert.match(out.message, /ER_ACCESS_DENIED_ERROR \(1045\)/);
    assert.ok(!out.message.includes("p4ss-donor"));
  });

  it("refuses to start without all eight passwords", async () => {
    const { READONLY_PASSWORD: _r, ...partial } = allPasswords;
    const svc = new CloneService({ agentDb: fakeDb(async () => [{ g: "" }]), socketPath: "/x", agentPassword: "s2", passwords: partial, metrics: createAgentMetrics("c", 0, { defaultMetrics: false }), logger: silentLogger() });
    const out = await svc.clone(request);
    assert.ok(!out.ok && out.code === "INTERNAL" && /READONLY_PASSWORD/.test(out.message));
  });

  it("refuses verify_donor_tls without the agent's TLS directory (FAILED_PRECONDITION), counting nothing", async () => {
    const metrics = createAgentMetrics("c", 0, { defaultMetrics: false });
    const db = fakeDb(async () => [{ g: "" }]);
    const svc = new CloneService({ agentDb: db, socketPath: "/nonexistent", agentPassword: "s2", passwords: allPasswords, metrics, logger: silentLogger() });
    assert.deepEqual(await svc.clone({ ...request, verify_donor_tls: true }), {
      ok: false, code: "FAILED_PRECONDITION", message: "verify_donor_tls needs the agent's TLS directory (MYSQL_TLS_DIR)",
    });
    assert.equal((await metrics.cloneCount.get()).values[0]?.value, 0);
  });

  it("runs one clone at a time (RESOURCE_EXHAUSTED)", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const db = fakeDb(async () => {
      await gate;
      return [{ g: "x:1" }];
    });
    const svc = new CloneService({ agentDb: db, socketPath: "/x", agentPassword: "s2", passwords: allPasswords, metrics: createAgentMetrics("c", 0, { defaultMetrics: false }), logger: silentLogger() });
    const first = svc.clone(request);
    assert.equal(svc.inProgress, true);
    assert.deepEqual(await svc.clone(request), { ok: false, code: "RESOURCE_EXHAUSTED", message: "another request is undergoing" });
    release();
    const out = await first;
    assert.ok(!out.ok && out.code === "INTERNAL", "x:1 is not a GTID set");
    assert.equal(svc.inProgress, false);
  });
});

describe("secrets and subjects", () => {
  it("redacts every secret, longest first", () => {
    assert.equal(redactSecrets("pw=abc and abcdef", ["abc", "abcdef", "", undefined]), "pw=[redacted] and [redacted]");
    assert.equal(safeErrorMessage(new Error("near 'IDENTIFIED BY 'hunter2''"), ["hunter2"]), "near 'IDENTIFIED BY '[redacted]''");
    assert.equal(safeErrorMessage("plain"), "plain");
  });

  it("accepts exactly CN=moco-controller", () => {
    assert.equal(isControllerSubject({ CN: "moco-controller" }), true);
    assert.equal(isControllerSubject({ CN: "moco-controller2" }), false);
    assert.equal(isControllerSubject({ CN: ["moco-controller", "x"] }), false);
    assert.equal(isControllerSubject({ O: "moco-controller" }), false);
    assert.equal(isControllerSubject(undefined), false);
  });
});

describe("agent metrics", () => {
  it("names moco_instance_* with name and index labels, and registers the delay gauge only while set", async () => {
    const m = createAgentMetrics("mycluster", 2, { defaultMetrics: false });
    let text = await m.registry.metrics();
    for (const name of ["clone_count", "clone_failure_count", "clone_in_progress", "log_rotation_count", "log_rotation_failure_count", "self_fence_count", "self_fence_failure_count"]) {
      assert.match(text, new RegExp(`^moco_instance_${name}\\{name="mycluster",index="2"\\} 0$`, "m"));
    }
    assert.match(text, /^# TYPE moco_instance_clone_duration_seconds summary$/m);
    assert.match(text, /^# TYPE moco_instance_log_rotation_duration_seconds summary$/m);
    assert.doesNotMatch(text, /replication_delay_seconds/);
    m.applyDelayGauge({ kind: "set", seconds: 4.5 });
    text = await m.registry.metrics();
    assert.match(text, /^moco_instance_replication_delay_seconds\{name="mycluster",index="2"\} 4.5$/m);
    m.applyDelayGauge({ kind: "keep" });
    assert.match(await m.registry.metrics(), /replication_delay_seconds\{/);
    m.applyDelayGauge({ kind: "unregister" });
    assert.doesNotMatch(await m.registry.metrics(), /replication_delay_seconds/);
    m.applyDelayGauge({ kind: "set", seconds: 1 });
    assert.match(await m.registry.metrics(), /replication_delay_seconds\{name="mycluster",index="2"\} 1$/m);
  });
});

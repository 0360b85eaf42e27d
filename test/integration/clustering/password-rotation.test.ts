// Password rotation (src/controller/password-rotator.ts) on three real mysqld 9.7 and a
// real kube-apiserver, with the clustering engine running and a writer inserting through
// the primary. The controller Secret and the user Secret are real Secrets; the engine reads
// its passwords from the user Secret on every pass. What the reconciler, the kubelet and the
// agent do in a cluster is played by `syncConsumers`: the controller Secret's passwords are
// copied to the user Secret, and the "agent" side (readiness, writers, the system-client
// checker below) takes them from there one step later, as a mounted file lags its Secret.
//
// Shown: every user rotated with a replica down at the start (the rotation waits for it and
// keeps the old passwords in the Secrets meanwhile), a long backup-like session that
// reconnects with the password it started with, no access-denied login of any system
// client at any time, replicas reconnecting with the new replication password, old
// passwords rejected at the end, no acknowledged insert lost; then a crash injected at each
// step (a fresh rotator takes over each time) and the rotation still completes.
//
// The agents are real (src/agent/agent.ts, in-process, one per instance, started once):
// each follows its moco-agent-my.cnf file, which `syncConsumers` rewrites from the user
// Secret one step late (as kubelet refreshes a mounted Secret), and the kubelet's probes
// are played by calling each agent's readiness. The rotator confirms each agent through
// the fingerprint its sessions carry, so a rotation of moco-agent completes only once every
// agent has switched its pool to the new password, without a restart.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import type { V1Secret } from "@kubernetes/client-node";

import { startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { agentEnv, agentTestCerts, httpGet, testAgentFlags } from "../agent/helpers.ts";
import { startAgent, type RunningAgent } from "../../../src/agent/agent.ts";
import { agentSessionsWithFingerprint, passwordFingerprint } from "../../../src/mysql/password-id.ts";
import { BackgroundLoop, ClusterHarness, Writer, createTestTable, idsOn, sleep } from "./harness.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { resources } from "../../../src/k8s/resource.ts";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { buildControllerSecret, buildMyCnfSecret, buildUserSecret, names, passwordsFromSecret, resolveBuilderOptions } from "../../../src/controller/builders/index.ts";
import {
  PasswordRotator,
  SqlRotationInstances,
  type RotationConsumers,
  type RotationInstances,
  type RotationSecretStore,
} from "../../../src/controller/password-rotator.ts";
import { ROTATION_STATE_ANNOTATION, rotationStateOf, type ConsumerCheck, type RotationRequest } from "../../../src/controller/password-rotation.ts";
import { MOCO_USERS, MOCO_USER_NAMES, PASSWORD_KEYS, mocoUser, type MocoPasswords, type MocoUserName } from "../../../src/mysql/users.ts";

const SYS = "moco-system";
const NS = "default";
const NAME = "rot";
const cluster = { apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name: NAME, namespace: NS, uid: "00000000-0000-4000-8000-000000000017" } } as MySQLCluster;
const options = resolveBuilderOptions({ controllerNamespace: SYS });
const SYSTEM_USERS = MOCO_USERS.filter((u) => u.system);

const same = (a: MocoPasswords, b: MocoPasswords): boolean => PASSWORD_KEYS.every((k) => a[k] === b[k]);

/** Logs in as every system user on every instance every 200 ms with the passwords the "agent" holds; counts access-denied logins. */
class SystemClients extends BackgroundLoop {
  readonly denied: string[] = [];
  logins = 0;
  private readonly h: ClusterHarness;
  constructor(h: ClusterHarness) {
    super();
    this.h = h;
  }
  protected async run(): Promise<void> {
    while (this.running) {
      const held = this.h.passwords;
      await Promise.all(this.h.instances.map(async (inst) => {
        if (!inst.running()) return;
        for (const u of SYSTEM_USERS) {
          try {
            const c = await mysql.createConnection({ host: inst.host, port: 3306, user: u.name, password: held[u.passwordKey], connectTimeout: 2000 });
            c.destroy();
            this.logins++;
          } catch (e) {
            // Only the server's refusal counts; an instance going down is not a password problem.
            if ((e as { errno?: number }).errno === 1045) this.denied.push(`${u.name}@${inst.index}`);
          }
        }
      }));
      await sleep(200);
    }
  }
}

/** A backup-like job: started with the passwords of its start, reconnects every 300 ms to read, until finished. */
class LongJob extends BackgroundLoop {
  readonly denied: string[] = [];
  reads = 0;
  private readonly host: string;
  private readonly password: string;
  constructor(h: ClusterHarness, ordinal: number) {
    super();
    this.host = h.inst(ordinal).host;
    this.password = h.passwords.BACKUP_PASSWORD;
    this.start();
  }
  protected async run(): Promise<void> {
    while (this.running) {
      try {
        const c = await mysql.createConnection({ host: this.host, port: 3306, user: "moco-backup", password: this.password, connectTimeout: 2000 });
        await c.query("SELECT COUNT(*) FROM test.t");
        c.destroy();
        this.reads++;
      } catch (e) {
        if ((e as { errno?: number }).errno === 1045) this.denied.push("moco-backup");
      }
      await sleep(300);
    }
  }
}

describe("password rotation on real mysqld and kube-apiserver", { timeout: 1_200_000 }, () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let h: ClusterHarness;
  let writer: Writer;
  let checker: SystemClients;
  let job: LongJob | null = null;
  const agents: RunningAgent[] = [];
  const agentLog: string[] = [];
  const agentDir = fs.mkdtempSync(path.join(os.tmpdir(), "moco-rotation-agents-"));
  const agentFile = (i: number) => path.join(agentDir, `agent-${i}`, "moco-agent-my.cnf");
  /** Replaces the file as kubelet does (a new file renamed into place), from the user Secret's passwords. */
  function writeAgentFiles(p: MocoPasswords): void {
    const text = Buffer.from(buildMyCnfSecret(cluster, p).data?.["moco-agent-my.cnf"] ?? "", "base64").toString();
    for (const inst of h.instances) {
      fs.mkdirSync(path.dirname(agentFile(inst.index)), { recursive: true });
      fs.writeFileSync(`${agentFile(inst.index)}.new`, text, { mode: 0o600 });
      fs.renameSync(`${agentFile(inst.index)}.new`, agentFile(inst.index));
    }
  }
  const userSecretPasswords = async (): Promise<MocoPasswords> =>
    passwordsFromSecret(await client.get<V1Secret>(resources.secrets, names.userSecret(NAME), NS));
  const controllerSecret = (): Promise<V1Secret> => client.get<V1Secret>(resources.secrets, names.controllerSecret(NS, NAME), SYS);

  /** The reconciler (controller Secret → user Secret), then the agent (user Secret → what it uses). */
  async function syncConsumers(): Promise<void> {
    const inUserSecret = await userSecretPasswords();
    const fresh = await client.get<V1Secret>(resources.secrets, names.userSecret(NAME), NS);
    const desired = buildUserSecret(cluster, passwordsFromSecret(await controllerSecret()));
    await client.update(resources.secrets, { ...fresh, data: desired.data });
    h.passwords = inUserSecret; // one step behind the Secret, like a mounted file
    writeAgentFiles(inUserSecret);
    // The kubelet's readiness probes: they keep one agent session open per instance.
    await Promise.all(agents.map((a) => a.readiness()));
  }

  const consumers: RotationConsumers = {
    async confirm(_state, passwords): Promise<ConsumerCheck[]> {
      return [
        { name: "user Secret", confirmed: same(await userSecretPasswords(), passwords) },
        { name: "agents", confirmed: same(h.passwords, passwords) },
        ...(job === null ? [] : [{ name: "backup job", confirmed: false, reason: "started before the switch" }]),
      ];
    },
  };
  const store: RotationSecretStore = {
    read: controllerSecret,
    replace: (next) => client.update<V1Secret>(resources.secrets, next),
  };
  const instances = (): SqlRotationInstances => new SqlRotationInstances({
    topology: async () => ({ ordinals: h.instances.map((i) => i.index), primary: h.cluster.status.currentPrimaryIndex }),
    address: async (i) => h.inst(i).host,
    port: 3306,
    adminPort: 33062,
    connectTimeoutMs: 2000,
  });

  /** Passes (each after a consumer sync) until the rotation `id` completes; returns the steps taken. */
  async function runRotation(
    request: RotationRequest,
    make: () => PasswordRotator,
    hook: (step: string, pass: number) => Promise<void> = async () => undefined,
  ): Promise<string[]> {
    const steps: string[] = [];
    let rotator = make();
    for (let pass = 0; pass < 400; pass++) {
      await syncConsumers();
      try {
        const r = await rotator.pass(request);
        steps.push(
          r.step.kind === "wait" ? `wait(${r.step.reason})`
          : r.step.kind === "confirm" ? `confirm(${r.step.waitingFor.map((w) => w.name).join("; ")})`
          : r.step.kind,
        );
        await hook(r.step.kind, pass);
        if (r.completed === request.id) return steps;
      } catch (e) {
        // A crash of the controller: the next pass is a new rotator with nothing in memory.
        steps.push(`crash(${(e as Error).message})`);
        rotator = make();
      }
      await sleep(250);
    }
    throw new Error(`rotation ${request.id} did not complete: ${steps.slice(-8).join(", ")}`);
  }

  /** Every instance accepts only the new passwords (replicas apply the DISCARD through replication: polled). */
  async function assertOnlyNewPasswords(users: readonly MocoUserName[], old: MocoPasswords, now: MocoPasswords): Promise<void> {
    const ins = instances();
    const wrong = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const inst of h.instances) {
        for (const name of users) {
          const key = mocoUser(name).passwordKey;
          if ((await ins.accepts(inst.index, name, now[key])) !== true) out.push(`${name}@${inst.index} refuses the new password`);
          if ((await ins.accepts(inst.index, name, old[key])) !== false) out.push(`${name}@${inst.index} accepts the old password`);
        }
      }
      return out;
    };
    let last: string[] = [];
    await h.waitFor("only the new passwords accepted", async () => (last = await wrong()).length === 0, 30_000).catch(() => undefined);
    assert.deepEqual(last, []);
  }

  /** Each replica reconnects (STOP/START REPLICA IO_THREAD) with its stored password: the receiver must run again. */
  async function assertReplicasReconnect(): Promise<void> {
    const p = h.cluster.status.currentPrimaryIndex;
    for (const inst of h.instances) {
      if (inst.index === p) continue;
      await h.query(inst.index, "STOP REPLICA IO_THREAD");
      await h.query(inst.index, "START REPLICA IO_THREAD");
      await h.waitFor(`replica ${inst.index} receiver running`, async () => {
        const [rs] = await h.query(inst.index, "SHOW REPLICA STATUS");
        return rs?.Replica_IO_Running === "Yes" && Number(rs?.Last_IO_Errno) === 0;
      }, 30_000);
    }
  }

  /**
   * The rotation waited for the agents, and each agent (the same process, never restarted)
   * now logs in with the new password: its sessions carry the new fingerprint, its health
   * check works with the old password discarded, and its log names no password.
   */
  async function assertAgentsSwitched(steps: readonly string[], now: MocoPasswords): Promise<void> {
    const agentWaits = steps.filter((s) => s.startsWith("confirm(") && s.includes("agent of instance")).length;
    assert.ok(agentWaits > 0, "the rotation waited for the agents");
    console.log(`the rotation waited ${agentWaits} pass(es) for the agents to switch`);
    const ins = instances();
    for (const [i, a] of agents.entries()) {
      assert.ok(a.credentials.password === now.AGENT_PASSWORD, `agent ${i} uses the new password`);
      await a.readiness();
      const [rows] = await ins.run(i, now.ADMIN_PASSWORD, [agentSessionsWithFingerprint(passwordFingerprint(now.AGENT_PASSWORD))]);
      assert.ok(Number(rows?.[0]?.n) > 0, `a session of agent ${i} carries the new fingerprint`);
      assert.equal((await httpGet(`http://127.0.0.1:${a.probePort}/healthz`)).status, 200, `agent ${i} is healthy`);
    }
    const log = agentLog.join("");
    assert.ok(log.includes("moco-agent password changed"), "the agents logged the switch");
    for (const p of [...Object.values(now), ...Object.values(h.passwords)]) assert.ok(!log.includes(p), "no password in the agents' log");
  }

  before(async () => {
    cp = await startControlPlane({ controllerManager: false });
    client = KubeClient.fromFile(cp.kubeconfig, { qps: 0 });
    await cp.kubectl(["create", "namespace", SYS]);
    h = await ClusterHarness.start({ replicas: 3, name: NAME, credentials: userSecretPasswords });
    await client.create(resources.secrets, buildControllerSecret(cluster, h.passwords, options));
    await client.create(resources.secrets, buildUserSecret(cluster, h.passwords));
    h.startManager();
    await h.waitHealthy(180_000);
    writeAgentFiles(h.passwords);
    const certs = agentTestCerts();
    const logStream = { write: (line: string) => void agentLog.push(line) };
    for (const inst of h.instances) {
      agents.push(await startAgent({
        flags: testAgentFlags(inst.socketPath, certs.serverDir),
        env: agentEnv(h.passwords, inst.index, NAME),
        logger: pino({ level: "debug" }, logStream),
        mysqldHost: inst.host,
        slowLogPath: `${inst.dir}/mysql.slow`,
        skipInitialization: true,
        defaultMetrics: false,
        credentialFile: agentFile(inst.index),
        credentialCheckIntervalMs: 300,
      }));
    }
    await createTestTable(h);
    writer = new Writer(h);
    writer.start();
    checker = new SystemClients(h);
    checker.start();
  });
  after(async () => {
    await job?.stop();
    await checker?.stop();
    for (const a of agents) await a.close();
    await writer?.stop();
    await h?.close();
    await cp?.stop();
  });

  it("rotates every user's password with a replica down at the start and a long job running", async () => {
    const old = h.passwords;
    const downReplica = [0, 1, 2].find((i) => i !== h.cluster.status.currentPrimaryIndex) ?? 2;
    await h.inst(downReplica).kill();
    job = new LongJob(h, h.cluster.status.currentPrimaryIndex);
    let waits = 0;
    let confirms = 0;
    const t0 = Date.now();
    const steps = await runRotation({ id: "r1", users: [...MOCO_USER_NAMES] }, () => new PasswordRotator(store, instances(), consumers), async (step) => {
      if (step === "wait") {
        waits++;
        // While the replica is down the Secrets keep the old passwords.
        assert.ok(same(passwordsFromSecret(await controllerSecret()), old), "the controller Secret still holds the old passwords");
        if (waits === 4) await h.inst(downReplica).start();
      }
      if (step === "confirm" && ++confirms === 3) {
        await job?.stop();
        job = null;
      }
    });
    const ms = Date.now() - t0;
    console.log(`rotation of 8 users: ${ms} ms, ${steps.length} passes; steps: ${[...new Set(steps.map((s) => s.replace(/\(.*/, "")))].join(" → ")}`);
    assert.ok(waits >= 4, "the rotation waited for the down replica");
    assert.ok(steps.includes("retain") && steps.includes("distribute") && steps.includes("discard"));
    const now = await userSecretPasswords();
    assert.ok(PASSWORD_KEYS.every((k) => now[k] !== old[k]), "every password changed");
    assert.equal(rotationStateOf((await controllerSecret()).metadata?.annotations), null, "no rotation left in progress");
    await assertOnlyNewPasswords(MOCO_USER_NAMES, old, now);
    await assertReplicasReconnect();
    assert.deepEqual(checker.denied, [], "no system client was refused at any time");
    assert.ok(checker.logins > 0);
    await assertAgentsSwitched(steps, now);
  });

  it("resumes after a crash at each step and completes", async () => {
    const crashes: { name: string; onWrite?: (s: V1Secret) => boolean; onRun?: (sql: string) => boolean }[] = [
      { name: "after storing the pending passwords", onWrite: (s) => rotationStateOf(s.metadata?.annotations)?.phase === "Retaining" },
      { name: "after ALTER … RETAIN on the primary", onRun: (sql) => sql.includes("RETAIN CURRENT PASSWORD") },
      { name: "after switching the Secret to the new passwords", onWrite: (s) => rotationStateOf(s.metadata?.annotations)?.phase === "Confirming" },
      { name: "after persisting Discarding, before DISCARD", onWrite: (s) => rotationStateOf(s.metadata?.annotations)?.phase === "Discarding" },
      { name: "after DISCARD, before removing the state", onRun: (sql) => sql.includes("DISCARD OLD PASSWORD") },
    ];
    for (const [i, crash] of crashes.entries()) {
      const users: MocoUserName[] = ["moco-admin", "moco-agent", "moco-repl", "moco-exporter"];
      const old = h.passwords;
      let fired = false;
      const make = (): PasswordRotator => {
        const real = instances();
        const faultyStore: RotationSecretStore = {
          read: store.read,
          async replace(next) {
            const out = await store.replace(next);
            if (!fired && crash.onWrite?.(next) === true) {
              fired = true;
              throw new Error(`killed ${crash.name}`);
            }
            return out;
          },
        };
        const faultyInstances: RotationInstances = {
          topology: () => real.topology(),
          accepts: (o, u, p) => real.accepts(o, u, p),
          async run(o, pw, statements) {
            const out = await real.run(o, pw, statements);
            if (!fired && statements.some((s) => crash.onRun?.(s.sql) === true)) {
              fired = true;
              throw new Error(`killed ${crash.name}`);
            }
            return out;
          },
        };
        return new PasswordRotator(faultyStore, faultyInstances, consumers);
      };
      const steps = await runRotation({ id: `crash-${i}`, users }, make);
      assert.ok(fired, `the crash "${crash.name}" happened`);
      assert.ok(steps.some((s) => s.startsWith("crash(")), steps.join(", "));
      const now = await userSecretPasswords();
      assert.equal(rotationStateOf((await controllerSecret()).metadata?.annotations), null);
      assert.equal((await controllerSecret()).metadata?.annotations?.[ROTATION_STATE_ANNOTATION], undefined);
      await assertOnlyNewPasswords(users, old, now);
      await assertAgentsSwitched(steps, now);
      console.log(`crash ${crash.name}: completed in ${steps.length} passes`);
    }
    await assertReplicasReconnect();
    assert.deepEqual(checker.denied, [], "no system client was refused at any time");
  });

  it("lost no acknowledged insert", async () => {
    await writer.stop();
    assert.ok(writer.acked.length > 0, "the writer inserted");
    const p = h.cluster.status.currentPrimaryIndex;
    await h.waitFor("the replicas to catch up", async () => {
      const onPrimary = await idsOn(h, p);
      for (const inst of h.instances) if ((await idsOn(h, inst.index)).size !== onPrimary.size) return false;
      return true;
    }, 60_000);
    for (const inst of h.instances) {
      const ids = await idsOn(h, inst.index);
      const missing = writer.acked.filter((id) => !ids.has(id));
      assert.deepEqual(missing, [], `instance ${inst.index} has every acknowledged insert`);
    }
    console.log(`acknowledged inserts: ${writer.acked.length}, none lost; system-client logins: ${checker.logins}, refused: ${checker.denied.length}`);
  });
});

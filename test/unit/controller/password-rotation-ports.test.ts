// Which consumers outside SQL use the new passwords (checkClusterConsumers, pure): the user
// Secrets, the exporter containers when their user is rotated, and backup / restore
// Jobs started before the switch.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1Job, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { buildMyCnfSecret, buildUserSecret } from "../../../src/controller/builders/index.ts";
import { checkClusterConsumers, rotationTls } from "../../../src/controller/password-rotation-ports.ts";
import type { ClusterTls } from "../../../src/clustering/ports.ts";
import type { RotationState } from "../../../src/controller/password-rotation.ts";
import { PASSWORD_KEYS, type MocoPasswords, type MocoUserName } from "../../../src/mysql/users.ts";

const cluster = { apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name: "c", namespace: "ns", uid: "u1" }, spec: { replicas: 2 } } as unknown as MySQLCluster;
const pw = (tag: string): MocoPasswords => Object.fromEntries(PASSWORD_KEYS.map((k) => [k, `${tag}-${k.toLowerCase()}-0123456789`])) as MocoPasswords;
const OLD = pw("old");
const NEW = pw("new");
const SWITCH = "2026-12-07T05:00:00Z";
const before = "2026-12-07T04:00:00Z";
const afterSwitch = "2026-12-07T05:00:30Z";

function pod(ordinal: number, started: { agent?: string; exporter?: string }): V1Pod {
  return {
    metadata: { name: `moco-c-${ordinal}` },
    spec: { containers: [{ name: "mysqld" }, { name: "agent" }, { name: "mysqld-exporter" }] },
    status: {
      containerStatuses: [
        { name: "agent", state: { running: { startedAt: new Date(started.agent ?? before) } } },
        { name: "mysqld-exporter", state: { running: { startedAt: new Date(started.exporter ?? before) } } },
      ],
    },
  } as unknown as V1Pod;
}
const job = (name: string, active: number, start: string, labels?: Record<string, string>): V1Job =>
  ({ metadata: { name, ...(labels === undefined ? {} : { labels }) }, status: { active, startTime: new Date(start) } } as unknown as V1Job);
/** The labels of the CronJob's job template (a Job made by `kubectl create job --from=cronjob/…` has them). */
const backupLabels = (cluster: string) => ({ "app.kubernetes.io/name": "mysql-backup", "app.kubernetes.io/instance": cluster, "app.kubernetes.io/created-by": "moco" });
const state = (users: MocoUserName[]): RotationState => ({ id: "r", phase: "Confirming", users, distributedAt: SWITCH });
const secrets = (p: MocoPasswords): { userSecret: V1Secret; myCnfSecret: V1Secret } => ({ userSecret: buildUserSecret(cluster, p), myCnfSecret: buildMyCnfSecret(cluster, p) });

const cases: {
  name: string; users: MocoUserName[]; secretsOf: MocoPasswords; pods: (V1Pod | undefined)[]; jobs?: V1Job[]; waiting: string[];
}[] = [
  { name: "Secrets not updated yet", users: ["moco-admin"], secretsOf: OLD, pods: [pod(0, {}), pod(1, {})], waiting: ["Secret moco-c", "Secret moco-my-cnf-c"] },
  { name: "moco-admin: nothing else to wait for, containers not restarted", users: ["moco-admin"], secretsOf: NEW, pods: [pod(0, {}), pod(1, {})], waiting: [] },
  {
    // The agents are confirmed through SQL by the rotator (their sessions' password fingerprint), not by restarts.
    name: "moco-agent: agent containers started before the switch are not waited for here",
    users: ["moco-agent"], secretsOf: NEW, pods: [pod(0, {}), pod(1, {})],
    waiting: [],
  },
  {
    name: "moco-agent and moco-exporter: only the exporters' restarts are waited for",
    users: ["moco-agent", "moco-exporter"], secretsOf: NEW, pods: [pod(0, { exporter: afterSwitch }), pod(1, { agent: afterSwitch })],
    waiting: ["container mysqld-exporter of Pod moco-c-1"],
  },
  {
    name: "moco-exporter: the exporters, a missing Pod waits",
    users: ["moco-exporter"], secretsOf: NEW, pods: [pod(0, { exporter: afterSwitch }), undefined],
    waiting: ["Pod moco-c-1"],
  },
  {
    name: "a backup Job started before the switch and still running waits; finished or later ones do not",
    users: ["moco-backup"], secretsOf: NEW, pods: [pod(0, {}), pod(1, {})],
    jobs: [job("moco-backup-c-123", 1, before), job("moco-backup-c-100", 0, before), job("moco-backup-c-124", 1, afterSwitch), job("moco-backup-other-1", 1, before), job("moco-restore-c", 1, before)],
    waiting: ["Job moco-backup-c-123", "Job moco-restore-c"],
  },
  {
    name: "a Job from the CronJob under another name (kubectl create job --from) is found by its labels",
    users: ["moco-backup"], secretsOf: NEW, pods: [],
    jobs: [job("emergency-1", 1, before, backupLabels("c")), job("emergency-2", 1, before, backupLabels("other"))],
    waiting: ["Job emergency-1"],
  },
];

describe("checkClusterConsumers", () => {
  for (const c of cases) {
    it(c.name, () => {
      const checks = checkClusterConsumers({ cluster, state: state(c.users), passwords: NEW, ...secrets(c.secretsOf), pods: c.pods, jobs: c.jobs ?? [] });
      assert.deepEqual(checks.filter((x) => !x.confirmed).map((x) => x.name), c.waiting);
      for (const x of checks) {
        for (const p of [...Object.values(OLD), ...Object.values(NEW)]) assert.ok(!(x.reason ?? "").includes(p) && !x.name.includes(p));
      }
    });
  }
});

describe("rotationTls (the rotator's sessions with spec.tls, as the engine's)", () => {
  const source = (tls: ClusterTls | null) => {
    let reads = 0;
    return { reads: () => reads, get: async () => { reads++; return tls; } };
  };
  it("verifies each instance mounting the certificate by CA and Pod name, reading the source once", async () => {
    const s = source({ ca: "CA", serverName: (i) => `moco-c-${i}.moco-c.ns.svc`, replication: { caFile: "/etc/mysql-tls/ca.crt", verifyServerName: true }, instanceHasTls: (i) => i !== 1 });
    const tls = rotationTls(s, cluster);
    assert.deepEqual(await tls(0), { ca: "CA", serverName: "moco-c-0.moco-c.ns.svc" });
    assert.equal(await tls(1), undefined, "a Pod without the certificate yet: plaintext");
    assert.deepEqual(await tls(2), { ca: "CA", serverName: "moco-c-2.moco-c.ns.svc" });
    assert.equal(s.reads(), 1);
  });
  it("without spec.tls: plaintext", async () => {
    assert.equal(await rotationTls(source(null), cluster)(0), undefined);
  });
});

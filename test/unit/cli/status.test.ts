// `status`: parsing of the probe output, the report (GTID lag, errant, roles), its table
// and JSON forms through runCli, and shell completion.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { parseBatchOutput, PROBE_COMMAND, probeFromRows, PROBE_QUERY, unescapeBatchField, type InstanceProbe } from "../../../src/cli/probe.ts";
import { buildStatusReport, formatStatusReport, semiSyncCell, type ProbeOutcome, type StatusReport } from "../../../src/cli/status.ts";
import { completionRequest, formatCompletion, type CompletionSpec } from "../../../src/cli/completion.ts";
import { EXIT } from "../../../src/cli/errors.ts";
import { FakeApi, run } from "./fake.ts";

const U1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const U2 = "4b2c4e50-0000-11e1-9e33-c80aa9429562";

describe("probe output parsing", () => {
  it("unescapes mysql --batch fields", () => {
    assert.equal(unescapeBatchField("a\\nb\\tc\\\\d\\0"), "a\nb\tc\\d\0");
  });
  it("parses key/value rows, skipping blank and malformed lines", () => {
    assert.deepEqual(parseBatchOutput("k1\tv1\n\nnotab\nk2\tv\\n2\n"), [["k1", "v1"], ["k2", "v\n2"]]);
  });
  const cases: { name: string; rows: [string, string][]; want: InstanceProbe }[] = [
    {
      name: "primary on 9.7",
      rows: [
        ["gtid_executed", `${U1}:1-10,\n${U2}:1-3`], ["server_uuid", U1], ["read_only", "OFF"], ["super_read_only", "OFF"],
        ["rpl_semi_sync_source_enabled", "ON"], ["rpl_semi_sync_replica_enabled", "OFF"], ["Rpl_semi_sync_source_status", "ON"],
      ],
      want: {
        gtidExecuted: `${U1}:1-10,${U2}:1-3`, serverUuid: U1, readOnly: false, superReadOnly: false,
        semiSyncSourceEnabled: true, semiSyncReplicaEnabled: false, semiSyncSourceStatus: true,
      },
    },
    {
      name: "replica with replication threads",
      rows: [
        ["GTID_EXECUTED", `${U1}:1-7`], ["super_read_only", "ON"], ["read_only", "ON"], ["rpl_semi_sync_replica_enabled", "ON"],
        ["Rpl_semi_sync_replica_status", "OFF"], ["replication_io", "CONNECTING"], ["replication_sql", "ON"],
      ],
      want: {
        gtidExecuted: `${U1}:1-7`, superReadOnly: true, readOnly: true, semiSyncReplicaEnabled: true, semiSyncReplicaStatus: false,
        replicationIo: "CONNECTING", replicationSql: "ON",
      },
    },
    { name: "empty gtid set, no plugins", rows: [["gtid_executed", ""]], want: { gtidExecuted: "" } },
    { name: "unknown keys ignored", rows: [["something", "x"]], want: {} },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(probeFromRows(c.rows), c.want));

  it("the exec command uses the mounted moco-readonly my.cnf, never a password", () => {
    assert.deepEqual(PROBE_COMMAND, ["mysql", "--defaults-extra-file=/mysql-credentials/moco-readonly-my.cnf", "-N", "-B", "-e", PROBE_QUERY]);
  });
});

function pod(i: number, opts: { role?: string; ready?: boolean; phase?: string; annotations?: Record<string, string> } = {}): V1Pod {
  return {
    metadata: {
      name: `moco-c-${i}`, namespace: "ns",
      labels: opts.role ? { "moco.cybozu.com/role": opts.role } : {},
      annotations: opts.annotations,
    },
    status: { phase: opts.phase ?? "Running", conditions: [{ type: "Ready", status: opts.ready === false ? "False" : "True" }] },
  };
}

function cluster(extra: { errant?: number[]; primary?: number; backup?: boolean; annotations?: Record<string, string> } = {}) {
  return {
    metadata: { name: "c", namespace: "ns", annotations: extra.annotations },
    spec: { replicas: 3 } as never,
    status: {
      currentPrimaryIndex: extra.primary ?? 0,
      syncedReplicas: 2,
      errantReplicas: extra.errant?.length ?? 0,
      errantReplicaList: extra.errant ?? [],
      conditions: [
        { type: "Available", status: "True", reason: "Degraded", message: "", lastTransitionTime: "2024-01-01T00:00:00Z" },
        { type: "Healthy", status: "False", reason: "Degraded", message: "", lastTransitionTime: "2024-01-01T00:00:00Z" },
      ],
      ...(extra.backup
        ? {
            backup: {
              time: "2024-05-01T10:00:00Z", elapsed: "1m2s", sourceIndex: 1, sourceUUID: U2, binlogFilename: "b.000001",
              gtidSet: `${U1}:1-5`, dumpSize: 100, binlogSize: 10, workDirUsage: 1, warnings: ["w1"],
            },
          }
        : {}),
    },
  } as Parameters<typeof buildStatusReport>[0];
}

describe("buildStatusReport", () => {
  const probes = new Map<number, ProbeOutcome>([
    [0, { source: "exec", probe: { gtidExecuted: `${U1}:1-10`, serverUuid: U1, semiSyncSourceEnabled: true, semiSyncSourceStatus: true, superReadOnly: false, readOnly: false } }],
    [1, { source: "exec", probe: { gtidExecuted: `${U1}:1-7`, serverUuid: U2, semiSyncReplicaEnabled: true, semiSyncReplicaStatus: true, superReadOnly: true, readOnly: true, replicationIo: "ON", replicationSql: "ON" } }],
    [2, { error: "not running" }],
  ]);
  const pods = [pod(0, { role: "primary" }), pod(1, { role: "replica" }), pod(2, { phase: "Pending", ready: false })];

  it("computes lag against the primary and uses labels, readiness and probes", () => {
    const r = buildStatusReport(cluster({ backup: true }), pods, probes);
    const rows = r.instances.map((i) => [i.index, i.role, i.ready, i.primary, i.gtidLag, i.errant, i.phase, i.probeSource, i.probeError]);
    assert.deepEqual(rows, [
      [0, "primary", true, true, 0, false, "Running", "exec", null],
      [1, "replica", true, false, 3, false, "Running", "exec", null],
      [2, null, false, false, null, false, "Pending", null, "not running"],
    ]);
    assert.deepEqual(r.conditions, { Available: "True", Healthy: "False" });
    assert.equal(r.lastBackup?.time, "2024-05-01T10:00:00Z");
    assert.equal(r.lastBackup?.sourceIndex, 1);
  });

  it("flags errant GTIDs (but not the primary's own UUID) and status.errantReplicaList", () => {
    const p = new Map(probes);
    p.set(1, { source: "pod-ip", probe: { gtidExecuted: `${U1}:1-12,${U2}:1-2` } });
    const r = buildStatusReport(cluster({ errant: [2] }), pods, p);
    const i1 = r.instances[1];
    assert.equal(i1?.errant, true);
    assert.equal(i1?.errantGtids, `${U2}:1-2`, "U1:11-12 is the primary's own UUID: not errant");
    assert.equal(i1?.gtidLag, 0);
    assert.equal(r.instances[2]?.errant, true, "from status.errantReplicaList");
    assert.equal(r.instances[0]?.errant, false);
  });

  it("without a primary probe, lag is unknown", () => {
    const p = new Map(probes);
    p.set(0, { error: "exec: boom" });
    const r = buildStatusReport(cluster(), pods, p);
    assert.deepEqual(r.instances.map((i) => i.gtidLag), [null, null, null]);
  });

  it("missing Pods and Terminating Pods", () => {
    const del = pod(1);
    del.metadata = { ...del.metadata, deletionTimestamp: new Date() };
    const r = buildStatusReport(cluster(), [del], new Map());
    assert.deepEqual(r.instances.map((i) => i.phase), ["Missing", "Terminating", "Missing"]);
  });

  it("formats a table", () => {
    const text = formatStatusReport(buildStatusReport(
      cluster({ backup: true, annotations: { "moco.cybozu.com/clustering-stopped": "true" } }), pods, probes,
    ));
    const lines = text.split("\n");
    assert.equal(lines[0], "MySQLCluster ns/c: replicas=3 primary=0 available=True healthy=False");
    assert.equal(lines[1], "clustering=stopped reconciliation=active synced=2 errant=[]");
    assert.equal(lines[2], "last backup: 2024-05-01T10:00:00Z from instance 1 (elapsed 1m2s) with 1 warning(s)");
    assert.equal(lines[3], "");
    assert.match(lines[4] ?? "", /^INDEX +POD +PHASE +ROLE +READY +GTID-LAG +ERRANT +SEMI-SYNC +REPLICATION +READ-ONLY +NOTE$/);
    const cells = (l: string | undefined) => (l ?? "").split(/ {2,}/);
    assert.deepEqual(cells(lines[5]), ["0", "moco-c-0", "Running", "primary", "True", "0", "no", "source ON", "none", "no", "current primary"]);
    assert.deepEqual(cells(lines[6]), ["1", "moco-c-1", "Running", "replica", "True", "3", "no", "replica ON", "io=ON sql=ON", "super"]);
    assert.deepEqual(cells(lines[7]), ["2", "moco-c-2", "Pending", "-", "False", "-", "no", "-", "-", "-", "not running"]);
  });

  const semi: [StatusReport["instances"][number]["semiSync"], string][] = [
    [{ sourceEnabled: null, sourceActive: null, replicaEnabled: null, replicaActive: null }, "-"],
    [{ sourceEnabled: false, sourceActive: null, replicaEnabled: false, replicaActive: null }, "off"],
    [{ sourceEnabled: true, sourceActive: false, replicaEnabled: false, replicaActive: null }, "source OFF"],
    [{ sourceEnabled: true, sourceActive: null, replicaEnabled: true, replicaActive: true }, "source ?,replica ON"],
  ];
  for (const [s, want] of semi) it(`semi-sync cell ${want}`, () => assert.equal(semiSyncCell(s), want));
});

describe("status command", () => {
  function setup(): FakeApi {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "c", { primary: 1 });
    api.addPods("ctx-ns", "c", 3, { primary: 1 });
    api.addSecret("ctx-ns", "c", { READONLY_PASSWORD: "ro-pass" });
    return api;
  }
  const gtids = [`${U1}:1-4`, `${U1}:1-5`, `${U1}:1-5`];

  it("-o json with the exec source", async () => {
    const seen: string[] = [];
    const r = await run(setup(), ["status", "-o", "json", "c"], {
      probe: async (how, p) => {
        seen.push(`${how}:${p.metadata?.name}`);
        const i = Number(p.metadata?.name?.slice(-1));
        return { gtidExecuted: gtids[i], serverUuid: U1 };
      },
    });
    assert.equal(r.code, EXIT.OK, r.stderr);
    const j = JSON.parse(r.stdout) as StatusReport;
    assert.equal(j.name, "c");
    assert.equal(j.currentPrimaryIndex, 1);
    assert.deepEqual(j.instances.map((i) => [i.pod, i.role, i.gtidLag, i.probeSource]), [
      ["moco-c-0", "replica", 1, "exec"], ["moco-c-1", "primary", 0, "exec"], ["moco-c-2", "replica", 0, "exec"],
    ]);
    assert.deepEqual(seen.sort(), ["exec:moco-c-0", "exec:moco-c-1", "exec:moco-c-2"]);
  });

  it("auto falls back to pod-ip with the moco-readonly password, which is never printed", async () => {
    const used: string[] = [];
    const r = await run(setup(), ["status", "c"], {
      probe: async (how, p, password) => {
        if (how === "exec") throw new Error("error: unable to upgrade connection: 404 page not found");
        used.push(await password());
        return { gtidExecuted: gtids[Number(p.metadata?.name?.slice(-1))] };
      },
    });
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.deepEqual(used, ["ro-pass", "ro-pass", "ro-pass"]);
    assert.ok(!r.stdout.includes("ro-pass") && !r.stderr.includes("ro-pass"));
    assert.match(r.stdout, /moco-c-0 +Running +replica +True +1 /);
  });

  it("--source exec reports probe failures per instance and still exits 0", async () => {
    const r = await run(setup(), ["status", "--source", "exec", "c"], {
      probe: async () => { throw new Error("kubectl: boom\nsecond line"); },
    });
    assert.equal(r.code, EXIT.OK);
    assert.match(r.stdout, /cannot query mysqld \(exec: kubectl: boom\)/);
  });

  it("--source none makes no probe", async () => {
    let probes = 0;
    const r = await run(setup(), ["status", "--source=none", "c"], { probe: async () => { probes++; return {}; } });
    assert.equal(r.code, EXIT.OK);
    assert.equal(probes, 0);
  });

  it("unknown cluster: exit 3", async () => {
    const r = await run(new FakeApi(), ["status", "nope"]);
    assert.equal(r.code, EXIT.NOT_FOUND);
    assert.match(r.stderr, /^Error: mysqlclusters.moco.cybozu.com "nope" not found\n$/);
  });
});

describe("completion", () => {
  const root: CompletionSpec = {
    flags: { "-n": true, "--namespace": true, "--kubeconfig": true, "-h": false },
    commands: {
      mysql: { flags: { "-u": true, "--mysql-user": true, "-i": false, "--index": true }, flagValues: { "-u": ["moco-readonly", "moco-writable", "moco-admin"] }, commands: {}, takesCluster: true },
      stop: { flags: {}, commands: { clustering: { flags: {}, commands: {}, takesCluster: true }, reconciliation: { flags: {}, commands: {}, takesCluster: true } } },
      credential: { flags: { "--format": true }, flagValues: { "--format": ["plain", "mycnf"] }, commands: {}, takesCluster: true },
    },
  };
  const cases: { words: string[]; want: ReturnType<typeof completionRequest> }[] = [
    { words: [""], want: { kind: "values", values: ["credential", "mysql", "stop"] } },
    { words: ["m"], want: { kind: "values", values: ["mysql"] } },
    { words: ["stop", ""], want: { kind: "values", values: ["clustering", "reconciliation"] } },
    { words: ["stop", "clustering", "or"], want: { kind: "clusters", prefix: "or", namespace: undefined } },
    { words: ["-n", "shop", "mysql", ""], want: { kind: "clusters", prefix: "", namespace: "shop" } },
    { words: ["mysql", "--namespace=x", "-i", "o"], want: { kind: "clusters", prefix: "o", namespace: "x" } },
    { words: ["mysql", "-u", ""], want: { kind: "values", values: ["moco-readonly", "moco-writable", "moco-admin"] } },
    { words: ["mysql", "-u", "moco-w"], want: { kind: "values", values: ["moco-writable"] } },
    { words: ["credential", "--format", ""], want: { kind: "values", values: ["plain", "mycnf"] } },
    { words: ["mysql", "--i"], want: { kind: "values", values: ["--index"] } },
    { words: ["mysql", "orders", ""], want: { kind: "values", values: [] } },
    { words: ["mysql", "orders", "--", "-"], want: { kind: "values", values: [] } },
  ];
  for (const c of cases) it(JSON.stringify(c.words), () => assert.deepEqual(completionRequest(root, c.words), c.want));

  it("formats cobra's protocol", () => assert.equal(formatCompletion(["a", "b"]), "a\nb\n:4\n"));

  it("__complete lists cluster names by prefix from the API", async () => {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "orders");
    api.addCluster("ctx-ns", "other");
    api.addCluster("ctx-ns", "users");
    api.addCluster("elsewhere", "omega");
    const r = await run(api, ["__complete", "switchover", "o"]);
    assert.equal(r.stdout, "orders\nother\n:4\n");
    const r2 = await run(api, ["__complete", "-n", "elsewhere", "mysql", ""]);
    assert.equal(r2.stdout, "omega\n:4\n");
    const r3 = await run(api, ["__complete", "credential", "-u", ""]);
    assert.equal(r3.stdout, "moco-readonly\nmoco-writable\nmoco-admin\n:4\n");
    const r4 = await run(api, ["__complete", "status", "-o", ""]);
    assert.equal(r4.stdout, "table\njson\n:4\n");
  });
});

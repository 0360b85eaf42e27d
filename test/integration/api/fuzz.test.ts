// Seeded fuzzing through a REAL kube-apiserver: mutated MySQLClusters sent as dry-run
// CREATEs and UPDATEs (so nothing is stored and it stays fast). The API server runs
// the CRD schema, pruning, defaulting and both moco-ts webhooks on each of them.
//
// Properties:
//  - the API server never answers 500 (a webhook crash or a webhook 500 would show up
//    as one), the webhook server logged no failure and still answers /healthz;
//  - nothing admitted breaks a documented rule (an oracle written here, independent of
//    src/api: replicas in {1,3,5}, mysqld present, mysql-data with storage, reserved
//    names, name length <= 40, serverIDBase > 0 after defaulting, update rules);
//  - for mutations the oracle models completely, admission matches its prediction.
//
// Reproduce a run: MOCO_FUZZ_SEED=<seed> [MOCO_FUZZ_COUNT=<n>] (the seed is printed).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { MYSQLCLUSTERS, startApiHarness, webhookHealthz, type ApiHarness, type Json, type RawResponse } from "./harness.ts";
import { clusterManifest } from "./fixtures.ts";
import { prng } from "../../env/random.ts";

const SEED = Number(process.env["MOCO_FUZZ_SEED"] ?? 0x5eed2025);
const COUNT = Number(process.env["MOCO_FUZZ_COUNT"] ?? 800);
const CONCURRENCY = 8;
const NS = "fuzz";
const FINALIZER = "moco.cybozu.com/mysqlcluster";

// ---- seeded PRNG (mulberry32, test/env/random.ts) ---------------------------------------

type Rng = () => number;
const ABSENT = Symbol("absent");
type Maybe<T> = T | typeof ABSENT;
function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)] as T;
}
function setOrDelete(obj: Json, key: string, v: unknown): void {
  if (v === ABSENT) delete obj[key];
  else obj[key] = v;
}

// ---- the oracle: documented rules, written independently of src/api ---------------------

const RESERVED_CONTAINERS_ALWAYS = ["agent", "moco-init", "copy-moco-init"];
const RESERVED_INIT = ["moco-init", "copy-moco-init"];
const RESERVED_VOLUMES = [
  "tmp", "run", "var-log", "mysql-conf", "mysql-conf-d", "my-cnf-secret", "slow-fluent-bit-config",
  "shared", "grpc-cert", "mysql-data",
];
const RESERVED_PORTS = [3306, 33060, 33062, 9081];
const RESERVED_PORT_NAMES = ["mysql", "mysqlx", "mysql-admin", "health"];
const VALID_CRON = ["", "*/5 * * * *", "@hourly", "@every 1h30m", "CRON_TZ=Asia/Tokyo 0 3 * * *", "0 0 1 jan *", "TZ=UTC @daily", "0-30/10 9-17 * * mon-fri"];
const INVALID_CRON = ["every day", "60 * * * *", "* * * *", "* * * * * *", "@every", "TZ=Nowhere/City 0 * * * *", "@fortnightly", "TZ=UTC", "x", "1Gi"];

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Rec) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

/** Bytes of the simple quantities the fuzzer writes (undefined when not one of those). */
function bytesOf(q: unknown): number | undefined {
  if (isInt(q)) return q;
  if (typeof q !== "string") return undefined;
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) return undefined;
  const mult = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * mult;
}

interface OracleContext {
  operation: "CREATE" | "UPDATE";
  /** "sent": the request body (defaults still to come); "stored": what the server admitted. */
  phase: "sent" | "stored";
  old?: Json;
}

/** Documented rules the object breaks (empty = valid as far as this oracle knows). */
function violations(obj: Json, ctx: OracleContext): string[] {
  const v: string[] = [];
  const stored = ctx.phase === "stored";
  const meta = rec(obj["metadata"]) ?? {};
  const name = meta["name"];
  if (ctx.operation === "CREATE" && typeof name === "string" && name.length > 40) v.push("metadata.name longer than 40");
  if (stored && ctx.operation === "CREATE" && !arr(meta["finalizers"]).includes(FINALIZER)) v.push("finalizer missing");

  const spec = rec(obj["spec"]);
  if (spec === undefined) return [...v, "spec missing"];

  // replicas
  const replicas = spec["replicas"] ?? (stored ? undefined : 1);
  if (!(isInt(replicas) && [1, 3, 5].includes(replicas))) v.push(`replicas ${String(replicas)} not in {1,3,5}`);
  // serverIDBase (the mutating webhook chooses one on CREATE when 0/absent)
  const base = spec["serverIDBase"];
  const chosenLater = !stored && ctx.operation === "CREATE" && (base === undefined || base === null || base === 0);
  if (!chosenLater && !(isInt(base) && base > 0)) v.push(`serverIDBase ${String(base)} not > 0`);
  // schema minimums (defaults 60, 0, 3600 when absent)
  for (const k of ["maxDelaySeconds", "maxDelaySecondsForPodDeletion", "startupWaitSeconds"]) {
    const x = spec[k];
    if (stored && !isInt(x)) v.push(`${k} missing after defaulting`);
    if (x !== undefined && x !== null && !(isInt(x) && x >= 0)) v.push(`${k} ${String(x)} < 0`);
  }
  const rotationSize = spec["logRotationSize"];
  if (rotationSize !== undefined && rotationSize !== null && !(isInt(rotationSize) && rotationSize >= 0)) v.push("logRotationSize < 0");
  const schedule = spec["logRotationSchedule"];
  if (typeof schedule === "string" && INVALID_CRON.includes(schedule)) v.push(`logRotationSchedule ${JSON.stringify(schedule)}`);

  // podTemplate
  const podTemplate = rec(spec["podTemplate"]);
  const podSpec = rec(podTemplate?.["spec"]);
  if (podSpec === undefined) v.push("podTemplate.spec missing");
  const collectors = arr(spec["collectors"]);
  const slowLogDisabled = spec["disableSlowQueryLogContainer"] === true;
  let mysqldFound = false;
  for (const c of arr(podSpec?.["containers"])) {
    const cn = rec(c)?.["name"];
    if (typeof cn !== "string" || cn === "") {
      v.push("container without name");
      continue;
    }
    if (RESERVED_CONTAINERS_ALWAYS.includes(cn)) v.push(`container ${cn} reserved`);
    if (cn === "slow-log" && !slowLogDisabled) v.push("container slow-log reserved");
    if (cn === "mysqld-exporter" && collectors.length > 0) v.push("container mysqld-exporter reserved");
    if (cn !== "mysqld") continue;
    mysqldFound = true;
    for (const port of arr(rec(c)?.["ports"])) {
      const pr = rec(port);
      if (RESERVED_PORTS.includes(pr?.["containerPort"] as number)) v.push(`port ${String(pr?.["containerPort"])} reserved`);
      if (RESERVED_PORT_NAMES.includes(pr?.["name"] as string)) v.push(`port name ${String(pr?.["name"])} reserved`);
    }
  }
  if (!mysqldFound) v.push("no mysqld container");
  for (const c of arr(podSpec?.["initContainers"])) {
    const cn = rec(c)?.["name"];
    if (typeof cn !== "string" || cn === "") v.push("init container without name");
    else if (RESERVED_INIT.includes(cn)) v.push(`init container ${cn} reserved`);
  }
  for (const vol of arr(podSpec?.["volumes"])) {
    const vn = rec(vol)?.["name"];
    if (typeof vn === "string" && RESERVED_VOLUMES.includes(vn)) v.push(`volume ${vn} reserved`);
  }

  // volume claim templates
  const templates = spec["volumeClaimTemplates"];
  if (!Array.isArray(templates) || templates.length === 0) v.push("volumeClaimTemplates empty");
  const tname = (t: unknown) => rec(rec(t)?.["metadata"])?.["name"];
  const storageOf = (t: unknown) => rec(rec(rec(rec(t)?.["spec"])?.["resources"])?.["requests"])?.["storage"];
  if (!arr(templates).some((t) => tname(t) === "mysql-data")) v.push("no mysql-data template");
  for (const t of arr(templates)) {
    if (storageOf(t) === undefined || storageOf(t) === null) v.push(`template ${String(tname(t))} without storage`);
    if (rec(t)?.["metadata"] === undefined || rec(t)?.["spec"] === undefined) v.push("template without metadata/spec");
  }

  // UPDATE rules against the stored object
  if (ctx.operation === "UPDATE" && ctx.old !== undefined) {
    const oldSpec = rec(ctx.old["spec"]) ?? {};
    if (isInt(replicas) && isInt(oldSpec["replicas"]) && replicas < oldSpec["replicas"]) v.push("replicas decreased");
    const src = spec["replicationSourceSecretName"];
    if (src !== undefined && src !== null && src !== oldSpec["replicationSourceSecretName"]) v.push("replicationSourceSecretName set/changed");
    if (JSON.stringify(spec["restore"] ?? null) !== JSON.stringify(oldSpec["restore"] ?? null)) v.push("restore changed");
    const oldSizes = new Map(arr(oldSpec["volumeClaimTemplates"]).map((t) => [tname(t), bytesOf(storageOf(t))]));
    for (const t of arr(templates)) {
      const before = oldSizes.get(tname(t));
      const now = bytesOf(storageOf(t));
      // No StorageClass exists in this API server: any growth must be refused.
      if (before !== undefined && now !== undefined && now > before) v.push(`template ${String(tname(t))} grew`);
    }
  }
  return v;
}

// ---- the mutator -------------------------------------------------------------------------

interface FuzzCase {
  index: number;
  operation: "CREATE" | "UPDATE";
  body: Json;
  /** Every mutation applied is one the oracle models exactly (two-sided check). */
  modeled: boolean;
  ops: string[];
}

type Mutation = (o: Json, rng: Rng, op: "CREATE" | "UPDATE") => void;

/** The spec to mutate (a detached object when a junk mutation made it a non-object). */
function spec(o: Json): Json {
  o["spec"] ??= {};
  return rec(o["spec"]) ?? {};
}
const podSpecOf = (o: Json): Json | undefined => rec(rec(spec(o)["podTemplate"])?.["spec"]) as Json | undefined;
function listOf(o: Json | undefined, key: string): Json[] | undefined {
  if (o === undefined) return undefined;
  if (!Array.isArray(o[key])) o[key] = [];
  return o[key] as Json[];
}

const MODELED: Record<string, Mutation> = {
  replicas: (o, r) => setOrDelete(spec(o), "replicas", pick<Maybe<unknown>>(r, [ABSENT, null, -1, 0, 1, 2, 3, 4, 5, 6, 7, 9, 11])),
  serverIDBase: (o, r) => setOrDelete(spec(o), "serverIDBase", pick<Maybe<unknown>>(r, [ABSENT, null, 0, -1, -100, 1, 100, 2 ** 30, 2 ** 31 - 1])),
  name: (o, r, op) => {
    if (op === "UPDATE") return;
    // A valid DNS subdomain of 2 to 60 characters: the API server's own name check passes.
    const len = 2 + Math.floor(r() * 59);
    let s = "c";
    while (s.length < len - 1) s += pick(r, "abcdefghijklmnopqrstuvwxyz0123456789-".split(""));
    (o["metadata"] as Json)["name"] = `${s}z`;
  },
  addContainer: (o, r) => {
    const name = pick<Maybe<unknown>>(r, [ABSENT, "", "agent", "slow-log", "mysqld-exporter", "moco-init", "copy-moco-init", "mysqld", "app", "sidecar"]);
    const c: Json = { image: "busybox" };
    setOrDelete(c, "name", name);
    listOf(podSpecOf(o), "containers")?.push(c);
  },
  renameMysqld: (o, r) => {
    const cs = listOf(podSpecOf(o), "containers") ?? [];
    const m = cs.find((c) => c["name"] === "mysqld");
    if (m) setOrDelete(m, "name", pick<Maybe<unknown>>(r, [ABSENT, "", "mysql", "agent", "MySQLd", "mysqld"]));
  },
  dropMysqld: (o) => {
    const ps = podSpecOf(o);
    if (ps) ps["containers"] = arr(ps["containers"]).filter((c) => rec(c)?.["name"] !== "mysqld");
  },
  slowLogToggle: (o, r) => setOrDelete(spec(o), "disableSlowQueryLogContainer", pick<Maybe<unknown>>(r, [ABSENT, true, false])),
  collectors: (o, r) => setOrDelete(spec(o), "collectors", pick<Maybe<unknown>>(r, [ABSENT, [], ["engine_innodb_status"], ["a", "b"]])),
  mysqldPort: (o, r) => {
    const m = (listOf(podSpecOf(o), "containers") ?? []).find((c) => c["name"] === "mysqld");
    if (!m) return;
    const port: Json = { containerPort: pick(r, [3306, 33060, 33062, 9081, 8080, 9104, 1]) };
    setOrDelete(port, "name", pick<Maybe<unknown>>(r, [ABSENT, "mysql", "mysqlx", "mysql-admin", "health", "app", "metrics"]));
    listOf(m, "ports")?.push(port);
  },
  initContainer: (o, r) => {
    const c: Json = { image: "busybox" };
    setOrDelete(c, "name", pick<Maybe<unknown>>(r, [ABSENT, "", "moco-init", "copy-moco-init", "setup", "agent"]));
    listOf(podSpecOf(o), "initContainers")?.push(c);
  },
  volume: (o, r) => {
    const v: Json = { emptyDir: {} };
    setOrDelete(v, "name", pick<Maybe<unknown>>(r, [ABSENT, ...RESERVED_VOLUMES, "extra", "cache", "data"]));
    listOf(podSpecOf(o), "volumes")?.push(v);
  },
  renameDataTemplate: (o, r) => {
    const t = arr(spec(o)["volumeClaimTemplates"])[0] as Json | undefined;
    const meta = rec(t?.["metadata"]);
    if (meta) meta["name"] = pick(r, ["data", "mysql-data", "mysql", "binlog"]);
  },
  storage: (o, r) => {
    const ts = arr(spec(o)["volumeClaimTemplates"]);
    const t = ts[Math.floor(r() * ts.length)];
    const spec_ = rec(rec(t)?.["spec"]);
    if (!spec_) return;
    const v = pick<Maybe<unknown>>(r, [ABSENT, "1Gi", "2Gi", "500Mi", "10Gi", 1073741824]);
    if (v === ABSENT) spec_["resources"] = {};
    else spec_["resources"] = { requests: { storage: v } };
  },
  addTemplate: (o, r) => {
    const t: Json = { metadata: { name: pick(r, ["binlog", "backup", "mysql-data"]) }, spec: {} };
    if (r() < 0.7) t["spec"] = { resources: { requests: { storage: pick(r, ["1Gi", "5Gi"]) } } };
    listOf(spec(o), "volumeClaimTemplates")?.push(t);
  },
  templatesEmpty: (o) => (spec(o)["volumeClaimTemplates"] = []),
  dropPodTemplate: (o) => delete spec(o)["podTemplate"],
  schedule: (o, r) => setOrDelete(spec(o), "logRotationSchedule", pick<Maybe<unknown>>(r, [ABSENT, ...VALID_CRON, ...INVALID_CRON])),
  rotationSize: (o, r) => setOrDelete(spec(o), "logRotationSize", pick<Maybe<unknown>>(r, [ABSENT, -1, 0, 1024])),
  delays: (o, r) => {
    const k = pick(r, ["maxDelaySeconds", "maxDelaySecondsForPodDeletion", "startupWaitSeconds"]);
    setOrDelete(spec(o), k, pick<Maybe<unknown>>(r, [ABSENT, null, -1, 0, 5, 3600]));
  },
  source: (o, r) => setOrDelete(spec(o), "replicationSourceSecretName", pick<Maybe<unknown>>(r, [ABSENT, null, "donor", "other"])),
  restore: (o) => {
    spec(o)["restore"] = {
      sourceName: "src",
      sourceNamespace: "ns",
      restorePoint: "2025-01-15T03:00:00Z",
      jobConfig: { serviceAccountName: "sa", bucketConfig: { bucketName: "b" }, workVolume: { emptyDir: {} } },
    };
  },
};

const JUNK: unknown[] = [null, 0, -1, 1.5, "", "x", "1Gi", true, [], {}, [1], { a: 1 }, 2 ** 31, -(2 ** 31) - 1, [{}], [{ name: "mysqld" }]];

/** Every [parent, key] inside the object (for junk mutations). */
function allPaths(o: unknown, out: [unknown, string | number][] = []): [unknown, string | number][] {
  const entries: [string | number, unknown][] = Array.isArray(o)
    ? o.map((v, i): [number, unknown] => [i, v])
    : rec(o)
      ? Object.entries(o as Rec)
      : [];
  for (const [k, v] of entries) {
    out.push([o, k]);
    allPaths(v, out);
  }
  return out;
}

const UNMODELED: Record<string, Mutation> = {
  junkValue: (o, r) => {
    const paths = allPaths(o["spec"]);
    if (paths.length === 0) return;
    const [parent, key] = pick(r, paths);
    (parent as Record<string | number, unknown>)[key] = structuredClone(pick(r, JUNK));
  },
  deletePath: (o, r) => {
    const paths = allPaths(o["spec"]);
    if (paths.length === 0) return;
    const [parent, key] = pick(r, paths);
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete (parent as Rec)[key as string];
  },
  junkSpec: (o, r) => (o["spec"] = structuredClone(pick(r, JUNK))),
  unknownField: (o, r) => (spec(o)[pick(r, ["replica", "podTemplates", "x-extra"])] = 3),
  bigReplicas: (o, r) => (spec(o)["replicas"] = pick(r, [2 ** 31, "3", 3.5, 1e20])),
};

function baseCluster(rng: Rng, index: number): Json {
  const o = clusterManifest(`fuzz-${index}`, NS, { replicas: pick(rng, [1, 3, 5]) });
  if (rng() < 0.5) spec(o)["serverIDBase"] = 1 + Math.floor(rng() * 1000);
  return o;
}

function generate(rng: Rng, index: number, stored: Json): FuzzCase {
  const operation = rng() < 0.3 ? "UPDATE" : "CREATE";
  const body = operation === "UPDATE" ? structuredClone(stored) : baseCluster(rng, index);
  const ops: string[] = [];
  let modeled = true;
  const n = 1 + Math.floor(rng() * 3);
  for (let i = 0; i < n; i++) {
    if (rng() < 0.2) {
      const key = pick(rng, Object.keys(UNMODELED));
      UNMODELED[key]!(body, rng, operation);
      ops.push(`~${key}`);
      modeled = false;
    } else {
      const key = pick(rng, Object.keys(MODELED));
      MODELED[key]!(body, rng, operation);
      ops.push(key);
    }
  }
  return { index, operation, body, modeled, ops };
}

// ---- the test ----------------------------------------------------------------------------

interface Outcome {
  tc: FuzzCase;
  res: RawResponse;
}

describe(`seeded fuzz of MySQLCluster admission through a real kube-apiserver (seed ${SEED}, ${COUNT} requests)`, () => {
  let h: ApiHarness;
  let stored: Json;
  const outcomes: Outcome[] = [];

  before(async () => {
    h = await startApiHarness();
    await h.core.createNamespace({ body: { metadata: { name: NS } } });
    await h.custom.createNamespacedCustomObject({
      ...MYSQLCLUSTERS,
      namespace: NS,
      body: clusterManifest("stored", NS, { replicas: 3, serverIDBase: 100, replicationSourceSecretName: "donor" }),
    });
    stored = (await h.custom.getNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, name: "stored" })) as Json;
  });
  after(async () => {
    await h?.stop();
  });

  it("sends every mutated object with dryRun=All", async (t) => {
    t.diagnostic(`MOCO_FUZZ_SEED=${SEED} MOCO_FUZZ_COUNT=${COUNT}`);
    console.log(`# fuzz seed ${SEED} (reproduce with MOCO_FUZZ_SEED=${SEED} MOCO_FUZZ_COUNT=${COUNT})`);
    const rng = prng(SEED);
    const cases = Array.from({ length: COUNT }, (_, i) => generate(rng, i, stored));
    const base = `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters`;
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const tc = cases[next++]!;
        const res =
          tc.operation === "CREATE"
            ? await h.request("POST", `${base}?dryRun=All`, tc.body)
            : await h.request("PUT", `${base}/stored?dryRun=All`, tc.body);
        outcomes.push({ tc, res });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.equal(outcomes.length, COUNT);
    const admitted = outcomes.filter((o) => o.res.status === 200 || o.res.status === 201).length;
    t.diagnostic(`admitted ${admitted}, rejected ${COUNT - admitted}`);
    // A useful mix: neither everything rejected nor everything admitted.
    assert.ok(admitted > COUNT * 0.1 && admitted < COUNT * 0.9, `admitted ${admitted} of ${COUNT}`);
  });

  it("the API server never answered 5xx (no webhook crash, no webhook 500) and only 200/201/400/422", () => {
    assert.equal(outcomes.length, COUNT, "every request was sent");
    const bad = outcomes.filter((o) => ![200, 201, 400, 422].includes(o.res.status));
    assert.deepEqual(
      bad.slice(0, 5).map((o) => ({ index: o.tc.index, ops: o.tc.ops, status: o.res.status, message: o.res.body["message"] })),
      [],
      `seed ${SEED}`,
    );
    assert.deepEqual(h.log.reviews.filter((r) => r.code !== undefined && r.code >= 500), []);
    assert.deepEqual(h.log.errors, []);
  });

  it("nothing admitted breaks a documented rule", () => {
    assert.equal(outcomes.length, COUNT, "every request was sent");
    const broken = outcomes
      .filter((o) => o.res.status === 200 || o.res.status === 201)
      .map((o) => ({
        index: o.tc.index,
        operation: o.tc.operation,
        ops: o.tc.ops,
        violations: violations(o.res.body, { operation: o.tc.operation, phase: "stored", old: stored }),
      }))
      .filter((x) => x.violations.length > 0);
    assert.deepEqual(broken.slice(0, 5), [], `seed ${SEED}`);
  });

  it("modeled mutations are admitted exactly when the oracle says the object is valid", () => {
    const modeled = outcomes.filter((o) => o.tc.modeled);
    assert.ok(modeled.length > COUNT * 0.4, `${modeled.length} modeled cases`);
    const mismatches = modeled
      .map((o) => {
        const predicted = violations(o.tc.body, { operation: o.tc.operation, phase: "sent", old: stored });
        const admitted = o.res.status === 200 || o.res.status === 201;
        return { o, predicted, admitted };
      })
      .filter((x) => x.admitted !== (x.predicted.length === 0))
      .map((x) => ({
        index: x.o.tc.index,
        operation: x.o.tc.operation,
        ops: x.o.tc.ops,
        predicted: x.predicted,
        status: x.o.res.status,
        message: x.o.res.body["message"],
      }));
    assert.deepEqual(mismatches.slice(0, 5), [], `seed ${SEED}`);
  });

  it("rejections of modeled objects name a field path of the spec or metadata.name", () => {
    assert.equal(outcomes.length, COUNT, "every request was sent");
    for (const o of outcomes) {
      if (!o.tc.modeled || o.res.status !== 422) continue;
      const message = String(o.res.body["message"]);
      assert.match(message, /(spec\.[A-Za-z]|metadata\.name)/, `case ${o.tc.index} (${o.tc.ops.join(",")}), seed ${SEED}`);
    }
  });

  it("the webhook server still answers /healthz", async () => {
    assert.equal(await webhookHealthz(h), 200);
    // And the API server still calls it.
    const res = await h.request("POST", `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters?dryRun=All`, clusterManifest("after", NS, { replicas: 4 }));
    assert.equal(res.status, 422);
    assert.match(String(res.body["message"]), /vmysqlcluster\.kb\.io.*spec\.replicas/);
    // Nothing was stored by the dry runs.
    const list = (await h.custom.listNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS })) as { items: unknown[] };
    assert.equal(list.items.length, 1);
  });
});

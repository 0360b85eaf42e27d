// Seeded, reproducible fuzzing of the MySQLCluster validators: thousands of specs
// mutated from valid ones. The validators must never throw, and must reject every
// object that an independent oracle (written separately from src/, for a subset of the
// documented rules) finds in breach, with an error on the field the rule names.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import {
  defaultMySQLCluster,
  validateMySQLClusterCreate,
  validateMySQLClusterUpdate,
  type MySQLCluster,
  type StorageClassLookup,
} from "../../../src/api/v1beta2/index.ts";
import { REPO_ROOT } from "../../../scripts/gen-crds.ts";
import { validCluster } from "./fixtures.ts";
import { prng } from "../../env/random.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- the fuzzer builds arbitrary JSON */

/** mulberry32: a tiny seeded PRNG. */
const SEED = Number(process.env["MOCO_FUZZ_SEED"] ?? 20240917);
const ITERATIONS = 3000;

const NAMES = [
  "mysqld", "agent", "slow-log", "mysqld-exporter", "moco-init", "copy-moco-init", "sidecar", "",
  "tmp", "run", "var-log", "mysql-conf", "mysql-conf-d", "my-cnf-secret", "slow-fluent-bit-config",
  "shared", "grpc-cert", "mysql-data", "data", "mysql", "mysqlx", "mysql-admin", "health", "http",
];
const NUMBERS = [0, 1, 2, 3, 4, 5, 6, 7, 9, 11, -1, -3, 3306, 33060, 33062, 9081, 8080, 2 ** 31, 1.5, 2 ** 30];
const SCHEDULES = ["", "* * * * *", "*/5 * * * *", "61 * * * *", "@daily", "@every 1h", "@every x", "TZ=UTC 0 * * * *", "a b c d e", "* * *"];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

function randomScalar(rnd: () => number): unknown {
  switch (Math.floor(rnd() * 8)) {
    case 0: return pick(rnd, NAMES);
    case 1: return pick(rnd, NUMBERS);
    case 2: return null;
    case 3: return rnd() < 0.5;
    case 4: return [];
    case 5: return {};
    case 6: return pick(rnd, SCHEDULES);
    default: return "x".repeat(Math.floor(rnd() * 50));
  }
}

/** Every path (as key lists) of container nodes in a JSON value. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

const mutations: ((c: any, rnd: () => number) => void)[] = [
  // rule-directed mutations
  (c, r) => (c.spec.replicas = pick(r, NUMBERS)),
  (c) => delete c.spec.replicas,
  (c, r) => (c.spec.serverIDBase = pick(r, NUMBERS)),
  (c, r) => (c.spec.logRotationSize = pick(r, NUMBERS)),
  (c, r) => (c.spec.logRotationSchedule = pick(r, SCHEDULES)),
  (c, r) => c.spec?.podTemplate?.spec?.containers?.push?.({ name: pick(r, NAMES), image: "x" }),
  (c, r) => { const cs = c.spec?.podTemplate?.spec?.containers; if (Array.isArray(cs) && cs.length > 0) pick(r, cs).name = pick(r, NAMES); },
  (c, r) => { const ps = c.spec?.podTemplate?.spec; if (ps) (ps.initContainers ??= []).push({ name: pick(r, NAMES) }); },
  (c, r) => { const ps = c.spec?.podTemplate?.spec; if (ps) (ps.volumes ??= []).push({ name: pick(r, NAMES), emptyDir: {} }); },
  (c, r) => {
    const cs = c.spec?.podTemplate?.spec?.containers;
    const m = Array.isArray(cs) ? cs.find((x: any) => x?.name === "mysqld") : undefined;
    if (m) (m.ports ??= []).push(r() < 0.5 ? { containerPort: pick(r, NUMBERS) } : { name: pick(r, NAMES), containerPort: 1234 });
  },
  (c, r) => (c.spec.collectors = r() < 0.5 ? [] : ["binlog_size"]),
  (c, r) => (c.spec.disableSlowQueryLogContainer = r() < 0.5),
  (c, r) => { const t = c.spec?.volumeClaimTemplates; if (Array.isArray(t) && t.length > 0) pick(r, t).metadata = { name: pick(r, NAMES) }; },
  (c, r) => { const t = c.spec?.volumeClaimTemplates; if (Array.isArray(t) && t.length > 0) delete pick(r, t).spec?.resources; },
  (c, r) => c.spec?.volumeClaimTemplates?.push?.({ metadata: { name: pick(r, NAMES) }, spec: r() < 0.5 ? {} : { resources: { requests: { storage: "1Gi" } } } }),
  (c, r) => (c.metadata.name = "n".repeat(Math.floor(r() * 60) + 1)),
  // structure-agnostic mutations: replace or delete any node
  (c, r) => {
    const p = pick(r, paths(c).filter((x) => x.length > 0));
    const parent = p.slice(0, -1).reduce((o: any, k) => o[k], c);
    parent[p[p.length - 1] as string] = randomScalar(r);
  },
  (c, r) => {
    const p = pick(r, paths(c).filter((x) => x.length > 0));
    const parent = p.slice(0, -1).reduce((o: any, k) => o[k], c);
    if (Array.isArray(parent)) parent.splice(p[p.length - 1] as number, 1);
    else delete parent[p[p.length - 1] as string];
  },
];

/** The independent oracle: field paths that must carry an error, for a subset of rules. */
function oracle(c: any): string[] {
  const must: string[] = [];
  const spec = c?.spec;
  if (typeof c?.metadata?.name === "string" && c.metadata.name.length > 40) must.push("metadata.name");
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) return [...must, "spec"];
  const replicas = spec.replicas ?? 1;
  if (![1, 3, 5].includes(replicas)) must.push("spec.replicas");
  const sid = spec.serverIDBase;
  if (!(typeof sid === "number" && Number.isInteger(sid) && sid >= 1 && sid < 2 ** 31)) must.push("spec.serverIDBase");
  const lrs = spec.logRotationSize;
  if (lrs !== undefined && lrs !== null && !(typeof lrs === "number" && lrs >= 0)) must.push("spec.logRotationSize");
  const templates = Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates : [];
  let hasData = false;
  for (const t of templates) {
    if (t?.metadata?.name === "mysql-data") hasData = true;
    const st = t?.spec?.resources?.requests?.storage;
    if (st === undefined || st === null) must.push("spec.volumeClaimTemplates");
  }
  if (!hasData) must.push("spec.volumeClaimTemplates");
  const ps = spec.podTemplate?.spec;
  const containers = Array.isArray(ps?.containers) ? ps.containers : [];
  const collectorsOn = Array.isArray(spec.collectors) && spec.collectors.length > 0;
  let hasMysqld = false;
  containers.forEach((ct: any, i: number) => {
    const n = ct?.name;
    const p = `spec.podTemplate.spec.containers[${i}]`;
    if (typeof n !== "string" || n === "") { must.push(p); return; }
    if (n === "mysqld") {
      hasMysqld = true;
      (Array.isArray(ct.ports) ? ct.ports : []).forEach((port: any, j: number) => {
        if ([3306, 33060, 33062, 9081].includes(port?.containerPort) || ["mysql", "mysqlx", "mysql-admin", "health"].includes(port?.name)) {
          must.push(`${p}.ports[${j}]`);
        }
      });
    }
    if (n === "agent" || (n === "slow-log" && spec.disableSlowQueryLogContainer !== true) || (n === "mysqld-exporter" && collectorsOn)) {
      must.push(p);
    }
  });
  if (!hasMysqld) must.push("spec.podTemplate.spec.containers");
  (Array.isArray(ps?.initContainers) ? ps.initContainers : []).forEach((ic: any, i: number) => {
    if (typeof ic?.name !== "string" || ic.name === "" || ic.name === "moco-init" || ic.name === "copy-moco-init") {
      must.push(`spec.podTemplate.spec.initContainers[${i}]`);
    }
  });
  const reservedVolumes = ["tmp", "run", "var-log", "mysql-conf", "mysql-conf-d", "my-cnf-secret", "slow-fluent-bit-config", "shared", "grpc-cert", "mysql-data"];
  (Array.isArray(ps?.volumes) ? ps.volumes : []).forEach((v: any, i: number) => {
    if (reservedVolumes.includes(v?.name)) must.push(`spec.podTemplate.spec.volumes[${i}]`);
  });
  return must;
}

function bases(): MySQLCluster[] {
  const out: MySQLCluster[] = [validCluster()];
  for (const f of ["three-instances-anti-affinity.yaml", "collectors.yaml", "restore.yaml", "loadbalancer-primary.yaml"]) {
    for (const doc of parseAllDocuments(readFileSync(join(REPO_ROOT, "examples", f), "utf8"))) {
      const o = doc.toJS() as MySQLCluster;
      if (o.kind === "MySQLCluster") out.push(defaultMySQLCluster(o, () => Uint8Array.from([7, 0, 0, 0])));
    }
  }
  return out;
}

const noStorage: StorageClassLookup = {
  getStorageClass: async () => undefined,
  listStorageClasses: async () => [],
};

describe(`fuzzing the validators (seed ${SEED})`, () => {
  const baseObjects = bases();

  it("the oracle agrees that every base object is valid", () => {
    for (const b of baseObjects) {
      assert.deepEqual(oracle(b), []);
      assert.deepEqual(validateMySQLClusterCreate(b), []);
    }
  });

  it(`${ITERATIONS} mutated specs: never throws, never accepts a breach the oracle sees`, () => {
    const rnd = prng(SEED);
    let rejected = 0;
    let oracleHits = 0;
    let applied = 0;
    let tried = 0;
    for (let n = 0; n < ITERATIONS; n++) {
      let obj: any = structuredClone(pick(rnd, baseObjects));
      const count = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < count; k++) {
        tried++;
        try {
          pick(rnd, mutations)(obj, rnd);
          applied++;
        } catch {
          // a mutation that does not apply to this shape is skipped (counted below)
        }
      }
      obj = JSON.parse(JSON.stringify(obj)); // the wire form the webhook receives
      const errors = validateMySQLClusterCreate(obj);
      const must = oracle(obj);
      if (errors.length > 0) rejected++;
      if (must.length > 0) oracleHits++;
      for (const field of must) {
        assert.ok(
          errors.some((e) => e.field === field || e.field.startsWith(`${field}.`) || e.field.startsWith(`${field}[`)),
          `iteration ${n}: expected an error on ${field}; got ${JSON.stringify(errors.map((e) => e.field))}\n${JSON.stringify(obj.spec)}`,
        );
      }
      for (const e of errors) assert.ok(e.message.startsWith(`${e.field}: `), e.message);
    }
    // The mutations must actually exercise the rules (not a vacuous pass).
    assert.ok(applied > tried * 0.8, `only ${applied} of ${tried} mutations applied`);
    assert.ok(oracleHits > ITERATIONS / 3, `oracle found breaches in ${oracleHits} objects`);
    assert.ok(rejected >= oracleHits);
  });

  it("update fuzzing: never throws; lowering replicas or touching restore is always refused", async (t) => {
    const rnd = prng(SEED + 1);
    const ROUNDS = 500;
    let applied = 0;
    let changed = 0;
    let lowered = 0;
    let restoreTouched = 0;
    for (let n = 0; n < ROUNDS; n++) {
      const oldObj: any = structuredClone(pick(rnd, baseObjects));
      let newObj: any = structuredClone(oldObj);
      try {
        pick(rnd, mutations)(newObj, rnd);
        applied++;
        if (rnd() < 0.3) newObj.spec.restore = rnd() < 0.5 ? undefined : { sourceName: "x" };
      } catch {
        // a mutation that does not apply to this shape is skipped (counted below)
      }
      newObj = JSON.parse(JSON.stringify(newObj));
      if (JSON.stringify(newObj) !== JSON.stringify(oldObj)) changed++;
      const { errors } = await validateMySQLClusterUpdate(newObj, oldObj, noStorage);
      const oldR = oldObj.spec?.replicas ?? 1;
      const newR = newObj.spec?.replicas ?? 1;
      if (typeof newR === "number" && newR < oldR) {
        lowered++;
        assert.ok(errors.some((e) => e.field === "spec.replicas" && e.type === "Forbidden"), `iteration ${n}`);
      }
      if (JSON.stringify(newObj.spec?.restore ?? null) !== JSON.stringify(oldObj.spec?.restore ?? null)) {
        restoreTouched++;
        assert.ok(errors.some((e) => e.field === "spec.restore" && e.type === "Forbidden"), `iteration ${n}`);
      }
      for (const field of oracle(newObj)) {
        if (field === "metadata.name") continue; // checked on create only
        assert.ok(errors.some((e) => e.field === field || e.field.startsWith(field)), `iteration ${n}: ${field}`);
      }
    }
    // Not a vacuous pass: the mutations applied, changed the objects, and reached both rules.
    t.diagnostic(`update fuzz: ${applied} mutations applied, ${changed} objects changed, ${lowered} lowered replicas, ${restoreTouched} touched restore`);
    assert.ok(applied > ROUNDS * 0.8, `only ${applied} of ${ROUNDS} mutations applied`);
    assert.ok(changed > ROUNDS * 0.7, `only ${changed} of ${ROUNDS} objects changed`);
    assert.ok(lowered >= 5, `replicas lowered in only ${lowered} rounds`);
    assert.ok(restoreTouched >= 20, `restore touched in only ${restoreTouched} rounds`);
  });
});

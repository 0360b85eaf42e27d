// Invalid MySQLClusters and BackupPolicies, and invalid updates, rejected by a REAL
// kube-apiserver: either the CRD schema (deploy/crds/) or the moco-ts admission
// webhooks (docs/api.md#mysqlcluster-validation-on-create, docs/api.md#mysqlcluster-validation-on-update, docs/api.md#backuppolicy-validation). Each case asserts the HTTP code, the field path in the
// message and in the Status causes, and which layer rejected it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BACKUPPOLICIES,
  MYSQLCLUSTERS,
  apiError,
  rejection,
  startApiHarness,
  statusOf,
  type ApiError,
  type ApiHarness,
  type Json,
} from "./harness.ts";
import {
  at,
  clusterManifest,
  containers,
  jobConfig,
  mysqld,
  podSpec,
  policyManifest,
  restoreSpec,
  spec,
  templates,
} from "./fixtures.ts";
import { mysqlClusterLister, storageClassLookup } from "../../../src/controller/webhooks/k8s-deps.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { statusCodeOf } from "../../../src/k8s/errors.ts";

const NS = "rejects";
const WEBHOOK_MYSQL = 'admission webhook "vmysqlcluster.kb.io" denied the request';
const WEBHOOK_POLICY = 'admission webhook "vbackuppolicy.kb.io" denied the request';

type Layer = "schema" | "webhook";

interface CreateCase {
  name: string;
  kind: "MySQLCluster" | "BackupPolicy";
  mutate: (obj: Json) => void;
  /** Exact field path expected in the Status causes (and in the message). */
  field: string;
  by: Layer;
  /** Something more the message must say. */
  says?: RegExp;
  /** Object name (default: generated). */
  objectName?: string;
}

const c = (
  name: string,
  field: string,
  by: Layer,
  mutate: (obj: Json) => void,
  says?: RegExp,
): CreateCase => ({ name, kind: "MySQLCluster", field, by, mutate, ...(says ? { says } : {}) });
const p = (
  name: string,
  field: string,
  by: Layer,
  mutate: (obj: Json) => void,
  says?: RegExp,
): CreateCase => ({ name, kind: "BackupPolicy", field, by, mutate, ...(says ? { says } : {}) });

const CREATE_CASES: CreateCase[] = [
  // --- MySQLCluster, CRD schema -------------------------------------------------
  // spec of the wrong type: the mutating webhook runs before the schema check and must
  // leave it alone so that the schema's 422 comes back (it used to answer 500).
  c("spec a number", "spec", "schema", (o) => (o["spec"] = 1.5), /must be of type object/),
  c("spec an array", "spec", "schema", (o) => (o["spec"] = [{ replicas: 3 }]), /must be of type object/),
  c("spec a string", "spec", "schema", (o) => (o["spec"] = "replicas: 3"), /must be of type object/),
  c("maxDelaySeconds < 0", "spec.maxDelaySeconds", "schema", (o) => (spec(o)["maxDelaySeconds"] = -1), /greater than or equal to 0/),
  c("maxDelaySecondsForPodDeletion < 0", "spec.maxDelaySecondsForPodDeletion", "schema", (o) => (spec(o)["maxDelaySecondsForPodDeletion"] = -5)),
  c("startupWaitSeconds < 0", "spec.startupWaitSeconds", "schema", (o) => (spec(o)["startupWaitSeconds"] = -1)),
  c("replicas not an integer", "spec.replicas", "schema", (o) => (spec(o)["replicas"] = "three")),
  c("replicas fractional", "spec.replicas", "schema", (o) => (spec(o)["replicas"] = 2.5)),
  c("podTemplate missing", "spec.podTemplate", "schema", (o) => delete spec(o)["podTemplate"], /Required value/),
  c("podTemplate.spec missing", "spec.podTemplate.spec", "schema", (o) => delete at(o, ["spec", "podTemplate"])["spec"]),
  c("volumeClaimTemplates missing", "spec.volumeClaimTemplates", "schema", (o) => delete spec(o)["volumeClaimTemplates"]),
  c("volumeClaimTemplates empty", "spec.volumeClaimTemplates", "schema", (o) => (spec(o)["volumeClaimTemplates"] = []), /at least 1 item/),
  c("volumeClaimTemplate without metadata", "spec.volumeClaimTemplates[0].metadata", "schema", (o) => delete templates(o)[0]!["metadata"]),
  c("overwriteContainers names mysqld", "spec.podTemplate.overwriteContainers[0].name", "schema",
    (o) => (at(o, ["spec", "podTemplate"])["overwriteContainers"] = [{ name: "mysqld" }]), /Unsupported value/),
  c("overwriteContainers entry without name", "spec.podTemplate.overwriteContainers[0].name", "schema",
    (o) => (at(o, ["spec", "podTemplate"])["overwriteContainers"] = [{ resources: {} }])),
  c("restore without restorePoint", "spec.restore.restorePoint", "schema", (o) => {
    const r = restoreSpec();
    delete r["restorePoint"];
    spec(o)["restore"] = r;
  }),
  c("restore restorePoint not a date-time", "spec.restore.restorePoint", "schema",
    (o) => (spec(o)["restore"] = { ...restoreSpec(), restorePoint: "yesterday" })),
  c("restore sourceName empty", "spec.restore.sourceName", "schema", (o) => (spec(o)["restore"] = { ...restoreSpec(), sourceName: "" })),
  c("restore bucket backendType unknown", "spec.restore.jobConfig.bucketConfig.backendType", "schema", (o) => {
    const r = restoreSpec();
    at(r, ["jobConfig", "bucketConfig"])["backendType"] = "ftp";
    spec(o)["restore"] = r;
  }),
  c("restore bucket endpointURL not http(s)", "spec.restore.jobConfig.bucketConfig.endpointURL", "schema", (o) => {
    const r = restoreSpec();
    at(r, ["jobConfig", "bucketConfig"])["endpointURL"] = "ftp://example.com";
    spec(o)["restore"] = r;
  }),
  c("restore jobConfig threads 0", "spec.restore.jobConfig.threads", "schema", (o) => {
    const r = restoreSpec();
    at(r, ["jobConfig"])["threads"] = 0;
    spec(o)["restore"] = r;
  }),
  c("restore jobConfig without serviceAccountName", "spec.restore.jobConfig.serviceAccountName", "schema", (o) => {
    const r = restoreSpec();
    delete at(r, ["jobConfig"])["serviceAccountName"];
    spec(o)["restore"] = r;
  }),
  c("mysqld cpu request not a quantity", "spec.podTemplate.spec.containers[0].resources.requests.cpu", "schema",
    (o) => (mysqld(o)["resources"] = { requests: { cpu: "lots" } })),
  c("storage request not a quantity", "spec.volumeClaimTemplates[0].spec.resources.requests.storage", "schema",
    (o) => (at(templates(o)[0]!, ["spec", "resources", "requests"])["storage"] = "10 gigs")),
  // --- MySQLCluster, validating webhook ------------------------------------------
  c("replicas even", "spec.replicas", "webhook", (o) => (spec(o)["replicas"] = 2), /odd/),
  c("replicas 0", "spec.replicas", "webhook", (o) => (spec(o)["replicas"] = 0), /positive/),
  c("replicas negative", "spec.replicas", "webhook", (o) => (spec(o)["replicas"] = -1)),
  c("replicas 7 (moco-ts: 1, 3 or 5)", "spec.replicas", "webhook", (o) => (spec(o)["replicas"] = 7), /1, 3, 5/),
  c("replicas 9", "spec.replicas", "webhook", (o) => (spec(o)["replicas"] = 9), /1, 3, 5/),
  c("serverIDBase negative", "spec.serverIDBase", "webhook", (o) => (spec(o)["serverIDBase"] = -5), /positive/),
  c("logRotationSchedule not cron", "spec.logRotationSchedule", "webhook", (o) => (spec(o)["logRotationSchedule"] = "every day")),
  c("logRotationSchedule unknown time zone", "spec.logRotationSchedule", "webhook",
    (o) => (spec(o)["logRotationSchedule"] = "TZ=Nowhere/City 0 * * * *")),
  c("logRotationSchedule minute out of range", "spec.logRotationSchedule", "webhook", (o) => (spec(o)["logRotationSchedule"] = "60 * * * *")),
  c("logRotationSize negative", "spec.logRotationSize", "webhook", (o) => (spec(o)["logRotationSize"] = -1), />= 0/),
  c("no mysqld container", "spec.podTemplate.spec.containers", "webhook",
    (o) => (podSpec(o)["containers"] = [{ name: "app", image: "x" }]), /"mysqld" is required/),
  c("container named agent", "spec.podTemplate.spec.containers[1]", "webhook",
    (o) => containers(o).push({ name: "agent", image: "x" }), /reserved/),
  c("container named slow-log", "spec.podTemplate.spec.containers[1]", "webhook",
    (o) => containers(o).push({ name: "slow-log", image: "x" }), /disableSlowQueryLogContainer/),
  c("container named mysqld-exporter with collectors", "spec.podTemplate.spec.containers[1]", "webhook", (o) => {
    spec(o)["collectors"] = ["engine_innodb_status"];
    containers(o).push({ name: "mysqld-exporter", image: "x" });
  }, /collectors/),
  c("container named moco-init (moco-ts)", "spec.podTemplate.spec.containers[1]", "webhook",
    (o) => containers(o).push({ name: "moco-init", image: "x" }), /moco-ts/),
  c("container named copy-moco-init (moco-ts)", "spec.podTemplate.spec.containers[1]", "webhook",
    (o) => containers(o).push({ name: "copy-moco-init", image: "x" }), /moco-ts/),
  c("container without name", "spec.podTemplate.spec.containers[1]", "webhook",
    (o) => containers(o).push({ image: "x" }), /must have a name/),
  c("mysqld port 3306", "spec.podTemplate.spec.containers[0].ports[1]", "webhook",
    (o) => (mysqld(o)["ports"] as Json[]).push({ containerPort: 3306 }), /3306/),
  c("mysqld port 33062", "spec.podTemplate.spec.containers[0].ports[0]", "webhook",
    (o) => (mysqld(o)["ports"] = [{ containerPort: 33062, name: "x" }]), /33062/),
  c("mysqld port named mysqlx", "spec.podTemplate.spec.containers[0].ports[0]", "webhook",
    (o) => (mysqld(o)["ports"] = [{ containerPort: 7000, name: "mysqlx" }]), /mysqlx/),
  c("mysqld port named health", "spec.podTemplate.spec.containers[0].ports[0]", "webhook",
    (o) => (mysqld(o)["ports"] = [{ containerPort: 7001, name: "health" }]), /health/),
  c("init container moco-init", "spec.podTemplate.spec.initContainers[1]", "webhook",
    (o) => (podSpec(o)["initContainers"] as Json[]).push({ name: "moco-init", image: "x" }), /reserved/),
  c("init container copy-moco-init (moco-ts)", "spec.podTemplate.spec.initContainers[0]", "webhook",
    (o) => (podSpec(o)["initContainers"] = [{ name: "copy-moco-init", image: "x" }]), /moco-ts/),
  c("init container without name", "spec.podTemplate.spec.initContainers[0]", "webhook",
    (o) => (podSpec(o)["initContainers"] = [{ image: "x" }])),
  c("volume tmp", "spec.podTemplate.spec.volumes[1]", "webhook",
    (o) => (podSpec(o)["volumes"] as Json[]).push({ name: "tmp", emptyDir: {} }), /reserved/),
  c("volume my-cnf-secret", "spec.podTemplate.spec.volumes[0]", "webhook",
    (o) => (podSpec(o)["volumes"] = [{ name: "my-cnf-secret", emptyDir: {} }])),
  c("volume mysql-data (moco-ts)", "spec.podTemplate.spec.volumes[0]", "webhook",
    (o) => (podSpec(o)["volumes"] = [{ name: "mysql-data", emptyDir: {} }]), /moco-ts/),
  c("volume grpc-cert (moco-ts)", "spec.podTemplate.spec.volumes[0]", "webhook",
    (o) => (podSpec(o)["volumes"] = [{ name: "grpc-cert", emptyDir: {} }]), /moco-ts/),
  c("no mysql-data volume claim template", "spec.volumeClaimTemplates", "webhook",
    (o) => (at(templates(o)[0]!, ["metadata"])["name"] = "data"), /mysql-data/),
  c("volume claim template without storage", "spec.volumeClaimTemplates", "webhook",
    (o) => templates(o).push({ metadata: { name: "logs" }, spec: { resources: {} } }), /"logs"/),
  c("slowQueryLogConfigTmpl with an unknown field (moco-ts)", "spec.slowQueryLogConfigTmpl", "webhook",
    (o) => (spec(o)["slowQueryLogConfigTmpl"] = "[INPUT]\n  Name tail\n  Path {{ .Foo }}\n"),
    /spec\.slowQueryLogConfigTmpl: Invalid value: template line 3, column 8: \{\{ \.Foo \}\}: can't evaluate field Foo/),
  c("slowQueryLogConfigTmpl with define (moco-ts)", "spec.slowQueryLogConfigTmpl", "webhook",
    (o) => (spec(o)["slowQueryLogConfigTmpl"] = '{{ define "input" }}[INPUT]{{ end }}'), /\{\{ define \}\} is not supported by moco-ts/),
  {
    ...c("name longer than 40 characters", "metadata.name", "webhook", () => undefined, /40 characters/),
    objectName: "a-cluster-name-that-is-far-too-long-for-moco",
  },
  // --- BackupPolicy, CRD schema --------------------------------------------------
  p("schedule missing", "spec.schedule", "schema", (o) => delete spec(o)["schedule"]),
  p("jobConfig missing", "spec.jobConfig", "schema", (o) => delete spec(o)["jobConfig"]),
  p("concurrencyPolicy unknown", "spec.concurrencyPolicy", "schema", (o) => (spec(o)["concurrencyPolicy"] = "Sometimes"), /Unsupported value/),
  p("bucketName missing", "spec.jobConfig.bucketConfig.bucketName", "schema", (o) => delete at(o, ["spec", "jobConfig", "bucketConfig"])["bucketName"]),
  p("bucketName empty", "spec.jobConfig.bucketConfig.bucketName", "schema", (o) => (at(o, ["spec", "jobConfig", "bucketConfig"])["bucketName"] = "")),
  p("endpointURL without scheme", "spec.jobConfig.bucketConfig.endpointURL", "schema",
    (o) => (at(o, ["spec", "jobConfig", "bucketConfig"])["endpointURL"] = "s3.example.com")),
  p("backendType unknown", "spec.jobConfig.bucketConfig.backendType", "schema", (o) => (at(o, ["spec", "jobConfig", "bucketConfig"])["backendType"] = "minio")),
  p("backoffLimit negative", "spec.backoffLimit", "schema", (o) => (spec(o)["backoffLimit"] = -1)),
  p("successfulJobsHistoryLimit negative", "spec.successfulJobsHistoryLimit", "schema", (o) => (spec(o)["successfulJobsHistoryLimit"] = -1)),
  p("failedJobsHistoryLimit negative", "spec.failedJobsHistoryLimit", "schema", (o) => (spec(o)["failedJobsHistoryLimit"] = -2)),
  p("threads 0", "spec.jobConfig.threads", "schema", (o) => (jobConfig(o)["threads"] = 0)),
  p("workVolume missing", "spec.jobConfig.workVolume", "schema", (o) => delete jobConfig(o)["workVolume"]),
  p("serviceAccountName empty", "spec.jobConfig.serviceAccountName", "schema", (o) => (jobConfig(o)["serviceAccountName"] = "")),
  p("memory not a quantity", "spec.jobConfig.memory", "schema", (o) => (jobConfig(o)["memory"] = "4 GiB")),
  // --- BackupPolicy, validating webhook ------------------------------------------
  p("schedule not cron", "spec.schedule", "webhook", (o) => (spec(o)["schedule"] = "not a cron"), /not a cron/),
  p("schedule with six fields", "spec.schedule", "webhook", (o) => (spec(o)["schedule"] = "0 0 * * * *")),
  p("schedule @every without duration", "spec.schedule", "webhook", (o) => (spec(o)["schedule"] = "@every soon")),
  p("schedule TZ prefix without schedule", "spec.schedule", "webhook", (o) => (spec(o)["schedule"] = "TZ=UTC")),
  p("schedule unknown descriptor", "spec.schedule", "webhook", (o) => (spec(o)["schedule"] = "@fortnightly")),
];

interface UpdateCase {
  name: string;
  kind: "MySQLCluster" | "BackupPolicy";
  /** The stored object's spec (merged into the valid manifest). */
  initial?: Json;
  update: (obj: Json) => void;
  field: string;
  by: Layer;
  says?: RegExp;
}

function grow(index: number, size: string): (o: Json) => void {
  return (o) => (at(templates(o)[index]!, ["spec", "resources", "requests"])["storage"] = size);
}
function template(name: string, size: string, storageClassName?: string): Json {
  return {
    metadata: { name },
    spec: { resources: { requests: { storage: size } }, ...(storageClassName ? { storageClassName } : {}) },
  };
}

const UPDATE_CASES: UpdateCase[] = [
  { name: "replicas 3 -> 1", kind: "MySQLCluster", update: (o) => (spec(o)["replicas"] = 1), field: "spec.replicas", by: "webhook", says: /decreasing replicas \(from 3 to 1\)/ },
  { name: "replicas 5 -> 3", kind: "MySQLCluster", initial: { replicas: 5 }, update: (o) => (spec(o)["replicas"] = 3), field: "spec.replicas", by: "webhook", says: /not supported/ },
  { name: "replicas 3 -> 4", kind: "MySQLCluster", update: (o) => (spec(o)["replicas"] = 4), field: "spec.replicas", by: "webhook", says: /odd/ },
  { name: "restore added after creation", kind: "MySQLCluster", update: (o) => (spec(o)["restore"] = restoreSpec()), field: "spec.restore", by: "webhook", says: /not editable/ },
  { name: "restore removed", kind: "MySQLCluster", initial: { restore: restoreSpec() }, update: (o) => delete spec(o)["restore"], field: "spec.restore", by: "webhook", says: /not editable/ },
  {
    name: "restore restorePoint changed", kind: "MySQLCluster", initial: { restore: restoreSpec() },
    update: (o) => (at(o, ["spec", "restore"])["restorePoint"] = "2025-01-16T03:00:00Z"), field: "spec.restore", by: "webhook",
  },
  {
    name: "restore jobConfig changed", kind: "MySQLCluster", initial: { restore: restoreSpec() },
    update: (o) => (at(o, ["spec", "restore", "jobConfig"])["threads"] = 8), field: "spec.restore", by: "webhook",
  },
  {
    name: "replicationSourceSecretName set later", kind: "MySQLCluster",
    update: (o) => (spec(o)["replicationSourceSecretName"] = "donor"), field: "spec.replicationSourceSecretName", by: "webhook",
    says: /only be configured when the cluster is created/,
  },
  {
    name: "replicationSourceSecretName changed", kind: "MySQLCluster", initial: { replicationSourceSecretName: "donor" },
    update: (o) => (spec(o)["replicationSourceSecretName"] = "other-donor"), field: "spec.replicationSourceSecretName", by: "webhook",
    says: /cannot be changed/,
  },
  {
    name: "volume growth on a StorageClass without allowVolumeExpansion", kind: "MySQLCluster",
    initial: { volumeClaimTemplates: [template("mysql-data", "1Gi", "fixed")] },
    update: grow(0, "2Gi"), field: "spec.volumeClaimTemplates[0]", by: "webhook", says: /StorageClass "fixed" does not allow volume expansion/,
  },
  {
    name: "volume growth of a second template on a fixed class", kind: "MySQLCluster",
    initial: { volumeClaimTemplates: [template("mysql-data", "1Gi", "expandable"), template("binlog", "500Mi", "fixed")] },
    update: (o) => {
      grow(0, "2Gi")(o);
      grow(1, "1Gi")(o);
    },
    field: "spec.volumeClaimTemplates[1]", by: "webhook", says: /"binlog" cannot grow/,
  },
  {
    name: "volume growth on the default StorageClass without allowVolumeExpansion", kind: "MySQLCluster",
    initial: { volumeClaimTemplates: [template("mysql-data", "1Gi")] },
    update: grow(0, "1500Mi"), field: "spec.volumeClaimTemplates[0]", by: "webhook", says: /StorageClass "default-fixed"/,
  },
  {
    name: "volume growth on a missing StorageClass", kind: "MySQLCluster",
    initial: { volumeClaimTemplates: [template("mysql-data", "1Gi", "no-such-class")] },
    update: grow(0, "2Gi"), field: "spec.volumeClaimTemplates[0].spec.storageClassName", by: "webhook", says: /not found/,
  },
  {
    name: "mysqld container removed", kind: "MySQLCluster",
    update: (o) => (podSpec(o)["containers"] = [{ name: "app", image: "x" }]), field: "spec.podTemplate.spec.containers", by: "webhook",
  },
  {
    name: "mysql-data template renamed", kind: "MySQLCluster",
    update: (o) => (at(templates(o)[0]!, ["metadata"])["name"] = "data"), field: "spec.volumeClaimTemplates", by: "webhook",
  },
  {
    name: "reserved volume added", kind: "MySQLCluster",
    update: (o) => (podSpec(o)["volumes"] as Json[]).push({ name: "var-log", emptyDir: {} }), field: "spec.podTemplate.spec.volumes[1]", by: "webhook",
  },
  {
    name: "serverIDBase set to 0 literally", kind: "MySQLCluster",
    update: (o) => (spec(o)["serverIDBase"] = 0), field: "spec.serverIDBase", by: "webhook",
  },
  {
    name: "slow-log container while the sidecar is enabled", kind: "MySQLCluster", initial: { disableSlowQueryLogContainer: true },
    update: (o) => {
      containers(o).push({ name: "slow-log", image: "x" });
      spec(o)["disableSlowQueryLogContainer"] = false;
    },
    field: "spec.podTemplate.spec.containers[1]", by: "webhook",
  },
  { name: "maxDelaySeconds < 0", kind: "MySQLCluster", update: (o) => (spec(o)["maxDelaySeconds"] = -1), field: "spec.maxDelaySeconds", by: "schema" },
  {
    name: "slowQueryLogConfigTmpl changed to an unclosed action", kind: "MySQLCluster", initial: { slowQueryLogConfigTmpl: "Path {{ .Path }}\n" },
    update: (o) => (spec(o)["slowQueryLogConfigTmpl"] = "Path {{ .Path \n"), field: "spec.slowQueryLogConfigTmpl", by: "webhook",
    says: /line 1, column 6: unclosed action/,
  },
  { name: "schedule made invalid", kind: "BackupPolicy", update: (o) => (spec(o)["schedule"] = "*/5 * * *"), field: "spec.schedule", by: "webhook" },
  {
    name: "concurrencyPolicy made invalid", kind: "BackupPolicy", update: (o) => (spec(o)["concurrencyPolicy"] = "Never"),
    field: "spec.concurrencyPolicy", by: "schema",
  },
];

function assertRejected(err: ApiError, expected: { field: string; by: Layer; says?: RegExp; kind: string }): void {
  const detail = JSON.stringify(err);
  assert.equal(err.code, 422, detail);
  assert.equal(err.reason, "Invalid", detail);
  const escaped = expected.field.replace(/[.[\]]/g, (ch) => `\\${ch}`);
  assert.match(err.message, new RegExp(`${escaped}(:|\\b)`), `message names ${expected.field}: ${detail}`);
  assert.ok(
    err.causes.some((cause) => cause.field === expected.field),
    `a Status cause has field ${expected.field}: ${detail}`,
  );
  const webhookPrefix = expected.kind === "MySQLCluster" ? WEBHOOK_MYSQL : WEBHOOK_POLICY;
  if (expected.by === "webhook") assert.ok(err.message.startsWith(webhookPrefix), `rejected by the webhook: ${detail}`);
  else assert.ok(!err.message.includes("admission webhook"), `rejected by the CRD schema: ${detail}`);
  if (expected.says) assert.match(err.message, expected.says, detail);
}

describe("invalid objects and updates are rejected by a real kube-apiserver (CRD schema + moco-ts webhooks)", () => {
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
    await h.core.createNamespace({ body: { metadata: { name: NS } } });
    const sc = (name: string, allowVolumeExpansion: boolean, isDefault = false) =>
      h.storage.createStorageClass({
        body: {
          metadata: {
            name,
            ...(isDefault ? { annotations: { "storageclass.kubernetes.io/is-default-class": "true" } } : {}),
          },
          provisioner: "example.com/none",
          allowVolumeExpansion,
        },
      });
    await sc("fixed", false);
    await sc("expandable", true);
    await sc("default-fixed", false, true);
  });
  after(async () => {
    await h?.stop();
  });

  it(`the table has at least 40 distinct cases (${CREATE_CASES.length} create, ${UPDATE_CASES.length} update, 1 delete)`, () => {
    const names = [
      ...CREATE_CASES.map((x) => `CREATE ${x.kind} ${x.name}`),
      ...UPDATE_CASES.map((x) => `UPDATE ${x.kind} ${x.name}`),
    ];
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.length + 1 >= 40);
  });

  describe("CREATE", () => {
    CREATE_CASES.forEach((tc, i) => {
      it(`${tc.kind}: ${tc.name} -> ${tc.field} (${tc.by})`, async () => {
        const name = tc.objectName ?? `create-${i}`;
        const obj = tc.kind === "MySQLCluster" ? clusterManifest(name, NS) : policyManifest(name, NS);
        tc.mutate(obj);
        const api = tc.kind === "MySQLCluster" ? MYSQLCLUSTERS : BACKUPPOLICIES;
        const err = await rejection(() => h.custom.createNamespacedCustomObject({ ...api, namespace: NS, body: obj }));
        assertRejected(err, tc);
        // Nothing was stored.
        const gone = await rejection(() => h.custom.getNamespacedCustomObject({ ...api, namespace: NS, name }));
        assert.equal(gone.code, 404);
      });
    });
  });

  describe("UPDATE", () => {
    UPDATE_CASES.forEach((tc, i) => {
      it(`${tc.kind}: ${tc.name} -> ${tc.field} (${tc.by})`, async () => {
        const name = `update-${i}`;
        const api = tc.kind === "MySQLCluster" ? MYSQLCLUSTERS : BACKUPPOLICIES;
        const initial = tc.kind === "MySQLCluster" ? clusterManifest(name, NS, tc.initial) : policyManifest(name, NS, tc.initial);
        await h.custom.createNamespacedCustomObject({ ...api, namespace: NS, body: initial });
        const stored = (await h.custom.getNamespacedCustomObject({ ...api, namespace: NS, name })) as Json;
        const updated = structuredClone(stored);
        tc.update(updated);
        const err = await rejection(() =>
          h.custom.replaceNamespacedCustomObject({ ...api, namespace: NS, name, body: updated }),
        );
        assertRejected(err, tc);
        const after = (await h.custom.getNamespacedCustomObject({ ...api, namespace: NS, name })) as Json;
        assert.deepEqual(after["spec"], stored["spec"], "the stored object is unchanged");
      });
    });
  });

  describe("DELETE of a BackupPolicy", () => {
    it("is refused (403) while a MySQLCluster in its namespace references it, naming the cluster; allowed afterwards", async () => {
      await h.custom.createNamespacedCustomObject({ ...BACKUPPOLICIES, namespace: NS, body: policyManifest("nightly", NS) });
      await h.custom.createNamespacedCustomObject({
        ...MYSQLCLUSTERS,
        namespace: NS,
        body: clusterManifest("uses-nightly", NS, { backupPolicyName: "nightly" }),
      });
      // A cluster elsewhere naming a policy of the same name does not matter.
      await h.core.createNamespace({ body: { metadata: { name: "elsewhere" } } });
      await h.custom.createNamespacedCustomObject({
        ...MYSQLCLUSTERS,
        namespace: "elsewhere",
        body: clusterManifest("other", "elsewhere", { backupPolicyName: "nightly" }),
      });

      const err = await rejection(() =>
        h.custom.deleteNamespacedCustomObject({ ...BACKUPPOLICIES, namespace: NS, name: "nightly" }),
      );
      assert.equal(err.code, 403, JSON.stringify(err));
      assert.equal(err.reason, "Forbidden");
      assert.ok(err.message.startsWith(WEBHOOK_POLICY), err.message);
      assert.match(err.message, /rejects\/uses-nightly/);
      assert.doesNotMatch(err.message, /elsewhere/);

      // kubectl shows the same refusal.
      await assert.rejects(h.cp.kubectl(["delete", "backuppolicy", "nightly", "-n", NS]), /rejects\/uses-nightly/);

      // Stop referencing it: the delete goes through.
      const res = await h.request(
        "PATCH",
        `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters/uses-nightly`,
        { spec: { backupPolicyName: null } },
        "application/merge-patch+json",
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await h.custom.deleteNamespacedCustomObject({ ...BACKUPPOLICIES, namespace: NS, name: "nightly" });
      const gone = await rejection(() => h.custom.getNamespacedCustomObject({ ...BACKUPPOLICIES, namespace: NS, name: "nightly" }));
      assert.equal(gone.code, 404);
    });
  });

  describe("allowed updates (controls: the rules above are not blanket refusals)", () => {
    async function createAndUpdate(name: string, initial: Json, update: (o: Json) => void): Promise<{ status: number; body: Json; warnings: string[] }> {
      await h.custom.createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, body: clusterManifest(name, NS, initial) });
      const stored = (await h.custom.getNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, name })) as Json;
      const updated = structuredClone(stored);
      update(updated);
      return h.request("PUT", `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters/${name}`, updated);
    }

    it("replicas 1 -> 3 -> 5", async () => {
      const res = await createAndUpdate("grow-replicas", { replicas: 1 }, (o) => (spec(o)["replicas"] = 3));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const stored = res.body;
      spec(stored)["replicas"] = 5;
      const res2 = await h.request("PUT", `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters/grow-replicas`, stored);
      assert.equal(res2.status, 200, JSON.stringify(res2.body));
    });

    it("volume growth on an expandable StorageClass, and shrinking on a fixed one", async () => {
      const res = await createAndUpdate(
        "grow-ok",
        { volumeClaimTemplates: [template("mysql-data", "1Gi", "expandable"), template("binlog", "1Gi", "fixed")] },
        (o) => {
          grow(0, "5Gi")(o);
          grow(1, "500Mi")(o);
        },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(at(templates(res.body)[0]!, ["spec", "resources", "requests"])["storage"], "5Gi");
    });

    it("clearing replicationSourceSecretName", async () => {
      const res = await createAndUpdate("clear-source", { replicationSourceSecretName: "donor" }, (o) => {
        spec(o)["replicationSourceSecretName"] = null;
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(spec(res.body)["replicationSourceSecretName"] ?? null, null);
    });

    it("changing serverIDBase is accepted with an admission warning", async () => {
      const res = await createAndUpdate("new-base", { serverIDBase: 100 }, (o) => (spec(o)["serverIDBase"] = 200));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(spec(res.body)["serverIDBase"], 200);
      assert.ok(
        res.warnings.some((w) => /spec\.serverIDBase changed from 100 to 200/.test(w)),
        JSON.stringify(res.warnings),
      );
    });

    it("a non-trivial slowQueryLogConfigTmpl is accepted on CREATE and UPDATE and stored as written", async () => {
      const first =
        "[INPUT]\n  Name tail\n{{- if .Path }}\n  Path {{ .Path }}\n{{- end }}\n{{/* MOCO users add filters */}}\n" +
        "[FILTER]\n  Name grep\n  Match *\n  Regex log {{ `^# Time` }}\n[OUTPUT]\n  Name stdout\n";
      const second = "{{ with .Path }}[INPUT]\n  Name tail\n  Path {{ printf \"%s\" . }}{{ end }}\n";
      const res = await createAndUpdate("slow-log-tmpl", { slowQueryLogConfigTmpl: first }, (o) => {
        assert.equal(spec(o)["slowQueryLogConfigTmpl"], first);
        spec(o)["slowQueryLogConfigTmpl"] = second;
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(spec(res.body)["slowQueryLogConfigTmpl"], second);
    });

    it("metadata-only update and podTemplate change of a valid cluster", async () => {
      const res = await createAndUpdate("relabel", {}, (o) => {
        at(o, ["metadata"])["labels"] = { team: "db" };
        mysqld(o)["image"] = "ghcr.io/cybozu-go/moco/mysql:8.4.9";
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });

    it("removing the finalizer of a cluster being deleted is allowed, and the cluster goes away", async () => {
      await h.custom.createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, body: clusterManifest("doomed", NS) });
      await h.custom.deleteNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, name: "doomed" });
      const deleting = (await h.custom.getNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, name: "doomed" })) as Json;
      const meta = deleting["metadata"] as { deletionTimestamp?: string; finalizers?: string[] };
      assert.ok(meta.deletionTimestamp, "held by the finalizer");
      assert.deepEqual(meta.finalizers, ["moco.cybozu.com/mysqlcluster"]);
      const res = await h.request(
        "PATCH",
        `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters/doomed`,
        [{ op: "remove", path: "/metadata/finalizers" }],
        "application/json-patch+json",
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const gone = await rejection(() => h.custom.getNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, name: "doomed" }));
      assert.equal(gone.code, 404);
    });

    it("the webhook server never answered with an internal error", () => {
      const failures = h.log.reviews.filter((r) => r.code === 500);
      assert.deepEqual(failures, []);
      assert.deepEqual(h.log.errors, []);
      // And it did see the reviews (the rejections above were not all by the schema).
      assert.ok(h.log.reviews.some((r) => r.path.includes("validate-moco-cybozu-com-v1beta2-mysqlcluster") && !r.allowed));
      assert.ok(h.log.reviews.some((r) => r.path.includes("validate-moco-cybozu-com-v1beta2-backuppolicy") && r.operation === "DELETE" && !r.allowed));
    });
  });

  describe("the webhook dependencies over a KubeClient (src/controller/webhooks/k8s-deps.ts)", () => {
    it("StorageClass lookup: get, not found, and a paged list", async () => {
      const lookup = storageClassLookup(new KubeClient(h.kc, { qps: 0 }), { pageSize: 1 });
      const fixed = await lookup.getStorageClass("fixed");
      assert.deepEqual(fixed, { metadata: { name: "fixed" }, allowVolumeExpansion: false });
      assert.equal((await lookup.getStorageClass("expandable"))?.allowVolumeExpansion, true);
      assert.equal(await lookup.getStorageClass("no-such-class"), undefined);
      const all = await lookup.listStorageClasses();
      assert.deepEqual(all.map((sc) => sc.metadata?.name).sort(), ["default-fixed", "expandable", "fixed"]);
      const def = all.find((sc) => sc.metadata?.name === "default-fixed");
      assert.equal(def?.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"], "true");
    });

    it("StorageClass lookup rejects when the API server refuses (not mistaken for not found)", async () => {
      const { KubeConfig } = await import("@kubernetes/client-node");
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "c", server: h.cp.server, skipTLSVerify: true }],
        users: [{ name: "anonymous" }],
        contexts: [{ name: "c", cluster: "c", user: "anonymous" }],
        currentContext: "c",
      });
      const lookup = storageClassLookup(new KubeClient(kc, { qps: 0 }));
      await assert.rejects(lookup.getStorageClass("fixed"), (e: unknown) => [401, 403].includes(statusCodeOf(e) ?? 0));
    });

    it("MySQLCluster lister: one namespace only, every page", async () => {
      const list = mysqlClusterLister(new KubeClient(h.kc, { qps: 0 }), { pageSize: 2 });
      const clusters = await list(NS);
      assert.ok(clusters.length > 5, String(clusters.length));
      const names = clusters.map((x) => x.metadata?.name);
      assert.equal(new Set(names).size, names.length, "no page read twice");
      assert.ok(clusters.every((x) => x.metadata?.namespace === NS && x.kind === "MySQLCluster"));
      const all = (await h.custom.listNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS })) as { items: unknown[] };
      assert.equal(clusters.length, all.items.length);
      assert.deepEqual(await list("empty-namespace"), []);
    });
  });

  it("a Status from a raw request carries the same causes as client-node reports", async () => {
    const obj = clusterManifest("raw", NS, { replicas: 2 });
    const res = await h.request("POST", `/apis/moco.cybozu.com/v1beta2/namespaces/${NS}/mysqlclusters`, obj);
    const err = statusOf(res.status, res.body);
    assert.equal(res.status, 422);
    assert.deepEqual(
      err.causes.map((x) => [x.field, x.reason]),
      [["spec.replicas", "FieldValueInvalid"]],
    );
    // client-node sees the same thing.
    const viaClient = await h.custom
      .createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: NS, body: obj })
      .then(() => undefined, (e: unknown) => apiError(e));
    assert.deepEqual(viaClient?.causes, err.causes);
  });
});

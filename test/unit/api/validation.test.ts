import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BackupStatusSchema,
  MYSQLCLUSTER_FINALIZER,
  checkAgainstSchema,
  defaultMySQLCluster,
  findClustersReferencingPolicy,
  serverIDBaseFromBytes,
  validateBackupPolicy,
  validateMySQLClusterCreate,
  validateMySQLClusterUpdate,
  type BackupPolicy,
  type FieldError,
  type FieldErrorType,
  type MySQLCluster,
  type StorageClassInfo,
  type StorageClassLookup,
} from "../../../src/api/v1beta2/index.ts";
import { backupStatus, statusShapes, validBackupPolicy, validCluster } from "./fixtures.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- test mutations reach into arbitrary JSON */
type Mutate = (c: any) => void;

function assertHasError(errors: FieldError[], field: string, type: FieldErrorType, detail?: RegExp): void {
  const match = errors.find((e) => e.field === field && e.type === type && (detail === undefined || detail.test(e.detail)));
  assert.ok(match, `expected ${type} on ${field}${detail ? ` matching ${detail}` : ""}; got ${JSON.stringify(errors.map((e) => e.message))}`);
  assert.ok(match.message.startsWith(`${field}: `), `message names the field: ${match.message}`);
}

const podSpec = (c: any) => c.spec.podTemplate.spec;
const mysqld = (c: any) => podSpec(c).containers[0];

const createCases: { name: string; mutate: Mutate; field: string; type: FieldErrorType; detail?: RegExp }[] = [
  { name: "name longer than 40", mutate: (c) => (c.metadata.name = "a".repeat(41)), field: "metadata.name", type: "Invalid" },
  { name: "no spec", mutate: (c) => delete c.spec, field: "spec", type: "Required" },
  { name: "no mysql-data template", mutate: (c) => (c.spec.volumeClaimTemplates[0].metadata.name = "data"), field: "spec.volumeClaimTemplates", type: "Required", detail: /mysql-data/ },
  { name: "template without storage", mutate: (c) => delete c.spec.volumeClaimTemplates[0].spec.resources, field: "spec.volumeClaimTemplates", type: "Required", detail: /"mysql-data" \(index 0\)/ },
  { name: "second template without storage", mutate: (c) => c.spec.volumeClaimTemplates.push({ metadata: { name: "logs" }, spec: {} }), field: "spec.volumeClaimTemplates", type: "Required", detail: /"logs" \(index 1\)/ },
  { name: "empty volumeClaimTemplates", mutate: (c) => (c.spec.volumeClaimTemplates = []), field: "spec.volumeClaimTemplates", type: "Invalid", detail: /at least 1/ },
  { name: "missing volumeClaimTemplates", mutate: (c) => delete c.spec.volumeClaimTemplates, field: "spec.volumeClaimTemplates", type: "Required" },
  { name: "template without metadata", mutate: (c) => delete c.spec.volumeClaimTemplates[0].metadata, field: "spec.volumeClaimTemplates[0].metadata", type: "Required" },
  { name: "template without spec", mutate: (c) => delete c.spec.volumeClaimTemplates[0].spec, field: "spec.volumeClaimTemplates[0].spec", type: "Required" },
  { name: "serverIDBase 0", mutate: (c) => (c.spec.serverIDBase = 0), field: "spec.serverIDBase", type: "Invalid" },
  { name: "serverIDBase negative", mutate: (c) => (c.spec.serverIDBase = -5), field: "spec.serverIDBase", type: "Invalid" },
  { name: "serverIDBase absent", mutate: (c) => delete c.spec.serverIDBase, field: "spec.serverIDBase", type: "Invalid" },
  { name: "serverIDBase above int32", mutate: (c) => (c.spec.serverIDBase = 2 ** 31), field: "spec.serverIDBase", type: "Invalid", detail: /32-bit/ },
  { name: "bad logRotationSchedule", mutate: (c) => (c.spec.logRotationSchedule = "* * *"), field: "spec.logRotationSchedule", type: "Invalid", detail: /expected exactly 5 fields/ },
  { name: "logRotationSchedule bad zone", mutate: (c) => (c.spec.logRotationSchedule = "TZ=Nowhere/Land * * * * *"), field: "spec.logRotationSchedule", type: "Invalid", detail: /bad location/ },
  { name: "negative logRotationSize", mutate: (c) => (c.spec.logRotationSize = -1), field: "spec.logRotationSize", type: "Invalid" },
  { name: "replicas 0 (odd rule)", mutate: (c) => (c.spec.replicas = 0), field: "spec.replicas", type: "Invalid", detail: /odd/ },
  { name: "replicas 0 (positive rule)", mutate: (c) => (c.spec.replicas = 0), field: "spec.replicas", type: "Invalid", detail: /positive/ },
  { name: "replicas 2", mutate: (c) => (c.spec.replicas = 2), field: "spec.replicas", type: "Invalid", detail: /odd/ },
  { name: "replicas -1", mutate: (c) => (c.spec.replicas = -1), field: "spec.replicas", type: "Invalid", detail: /positive/ },
  { name: "replicas 7 (moco-ts)", mutate: (c) => (c.spec.replicas = 7), field: "spec.replicas", type: "Invalid", detail: /1, 3, 5 only/ },
  { name: "replicas 11 (moco-ts)", mutate: (c) => (c.spec.replicas = 11), field: "spec.replicas", type: "Invalid", detail: /1, 3, 5 only/ },
  { name: "replicas as string", mutate: (c) => (c.spec.replicas = "3"), field: "spec.replicas", type: "Invalid" },
  { name: "slowQueryLogConfigTmpl with an unknown field", mutate: (c) => (c.spec.slowQueryLogConfigTmpl = "[INPUT]\n  Path {{ .Foo }}\n"), field: "spec.slowQueryLogConfigTmpl", type: "Invalid", detail: /^template line 2, column 8: \{\{ \.Foo \}\}: can't evaluate field Foo/ },
  { name: "slowQueryLogConfigTmpl with range", mutate: (c) => (c.spec.slowQueryLogConfigTmpl = "{{ range .Path }}x{{ end }}"), field: "spec.slowQueryLogConfigTmpl", type: "Invalid", detail: /\{\{ range \}\} is not supported by moco-ts/ },
  { name: "slowQueryLogConfigTmpl unclosed", mutate: (c) => (c.spec.slowQueryLogConfigTmpl = "Path {{ .Path"), field: "spec.slowQueryLogConfigTmpl", type: "Invalid", detail: /line 1, column 6: unclosed action/ },
  { name: "container without name", mutate: (c) => podSpec(c).containers.push({ image: "x" }), field: "spec.podTemplate.spec.containers[1]", type: "Forbidden" },
  { name: "container named agent", mutate: (c) => podSpec(c).containers.push({ name: "agent" }), field: "spec.podTemplate.spec.containers[1]", type: "Forbidden" },
  { name: "container named slow-log", mutate: (c) => podSpec(c).containers.push({ name: "slow-log" }), field: "spec.podTemplate.spec.containers[1]", type: "Forbidden" },
  { name: "mysqld-exporter with collectors", mutate: (c) => { c.spec.collectors = ["engine_innodb_status"]; podSpec(c).containers.push({ name: "mysqld-exporter" }); }, field: "spec.podTemplate.spec.containers[1]", type: "Forbidden" },
  { name: "container named moco-init (moco-ts)", mutate: (c) => podSpec(c).containers.push({ name: "moco-init" }), field: "spec.podTemplate.spec.containers[1]", type: "Forbidden", detail: /moco-ts/ },
  { name: "no mysqld container", mutate: (c) => (mysqld(c).name = "mysql"), field: "spec.podTemplate.spec.containers", type: "Required" },
  { name: "no containers at all", mutate: (c) => delete podSpec(c).containers, field: "spec.podTemplate.spec.containers", type: "Required" },
  { name: "no podTemplate", mutate: (c) => delete c.spec.podTemplate, field: "spec.podTemplate", type: "Required" },
  { name: "podTemplate without spec", mutate: (c) => delete c.spec.podTemplate.spec, field: "spec.podTemplate.spec", type: "Required" },
  { name: "mysqld port 3306", mutate: (c) => mysqld(c).ports.push({ containerPort: 3306 }), field: "spec.podTemplate.spec.containers[0].ports[1]", type: "Invalid", detail: /3306/ },
  { name: "mysqld port 33060", mutate: (c) => mysqld(c).ports.push({ containerPort: 33060 }), field: "spec.podTemplate.spec.containers[0].ports[1]", type: "Invalid" },
  { name: "mysqld port 33062", mutate: (c) => mysqld(c).ports.push({ containerPort: 33062 }), field: "spec.podTemplate.spec.containers[0].ports[1]", type: "Invalid" },
  { name: "mysqld port 9081", mutate: (c) => mysqld(c).ports.push({ containerPort: 9081 }), field: "spec.podTemplate.spec.containers[0].ports[1]", type: "Invalid" },
  { name: "mysqld port named mysql", mutate: (c) => (mysqld(c).ports[0].name = "mysql"), field: "spec.podTemplate.spec.containers[0].ports[0]", type: "Invalid", detail: /port name "mysql"/ },
  { name: "mysqld port named health", mutate: (c) => (mysqld(c).ports[0].name = "health"), field: "spec.podTemplate.spec.containers[0].ports[0]", type: "Invalid" },
  { name: "mysqld port named mysql-admin", mutate: (c) => (mysqld(c).ports[0].name = "mysql-admin"), field: "spec.podTemplate.spec.containers[0].ports[0]", type: "Invalid" },
  { name: "init container without name", mutate: (c) => (podSpec(c).initContainers[0].name = ""), field: "spec.podTemplate.spec.initContainers[0]", type: "Forbidden" },
  { name: "init container moco-init", mutate: (c) => (podSpec(c).initContainers[0].name = "moco-init"), field: "spec.podTemplate.spec.initContainers[0]", type: "Invalid" },
  { name: "init container copy-moco-init (moco-ts)", mutate: (c) => (podSpec(c).initContainers[0].name = "copy-moco-init"), field: "spec.podTemplate.spec.initContainers[0]", type: "Invalid", detail: /moco-ts/ },
  { name: "init container copy-moco-timezones (moco-ts)", mutate: (c) => (podSpec(c).initContainers[0].name = "copy-moco-timezones"), field: "spec.podTemplate.spec.initContainers[0]", type: "Invalid", detail: /moco-ts/ },
  { name: "volume tmp", mutate: (c) => (podSpec(c).volumes[0].name = "tmp"), field: "spec.podTemplate.spec.volumes[0]", type: "Invalid" },
  { name: "volume mysql-conf-d", mutate: (c) => (podSpec(c).volumes[0].name = "mysql-conf-d"), field: "spec.podTemplate.spec.volumes[0]", type: "Invalid" },
  { name: "volume slow-fluent-bit-config", mutate: (c) => (podSpec(c).volumes[0].name = "slow-fluent-bit-config"), field: "spec.podTemplate.spec.volumes[0]", type: "Invalid" },
  { name: "volume grpc-cert (moco-ts)", mutate: (c) => (podSpec(c).volumes[0].name = "grpc-cert"), field: "spec.podTemplate.spec.volumes[0]", type: "Invalid", detail: /moco-ts/ },
  { name: "volume mysql-data (moco-ts)", mutate: (c) => (podSpec(c).volumes[0].name = "mysql-data"), field: "spec.podTemplate.spec.volumes[0]", type: "Invalid", detail: /moco-ts/ },
  { name: "volume shared (moco-ts)", mutate: (c) => (podSpec(c).volumes[0].name = "shared"), field: "spec.podTemplate.spec.volumes[0]", type: "Invalid" },
  { name: "overwriteContainers mysqld", mutate: (c) => (c.spec.podTemplate.overwriteContainers = [{ name: "mysqld" }]), field: "spec.podTemplate.overwriteContainers[0].name", type: "Invalid", detail: /supported values/ },
  { name: "overwriteContainers without name", mutate: (c) => (c.spec.podTemplate.overwriteContainers = [{}]), field: "spec.podTemplate.overwriteContainers[0].name", type: "Required" },
  { name: "negative maxDelaySeconds", mutate: (c) => (c.spec.maxDelaySeconds = -1), field: "spec.maxDelaySeconds", type: "Invalid" },
  { name: "negative maxDelaySecondsForPodDeletion", mutate: (c) => (c.spec.maxDelaySecondsForPodDeletion = -1), field: "spec.maxDelaySecondsForPodDeletion", type: "Invalid" },
  { name: "negative startupWaitSeconds", mutate: (c) => (c.spec.startupWaitSeconds = -10), field: "spec.startupWaitSeconds", type: "Invalid" },
  { name: "restore without sourceName", mutate: (c) => (c.spec.restore = { ...restoreSpec(), sourceName: "" }), field: "spec.restore.sourceName", type: "Invalid", detail: /at least 1/ },
  { name: "restore missing restorePoint", mutate: (c) => { c.spec.restore = restoreSpec(); delete c.spec.restore.restorePoint; }, field: "spec.restore.restorePoint", type: "Required" },
  { name: "restore bad restorePoint", mutate: (c) => (c.spec.restore = { ...restoreSpec(), restorePoint: "yesterday" }), field: "spec.restore.restorePoint", type: "Invalid" },
  { name: "restore bad backendType", mutate: (c) => { c.spec.restore = restoreSpec(); c.spec.restore.jobConfig.bucketConfig.backendType = "ftp"; }, field: "spec.restore.jobConfig.bucketConfig.backendType", type: "Invalid" },
  { name: "restore bad endpointURL", mutate: (c) => { c.spec.restore = restoreSpec(); c.spec.restore.jobConfig.bucketConfig.endpointURL = "minio:9000"; }, field: "spec.restore.jobConfig.bucketConfig.endpointURL", type: "Invalid" },
  { name: "restore threads 0", mutate: (c) => { c.spec.restore = restoreSpec(); c.spec.restore.jobConfig.threads = 0; }, field: "spec.restore.jobConfig.threads", type: "Invalid" },
  { name: "restore bad cpu quantity", mutate: (c) => { c.spec.restore = restoreSpec(); c.spec.restore.jobConfig.cpu = "four"; }, field: "spec.restore.jobConfig.cpu", type: "Invalid" },
  { name: "restore missing workVolume", mutate: (c) => { c.spec.restore = restoreSpec(); delete c.spec.restore.jobConfig.workVolume; }, field: "spec.restore.jobConfig.workVolume", type: "Required" },
  { name: "bad storage quantity", mutate: (c) => (c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "1 GB"), field: "spec.volumeClaimTemplates[0].spec.resources.requests[storage]", type: "Invalid" },
  { name: "collectors not an array", mutate: (c) => (c.spec.collectors = "binlog_size"), field: "spec.collectors", type: "Invalid" },
];

function restoreSpec(): any {
  return {
    sourceName: "source",
    sourceNamespace: "backup",
    restorePoint: "2024-01-02T03:04:05Z",
    jobConfig: {
      serviceAccountName: "restore",
      bucketConfig: { bucketName: "b" },
      workVolume: { emptyDir: {} },
    },
  };
}

describe("validateMySQLClusterCreate", () => {
  it("accepts the valid fixture", () => {
    assert.deepEqual(validateMySQLClusterCreate(validCluster()), []);
  });
  it("accepts 1, 3 and 5 replicas, an absent replicas (schema default 1) and slow-log when disabled", () => {
    for (const r of [1, 3, 5, undefined]) {
      const c: any = validCluster();
      c.spec.replicas = r;
      assert.deepEqual(validateMySQLClusterCreate(c), [], `replicas ${r}`);
    }
    const c: any = validCluster();
    c.spec.disableSlowQueryLogContainer = true;
    podSpec(c).containers.push({ name: "slow-log" }, { name: "mysqld-exporter" });
    c.spec.restore = restoreSpec();
    c.spec.logRotationSchedule = "CRON_TZ=Asia/Tokyo */10 * * * *";
    c.spec.slowQueryLogConfigTmpl = "[INPUT]\n{{- if .Path }}\n  Path {{ .Path }}\n{{- end }}\n{{ printf \"  %-15s%s\" \"Tag\" \"slow\" }}\n";
    assert.deepEqual(validateMySQLClusterCreate(c), []);
  });
  it("has at least 40 distinct invalid cases", () => assert.ok(createCases.length >= 40));
  for (const tc of createCases) {
    it(`rejects: ${tc.name}`, () => {
      const c = validCluster();
      tc.mutate(c);
      assertHasError(validateMySQLClusterCreate(c), tc.field, tc.type, tc.detail);
    });
  }
  it("lists every problem at once", () => {
    const c: any = validCluster();
    c.spec.replicas = 0;
    c.spec.serverIDBase = 0;
    podSpec(c).volumes[0].name = "tmp";
    const errors = validateMySQLClusterCreate(c);
    assert.equal(errors.filter((e) => e.field === "spec.replicas").length, 2);
    assertHasError(errors, "spec.serverIDBase", "Invalid");
    assertHasError(errors, "spec.podTemplate.spec.volumes[0]", "Invalid");
  });
  it("never throws on garbage", () => {
    for (const junk of [null, 42, "x", [], { spec: 1 }, { spec: { podTemplate: { spec: { containers: "x" } } } }, { metadata: 5 }]) {
      assert.doesNotThrow(() => validateMySQLClusterCreate(junk as unknown as MySQLCluster));
      assert.ok(validateMySQLClusterCreate(junk as unknown as MySQLCluster).length > 0);
    }
  });
});

function lookup(classes: StorageClassInfo[], fail = false): StorageClassLookup {
  return {
    getStorageClass: async (name) => {
      if (fail) throw new Error("connection refused");
      return classes.find((c) => c.metadata?.name === name);
    },
    listStorageClasses: async () => {
      if (fail) throw new Error("connection refused");
      return classes;
    },
  };
}
const expandable: StorageClassInfo = { metadata: { name: "fast" }, allowVolumeExpansion: true };
const fixed: StorageClassInfo = { metadata: { name: "fixed" } };
const defaultFixed: StorageClassInfo = {
  metadata: { name: "standard", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
};
const defaultExpandable: StorageClassInfo = {
  metadata: { name: "standard", annotations: { "storageclass.beta.kubernetes.io/is-default-class": "true" } },
  allowVolumeExpansion: true,
};

const updateCases: {
  name: string;
  old?: Mutate;
  mutate: Mutate;
  classes?: StorageClassInfo[];
  fail?: boolean;
  field: string;
  type: FieldErrorType;
}[] = [
  { name: "replicas 3 -> 1", mutate: (c) => (c.spec.replicas = 1), field: "spec.replicas", type: "Forbidden" },
  { name: "replicas 5 -> 3", old: (c) => (c.spec.replicas = 5), mutate: (c) => (c.spec.replicas = 3), field: "spec.replicas", type: "Forbidden" },
  { name: "set replicationSourceSecretName", mutate: (c) => (c.spec.replicationSourceSecretName = "donor"), field: "spec.replicationSourceSecretName", type: "Forbidden" },
  { name: "change replicationSourceSecretName", old: (c) => (c.spec.replicationSourceSecretName = "a"), mutate: (c) => (c.spec.replicationSourceSecretName = "b"), field: "spec.replicationSourceSecretName", type: "Forbidden" },
  { name: "add restore", mutate: (c) => (c.spec.restore = restoreSpec()), field: "spec.restore", type: "Forbidden" },
  { name: "remove restore", old: (c) => (c.spec.restore = restoreSpec()), mutate: (c) => delete c.spec.restore, field: "spec.restore", type: "Forbidden" },
  { name: "edit restore", old: (c) => (c.spec.restore = restoreSpec()), mutate: (c) => { c.spec.restore = restoreSpec(); c.spec.restore.schema = "db"; }, field: "spec.restore", type: "Forbidden" },
  { name: "grow with non-expandable class", old: (c) => (c.spec.volumeClaimTemplates[0].spec.storageClassName = "fixed"), mutate: (c) => { c.spec.volumeClaimTemplates[0].spec.storageClassName = "fixed"; c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "2Gi"; }, classes: [fixed, expandable], field: "spec.volumeClaimTemplates[0]", type: "Forbidden" },
  { name: "grow with non-expandable default class", mutate: (c) => (c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "1025Mi"), classes: [defaultFixed], field: "spec.volumeClaimTemplates[0]", type: "Forbidden" },
  { name: "grow without default class", mutate: (c) => (c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "2Gi"), classes: [expandable], field: "spec.volumeClaimTemplates[0]", type: "InternalError" },
  { name: "grow with missing class", mutate: (c) => { c.spec.volumeClaimTemplates[0].spec.storageClassName = "gone"; c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "2Gi"; }, classes: [expandable], field: "spec.volumeClaimTemplates[0].spec.storageClassName", type: "InternalError" },
  { name: "grow when the class cannot be read", mutate: (c) => { c.spec.volumeClaimTemplates[0].spec.storageClassName = "fast"; c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "2Gi"; }, fail: true, field: "spec.volumeClaimTemplates[0].spec.storageClassName", type: "InternalError" },
  { name: "spec checks re-run on update", mutate: (c) => (c.spec.serverIDBase = 0), field: "spec.serverIDBase", type: "Invalid" },
  { name: "update to replicas 7", mutate: (c) => (c.spec.replicas = 7), field: "spec.replicas", type: "Invalid" },
];

describe("validateMySQLClusterUpdate", () => {
  for (const tc of updateCases) {
    it(`rejects: ${tc.name}`, async () => {
      const oldC: any = validCluster();
      tc.old?.(oldC);
      const newC = structuredClone(oldC);
      tc.mutate(newC);
      const { errors } = await validateMySQLClusterUpdate(newC, oldC, lookup(tc.classes ?? [], tc.fail));
      assertHasError(errors, tc.field, tc.type);
    });
  }
  const accepted: { name: string; old?: Mutate; mutate: Mutate; classes?: StorageClassInfo[] }[] = [
    { name: "replicas 1 -> 3", old: (c) => (c.spec.replicas = 1), mutate: (c) => (c.spec.replicas = 3) },
    { name: "replicas 3 -> 5", mutate: (c) => (c.spec.replicas = 5) },
    { name: "clear replicationSourceSecretName", old: (c) => (c.spec.replicationSourceSecretName = "a"), mutate: (c) => (c.spec.replicationSourceSecretName = null) },
    { name: "keep replicationSourceSecretName", old: (c) => (c.spec.replicationSourceSecretName = "a"), mutate: (c) => (c.spec.offline = true) },
    { name: "unchanged restore", old: (c) => (c.spec.restore = restoreSpec()), mutate: (c) => (c.spec.collectors = ["binlog_size"]) },
    { name: "grow with expandable class", old: (c) => (c.spec.volumeClaimTemplates[0].spec.storageClassName = "fast"), mutate: (c) => { c.spec.volumeClaimTemplates[0].spec.storageClassName = "fast"; c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "10Gi"; }, classes: [expandable] },
    { name: "grow with expandable default class", mutate: (c) => (c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "2Gi"), classes: [defaultExpandable] },
    { name: "shrink", mutate: (c) => (c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "512Mi") },
    { name: "same size in another unit", mutate: (c) => (c.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "1024Mi") },
    { name: "add a new template", mutate: (c) => c.spec.volumeClaimTemplates.push({ metadata: { name: "logs" }, spec: { resources: { requests: { storage: "100Gi" } } } }) },
    { name: "metadata-only update", mutate: (c) => (c.metadata.annotations = { a: "b" }) },
  ];
  for (const tc of accepted) {
    it(`accepts: ${tc.name}`, async () => {
      const oldC: any = validCluster();
      tc.old?.(oldC);
      const newC = structuredClone(oldC);
      tc.mutate(newC);
      const { errors } = await validateMySQLClusterUpdate(newC, oldC, lookup(tc.classes ?? []));
      assert.deepEqual(errors, []);
    });
  }
  it("warns when serverIDBase changes", async () => {
    const oldC = validCluster();
    const newC: any = structuredClone(oldC);
    newC.spec.serverIDBase = 200;
    const { errors, warnings } = await validateMySQLClusterUpdate(newC, oldC, lookup([]));
    assert.deepEqual(errors, []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /spec\.serverIDBase changed from 100 to 200/);
    const same = await validateMySQLClusterUpdate(structuredClone(oldC), oldC, lookup([]));
    assert.deepEqual(same.warnings, []);
  });
});

/** Metadata changes a user, `kubectl moco` or the controller makes. */
const metadataChanges: { name: string; mutate: Mutate }[] = [
  { name: "a label", mutate: (c) => (c.metadata.labels = { team: "db" }) },
  { name: "an annotation", mutate: (c) => (c.metadata.annotations = { "moco.cybozu.com/reconciliation-stopped": "true" }) },
  { name: "the finalizer removal", mutate: (c) => (c.metadata.finalizers = []) },
  { name: "the finalizer removal while deleting", mutate: (c) => { c.metadata.deletionTimestamp = "2026-01-02T03:04:05Z"; c.metadata.finalizers = []; } },
];

describe("validateMySQLClusterUpdate judges the spec only (issue 19)", () => {
  for (const shape of statusShapes()) {
    for (const change of metadataChanges) {
      it(`accepts ${change.name} with status: ${shape.name}`, async () => {
        const oldC: any = validCluster();
        oldC.metadata.finalizers = [MYSQLCLUSTER_FINALIZER];
        if (shape.status !== undefined) oldC.status = structuredClone(shape.status);
        const newC = structuredClone(oldC);
        change.mutate(newC);
        const { errors } = await validateMySQLClusterUpdate(newC, oldC, lookup([]));
        assert.deepEqual(errors, []);
      });
    }
  }
  it("does not judge a status even the schema would refuse", async () => {
    const oldC: any = validCluster();
    oldC.status = { currentPrimaryIndex: "zero", backup: { warnings: "none" }, conditions: {} };
    const newC = structuredClone(oldC);
    newC.metadata.labels = { a: "b" };
    assert.deepEqual((await validateMySQLClusterUpdate(newC, oldC, lookup([]))).errors, []);
    assert.deepEqual(validateMySQLClusterCreate(newC), [], "nor on CREATE (the API server drops it there)");
  });
  it("still judges the spec on the same update", async () => {
    const oldC: any = validCluster();
    oldC.status = { currentPrimaryIndex: 0, backup: { warnings: null } };
    const newC = structuredClone(oldC);
    newC.spec.maxDelaySeconds = -1;
    assertHasError((await validateMySQLClusterUpdate(newC, oldC, lookup([]))).errors, "spec.maxDelaySeconds", "Invalid");
  });
});

describe("checkAgainstSchema: required and nullable as the API server reads them", () => {
  const cases: { name: string; value: Record<string, unknown>; errors: string[] }[] = [
    { name: "warnings []", value: backupStatus([]), errors: [] },
    { name: "warnings null (nullable: kept, so present)", value: backupStatus(null), errors: [] },
    { name: "warnings missing", value: backupStatus(undefined), errors: ["warnings: Required value: required by the schema"] },
    { name: "sourceIndex null (not nullable: pruned, so missing)", value: { ...backupStatus([]), sourceIndex: null }, errors: ["sourceIndex: Required value: required by the schema"] },
  ];
  for (const tc of cases) {
    it(tc.name, () => assert.deepEqual(checkAgainstSchema(BackupStatusSchema, tc.value).map((e) => e.message), tc.errors));
  }
});

describe("a cluster MOCO created with more than 5 instances (issue 18)", () => {
  const seven = (c: any) => (c.spec.replicas = 7);
  const accepted: { name: string; old?: Mutate; mutate: Mutate }[] = [
    ...metadataChanges.map((m) => ({ name: `${m.name} at 7 replicas`, old: seven, mutate: m.mutate })),
    { name: "a spec change keeping 7 replicas", old: seven, mutate: (c) => (c.spec.offline = true) },
    { name: "a spec change keeping 9 replicas", old: (c) => (c.spec.replicas = 9), mutate: (c) => (c.spec.maxDelaySeconds = 10) },
    { name: "a volume named shared kept (moco-ts reserved name)", old: (c) => podSpec(c).volumes.push({ name: "shared", emptyDir: {} }), mutate: (c) => (c.spec.offline = true) },
    { name: "a slowQueryLogConfigTmpl moco-ts cannot render, kept unchanged", old: (c) => (c.spec.slowQueryLogConfigTmpl = "{{ html .Path }}"), mutate: (c) => (c.spec.offline = true) },
  ];
  for (const tc of accepted) {
    it(`accepts ${tc.name}`, async () => {
      const oldC: any = validCluster();
      tc.old?.(oldC);
      const newC = structuredClone(oldC);
      tc.mutate(newC);
      assert.deepEqual((await validateMySQLClusterUpdate(newC, oldC, lookup([]))).errors, []);
    });
  }
  const refused: { name: string; old?: Mutate; mutate: Mutate; field: string; detail: RegExp }[] = [
    { name: "growing 7 -> 9", old: seven, mutate: (c) => (c.spec.replicas = 9), field: "spec.replicas", detail: /1, 3, 5 only/ },
    { name: "growing 5 -> 7", old: (c) => (c.spec.replicas = 5), mutate: seven, field: "spec.replicas", detail: /1, 3, 5 only/ },
    { name: "shrinking 7 -> 5 (MOCO's rule)", old: seven, mutate: (c) => (c.spec.replicas = 5), field: "spec.replicas", detail: /decreasing/ },
    { name: "adding a volume named shared", mutate: (c) => podSpec(c).volumes.push({ name: "shared", emptyDir: {} }), field: "spec.podTemplate.spec.volumes[1]", detail: /reserved by moco-ts/ },
    { name: "changing slowQueryLogConfigTmpl to one moco-ts cannot render", mutate: (c) => (c.spec.slowQueryLogConfigTmpl = "{{ .Path }} {{ $x }}"), field: "spec.slowQueryLogConfigTmpl", detail: /line 1, column 16: .*variables/ },
  ];
  for (const tc of refused) {
    it(`refuses ${tc.name}`, async () => {
      const oldC: any = validCluster();
      tc.old?.(oldC);
      const newC = structuredClone(oldC);
      tc.mutate(newC);
      const { errors } = await validateMySQLClusterUpdate(newC, oldC, lookup([]));
      assert.ok(errors.some((e) => e.field === tc.field && tc.detail.test(e.detail)), JSON.stringify(errors.map((e) => e.message)));
    });
  }
  it("creating one stays refused, naming the supported sizes", () => {
    const c: any = validCluster();
    seven(c);
    const errors = validateMySQLClusterCreate(c);
    assertHasError(errors, "spec.replicas", "Invalid", /supports replicas of 1, 3, 5 only/);
  });
});

describe("defaultMySQLCluster", () => {
  it("adds the finalizer and a serverIDBase from little-endian random bytes", () => {
    const c: any = validCluster();
    delete c.spec.serverIDBase;
    const d = defaultMySQLCluster(c, () => Uint8Array.from([0x01, 0x00, 0x00, 0x00]));
    assert.deepEqual(d.metadata?.finalizers, [MYSQLCLUSTER_FINALIZER]);
    assert.equal(d.spec?.serverIDBase, 2);
    assert.equal(c.spec.serverIDBase, undefined, "input not modified");
  });
  it("maps the range to 1 … 2^30", () => {
    assert.equal(serverIDBaseFromBytes(Uint8Array.from([0, 0, 0, 0])), 1);
    assert.equal(serverIDBaseFromBytes(Uint8Array.from([0xff, 0xff, 0xff, 0xff])), 2 ** 30);
    assert.equal(serverIDBaseFromBytes(Uint8Array.from([0x78, 0x56, 0x34, 0x12])), (0x12345678 & 0x3fffffff) + 1);
  });
  it("keeps an existing serverIDBase and finalizer list", () => {
    const c: any = validCluster();
    c.metadata.finalizers = ["other", MYSQLCLUSTER_FINALIZER];
    const d = defaultMySQLCluster(c, () => {
      throw new Error("must not draw random bytes");
    });
    assert.deepEqual(d.metadata?.finalizers, ["other", MYSQLCLUSTER_FINALIZER]);
    assert.equal(d.spec?.serverIDBase, 100);
  });
  it("uses the CSPRNG by default and stays in range", () => {
    const c: any = validCluster();
    c.spec.serverIDBase = 0;
    for (let i = 0; i < 50; i++) {
      const v = defaultMySQLCluster(c).spec?.serverIDBase as number;
      assert.ok(v >= 1 && v <= 2 ** 30, String(v));
    }
  });
});

describe("validateBackupPolicy", () => {
  it("accepts the valid fixture", () => assert.deepEqual(validateBackupPolicy(validBackupPolicy()), []));
  const cases: { name: string; mutate: Mutate; field: string; type: FieldErrorType }[] = [
    { name: "bad schedule", mutate: (p) => (p.spec.schedule = "every day"), field: "spec.schedule", type: "Invalid" },
    { name: "empty schedule", mutate: (p) => (p.spec.schedule = ""), field: "spec.schedule", type: "Invalid" },
    { name: "missing schedule", mutate: (p) => delete p.spec.schedule, field: "spec.schedule", type: "Required" },
    { name: "missing spec", mutate: (p) => delete p.spec, field: "spec", type: "Required" },
    { name: "missing jobConfig", mutate: (p) => delete p.spec.jobConfig, field: "spec.jobConfig", type: "Required" },
    { name: "empty serviceAccountName", mutate: (p) => (p.spec.jobConfig.serviceAccountName = ""), field: "spec.jobConfig.serviceAccountName", type: "Invalid" },
    { name: "missing bucketName", mutate: (p) => delete p.spec.jobConfig.bucketConfig.bucketName, field: "spec.jobConfig.bucketConfig.bucketName", type: "Required" },
    { name: "bad concurrencyPolicy", mutate: (p) => (p.spec.concurrencyPolicy = "Sometimes"), field: "spec.concurrencyPolicy", type: "Invalid" },
    { name: "negative backoffLimit", mutate: (p) => (p.spec.backoffLimit = -1), field: "spec.backoffLimit", type: "Invalid" },
    { name: "negative successfulJobsHistoryLimit", mutate: (p) => (p.spec.successfulJobsHistoryLimit = -1), field: "spec.successfulJobsHistoryLimit", type: "Invalid" },
    { name: "negative failedJobsHistoryLimit", mutate: (p) => (p.spec.failedJobsHistoryLimit = -2), field: "spec.failedJobsHistoryLimit", type: "Invalid" },
  ];
  for (const tc of cases) {
    it(`rejects: ${tc.name}`, () => {
      const p = validBackupPolicy();
      tc.mutate(p);
      assertHasError(validateBackupPolicy(p), tc.field, tc.type);
    });
  }
  it("finds clusters that still reference a policy, in its namespace only", () => {
    const policy = validBackupPolicy();
    const mk = (ns: string, name: string, ref: string | null): MySQLCluster => {
      const c: any = validCluster();
      c.metadata = { name, namespace: ns };
      c.spec.backupPolicyName = ref;
      return c;
    };
    const refs = findClustersReferencingPolicy(policy as BackupPolicy, [
      mk("default", "a", "daily"),
      mk("default", "b", "weekly"),
      mk("other", "c", "daily"),
      mk("default", "d", null),
    ]);
    assert.deepEqual(refs, ["default/a"]);
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  MYSQLCLUSTER_PRINTER_COLUMNS,
  MySQLClusterSchema,
  applySchemaDefaults,
  buildBackupPolicyCrd,
  buildMySQLClusterCrd,
  toOpenApiSchema,
  type JsonSchemaObject,
  type JsonValue,
} from "../../../src/api/v1beta2/index.ts";
import { defaultOpenApiPath } from "../../../scripts/api-openapi.ts";
import {
  CORE_DEFINITIONS_FILE,
  REPO_ROOT,
  renderCoreDefinitionsFile,
  renderYamlFiles,
} from "../../../scripts/gen-crds.ts";
import { validBackupPolicy, validCluster } from "./fixtures.ts";

type Visit = (node: Record<string, JsonValue>, path: string) => void;

/** Visits every schema node (properties, items, additionalProperties, anyOf). */
function walkSchema(node: JsonValue, path: string, visit: Visit): void {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return;
  visit(node, path);
  const props = node["properties"];
  if (props !== undefined && props !== null && typeof props === "object" && !Array.isArray(props)) {
    for (const [k, v] of Object.entries(props)) walkSchema(v, `${path}.${k}`, visit);
  }
  if (node["items"] !== undefined) walkSchema(node["items"], `${path}[]`, visit);
  if (node["additionalProperties"] !== undefined) walkSchema(node["additionalProperties"], `${path}{}`, visit);
  if (Array.isArray(node["anyOf"])) node["anyOf"].forEach((s, i) => walkSchema(s, `${path}|${i}`, visit));
}

function schemaAt(root: JsonSchemaObject, path: string): JsonSchemaObject {
  let node: JsonValue = root;
  for (const part of path.split(".").filter((p) => p !== "")) {
    const obj = node as JsonSchemaObject;
    if (part === "[]") node = obj["items"] as JsonValue;
    else node = (obj["properties"] as JsonSchemaObject)[part] as JsonValue;
    assert.ok(node !== undefined, `no schema at ${path} (${part})`);
  }
  return node as JsonSchemaObject;
}

const clusterSchema = buildMySQLClusterCrd().spec.versions[0]!.schema.openAPIV3Schema;
const policySchema = buildBackupPolicyCrd().spec.versions[0]!.schema.openAPIV3Schema;

describe("CRD schemas", () => {
  it("have exactly the required lists of docs/api.md#crd-packaging", () => {
    const found: Record<string, string[]> = {};
    walkSchema(clusterSchema, "", (n, p) => {
      if (Array.isArray(n["required"])) found[p] = [...(n["required"] as string[])].sort();
    });
    assert.deepEqual(found, {
      ".spec": ["podTemplate", "volumeClaimTemplates"],
      ".spec.podTemplate": ["spec"],
      ".spec.podTemplate.overwriteContainers[]": ["name"],
      ".spec.volumeClaimTemplates[]": ["metadata", "spec"],
      ".spec.restore": ["jobConfig", "restorePoint", "sourceName", "sourceNamespace"],
      ".spec.restore.jobConfig": ["bucketConfig", "serviceAccountName", "workVolume"],
      ".spec.restore.jobConfig.bucketConfig": ["bucketName"],
      ".status": ["currentPrimaryIndex"],
      ".status.backup": [
        "binlogFilename", "binlogSize", "dumpSize", "elapsed", "gtidSet",
        "sourceIndex", "sourceUUID", "time", "warnings", "workDirUsage",
      ],
    });
    const foundPolicy: Record<string, string[]> = {};
    walkSchema(policySchema, "", (n, p) => {
      if (Array.isArray(n["required"])) foundPolicy[p] = [...(n["required"] as string[])].sort();
    });
    assert.deepEqual(foundPolicy, {
      "": ["spec"],
      ".spec": ["jobConfig", "schedule"],
      ".spec.jobConfig": ["bucketConfig", "serviceAccountName", "workVolume"],
      ".spec.jobConfig.bucketConfig": ["bucketName"],
    });
  });

  it("are structural: no $ref, no list/preserve markers, every node typed", () => {
    for (const schema of [clusterSchema, policySchema]) {
      const text = JSON.stringify(schema);
      for (const banned of ["$ref", "allOf", "oneOf", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-map-type"]) {
        assert.ok(!text.includes(`"${banned}"`), `${banned} must not appear`);
      }
      walkSchema(schema, "", (n, p) => {
        if (p.includes("|")) return; // anyOf branches
        const typed = typeof n["type"] === "string" || n["x-kubernetes-int-or-string"] === true;
        assert.ok(typed, `untyped schema node at ${p}`);
        if (n["x-kubernetes-int-or-string"] === true) {
          assert.deepEqual(n["anyOf"], [{ type: "integer" }, { type: "string" }], p);
        }
      });
    }
  });

  it("carry the field types, defaults, enums, patterns and minimums of docs/api.md", () => {
    const s = clusterSchema;
    assert.deepEqual(schemaAt(s, "spec.replicas"), { description: schemaAt(s, "spec.replicas")["description"], default: 1, format: "int32", type: "integer" });
    assert.equal(schemaAt(s, "spec.maxDelaySeconds")["default"], 60);
    assert.equal(schemaAt(s, "spec.maxDelaySeconds")["minimum"], 0);
    assert.equal(schemaAt(s, "spec.maxDelaySecondsForPodDeletion")["format"], "int64");
    assert.equal(schemaAt(s, "spec.startupWaitSeconds")["default"], 3600);
    assert.equal(schemaAt(s, "spec.initializeTimezoneData")["default"], false);
    assert.equal(schemaAt(s, "spec.volumeClaimTemplates")["minItems"], 1);
    for (const f of ["mysqlConfigMapName", "replicationSourceSecretName", "backupPolicyName"]) {
      assert.equal(schemaAt(s, `spec.${f}`)["nullable"], true, f);
    }
    assert.deepEqual(schemaAt(s, "spec.podTemplate.overwriteContainers.[].name")["enum"], ["agent", "copy-moco-init", "moco-init", "slow-log", "mysqld-exporter"]);
    const jc = "spec.restore.jobConfig";
    assert.equal(schemaAt(s, `${jc}.threads`)["default"], 4);
    assert.equal(schemaAt(s, `${jc}.threads`)["minimum"], 1);
    assert.equal(schemaAt(s, `${jc}.cpu`)["default"], 4);
    assert.equal(schemaAt(s, `${jc}.memory`)["default"], "4Gi");
    assert.equal(schemaAt(s, `${jc}.maxMemory`)["nullable"], true);
    assert.equal(schemaAt(s, `${jc}.bucketConfig.endpointURL`)["pattern"], "^https?://.*");
    assert.deepEqual(schemaAt(s, `${jc}.bucketConfig.backendType`)["enum"], ["s3", "gcs", "azure"]);
    assert.equal(schemaAt(s, `${jc}.bucketConfig.backendType`)["default"], "s3");
    assert.equal(schemaAt(s, "spec.restore.restorePoint")["format"], "date-time");
    assert.equal(schemaAt(s, "status.backup.time")["nullable"], true);
    assert.equal(schemaAt(policySchema, "spec.concurrencyPolicy")["default"], "Allow");
    assert.deepEqual(schemaAt(policySchema, "spec.concurrencyPolicy")["enum"], ["Allow", "Forbid", "Replace"]);
    assert.equal(schemaAt(policySchema, "spec.backoffLimit")["minimum"], 0);
    assert.equal(schemaAt(policySchema, "spec.timeZone")["nullable"], true);
  });

  it("embed core/v1 types of the pinned release, without required lists", () => {
    const pod = schemaAt(clusterSchema, "spec.podTemplate.spec");
    for (const field of ["hostnameOverride", "resourceClaims", "os", "schedulingGates"]) {
      assert.ok((pod["properties"] as JsonSchemaObject)[field] !== undefined, `PodSpec.${field}`);
    }
    const container = schemaAt(clusterSchema, "spec.podTemplate.spec.containers.[]");
    assert.ok((container["properties"] as JsonSchemaObject)["resizePolicy"] !== undefined);
    assert.ok((container["properties"] as JsonSchemaObject)["restartPolicyRules"] !== undefined);
    const svc = schemaAt(clusterSchema, "spec.primaryServiceTemplate.spec");
    assert.ok((svc["properties"] as JsonSchemaObject)["trafficDistribution"] !== undefined);
    const storage = schemaAt(clusterSchema, "spec.volumeClaimTemplates.[].spec.resources.requests");
    assert.equal((storage["additionalProperties"] as JsonSchemaObject)["x-kubernetes-int-or-string"], true);
    assert.equal(schemaAt(clusterSchema, "spec.podTemplate.spec.containers.[].ports.[].protocol")["default"], "TCP");
    const volumeSource = schemaAt(clusterSchema, "spec.restore.jobConfig.workVolume");
    assert.equal((volumeSource["properties"] as JsonSchemaObject)["name"], undefined, "VolumeSource has no name");
    assert.ok((volumeSource["properties"] as JsonSchemaObject)["ephemeral"] !== undefined);
  });

  it("MySQLCluster has the status subresource, printer columns of docs/api.md#printer-columns and conversion None", () => {
    const crd = buildMySQLClusterCrd();
    assert.equal(crd.metadata.name, "mysqlclusters.moco.cybozu.com");
    assert.deepEqual(crd.spec.conversion, { strategy: "None" });
    const v = crd.spec.versions[0]!;
    assert.deepEqual(v.subresources, { status: {} });
    assert.deepEqual(
      v.additionalPrinterColumns?.map((c) => [c.name, c.type, c.jsonPath]),
      [
        ["Available", "string", ".status.conditions[?(@.type=='Available')].status"],
        ["Healthy", "string", ".status.conditions[?(@.type=='Healthy')].status"],
        ["Primary", "integer", ".status.currentPrimaryIndex"],
        ["Synced replicas", "integer", ".status.syncedReplicas"],
        ["Errant replicas", "integer", ".status.errantReplicas"],
        ["Clustering Active", "string", ".status.conditions[?(@.type=='ClusteringActive')].status"],
        ["Reconcile Active", "string", ".status.conditions[?(@.type=='ReconciliationActive')].status"],
        ["Last backup", "string", ".status.backup.time"],
      ],
    );
    assert.equal(MYSQLCLUSTER_PRINTER_COLUMNS.length, 8);
    const bp = buildBackupPolicyCrd();
    assert.equal(bp.metadata.name, "backuppolicies.moco.cybozu.com");
    assert.equal(bp.spec.versions[0]!.subresources, undefined);
    assert.equal(bp.spec.versions[0]!.additionalPrinterColumns, undefined);
  });

  it("the TypeBox schema and the CRD schema are the same document", () => {
    assert.deepEqual(toOpenApiSchema(MySQLClusterSchema), clusterSchema);
  });

  it("applySchemaDefaults applies the CRD defaults like the API server", () => {
    const c = validCluster();
    delete c.spec!.replicas;
    c.spec!.restore = {
      sourceName: "s",
      sourceNamespace: "n",
      restorePoint: "2024-01-01T00:00:00Z",
      jobConfig: { serviceAccountName: "sa", bucketConfig: { bucketName: "b" }, workVolume: { emptyDir: {} }, maxCpu: null },
    };
    const d = applySchemaDefaults(MySQLClusterSchema, c);
    assert.equal(d.spec?.replicas, 1);
    assert.equal(d.spec?.maxDelaySeconds, 60);
    assert.equal(d.spec?.startupWaitSeconds, 3600);
    assert.equal(d.spec?.restore?.jobConfig.threads, 4);
    assert.equal(d.spec?.restore?.jobConfig.cpu, 4);
    assert.equal(d.spec?.restore?.jobConfig.memory, "4Gi");
    assert.equal(d.spec?.restore?.jobConfig.maxCpu, null, "explicit null of a nullable field is kept");
    assert.equal(d.spec?.restore?.jobConfig.bucketConfig.backendType, "s3");
    assert.equal(d.spec?.podTemplate.spec.containers[0]?.ports?.[0]?.protocol, "TCP");
    assert.equal(c.spec?.replicas, undefined, "input untouched");
    const p = validBackupPolicy();
    assert.equal(applySchemaDefaults(buildBackupPolicyCrd().spec.versions[0]!.schema.openAPIV3Schema, p).spec.concurrencyPolicy, "Allow");
  });
});

describe("generated files are up to date", () => {
  it("the chart's CRD and webhook templates match the generator (run: node scripts/gen-crds.ts)", async () => {
    const files = await renderYamlFiles();
    assert.equal(Object.keys(files).length, 3);
    for (const [rel, content] of Object.entries(files)) {
      const committed = readFileSync(join(REPO_ROOT, rel), "utf8");
      assert.ok(committed === content, `${rel} is stale: run node scripts/gen-crds.ts`);
      // Helm templates, not YAML: test/unit/chart/chart.test.ts parses what helm renders from them.
      assert.match(committed, /\{\{- include "moco-ts\.labels" \. \| nindent 4 \}\}/, `${rel} carries the chart's labels`);
    }
  });
  it("k8s-core-v1.json matches the trimmed Kubernetes OpenAPI", () => {
    // test/run.sh downloads the module (unit layer; build-k8s.sh for the others): absent is a failure.
    const openapi = defaultOpenApiPath();
    assert.ok(existsSync(openapi), `${openapi} not present: run (cd test/env/k8s && go mod download k8s.io/kubernetes)`);
    const committed = readFileSync(join(REPO_ROOT, CORE_DEFINITIONS_FILE), "utf8");
    assert.ok(committed === renderCoreDefinitionsFile(openapi), `${CORE_DEFINITIONS_FILE} is stale: run node scripts/gen-crds.ts`);
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import {
  BackupPolicySchema,
  MySQLClusterSchema,
  applySchemaDefaults,
  defaultMySQLCluster,
  validateBackupPolicy,
  validateMySQLClusterCreate,
  type BackupPolicy,
  type MySQLCluster,
} from "../../../src/api/v1beta2/index.ts";
import { REPO_ROOT } from "../../../scripts/gen-crds.ts";

type Json = Record<string, unknown>;

/** Paths of fields the schema does not know (the API server would silently prune them). */
function unknownFields(schema: Json, value: unknown, path: string, out: string[]): void {
  if (typeof value !== "object" || value === null) return;
  if (Array.isArray(value)) {
    const items = schema["items"] as Json | undefined;
    if (items !== undefined) value.forEach((v, i) => unknownFields(items, v, `${path}[${i}]`, out));
    return;
  }
  const props = schema["properties"] as Record<string, Json> | undefined;
  const additional = schema["additionalProperties"] as Json | undefined;
  for (const [k, v] of Object.entries(value)) {
    if (props?.[k] !== undefined) unknownFields(props[k], v, `${path}.${k}`, out);
    else if (additional !== undefined) unknownFields(additional, v, `${path}[${k}]`, out);
    else if (props !== undefined) out.push(`${path}.${k}`);
  }
}

const dir = join(REPO_ROOT, "examples");
const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();

describe("examples", () => {
  it("cover the documented scenarios", () => {
    for (const f of [
      "three-instances-anti-affinity.yaml",
      "external-donor.yaml",
      "custom-mycnf.yaml",
      "backup-policy-s3.yaml",
      "restore.yaml",
      "collectors.yaml",
      "loadbalancer-primary.yaml",
    ]) {
      assert.ok(files.includes(f), f);
    }
  });
  it("the unknown-field check catches typos", () => {
    const out: string[] = [];
    const typo = { spec: { replica: 3, podTemplate: { spec: { containers: [{ name: "mysqld", imag: "x" }] } } } };
    unknownFields(JSON.parse(JSON.stringify(MySQLClusterSchema)), typo, "", out);
    assert.deepEqual(out.sort(), [".spec.podTemplate.spec.containers[0].imag", ".spec.replica"]);
  });
  for (const file of files) {
    it(`${file} is accepted by the schema and the validators`, () => {
      const docs = parseAllDocuments(readFileSync(join(dir, file), "utf8"));
      let checked = 0;
      for (const doc of docs) {
        assert.deepEqual(doc.errors, []);
        const obj = doc.toJS() as Json;
        if (obj["apiVersion"] !== "moco.cybozu.com/v1beta2") continue;
        const unknown: string[] = [];
        if (obj["kind"] === "MySQLCluster") {
          unknownFields(JSON.parse(JSON.stringify(MySQLClusterSchema)), obj, "", unknown);
          // What the API server stores: mutating webhook, then schema defaults.
          const stored = applySchemaDefaults(MySQLClusterSchema, defaultMySQLCluster(obj as MySQLCluster));
          assert.deepEqual(validateMySQLClusterCreate(stored).map((e) => e.message), [], file);
          assert.ok([1, 3, 5].includes(stored.spec?.replicas as number));
        } else if (obj["kind"] === "BackupPolicy") {
          unknownFields(JSON.parse(JSON.stringify(BackupPolicySchema)), obj, "", unknown);
          const stored = applySchemaDefaults(BackupPolicySchema, obj as BackupPolicy);
          assert.deepEqual(validateBackupPolicy(stored).map((e) => e.message), [], file);
        } else {
          assert.fail(`unexpected kind ${String(obj["kind"])}`);
        }
        assert.deepEqual(unknown, [], "fields the CRD would prune");
        checked++;
      }
      assert.ok(checked > 0, "the file holds a moco object");
    });
  }
});

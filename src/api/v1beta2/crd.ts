// Builds the apiextensions.k8s.io/v1 CustomResourceDefinitions from the TypeBox schemas
// (docs/api.md#where-the-api-is-defined). Pure: scripts/gen-crds.ts writes the result into the Helm chart
// (charts/moco-ts/templates/crds/), rendered into deploy/crds/ (docs/install.md).
import type { TSchema } from "@sinclair/typebox";
import {
  BACKUPPOLICY_KIND,
  BACKUPPOLICY_LIST_KIND,
  BACKUPPOLICY_PLURAL,
  BACKUPPOLICY_SINGULAR,
  GROUP,
  MYSQLCLUSTER_KIND,
  MYSQLCLUSTER_LIST_KIND,
  MYSQLCLUSTER_PLURAL,
  MYSQLCLUSTER_SINGULAR,
  VERSION,
} from "./constants.ts";
import type { JsonSchemaObject } from "./core-schemas.ts";
import { BackupPolicySchema, MySQLClusterSchema } from "./schema.ts";

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
}

export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string };
    scope: "Namespaced";
    conversion: { strategy: "None" };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      additionalPrinterColumns?: PrinterColumn[];
      subresources?: { status: Record<string, never> };
      schema: { openAPIV3Schema: JsonSchemaObject };
    }[];
  };
}

/** docs/api.md#printer-columns, in this order. */
export const MYSQLCLUSTER_PRINTER_COLUMNS: readonly PrinterColumn[] = [
  { name: "Available", type: "string", jsonPath: ".status.conditions[?(@.type=='Available')].status" },
  { name: "Healthy", type: "string", jsonPath: ".status.conditions[?(@.type=='Healthy')].status" },
  { name: "Primary", type: "integer", jsonPath: ".status.currentPrimaryIndex" },
  { name: "Synced replicas", type: "integer", jsonPath: ".status.syncedReplicas" },
  { name: "Errant replicas", type: "integer", jsonPath: ".status.errantReplicas" },
  { name: "Clustering Active", type: "string", jsonPath: ".status.conditions[?(@.type=='ClusteringActive')].status" },
  { name: "Reconcile Active", type: "string", jsonPath: ".status.conditions[?(@.type=='ReconciliationActive')].status" },
  { name: "Last backup", type: "string", jsonPath: ".status.backup.time" },
];

/** The plain JSON form of a TypeBox schema (TypeBox's symbol keys dropped). */
export function toOpenApiSchema(schema: TSchema): JsonSchemaObject {
  return JSON.parse(JSON.stringify(schema)) as JsonSchemaObject;
}

export function buildMySQLClusterCrd(): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${MYSQLCLUSTER_PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: MYSQLCLUSTER_KIND,
        listKind: MYSQLCLUSTER_LIST_KIND,
        plural: MYSQLCLUSTER_PLURAL,
        singular: MYSQLCLUSTER_SINGULAR,
      },
      scope: "Namespaced",
      // Only v1beta2 exists, so the API server never converts: no conversion webhook
      // to keep reachable (docs/api.md). The webhook server still answers /convert.
      conversion: { strategy: "None" },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: MYSQLCLUSTER_PRINTER_COLUMNS.map((c) => ({ ...c })),
          subresources: { status: {} },
          schema: { openAPIV3Schema: toOpenApiSchema(MySQLClusterSchema) },
        },
      ],
    },
  };
}

export function buildBackupPolicyCrd(): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${BACKUPPOLICY_PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: BACKUPPOLICY_KIND,
        listKind: BACKUPPOLICY_LIST_KIND,
        plural: BACKUPPOLICY_PLURAL,
        singular: BACKUPPOLICY_SINGULAR,
      },
      scope: "Namespaced",
      conversion: { strategy: "None" },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: toOpenApiSchema(BackupPolicySchema) },
        },
      ],
    },
  };
}

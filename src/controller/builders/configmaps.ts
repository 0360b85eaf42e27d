// The generated my.cnf ConfigMap (docs/objects.md#mycnf-configmap), the slow-log (fluent-bit) ConfigMap
// (docs/objects.md#slow-log-configmap) and the choice of old ConfigMaps to prune.
import type { V1ConfigMap } from "@kubernetes/client-node";
import { MYSQLD_CONTAINER, SLOW_LOG_PATH, TemplateError, renderGoTemplate } from "../../api/v1beta2/index.ts";
import type { MySQLCluster } from "../../api/v1beta2/index.ts";
import { tlsMyCnfKeys } from "./tls.ts";
import { containerMemoryBytes, fnv1a32Hex, generateMyCnf, mycnfConfigMapName } from "../../mysql/mycnf.ts";
import { clusterIdentity, clusterOwnerReference, isControlledByCluster, labelSet, names, timeMillis } from "./meta.ts";

/** Data key of the generated my.cnf. */
export const MY_CNF_KEY = "my.cnf";
/** Data key of the fluent-bit configuration. */
export const FLUENT_BIT_CONF_KEY = "fluent-bit.conf";

/** The mysqld container of the cluster's Pod template, or undefined. */
export function findMysqldContainer(cluster: MySQLCluster) {
  return cluster.spec?.podTemplate.spec.containers?.find((c) => c.name === MYSQLD_CONTAINER);
}

/**
 * memTotal of docs/objects.md#mycnf-inputs: the mysqld container's `resources.requests.memory` if
 * non-zero, else `resources.limits.memory` if non-zero, else 0 (bytes).
 */
export function mysqldMemoryBytes(cluster: MySQLCluster): number {
  return containerMemoryBytes(findMysqldContainer(cluster)?.resources);
}

export interface MyCnfConfigMapResult {
  /** `moco-<name>.<fnv1a32 of text>`. */
  readonly name: string;
  /** The generated my.cnf text. */
  readonly text: string;
  readonly configMap: V1ConfigMap;
}

/**
 * The my.cnf ConfigMap: generateMyCnf over the user ConfigMap's `data` (undefined when
 * `spec.mysqlConfigMapName` is unset) and the mysqld memory; labelSet; owner reference.
 * The caller fails the reconcile when the named user ConfigMap does not exist.
 */
export function buildMyCnfConfigMap(
  cluster: MySQLCluster,
  userConf: Readonly<Record<string, string>> | undefined,
): MyCnfConfigMapResult {
  const id = clusterIdentity(cluster);
  const text = generateMyCnf(userConf, mysqldMemoryBytes(cluster), tlsMyCnfKeys(cluster));
  const name = mycnfConfigMapName(id.name, text);
  return {
    name,
    text,
    configMap: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: id.namespace, labels: labelSet(id.name), ownerReferences: [clusterOwnerReference(id)] },
      data: { [MY_CNF_KEY]: text },
    },
  };
}

/**
 * Upstream's default fluent-bit template (docs/objects.md#slow-log-configmap): 259 bytes, FNV-1a
 * `13246250`.
 */
export const DEFAULT_SLOW_LOG_CONFIG_TEMPLATE: string = [
  "[SERVICE]",
  "  Log_Level      error",
  "[INPUT]",
  "  Name           tail",
  "  Path           {{ .Path }}",
  "  Read_from_Head true",
  "[OUTPUT]",
  "  Name           file",
  "  Match          *",
  "  Path           /dev",
  "  File           stdout",
  "  Format         template",
  "  Template       {log}",
  "",
].join("\n");

/** Thrown for a slow-log template that moco-ts cannot render (a user error for the reconcile). */
export class SlowLogTemplateError extends Error {
  override name = "SlowLogTemplateError";
}

/**
 * Renders a fluent-bit template the way Go text/template would for MOCO's data
 * `{Path: "/var/log/mysql/mysql.slow"}`, for the subset of renderGoTemplate
 * (docs/api.md "slowQueryLogConfigTmpl"). Anything else is a SlowLogTemplateError whose
 * message names the field, the action and its position. The validating webhook refuses
 * such templates at admission; this covers clusters admitted before that check.
 */
export function renderSlowLogTemplate(template: string, path: string = SLOW_LOG_PATH): string {
  try {
    return renderGoTemplate(template, { Path: path });
  } catch (e) {
    if (e instanceof TemplateError) throw new SlowLogTemplateError(`spec.slowQueryLogConfigTmpl: ${e.message}`, { cause: e });
    throw e;
  }
}

/** The template text in effect: `spec.slowQueryLogConfigTmpl`, else the default. */
export function slowLogTemplateOf(cluster: MySQLCluster): string {
  const t = cluster.spec?.slowQueryLogConfigTmpl;
  return t === undefined || t === null ? DEFAULT_SLOW_LOG_CONFIG_TEMPLATE : t;
}

/** `moco-slow-log-agent-config-<name>.<h>`, h = FNV-1a 32 of the template text (not the rendered output). */
export function slowLogConfigMapName(clusterName: string, template: string): string {
  return `${names.slowLogConfigMapPrefix(clusterName)}${fnv1a32Hex(template)}`;
}

export interface SlowLogConfigMapResult {
  readonly name: string;
  readonly configMap: V1ConfigMap;
}

/**
 * The slow-log ConfigMap, or undefined when `spec.disableSlowQueryLogContainer` is true
 * (then every ConfigMap selected by selectSlowLogConfigMapsToDelete goes).
 */
export function buildSlowLogConfigMap(cluster: MySQLCluster): SlowLogConfigMapResult | undefined {
  if (cluster.spec?.disableSlowQueryLogContainer === true) return undefined;
  const id = clusterIdentity(cluster);
  const template = slowLogTemplateOf(cluster);
  const name = slowLogConfigMapName(id.name, template);
  return {
    name,
    configMap: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: id.namespace, labels: labelSet(id.name), ownerReferences: [clusterOwnerReference(id)] },
      data: { [FLUENT_BIT_CONF_KEY]: renderSlowLogTemplate(template) },
    },
  };
}

/** What the prune selection reads of a listed ConfigMap. */
export interface ConfigMapListItem {
  readonly metadata?: {
    readonly name?: string;
    readonly creationTimestamp?: Date | string;
    readonly ownerReferences?: readonly { readonly kind?: string; readonly uid?: string; readonly controller?: boolean }[];
  };
}

const HASH_SUFFIX = /^[0-9a-f]{8}$/;

function generatedBy(item: ConfigMapListItem, prefix: string, clusterUid: string): boolean {
  const name = item.metadata?.name ?? "";
  return (
    name.startsWith(prefix) &&
    HASH_SUFFIX.test(name.slice(prefix.length)) &&
    isControlledByCluster(item.metadata?.ownerReferences, clusterUid)
  );
}

/**
 * Names of old generated ConfigMaps to delete after applying `currentName`
 * (docs/objects.md#mycnf-configmap-object): those named `<prefix><8 hex>` and controlled by this cluster,
 * other than the current one, newest first by creationTimestamp (ties by name), keeping
 * the first `historyLimit − 1`. moco-ts also requires the hash suffix and the owner
 * reference, so clusters whose names extend each other never prune each other's.
 */
export function selectConfigMapsToPrune(
  items: readonly ConfigMapListItem[],
  params: { readonly prefix: string; readonly currentName: string; readonly clusterUid: string; readonly historyLimit: number },
): string[] {
  const old = items
    .filter((i) => i.metadata?.name !== params.currentName && generatedBy(i, params.prefix, params.clusterUid))
    .map((i) => ({ name: i.metadata?.name ?? "", time: timeMillis(i.metadata?.creationTimestamp) ?? 0 }))
    .sort((a, b) => b.time - a.time || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const keep = Math.max(0, params.historyLimit - 1);
  return old.slice(keep).map((o) => o.name);
}

/** All slow-log ConfigMaps of this cluster (when the sidecar is disabled): docs/objects.md#slow-log-configmap. */
export function selectSlowLogConfigMapsToDelete(
  items: readonly ConfigMapListItem[],
  params: { readonly clusterName: string; readonly clusterUid: string },
): string[] {
  const prefix = names.slowLogConfigMapPrefix(params.clusterName);
  return items
    .filter((i) => generatedBy(i, prefix, params.clusterUid))
    .map((i) => i.metadata?.name ?? "")
    .sort();
}

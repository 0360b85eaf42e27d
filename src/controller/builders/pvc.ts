// Pure decisions of the PVC step (docs/objects.md#volume-claim-template-changes) and the StatefulSet re-creation rule
// (docs/objects.md#apply-and-re-creation).
import type { MySQLCluster } from "../../api/v1beta2/index.ts";
import { parseQuantity } from "../../api/v1beta2/index.ts";
import type { Quantity } from "../../api/v1beta2/index.ts";
import { names, timeMillis } from "./meta.ts";
import { jsonEqual, normalizeForCompare } from "../../k8s/fieldsv1.ts";

/** What the PVC decisions read of a StatefulSet. */
export interface StatefulSetView {
  readonly metadata?: { readonly generation?: number; readonly deletionTimestamp?: Date | string | null };
  readonly spec?: {
    readonly replicas?: number;
    readonly updateStrategy?: {
      readonly type?: string;
      readonly rollingUpdate?: { readonly partition?: number | null } | null;
    };
    readonly volumeClaimTemplates?: readonly PvcTemplateView[];
  };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly replicas?: number;
    readonly readyReplicas?: number;
    readonly updatedReplicas?: number;
    readonly currentRevision?: string;
    readonly updateRevision?: string;
  };
}

/** A PVC template or PVC, as far as these decisions read it. */
export interface PvcTemplateView {
  readonly metadata?: {
    readonly name?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly storageClassName?: string | null;
    readonly resources?: { readonly requests?: Readonly<Record<string, Quantity>> };
  };
}

function storageOf(p: PvcTemplateView | undefined): number | undefined {
  return parseQuantity(p?.spec?.resources?.requests?.["storage"]);
}

/**
 * Whether the StatefulSet is mid-update, so resizing waits (docs/objects.md#pvc-sync-and-expansion step 3).
 */
export function isStatefulSetUpdating(sts: StatefulSetView): boolean {
  if (timeMillis(sts.metadata?.deletionTimestamp) !== undefined) return true;
  const generation = sts.metadata?.generation ?? 0;
  const observed = sts.status?.observedGeneration ?? 0;
  if (observed === 0 || observed < generation) return true;
  const replicas = sts.spec?.replicas ?? 1;
  if ((sts.status?.readyReplicas ?? 0) < replicas) return true;
  const strategy = sts.spec?.updateStrategy;
  const partition = strategy?.rollingUpdate?.partition;
  if ((strategy?.type ?? "RollingUpdate") === "RollingUpdate" && partition !== undefined && partition !== null) {
    if ((sts.status?.updatedReplicas ?? 0) < replicas - partition) return true;
  }
  return (sts.status?.updateRevision ?? "") !== (sts.status?.currentRevision ?? "");
}

/** A PVC whose labels/annotations should be updated (full new maps). */
export interface PvcMetadataUpdate {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/**
 * Label/annotation sync (docs/objects.md#pvc-sync-and-expansion step 2): for each PVC named
 * `<template>-moco-<name>-<ordinal>`, each key of `labelKeys`/`annotationKeys` that the
 * template defines is set to the template's value if different. Keys the template lacks
 * are neither added nor removed. Returns only PVCs that change.
 */
export function planPvcMetadataSync(
  cluster: MySQLCluster,
  pvcs: readonly PvcTemplateView[],
  labelKeys: readonly string[],
  annotationKeys: readonly string[],
): PvcMetadataUpdate[] {
  const clusterName = cluster.metadata?.name ?? "";
  const templates = new Map<string, PvcTemplateView>();
  for (const t of cluster.spec?.volumeClaimTemplates ?? []) {
    templates.set(`${t.metadata.name ?? ""}-${names.prefixed(clusterName)}`, t as PvcTemplateView);
  }
  const out: PvcMetadataUpdate[] = [];
  for (const pvc of pvcs) {
    const name = pvc.metadata?.name ?? "";
    const m = /^(.*)-[0-9]+$/.exec(name);
    const template = m === null ? undefined : templates.get(m[1] ?? "");
    if (template === undefined) continue;
    const labels = { ...(pvc.metadata?.labels ?? {}) };
    const annotations = { ...(pvc.metadata?.annotations ?? {}) };
    let changed = false;
    for (const [keys, from, to] of [
      [labelKeys, template.metadata?.labels, labels],
      [annotationKeys, template.metadata?.annotations, annotations],
    ] as const) {
      for (const key of keys) {
        const want = from?.[key];
        if (want !== undefined && to[key] !== want) {
          to[key] = want;
          changed = true;
        }
      }
    }
    if (changed) out.push({ name, labels, annotations });
  }
  return out;
}

/** A volume claim template whose requested storage grew. */
export interface ResizeTarget {
  readonly template: string;
  /** The new size as written in the cluster. */
  readonly storage: Quantity;
  readonly bytes: number;
}

/**
 * Resize targets (docs/objects.md#pvc-sync-and-expansion step 4): templates present in both the cluster and
 * the live StatefulSet whose `resources.requests.storage` grew.
 */
export function selectResizeTargets(cluster: MySQLCluster, sts: StatefulSetView): ResizeTarget[] {
  const live = new Map<string, PvcTemplateView>();
  for (const t of sts.spec?.volumeClaimTemplates ?? []) live.set(t.metadata?.name ?? "", t);
  const out: ResizeTarget[] = [];
  for (const t of cluster.spec?.volumeClaimTemplates ?? []) {
    const name = t.metadata.name ?? "";
    const before = storageOf(live.get(name));
    const storage = t.spec.resources?.requests?.["storage"];
    const after = parseQuantity(storage);
    if (before === undefined || after === undefined || storage === undefined) continue;
    if (after > before) out.push({ template: name, storage, bytes: after });
  }
  return out;
}

/** What the resize plan reads of a StorageClass. */
export interface StorageClassView {
  readonly metadata?: { readonly name?: string };
  readonly allowVolumeExpansion?: boolean;
}

export interface PvcResizePlan {
  /** PVCs to update: set `spec.resources.requests.storage` to `storage`. */
  readonly resize: readonly { readonly pvc: string; readonly storage: Quantity }[];
  /** PVCs left alone (missing, no/non-expandable StorageClass, equal size): logged. */
  readonly skipped: readonly { readonly pvc: string; readonly reason: string }[];
  /**
   * PVCs larger than the template (e.g. grown by pvc-autoresizer): upstream errors;
   * moco-ts skips them, emits a Warning event and counts an error.
   */
  readonly larger: readonly { readonly pvc: string; readonly current: Quantity; readonly desired: Quantity }[];
}

/**
 * The per-PVC resize plan (docs/objects.md#pvc-sync-and-expansion step 5) for ordinals 0 … replicas−1 of the
 * StatefulSet.
 */
export function planPvcResize(
  clusterName: string,
  targets: readonly ResizeTarget[],
  replicas: number,
  pvcs: readonly PvcTemplateView[],
  storageClasses: readonly StorageClassView[],
): PvcResizePlan {
  const byName = new Map(pvcs.map((p) => [p.metadata?.name ?? "", p]));
  const classes = new Map(storageClasses.map((c) => [c.metadata?.name ?? "", c]));
  const resize: { pvc: string; storage: Quantity }[] = [];
  const skipped: { pvc: string; reason: string }[] = [];
  const larger: { pvc: string; current: Quantity; desired: Quantity }[] = [];
  for (const target of targets) {
    for (let i = 0; i < replicas; i++) {
      const name = names.pvc(target.template, clusterName, i);
      const pvc = byName.get(name);
      if (pvc === undefined) {
        skipped.push({ pvc: name, reason: "PVC not found" });
        continue;
      }
      const className = pvc.spec?.storageClassName;
      if (className === undefined || className === null || className === "") {
        skipped.push({ pvc: name, reason: "no StorageClass" });
        continue;
      }
      if (classes.get(className)?.allowVolumeExpansion !== true) {
        skipped.push({ pvc: name, reason: `StorageClass ${className} does not allow volume expansion` });
        continue;
      }
      const current = storageOf(pvc);
      const currentQ = pvc.spec?.resources?.requests?.["storage"];
      if (current === undefined || currentQ === undefined) {
        resize.push({ pvc: name, storage: target.storage });
      } else if (current === target.bytes) {
        skipped.push({ pvc: name, reason: "already at the requested size" });
      } else if (current < target.bytes) {
        resize.push({ pvc: name, storage: target.storage });
      } else {
        larger.push({ pvc: name, current: currentQ, desired: target.storage });
      }
    }
  }
  return { resize, skipped, larger };
}

// ---- StatefulSet re-creation (docs/objects.md#apply-and-re-creation) ------------------------------------

/**
 * Semantic equality of JSON-like values (Go's equality.Semantic): null/undefined, empty
 * lists and empty map-typed fields count as absent, key order is ignored, quantities under
 * requests/limits/capacity compare by value ("1Gi" equals "1024Mi"). The same comparison
 * the apply layer uses (src/k8s/fieldsv1.ts).
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  return jsonEqual(normalizeForCompare(a), normalizeForCompare(b));
}

/**
 * docs/objects.md#apply-and-re-creation: the StatefulSet must be orphan-deleted and re-created when the live
 * StatefulSet's managed `volumeClaimTemplates` exist and differ from the desired ones.
 */
export function needsStatefulSetRecreation(
  desired: { readonly spec?: { readonly volumeClaimTemplates?: readonly unknown[] } },
  liveManaged: { readonly spec?: { readonly volumeClaimTemplates?: readonly unknown[] | null } } | undefined,
): boolean {
  const live = liveManaged?.spec?.volumeClaimTemplates;
  if (live === undefined || live === null) return false;
  return !semanticEqual(desired.spec?.volumeClaimTemplates ?? [], live);
}

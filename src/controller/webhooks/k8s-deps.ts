// The webhook server's dependencies backed by a real API server through
// @kubernetes/client-node: StorageClass reads for the volume expansion check
// (docs/api.md#mysqlcluster-validation-on-update) and the MySQLCluster list for the BackupPolicy DELETE check (docs/api.md#backuppolicy-validation).
import * as k8s from "@kubernetes/client-node";
import {
  GROUP,
  MYSQLCLUSTER_PLURAL,
  VERSION,
  type MySQLCluster,
  type StorageClassInfo,
  type StorageClassLookup,
} from "../../api/v1beta2/index.ts";
import type { WebhookDependencies } from "./admission.ts";

/** Default page size of list calls. */
const LIST_PAGE_SIZE = 500;

export interface ListOptions {
  /** Objects per list page (default 500); every page is read. */
  pageSize?: number;
}

function isNotFound(e: unknown): boolean {
  return e instanceof k8s.ApiException && e.code === 404;
}

function toInfo(sc: k8s.V1StorageClass): StorageClassInfo {
  const info: StorageClassInfo = {};
  const metadata: NonNullable<StorageClassInfo["metadata"]> = {};
  if (sc.metadata?.name !== undefined) metadata.name = sc.metadata.name;
  if (sc.metadata?.annotations !== undefined) metadata.annotations = { ...sc.metadata.annotations };
  info.metadata = metadata;
  if (sc.allowVolumeExpansion !== undefined) info.allowVolumeExpansion = sc.allowVolumeExpansion;
  return info;
}

/** StorageClasses read from the API server (storage.k8s.io/v1). */
export function storageClassLookupFromKubeConfig(kc: k8s.KubeConfig, options: ListOptions = {}): StorageClassLookup {
  const storage = kc.makeApiClient(k8s.StorageV1Api);
  const limit = options.pageSize ?? LIST_PAGE_SIZE;
  return {
    async getStorageClass(name: string): Promise<StorageClassInfo | undefined> {
      try {
        return toInfo(await storage.readStorageClass({ name }));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async listStorageClasses(): Promise<StorageClassInfo[]> {
      const out: StorageClassInfo[] = [];
      let cont: string | undefined;
      do {
        const list = await storage.listStorageClass({
          limit,
          ...(cont === undefined ? {} : { _continue: cont }),
        });
        out.push(...list.items.map(toInfo));
        cont = list.metadata?._continue || undefined;
      } while (cont !== undefined);
      return out;
    },
  };
}

interface CustomObjectList {
  items?: unknown[];
  metadata?: { continue?: string };
}

/** Lists the MySQLClusters of a namespace (all pages). */
export function mysqlClusterListerFromKubeConfig(
  kc: k8s.KubeConfig,
  options: ListOptions = {},
): (namespace: string) => Promise<MySQLCluster[]> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const limit = options.pageSize ?? LIST_PAGE_SIZE;
  return async (namespace: string): Promise<MySQLCluster[]> => {
    const out: MySQLCluster[] = [];
    let cont: string | undefined;
    do {
      const list = (await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: MYSQLCLUSTER_PLURAL,
        limit,
        ...(cont === undefined ? {} : { _continue: cont }),
      })) as CustomObjectList;
      for (const item of list.items ?? []) out.push(item as MySQLCluster);
      cont = list.metadata?.continue || undefined;
    } while (cont !== undefined);
    return out;
  };
}

/** WebhookDependencies that read from the API server of `kc`. */
export function webhookDependenciesFromKubeConfig(
  kc: k8s.KubeConfig,
  randomBytes?: (size: number) => Uint8Array,
): WebhookDependencies {
  const deps: WebhookDependencies = {
    storageClasses: storageClassLookupFromKubeConfig(kc),
    listMySQLClusters: mysqlClusterListerFromKubeConfig(kc),
  };
  if (randomBytes !== undefined) deps.randomBytes = randomBytes;
  return deps;
}

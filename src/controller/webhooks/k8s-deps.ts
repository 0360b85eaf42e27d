// The webhook server's dependencies read from the API server through the controller's own
// KubeClient (src/k8s/client.ts), so admission reads share its QPS limit and metrics with
// the reconcilers: StorageClass reads for the volume expansion check (docs/api.md#mysqlcluster-validation-on-update) and the
// MySQLCluster list for the BackupPolicy DELETE check (docs/api.md#backuppolicy-validation).
import type { MySQLCluster, StorageClassInfo, StorageClassLookup } from "../../api/v1beta2/index.ts";
import type { KubeClient } from "../../k8s/client.ts";
import { isNotFound } from "../../k8s/errors.ts";
import { resources, type ResourceDescriptor } from "../../k8s/resource.ts";
import type { KubeObject } from "../../k8s/types.ts";
import type { WebhookDependencies } from "./admission.ts";

/** Default page size of list calls. */
const LIST_PAGE_SIZE = 500;

export interface ListOptions {
  /** Objects per list page (default 500); every page is read. */
  pageSize?: number;
}

interface StorageClass extends KubeObject {
  allowVolumeExpansion?: boolean;
}

function toInfo(sc: StorageClass): StorageClassInfo {
  const info: StorageClassInfo = {};
  const metadata: NonNullable<StorageClassInfo["metadata"]> = {};
  if (sc.metadata?.name !== undefined) metadata.name = sc.metadata.name;
  if (sc.metadata?.annotations !== undefined) metadata.annotations = { ...sc.metadata.annotations };
  info.metadata = metadata;
  if (sc.allowVolumeExpansion !== undefined) info.allowVolumeExpansion = sc.allowVolumeExpansion;
  return info;
}

/** Every object of `r` (in `namespace`), page by page. */
async function listAll<T extends KubeObject>(client: KubeClient, r: ResourceDescriptor, namespace: string | undefined, pageSize: number): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const page = await client.list<T>(r, { ...(namespace === undefined ? {} : { namespace }), limit: pageSize, ...(cont === undefined ? {} : { continue: cont }) });
    out.push(...page.items);
    cont = page.metadata?.continue || undefined;
  } while (cont !== undefined);
  return out;
}

/** StorageClasses read from the API server (storage.k8s.io/v1). */
export function storageClassLookup(client: KubeClient, options: ListOptions = {}): StorageClassLookup {
  const limit = options.pageSize ?? LIST_PAGE_SIZE;
  return {
    async getStorageClass(name: string): Promise<StorageClassInfo | undefined> {
      try {
        return toInfo(await client.get<StorageClass>(resources.storageClasses, name));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async listStorageClasses(): Promise<StorageClassInfo[]> {
      return (await listAll<StorageClass>(client, resources.storageClasses, undefined, limit)).map(toInfo);
    },
  };
}

/** Lists the MySQLClusters of a namespace (all pages). */
export function mysqlClusterLister(client: KubeClient, options: ListOptions = {}): (namespace: string) => Promise<MySQLCluster[]> {
  const limit = options.pageSize ?? LIST_PAGE_SIZE;
  return (namespace: string) => listAll<MySQLCluster>(client, resources.mysqlClusters, namespace, limit);
}

/** WebhookDependencies that read through `client` (in moco-controller: the controller's own client). */
export function webhookDependencies(client: KubeClient, randomBytes?: (size: number) => Uint8Array): WebhookDependencies {
  const deps: WebhookDependencies = {
    storageClasses: storageClassLookup(client),
    listMySQLClusters: mysqlClusterLister(client),
  };
  if (randomBytes !== undefined) deps.randomBytes = randomBytes;
  return deps;
}

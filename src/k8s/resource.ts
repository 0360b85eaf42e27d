// Where a kind lives in the REST API, and the URL paths built from it.

export interface ResourceDescriptor {
  /** API group; "" for the core group. */
  group: string;
  version: string;
  /** Lower-case plural resource name, e.g. "configmaps", "mysqlclusters". */
  plural: string;
  namespaced: boolean;
  /** Kind of the objects (filled into list items, which the server sends without it). */
  kind?: string;
}

export function apiVersionOf(r: ResourceDescriptor): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf("/");
  return i < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]] or /apis/GROUP/VERSION/... */
export function resourcePath(r: ResourceDescriptor, where: { namespace?: string; name?: string; subresource?: string } = {}): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && where.namespace) p += `/namespaces/${encodeURIComponent(where.namespace)}`;
  p += `/${r.plural}`;
  if (where.name !== undefined) {
    p += `/${encodeURIComponent(where.name)}`;
    if (where.subresource) p += `/${where.subresource}`;
  }
  return p;
}

function res(group: string, version: string, plural: string, kind: string, namespaced = true): ResourceDescriptor {
  return { group, version, plural, kind, namespaced };
}

/** Resources moco-ts reads or writes. */
export const resources = {
  configMaps: res("", "v1", "configmaps", "ConfigMap"),
  secrets: res("", "v1", "secrets", "Secret"),
  services: res("", "v1", "services", "Service"),
  serviceAccounts: res("", "v1", "serviceaccounts", "ServiceAccount"),
  pods: res("", "v1", "pods", "Pod"),
  persistentVolumeClaims: res("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
  events: res("", "v1", "events", "Event"),
  namespaces: res("", "v1", "namespaces", "Namespace", false),
  statefulSets: res("apps", "v1", "statefulsets", "StatefulSet"),
  jobs: res("batch", "v1", "jobs", "Job"),
  cronJobs: res("batch", "v1", "cronjobs", "CronJob"),
  podDisruptionBudgets: res("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"),
  roles: res("rbac.authorization.k8s.io", "v1", "roles", "Role"),
  roleBindings: res("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
  leases: res("coordination.k8s.io", "v1", "leases", "Lease"),
  storageClasses: res("storage.k8s.io", "v1", "storageclasses", "StorageClass", false),
  certificates: res("cert-manager.io", "v1", "certificates", "Certificate"),
  mysqlClusters: res("moco.cybozu.com", "v1beta2", "mysqlclusters", "MySQLCluster"),
  backupPolicies: res("moco.cybozu.com", "v1beta2", "backuppolicies", "BackupPolicy"),
} as const satisfies Record<string, ResourceDescriptor>;

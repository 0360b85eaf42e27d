// The few Kubernetes API calls the plugin makes, behind a small interface so the commands
// can be tested with a fake, implemented with @kubernetes/client-node's object-parameter
// APIs. Errors are the client's ApiException; callers turn them into CliErrors.
import * as k8s from "@kubernetes/client-node";
import { GROUP, MYSQLCLUSTER_PLURAL, VERSION } from "../api/v1beta2/index.ts";
import type { MySQLCluster } from "../api/v1beta2/index.ts";
import type { ResolvedKubeConfig } from "./kubeconfig.ts";

/** Annotation changes: a string sets the key, null removes it. */
export type AnnotationPatch = Readonly<Record<string, string | null>>;

export interface MocoApi {
  getCluster(namespace: string, name: string): Promise<MySQLCluster>;
  listClusters(namespace: string): Promise<MySQLCluster[]>;
  /** JSON merge patch of metadata.annotations of a MySQLCluster. */
  patchClusterAnnotations(namespace: string, name: string, patch: AnnotationPatch): Promise<MySQLCluster>;
  getSecret(namespace: string, name: string): Promise<k8s.V1Secret>;
  getPod(namespace: string, name: string): Promise<k8s.V1Pod>;
  listPods(namespace: string, labelSelector: string): Promise<k8s.V1Pod[]>;
  /** JSON merge patch of metadata.annotations of a Pod. */
  patchPodAnnotations(namespace: string, name: string, patch: AnnotationPatch): Promise<k8s.V1Pod>;
  /** Events whose involvedObject is the named object of `kind`. */
  listEvents(namespace: string, kind: string, name: string): Promise<k8s.CoreV1Event[]>;
}

const MYSQLCLUSTERS = { group: GROUP, version: VERSION, plural: MYSQLCLUSTER_PLURAL } as const;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  if (ms <= 0) return p;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: request timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** MocoApi over a resolved kubeconfig. */
export function createMocoApi(cfg: ResolvedKubeConfig): MocoApi {
  const core = cfg.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const custom = cfg.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  let base: k8s.ConfigurationOptions | undefined;
  for (const [key, value] of Object.entries(cfg.headers)) base = k8s.setHeaderOptions(key, value, base);
  const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch, base);
  const t = cfg.requestTimeoutMs;

  return {
    async getCluster(namespace, name) {
      return (await withTimeout(
        custom.getNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace, name }, base),
        t, "get mysqlcluster",
      )) as MySQLCluster;
    },
    async listClusters(namespace) {
      const list = (await withTimeout(
        custom.listNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace }, base),
        t, "list mysqlclusters",
      )) as { items?: MySQLCluster[] };
      return list.items ?? [];
    },
    async patchClusterAnnotations(namespace, name, patch) {
      return (await withTimeout(
        custom.patchNamespacedCustomObject(
          { ...MYSQLCLUSTERS, namespace, name, body: { metadata: { annotations: patch } } },
          merge,
        ),
        t, "patch mysqlcluster",
      )) as MySQLCluster;
    },
    getSecret(namespace, name) {
      return withTimeout(core.readNamespacedSecret({ namespace, name }, base), t, "get secret");
    },
    getPod(namespace, name) {
      return withTimeout(core.readNamespacedPod({ namespace, name }, base), t, "get pod");
    },
    async listPods(namespace, labelSelector) {
      return (await withTimeout(core.listNamespacedPod({ namespace, labelSelector }, base), t, "list pods")).items;
    },
    patchPodAnnotations(namespace, name, patch) {
      return withTimeout(
        core.patchNamespacedPod({ namespace, name, body: { metadata: { annotations: patch } } }, merge),
        t, "patch pod",
      );
    },
    async listEvents(namespace, kind, name) {
      const fieldSelector = `involvedObject.kind=${kind},involvedObject.name=${name}`;
      return (await withTimeout(core.listNamespacedEvent({ namespace, fieldSelector }, base), t, "list events")).items;
    },
  };
}

// The few Kubernetes API calls the plugin makes, behind a small interface so the commands
// can be tested with a fake, over the project's one API client (src/k8s/client.ts,
// KubeClient) built from the resolved kubeconfig. Errors are the client's ApiError; callers
// turn them into CliErrors. (The object types are client-node's, used as types only.)
import type { CoreV1Event, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { MySQLCluster } from "../api/v1beta2/index.ts";
import { KubeClient } from "../k8s/client.ts";
import { resources } from "../k8s/resource.ts";
import type { KubeObject } from "../k8s/types.ts";
import type { ResolvedKubeConfig } from "./kubeconfig.ts";

/** Annotation changes: a string sets the key, null removes it. */
export type AnnotationPatch = Readonly<Record<string, string | null>>;

export interface MocoApi {
  getCluster(namespace: string, name: string): Promise<MySQLCluster>;
  listClusters(namespace: string): Promise<MySQLCluster[]>;
  /** JSON merge patch of metadata.annotations of a MySQLCluster. */
  patchClusterAnnotations(namespace: string, name: string, patch: AnnotationPatch): Promise<MySQLCluster>;
  getSecret(namespace: string, name: string): Promise<V1Secret>;
  getPod(namespace: string, name: string): Promise<V1Pod>;
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  /** JSON merge patch of metadata.annotations of a Pod. */
  patchPodAnnotations(namespace: string, name: string, patch: AnnotationPatch): Promise<V1Pod>;
  /** Events whose involvedObject is the named object of `kind`. */
  listEvents(namespace: string, kind: string, name: string): Promise<CoreV1Event[]>;
}

/**
 * The plugin's KubeClient: the resolved credentials plus the impersonation headers. No
 * socket inactivity limit: `--request-timeout` (createMocoApi) bounds a call as a whole.
 */
export function cliClient(cfg: ResolvedKubeConfig): KubeClient {
  return new KubeClient(cfg.kubeConfig, { userAgent: "kubectl-moco", headers: cfg.headers, requestTimeoutMs: 0 });
}

/** MocoApi over a resolved kubeconfig. `--request-timeout` bounds each call as a whole (0 = none). */
export function createMocoApi(cfg: ResolvedKubeConfig, client: KubeClient = cliClient(cfg)): MocoApi {
  const t = cfg.requestTimeoutMs;
  const call = async <T>(what: string, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> => {
    const signal = t > 0 ? AbortSignal.timeout(t) : undefined;
    try {
      return await fn(signal);
    } catch (e) {
      if (signal?.aborted === true) throw new Error(`${what}: request timed out after ${t} ms`);
      throw e;
    }
  };
  const annotations = (patch: AnnotationPatch) => ({ metadata: { annotations: patch } });
  const asPod = (o: KubeObject) => o as V1Pod;

  return {
    getCluster: (namespace, name) => call("get mysqlcluster", (signal) => client.get<MySQLCluster>(resources.mysqlClusters, name, namespace, signal)),
    listClusters: (namespace) => call("list mysqlclusters", async (signal) => (await client.list<MySQLCluster>(resources.mysqlClusters, { namespace, signal })).items),
    patchClusterAnnotations: (namespace, name, patch) =>
      call("patch mysqlcluster", (signal) => client.patch<MySQLCluster>(resources.mysqlClusters, name, namespace, "merge", annotations(patch), { signal })),
    getSecret: (namespace, name) => call("get secret", async (signal) => (await client.get(resources.secrets, name, namespace, signal)) as V1Secret),
    getPod: (namespace, name) => call("get pod", async (signal) => asPod(await client.get(resources.pods, name, namespace, signal))),
    listPods: (namespace, labelSelector) => call("list pods", async (signal) => (await client.list(resources.pods, { namespace, labelSelector, signal })).items.map(asPod)),
    patchPodAnnotations: (namespace, name, patch) =>
      call("patch pod", async (signal) => asPod(await client.patch(resources.pods, name, namespace, "merge", annotations(patch), { signal }))),
    listEvents: (namespace, kind, name) => {
      const fieldSelector = `involvedObject.kind=${kind},involvedObject.name=${name}`;
      return call("list events", async (signal) => (await client.list(resources.events, { namespace, fieldSelector, signal })).items as unknown as CoreV1Event[]);
    },
  };
}

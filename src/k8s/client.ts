// A small HTTP client for the Kubernetes API on top of a kubeconfig's credentials
// (applyToHTTPSOptions: CA, client certificate, bearer/exec tokens, proxies' agents; loaded
// by src/k8s/kubeconfig.ts, @kubernetes/client-node's KubeConfig only when needed).
// It speaks JSON, turns non-2xx answers into ApiError, streams watches line by line, and
// applies a client-side QPS/burst limit like client-go. Generic over any resource (core kinds
// and CRDs alike), so the informer, apply helpers, events and leases share one code path.
// It is the one way moco-ts reaches the API server: the controller (its webhooks included,
// on the controller's own instance), the backup jobs and kubectl-moco all build on it; the
// exception is the CLI's exec WebSocket (src/cli/exec.ts; docs/k8s-layer.md).
import http from "node:http";
import https from "node:https";
import { loadDefaultKubeconfig, loadKubeconfigFile, type KubeCredentials } from "./kubeconfig.ts";
import { ApiError, type StatusBody } from "./errors.ts";
import { TokenBucket } from "./ratelimit.ts";
import { apiVersionOf, parseApiVersion, resourcePath, type ResourceDescriptor } from "./resource.ts";
import type { KubeObject } from "./types.ts";

export type QueryValue = string | number | boolean | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Serialized as JSON unless it is a string. */
  body?: unknown;
  /** Content-Type of the body (default application/json). */
  contentType?: string;
  /** Socket inactivity limit in ms (default: the client's requestTimeoutMs). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface WatchStreamOptions {
  signal?: AbortSignal;
  /** Destroys the connection when nothing arrives for this long (ms). */
  idleTimeoutMs?: number;
}

export interface KubeClientOptions {
  /** Client-side request rate (default 20, as moco-controller's --apiserver-qps-throttle); 0 disables. */
  qps?: number;
  /** Burst (default 1.5 × qps). */
  burst?: number;
  /** Socket inactivity limit for ordinary requests (default 30 s). */
  requestTimeoutMs?: number;
  userAgent?: string;
  /** Headers sent with every request on top of the kubeconfig's (e.g. Impersonate-Group). */
  headers?: Readonly<Record<string, string>>;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  signal?: AbortSignal;
}

export interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export type PatchType = "apply" | "merge" | "json" | "strategic";

const patchContentTypes: Record<PatchType, string> = {
  apply: "application/apply-patch+yaml",
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

interface DiscoveryResource { name: string; kind: string; namespaced: boolean }

export class KubeClient {
  readonly kubeConfig: KubeCredentials;
  readonly server: URL;
  readonly #limiter: TokenBucket | undefined;
  readonly #requestTimeoutMs: number;
  readonly #userAgent: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #discovery = new Map<string, Promise<DiscoveryResource[]>>();

  constructor(kubeConfig: KubeCredentials, opts: KubeClientOptions = {}) {
    this.kubeConfig = kubeConfig;
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
    const qps = opts.qps ?? 20;
    this.#limiter = qps > 0 ? new TokenBucket(qps, opts.burst ?? Math.max(1, Math.floor(qps * 1.5))) : undefined;
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#userAgent = opts.userAgent ?? "moco-ts";
    this.#headers = { ...(opts.headers ?? {}) };
  }

  static fromFile(file: string, opts?: KubeClientOptions): KubeClient {
    return new KubeClient(loadKubeconfigFile(file), opts);
  }

  /** $KUBECONFIG, else ~/.kube/config, else the in-cluster service account (src/k8s/kubeconfig.ts). */
  static fromDefault(opts?: KubeClientOptions): KubeClient {
    return new KubeClient(loadDefaultKubeconfig(), opts);
  }

  #url(path: string, query?: Record<string, QueryValue>): URL {
    const base = this.server.pathname.replace(/\/$/, "");
    const u = new URL(this.server.origin + base + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  async #options(method: string, url: URL, headers: Record<string, string>): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = { method, headers: { ...headers } };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    opts.headers = { "User-Agent": this.#userAgent, Accept: "application/json", ...(opts.headers as Record<string, string>), ...this.#headers, ...headers };
    return opts;
  }

  #send(url: URL, opts: https.RequestOptions): (cb: (res: http.IncomingMessage) => void) => http.ClientRequest {
    const mod = url.protocol === "http:" ? http : https;
    return (cb) => mod.request(url, opts, cb);
  }

  /** One request; resolves with the parsed JSON body (undefined for an empty body). */
  async request<T = unknown>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
    if (this.#limiter) await this.#limiter.take();
    ro.signal?.throwIfAborted();
    const url = this.#url(path, ro.query);
    let payload: string | undefined;
    const headers: Record<string, string> = {};
    if (ro.body !== undefined) {
      payload = typeof ro.body === "string" ? ro.body : JSON.stringify(ro.body);
      headers["Content-Type"] = ro.contentType ?? "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(payload));
    }
    const opts = await this.#options(method, url, headers);
    const text = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = this.#send(url, opts)((res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      const onAbort = () => req.destroy(ro.signal?.reason instanceof Error ? ro.signal.reason : new Error("aborted"));
      ro.signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => ro.signal?.removeEventListener("abort", onAbort));
      req.setTimeout(ro.timeoutMs ?? this.#requestTimeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", reject);
      req.end(payload);
    });
    let parsed: unknown;
    if (text.text.length > 0) {
      try { parsed = JSON.parse(text.text); } catch { parsed = undefined; }
    }
    if (text.status < 200 || text.status >= 300) {
      throw new ApiError(method, path, text.status, parsed as StatusBody | undefined, parsed === undefined ? text.text.slice(0, 500) : undefined);
    }
    return parsed as T;
  }

  /**
   * Opens a watch (or any streaming GET) and calls onLine with each parsed JSON line. Resolves
   * when the server closes the stream; rejects on connection errors, idle timeout, or a non-200
   * answer (ApiError). Aborting the signal resolves it.
   */
  async watchStream(path: string, query: Record<string, QueryValue>, onLine: (obj: unknown) => void, wo: WatchStreamOptions = {}): Promise<void> {
    if (wo.signal?.aborted) return;
    const url = this.#url(path, { ...query, watch: "true" });
    const opts = await this.#options("GET", url, {});
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        wo.signal?.removeEventListener("abort", onAbort);
        if (err && !wo.signal?.aborted) reject(err); else resolve();
      };
      const req = this.#send(url, opts)((res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const t = Buffer.concat(chunks).toString("utf8");
            let body: StatusBody | undefined;
            try { body = JSON.parse(t) as StatusBody; } catch { body = undefined; }
            finish(new ApiError("GET", path, res.statusCode ?? 0, body, body ? undefined : t.slice(0, 500)));
          });
          res.on("error", (e) => finish(e));
          return;
        }
        res.setEncoding("utf8");
        let buf = "";
        res.on("data", (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            let obj: unknown;
            try { obj = JSON.parse(line); } catch { continue; }
            try { onLine(obj); } catch (e) { req.destroy(e instanceof Error ? e : new Error(String(e))); return; }
          }
        });
        res.on("end", () => finish());
        res.on("close", () => finish(res.complete ? undefined : new Error(`watch ${path}: connection closed`)));
        res.on("error", (e) => finish(e));
      });
      const onAbort = () => { req.destroy(); finish(); };
      wo.signal?.addEventListener("abort", onAbort, { once: true });
      if (wo.idleTimeoutMs) req.setTimeout(wo.idleTimeoutMs, () => req.destroy(new Error(`watch ${path}: idle for ${wo.idleTimeoutMs} ms`)));
      req.on("socket", (s) => { s.setKeepAlive(true, 30_000); });
      req.on("error", (e) => finish(e));
      req.end();
    });
  }

  // ---- typed helpers over one resource ----

  get<T extends KubeObject = KubeObject>(r: ResourceDescriptor, name: string, namespace?: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", resourcePath(r, { namespace, name }), { signal });
  }

  async list<T extends KubeObject = KubeObject>(r: ResourceDescriptor, o: ListOptions = {}): Promise<ObjectList<T>> {
    const list = await this.request<ObjectList<T>>("GET", resourcePath(r, { namespace: o.namespace }), {
      query: { labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, limit: o.limit, continue: o.continue, resourceVersion: o.resourceVersion },
      signal: o.signal,
    });
    // List items come without apiVersion/kind; fill them in so they look like watch objects.
    const kind = r.kind ?? (list.kind?.endsWith("List") ? list.kind.slice(0, -4) : undefined);
    for (const it of list.items ?? []) {
      const o2 = it as KubeObject;
      o2.apiVersion ??= apiVersionOf(r);
      if (kind) o2.kind ??= kind;
    }
    list.items ??= [];
    return list;
  }

  create<T extends KubeObject = KubeObject>(r: ResourceDescriptor, obj: T, o: { namespace?: string; fieldManager?: string } = {}): Promise<T> {
    return this.request<T>("POST", resourcePath(r, { namespace: o.namespace ?? obj.metadata?.namespace }), { body: obj, query: { fieldManager: o.fieldManager } });
  }

  /** PUT; obj.metadata.resourceVersion (if set) makes it an optimistic-concurrency update. */
  update<T extends KubeObject = KubeObject>(r: ResourceDescriptor, obj: T, o: { subresource?: string; fieldManager?: string; signal?: AbortSignal | undefined } = {}): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new Error("update: metadata.name is required");
    return this.request<T>("PUT", resourcePath(r, { namespace: obj.metadata?.namespace, name, subresource: o.subresource }), { body: obj, query: { fieldManager: o.fieldManager }, signal: o.signal });
  }

  patch<T extends KubeObject = KubeObject>(r: ResourceDescriptor, name: string, namespace: string | undefined, type: PatchType, body: unknown,
    o: { fieldManager?: string; force?: boolean; subresource?: string; dryRun?: boolean; signal?: AbortSignal | undefined } = {}): Promise<T> {
    return this.request<T>("PATCH", resourcePath(r, { namespace, name, subresource: o.subresource }), {
      body, contentType: patchContentTypes[type],
      query: { fieldManager: o.fieldManager, force: o.force, dryRun: o.dryRun ? "All" : undefined },
      signal: o.signal,
    });
  }

  delete(r: ResourceDescriptor, name: string, namespace?: string, o: { propagationPolicy?: "Foreground" | "Background" | "Orphan"; uid?: string; resourceVersion?: string } = {}): Promise<unknown> {
    const preconditions = o.uid || o.resourceVersion ? { uid: o.uid, resourceVersion: o.resourceVersion } : undefined;
    return this.request("DELETE", resourcePath(r, { namespace, name }), {
      body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: o.propagationPolicy, preconditions },
    });
  }

  // ---- discovery ----

  /** Finds the resource serving apiVersion/kind (cached discovery; refreshed once on a miss). */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceDescriptor> {
    const { group, version } = parseApiVersion(apiVersion);
    const find = async (): Promise<ResourceDescriptor | undefined> => {
      let p = this.#discovery.get(apiVersion);
      if (!p) {
        const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
        p = this.request<{ resources?: DiscoveryResource[] }>("GET", path).then((l) => l.resources ?? []);
        this.#discovery.set(apiVersion, p);
        p.catch(() => this.#discovery.delete(apiVersion));
      }
      const rs = await p;
      const r = rs.find((x) => x.kind === kind && !x.name.includes("/"));
      return r ? { group, version, plural: r.name, namespaced: r.namespaced, kind } : undefined;
    };
    const hit = await find().catch(() => undefined);
    if (hit) return hit;
    this.#discovery.delete(apiVersion);
    const again = await find();
    if (!again) throw new Error(`no resource for ${apiVersion} ${kind} on the API server`);
    return again;
  }
}

// An informer: list, then watch from the list's resourceVersion, with a local cache and
// add/update/delete handlers. Unlike client-node's informer it never gives up: any watch
// error or close restarts the watch from the last resourceVersion seen (bookmarks keep it
// fresh) after a capped exponential back-off; a 410 Gone / Expired answer (as HTTP status or
// as an ERROR watch event) makes it list again, and objects that vanished in between are
// delivered as deletes with finalStateUnknown. A periodic resync re-delivers every cached
// object as an update. Generic over any resource (core kinds and CRDs).
import type { Logger } from "pino";
import { Backoff, type BackoffOptions } from "../util/backoff.ts";
import type { KubeClient, QueryValue } from "./client.ts";
import { realClock, type Clock, type TimerHandle } from "./clock.ts";
import { errorMessage } from "../util/errors.ts";
import { ApiError, isGone, type StatusBody } from "./errors.ts";
import { toSelector, type LabelSelector, type Selector } from "./labels.ts";
import { defaultLogger } from "./log.ts";
import { apiVersionOf, resourcePath, type ResourceDescriptor } from "./resource.ts";
import { objectKey, type KubeObject } from "./types.ts";

export interface InformerOptions<T extends KubeObject = KubeObject> {
  /** Only this namespace (namespaced resources); default all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-deliver every cached object as an update this often (ms); 0 or undefined = never. */
  resyncPeriodMs?: number;
  /** Back-off between failed list/watch attempts (default 500 ms doubling to 10 s, 20 % jitter). */
  backoff?: BackoffOptions;
  /** List page size (default 500). */
  pageSize?: number;
  /** Server-side watch timeout range in seconds (default [300, 600], random per watch). */
  watchTimeoutSeconds?: [number, number];
  clock?: Clock;
  logger?: Logger;
  name?: string;
  /**
   * Applied to every listed or watched object before it is cached and handed to handlers
   * (client-go's SetTransform): drop what no reader needs to keep the cache small. It may
   * change the object in place; it must keep metadata.name/namespace/resourceVersion.
   */
  transform?: (obj: T) => T;
}

export interface DeleteInfo {
  /** True when the delete was inferred from a re-list (the object's final state is unknown). */
  finalStateUnknown: boolean;
}

export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T, info: DeleteInfo): void;
}

export interface InformerStats {
  /** Completed lists (initial one included). */
  lists: number;
  /** Watch requests started. */
  watches: number;
  /** Failed list or watch attempts (each followed by a back-off). */
  errors: number;
  /** Times a 410 Gone/Expired forced a re-list. */
  gone: number;
  resyncs: number;
  lastSyncResourceVersion: string | undefined;
}

interface WatchEvent { type?: string; object?: unknown }

class GoneError extends Error {}

export class Informer<T extends KubeObject = KubeObject> {
  readonly resource: ResourceDescriptor;
  readonly name: string;
  readonly #client: KubeClient;
  readonly #opts: InformerOptions<T>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #cache = new Map<string, T>();
  readonly #byNamespace = new Map<string, Set<string>>();
  readonly #handlers = new Set<InformerHandlers<T>>();
  readonly #syncWaiters: Array<() => void> = [];
  readonly #abort = new AbortController();
  #rv: string | undefined;
  #synced = false;
  #started = false;
  #loop: Promise<void> | undefined;
  #resyncTimer: TimerHandle | undefined;
  readonly #stats: InformerStats = { lists: 0, watches: 0, errors: 0, gone: 0, resyncs: 0, lastSyncResourceVersion: undefined };

  constructor(client: KubeClient, resource: ResourceDescriptor, opts: InformerOptions<T> = {}) {
    this.#client = client;
    this.resource = resource;
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    this.name = opts.name ?? `${resource.plural}${opts.namespace ? `/${opts.namespace}` : ""}${opts.labelSelector ? `[${opts.labelSelector}]` : ""}`;
    this.#log = (opts.logger ?? defaultLogger).child({ informer: this.name });
    this.#backoff = new Backoff(opts.backoff ?? { initialMs: 500, maxMs: 10_000, jitter: 0.2 });
  }

  /** Registers handlers; if the cache is already synced, onAdd is called for every cached object. Returns an unregister function. */
  addHandler(h: InformerHandlers<T>): () => void {
    this.#handlers.add(h);
    if (this.#synced && h.onAdd) for (const o of this.#cache.values()) this.#call(() => h.onAdd?.(o));
    return () => { this.#handlers.delete(h); };
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#loop = this.#run();
    const period = this.#opts.resyncPeriodMs ?? 0;
    if (period > 0) this.#scheduleResync(period);
  }

  async stop(): Promise<void> {
    this.#abort.abort(new Error("informer stopped"));
    this.#resyncTimer?.cancel();
    await this.#loop;
    for (const w of this.#syncWaiters.splice(0)) w();
  }

  hasSynced(): boolean { return this.#synced; }

  /** Resolves once the first list has been delivered; rejects if the signal aborts or the informer stops first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal?.reason ?? new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        if (this.#synced) resolve(); else reject(new Error(`informer ${this.name} stopped before it synced`));
      });
    });
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#cache.get(namespace ? `${namespace}/${name}` : name);
  }

  getByKey(key: string): T | undefined { return this.#cache.get(key); }

  keys(): string[] { return [...this.#cache.keys()]; }

  /** Cached objects, optionally of one namespace and matching a label selector. */
  list(filter: { namespace?: string; labelSelector?: string | LabelSelector | Selector } = {}): T[] {
    const sel = toSelector(filter.labelSelector);
    const keys = filter.namespace !== undefined ? [...(this.#byNamespace.get(filter.namespace) ?? [])] : [...this.#cache.keys()];
    const out: T[] = [];
    for (const k of keys) {
      const o = this.#cache.get(k);
      if (o && (sel.isEverything() || sel.matches(o.metadata?.labels))) out.push(o);
    }
    return out;
  }

  stats(): InformerStats { return { ...this.#stats, lastSyncResourceVersion: this.#rv }; }

  // ---- internals ----

  #call(fn: () => void): void {
    try { fn(); } catch (e) { this.#log.error({ err: errorMessage(e) }, "informer handler threw"); }
  }

  #emitAdd(o: T): void { for (const h of this.#handlers) if (h.onAdd) this.#call(() => h.onAdd?.(o)); }
  #emitUpdate(a: T, b: T): void { for (const h of this.#handlers) if (h.onUpdate) this.#call(() => h.onUpdate?.(a, b)); }
  #emitDelete(o: T, info: DeleteInfo): void { for (const h of this.#handlers) if (h.onDelete) this.#call(() => h.onDelete?.(o, info)); }

  #put(key: string, o: T): T | undefined {
    const old = this.#cache.get(key);
    this.#cache.set(key, o);
    const ns = o.metadata?.namespace ?? "";
    let s = this.#byNamespace.get(ns);
    if (!s) { s = new Set(); this.#byNamespace.set(ns, s); }
    s.add(key);
    return old;
  }

  #remove(key: string): T | undefined {
    const old = this.#cache.get(key);
    if (!old) return undefined;
    this.#cache.delete(key);
    const ns = old.metadata?.namespace ?? "";
    const s = this.#byNamespace.get(ns);
    s?.delete(key);
    if (s && s.size === 0) this.#byNamespace.delete(ns);
    return old;
  }

  #scheduleResync(period: number): void {
    this.#resyncTimer = this.#clock.setTimer(() => {
      if (this.#abort.signal.aborted) return;
      if (this.#synced) {
        this.#stats.resyncs++;
        for (const o of [...this.#cache.values()]) this.#emitUpdate(o, o);
      }
      this.#scheduleResync(period);
    }, period);
  }

  #query(): Record<string, QueryValue> {
    return { labelSelector: this.#opts.labelSelector, fieldSelector: this.#opts.fieldSelector };
  }

  #path(): string {
    return resourcePath(this.resource, { namespace: this.resource.namespaced ? this.#opts.namespace : undefined });
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        if (this.#rv === undefined) await this.#listAndReplace(signal);
        const started = this.#clock.now();
        const events = await this.#watchOnce(signal);
        if (signal.aborted) break;
        // A watch that ended normally is simply restarted from the last resourceVersion; one
        // that closed at once without events is treated like an error to avoid a busy loop.
        if (events > 0 || this.#clock.now() - started > 5_000) {
          this.#backoff.reset();
        } else {
          await this.#clock.sleep(this.#backoff.next(), signal).catch(() => undefined);
        }
      } catch (e) {
        if (signal.aborted) break;
        if (e instanceof GoneError || isGone(e)) {
          this.#stats.gone++;
          this.#log.info({ resourceVersion: this.#rv, err: errorMessage(e) }, "resourceVersion expired; listing again");
          this.#rv = undefined;
          continue;
        }
        this.#stats.errors++;
        const delay = this.#backoff.next();
        this.#log.warn({ err: errorMessage(e), retryInMs: Math.round(delay), failures: this.#backoff.failures }, "list/watch failed; retrying");
        await this.#clock.sleep(delay, signal).catch(() => undefined);
      }
    }
  }

  async #listAndReplace(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let rv: string | undefined;
    let cont: string | undefined;
    let limit: number | undefined = this.#opts.pageSize ?? 500;
    for (;;) {
      let page;
      try {
        page = await this.#client.list<T>(this.resource, {
          namespace: this.resource.namespaced ? this.#opts.namespace : undefined,
          labelSelector: this.#opts.labelSelector, fieldSelector: this.#opts.fieldSelector,
          limit, continue: cont, signal,
        });
      } catch (e) {
        if (cont !== undefined && isGone(e)) {
          // The continue token expired mid-way: list everything in one go.
          items.length = 0; cont = undefined; limit = undefined;
          continue;
        }
        throw e;
      }
      const tf = this.#opts.transform;
      for (const o of page.items) items.push(tf === undefined ? o : tf(o));
      rv = page.metadata?.resourceVersion;
      cont = page.metadata?.continue || undefined;
      if (!cont) break;
    }
    if (signal.aborted) return;
    this.#replace(items);
    this.#rv = rv;
    this.#stats.lists++;
    this.#backoff.reset();
    this.#log.debug({ items: items.length, resourceVersion: rv }, "listed");
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  #replace(items: T[]): void {
    const seen = new Set<string>();
    for (const o of items) {
      const key = objectKey(o);
      seen.add(key);
      const old = this.#put(key, o);
      if (!old) this.#emitAdd(o);
      else if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.#emitUpdate(old, o);
    }
    for (const key of [...this.#cache.keys()]) {
      if (seen.has(key)) continue;
      const old = this.#remove(key);
      if (old) this.#emitDelete(old, { finalStateUnknown: true });
    }
  }

  async #watchOnce(signal: AbortSignal): Promise<number> {
    const [lo, hi] = this.#opts.watchTimeoutSeconds ?? [300, 600];
    const timeoutSeconds = Math.floor(lo + Math.random() * Math.max(0, hi - lo));
    let events = 0;
    let failure: Error | undefined;
    const ctl = new AbortController();
    const onStop = () => ctl.abort();
    signal.addEventListener("abort", onStop, { once: true });
    this.#stats.watches++;
    try {
      await this.#client.watchStream(this.#path(), {
        ...this.#query(), resourceVersion: this.#rv, allowWatchBookmarks: true, timeoutSeconds,
      }, (line) => {
        if (failure) return;
        // Anything received proves the connection healthy: the next failure starts a fresh back-off.
        this.#backoff.reset();
        const ev = line as WatchEvent;
        const err = this.#handleEvent(ev);
        if (err) { failure = err; ctl.abort(); return; }
        if (ev.type !== "BOOKMARK") events++;
      }, { signal: ctl.signal, idleTimeoutMs: (timeoutSeconds + 60) * 1000 });
    } finally {
      signal.removeEventListener("abort", onStop);
    }
    if (failure) throw failure;
    return events;
  }

  /** Applies one watch event to the cache; returns an error that must end the watch. */
  #handleEvent(ev: WatchEvent): Error | undefined {
    if (ev.type === "ERROR") {
      const st = (ev.object ?? {}) as StatusBody;
      if (st.code === 410 || st.reason === "Expired" || st.reason === "Gone") return new GoneError(st.message ?? "410 Gone");
      return new ApiError("WATCH", this.#path(), st.code ?? 500, st);
    }
    const raw = ev.object as T | undefined;
    if (!raw || typeof raw !== "object") return undefined;
    const rv = raw.metadata?.resourceVersion;
    if (ev.type === "BOOKMARK") {
      if (rv) this.#rv = rv;
      return undefined;
    }
    const o = this.#opts.transform === undefined ? raw : this.#opts.transform(raw);
    o.apiVersion ??= apiVersionOf(this.resource);
    if (this.resource.kind) o.kind ??= this.resource.kind;
    const key = objectKey(o);
    switch (ev.type) {
      case "ADDED":
      case "MODIFIED": {
        const old = this.#put(key, o);
        if (old) this.#emitUpdate(old, o); else this.#emitAdd(o);
        break;
      }
      case "DELETED": {
        this.#remove(key);
        this.#emitDelete(o, { finalStateUnknown: false });
        break;
      }
      default:
        this.#log.warn({ type: ev.type }, "unknown watch event type");
    }
    if (rv) this.#rv = rv;
    return undefined;
  }
}

// An event recorder writing core/v1 Events, like client-go's record.EventRecorder: source
// component "moco-controller" (also reportingComponent), identical events (same object,
// type, reason, message) within the aggregation window bump `count` and `lastTimestamp` of
// the existing Event instead of creating a new one. Recording never throws into the caller
// and never blocks it: writes happen in the background (flush() waits for them).
import os from "node:os";
import type { Logger } from "pino";
import type { KubeClient } from "./client.ts";
import { realClock, type Clock } from "./clock.ts";
import { isNotFound } from "./errors.ts";
import { errorMessage } from "../util/errors.ts";
import { defaultLogger } from "./log.ts";
import { resources } from "./resource.ts";
import type { KubeObject } from "./types.ts";
import { rfc3339 } from "../util/time.ts";

export type EventType = "Normal" | "Warning";

export interface EventRecorderOptions {
  /** source.component and reportingComponent (default "moco-controller"). */
  component?: string;
  /** source.host (default the host name; "" leaves it out, as controller-runtime does). */
  host?: string;
  /** reportingInstance (default `host`, or the host name when `host` is ""). */
  reportingInstance?: string;
  /** Identical events closer than this are aggregated (default 10 minutes). */
  aggregationWindowMs?: number;
  /** How many distinct events are remembered for aggregation (default 4096). */
  maxCached?: number;
  clock?: Clock;
  logger?: Logger;
}

interface Seen { name: string; namespace: string; count: number; lastSeen: number }

const maxMessageLength = 1024;

export class EventRecorder {
  readonly component: string;
  readonly host: string;
  readonly reportingInstance: string;
  readonly #client: KubeClient;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #window: number;
  readonly #max: number;
  readonly #seen = new Map<string, Seen>();
  readonly #chains = new Map<string, Promise<void>>();
  readonly #pending = new Set<Promise<void>>();
  #seq = 0;

  constructor(client: KubeClient, opts: EventRecorderOptions = {}) {
    this.#client = client;
    this.component = opts.component ?? "moco-controller";
    this.host = opts.host ?? os.hostname();
    this.reportingInstance = opts.reportingInstance ?? (this.host || os.hostname());
    this.#clock = opts.clock ?? realClock;
    this.#log = (opts.logger ?? defaultLogger).child({ component: "event-recorder" });
    this.#window = opts.aggregationWindowMs ?? 10 * 60_000;
    this.#max = opts.maxCached ?? 4096;
  }

  /** Records an event about obj (fire and forget). */
  event(obj: KubeObject, type: EventType, reason: string, message: string): void {
    try {
      const name = obj.metadata?.name;
      if (!obj.kind || !name) {
        this.#log.warn({ reason }, "event dropped: involved object has no kind or name");
        return;
      }
      const msg = message.length > maxMessageLength ? `${message.slice(0, maxMessageLength - 3)}...` : message;
      const involved = {
        apiVersion: obj.apiVersion, kind: obj.kind, name, namespace: obj.metadata?.namespace,
        uid: obj.metadata?.uid, resourceVersion: obj.metadata?.resourceVersion,
      };
      const key = JSON.stringify([involved.apiVersion, involved.kind, involved.namespace, name, involved.uid, type, reason, msg]);
      const prev = this.#chains.get(key) ?? Promise.resolve();
      const p = prev.then(() => this.#write(key, involved, type, reason, msg)).catch((e: unknown) => {
        this.#log.warn({ reason, object: `${involved.namespace ?? ""}/${name}`, err: errorMessage(e) }, "could not write event");
      });
      this.#chains.set(key, p);
      this.#pending.add(p);
      void p.finally(() => {
        this.#pending.delete(p);
        if (this.#chains.get(key) === p) this.#chains.delete(key);
      });
    } catch (e) {
      this.#log.warn({ reason, err: errorMessage(e) }, "could not record event");
    }
  }

  /** Waits for every event recorded so far to be written (or to have failed). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #write(key: string, involved: { namespace?: string; name: string; uid?: string; resourceVersion?: string; apiVersion?: string; kind: string },
    type: EventType, reason: string, message: string): Promise<void> {
    const now = this.#clock.now();
    const seen = this.#seen.get(key);
    if (seen && now - seen.lastSeen <= this.#window) {
      seen.count++;
      seen.lastSeen = now;
      try {
        await this.#client.patch(resources.events, seen.name, seen.namespace, "merge", { count: seen.count, lastTimestamp: rfc3339(now) });
        return;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        // The Event expired (events have a TTL): start a new one.
      }
    }
    const namespace = involved.namespace || "default";
    const nanos = BigInt(now) * 1_000_000n + BigInt(this.#seq++ % 1_000_000);
    const name = `${involved.name}.${nanos.toString(16)}`;
    await this.#client.create(resources.events, {
      apiVersion: "v1", kind: "Event",
      metadata: { name, namespace },
      involvedObject: Object.fromEntries(Object.entries(involved).filter(([, v]) => v !== undefined)),
      reason, message, type,
      source: this.host ? { component: this.component, host: this.host } : { component: this.component },
      firstTimestamp: rfc3339(now), lastTimestamp: rfc3339(now), count: 1,
      reportingComponent: this.component, reportingInstance: this.reportingInstance,
    } as KubeObject);
    this.#seen.delete(key);
    this.#seen.set(key, { name, namespace, count: 1, lastSeen: now });
    while (this.#seen.size > this.#max) {
      const oldest = this.#seen.keys().next().value;
      if (oldest === undefined) break;
      this.#seen.delete(oldest);
    }
  }
}

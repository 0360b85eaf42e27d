// Kubernetes Events emitted by moco-controller (observability.md §2): core/v1 Events
// with source/reportingComponent `moco-controller`. Emission never throws: a failure is
// logged and dropped. Repeated identical events within a short window are coalesced into
// one object whose count grows (like client-go's correlator, much simplified). Local
// helper: src/k8s has no event recorder yet.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { KubeClient } from "../k8s/client.ts";
import { errorMessage } from "../k8s/errors.ts";
import { resources } from "../k8s/resource.ts";

export const REPORTING_COMPONENT = "moco-controller";

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string | undefined;
  readonly resourceVersion?: string | undefined;
}

export type EventKind = "Normal" | "Warning";

export interface EventRecorder {
  emit(target: EventTarget, type: EventKind, reason: string, message: string): Promise<void>;
}

interface Recent {
  name: string;
  count: number;
  at: number;
}

/** Records events through the API; identical events within 10 minutes bump `count`. */
export class ApiEventRecorder implements EventRecorder {
  readonly #client: KubeClient;
  readonly #log: Logger;
  readonly #instance: string;
  readonly #recent = new Map<string, Recent>();

  constructor(client: KubeClient, log: Logger, instance = process.env["POD_NAME"] ?? "moco-controller") {
    this.#client = client;
    this.#log = log;
    this.#instance = instance;
  }

  async emit(target: EventTarget, type: EventKind, reason: string, message: string): Promise<void> {
    const now = new Date();
    const ts = now.toISOString().replace(/\.\d{3}Z$/, "Z");
    const key = `${target.namespace}/${target.kind}/${target.name}/${type}/${reason}/${message}`;
    const recent = this.#recent.get(key);
    try {
      if (recent !== undefined && now.getTime() - recent.at < 600_000) {
        recent.count++;
        recent.at = now.getTime();
        await this.#client.patch(resources.events, recent.name, target.namespace, "merge", { count: recent.count, lastTimestamp: ts });
        return;
      }
      const name = `${target.name}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(randomBytes(2).readUInt16BE(0))).toString(16)}`;
      await this.#client.create(resources.events, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace: target.namespace },
        involvedObject: {
          apiVersion: target.apiVersion,
          kind: target.kind,
          name: target.name,
          namespace: target.namespace,
          uid: target.uid,
          resourceVersion: target.resourceVersion,
        },
        type,
        reason,
        message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
        source: { component: REPORTING_COMPONENT },
        reportingComponent: REPORTING_COMPONENT,
        reportingInstance: this.#instance,
        firstTimestamp: ts,
        lastTimestamp: ts,
        count: 1,
      } as never);
      this.#recent.set(key, { name, count: 1, at: now.getTime() });
      if (this.#recent.size > 5000) {
        for (const [k, v] of this.#recent) if (now.getTime() - v.at > 600_000) this.#recent.delete(k);
      }
    } catch (e) {
      this.#recent.delete(key);
      this.#log.warn({ namespace: target.namespace, name: target.name, reason, err: errorMessage(e) }, "failed to record an event");
    }
  }
}

// Runs one named controller: a de-duplicating, rate-limited work queue drained by N
// workers, with controller-runtime's reconcile metrics (`controller_runtime_reconcile_*`,
// labels controller / result).
import type { Logger } from "pino";
import { WorkQueue, runWorkers, type WorkResult } from "../k8s/queue.ts";
import type { ControllerMetrics } from "../metrics/index.ts";

export type ControllerName = "mysqlcluster" | "statefulset" | "pod";

export class ControllerRunner {
  readonly name: ControllerName;
  readonly queue: WorkQueue<string>;
  readonly #fn: (key: string) => Promise<WorkResult>;
  readonly #metrics: ControllerMetrics;
  readonly #log: Logger;
  readonly #workers: number;
  #done: Promise<void> | undefined;
  #stopping = false;
  /** Completed reconciles (tests). */
  reconciles = 0;
  errors = 0;

  constructor(name: ControllerName, workers: number, fn: (key: string) => Promise<WorkResult>, metrics: ControllerMetrics, log: Logger) {
    this.name = name;
    this.queue = new WorkQueue<string>({ name });
    this.#fn = fn;
    this.#metrics = metrics;
    this.#log = log;
    this.#workers = Math.max(1, workers);
  }

  /** `first`: ahead of the keys queued without it (new work before repeat passes). */
  enqueue(key: string, first = false): void {
    if (first) this.queue.addFirst(key);
    else this.queue.add(key);
  }

  start(): void {
    this.#done ??= runWorkers(this.queue, this.#workers, (key) => this.#instrumented(key), { logger: this.#log });
  }

  async #instrumented(key: string): Promise<WorkResult> {
    // After stop() the queue still hands out what was queued: drop it (the next leader re-lists).
    if (this.#stopping) return;
    const controller = this.name;
    const end = this.#metrics.reconcileTime.startTimer({ controller });
    this.#metrics.activeWorkers.inc({ controller });
    try {
      const res = await this.#fn(key);
      const result = res && res.requeueAfterMs !== undefined && res.requeueAfterMs > 0 ? "requeue_after" : res && res.requeue ? "requeue" : "success";
      this.#metrics.reconcileTotal.inc({ controller, result });
      return res;
    } catch (e) {
      this.errors++;
      this.#metrics.reconcileTotal.inc({ controller, result: "error" });
      this.#metrics.reconcileErrors.inc({ controller });
      throw e;
    } finally {
      this.reconciles++;
      this.#metrics.activeWorkers.dec({ controller });
      end();
    }
  }

  /** Stops taking items and waits for the running reconciles. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.queue.shutdown();
    await this.#done;
  }

  /** Queue empty and nothing in flight (delayed items not counted). */
  idle(): boolean {
    return this.queue.len() === 0 && this.queue.processingLen() === 0;
  }
}

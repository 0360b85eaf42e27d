// The exporter follows a rotated moco-exporter password (moco-ts addition;
// docs/password-rotation.md#the-exporter). mysqld_exporter 0.14 (Debian's
// prometheus-mysqld-exporter, the image the tests build) reads `--config.my-cnf` once, at
// start, and has no reload endpoint: a new password reaches it only through a restart of its
// container. Kubernetes restarts one container when its liveness probe fails, so the
// controller gives the `mysqld-exporter` container a liveness probe on the agent's probe port,
// `GET /exporter-healthz`, and the agent answers 503 while the exporter process is older
// than the current `moco-exporter-my.cnf`: the kubelet then restarts that container only
// (mysqld, the agent and the Pod stay). Every other case answers 200 (no file, exporter not
// answering, no start time in its metrics): a restart is asked only when it is known to help.
//
// "Current" is the file's version whose contents the agent saw last change: its mtime (the
// kubelet writes each version of a Secret volume as new files). At the agent's start the
// file's mtime is taken as that time, so an exporter that started before the file (an
// agent restarted between the kubelet's update and the exporter's restart) is still
// restarted; a Pod's first start mounts the file before any container runs.
import { stat } from "node:fs/promises";
import { FileWatch } from "../util/file-watch.ts";
import { EXPORTER_HEALTH_PATH, PATH_MY_CNF_SECRET } from "../shared/names.ts";
import { metricValue } from "../util/metrics-text.ts";

export const EXPORTER_MY_CNF_PATH = `${PATH_MY_CNF_SECRET}/moco-exporter-my.cnf`;
/** mysqld_exporter's default listen port (the controller does not change it). */
export const EXPORTER_METRICS_URL = "http://127.0.0.1:9104/metrics";
export { EXPORTER_HEALTH_PATH };
/** The process start time is in clock ticks (10 ms); an exporter within 1 s of the file counts as older. */
const START_MARGIN_MS = 1000;

export type ExporterVerdict = { restart: false; reason: string } | { restart: true; reason: string };

/**
 * Pure: whether the exporter must restart. `fileChangedAtMs`: the mtime of the file version
 * whose contents are current (undefined: the file was never read); `exporterStartMs`: the
 * exporter's process_start_time_seconds × 1000 (undefined: not known).
 */
export function decideExporterRestart(fileChangedAtMs: number | undefined, exporterStartMs: number | undefined): ExporterVerdict {
  if (fileChangedAtMs === undefined) return { restart: false, reason: "no moco-exporter-my.cnf read" };
  if (exporterStartMs === undefined) return { restart: false, reason: "exporter start time unknown" };
  if (exporterStartMs < fileChangedAtMs + START_MARGIN_MS) {
    return { restart: true, reason: "mysqld-exporter started before its my.cnf changed; it reads the file only at start" };
  }
  return { restart: false, reason: "mysqld-exporter started after its my.cnf changed" };
}

export interface ExporterCredentialsOptions {
  readonly file?: string;
  readonly metricsUrl?: string;
  readonly intervalMs: number;
  readonly fetchTimeoutMs?: number;
}

/** Follows moco-exporter-my.cnf and answers the exporter's liveness probe. */
export class ExporterCredentials {
  readonly #file: string;
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #watch: FileWatch;
  /** mtime of the current contents; cleared once an exporter younger than it was seen. */
  #changedAtMs: number | undefined;

  constructor(o: ExporterCredentialsOptions) {
    this.#file = o.file ?? EXPORTER_MY_CNF_PATH;
    this.#url = o.metricsUrl ?? EXPORTER_METRICS_URL;
    this.#timeoutMs = o.fetchTimeoutMs ?? 3000;
    this.#watch = new FileWatch({
      files: [this.#file],
      intervalMs: o.intervalMs,
      onChange: async () => {
        this.#changedAtMs = (await stat(this.#file)).mtimeMs;
      },
      // Absent (no exporter, or MOCO's Pod spec): nothing to follow.
      onReadError: () => undefined,
    });
  }

  /** The time the liveness check compares the exporter's start with (tests, logs). */
  get changedAtMs(): number | undefined {
    return this.#changedAtMs;
  }

  check(): Promise<unknown> {
    return this.#watch.check();
  }

  start(): void {
    this.#watch.start();
  }

  stop(): Promise<void> {
    return this.#watch.stop();
  }

  /** The exporter's process start (ms), or undefined when it does not answer. */
  async #exporterStartMs(): Promise<number | undefined> {
    try {
      const res = await fetch(this.#url, { signal: AbortSignal.timeout(this.#timeoutMs) });
      if (!res.ok) return undefined;
      const v = metricValue(await res.text(), "process_start_time_seconds", {});
      return v === undefined ? undefined : v * 1000;
    } catch {
      return undefined;
    }
  }

  /** The liveness verdict now; asks the exporter only while a change is pending. */
  async verdict(): Promise<ExporterVerdict> {
    const changedAt = this.#changedAtMs;
    if (changedAt === undefined) return decideExporterRestart(undefined, undefined);
    const startMs = await this.#exporterStartMs();
    const v = decideExporterRestart(changedAt, startMs);
    // An exporter younger than the file holds its contents: nothing pending until the next change.
    if (!v.restart && startMs !== undefined && this.#changedAtMs === changedAt) this.#changedAtMs = undefined;
    return v;
  }
}

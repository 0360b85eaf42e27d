// Progress of a long backup or restore: counters logged every `intervalMs` as structured
// JSON (phase, chunks/tables done of total, rows, bytes, rate) and once at the end.
import type { Logger } from "./log.ts";

export interface ProgressSnapshot {
  phase: string;
  tablesDone: number;
  tablesTotal: number;
  chunksDone: number;
  chunksTotal: number;
  rows: number;
  bytes: number;
  compressedBytes: number;
  elapsedMs: number;
}

export class Progress {
  phase = "";
  tablesDone = 0;
  tablesTotal = 0;
  chunksDone = 0;
  chunksTotal = 0;
  rows = 0;
  bytes = 0;
  compressedBytes = 0;
  readonly #log: Logger;
  readonly #start = Date.now();
  #timer: NodeJS.Timeout | undefined;
  readonly #listeners: ((s: ProgressSnapshot) => void)[] = [];

  constructor(log: Logger, intervalMs = 10_000) {
    this.#log = log;
    if (intervalMs > 0) {
      this.#timer = setInterval(() => this.report(), intervalMs);
      this.#timer.unref();
    }
  }

  onReport(fn: (s: ProgressSnapshot) => void): void {
    this.#listeners.push(fn);
  }

  snapshot(): ProgressSnapshot {
    return {
      phase: this.phase, tablesDone: this.tablesDone, tablesTotal: this.tablesTotal, chunksDone: this.chunksDone,
      chunksTotal: this.chunksTotal, rows: this.rows, bytes: this.bytes, compressedBytes: this.compressedBytes,
      elapsedMs: Date.now() - this.#start,
    };
  }

  report(msg = "progress"): void {
    const s = this.snapshot();
    const mbps = s.elapsedMs > 0 ? Math.round((s.bytes / 1048576 / (s.elapsedMs / 1000)) * 10) / 10 : 0;
    this.#log.info({ progress: { ...s, mibPerSecond: mbps } }, msg);
    for (const l of this.#listeners) l(s);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

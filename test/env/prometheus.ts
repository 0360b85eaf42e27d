// A real Prometheus (Debian's, test/env/apt-prometheus.sh) for the monitoring checks
// (docs/monitoring.md): started inside a network namespace (the real node's), it scrapes the
// targets it is given through file_sd (rewritten by setTargets, re-read within a second) and
// listens on that namespace's loopback; the host reaches its HTTP API through a forward on the
// host's 127.0.0.1. It has no remote write, no alertmanager and no other target: nothing leaves
// the machine. Everything it writes is under `dir`.
import fs from "node:fs";
import path from "node:path";
import { forwardIntoNetns, type Forward } from "./netns.ts";
import { spawnManaged, waitUntil, type ManagedProcess } from "./procs.ts";

/** One scrape job: what a PodMonitor endpoint becomes (honor_labels, target labels). */
export interface ScrapeJob {
  readonly name: string;
  readonly honorLabels?: boolean;
  readonly targets: readonly { readonly address: string; readonly labels: Readonly<Record<string, string>> }[];
}

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface Prometheus {
  /** http://127.0.0.1:PORT on the host. */
  readonly url: string;
  setTargets(jobs: readonly ScrapeJob[]): void;
  /** An instant query; throws with Prometheus's error (e.g. a parse error) when it fails. */
  query(expr: string): Promise<PromSample[]>;
  /** The values of `label` on the series matching `selector` (Grafana's label_values()). */
  labelValues(label: string, selector: string): Promise<string[]>;
  /** Targets whose last scrape failed, as "job address: error". */
  unhealthyTargets(): Promise<string[]>;
  stop(): Promise<void>;
}

const LISTEN = "127.0.0.1:19090";

function config(jobs: readonly ScrapeJob[], sdDir: string, interval: string): string {
  const lines = ["global:", `  scrape_interval: ${interval}`, `  evaluation_interval: ${interval}`, "scrape_configs:"];
  for (const j of jobs) {
    lines.push(`  - job_name: ${JSON.stringify(j.name)}`, `    honor_labels: ${j.honorLabels === true}`,
      "    file_sd_configs:", `      - files: [${JSON.stringify(path.join(sdDir, `${encodeURIComponent(j.name)}.json`))}]`, "        refresh_interval: 1s");
  }
  return `${lines.join("\n")}\n`;
}

function writeTargets(sdDir: string, jobs: readonly ScrapeJob[]): void {
  for (const j of jobs) {
    const file = path.join(sdDir, `${encodeURIComponent(j.name)}.json`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(j.targets.map((t) => ({ targets: [t.address], labels: t.labels }))));
    fs.renameSync(`${file}.tmp`, file);
  }
}

/**
 * Starts Prometheus in `netns` with one file_sd job per entry of `jobs` (their names are fixed
 * at start; setTargets replaces their targets). `interval` is the scrape and evaluation interval.
 */
export async function startPrometheus(opts: { dir: string; netns: string; jobs: readonly ScrapeJob[]; interval?: string }): Promise<Prometheus> {
  const { dir, netns, jobs } = opts;
  const bin = "/usr/bin/prometheus";
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run test/env/apt-prometheus.sh`);
  const sdDir = path.join(dir, "sd");
  const data = path.join(dir, "data");
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(sdDir, { recursive: true });
  fs.mkdirSync(data);
  writeTargets(sdDir, jobs);
  const configFile = path.join(dir, "prometheus.yml");
  fs.writeFileSync(configFile, config(jobs, sdDir, opts.interval ?? "5s"));
  const proc: ManagedProcess = spawnManaged("prometheus", bin, [
    `--config.file=${configFile}`, `--storage.tsdb.path=${data}`, `--web.listen-address=${LISTEN}`, "--log.level=warn",
  ], { netns, logFile: path.join(dir, "prometheus.log"), marker: configFile });
  let forward: Forward | undefined;
  try {
    forward = await forwardIntoNetns(netns, { host: "127.0.0.1", port: Number(LISTEN.split(":")[1]) }, path.join(dir, "fwd.sock"));
    const url = `http://127.0.0.1:${forward.port}`;
    await waitUntil("Prometheus ready", async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true,
      { timeoutMs: 60_000, proc, intervalMs: 250 });
    const api = async <T>(p: string): Promise<T> => {
      const res = await fetch(`${url}${p}`);
      const body = await res.json() as { status: string; data: T; error?: string; errorType?: string };
      if (body.status !== "success") throw new Error(`Prometheus ${p.split("?")[0]}: ${body.errorType ?? ""}: ${body.error ?? res.status}`);
      return body.data;
    };
    const fwd = forward;
    return {
      url,
      setTargets: (next) => writeTargets(sdDir, next),
      async query(expr) {
        const data = await api<{ resultType: string; result: PromSample[] | [number, string] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
        if (data.resultType === "scalar") return [{ metric: {}, value: data.result as [number, string] }];
        return data.result as PromSample[];
      },
      labelValues: (label, selector) => api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(selector)}`),
      async unhealthyTargets() {
        const data = await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>("/api/v1/targets?state=active");
        return data.activeTargets.filter((t) => t.health !== "up").map((t) => `${t.labels.job} ${t.labels.instance}: ${t.health} ${t.lastError}`);
      },
      async stop() {
        await fwd.close();
        await proc.stop(10_000);
      },
    };
  } catch (e) {
    await forward?.close();
    await proc.stop(10_000);
    throw e;
  }
}

// The cluster's instances as last seen by the API server (refreshed every second; while the
// API server does not answer, the last answer is kept, so the writer and the sampler go on).
import { instanceSelector, listPods, type Kube, type PodInfo } from "./kube.ts";

export class Instances {
  pods: PodInfo[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly kube: Kube;
  readonly namespace: string;
  readonly cluster: string;
  constructor(kube: Kube, namespace: string, cluster: string) {
    this.kube = kube;
    this.namespace = namespace;
    this.cluster = cluster;
  }

  async refresh(): Promise<void> {
    try { this.pods = await listPods(this.kube, this.namespace, instanceSelector(this.cluster), 3); } catch { /* keep the last answer */ }
  }

  async start(): Promise<void> {
    await this.refresh();
    if (this.pods.length === 0) throw new Error(`no Pods of MySQLCluster ${this.namespace}/${this.cluster}`);
    const loop = async () => { await this.refresh(); if (this.timer) this.timer = setTimeout(() => void loop(), 1000); };
    this.timer = setTimeout(() => void loop(), 1000);
  }

  stop(): void { clearTimeout(this.timer); this.timer = undefined; }

  labelledPrimary(): PodInfo | undefined {
    const ps = this.pods.filter((p) => p.role === "primary" && p.ip);
    return ps.length === 1 ? ps[0] : undefined;
  }
}

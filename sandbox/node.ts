// The sandbox node: a process-based stand-in for kubelets (and the few controllers a
// bare control plane lacks) so Pods really run on this machine.
//   - registers Node objects (sandbox-node-0..N-1) and keeps their Ready condition fresh;
//   - binds pending Pods to the node with the fewest Pods of the same app instance;
//   - runs the Pods bound to its nodes (pod-runtime.ts) and reports their status;
//   - honours graceful deletion, then removes the Pod object;
//   - provisions PersistentVolumes for pending claims of its StorageClass (a directory
//     each, removed when the claim is deleted) and handles volume expansion;
//   - keeps one hosts file for every Pod (its name, and hostname.subdomain.namespace.svc
//     for Pods of a headless Service), mounted as /etc/hosts in containers. There is
//     no kube-proxy: clients reach Services through their EndpointSlices.
// State is re-derived from the API server on every pass (level-triggered polling).
import fs from "node:fs";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { makeKubeRest, KubeRestError, type KubeRest } from "./kube-rest.ts";
import { AddressAllocator, BRIDGE_IP, ensureBridge, listPodNetns, deletePodNetwork } from "./net.ts";
import { PodRuntime, type NodeContext } from "./pod-runtime.ts";
import { startKubeletApi } from "./kubelet-api.ts";
import { parseQuantity } from "../src/api/v1beta2/quantity.ts";
import { ensureCert } from "../test/env/pki.ts";
import type { Server } from "node:https";

export const STORAGE_CLASS = "standard";
export const PROVISIONER = "sandbox.moco-ts.io/hostpath";

export interface SandboxNodeOptions {
  kubeconfig: string;
  /** Root of the node's state (pods, volumes, hosts file). */
  dataDir: string;
  nodeCount?: number;
  /** Address of kube-apiserver as seen from Pods. */
  apiserver: { host: string; port: number };
  caCertFile: string;
  /** The cluster CA's key: signs the kubelet API's serving certificate (for `kubectl logs`). */
  caKeyFile?: string;
  /** Pod address blocks 10.213.<first..last>.0/24 (default 1..100; tests use others). */
  addressBlocks?: [number, number];
  /** First kubelet API port; node i serves on kubeletPort + i. Default 10250. */
  kubeletPort?: number;
  pollMs?: number;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

interface PodList { items: k8s.V1Pod[] }

export class SandboxNode {
  readonly opts: SandboxNodeOptions;
  readonly nodeNames: string[];
  private readonly kc = new k8s.KubeConfig();
  private readonly rest: KubeRest;
  private readonly runtimes = new Map<string, PodRuntime>();
  private readonly lastStatus = new Map<string, string>();
  private readonly addresses: AddressAllocator;
  private readonly hostsFile: string;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private dirty = new Set<string>();
  private syncing = false;
  private kubeletServers: Server[] = [];

  constructor(opts: SandboxNodeOptions) {
    this.opts = opts;
    this.nodeNames = Array.from({ length: opts.nodeCount ?? 3 }, (_, i) => `sandbox-node-${i}`);
    this.kc.loadFromFile(opts.kubeconfig);
    this.rest = makeKubeRest(this.kc);
    this.hostsFile = path.join(opts.dataDir, "hosts");
    this.addresses = new AddressAllocator(...(opts.addressBlocks ?? [1, 100]));
  }

  private log(msg: string, extra: Record<string, unknown> = {}): void {
    // A failing logger (e.g. its file removed while a late callback still logs after
    // stop()) must never turn into an error of the node's own work.
    try {
      (this.opts.log ?? ((m, e) => console.log(JSON.stringify({ time: new Date().toISOString(), component: "sandbox-node", msg: m, ...e }))))(msg, extra);
    } catch { /* dropped */ }
  }

  runtime(namespace: string, name: string): PodRuntime | undefined {
    for (const rt of this.runtimes.values()) {
      if (rt.pod.metadata?.namespace === namespace && rt.pod.metadata?.name === name && !rt.terminated) return rt;
    }
    return undefined;
  }

  async start(): Promise<void> {
    fs.mkdirSync(path.join(this.opts.dataDir, "pods"), { recursive: true });
    fs.mkdirSync(path.join(this.opts.dataDir, "pv"), { recursive: true });
    if (!fs.existsSync(this.hostsFile)) fs.writeFileSync(this.hostsFile, "127.0.0.1 localhost\n");
    ensureBridge();
    // Pod namespaces left by a crashed node of this data directory belong to no running Pod.
    const known = path.join(this.opts.dataDir, "netns");
    if (fs.existsSync(known)) {
      for (const ns of fs.readFileSync(known, "utf8").split("\n").filter(Boolean)) {
        if (listPodNetns().includes(ns)) deletePodNetwork(ns);
      }
    }
    if (this.opts.caKeyFile) {
      const pkiDir = path.join(this.opts.dataDir, "pki");
      fs.mkdirSync(pkiDir, { recursive: true });
      const cert = ensureCert(pkiDir, "kubelet", { cert: this.opts.caCertFile, key: this.opts.caKeyFile }, {
        cn: "sandbox-node", sans: [BRIDGE_IP, ...this.nodeNames], usage: "server",
      });
      for (let i = 0; i < this.nodeNames.length; i++) {
        this.kubeletServers.push(await startKubeletApi({
          host: BRIDGE_IP, port: this.kubeletPortOf(i), cert: cert.cert, key: cert.key, clientCa: this.opts.caCertFile,
          findPod: (ns, name) => this.runtime(ns, name), log: (m, e) => this.log(m, e),
        }));
      }
    }
    await this.registerNodes();
    await this.ensureStorageClass();
    const every = (ms: number, fn: () => Promise<void>) => {
      let running = false;
      const t = setInterval(() => {
        if (running || this.stopped) return;
        running = true;
        fn().catch((e: unknown) => this.log("pass failed", { error: (e as Error).message })).finally(() => { running = false; });
      }, ms);
      this.timers.push(t);
    };
    const poll = this.opts.pollMs ?? 500;
    every(poll, () => this.syncPods());
    every(poll, () => this.flushStatuses());
    every(1000, () => this.syncVolumes());
    every(1000, () => this.syncHosts());
    every(10_000, () => this.heartbeat());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const s of this.kubeletServers) {
      s.close();
      s.closeAllConnections();
    }
    for (const rt of this.runtimes.values()) {
      rt.killAll();
      rt.cleanup();
    }
    this.runtimes.clear();
  }

  // ---- nodes ----

  private nodeObject(name: string): k8s.V1Node {
    return {
      apiVersion: "v1", kind: "Node",
      metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "sandbox.moco-ts.io/node": "true" } },
      spec: {},
    };
  }

  private kubeletPortOf(i: number): number {
    return (this.opts.kubeletPort ?? 10250) + i;
  }

  private nodeStatus(i: number): k8s.V1NodeStatus {
    const now = new Date();
    return {
      capacity: { cpu: "16", memory: "64Gi", pods: "200", "ephemeral-storage": "100Gi" },
      allocatable: { cpu: "16", memory: "64Gi", pods: "200", "ephemeral-storage": "100Gi" },
      addresses: [{ type: "InternalIP", address: BRIDGE_IP }, { type: "Hostname", address: BRIDGE_IP }],
      daemonEndpoints: { kubeletEndpoint: { Port: this.kubeletPortOf(i) } },
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "sandbox node is ready", lastHeartbeatTime: now, lastTransitionTime: now }],
      nodeInfo: {
        architecture: "amd64", bootID: "", containerRuntimeVersion: "sandbox://0.1.0", kernelVersion: "", kubeProxyVersion: "",
        kubeletVersion: "v1.34.4", machineID: "", operatingSystem: "linux", osImage: "moco-ts sandbox", systemUUID: "",
      },
    };
  }

  private async registerNodes(): Promise<void> {
    for (const name of this.nodeNames) {
      try {
        await this.rest.request("POST", "/api/v1/nodes", this.nodeObject(name));
      } catch (e) {
        if (!(e instanceof KubeRestError && e.statusCode === 409)) throw e;
      }
    }
    await this.heartbeat();
  }

  private async heartbeat(): Promise<void> {
    for (const [i, name] of this.nodeNames.entries()) {
      await this.rest.request("PATCH", `/api/v1/nodes/${name}/status`, { status: this.nodeStatus(i) }, "application/merge-patch+json");
    }
  }

  private async ensureStorageClass(): Promise<void> {
    const sc = {
      apiVersion: "storage.k8s.io/v1", kind: "StorageClass",
      metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: PROVISIONER, reclaimPolicy: "Delete", volumeBindingMode: "Immediate", allowVolumeExpansion: true,
    };
    try {
      await this.rest.request("POST", "/apis/storage.k8s.io/v1/storageclasses", sc);
    } catch (e) {
      if (!(e instanceof KubeRestError && e.statusCode === 409)) throw e;
    }
  }

  // ---- pods ----

  private async syncPods(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      const all = await this.rest.request<PodList>("GET", "/api/v1/pods");
      const ours = new Set(this.nodeNames);
      const pending = all.items.filter((p) => !p.spec?.nodeName && !p.metadata?.deletionTimestamp &&
        (p.spec?.schedulerName ?? "default-scheduler") === "default-scheduler");
      for (const p of pending) await this.bind(p, all.items);
      const seen = new Set<string>();
      for (const pod of all.items) {
        if (!pod.spec?.nodeName || !ours.has(pod.spec.nodeName)) continue;
        const uid = pod.metadata!.uid!;
        seen.add(uid);
        let rt = this.runtimes.get(uid);
        if (!rt) {
          if (pod.metadata?.deletionTimestamp || pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") {
            if (pod.metadata?.deletionTimestamp) await this.finalDelete(pod);
            continue;
          }
          rt = new PodRuntime(pod, this.context(pod));
          this.runtimes.set(uid, rt);
          this.log("starting pod", { pod: rt.key, node: pod.spec.nodeName });
          void rt.start();
          continue;
        }
        rt.pod = pod;
        if (pod.metadata?.deletionTimestamp && !rt.terminating) {
          const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
          this.log("terminating pod", { pod: rt.key, grace });
          void rt.terminate(grace).then(() => {
            this.log("pod terminated", { pod: rt!.key });
            return this.finalDelete(pod);
          }).then(() => this.log("pod deleted", { pod: rt!.key })).catch((e: unknown) => this.log("termination failed", { pod: rt!.key, error: (e as Error).message }));
        }
      }
      for (const [uid, rt] of this.runtimes) {
        if (!seen.has(uid)) {
          // Force-deleted or removed while we were not looking: stop it now.
          this.log("pod gone, killing", { pod: rt.key });
          rt.killAll();
          rt.cleanup();
          this.runtimes.delete(uid);
          this.lastStatus.delete(uid);
        } else if (rt.terminated) {
          this.runtimes.delete(uid);
          this.lastStatus.delete(uid);
        }
      }
    } finally {
      this.syncing = false;
    }
  }

  private async finalDelete(pod: k8s.V1Pod): Promise<void> {
    try {
      await this.rest.request("DELETE", `/api/v1/namespaces/${pod.metadata!.namespace}/pods/${pod.metadata!.name}`,
        { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid } });
    } catch (e) {
      if (!(e instanceof KubeRestError && (e.statusCode === 404 || e.statusCode === 409))) throw e;
      this.log("final delete skipped", { pod: `${pod.metadata!.namespace}/${pod.metadata!.name}`, error: e.message });
    }
  }

  private async bind(pod: k8s.V1Pod, all: k8s.V1Pod[]): Promise<void> {
    const instance = pod.metadata?.labels?.["app.kubernetes.io/instance"];
    const load = (node: string) => all.filter((p) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp &&
      (instance === undefined || p.metadata?.labels?.["app.kubernetes.io/instance"] === instance)).length;
    const node = [...this.nodeNames].sort((a, b) => load(a) - load(b))[0]!;
    try {
      await this.rest.request("POST", `/api/v1/namespaces/${pod.metadata!.namespace}/pods/${pod.metadata!.name}/binding`, {
        apiVersion: "v1", kind: "Binding", metadata: { name: pod.metadata!.name, uid: pod.metadata!.uid }, target: { apiVersion: "v1", kind: "Node", name: node },
      });
      pod.spec!.nodeName = node;
    } catch (e) {
      if (!(e instanceof KubeRestError && (e.statusCode === 409 || e.statusCode === 404))) throw e;
    }
  }

  private context(pod: k8s.V1Pod): NodeContext {
    const podDir = path.join(this.opts.dataDir, "pods", `${pod.metadata!.namespace}_${pod.metadata!.name}_${pod.metadata!.uid}`);
    return {
      nodeName: pod.spec!.nodeName!,
      hostIP: BRIDGE_IP,
      podDir: () => podDir,
      claimDir: (ns, claim) => this.claimDir(ns, claim),
      getSecret: async (ns, name) => this.getOrUndefined<k8s.V1Secret>(`/api/v1/namespaces/${ns}/secrets/${name}`),
      getConfigMap: async (ns, name) => this.getOrUndefined<k8s.V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps/${name}`),
      serviceAccountToken: async (p, audience, expirationSeconds) => {
        const sa = p.spec?.serviceAccountName ?? "default";
        const res = await this.rest.request<{ status: { token: string } }>("POST",
          `/api/v1/namespaces/${p.metadata!.namespace}/serviceaccounts/${sa}/token`, {
            apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
            spec: { audiences: audience ? [audience] : [], expirationSeconds: expirationSeconds ?? 3607,
              boundObjectRef: { apiVersion: "v1", kind: "Pod", name: p.metadata!.name, uid: p.metadata!.uid } },
          });
        return res.status.token;
      },
      caCert: () => fs.readFileSync(this.opts.caCertFile, "utf8"),
      apiserver: this.opts.apiserver,
      hostsFile: this.hostsFile,
      allocateIP: () => this.addresses.allocate(),
      releaseIP: (ip) => this.addresses.release(ip),
      log: (m, e) => this.log(m, e),
      statusChanged: () => { this.dirty.add(pod.metadata!.uid!); },
      recordNetns: (netns) => fs.appendFileSync(path.join(this.opts.dataDir, "netns"), `${netns}\n`),
    };
  }

  private async getOrUndefined<T>(p: string): Promise<T | undefined> {
    try {
      return await this.rest.request<T>("GET", p);
    } catch (e) {
      if (e instanceof KubeRestError && e.statusCode === 404) return undefined;
      throw e;
    }
  }

  private async flushStatuses(): Promise<void> {
    const uids = [...this.dirty];
    this.dirty.clear();
    for (const uid of uids) {
      const rt = this.runtimes.get(uid);
      if (!rt || rt.terminated) continue;
      const status = rt.status();
      // Compare without timestamps so unchanged statuses are not rewritten.
      const fingerprint = JSON.stringify(status, (k, v: unknown) => (k === "lastTransitionTime" ? undefined : v));
      if (this.lastStatus.get(uid) === fingerprint) continue;
      try {
        await this.rest.request("PATCH", `/api/v1/namespaces/${rt.pod.metadata!.namespace}/pods/${rt.pod.metadata!.name}/status`,
          { metadata: { uid }, status: withStableTransitions(status, rt.pod.status) }, "application/strategic-merge-patch+json");
        this.lastStatus.set(uid, fingerprint);
      } catch (e) {
        if (!(e instanceof KubeRestError && e.statusCode === 404)) {
          this.dirty.add(uid);
          this.log("status update failed", { pod: rt.key, error: (e as Error).message });
        }
      }
    }
  }

  // ---- volumes ----

  private async claimDir(ns: string, claim: string): Promise<string | undefined> {
    const pvc = await this.getOrUndefined<k8s.V1PersistentVolumeClaim>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${claim}`);
    const pvName = pvc?.spec?.volumeName;
    if (!pvName || pvc?.status?.phase !== "Bound") return undefined;
    const pv = await this.getOrUndefined<k8s.V1PersistentVolume>(`/api/v1/persistentvolumes/${pvName}`);
    return pv?.spec?.hostPath?.path;
  }

  private async syncVolumes(): Promise<void> {
    const pvcs = await this.rest.request<{ items: k8s.V1PersistentVolumeClaim[] }>("GET", "/api/v1/persistentvolumeclaims");
    const pvs = await this.rest.request<{ items: k8s.V1PersistentVolume[] }>("GET", "/api/v1/persistentvolumes");
    const pvByClaim = new Map(pvs.items.filter((pv) => pv.spec?.claimRef?.uid).map((pv) => [pv.spec!.claimRef!.uid!, pv]));
    for (const pvc of pvcs.items) {
      const cls = pvc.spec?.storageClassName ?? STORAGE_CLASS;
      if (cls !== STORAGE_CLASS || pvc.metadata?.deletionTimestamp) continue;
      const uid = pvc.metadata!.uid!;
      const requested = String(pvc.spec?.resources?.requests?.storage ?? "1Gi");
      const pv = pvByClaim.get(uid);
      if (!pv && pvc.status?.phase !== "Bound") {
        const name = `pvc-${uid}`;
        const dir = path.join(this.opts.dataDir, "pv", name);
        fs.mkdirSync(dir, { recursive: true });
        try {
          await this.rest.request("POST", "/api/v1/persistentvolumes", {
            apiVersion: "v1", kind: "PersistentVolume",
            metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": PROVISIONER } },
            spec: {
              capacity: { storage: requested }, accessModes: pvc.spec?.accessModes ?? ["ReadWriteOnce"],
              persistentVolumeReclaimPolicy: "Delete", storageClassName: STORAGE_CLASS, volumeMode: pvc.spec?.volumeMode ?? "Filesystem",
              hostPath: { path: dir, type: "Directory" },
              claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: pvc.metadata!.namespace, name: pvc.metadata!.name, uid },
            },
          });
          this.log("provisioned volume", { claim: `${pvc.metadata!.namespace}/${pvc.metadata!.name}`, pv: name });
        } catch (e) {
          if (!(e instanceof KubeRestError && e.statusCode === 409)) throw e;
        }
        continue;
      }
      // Expansion: grow the PV and report the new capacity on the claim.
      if (pv && pvc.status?.phase === "Bound" && String(pv.spec?.capacity?.storage) !== requested &&
          (parseQuantity(requested) ?? 0) > (parseQuantity(String(pv.spec?.capacity?.storage)) ?? 0)) {
        await this.rest.request("PATCH", `/api/v1/persistentvolumes/${pv.metadata!.name}`, { spec: { capacity: { storage: requested } } }, "application/merge-patch+json");
        await this.rest.request("PATCH", `/api/v1/namespaces/${pvc.metadata!.namespace}/persistentvolumeclaims/${pvc.metadata!.name}/status`,
          { status: { capacity: { storage: requested } } }, "application/merge-patch+json");
        this.log("expanded volume", { claim: `${pvc.metadata!.namespace}/${pvc.metadata!.name}`, size: requested });
      }
    }
    // Reclaim: a released PV of ours (its claim is gone) is deleted with its directory.
    for (const pv of pvs.items) {
      if (pv.metadata?.annotations?.["pv.kubernetes.io/provisioned-by"] !== PROVISIONER) continue;
      const claimGone = pv.status?.phase === "Released" || pv.status?.phase === "Failed" ||
        (pv.spec?.claimRef?.uid && !pvcs.items.some((c) => c.metadata?.uid === pv.spec!.claimRef!.uid) && pv.status?.phase !== "Pending" && pv.status?.phase !== "Available");
      if (!claimGone) continue;
      try {
        await this.rest.request("DELETE", `/api/v1/persistentvolumes/${pv.metadata!.name}`);
      } catch (e) {
        if (!(e instanceof KubeRestError && e.statusCode === 404)) throw e;
      }
      if (pv.spec?.hostPath?.path?.startsWith(path.join(this.opts.dataDir, "pv"))) fs.rmSync(pv.spec.hostPath.path, { recursive: true, force: true });
      this.log("deleted released volume", { pv: pv.metadata!.name });
    }
  }

  // ---- names ----

  private async syncHosts(): Promise<void> {
    const lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"];
    for (const rt of this.runtimes.values()) {
      if (!rt.ip || rt.terminated) continue;
      const p = rt.pod;
      const names = [p.metadata!.name!];
      if (p.spec?.subdomain) {
        const fq = `${p.spec.hostname ?? p.metadata!.name}.${p.spec.subdomain}.${p.metadata!.namespace}.svc`;
        names.unshift(`${fq}.cluster.local`, fq);
      }
      lines.push(`${rt.ip} ${names.join(" ")}`);
    }
    const text = lines.join("\n") + "\n";
    // Rewrite in place: the file is bind-mounted, a rename would detach the mounts.
    if (fs.readFileSync(this.hostsFile, "utf8") !== text) {
      const fd = fs.openSync(this.hostsFile, "r+");
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, text, 0);
      fs.closeSync(fd);
    }
  }
}

/** Keeps lastTransitionTime of conditions whose status did not change. */
function withStableTransitions(next: k8s.V1PodStatus, prev: k8s.V1PodStatus | undefined): k8s.V1PodStatus {
  const prevConds = new Map((prev?.conditions ?? []).map((c) => [c.type, c]));
  return {
    ...next,
    conditions: (next.conditions ?? []).map((c) => {
      const old = prevConds.get(c.type);
      return old && old.status === c.status && old.lastTransitionTime ? { ...c, lastTransitionTime: old.lastTransitionTime } : c;
    }),
  };
}

// Runs one Pod on the sandbox node: network namespace, volumes, init containers in
// order, then the containers, each as a process in its own mount (and UTS)
// namespace chrooted into the root filesystem its image maps to (images.ts), with
// the Pod's volumes bind-mounted; probes, restarts with back-off, graceful
// termination, and the Pod status the API server sees.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { mapImage, mysqlRootfsDir, repoRoot, type ImageMapping } from "./images.ts";
import { createPodNetwork, deletePodNetwork, netnsPath } from "./net.ts";
import { parseQuantity } from "../src/api/v1beta2/quantity.ts";
import type { ExecProcess } from "./streaming.ts";

export interface NodeContext {
  nodeName: string;
  hostIP: string;
  /** Directory for this Pod's runtime files (volumes, logs, launch scripts). */
  podDir(pod: k8s.V1Pod): string;
  /** Host directory backing a PersistentVolumeClaim (undefined while unbound). */
  claimDir(namespace: string, claim: string): Promise<string | undefined>;
  getSecret(namespace: string, name: string): Promise<k8s.V1Secret | undefined>;
  getConfigMap(namespace: string, name: string): Promise<k8s.V1ConfigMap | undefined>;
  serviceAccountToken(pod: k8s.V1Pod, audience?: string, expirationSeconds?: number): Promise<string>;
  caCert(): string;
  apiserver: { host: string; port: number };
  /** The cluster-wide hosts file (bind-mounted as /etc/hosts). */
  hostsFile: string;
  allocateIP(): string;
  releaseIP(ip: string): void;
  log(msg: string, extra?: Record<string, unknown>): void;
  /** Records a network namespace this node created (cleaned up after a crash). */
  recordNetns?(netns: string): void;
  /** Called whenever the Pod's status may have changed. */
  statusChanged(): void;
}

type ContainerState =
  | { kind: "waiting"; reason: string; message?: string }
  | { kind: "running"; startedAt: Date }
  | { kind: "terminated"; exitCode: number; reason: string; startedAt: Date; finishedAt: Date; message?: string };

interface ContainerRun {
  spec: k8s.V1Container;
  init: boolean;
  state: ContainerState;
  lastState?: ContainerState;
  restartCount: number;
  ready: boolean;
  started: boolean;
  proc?: ChildProcess;
  probeTimers: NodeJS.Timeout[];
  startupDone: boolean;
  backoffMs: number;
  restartTimer?: NodeJS.Timeout;
}

/** A volume that will become usable later (an unbound claim): the Pod waits. */
class VolumeNotReadyError extends Error {}

const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 20_000;

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Expands $(VAR) references as the kubelet does ($$(VAR) escapes). */
export function expandVars(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => {
    if (m === "$$") return "$";
    return name !== undefined && name in env ? env[name]! : m;
  });
}

/** Targets outside the repository of its top-level symlinks node_modules and .cache (a git worktree's). */
function linkedOutsideRepo(): string[] {
  return ["node_modules", ".cache"].map((n) => path.join(repoRoot, n))
    .filter((p) => fs.existsSync(p) && fs.lstatSync(p).isSymbolicLink())
    .map((p) => fs.realpathSync(p))
    .filter((t) => t !== repoRoot && !t.startsWith(`${repoRoot}/`));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class PodRuntime {
  pod: k8s.V1Pod;
  readonly ctx: NodeContext;
  readonly dir: string;
  ip = "";
  netns = "";
  phase: "Pending" | "Running" | "Succeeded" | "Failed" = "Pending";
  reason: string | undefined;
  message: string | undefined;
  startTime = new Date();
  initialized = false;
  runs: ContainerRun[] = [];
  terminating = false;
  terminated = false;
  private volumesDir: string;
  private logsDir: string;
  private volumeSources = new Map<string, string>();
  private restartHolds = new Map<string, number>();

  constructor(pod: k8s.V1Pod, ctx: NodeContext) {
    this.pod = pod;
    this.ctx = ctx;
    this.dir = ctx.podDir(pod);
    this.volumesDir = path.join(this.dir, "volumes");
    this.logsDir = path.join(this.dir, "logs");
    const spec = pod.spec!;
    for (const c of spec.initContainers ?? []) this.runs.push(this.newRun(c, true));
    for (const c of spec.containers) this.runs.push(this.newRun(c, false));
  }

  private newRun(spec: k8s.V1Container, init: boolean): ContainerRun {
    return {
      spec, init, restartCount: 0, ready: false, started: false, probeTimers: [], startupDone: false,
      backoffMs: BACKOFF_INITIAL_MS, state: { kind: "waiting", reason: init ? "PodInitializing" : "ContainerCreating" },
    };
  }

  get key(): string {
    return `${this.pod.metadata?.namespace}/${this.pod.metadata?.name}`;
  }

  /**
   * Fault injection: the next restart of `container` waits at least `ms` (as a
   * container in a long crash-loop back-off would), so a killed process stays down.
   */
  holdRestarts(container: string, ms: number): void {
    this.restartHolds.set(container, Date.now() + ms);
  }

  logFile(container: string): string {
    return path.join(this.logsDir, `${container}.log`);
  }

  containerPid(container: string): number | undefined {
    const run = this.runs.find((r) => r.spec.name === container && r.state.kind === "running");
    return run?.proc?.pid;
  }

  /** Sets up the sandbox and runs the Pod to completion or until terminated. */
  async start(): Promise<void> {
    try {
      fs.mkdirSync(this.volumesDir, { recursive: true });
      fs.mkdirSync(this.logsDir, { recursive: true });
      this.ip = this.ctx.allocateIP();
      this.netns = createPodNetwork(this.pod.metadata!.uid!, this.ip);
      this.ctx.recordNetns?.(this.netns);
      // Like a kubelet, wait for claims to be bound instead of failing the Pod.
      const deadline = Date.now() + 10 * 60_000;
      for (;;) {
        try {
          await this.prepareVolumes();
          break;
        } catch (e) {
          if (!(e instanceof VolumeNotReadyError) || Date.now() > deadline || this.terminating) throw e;
          this.message = e.message;
          this.ctx.statusChanged();
          await sleep(1000);
        }
      }
      this.message = undefined;
    } catch (e) {
      this.fail("CreatePodSandboxError", (e as Error).message);
      return;
    }
    this.ctx.statusChanged();
    // Init containers, one after another.
    for (const run of this.runs.filter((r) => r.init)) {
      for (;;) {
        if (this.terminating) return;
        const code = await this.runOnce(run);
        if (this.terminating) return;
        if (code === 0) break;
        const policy = this.pod.spec?.restartPolicy ?? "Always";
        if (policy === "Never") {
          this.phase = "Failed";
          this.reason = "InitContainerFailed";
          this.ctx.statusChanged();
          return;
        }
        run.restartCount++;
        run.state = { kind: "waiting", reason: "CrashLoopBackOff", message: `back-off ${run.backoffMs / 1000}s restarting failed container` };
        this.ctx.statusChanged();
        await sleep(run.backoffMs);
        run.backoffMs = Math.min(run.backoffMs * 2, BACKOFF_MAX_MS);
      }
    }
    this.initialized = true;
    this.phase = "Running";
    this.ctx.statusChanged();
    for (const run of this.runs.filter((r) => !r.init)) void this.superviseContainer(run);
  }

  private fail(reason: string, message: string): void {
    this.phase = "Failed";
    this.reason = reason;
    this.message = message;
    this.ctx.log("pod failed", { pod: this.key, reason, message });
    this.ctx.statusChanged();
  }

  /** Runs a regular container, restarting it according to restartPolicy. */
  private async superviseContainer(run: ContainerRun): Promise<void> {
    const policy = this.pod.spec?.restartPolicy ?? "Always";
    for (;;) {
      if (this.terminating) return;
      const startedAt = Date.now();
      const code = await this.runOnce(run);
      if (this.terminating) return;
      if (code < 0) return; // image not supported: stays waiting
      if (policy === "Never" || (policy === "OnFailure" && code === 0)) {
        this.updatePhaseAfterExit();
        return;
      }
      if (Date.now() - startedAt > 60_000) run.backoffMs = BACKOFF_INITIAL_MS;
      run.restartCount++;
      run.lastState = run.state;
      run.state = { kind: "waiting", reason: "CrashLoopBackOff", message: `back-off ${run.backoffMs / 1000}s restarting failed container=${run.spec.name}` };
      this.ctx.statusChanged();
      const hold = Math.max(0, (this.restartHolds.get(run.spec.name) ?? 0) - Date.now());
      await new Promise<void>((resolve) => { run.restartTimer = setTimeout(resolve, Math.max(run.backoffMs, hold)); });
      run.backoffMs = Math.min(run.backoffMs * 2, BACKOFF_MAX_MS);
    }
  }

  private updatePhaseAfterExit(): void {
    const regular = this.runs.filter((r) => !r.init);
    if (regular.every((r) => r.state.kind === "terminated")) {
      const failed = regular.some((r) => r.state.kind === "terminated" && r.state.exitCode !== 0);
      this.phase = failed ? "Failed" : "Succeeded";
    }
    this.ctx.statusChanged();
  }

  /** Starts the container process once and resolves with its exit code (-1: could not start). */
  private async runOnce(run: ContainerRun): Promise<number> {
    const image = mapImage(run.spec.image ?? "");
    if (!image) {
      run.state = { kind: "waiting", reason: "ImageNotSupported", message: `the sandbox node has no root filesystem for image ${run.spec.image}` };
      this.ctx.statusChanged();
      if (!run.init) return -1;
      this.fail("ImageNotSupported", `init container ${run.spec.name}: no root filesystem for image ${run.spec.image}`);
      return -1;
    }
    let launch: { argv: string[]; env: Record<string, string> };
    try {
      launch = await this.buildLaunch(run, image);
    } catch (e) {
      run.state = { kind: "waiting", reason: "CreateContainerConfigError", message: (e as Error).message };
      this.ctx.statusChanged();
      await sleep(2000);
      return 1;
    }
    const out = fs.openSync(this.logFile(run.spec.name), "a");
    const proc = spawn(launch.argv[0]!, launch.argv.slice(1), { stdio: ["ignore", out, out], env: launch.env, detached: true });
    fs.closeSync(out);
    run.proc = proc;
    const startedAt = new Date();
    run.state = { kind: "running", startedAt };
    run.started = !run.spec.startupProbe;
    run.startupDone = !run.spec.startupProbe;
    run.ready = !run.spec.readinessProbe && !run.init;
    this.ctx.statusChanged();
    if (!run.init) this.startProbes(run);
    const code = await new Promise<number>((resolve) => {
      proc.once("exit", (c, sig) => resolve(c ?? (sig ? 128 + (os_signals[sig] ?? 9) : 1)));
      proc.once("error", () => resolve(1));
    });
    this.stopProbes(run);
    run.proc = undefined;
    run.ready = false;
    run.started = false;
    run.state = {
      kind: "terminated", exitCode: code, reason: code === 0 ? "Completed" : "Error", startedAt, finishedAt: new Date(),
    };
    this.ctx.statusChanged();
    return code;
  }

  private async resolveEnv(c: k8s.V1Container): Promise<Record<string, string>> {
    const pod = this.pod;
    const ns = pod.metadata!.namespace!;
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) {
      const prefix = from.prefix ?? "";
      if (from.configMapRef?.name) {
        const cm = await this.ctx.getConfigMap(ns, from.configMapRef.name);
        if (!cm && !from.configMapRef.optional) throw new Error(`configmap "${from.configMapRef.name}" not found`);
        for (const [k, v] of Object.entries(cm?.data ?? {})) env[prefix + k] = v;
      }
      if (from.secretRef?.name) {
        const s = await this.ctx.getSecret(ns, from.secretRef.name);
        if (!s && !from.secretRef.optional) throw new Error(`secret "${from.secretRef.name}" not found`);
        for (const [k, v] of Object.entries(s?.data ?? {})) env[prefix + k] = Buffer.from(v, "base64").toString("utf8");
      }
    }
    for (const e of c.env ?? []) {
      if (e.value !== undefined) { env[e.name] = expandVars(e.value, env); continue; }
      const vf = e.valueFrom;
      if (!vf) { env[e.name] = ""; continue; }
      if (vf.fieldRef) env[e.name] = this.fieldValue(vf.fieldRef.fieldPath);
      else if (vf.secretKeyRef) {
        const s = await this.ctx.getSecret(ns, vf.secretKeyRef.name!);
        const v = s?.data?.[vf.secretKeyRef.key];
        if (v === undefined) {
          if (vf.secretKeyRef.optional) continue;
          throw new Error(`secret "${vf.secretKeyRef.name}" key "${vf.secretKeyRef.key}" not found`);
        }
        env[e.name] = Buffer.from(v, "base64").toString("utf8");
      } else if (vf.configMapKeyRef) {
        const cm = await this.ctx.getConfigMap(ns, vf.configMapKeyRef.name!);
        const v = cm?.data?.[vf.configMapKeyRef.key];
        if (v === undefined) {
          if (vf.configMapKeyRef.optional) continue;
          throw new Error(`configmap "${vf.configMapKeyRef.name}" key "${vf.configMapKeyRef.key}" not found`);
        }
        env[e.name] = v;
      } else if (vf.resourceFieldRef) {
        env[e.name] = resourceFieldValue(c, vf.resourceFieldRef);
      }
    }
    return env;
  }

  fieldValue(fieldPath: string): string {
    const pod = this.pod;
    const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
    if (m) return (m[1] === "labels" ? pod.metadata?.labels : pod.metadata?.annotations)?.[m[2]!] ?? "";
    switch (fieldPath) {
      case "metadata.name": return pod.metadata?.name ?? "";
      case "metadata.namespace": return pod.metadata?.namespace ?? "";
      case "metadata.uid": return pod.metadata?.uid ?? "";
      case "spec.nodeName": return this.ctx.nodeName;
      case "spec.serviceAccountName": return pod.spec?.serviceAccountName ?? "default";
      case "status.podIP": case "status.podIPs": return this.ip;
      case "status.hostIP": case "status.hostIPs": return this.ctx.hostIP;
      case "metadata.labels": return Object.entries(pod.metadata?.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join("\n");
      case "metadata.annotations": return Object.entries(pod.metadata?.annotations ?? {}).map(([k, v]) => `${k}="${v}"`).join("\n");
      default: return "";
    }
  }

  /** Materialises every volume of the Pod under <podDir>/volumes. */
  private async prepareVolumes(): Promise<void> {
    const spec = this.pod.spec!;
    const ns = this.pod.metadata!.namespace!;
    const fsGroup = spec.securityContext?.fsGroup;
    for (const v of spec.volumes ?? []) {
      const dir = path.join(this.volumesDir, v.name);
      if (v.persistentVolumeClaim) {
        const claimDir = await this.ctx.claimDir(ns, v.persistentVolumeClaim.claimName);
        if (!claimDir) throw new VolumeNotReadyError(`persistentvolumeclaim "${v.persistentVolumeClaim.claimName}" is not bound yet`);
        fs.mkdirSync(claimDir, { recursive: true });
        if (fsGroup !== undefined) {
          execFileSync("chgrp", ["-R", String(fsGroup), claimDir]);
          execFileSync("chmod", ["-R", "g+rwX", claimDir]);
          execFileSync("find", [claimDir, "-type", "d", "-exec", "chmod", "g+s", "{}", "+"]);
        }
        this.volumeSources.set(v.name, claimDir);
        continue;
      }
      if (v.hostPath) {
        this.volumeSources.set(v.name, v.hostPath.path);
        continue;
      }
      fs.mkdirSync(dir, { recursive: true });
      this.volumeSources.set(v.name, dir);
      if (v.emptyDir) {
        fs.chmodSync(dir, 0o777);
        continue;
      }
      const files = new Map<string, { data: Buffer; mode?: number }>();
      const addItems = (data: Record<string, Buffer>, items: k8s.V1KeyToPath[] | undefined, defaultMode?: number) => {
        if (items?.length) {
          for (const it of items) {
            const d = data[it.key];
            if (d !== undefined) files.set(it.path, { data: d, mode: it.mode ?? defaultMode });
          }
        } else {
          for (const [k, d] of Object.entries(data)) files.set(k, { data: d, mode: defaultMode });
        }
      };
      const fromSecret = async (name: string, optional: boolean | undefined, items?: k8s.V1KeyToPath[], mode?: number) => {
        const s = await this.ctx.getSecret(ns, name);
        if (!s) { if (optional) return; throw new Error(`secret "${name}" not found`); }
        addItems(Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")])), items, mode);
      };
      const fromConfigMap = async (name: string, optional: boolean | undefined, items?: k8s.V1KeyToPath[], mode?: number) => {
        const cm = await this.ctx.getConfigMap(ns, name);
        if (!cm) { if (optional) return; throw new Error(`configmap "${name}" not found`); }
        addItems(Object.fromEntries(Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.from(v)])), items, mode);
      };
      const fromDownward = (items: k8s.V1DownwardAPIVolumeFile[] | undefined, mode?: number) => {
        for (const it of items ?? []) {
          const value = it.fieldRef ? this.fieldValue(it.fieldRef.fieldPath) : "";
          files.set(it.path, { data: Buffer.from(value), mode: it.mode ?? mode });
        }
      };
      if (v.secret) await fromSecret(v.secret.secretName!, v.secret.optional, v.secret.items, v.secret.defaultMode);
      else if (v.configMap) await fromConfigMap(v.configMap.name!, v.configMap.optional, v.configMap.items, v.configMap.defaultMode);
      else if (v.downwardAPI) fromDownward(v.downwardAPI.items, v.downwardAPI.defaultMode);
      else if (v.projected) {
        const mode = v.projected.defaultMode;
        for (const src of v.projected.sources ?? []) {
          if (src.secret) await fromSecret(src.secret.name!, src.secret.optional, src.secret.items, mode);
          if (src.configMap) await fromConfigMap(src.configMap.name!, src.configMap.optional, src.configMap.items, mode);
          if (src.downwardAPI) fromDownward(src.downwardAPI.items, mode);
          if (src.serviceAccountToken) {
            const tok = await this.ctx.serviceAccountToken(this.pod, src.serviceAccountToken.audience, src.serviceAccountToken.expirationSeconds);
            files.set(src.serviceAccountToken.path, { data: Buffer.from(tok), mode });
          }
        }
      } else {
        throw new Error(`volume "${v.name}": this volume type is not supported by the sandbox node`);
      }
      for (const [rel, f] of files) {
        const p = path.join(dir, rel);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, f.data);
        fs.chmodSync(p, f.mode ?? 0o644);
        if (fsGroup !== undefined) fs.chownSync(p, 0, fsGroup);
      }
    }
    // The kube-root-ca / token automount that the ServiceAccount admission plugin adds is
    // a projected volume and handled above.
  }

  private securityFor(c: k8s.V1Container): { uid?: number; gid?: number; groups: number[] } {
    const pod = this.pod.spec?.securityContext;
    const uid = c.securityContext?.runAsUser ?? pod?.runAsUser;
    const gid = c.securityContext?.runAsGroup ?? pod?.runAsGroup ?? (uid !== undefined ? uid : undefined);
    const groups = [...(pod?.supplementalGroups ?? [])];
    if (pod?.fsGroup !== undefined) groups.push(pod.fsGroup);
    return { uid, gid, groups };
  }

  private async buildLaunch(run: ContainerRun, image: ImageMapping): Promise<{ argv: string[]; env: Record<string, string> }> {
    const c = run.spec;
    const userEnv = await this.resolveEnv(c);
    const env: Record<string, string> = {
      PATH: image.path,
      HOSTNAME: this.pod.metadata!.name!,
      KUBERNETES_SERVICE_HOST: this.ctx.apiserver.host,
      KUBERNETES_SERVICE_PORT: String(this.ctx.apiserver.port),
      KUBERNETES_SERVICE_PORT_HTTPS: String(this.ctx.apiserver.port),
      ...userEnv,
    };
    const sec = this.securityFor(c);
    if (!("HOME" in env)) env.HOME = sec.uid === undefined || sec.uid === 0 ? "/root" : "/";
    const command = (c.command?.length ? c.command : image.entrypoint).map((s) => expandVars(s, env));
    const args = (c.command?.length || !c.args ? c.args ?? [] : c.args).map((s) => expandVars(s, env));
    const argv = [...command, ...args];
    if (argv.length === 0) throw new Error(`container ${c.name}: no command and the image has no entrypoint`);

    const rootDir = image.root === "mysql" ? mysqlRootfsDir : path.join(this.dir, "roots", c.name);
    const lines = ["set -e"];
    const R = shellQuote(rootDir);
    if (image.root === "host") {
      lines.push(`mkdir -p ${R}`);
      for (const d of ["usr", "etc", "dev", "proc", "tmp", "var", "run", "root", "opt", "srv", "home"]) lines.push(`mkdir -p ${R}/${d}`);
      for (const l of ["bin", "sbin", "lib", "lib64"]) {
        const target = `/${l}`;
        if (fs.existsSync(target)) {
          if (fs.lstatSync(target).isSymbolicLink()) lines.push(`[ -L ${R}/${l} ] || ln -s ${shellQuote(fs.readlinkSync(target))} ${R}/${l}`);
          else lines.push(`mkdir -p ${R}/${l} && mount --bind /${l} ${R}/${l}`);
        }
      }
      lines.push(`mount --bind /usr ${R}/usr`, `mount --bind /etc ${R}/etc`, `mount --rbind /dev ${R}/dev`);
      lines.push(`mount -t tmpfs -o mode=1777 tmpfs ${R}/tmp`, `mount -t tmpfs tmpfs ${R}/run`, `mount -t tmpfs tmpfs ${R}/var`);
      lines.push(`mkdir -p ${R}${shellQuote(repoRoot)} && mount --bind ${shellQuote(repoRoot)} ${R}${shellQuote(repoRoot)}`);
      // A git worktree links node_modules and .cache to another checkout: show their targets too.
      for (const target of linkedOutsideRepo()) lines.push(`mkdir -p ${R}${shellQuote(target)} && mount --bind ${shellQuote(target)} ${R}${shellQuote(target)}`);
    }
    lines.push(`mount -t proc proc ${R}/proc`);
    lines.push(`touch ${R}/etc/hosts 2>/dev/null || true`, `mount --bind ${shellQuote(this.ctx.hostsFile)} ${R}/etc/hosts`);
    lines.push(`hostname ${shellQuote(this.pod.metadata!.name!)}`);
    // Service-account token automount and volume mounts, in order.
    for (const m of c.volumeMounts ?? []) {
      const src = this.volumeSources.get(m.name);
      if (!src) throw new Error(`volume mount ${m.name}: no such volume`);
      const from = m.subPath ? path.join(src, m.subPath) : src;
      const target = `${R}${shellQuote(m.mountPath)}`;
      if (m.subPath && !fs.existsSync(from)) fs.mkdirSync(from, { recursive: true });
      if (fs.statSync(from).isDirectory()) lines.push(`mkdir -p ${target}`);
      else lines.push(`mkdir -p "$(dirname ${target})" && touch ${target}`);
      lines.push(`mount --bind ${shellQuote(from)} ${target}`);
      if (m.readOnly) lines.push(`mount -o remount,bind,ro ${target}`);
    }
    // A volume mounted on a parent of the repository (e.g. a Job's /work) would hide the
    // moco-ts entry points of the host view: mount the repository (and what it links to) again on top.
    const hidden = (dir: string) => (c.volumeMounts ?? []).some((m) => dir === m.mountPath || dir.startsWith(`${m.mountPath.replace(/\/$/, "")}/`));
    if (image.root === "host") {
      for (const dir of [repoRoot, ...linkedOutsideRepo()].filter(hidden)) lines.push(`mkdir -p ${R}${shellQuote(dir)} && mount --bind ${shellQuote(dir)} ${R}${shellQuote(dir)}`);
    }
    const wd = c.workingDir ?? "/";
    // Drop to the container's user with setpriv (in the image's root) rather than
    // `chroot --userspec`: a credential change clears PDEATHSIG, and setpriv sets it again
    // afterwards, so the container still dies with the node process.
    const become = sec.uid !== undefined
      ? ["/usr/bin/setpriv", `--reuid=${sec.uid}`, `--regid=${sec.gid ?? sec.uid}`,
        ...(sec.groups.length ? [`--groups=${sec.groups.join(",")}`] : ["--clear-groups"]), "--pdeathsig=SIGKILL", "--"]
      : [];
    lines.push(`exec chroot ${R} ${become.map(shellQuote).join(" ")} /bin/sh -c 'cd "$0" && exec "$@"' ${shellQuote(wd)} ${argv.map(shellQuote).join(" ")}`);
    const script = path.join(this.dir, `launch-${c.name}.sh`);
    fs.writeFileSync(script, lines.join("\n") + "\n", { mode: 0o700 });
    return {
      argv: ["setpriv", "--pdeathsig", "SIGKILL", "--", "nsenter", `--net=${netnsPath(this.netns)}`, "--", "unshare", "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", script],
      env,
    };
  }

  // ---- probes ----

  private startProbes(run: ContainerRun): void {
    const c = run.spec;
    const schedule = (probe: k8s.V1Probe, onResult: (ok: boolean) => void, active: () => boolean) => {
      const period = (probe.periodSeconds ?? 10) * 1000;
      let successes = 0;
      let failures = 0;
      const tick = async () => {
        if (!active()) return;
        const ok = await this.probeOnce(run, probe);
        if (ok) { successes++; failures = 0; } else { failures++; successes = 0; }
        if (ok && successes >= (probe.successThreshold ?? 1)) onResult(true);
        if (!ok && failures >= (probe.failureThreshold ?? 3)) onResult(false);
      };
      const first = setTimeout(() => {
        void tick();
        const t = setInterval(() => void tick(), period);
        run.probeTimers.push(t);
      }, (probe.initialDelaySeconds ?? 0) * 1000);
      run.probeTimers.push(first);
    };
    const alive = () => run.state.kind === "running" && !this.terminating;
    if (c.startupProbe) {
      schedule(c.startupProbe, (ok) => {
        if (run.startupDone) return;
        if (ok) { run.startupDone = true; run.started = true; this.ctx.statusChanged(); } else this.killContainer(run, "startup probe failed");
      }, () => alive() && !run.startupDone);
    }
    if (c.livenessProbe) {
      schedule(c.livenessProbe, (ok) => { if (!ok) this.killContainer(run, "liveness probe failed"); }, () => alive() && run.startupDone);
    }
    if (c.readinessProbe) {
      schedule(c.readinessProbe, (ok) => {
        if (run.ready !== ok) { run.ready = ok; this.ctx.statusChanged(); }
      }, () => alive() && run.startupDone);
    }
  }

  private stopProbes(run: ContainerRun): void {
    for (const t of run.probeTimers) { clearTimeout(t); clearInterval(t); }
    run.probeTimers = [];
  }

  private killContainer(run: ContainerRun, why: string): void {
    this.ctx.log("killing container", { pod: this.key, container: run.spec.name, why });
    const pid = run.proc?.pid;
    if (pid) { try { process.kill(-pid, "SIGKILL"); } catch { run.proc?.kill("SIGKILL"); } }
  }

  private resolvePort(run: ContainerRun, port: number | string | undefined): number {
    if (typeof port === "number") return port;
    const n = Number(port);
    if (!Number.isNaN(n)) return n;
    for (const c of this.pod.spec?.containers ?? []) {
      const p = (c.ports ?? []).find((x) => x.name === port);
      if (p) return p.containerPort;
    }
    throw new Error(`container ${run.spec.name}: no port named ${port}`);
  }

  private async probeOnce(run: ContainerRun, probe: k8s.V1Probe): Promise<boolean> {
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    try {
      if (probe.httpGet) {
        const port = this.resolvePort(run, probe.httpGet.port as number | string);
        const scheme = (probe.httpGet.scheme ?? "HTTP").toLowerCase();
        if (scheme !== "http") return false;
        const ctl = new AbortController();
        const timer = setTimeout(() => ctl.abort(), timeoutMs);
        try {
          const res = await fetch(`http://${probe.httpGet.host ?? this.ip}:${port}${probe.httpGet.path ?? "/"}`, { signal: ctl.signal });
          await res.arrayBuffer();
          return res.status >= 200 && res.status < 400;
        } finally { clearTimeout(timer); }
      }
      if (probe.tcpSocket) {
        const port = this.resolvePort(run, probe.tcpSocket.port as number | string);
        return await new Promise<boolean>((resolve) => {
          const s = net.connect({ host: probe.tcpSocket!.host ?? this.ip, port, timeout: timeoutMs });
          s.once("connect", () => { s.destroy(); resolve(true); });
          s.once("error", () => resolve(false));
          s.once("timeout", () => { s.destroy(); resolve(false); });
        });
      }
      if (probe.exec?.command?.length) {
        const r = await this.exec(run.spec.name, probe.exec.command, Math.max(timeoutMs, 1000));
        return r.code === 0;
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Runs a command inside a running container (its mount, UTS and network namespaces and root). */
  exec(container: string, command: string[], timeoutMs = 60_000, input?: Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
    const run = this.runs.find((r) => r.spec.name === container);
    const pid = run?.proc?.pid;
    if (!run || !pid || run.state.kind !== "running") return Promise.reject(new Error(`container ${container} is not running`));
    const target = this.findChrootedPid(pid);
    const sec = this.securityFor(run.spec);
    const argv = ["--target", String(target), "--mount", "--uts", "--net", "--root", "--wd",
      ...(sec.uid !== undefined ? ["--setuid", String(sec.uid), "--setgid", String(sec.gid ?? sec.uid)] : []), "--", ...command];
    return new Promise((resolve) => {
      const p = spawn("nsenter", argv, { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
      p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
      const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
      p.once("exit", (code) => { clearTimeout(timer); resolve({ code: code ?? 1, stdout, stderr }); });
      p.once("error", (e) => { clearTimeout(timer); resolve({ code: 1, stdout, stderr: e.message }); });
      p.stdin.end(input);
    });
  }

  /**
   * Starts a command inside a running container for `kubectl exec` (kubelet-api.ts),
   * entering the same namespaces and root as exec(), with the environment of the
   * container's process. stdio are pipes; with tty the command runs on a
   * pseudo-terminal that util-linux `script` allocates on the host, resized with
   * `stty`. Throws when the container is not running.
   */
  execStream(container: string, command: string[], opts: { stdin: boolean; tty: boolean }): ExecProcess {
    const run = this.runs.find((r) => r.spec.name === container);
    const pid = run?.proc?.pid;
    if (!run || !pid || run.state.kind !== "running") {
      const st = run?.state;
      const why = !run ? "no such container" : st?.kind === "waiting" ? `waiting: ${st.reason}` : st?.kind === "terminated" ? `terminated with exit code ${st.exitCode}` : "not started";
      throw new Error(`container ${container} is not running (${why})`);
    }
    const hostBin = (name: string) => ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map((d) => path.join(d, name)).find((p) => fs.existsSync(p)) ?? name;
    const sec = this.securityFor(run.spec);
    const nsenter = [hostBin("nsenter"), "--target", String(this.findChrootedPid(pid)), "--mount", "--uts", "--net", "--root", "--wd",
      ...(sec.uid !== undefined ? ["--setuid", String(sec.uid), "--setgid", String(sec.gid ?? sec.uid)] : []), "--", ...command];
    let env: Record<string, string> = {};
    try {
      for (const kv of fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
        const eq = kv.indexOf("=");
        if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
    } catch {
      env = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
    }
    const argv = opts.tty ? [hostBin("script"), "--quiet", "--return", "--command", nsenter.map(shellQuote).join(" "), "/dev/null"] : nsenter;
    if (opts.tty) env = { TERM: "xterm", ...env, SHELL: "/bin/sh" };
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [opts.stdin ? "pipe" : "ignore", "pipe", opts.tty ? "ignore" : "pipe"], env, detached: true });
    const exited = new Promise<number>((resolve, reject) => {
      child.once("exit", (c, sig) => resolve(c ?? (sig ? 128 + (os_signals[sig] ?? 9) : 1)));
      child.once("error", reject);
    });
    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try { process.kill(-child.pid!, "SIGKILL"); } catch { child.kill("SIGKILL"); }
    };
    // Like a container runtime, end exec sessions with the container.
    const containerProc = run.proc!;
    containerProc.once("exit", kill);
    child.once("exit", () => containerProc.off("exit", kill));
    let size: [number, number] | undefined;
    let resizing = false;
    const applySize = async () => {
      if (resizing) return;
      resizing = true;
      // The terminal is the stdin of script's child, which may not exist yet.
      for (let i = 0; i < 40 && size && child.exitCode === null; i++) {
        try {
          const kid = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/)[0];
          const pts = kid ? fs.readlinkSync(`/proc/${kid}/fd/0`) : "";
          if (pts.startsWith("/dev/pts/")) {
            const [w, h] = size;
            execFileSync(hostBin("stty"), ["-F", pts, "rows", String(h), "cols", String(w)], { stdio: "ignore" });
            if (size[0] === w && size[1] === h) break;
            continue;
          }
        } catch { /* not there yet, or gone */ }
        await sleep(50);
      }
      resizing = false;
    };
    return {
      stdin: child.stdin, stdout: child.stdout, stderr: opts.tty ? null : child.stderr, exited,
      resize: (w, h) => { if (!opts.tty) return; size = [w, h]; void applySize(); },
      kill,
    };
  }

  /** The launcher execs into the container's process, so its pid is the container's. */
  private findChrootedPid(pid: number): number {
    return pid;
  }

  // ---- termination ----

  /** Graceful termination: preStop hooks, SIGTERM, then SIGKILL after the grace period. */
  async terminate(graceSeconds: number): Promise<void> {
    if (this.terminating) return;
    this.terminating = true;
    const deadline = Date.now() + graceSeconds * 1000;
    const running = this.runs.filter((r) => r.proc && r.state.kind === "running");
    for (const r of this.runs) if (r.restartTimer) clearTimeout(r.restartTimer);
    await Promise.all(running.map(async (r) => {
      const pre = r.spec.lifecycle?.preStop;
      if (pre) {
        const budget = Math.max(0, deadline - Date.now());
        try {
          if (pre.exec?.command) await this.exec(r.spec.name, pre.exec.command, budget);
          else if (pre.sleep) await sleep(Math.min(pre.sleep.seconds * 1000, budget));
          else if (pre.httpGet) {
            const port = this.resolvePort(r, pre.httpGet.port as number | string);
            await fetch(`http://${this.ip}:${port}${pre.httpGet.path ?? "/"}`, { signal: AbortSignal.timeout(Math.max(budget, 1)) }).catch(() => undefined);
          }
        } catch { /* hook failures do not stop termination */ }
      }
      const pid = r.proc?.pid;
      if (!pid) return;
      try { process.kill(pid, "SIGTERM"); } catch { /* gone */ }
      const exited = new Promise<void>((resolve) => { if (!r.proc) resolve(); else r.proc.once("exit", () => resolve()); });
      const left = Math.max(0, deadline - Date.now());
      const timer = setTimeout(() => { try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ } }, left);
      await exited;
      clearTimeout(timer);
    }));
    for (const r of this.runs) this.stopProbes(r);
    this.cleanup();
    this.terminated = true;
  }

  /** Kills every process at once (node shutdown). */
  killAll(): void {
    this.terminating = true;
    for (const r of this.runs) {
      this.stopProbes(r);
      if (r.restartTimer) clearTimeout(r.restartTimer);
      const pid = r.proc?.pid;
      if (pid) { try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ } }
    }
  }

  cleanup(): void {
    if (this.netns) deletePodNetwork(this.netns);
    if (this.ip) this.ctx.releaseIP(this.ip);
    // Mounts were made in the containers' private namespaces and vanished with them.
    fs.rmSync(this.volumesDir, { recursive: true, force: true });
    fs.rmSync(path.join(this.dir, "roots"), { recursive: true, force: true });
  }

  // ---- status ----

  status(): k8s.V1PodStatus {
    const now = new Date();
    const regular = this.runs.filter((r) => !r.init);
    const containersReady = regular.length > 0 && regular.every((r) => r.ready);
    const cond = (type: string, ok: boolean, reason?: string): k8s.V1PodCondition => ({
      type, status: ok ? "True" : "False", lastTransitionTime: now, ...(reason && !ok ? { reason } : {}),
    });
    const toStatus = (r: ContainerRun): k8s.V1ContainerStatus => ({
      name: r.spec.name,
      image: r.spec.image ?? "",
      imageID: `sandbox://${r.spec.image ?? ""}`,
      containerID: r.proc?.pid ? `sandbox://${this.pod.metadata?.uid}/${r.spec.name}/${r.restartCount}` : undefined,
      // As the kubelet does, an init container that completed successfully is ready.
      ready: r.init ? r.state.kind === "terminated" && r.state.exitCode === 0 : r.ready,
      started: r.started,
      restartCount: r.restartCount,
      state: stateToK8s(r.state),
      ...(r.lastState ? { lastState: stateToK8s(r.lastState) } : {}),
    });
    return {
      phase: this.phase,
      ...(this.reason ? { reason: this.reason } : {}),
      ...(this.message ? { message: this.message } : {}),
      hostIP: this.ctx.hostIP,
      hostIPs: [{ ip: this.ctx.hostIP }],
      ...(this.ip ? { podIP: this.ip, podIPs: [{ ip: this.ip }] } : {}),
      startTime: this.startTime,
      conditions: [
        cond("PodReadyToStartContainers", this.ip !== ""),
        cond("Initialized", this.initialized, "ContainersNotInitialized"),
        cond("ContainersReady", containersReady, "ContainersNotReady"),
        cond("Ready", containersReady && !this.terminating, "ContainersNotReady"),
        cond("PodScheduled", true),
      ],
      initContainerStatuses: this.runs.filter((r) => r.init).map(toStatus),
      containerStatuses: regular.map(toStatus),
    };
  }
}

const os_signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

function stateToK8s(s: ContainerState): k8s.V1ContainerState {
  switch (s.kind) {
    case "waiting": return { waiting: { reason: s.reason, ...(s.message ? { message: s.message } : {}) } };
    case "running": return { running: { startedAt: s.startedAt } };
    case "terminated": return { terminated: { exitCode: s.exitCode, reason: s.reason, startedAt: s.startedAt, finishedAt: s.finishedAt } };
  }
}

function resourceFieldValue(c: k8s.V1Container, ref: k8s.V1ResourceFieldSelector): string {
  const res = c.resources;
  const [kind, name] = ref.resource.split(".") as ["limits" | "requests", string];
  const q = res?.[kind]?.[name];
  if (q === undefined) return name === "cpu" ? "1" : String(24 * 1024 ** 3);
  const divisor = ref.divisor ? String(ref.divisor) : "1";
  return String(Math.ceil((parseQuantity(String(q)) ?? 0) / (parseQuantity(divisor) ?? 1)));
}

// A real Kubernetes control plane on loopback: etcd, kube-apiserver and
// kube-controller-manager (built from k8s.io/kubernetes by test/env/build-k8s.sh).
// RBAC authorization is on, admission webhooks are enabled, service-account tokens
// are signed with a generated key; an admin kubeconfig (client certificate in
// system:masters) is written for kubectl and @kubernetes/client-node.
// No kubelet: Pods stay Pending unless the sandbox node runs them.
import { execFile } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { binDir, freePort, spawnManaged, waitUntil, type ManagedProcess, makeTmpDir } from "./procs.ts";
import { ensureCa, ensureCert, ensureServiceAccountKey, type CertPaths } from "./pki.ts";
import { forwardIntoNetns, type Forward } from "./netns.ts";
import { eventually } from "./eventually.ts";

export interface ControlPlaneOptions {
  /** Working directory (etcd data, certificates, logs). Default: a fresh one under .cache/tmp. */
  dir?: string;
  /** Run kube-controller-manager (default true). */
  controllerManager?: boolean;
  /** Extra kube-apiserver flags. */
  apiserverFlags?: string[];
  /** Fixed secure port for kube-apiserver (default: a free port). */
  apiserverPort?: number;
  /** Address kube-apiserver binds to and advertises (default 127.0.0.1; the sandbox uses its bridge). */
  bindAddress?: string;
  /** Also run kube-controller-manager's persistent-volume binder (the sandbox provisions volumes). */
  volumeBinder?: boolean;
  /** Also run the node-lifecycle controller (a real kubelet's Node loses its not-ready taint). */
  nodeLifecycle?: boolean;
  /**
   * A network namespace file (test/env/netns.ts) to run etcd, kube-apiserver and
   * kube-controller-manager in (the real node). Their ports are then fixed inside it (etcd
   * 2379/2380, kube-apiserver `apiserverPort` or 6443, kube-controller-manager 10257), and
   * `server`/`kubeconfig` reach kube-apiserver through a forward from the host's loopback.
   */
  netns?: string;
  /**
   * Write kube-apiserver's audit log (one JSON event per line, Metadata level, at
   * ResponseComplete and, for long-running requests such as watches, also at ResponseStarted
   * so that a watch still open is in the log) to `ControlPlane.auditLog`: `true` logs every
   * request, `{ users }` only those of these user names (e.g. a ServiceAccount's
   * `system:serviceaccount:NS:NAME`). `maxSizeMb`: rotated at this size, one old file kept
   * (`audit-<time>.log` next to it); default never rotated.
   */
  audit?: boolean | { users: string[]; maxSizeMb?: number };
}

/** One line of the audit log (audit.k8s.io/v1 Event, Metadata level): the fields the tests read. */
export interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { apiGroup?: string; resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestURI: string;
  /** authorization.k8s.io/decision ("allow" / "forbid") and …/reason, among others. */
  annotations?: Record<string, string>;
}

/** kube-apiserver's audit policy: Metadata level for every request, or only for `users` (None for the rest). */
export function auditPolicy(users?: readonly string[]): string {
  const head = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n";
  if (users === undefined) return `${head}  - level: Metadata\n`;
  return `${head}  - level: Metadata\n    users: ${JSON.stringify(users)}\n  - level: None\n`;
}

/** The events of an audit log file (ControlPlane.auditLog). */
export function readAuditLog(file: string): AuditEvent[] {
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as AuditEvent);
}

export interface ControlPlane {
  readonly dir: string;
  /** https://127.0.0.1:PORT */
  readonly server: string;
  /** kube-apiserver's address as seen inside `netns` (equal to `server` without one). */
  readonly innerServer: string;
  readonly kubeconfig: string;
  /** kube-apiserver's audit log (options.audit), else undefined. */
  readonly auditLog: string | undefined;
  readonly ca: CertPaths;
  /** Admin client certificate (CN=moco-ts-admin, O=system:masters). */
  readonly adminCert: CertPaths;
  /** Stops kube-apiserver only (etcd and controller-manager keep running). */
  stopApiserver(): Promise<void>;
  /** Starts kube-apiserver again on the same port after stopApiserver(). */
  startApiserver(): Promise<void>;
  /** Runs kubectl with this control plane's kubeconfig; returns stdout. */
  kubectl(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export function k8sBinary(name: "kube-apiserver" | "kube-controller-manager" | "kubectl"): string {
  const p = path.join(binDir, name);
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run test/env/provision.sh (or test/env/build-k8s.sh)`);
  return p;
}

function etcdBinary(): string {
  for (const p of [path.join(binDir, "etcd"), "/usr/bin/etcd"]) if (fs.existsSync(p)) return p;
  throw new Error("etcd is missing: run test/env/provision.sh");
}

function healthz(server: string, ca: string, client: CertPaths, pathName = "/readyz"): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(`${server}${pathName}`, {
      ca: fs.readFileSync(ca), cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key), timeout: 2000,
    }, (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on("error", () => resolve(false));
    req.on("timeout", () => { req.destroy(); resolve(false); });
  });
}

/** Runs kubectl with `kubeconfig` (returns stdout; throws with stderr). */
export function kubectlFor(kubeconfig: string): (args: string[], input?: string) => Promise<string> {
  return (args, input) => new Promise((resolve, reject) => {
    const child = execFile(k8sBinary("kubectl"), ["--kubeconfig", kubeconfig, ...args],
      { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`kubectl ${args.join(" ")}: ${stderr || err.message}`));
        else resolve(stdout);
      });
    if (input !== undefined) { child.stdin?.end(input); }
  });
}

export function writeKubeconfig(file: string, server: string, ca: string, client: CertPaths, user = "admin"): void {
  const b64 = (p: string) => fs.readFileSync(p).toString("base64");
  fs.writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: moco-ts
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(ca)}
users:
- name: ${user}
  user:
    client-certificate-data: ${b64(client.cert)}
    client-key-data: ${b64(client.key)}
contexts:
- name: moco-ts
  context:
    cluster: moco-ts
    user: ${user}
current-context: moco-ts
`, { mode: 0o600 });
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const dir = opts.dir ?? makeTmpDir("kube-");
  fs.mkdirSync(dir, { recursive: true });
  const pki = path.join(dir, "pki");
  const ca = ensureCa(pki);
  const apiserverCert = ensureCert(pki, "apiserver", ca, {
    cn: "kube-apiserver", usage: "server",
    sans: ["127.0.0.1", "localhost", "10.0.0.1", "10.213.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
      ...(opts.bindAddress && !["127.0.0.1", "10.213.0.1"].includes(opts.bindAddress) ? [opts.bindAddress] : [])],
  });
  const adminCert = ensureCert(pki, "admin", ca, { cn: "moco-ts-admin", org: "system:masters", usage: "client" });
  const kcmCert = ensureCert(pki, "kube-controller-manager", ca, { cn: "system:kube-controller-manager", usage: "client" });
  const apiserverKubeletClient = ensureCert(pki, "apiserver-kubelet-client", ca, {
    cn: "kube-apiserver-kubelet-client", org: "system:masters", usage: "client",
  });
  const sa = ensureServiceAccountKey(pki);
  const logs = path.join(dir, "logs");
  fs.mkdirSync(logs, { recursive: true });

  const procs: ManagedProcess[] = [];
  const forwards: Forward[] = [];
  const stopAll = async () => {
    for (const f of forwards.splice(0)) await f.close();
    for (const p of [...procs].reverse()) await p.stop(10_000);
  };
  const netns = opts.netns;
  /** A port free on the host, or `fixed` inside the namespace (where every port is free). */
  const portFor = (fixed: number, host?: string) => (netns ? Promise.resolve(fixed) : freePort(host));
  /** The host loopback port that reaches `host`:`port` (inside the namespace when there is one). */
  const reach = async (host: string, port: number): Promise<number> => {
    if (!netns) return port;
    const f = await forwardIntoNetns(netns, { host, port }, path.join(dir, `fwd-${port}.sock`));
    forwards.push(f);
    return f.port;
  };

  try {
    // etcd
    const etcdPort = await portFor(2379);
    const etcdPeerPort = await portFor(2380);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = spawnManaged("etcd", etcdBinary(), [
      "--name", "default", "--data-dir", path.join(dir, "etcd"),
      "--listen-client-urls", etcdUrl, "--advertise-client-urls", etcdUrl,
      "--listen-peer-urls", `http://127.0.0.1:${etcdPeerPort}`,
      "--initial-advertise-peer-urls", `http://127.0.0.1:${etcdPeerPort}`,
      "--initial-cluster", `default=http://127.0.0.1:${etcdPeerPort}`,
      "--unsafe-no-fsync", "--quota-backend-bytes", String(4 * 1024 * 1024 * 1024),
    ], { logFile: path.join(logs, "etcd.log"), marker: "etcd", netns });
    procs.push(etcd);
    const etcdHostUrl = `http://127.0.0.1:${await reach("127.0.0.1", etcdPort)}`;
    await waitUntil("etcd health", async () => {
      const res = await fetch(`${etcdHostUrl}/health`);
      return res.ok;
    }, { timeoutMs: 30_000, proc: etcd });
    // Inside a namespace the forward to etcd served only this probe.
    if (netns) await forwards.pop()?.close();

    // kube-apiserver
    const bind = opts.bindAddress ?? "127.0.0.1";
    const port = opts.apiserverPort ?? await portFor(6443, bind);
    const innerServer = `https://${bind}:${port}`;
    const auditLog = opts.audit === undefined || opts.audit === false ? undefined : path.join(logs, "audit.log");
    const auditFlags: string[] = [];
    if (auditLog !== undefined) {
      const policy = path.join(dir, "audit-policy.yaml");
      fs.writeFileSync(policy, auditPolicy(typeof opts.audit === "object" ? opts.audit.users : undefined));
      const maxSizeMb = typeof opts.audit === "object" ? opts.audit.maxSizeMb ?? 0 : 0;
      auditFlags.push("--audit-policy-file", policy, "--audit-log-path", auditLog, "--audit-log-mode", "blocking",
        "--audit-log-maxsize", String(maxSizeMb), "--audit-log-maxbackup", "1");
    }
    const server = netns ? `https://127.0.0.1:${await reach(bind, port)}` : innerServer;
    const apiserverArgs = [
      "--etcd-servers", etcdUrl,
      "--bind-address", bind, "--advertise-address", bind, "--secure-port", String(port),
      "--tls-cert-file", apiserverCert.cert, "--tls-private-key-file", apiserverCert.key,
      "--client-ca-file", ca.cert,
      "--authorization-mode", "RBAC",
      "--service-account-issuer", "https://kubernetes.default.svc",
      "--service-account-key-file", sa.pub, "--service-account-signing-key-file", sa.key,
      "--service-cluster-ip-range", "10.0.0.0/24",
      "--allow-privileged=true",
      "--kubelet-client-certificate", apiserverKubeletClient.cert,
      "--kubelet-client-key", apiserverKubeletClient.key,
      "--kubelet-preferred-address-types", "InternalIP",
      "--enable-admission-plugins", "NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy",
      "--endpoint-reconciler-type", "none",
      // Webhooks and aggregated APIs are reached at their Service's endpoints (Pod IPs),
      // since no kube-proxy serves ClusterIPs here.
      "--enable-aggregator-routing=true",
      "--cert-dir", path.join(dir, "apiserver-certs"),
      ...auditFlags,
      ...(opts.apiserverFlags ?? []),
    ];
    let apiserver: ManagedProcess | undefined;
    const startApiserver = async () => {
      apiserver = spawnManaged("kube-apiserver", k8sBinary("kube-apiserver"), apiserverArgs, {
        logFile: path.join(logs, "kube-apiserver.log"), marker: "kube-apiserver", netns,
      });
      procs.push(apiserver);
      await waitUntil("kube-apiserver /readyz", () => healthz(server, ca.cert, adminCert), {
        timeoutMs: 120_000, proc: apiserver, intervalMs: 500,
      });
    };
    await startApiserver();

    const kubeconfig = path.join(dir, "kubeconfig");
    writeKubeconfig(kubeconfig, server, ca.cert, adminCert);

    if (opts.controllerManager ?? true) {
      const kcmKubeconfig = path.join(dir, "kube-controller-manager.kubeconfig");
      writeKubeconfig(kcmKubeconfig, innerServer, ca.cert, kcmCert, "system:kube-controller-manager");
      const kcm = spawnManaged("kube-controller-manager", k8sBinary("kube-controller-manager"), [
        "--kubeconfig", kcmKubeconfig,
        "--authentication-kubeconfig", kcmKubeconfig, "--authorization-kubeconfig", kcmKubeconfig,
        "--bind-address", "127.0.0.1", "--secure-port", String(await portFor(10257)),
        "--leader-elect=false",
        "--use-service-account-credentials=true",
        "--service-account-private-key-file", sa.key,
        "--root-ca-file", ca.cert,
        "--cluster-signing-cert-file", ca.cert, "--cluster-signing-key-file", ca.key,
        "--controllers", `*,-nodeipam,${opts.nodeLifecycle ? "" : "-nodelifecycle,"}-cloud-node-lifecycle,-service-lb-controller,-route,${opts.volumeBinder ? "" : "-persistentvolume-binder,"}-attachdetach,-persistentvolume-expander,-ttl`,
        "--concurrent-gc-syncs", "5",
      ], { logFile: path.join(logs, "kube-controller-manager.log"), marker: "kube-controller-manager", netns });
      procs.push(kcm);
      await waitUntil("kube-controller-manager start-up", async () => {
        const log = kcm.outputTail(200_000);
        return log.includes("Started controller") || log.includes("Starting controller");
      }, { timeoutMs: 60_000, proc: kcm, intervalMs: 500 });
    }

    const kubectl = kubectlFor(kubeconfig);

    return {
      dir, server, innerServer, kubeconfig, auditLog, ca, adminCert, kubectl,
      async stopApiserver() { await apiserver?.stop(10_000); },
      startApiserver,
      async stop() {
        await stopAll();
        if (!opts.dir) fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/**
 * Waits until the named CRDs are Established. (`kubectl wait` right after an apply
 * can fail before the API server has written any condition.)
 */
export async function waitCrdsEstablished(cp: Pick<ControlPlane, "kubectl">, names: string[], timeoutMs = 60_000): Promise<void> {
  const established = async (name: string) => {
    const crd = JSON.parse(await cp.kubectl(["get", "crd", name, "-o", "json"])) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ?? false;
  };
  await eventually(`CRDs Established: ${names.join(", ")}`, async () => {
    const ok = await Promise.all(names.map((n) => established(n).catch(() => false)));
    return ok.every(Boolean);
  }, timeoutMs);
}

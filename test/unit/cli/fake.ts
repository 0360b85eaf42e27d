// An in-memory MocoApi and a runCli harness for the plugin's unit tests.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import type { AnnotationPatch, MocoApi } from "../../../src/cli/api.ts";
import { runCli, type CliDeps } from "../../../src/cli/program.ts";
import type { ExecRequest, PodExecutor } from "../../../src/cli/exec.ts";
import { ApiError } from "../../../src/k8s/errors.ts";

function notFound(kind: string, name: string): ApiError {
  return new ApiError("GET", `/${kind}/${name}`, 404, {
    kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404,
    message: `${kind} "${name}" not found`,
  });
}

function applyPatch(annotations: Record<string, string> | undefined, patch: AnnotationPatch): Record<string, string> {
  const out = { ...(annotations ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

export interface Call { op: string; namespace: string; name: string; patch?: AnnotationPatch }

export class FakeApi implements MocoApi {
  clusters = new Map<string, MySQLCluster>();
  secrets = new Map<string, k8s.V1Secret>();
  pods = new Map<string, k8s.V1Pod>();
  events: k8s.CoreV1Event[] = [];
  calls: Call[] = [];
  /** Called on every getCluster (lets a test change state while a command waits). */
  onGetCluster?: (c: MySQLCluster) => void;

  static key(ns: string, name: string): string { return `${ns}/${name}`; }

  async getCluster(namespace: string, name: string): Promise<MySQLCluster> {
    this.calls.push({ op: "getCluster", namespace, name });
    const c = this.clusters.get(FakeApi.key(namespace, name));
    if (!c) throw notFound("mysqlclusters.moco.cybozu.com", name);
    this.onGetCluster?.(c);
    return structuredClone(c);
  }
  async listClusters(namespace: string): Promise<MySQLCluster[]> {
    return [...this.clusters.values()].filter((c) => c.metadata?.namespace === namespace).map((c) => structuredClone(c));
  }
  async patchClusterAnnotations(namespace: string, name: string, patch: AnnotationPatch): Promise<MySQLCluster> {
    this.calls.push({ op: "patchCluster", namespace, name, patch });
    const c = this.clusters.get(FakeApi.key(namespace, name));
    if (!c) throw notFound("mysqlclusters.moco.cybozu.com", name);
    c.metadata = { ...c.metadata, annotations: applyPatch(c.metadata?.annotations, patch) };
    return structuredClone(c);
  }
  async getSecret(namespace: string, name: string): Promise<k8s.V1Secret> {
    this.calls.push({ op: "getSecret", namespace, name });
    const s = this.secrets.get(FakeApi.key(namespace, name));
    if (!s) throw notFound("secrets", name);
    return structuredClone(s);
  }
  async getPod(namespace: string, name: string): Promise<k8s.V1Pod> {
    this.calls.push({ op: "getPod", namespace, name });
    const p = this.pods.get(FakeApi.key(namespace, name));
    if (!p) throw notFound("pods", name);
    return structuredClone(p);
  }
  async listPods(namespace: string): Promise<k8s.V1Pod[]> {
    return [...this.pods.values()].filter((p) => p.metadata?.namespace === namespace).map((p) => structuredClone(p));
  }
  async patchPodAnnotations(namespace: string, name: string, patch: AnnotationPatch): Promise<k8s.V1Pod> {
    this.calls.push({ op: "patchPod", namespace, name, patch });
    const p = this.pods.get(FakeApi.key(namespace, name));
    if (!p) throw notFound("pods", name);
    p.metadata = { ...p.metadata, annotations: applyPatch(p.metadata?.annotations, patch) };
    return structuredClone(p);
  }
  async listEvents(namespace: string, kind: string, name: string): Promise<k8s.CoreV1Event[]> {
    return this.events.filter((e) => e.metadata?.namespace === namespace && e.involvedObject.kind === kind && e.involvedObject.name === name);
  }

  addCluster(ns: string, name: string, opts: {
    replicas?: number; primary?: number; healthy?: string; offline?: boolean;
    annotations?: Record<string, string>; noStatus?: boolean;
  } = {}): MySQLCluster {
    const c: MySQLCluster = {
      apiVersion: "moco.cybozu.com/v1beta2",
      kind: "MySQLCluster",
      metadata: { namespace: ns, name, annotations: opts.annotations },
      spec: {
        replicas: opts.replicas ?? 3,
        offline: opts.offline,
        podTemplate: { spec: { containers: [{ name: "mysqld", image: "mysql" }] } },
        volumeClaimTemplates: [{ metadata: { name: "mysql-data" }, spec: {} }],
      } as MySQLCluster["spec"],
    };
    if (!opts.noStatus) {
      c.status = {
        currentPrimaryIndex: opts.primary ?? 0,
        conditions: [
          { type: "Available", status: "True", reason: "Healthy", message: "the current state is Healthy", lastTransitionTime: "2024-01-01T00:00:00Z" },
          {
            type: "Healthy", status: opts.healthy ?? "True", reason: "Healthy",
            message: `the current state is ${opts.healthy === "False" ? "Degraded" : "Healthy"}`,
            lastTransitionTime: "2024-01-01T00:00:00Z",
          },
        ],
      } as MySQLCluster["status"];
    }
    this.clusters.set(FakeApi.key(ns, name), c);
    return c;
  }

  addPods(ns: string, cluster: string, n: number, opts: { phase?: string; primary?: number; ip?: (i: number) => string } = {}): void {
    for (let i = 0; i < n; i++) {
      const name = `moco-${cluster}-${i}`;
      this.pods.set(FakeApi.key(ns, name), {
        metadata: {
          namespace: ns, name,
          labels: {
            "app.kubernetes.io/name": "mysql", "app.kubernetes.io/instance": cluster, "app.kubernetes.io/created-by": "moco",
            "moco.cybozu.com/role": i === (opts.primary ?? 0) ? "primary" : "replica",
          },
        },
        status: {
          phase: opts.phase ?? "Running",
          podIP: opts.ip ? opts.ip(i) : `10.0.0.${i + 1}`,
          conditions: [{ type: "Ready", status: "True" }],
        },
      });
    }
  }

  addSecret(ns: string, cluster: string, passwords: Record<string, string>, version: string | undefined = "1"): void {
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(passwords)) data[k] = Buffer.from(v).toString("base64");
    this.secrets.set(FakeApi.key(ns, `moco-${cluster}`), {
      metadata: { namespace: ns, name: `moco-${cluster}`, annotations: version === undefined ? {} : { "moco.cybozu.com/secret-version": version } },
      data,
    });
  }
}

/** An executor whose interactive runs answer with `interactive`; collect() is not expected. */
export function fakeExec(interactive: (req: ExecRequest) => Promise<number>): PodExecutor {
  return {
    interactive,
    collect: async () => { throw new Error("fake executor: collect() not expected"); },
  };
}

export interface RunResult { code: number; stdout: string; stderr: string }

/** A kubeconfig file content with one context whose namespace is `ns`. */
export function kubeconfigYaml(opts: { server?: string; namespace?: string; contexts?: { name: string; namespace?: string }[]; current?: string } = {}): string {
  const contexts = opts.contexts ?? [{ name: "main", namespace: opts.namespace }];
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: c1",
    "  cluster:",
    `    server: ${opts.server ?? "https://127.0.0.1:6443"}`,
    "    insecure-skip-tls-verify: true",
    "- name: c2",
    "  cluster:",
    "    server: https://10.9.9.9:6443",
    "users:",
    "- name: u1",
    "  user:",
    "    token: t1",
    "- name: u2",
    "  user:",
    "    token: t2",
    "contexts:",
    ...contexts.flatMap((c) => [
      `- name: ${c.name}`,
      "  context:",
      "    cluster: c1",
      "    user: u1",
      ...(c.namespace ? [`    namespace: ${c.namespace}`] : []),
    ]),
    `current-context: ${opts.current ?? contexts[0]?.name ?? "main"}`,
    "",
  ].join("\n");
}

/** A kubeconfig whose only context has namespace "ctx-ns" (the default of run()). */
export const DEFAULT_KUBECONFIG = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "moco-cli-")), "config");
fs.writeFileSync(DEFAULT_KUBECONFIG, kubeconfigYaml({ namespace: "ctx-ns" }));

/** runCli with the fake API, captured output and an instant clock. */
export async function run(api: FakeApi, argv: string[], deps: Partial<CliDeps> = {}): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  let now = 1_700_000_000_000;
  const code = await runCli(argv, {
    env: { KUBECONFIG: DEFAULT_KUBECONFIG },
    stdout: (s) => { stdout += s; },
    stderr: (s) => { stderr += s; },
    makeApi: () => api,
    sleep: async (ms) => { now += ms; },
    now: () => now,
    exec: fakeExec(async () => 0),
    ...deps,
  });
  return { code, stdout, stderr };
}

// The helm CLI built by test/env/build-helm.sh (.cache/bin/helm), run on charts/moco-ts:
// `helmTemplate(values)` renders the chart as `helm template` does for an install into
// `namespace` (default moco-system); `helmLint(values)` lints it; `runHelm(args, values)`
// runs any other command (install, upgrade, uninstall). Values are passed as a
// file (JSON is YAML), never by --set, so lists and nested objects keep their types.
// Helm's own state (cache, config, data) stays under .cache/helm-home.
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { binDir, cacheDir, makeTmpDir, repoRoot } from "./procs.ts";

export const helmBin = path.join(binDir, "helm");
export const chartDir = path.join(repoRoot, "charts", "moco-ts");
/** The release name of MOCO's recommended install (helm install moco … -n moco-system). */
export const DEFAULT_RELEASE = "moco";
export const DEFAULT_NAMESPACE = "moco-system";
/** The controller's ServiceAccount in the chart. */
export const CONTROLLER_SERVICE_ACCOUNT = "moco-controller-manager";
/** The user name of the controller's ServiceAccount in the API server. */
export const controllerUser = (namespace = DEFAULT_NAMESPACE) => `system:serviceaccount:${namespace}:${CONTROLLER_SERVICE_ACCOUNT}`;

export interface HelmRun {
  readonly values?: Record<string, unknown>;
  readonly namespace?: string;
  readonly release?: string;
}

function helmEnv(): NodeJS.ProcessEnv {
  const home = path.join(cacheDir, "helm-home");
  return {
    ...process.env,
    HELM_CACHE_HOME: path.join(home, "cache"),
    HELM_CONFIG_HOME: path.join(home, "config"),
    HELM_DATA_HOME: path.join(home, "data"),
  };
}

/** Runs helm with `args` (and `values` as a values file); throws with helm's output when it fails. */
export function runHelm(args: readonly string[], values?: Record<string, unknown>): string {
  if (!fs.existsSync(helmBin)) throw new Error(`${helmBin} is missing: run test/env/build-helm.sh`);
  const dir = values === undefined ? undefined : makeTmpDir("helm-values-");
  try {
    const valueArgs: string[] = [];
    if (dir !== undefined) {
      const file = path.join(dir, "values.json");
      fs.writeFileSync(file, JSON.stringify(values));
      valueArgs.push("--values", file);
    }
    try {
      return execFileSync(helmBin, [...args, ...valueArgs], { encoding: "utf8", env: helmEnv(), maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string };
      const detail = [err.stdout, err.stderr].map((x) => (x ?? "").trim()).filter((x) => x !== "").join("\n");
      throw new Error(`helm ${args[0] ?? ""} failed: ${detail || String(e)}`, { cause: e });
    }
  } finally {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * runHelm without blocking the event loop: needed when the kubeconfig's server is a forward
 * served by this very process (the real node's, test/env/netns.ts forwardIntoNetns).
 */
export function runHelmAsync(args: readonly string[]): Promise<string> {
  if (!fs.existsSync(helmBin)) return Promise.reject(new Error(`${helmBin} is missing: run test/env/build-helm.sh`));
  return new Promise((resolve, reject) => {
    execFile(helmBin, [...args], { encoding: "utf8", env: helmEnv(), maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
      if (e) reject(new Error(`helm ${args[0] ?? ""} failed: ${[stdout, stderr].map((x) => x.trim()).filter((x) => x !== "").join("\n") || String(e)}`, { cause: e }));
      else resolve(stdout);
    });
  });
}

/** `helm template` of charts/moco-ts: the rendered manifests (documents headed `# Source: …`). */
export function helmTemplate(run: HelmRun = {}): string {
  return runHelm(["template", run.release ?? DEFAULT_RELEASE, chartDir, "--namespace", run.namespace ?? DEFAULT_NAMESPACE], run.values);
}

/** `helm lint --strict` of charts/moco-ts; returns its output (throws on a lint error). */
export function helmLint(run: HelmRun = {}): string {
  return runHelm(["lint", "--strict", chartDir, "--namespace", run.namespace ?? DEFAULT_NAMESPACE], run.values);
}

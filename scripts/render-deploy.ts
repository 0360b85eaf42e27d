// Renders deploy/ from the Helm chart charts/moco-ts (the one source of the install):
// `helm template moco charts/moco-ts -n moco-system` with the default values, each chart
// template written to its plain-manifest file, plus the Namespace that `helm install
// --create-namespace` would make. The chart's CRD and webhook templates are themselves
// generated from src/api/v1beta2 by scripts/gen-crds.ts: run that first.
//
// Usage: node scripts/render-deploy.ts [--check]   (npm run render-deploy)
//   --check  compare instead of writing; exit 1 when deploy/ is stale
// Needs .cache/bin/helm (test/env/build-helm.sh).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { stringify } from "yaml";
import { DEFAULT_NAMESPACE, helmTemplate } from "../test/env/helm.ts";
import { REPO_ROOT } from "./gen-crds.ts";

export const DEPLOY_DIR = "deploy";
const HEADER = "# Rendered by scripts/render-deploy.ts from charts/moco-ts (helm template moco -n moco-system); do not edit.\n";

/** Chart template (path under templates/) → the file of deploy/ it is rendered into. */
export const DEPLOY_FILE_OF_TEMPLATE: Readonly<Record<string, string>> = {
  "crds/moco.cybozu.com_mysqlclusters.yaml": "deploy/crds/moco.cybozu.com_mysqlclusters.yaml",
  "crds/moco.cybozu.com_backuppolicies.yaml": "deploy/crds/moco.cybozu.com_backuppolicies.yaml",
  "rbac.yaml": "deploy/controller/10-rbac.yaml",
  "user-roles.yaml": "deploy/controller/11-user-roles.yaml",
  "controller.yaml": "deploy/controller/20-controller.yaml",
  "delete-validator.yaml": "deploy/controller/30-delete-validator.yaml",
  "webhook-configurations.yaml": "deploy/webhooks/moco_webhook_configurations.yaml",
};
export const NAMESPACE_FILE = "deploy/controller/00-namespace.yaml";

/**
 * Splits `helm template` output into its documents, grouped by the chart template
 * they come from (the `# Source: <chart>/templates/<path>` line helm puts first).
 */
export function documentsBySource(rendered: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const chunk of rendered.split(/^---\n/m)) {
    if (chunk.trim() === "") continue;
    const m = /^# Source: [^/\n]+\/templates\/([^\n]+)\n/.exec(chunk);
    if (m === null) throw new Error(`a rendered document without a "# Source:" line: ${chunk.slice(0, 80)}`);
    const docs = out.get(m[1]!) ?? [];
    docs.push(chunk.slice(m[0].length));
    out.set(m[1]!, docs);
  }
  return out;
}

/** The content of every deploy/ file, rendered from the chart with its default values. */
export function renderDeployFiles(): Record<string, string> {
  const files: Record<string, string> = {
    [NAMESPACE_FILE]: HEADER + stringify({
      apiVersion: "v1", kind: "Namespace",
      metadata: { name: DEFAULT_NAMESPACE, labels: { "app.kubernetes.io/name": "moco" } },
    }),
  };
  for (const [template, docs] of documentsBySource(helmTemplate())) {
    const file = DEPLOY_FILE_OF_TEMPLATE[template];
    if (file === undefined) throw new Error(`chart template ${template} has no file in deploy/: add it to DEPLOY_FILE_OF_TEMPLATE`);
    files[file] = HEADER + docs.map((d) => `${d.trimEnd()}\n`).join("---\n");
  }
  return files;
}

/** Every file under deploy/ (repository-relative paths). */
export function committedDeployFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const root = join(REPO_ROOT, DEPLOY_DIR);
  return existsSync(root) ? walk(root).map((f) => relative(REPO_ROOT, f)).sort() : [];
}

function main(argv: readonly string[]): number {
  const check = argv.includes("--check");
  const files = renderDeployFiles();
  const stale: string[] = [];
  for (const [rel, content] of Object.entries(files)) {
    const abs = join(REPO_ROOT, rel);
    if (existsSync(abs) && readFileSync(abs, "utf8") === content) continue;
    if (check) { stale.push(rel); continue; }
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
    console.log(`wrote ${rel}`);
  }
  for (const rel of committedDeployFiles()) {
    if (rel in files) continue;
    if (check) { stale.push(`${rel} (not rendered from the chart)`); continue; }
    rmSync(join(REPO_ROOT, rel));
    console.log(`removed ${rel}`);
  }
  if (stale.length > 0) {
    console.error(`deploy/ is stale against charts/moco-ts (run npm run render-deploy): ${stale.join(", ")}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  process.exitCode = main(process.argv.slice(2));
}

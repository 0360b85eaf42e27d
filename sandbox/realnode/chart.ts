// moco-ts on the real node from its Helm chart (charts/moco-ts), as MOCO recommends
// (release moco, namespace moco-system): the values that point the chart at the images the
// node imported (test/env/build-images.sh), and `helm upgrade --install` with them.
import fs from "node:fs";
import path from "node:path";
import { chartDir, runHelm, DEFAULT_NAMESPACE, DEFAULT_RELEASE } from "../../test/env/helm.ts";
import { imagesDir } from "./node.ts";

/** An image the node imports, by the name manifests use (not its localhost/… build name). */
export function importedImage(base: string): { repository: string; tag: string } {
  const file = path.join(imagesDir, `${base}.names`);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run test/env/build-images.sh`);
  const names = fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
  const name = names.find((n) => !n.startsWith("localhost/")) ?? names[0];
  if (!name) throw new Error(`${file} is empty: run test/env/build-images.sh`);
  const i = name.lastIndexOf(":");
  return { repository: name.slice(0, i), tag: name.slice(i + 1) };
}

/** Chart values: the node's images for the controller, agent/backup (same image), exporter and slow-log sidecars. */
export function nodeChartValues(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image: { ...importedImage("moco-ts"), pullPolicy: "IfNotPresent" },
    fluentbit: { image: importedImage("slowlog") },
    mysqldExporter: { image: importedImage("exporter") },
    ...extra,
  };
}

/** `helm upgrade --install moco charts/moco-ts -n moco-system --create-namespace` with `values`; returns the release's revision. */
export function helmUpgradeInstall(kubeconfig: string, values: Record<string, unknown>): number {
  const common = ["--namespace", DEFAULT_NAMESPACE, "--kubeconfig", kubeconfig];
  runHelm(["upgrade", "--install", DEFAULT_RELEASE, chartDir, "--create-namespace", ...common], values);
  const status = JSON.parse(runHelm(["status", DEFAULT_RELEASE, ...common, "-o", "json"])) as { version: number };
  return status.version;
}

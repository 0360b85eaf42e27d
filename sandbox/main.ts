// `npm run sandbox` — moco-ts on a real single-node Kubernetes on this machine (docs/sandbox.md).
//   up      provision what is missing (test/env/provision-node.sh, build-helm.sh), start the
//           real node (sandbox/realnode) in a background supervisor, `helm install` moco-ts
//           from charts/moco-ts, apply a 3-instance MySQLCluster and wait until it is
//           Available and Healthy, with progress
//   down    stop the node; fails if any process, mount, cgroup, namespace or iptables rule of
//           it is left on the host
//   status  whether it runs, and `kubectl get mysqlcluster -A`
//   kubectl kubectl against it (`npm run sandbox -- kubectl get pods -A`)
// The node is MOCO_TS_SANDBOX_NODE (default moco-ts-sandbox); its files are under
// .cache/realnode/<name> (containerd's image store stays there as a cache after down).
import { execFileSync } from "node:child_process";
import path from "node:path";
import { Command } from "commander";
import { DEFAULT_NAMESPACE } from "../test/env/helm.ts";
import { k8sBinary } from "../test/env/kube.ts";
import { repoRoot, sleep } from "../test/env/procs.ts";
import { mysqlClusterManifest } from "./cluster-manifest.ts";
import { helmUpgradeInstall, nodeChartValues } from "./realnode/chart.ts";
import { hostKubeconfig, nodeDown, nodeRunning, nodeUp } from "./realnode/main.ts";
import { nodeLayout, nodeNetnsFile } from "./realnode/node.ts";

const NODE = process.env.MOCO_TS_SANDBOX_NODE ?? "moco-ts-sandbox";
const layout = nodeLayout(NODE);
export const SANDBOX_KUBECONFIG = hostKubeconfig(layout);

function kubectl(args: string[], input?: string): string {
  return execFileSync(k8sBinary("kubectl"), ["--kubeconfig", SANDBOX_KUBECONFIG, ...args], {
    encoding: "utf8", input, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], maxBuffer: 64 << 20,
  });
}

function step(msg: string): void {
  process.stdout.write(`==> ${msg}\n`);
}

async function waitFor(what: string, probe: () => string | undefined, timeoutMs: number): Promise<void> {
  const start = Date.now();
  let last = "";
  for (;;) {
    let state: string | undefined;
    try { state = probe(); } catch (e) { state = `(${(e as Error).message.split("\n")[0]})`; }
    if (state === undefined) {
      process.stdout.write(`    ${what}: done after ${Math.round((Date.now() - start) / 1000)} s\n`);
      return;
    }
    if (state !== last) {
      process.stdout.write(`    ${what}: ${state} (${Math.round((Date.now() - start) / 1000)} s)\n`);
      last = state;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what} (last state: ${state})`);
    await sleep(2000);
  }
}

async function up(opts: { name: string; namespace: string; replicas: string; timeout: string }): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the sandbox needs root (network namespaces, mounts, cgroups)");
  const t0 = Date.now();
  step("provisioning (cached under .cache/): test/env/provision-node.sh, test/env/build-helm.sh");
  for (const script of ["provision-node.sh", "build-helm.sh"]) {
    execFileSync("bash", [path.join(repoRoot, "test", "env", script)], { stdio: "inherit" });
  }
  step(`starting the real node ${NODE}`);
  await nodeUp(NODE);
  step("installing moco-ts: helm upgrade --install moco charts/moco-ts -n moco-system");
  const revision = helmUpgradeInstall(SANDBOX_KUBECONFIG, nodeChartValues());
  process.stdout.write(`    release moco revision ${revision}\n`);
  await waitFor("CRDs", () => {
    const out = kubectl(["get", "crd", "mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com", "-o",
      "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Established')].status}{end}"]);
    return out === "TrueTrue" ? undefined : "establishing";
  }, 60_000);
  await waitFor("moco-controller", () => {
    const out = kubectl(["-n", DEFAULT_NAMESPACE, "get", "deploy", "moco-controller", "-o", "jsonpath={.status.availableReplicas}/{.spec.replicas}"]);
    const [available, wanted] = out.split("/");
    return Number(available) >= Number(wanted) ? undefined : `${available || 0}/${wanted} replicas available`;
  }, 300_000);
  await waitFor("webhook certificates", () => {
    const out = kubectl(["get", "mutatingwebhookconfiguration", "moco-mutating-webhook-configuration", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"]);
    return out.length > 0 ? undefined : "waiting for the controller to inject its CA";
  }, 120_000);
  step(`applying MySQLCluster ${opts.namespace}/${opts.name} with ${opts.replicas} instances`);
  if (opts.namespace !== "default") kubectl(["apply", "-f", "-"], kubectl(["create", "namespace", opts.namespace, "--dry-run=client", "-o", "yaml"]));
  const applyStart = Date.now();
  kubectl(["apply", "-f", "-"], mysqlClusterManifest({ name: opts.name, namespace: opts.namespace, replicas: Number(opts.replicas) }));
  await waitFor("cluster", () => {
    const out = kubectl(["-n", opts.namespace, "get", "mysqlcluster", opts.name, "-o",
      "jsonpath={.status.conditions[?(@.type=='Available')].status}/{.status.conditions[?(@.type=='Healthy')].status}/{.status.syncedReplicas}"]);
    const [available, healthy, synced] = out.split("/");
    const pods = kubectl(["-n", opts.namespace, "get", "pods", "-l", `app.kubernetes.io/instance=${opts.name}`, "--no-headers",
      "-o", "custom-columns=P:.metadata.name,S:.status.phase"]).trim().split("\n").filter(Boolean).map((l) => l.replace(/\s+/, " ")).join(", ");
    return available === "True" && healthy === "True" ? undefined
      : `available=${available || "-"} healthy=${healthy || "-"} synced replicas=${synced || 0}; pods: ${pods || "none yet"}`;
  }, Number(opts.timeout) * 1000);
  const applyToHealthy = Math.round((Date.now() - applyStart) / 100) / 10;
  process.stdout.write("\n" + kubectl(["-n", opts.namespace, "get", "mysqlcluster", opts.name]) + "\n");
  process.stdout.write(`moco-ts sandbox is up (${Math.round((Date.now() - t0) / 1000)} s; apply → Available and Healthy ${applyToHealthy} s).

  kubectl:      npm run sandbox -- kubectl get mysqlcluster -A
                or: export KUBECONFIG=${SANDBOX_KUBECONFIG}; ${k8sBinary("kubectl")} get pods -A
  mysql:        npm run sandbox -- kubectl -n ${opts.namespace} exec -it moco-${opts.name}-0 -c mysqld -- mysql -u moco-readonly -p
                (password: Secret moco-${opts.name}, key READONLY_PASSWORD)
  Pod addresses: only inside the node's network namespace: nsenter --net=${nodeNetnsFile(layout)} -- mysql -h <pod IP> …
  tear down:    npm run sandbox -- down
`);
}

async function down(): Promise<void> {
  step(`stopping the real node ${NODE}`);
  await nodeDown(NODE);
}

function status(): void {
  if (!nodeRunning(NODE)) {
    process.stdout.write(`sandbox: not running (node ${NODE})\n`);
    return;
  }
  process.stdout.write(`sandbox: running (node ${NODE}, kubeconfig ${SANDBOX_KUBECONFIG})\n`);
  try { process.stdout.write(kubectl(["get", "mysqlcluster", "-A"])); } catch (e) { process.stdout.write(`${(e as Error).message}\n`); }
}

const program = new Command("sandbox").description("moco-ts on a real single-node Kubernetes on this machine");
program.command("up", { isDefault: true }).description("start the node, helm install moco-ts, apply a MySQLCluster, wait until it is healthy")
  .option("--name <name>", "MySQLCluster name", "sandbox")
  .option("--namespace <ns>", "namespace", "default")
  .option("--replicas <n>", "instances (1, 3 or 5)", "3")
  .option("--timeout <seconds>", "how long to wait for the cluster", "900")
  .action(async (o: { name: string; namespace: string; replicas: string; timeout: string }) => up(o));
program.command("down").description("stop the node; fails if anything of it is left on the host").action(down);
program.command("status").description("show the sandbox state").action(status);
program.command("kubectl").description("kubectl against the sandbox").allowUnknownOption().helpOption(false)
  .argument("[args...]").action((args: string[]) => {
    try {
      execFileSync(k8sBinary("kubectl"), ["--kubeconfig", SANDBOX_KUBECONFIG, ...args], { stdio: "inherit" });
    } catch (e) { process.exitCode = (e as { status?: number }).status ?? 1; }
  });

if (import.meta.main) {
  program.parseAsync(process.argv).catch((e: unknown) => {
    process.stderr.write(`sandbox: ${(e as Error).message}\n`);
    process.exit(1);
  });
}

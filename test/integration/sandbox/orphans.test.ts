// Container processes die with the sandbox node process, also when they run as a
// non-root user (a credential change clears PDEATHSIG; the launcher sets it again).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { repoRoot, makeTmpDir } from "../../env/procs.ts";
import { eventually } from "../../env/eventually.ts";
import { BRIDGE_IP, ensureBridge } from "../../../sandbox/net.ts";

const MARKER = "864213579";

function markerPids(): number[] {
  try {
    return execFileSync("pgrep", ["-f", `sleep ${MARKER}`], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch { return []; }
}

describe("sandbox node process death", () => {
  let cp: ControlPlane;
  let child: ChildProcess | undefined;
  const dataDir = makeTmpDir("sandbox-orphans-");

  before(async () => {
    ensureBridge();
    cp = await startControlPlane({ bindAddress: BRIDGE_IP, volumeBinder: true, controllerManager: false });
  });
  after(async () => {
    child?.kill("SIGKILL");
    await cp?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("kills non-root container processes when the node process is SIGKILLed", async () => {
    const port = Number(new URL(cp.server).port);
    const script = `
      import { SandboxNode } from ${JSON.stringify(path.join(repoRoot, "sandbox", "node.ts"))};
      const node = new SandboxNode({ kubeconfig: ${JSON.stringify(cp.kubeconfig)}, dataDir: ${JSON.stringify(dataDir)},
        apiserver: { host: ${JSON.stringify(BRIDGE_IP)}, port: ${port} }, caCertFile: ${JSON.stringify(cp.ca.cert)},
        addressBlocks: [201, 205], log: () => {} });
      await node.start();
      setInterval(() => {}, 1000);
    `;
    child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "ignore" });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await eventually("default namespace", async () => (await core.readNamespace({ name: "default" })) ? true : undefined);
    // No kube-controller-manager here: create the ServiceAccount the admission plugin wants.
    await core.createNamespacedServiceAccount({ namespace: "default", body: { metadata: { name: "default" } } });
    await core.createNamespacedPod({ namespace: "default", body: {
      metadata: { name: "sleeper" },
      spec: {
        automountServiceAccountToken: false,
        securityContext: { runAsUser: 10000, runAsGroup: 10000 },
        containers: [{ name: "c", image: "moco-ts.sandbox/host", command: ["sleep", MARKER] }],
      },
    } });
    const pids = await eventually("the container process", async () => {
      const p = markerPids();
      return p.length > 0 ? p : undefined;
    }, 60_000);
    for (const pid of pids) {
      assert.match(fs.readFileSync(`/proc/${pid}/status`, "utf8"), /^Uid:\s+10000\b/m, "runs as the Pod's user");
    }
    child.kill("SIGKILL");
    await eventually("container processes gone", async () => (markerPids().length === 0 ? true : undefined), 15_000);
    // Its network namespace is left for the next node start (recorded in its data dir).
    assert.ok(fs.readFileSync(path.join(dataDir, "netns"), "utf8").includes("mocots-"));
    for (const ns of fs.readFileSync(path.join(dataDir, "netns"), "utf8").split("\n").filter(Boolean)) {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    }
  });
});

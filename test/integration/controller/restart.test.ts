// The moco-controller process (node src/controller/main.ts) killed with SIGKILL in the
// middle of reconciling 30 clusters, then started again: it takes the Lease over and
// converges with no duplicate objects and the same passwords and CA. Also: /healthz,
// /readyz, /metrics, graceful SIGTERM (exit 0, Lease released).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { GiveUp } from "../../env/eventually.ts";
import { freePort } from "../../env/procs.ts";
import { REPO_ROOT, SYS_NS, clusterManifest, eventually, getJson, startHarness, type Harness } from "../../env/controller-harness.ts";

const NS = "restart";
const N = 30;
// Short for a quick takeover after the SIGKILL, yet long enough that a loaded machine (CI runs
// the e2e stream beside this one) does not make the leader miss its renew deadline (2/3 of it)
// and exit because its work did not end within the remaining third.
const LEASE_S = 6;

interface Proc { child: ChildProcess; metrics: string; health: string; exited: Promise<number | null> }

describe("moco-controller process: SIGKILL mid-reconcile, restart, converge", { timeout: 300_000 }, () => {
  let h: Harness;
  const procs: Proc[] = [];
  const logOf = (tag: string) => path.join(h.cp.dir, `controller-${tag}.log`);
  /** The last lines of each controller's log, added to a failure (logs carry no secrets). */
  const logTails = () => ["a", "b"].map((tag) => {
    const lines = fs.existsSync(logOf(tag)) ? fs.readFileSync(logOf(tag), "utf8").trimEnd().split("\n") : [];
    return `--- controller ${tag} (last 20 of ${lines.length} lines)\n${lines.slice(-20).join("\n")}`;
  }).join("\n");

  async function spawnController(tag: string): Promise<Proc> {
    const mport = await freePort();
    const hport = await freePort();
    const log = fs.openSync(logOf(tag), "a");
    const child = spawn(process.execPath, [
      path.join(REPO_ROOT, "src/controller/main.ts"),
      "--kubeconfig", h.cp.kubeconfig,
      "--metrics-addr", `127.0.0.1:${mport}`,
      "--health-probe-addr", `127.0.0.1:${hport}`,
      "--webhook-addr", "0",
      "--max-concurrent-reconciles", "4",
      "--check-interval", "1m",
      "--pvc-sync-label-keys", "tier",
    ], { env: { ...process.env, POD_NAMESPACE: SYS_NS, MOCO_LEASE_DURATION: `${LEASE_S}s`, MOCO_CHECK_INTERVAL: "100ms" }, stdio: ["ignore", log, log] });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const p = { child, metrics: `http://127.0.0.1:${mport}/metrics`, health: `http://127.0.0.1:${hport}`, exited };
    procs.push(p);
    await eventually(`controller ${tag} /healthz`, async () => (await fetch(`${p.health}/healthz`)).ok, 60_000);
    return p;
  }

  before(async () => {
    h = await startHarness();
    await h.kubectl(["create", "namespace", NS]);
  });
  after(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGKILL");
    await h?.stop();
  });

  it("converges after a SIGKILL with no duplicates, same passwords, one CA", async () => {
    try {
      await sigkillAndConverge();
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${logTails()}`, { cause: e });
    }
  });

  async function sigkillAndConverge(): Promise<void> {
    const a = await spawnController("a");
    assert.equal((await fetch(`${a.health}/readyz`)).status, 200);
    const docs = Array.from({ length: N }, (_, i) => JSON.stringify(clusterManifest(NS, `r${i}`))).join("\n---\n");
    await h.kubectl(["apply", "-f", "-"], docs);
    // Kill it once some, but not all, clusters have their StatefulSet.
    await eventually("some StatefulSets", async () => {
      const n = (await h.kubectl(["get", "sts", "-n", NS, "-o", "name"])).trim().split("\n").filter((l) => l !== "").length;
      return n >= 3;
    }, 120_000, 50);
    a.child.kill("SIGKILL");
    assert.equal(await a.exited, null);
    const stsAtKill = (await h.kubectl(["get", "sts", "-n", NS, "-o", "name"])).trim().split("\n").length;
    console.log(`killed controller A with ${stsAtKill}/${N} StatefulSets created`);

    const b = await spawnController("b");
    const t0 = Date.now();
    await eventually("every cluster reconciled", async () => {
      if (b.child.exitCode !== null) throw new GiveUp(`controller B exited with ${b.child.exitCode}`);
      const list = await getJson<{ items: { metadata: { generation: number }; status?: { reconcileInfo?: { generation?: number }; conditions?: { type: string; status: string }[] } }[] }>(h, ["mysqlcluster", "-n", NS]);
      return list.items.length === N && list.items.every((c) =>
        c.status?.reconcileInfo?.generation === c.metadata.generation &&
        c.status.conditions?.some((x) => x.type === "ReconcileSuccess" && x.status === "True"));
    }, 180_000, 500);
    console.log(`controller B converged ${N} clusters in ${Date.now() - t0} ms (including the ${LEASE_S}s Lease takeover)`);

    const names = (await h.kubectl(["get", "sts,svc,secret,sa,cm,pdb", "-n", NS, "-o", "name"])).trim().split("\n");
    const count = (re: RegExp) => names.filter((n) => re.test(n)).length;
    for (let i = 0; i < N; i++) {
      const c = `r${i}`;
      assert.equal(count(new RegExp(`^configmap/moco-${c}\\.[0-9a-f]{8}$`)), 1, `${c}: one my.cnf ConfigMap`);
      assert.equal(count(new RegExp(`^configmap/moco-slow-log-agent-config-${c}\\.[0-9a-f]{8}$`)), 1, `${c}: one slow-log ConfigMap`);
      for (const n of [`statefulset.apps/moco-${c}`, `service/moco-${c}`, `service/moco-${c}-primary`, `service/moco-${c}-replica`, `secret/moco-${c}`, `secret/moco-my-cnf-${c}`, `secret/moco-${c}-grpc`, `serviceaccount/moco-${c}`, `poddisruptionbudget.policy/moco-${c}`]) {
        assert.equal(names.filter((x) => x === n).length, 1, n);
      }
    }
    const sys = await getJson<{ items: { metadata: { name: string }; data?: Record<string, string> }[] }>(h, ["secret", "-n", SYS_NS]);
    assert.equal(sys.items.filter((s) => s.metadata.name.startsWith(`mysql-${NS}.`)).length, N, "one controller Secret per cluster");
    assert.equal(sys.items.filter((s) => s.metadata.name === "moco-grpc-ca").length, 1);
    const caCrt = sys.items.find((s) => s.metadata.name === "moco-grpc-ca")?.data?.["ca.crt"];
    const users = await getJson<{ items: { metadata: { name: string }; data?: Record<string, string> }[] }>(h, ["secret", "-n", NS]);
    for (let i = 0; i < N; i++) {
      const ctlSecret = sys.items.find((s) => s.metadata.name === `mysql-${NS}.r${i}`);
      assert.deepEqual(users.items.find((s) => s.metadata.name === `moco-r${i}`)?.data, ctlSecret?.data, `r${i}: passwords copied from the one controller Secret`);
      assert.equal(users.items.find((s) => s.metadata.name === `moco-r${i}-grpc`)?.data?.["ca.crt"], caCrt, `r${i}: agent certificate from the one CA`);
    }

    const text = await (await fetch(b.metrics)).text();
    assert.match(text, /controller_runtime_reconcile_total\{controller="mysqlcluster",result="success"\} [1-9]/);
    assert.match(text, new RegExp(`moco_cluster_reconciliation_stopped\\{name="r0",namespace="${NS}"\\} 0`));
    assert.match(text, /process_resident_memory_bytes/);

    b.child.kill("SIGTERM");
    assert.equal(await b.exited, 0, "graceful exit");
    const lease = await getJson<{ spec: { holderIdentity?: string } }>(h, ["lease", "-n", SYS_NS, "moco"]);
    assert.equal(lease.spec.holderIdentity ?? "", "", "the Lease was released");
  }
});

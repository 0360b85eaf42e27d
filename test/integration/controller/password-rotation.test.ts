// Password rotation through the controller on a real API server (moco-ts addition): the
// `kubectl moco rotate-password` child process records the request, the reconciler stores
// the new passwords as PENDING_* in the controller Secret (phase Retaining) and, with no
// mysqld behind the Pods (no kubelet here), waits without touching the user Secrets; a
// malformed request is refused with a Warning naming the annotation while reconciling goes
// on; no Event carries a password. The SQL phases run against real mysqld in
// test/integration/clustering/password-rotation.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import type { V1Secret } from "@kubernetes/client-node";
import type { RunningController } from "../../../src/controller/main.ts";
import { PENDING_PREFIX, ROTATION_STATE_ANNOTATION, rotationStateOf } from "../../../src/controller/password-rotation.ts";
import { PASSWORD_KEYS } from "../../../src/mysql/users.ts";
import { REPO_ROOT, SYS_NS, clusterManifest, eventually, getJson, startHarness, waitIdle, type Harness } from "../../env/controller-harness.ts";

const NS = "rot";
const NAME = "c1";
const CLI = path.join(REPO_ROOT, "src/cli/kubectl-moco.ts");

interface EventJson { type: string; reason: string; message: string }

function decode(s: V1Secret): Record<string, string> {
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

describe("password rotation through the controller", { timeout: 300_000 }, () => {
  let h: Harness;
  let ctl: RunningController;
  const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, [CLI, "--kubeconfig", h.cp.kubeconfig, "-n", NS, ...args], { env: { PATH: process.env.PATH ?? "" }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
  const secret = (name: string, ns: string): Promise<V1Secret> => getJson<V1Secret>(h, ["secret", "-n", ns, name]);
  const events = async (): Promise<EventJson[]> => (await getJson<{ items: EventJson[] }>(h, ["events", "-n", NS])).items;

  before(async () => {
    h = await startHarness();
    await h.kubectl(["create", "namespace", NS]);
    ctl = await h.startController();
    await h.apply(clusterManifest(NS, NAME));
    await eventually("the user Secret", () => secret(`moco-${NAME}`, NS));
    await waitIdle(ctl);
  });
  after(async () => {
    await h?.stop();
  });

  it("kubectl moco rotate-password stores the new passwords and waits for the instances, user Secrets untouched", async () => {
    const oldController = decode(await secret(`mysql-${NS}.${NAME}`, SYS_NS));
    const oldUser = decode(await secret(`moco-${NAME}`, NS));
    const r = await cli(["rotate-password", NAME]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^requested password rotation (\S+) of all MOCO users for MySQLCluster "rot\/c1"\n$/);
    const id = /rotation (\S+)/.exec(r.stdout)?.[1];
    const ctrl = await eventually("the rotation state on the controller Secret", async () => {
      const s = await secret(`mysql-${NS}.${NAME}`, SYS_NS);
      return s.metadata?.annotations?.[ROTATION_STATE_ANNOTATION] === undefined ? undefined : s;
    });
    const state = rotationStateOf(ctrl.metadata?.annotations);
    assert.equal(state?.id, id);
    assert.equal(state?.phase, "Retaining");
    const data = decode(ctrl);
    for (const k of PASSWORD_KEYS) {
      assert.equal(data[k], oldController[k], `${k} unchanged until every instance accepts the new one`);
      assert.match(data[PENDING_PREFIX + k] ?? "", /^[0-9a-f]{32}$/);
      assert.notEqual(data[PENDING_PREFIX + k], data[k]);
    }
    const waiting = await eventually("a PasswordRotationWaiting event", async () => (await events()).find((e) => e.reason === "PasswordRotationWaiting"));
    assert.match(waiting.message, /the primary \(instance 0\) is not reachable|the primary is not known yet/);
    assert.deepEqual(decode(await secret(`moco-${NAME}`, NS)), oldUser, "the user Secret keeps the old passwords");
    const all = await events();
    assert.ok(all.some((e) => e.reason === "PasswordRotationStarted"));
    const secrets = [...Object.values(oldController), ...Object.values(data)].filter((v) => v.length >= 16);
    for (const e of all) for (const s of secrets) assert.ok(!e.message.includes(s), `event ${e.reason} carries no password`);
  });

  it("refuses a malformed request with a Warning naming the annotation; reconciling goes on", async () => {
    await h.kubectl(["annotate", "--overwrite", "mysqlcluster", "-n", NS, NAME, "moco-ts.cybozu.com/rotate-password=x", "moco-ts.cybozu.com/rotate-password-users=root"]);
    const refused = await eventually("a PasswordRotationRefused event", async () => (await events()).find((e) => e.reason === "PasswordRotationRefused"));
    assert.equal(refused.type, "Warning");
    assert.match(refused.message, /moco-ts\.cybozu\.com\/rotate-password-users: unknown user "root"/);
    const c = await getJson<{ status?: { conditions?: { type: string; status: string }[] } }>(h, ["mysqlcluster", "-n", NS, NAME]);
    assert.equal(c.status?.conditions?.find((x) => x.type === "ReconcileSuccess")?.status, "True");
    // The rotation already in progress goes on (it does not depend on the request annotation).
    assert.equal(rotationStateOf((await secret(`mysql-${NS}.${NAME}`, SYS_NS)).metadata?.annotations)?.phase, "Retaining");
  });
});

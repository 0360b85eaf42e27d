// The subcommands through runCli against an in-memory API: arguments, messages, API
// effects and exit codes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EXIT } from "../../../src/cli/errors.ts";
import { exitCodeFromStatus, type ExecRequest } from "../../../src/cli/exec.ts";
import { FakeApi, fakeExec, run } from "./fake.ts";

const PASSWORDS = {
  ADMIN_PASSWORD: "adminpw0123456789abcdef01234567",
  READONLY_PASSWORD: "readonlypw456789abcdef0123456789",
  WRITABLE_PASSWORD: "writablepw456789abcdef0123456789",
};

describe("usage handling", () => {
  const cases: { name: string; argv: string[]; code: number; out?: RegExp; err?: RegExp }[] = [
    { name: "no arguments prints help and fails", argv: [], code: EXIT.USAGE, err: /Usage: kubectl moco/ },
    { name: "--help", argv: ["--help"], code: EXIT.OK, out: /Commands:[\s\S]*mysql[\s\S]*credential[\s\S]*switchover[\s\S]*stop[\s\S]*start[\s\S]*status/ },
    { name: "--version", argv: ["--version"], code: EXIT.OK, out: /^kubectl-moco version \d+\.\d+\.\d+\n$/ },
    { name: "help mysql", argv: ["help", "mysql"], code: EXIT.OK, out: /--mysql-user[\s\S]*--index[\s\S]*--stdin[\s\S]*--tty/ },
    { name: "mysql --help shows global flags", argv: ["mysql", "--help"], code: EXIT.OK, out: /--kubeconfig[\s\S]*--context/ },
    { name: "credential --help", argv: ["credential", "--help"], code: EXIT.OK, out: /--format/ },
    { name: "switchover --help", argv: ["switchover", "--help"], code: EXIT.OK, out: /--wait[\s\S]*--timeout[\s\S]*as MOCO does/ },
    { name: "stop clustering --help", argv: ["stop", "clustering", "--help"], code: EXIT.OK, out: /clustering-stopped/ },
    { name: "start reconciliation --help", argv: ["start", "reconciliation", "--help"], code: EXIT.OK, out: /reconciliation-stopped/ },
    { name: "status --help", argv: ["status", "--help"], code: EXIT.OK, out: /--output[\s\S]*--source/ },
    { name: "stop alone prints help, exit 0", argv: ["stop"], code: EXIT.OK, out: /clustering[\s\S]*reconciliation/ },
    { name: "start alone prints help, exit 0", argv: ["start"], code: EXIT.OK, out: /clustering[\s\S]*reconciliation/ },
    { name: "unknown subcommand", argv: ["frobnicate"], code: EXIT.USAGE, err: /unknown command 'frobnicate'/ },
    { name: "unknown flag", argv: ["credential", "--bogus", "c"], code: EXIT.USAGE, err: /unknown option '--bogus'/ },
    { name: "credential without cluster", argv: ["credential"], code: EXIT.USAGE, err: /missing required argument 'CLUSTER_NAME'/ },
    { name: "credential with two clusters", argv: ["credential", "a", "b"], code: EXIT.USAGE, err: /too many arguments/ },
    { name: "switchover without cluster", argv: ["switchover"], code: EXIT.USAGE, err: /missing required argument/ },
    { name: "stop clustering two args", argv: ["stop", "clustering", "a", "b"], code: EXIT.USAGE, err: /too many arguments/ },
    { name: "stop unknown thing", argv: ["stop", "everything"], code: EXIT.USAGE, err: /too many arguments|unknown command/ },
    { name: "mysql without cluster", argv: ["mysql"], code: EXIT.USAGE, err: /missing required argument/ },
    { name: "mysql flag after cluster without --", argv: ["mysql", "c", "-e", "x"], code: EXIT.USAGE, err: /unknown option '-e'/ },
    { name: "mysql bad --index", argv: ["mysql", "--index", "one", "c"], code: EXIT.USAGE, err: /invalid argument "one" for "--index"/ },
    { name: "status bad -o", argv: ["status", "-o", "yaml", "c"], code: EXIT.USAGE, err: /Allowed choices are table, json/ },
    { name: "status bad --source", argv: ["status", "--source", "ssh", "c"], code: EXIT.USAGE, err: /Allowed choices/ },
    { name: "switchover bad --timeout", argv: ["switchover", "--timeout", "soon", "c"], code: EXIT.USAGE, err: /invalid duration for --timeout/ },
    { name: "completion bash", argv: ["completion", "bash"], code: EXIT.OK, out: /complete .*-F _kubectl_moco kubectl-moco/ },
    { name: "completion zsh", argv: ["completion", "zsh"], code: EXIT.OK, out: /#compdef kubectl-moco/ },
    { name: "completion fish", argv: ["completion", "fish"], code: EXIT.OK, out: /complete -c kubectl-moco/ },
    { name: "completion powershell", argv: ["completion", "powershell"], code: EXIT.OK, out: /Register-ArgumentCompleter/ },
    { name: "completion tcsh", argv: ["completion", "tcsh"], code: EXIT.USAGE, err: /unsupported shell type "tcsh"/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const api = new FakeApi();
      const r = await run(api, c.argv);
      assert.equal(r.code, c.code, `stdout=${r.stdout}\nstderr=${r.stderr}`);
      if (c.out) assert.match(r.stdout, c.out);
      if (c.err) assert.match(r.stderr, c.err);
      assert.deepEqual(api.calls, [], "usage errors and help make no API call");
    });
  }
});

describe("credential", () => {
  const cases: { name: string; argv: string[]; stdout?: string; code?: number; err?: RegExp }[] = [
    { name: "default user, plain", argv: ["credential", "c"], stdout: `${PASSWORDS.READONLY_PASSWORD}\n` },
    { name: "admin plain", argv: ["credential", "-u", "moco-admin", "c"], stdout: `${PASSWORDS.ADMIN_PASSWORD}\n` },
    { name: "writable long flag", argv: ["credential", "--mysql-user=moco-writable", "c"], stdout: `${PASSWORDS.WRITABLE_PASSWORD}\n` },
    {
      name: "mycnf",
      argv: ["credential", "-u", "moco-writable", "--format", "mycnf", "c"],
      stdout: `[client]\nuser=moco-writable\npassword="${PASSWORDS.WRITABLE_PASSWORD}"\n`,
    },
    { name: "system user refused", argv: ["credential", "-u", "moco-agent", "c"], code: EXIT.USAGE, err: /^Error: invalid user: moco-agent\n$/ },
    { name: "unknown format", argv: ["credential", "--format", "yaml", "c"], code: EXIT.USAGE, err: /^Error: unknown format: yaml\n$/ },
    { name: "unknown cluster", argv: ["credential", "nope"], code: EXIT.NOT_FOUND, err: /secrets "moco-nope" not found/ },
    { name: "namespace flag is honoured", argv: ["-n", "other", "credential", "c"], code: EXIT.NOT_FOUND, err: /not found/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const api = new FakeApi();
      api.addSecret("ctx-ns", "c", PASSWORDS);
      const r = await run(api, c.argv);
      assert.equal(r.code, c.code ?? EXIT.OK, r.stderr);
      if (c.stdout !== undefined) assert.equal(r.stdout, c.stdout);
      if (c.err) {
        assert.match(r.stderr, c.err);
        assert.equal(r.stdout, "");
        for (const pw of Object.values(PASSWORDS)) assert.ok(!r.stderr.includes(pw));
      }
    });
  }

  it("refuses a Secret without secret-version 1, naming it", async () => {
    const api = new FakeApi();
    api.addSecret("ctx-ns", "c", PASSWORDS, "2");
    const r = await run(api, ["credential", "c"]);
    assert.equal(r.code, EXIT.ERROR);
    assert.match(r.stderr, /Secret ctx-ns\/moco-c /);
    assert.equal(r.stdout, "");
  });

  it("reports a missing key", async () => {
    const api = new FakeApi();
    api.addSecret("ctx-ns", "c", { ADMIN_PASSWORD: "x" });
    const r = await run(api, ["credential", "c"]);
    assert.equal(r.code, EXIT.ERROR);
    assert.match(r.stderr, /has no key READONLY_PASSWORD/);
  });

  it("does not read the MySQLCluster", async () => {
    const api = new FakeApi();
    api.addSecret("ctx-ns", "c", PASSWORDS);
    await run(api, ["credential", "c"]);
    assert.deepEqual(api.calls.map((c) => c.op), ["getSecret"]);
  });
});

describe("stop/start clustering and reconciliation", () => {
  const CS = "moco.cybozu.com/clustering-stopped";
  const RS = "moco.cybozu.com/reconciliation-stopped";
  const cases: {
    argv: string[]; before?: Record<string, string>; stdout: string; after: Record<string, string>; patched: boolean;
  }[] = [
    { argv: ["stop", "clustering", "c"], stdout: 'stopped clustering of MySQLCluster "ctx-ns/c"\n', after: { [CS]: "true" }, patched: true },
    { argv: ["stop", "clustering", "c"], before: { [CS]: "true" }, stdout: "The clustering is already stopped.\n", after: { [CS]: "true" }, patched: false },
    { argv: ["stop", "clustering", "c"], before: { [CS]: "false" }, stdout: 'stopped clustering of MySQLCluster "ctx-ns/c"\n', after: { [CS]: "true" }, patched: true },
    { argv: ["start", "clustering", "c"], before: { [CS]: "true", x: "y" }, stdout: 'started clustering of MySQLCluster "ctx-ns/c"\n', after: { x: "y" }, patched: true },
    { argv: ["start", "clustering", "c"], stdout: "The clustering is already running.\n", after: {}, patched: false },
    { argv: ["start", "clustering", "c"], before: { [CS]: "false" }, stdout: "The clustering is already running.\n", after: { [CS]: "false" }, patched: false },
    { argv: ["stop", "reconciliation", "c"], stdout: 'stopped reconciliation of MySQLCluster "ctx-ns/c"\n', after: { [RS]: "true" }, patched: true },
    { argv: ["stop", "reconciliation", "c"], before: { [RS]: "true" }, stdout: "The reconciliation is already stopped.\n", after: { [RS]: "true" }, patched: false },
    { argv: ["start", "reconciliation", "c"], before: { [RS]: "true", [CS]: "true" }, stdout: 'started reconciliation of MySQLCluster "ctx-ns/c"\n', after: { [CS]: "true" }, patched: true },
    { argv: ["start", "reconciliation", "c"], stdout: "The reconciliation is already running.\n", after: {}, patched: false },
    { argv: ["-n", "ns2", "stop", "reconciliation", "c"], stdout: 'stopped reconciliation of MySQLCluster "ns2/c"\n', after: { [RS]: "true" }, patched: true },
  ];
  for (const c of cases) {
    it(`${c.argv.join(" ")} with ${JSON.stringify(c.before ?? {})}`, async () => {
      const api = new FakeApi();
      const ns = c.argv[0] === "-n" ? (c.argv[1] as string) : "ctx-ns";
      api.addCluster(ns, "c", { annotations: c.before });
      const r = await run(api, c.argv);
      assert.equal(r.code, EXIT.OK, r.stderr);
      assert.equal(r.stdout, c.stdout);
      assert.deepEqual(api.clusters.get(`${ns}/c`)?.metadata?.annotations ?? {}, c.after);
      assert.equal(api.calls.some((x) => x.op === "patchCluster"), c.patched);
    });
  }

  it("unknown cluster: exit 3 with the wrapped API error", async () => {
    const api = new FakeApi();
    const r = await run(api, ["stop", "clustering", "nope"]);
    assert.equal(r.code, EXIT.NOT_FOUND);
    assert.equal(r.stderr, 'Error: failed to stop clustering of MySQLCluster: mysqlclusters.moco.cybozu.com "nope" not found\n');
  });
});

describe("switchover", () => {
  const DEMOTE = "moco.cybozu.com/demote";
  const refusals: { name: string; setup: (api: FakeApi) => void; code: number; err: RegExp }[] = [
    { name: "unknown cluster", setup: () => undefined, code: EXIT.NOT_FOUND, err: /mysqlclusters.moco.cybozu.com "c" not found/ },
    { name: "single instance", setup: (a) => a.addCluster("ctx-ns", "c", { replicas: 1 }), code: EXIT.REFUSED, err: /single instance/ },
    { name: "offline", setup: (a) => a.addCluster("ctx-ns", "c", { offline: true }), code: EXIT.REFUSED, err: /offline/ },
    { name: "no status yet", setup: (a) => a.addCluster("ctx-ns", "c", { noStatus: true }), code: EXIT.NOT_AVAILABLE, err: /no status yet/ },
    {
      name: "primary Pod missing",
      setup: (a) => a.addCluster("ctx-ns", "c"),
      code: EXIT.NOT_FOUND, err: /pods "moco-c-0" not found/,
    },
  ];
  for (const c of refusals) {
    it(`refuses: ${c.name}`, async () => {
      const api = new FakeApi();
      c.setup(api);
      if (c.name !== "primary Pod missing") api.addPods("ctx-ns", "c", 3);
      const r = await run(api, ["switchover", "c"]);
      assert.equal(r.code, c.code, r.stderr);
      assert.match(r.stderr, c.err);
      assert.ok(!api.calls.some((x) => x.op === "patchPod"), "no annotation on refusal");
      for (const p of api.pods.values()) assert.equal(p.metadata?.annotations?.[DEMOTE], undefined);
    });
  }

  const warned: { name: string; opts: Parameters<FakeApi["addCluster"]>[2]; err: RegExp }[] = [
    { name: "unhealthy", opts: { healthy: "False", primary: 1 }, err: /^warning: MySQLCluster ctx-ns\/c is not healthy \(Healthy=False: the current state is Degraded\): the switchover waits until it is\n$/ },
    { name: "healthy unknown", opts: { healthy: "Unknown", primary: 1 }, err: /not healthy \(Healthy=Unknown/ },
    {
      name: "clustering stopped", opts: { primary: 1, annotations: { "moco.cybozu.com/clustering-stopped": "true" } },
      err: /^warning: clustering of MySQLCluster ctx-ns\/c is stopped: the switchover happens after "kubectl moco start clustering c"\n$/,
    },
  ];
  for (const c of warned) {
    it(`requests the switchover with a warning, as MOCO: ${c.name}`, async () => {
      const api = new FakeApi();
      api.addCluster("ctx-ns", "c", c.opts);
      api.addPods("ctx-ns", "c", 3, { primary: 1 });
      const r = await run(api, ["switchover", "c"]);
      assert.equal(r.code, EXIT.OK, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, c.err);
      assert.equal(api.pods.get("ctx-ns/moco-c-1")?.metadata?.annotations?.[DEMOTE], "true");
    });
  }

  it("--force is not an option (MOCO has none)", async () => {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "c");
    api.addPods("ctx-ns", "c", 3);
    assert.equal((await run(api, ["switchover", "--force", "c"])).code, EXIT.USAGE);
  });

  it("annotates the current primary and prints nothing", async () => {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "c", { primary: 2 });
    api.addPods("ctx-ns", "c", 3, { primary: 2 });
    const r = await run(api, ["switchover", "c"]);
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "");
    assert.deepEqual(api.calls.filter((x) => x.op === "patchPod"), [
      { op: "patchPod", namespace: "ctx-ns", name: "moco-c-2", patch: { [DEMOTE]: "true" } },
    ]);
    assert.equal(api.pods.get("ctx-ns/moco-c-0")?.metadata?.annotations?.[DEMOTE], undefined);
  });

  it("is a no-op when the annotation is already there", async () => {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "c");
    api.addPods("ctx-ns", "c", 3);
    await api.patchPodAnnotations("ctx-ns", "moco-c-0", { [DEMOTE]: "true" });
    api.calls = [];
    const r = await run(api, ["switchover", "c"]);
    assert.equal(r.code, EXIT.OK);
    assert.ok(!api.calls.some((x) => x.op === "patchPod"));
  });

  it("warns when prevent-delete defers the switchover", async () => {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "c");
    api.addPods("ctx-ns", "c", 3);
    await api.patchPodAnnotations("ctx-ns", "moco-c-0", { "moco.cybozu.com/prevent-delete": "true" });
    const r = await run(api, ["switchover", "c"]);
    assert.equal(r.code, EXIT.OK);
    assert.match(r.stderr, /^warning: moco-c-0 carries moco.cybozu.com\/prevent-delete/);
  });

  it("--wait returns once currentPrimaryIndex changes", async () => {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "c");
    api.addPods("ctx-ns", "c", 3);
    let gets = 0;
    api.onGetCluster = (c) => {
      gets++;
      if (gets === 4 && c.status) c.status.currentPrimaryIndex = 1;
    };
    const r = await run(api, ["switchover", "--wait", "c"]);
    assert.equal(r.code, EXIT.OK, r.stderr);
    assert.equal(r.stdout, 'switched over: the primary of MySQLCluster "ctx-ns/c" is now instance 1 (moco-c-1)\n');
    assert.equal(gets, 4);
  });

  it("--wait times out with exit 6 and reports SwitchOverFailed events", async () => {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "c");
    api.addPods("ctx-ns", "c", 3);
    api.events.push({
      metadata: { namespace: "ctx-ns", name: "c.1" },
      involvedObject: { kind: "MySQLCluster", name: "c", namespace: "ctx-ns" },
      reason: "SwitchOverFailed",
      message: "The primary could not be changed: timeout",
      lastTimestamp: new Date(1_700_000_000_500),
    });
    const r = await run(api, ["switchover", "--wait", "--timeout", "30s", "c"]);
    assert.equal(r.code, EXIT.TIMEOUT);
    assert.match(r.stderr, /switchover attempt failed \(MOCO retries\): The primary could not be changed: timeout\n/);
    assert.match(r.stderr, /Error: timed out after 30s waiting for the switchover .* still instance 0 \(last failure: The primary could not be changed: timeout\)/);
    assert.equal(r.stderr.match(/switchover attempt failed/g)?.length, 1, "each failure message is reported once");
  });
});

describe("mysql", () => {
  function setup(opts: { primary?: number; noStatus?: boolean; replicas?: number } = {}): FakeApi {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "c", { primary: opts.primary ?? 1, noStatus: opts.noStatus, replicas: opts.replicas });
    api.addPods("ctx-ns", "c", opts.replicas ?? 3, { primary: opts.primary ?? 1 });
    return api;
  }
  const ex = (namespace: string, pod: string, user: string, extra: string[] = [], o: { stdin?: boolean; tty?: boolean } = {}): ExecRequest => ({
    namespace, pod, container: "mysqld", command: ["mysql", `--defaults-extra-file=/mysql-credentials/${user}-my.cnf`, ...extra],
    stdin: o.stdin ?? false, tty: o.tty ?? false,
  });
  const cases: { name: string; argv: string[]; req?: ExecRequest; code?: number; err?: RegExp; api?: () => FakeApi }[] = [
    {
      name: "defaults: primary, moco-readonly",
      argv: ["mysql", "c"],
      req: ex("ctx-ns", "moco-c-1", "moco-readonly"),
    },
    {
      name: "args after -- are passed, -- dropped",
      argv: ["mysql", "c", "--", "-N", "-e", "SELECT 1"],
      req: ex("ctx-ns", "moco-c-1", "moco-readonly", ["-N", "-e", "SELECT 1"]),
    },
    {
      name: "-it, --index, -u and the namespace flag",
      argv: ["--context", "main", "-n", "shop", "mysql", "-it", "--index", "2", "-u", "moco-admin", "c"],
      req: ex("shop", "moco-c-2", "moco-admin", [], { stdin: true, tty: true }),
      api: () => {
        const a = new FakeApi();
        a.addCluster("shop", "c");
        a.addPods("shop", "c", 3);
        return a;
      },
    },
    {
      name: "-i alone",
      argv: ["mysql", "-i", "-u", "moco-writable", "c"],
      req: ex("ctx-ns", "moco-c-1", "moco-writable", [], { stdin: true }),
    },
    {
      name: "--index 0",
      argv: ["mysql", "--index=0", "c"],
      req: ex("ctx-ns", "moco-c-0", "moco-readonly"),
    },
    { name: "index out of range", argv: ["mysql", "--index", "3", "c"], code: EXIT.USAGE, err: /index has to be below 3/ },
    { name: "invalid user", argv: ["mysql", "-u", "root", "c"], code: EXIT.USAGE, err: /invalid user: root/ },
    { name: "unknown cluster", argv: ["mysql", "nope"], code: EXIT.NOT_FOUND, err: /mysqlclusters.moco.cybozu.com "nope" not found/ },
    { name: "no status yet", argv: ["mysql", "c"], code: EXIT.NOT_AVAILABLE, err: /no status yet/, api: () => setup({ noStatus: true }) },
    {
      name: "no status but explicit index works",
      argv: ["mysql", "--index", "0", "c"],
      req: ex("ctx-ns", "moco-c-0", "moco-readonly"),
      api: () => setup({ noStatus: true }),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const api = c.api ? c.api() : setup();
      const execs: ExecRequest[] = [];
      const r = await run(api, c.argv, { exec: fakeExec(async (req) => { execs.push(req); return 0; }) });
      assert.equal(r.code, c.code ?? EXIT.OK, r.stderr);
      assert.deepEqual(execs, c.req ? [c.req] : []);
      if (c.err) assert.match(r.stderr, c.err);
    });
  }

  it("propagates the remote exit code, with kubectl's note on stderr when it is not 0", async () => {
    const r = await run(setup(), ["mysql", "c", "--", "-e", "bad sql"], { exec: fakeExec(async () => 1) });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "command terminated with exit code 1\n");
    const r2 = await run(setup(), ["mysql", "c"], { exec: fakeExec(async () => 42) });
    assert.equal(r2.code, 42);
    assert.equal(r2.stderr, "command terminated with exit code 42\n");
    const ok = await run(setup(), ["mysql", "c"], { exec: fakeExec(async () => 0) });
    assert.equal(ok.stderr, "");
  });

  it("never puts a password on the exec'd command line", async () => {
    const api = setup();
    api.addSecret("ctx-ns", "c", PASSWORDS);
    const spawned: string[] = [];
    await run(api, ["mysql", "-u", "moco-admin", "c"], { exec: fakeExec(async (req) => { spawned.push(...req.command); return 0; }) });
    for (const pw of Object.values(PASSWORDS)) assert.ok(!spawned.some((a) => a.includes(pw)));
    assert.ok(!api.calls.some((x) => x.op === "getSecret"), "mysql does not read the password Secret");
  });

  it("an exec the server refuses is a runtime error with the server's message", async () => {
    const r = await run(setup(), ["mysql", "c"], { exec: fakeExec(async () => exitCodeFromStatus({ status: "Failure", reason: "Forbidden", message: "pods \"moco-c-1\" is forbidden" })) });
    assert.equal(r.code, EXIT.ERROR);
    assert.match(r.stderr, /^Error: exec: pods "moco-c-1" is forbidden\n$/);
  });
});

describe("rotate-password (moco-ts addition)", () => {
  const RP = "moco-ts.cybozu.com/rotate-password";
  const RU = "moco-ts.cybozu.com/rotate-password-users";
  const id = /^20231114t221320z-[0-9a-f]{4}$/;
  const cases: { name: string; argv: string[]; before?: Record<string, string>; stdout: RegExp; users: string | undefined }[] = [
    { name: "all users", argv: ["rotate-password", "c"], stdout: /^requested password rotation \S+ of all MOCO users for MySQLCluster "ctx-ns\/c"\n$/, users: undefined },
    {
      name: "two users, MOCO's order",
      argv: ["rotate-password", "c", "--mysql-user", "moco-repl", "-u", "moco-admin"],
      stdout: /of moco-admin, moco-repl for MySQLCluster/,
      users: "moco-admin,moco-repl",
    },
    { name: "all again drops an earlier user list", argv: ["rotate-password", "c"], before: { [RU]: "moco-admin" }, stdout: /of all MOCO users/, users: undefined },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const api = new FakeApi();
      api.addCluster("ctx-ns", "c", { annotations: c.before });
      const r = await run(api, c.argv);
      assert.equal(r.code, EXIT.OK, r.stderr);
      assert.match(r.stdout, c.stdout);
      const a = api.clusters.get("ctx-ns/c")?.metadata?.annotations ?? {};
      assert.match(a[RP] ?? "", id);
      assert.equal(a[RU], c.users);
    });
  }
  it("refuses an unknown user (exit 2) without touching the cluster", async () => {
    const api = new FakeApi();
    api.addCluster("ctx-ns", "c", {});
    const r = await run(api, ["rotate-password", "c", "--mysql-user", "root"]);
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.stderr, /--mysql-user: unknown user "root"/);
    assert.equal(api.calls.some((x) => x.op === "patchCluster"), false);
  });
  it("unknown cluster: exit 3", async () => {
    const r = await run(new FakeApi(), ["rotate-password", "nope"]);
    assert.equal(r.code, EXIT.NOT_FOUND);
  });
});

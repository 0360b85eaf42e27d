// Pure helpers: credential text, quoting, tables, flag values, kubeconfig resolution and
// the exit code of an exec.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CliError, EXIT } from "../../../src/cli/errors.ts";
import { formatCredential, formatTable, goQuote, parseIndex, passwordKeyFor } from "../../../src/cli/format.ts";
import { parseDuration, resolveKubeConfig } from "../../../src/cli/kubeconfig.ts";
import { exitCodeFromStatus } from "../../../src/cli/exec.ts";
import { kubeconfigYaml } from "./fake.ts";

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof CliError, String(e));
    return e.exitCode;
  }
}

describe("formatCredential", () => {
  const cases: { user: string; pw: string; format: string; want?: string; code?: number }[] = [
    { user: "moco-readonly", pw: "0123abcd", format: "plain", want: "0123abcd\n" },
    { user: "moco-admin", pw: "0123abcd", format: "mycnf", want: '[client]\nuser=moco-admin\npassword="0123abcd"\n' },
    { user: "moco-writable", pw: 'a"b\\c', format: "mycnf", want: '[client]\nuser=moco-writable\npassword="a\\"b\\\\c"\n' },
    { user: "moco-readonly", pw: "x", format: "json", code: EXIT.USAGE },
    { user: "moco-readonly", pw: "x", format: "", code: EXIT.USAGE },
  ];
  for (const c of cases) {
    it(`${c.user} ${c.format || "(empty)"}`, () => {
      if (c.code !== undefined) assert.equal(codeOf(() => formatCredential(c.user, c.pw, c.format)), c.code);
      else assert.equal(formatCredential(c.user, c.pw, c.format), c.want);
    });
  }
});

describe("goQuote (Go %q)", () => {
  const cases: [string, string][] = [
    ["", '""'],
    ["abc123", '"abc123"'],
    ['q"q', '"q\\"q"'],
    ["b\\s", '"b\\\\s"'],
    ["t\tn\nr\r", '"t\\tn\\nr\\r"'],
    ["\x01\x7f", '"\\x01\\x7f"'],
    ["héllo", '"héllo"'],
  ];
  for (const [input, want] of cases) it(JSON.stringify(input), () => assert.equal(goQuote(input), want));
});

describe("passwordKeyFor", () => {
  const cases: [string, string | number][] = [
    ["moco-readonly", "READONLY_PASSWORD"],
    ["moco-writable", "WRITABLE_PASSWORD"],
    ["moco-admin", "ADMIN_PASSWORD"],
    ["moco-agent", EXIT.USAGE],
    ["moco-backup", EXIT.USAGE],
    ["root", EXIT.USAGE],
    ["", EXIT.USAGE],
  ];
  for (const [user, want] of cases) {
    it(user || "(empty)", () => {
      if (typeof want === "number") {
        assert.equal(codeOf(() => passwordKeyFor(user)), want);
        assert.throws(() => passwordKeyFor(user), { message: `invalid user: ${user}` });
      } else assert.equal(passwordKeyFor(user), want);
    });
  }
});

describe("formatTable", () => {
  it("aligns columns with two spaces and trims trailing blanks", () => {
    assert.equal(
      formatTable(["A", "BB", "C"], [["1", "2", "3"], ["long", "", "x"], ["z"]]),
      "A     BB  C\n1     2   3\nlong      x\nz\n",
    );
  });
  it("header only", () => assert.equal(formatTable(["X", "Y"], []), "X  Y\n"));
});

describe("parseIndex / parseDuration", () => {
  const idx: [string, number | "usage"][] = [["-1", -1], ["0", 0], ["4", 4], [" 2 ", 2], ["1.5", "usage"], ["x", "usage"], ["", "usage"]];
  for (const [t, want] of idx) {
    it(`--index ${JSON.stringify(t)}`, () => {
      if (want === "usage") assert.equal(codeOf(() => parseIndex(t)), EXIT.USAGE);
      else assert.equal(parseIndex(t), want);
    });
  }
  const durs: [string, number | "usage"][] = [
    ["0", 0], ["30", 30_000], ["30s", 30_000], ["5m", 300_000], ["1h30m", 5_400_000], ["1.5s", 1500], ["500ms", 500],
    ["", "usage"], ["5 minutes", "usage"], ["m5", "usage"], ["-5s", "usage"], ["5d", "usage"],
  ];
  for (const [t, want] of durs) {
    it(`duration ${JSON.stringify(t)}`, () => {
      if (want === "usage") assert.equal(codeOf(() => parseDuration(t, "--timeout")), EXIT.USAGE);
      else assert.equal(parseDuration(t, "--timeout"), want);
    });
  }
});

describe("resolveKubeConfig", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "moco-kc-"));
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  const two = file("two", kubeconfigYaml({ contexts: [{ name: "a", namespace: "ns-a" }, { name: "b" }], current: "a" }));
  const other = file("other", kubeconfigYaml({ server: "https://192.0.2.1:6443", namespace: "ns-other" }));

  const cases: {
    name: string; opts: Parameters<typeof resolveKubeConfig>[0]; env?: Record<string, string>;
    ns?: string; server?: string; user?: string; token?: string; code?: number; err?: RegExp;
  }[] = [
    { name: "current context's namespace", opts: { kubeconfig: two }, ns: "ns-a", server: "https://127.0.0.1:6443" },
    { name: "-n wins", opts: { kubeconfig: two, namespace: "x" }, ns: "x" },
    { name: "--context without namespace → default", opts: { kubeconfig: two, context: "b" }, ns: "default" },
    { name: "unknown --context", opts: { kubeconfig: two, context: "zz" }, code: EXIT.ERROR, err: /context "zz" does not exist/ },
    { name: "$KUBECONFIG is used", opts: {}, env: { KUBECONFIG: other }, ns: "ns-other", server: "https://192.0.2.1:6443" },
    { name: "--kubeconfig beats $KUBECONFIG", opts: { kubeconfig: two }, env: { KUBECONFIG: other }, ns: "ns-a" },
    { name: "missing --kubeconfig file", opts: { kubeconfig: path.join(dir, "nope") }, code: EXIT.ERROR, err: /no such file/ },
    { name: "--cluster switches the server", opts: { kubeconfig: two, cluster: "c2" }, server: "https://10.9.9.9:6443" },
    { name: "unknown --cluster", opts: { kubeconfig: two, cluster: "c9" }, code: EXIT.ERROR, err: /cluster "c9" does not exist/ },
    { name: "--user switches the credentials", opts: { kubeconfig: two, user: "u2" }, user: "u2", token: "t2" },
    { name: "--server and --token override", opts: { kubeconfig: two, server: "https://h:1", token: "tok" }, server: "https://h:1", token: "tok" },
    { name: "--as-group needs --as", opts: { kubeconfig: two, asGroup: ["g"] }, code: EXIT.USAGE, err: /require --as/ },
    { name: "$KUBECONFIG naming a missing file", opts: {}, env: { KUBECONFIG: path.join(dir, "absent") }, code: EXIT.ERROR, err: /cannot load kubeconfig: .*no such file/ },
    { name: "bad --request-timeout", opts: { kubeconfig: two, requestTimeout: "soon" }, code: EXIT.USAGE },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const run = () => resolveKubeConfig(c.opts, { env: c.env ?? {} });
      if (c.code !== undefined) {
        assert.equal(codeOf(run), c.code);
        if (c.err) assert.throws(run, c.err);
        return;
      }
      const r = run();
      if (c.ns) assert.equal(r.namespace, c.ns);
      if (c.server) assert.equal(r.kubeConfig.getCurrentCluster()?.server, c.server);
      if (c.user) assert.equal(r.kubeConfig.getCurrentUser()?.name, c.user);
      if (c.token) assert.equal(r.kubeConfig.getCurrentUser()?.token, c.token);
    });
  }

  it("impersonation", () => {
    const r = resolveKubeConfig({ kubeconfig: two, as: "alice", asGroup: ["devs"], asUid: "42" }, { env: {} });
    assert.equal(r.kubeConfig.getCurrentUser()?.impersonateUser, "alice");
    assert.deepEqual(r.headers, { "Impersonate-Group": "devs", "Impersonate-Uid": "42" });
  });
});


describe("exitCodeFromStatus", () => {
  const cases: { name: string; status: Parameters<typeof exitCodeFromStatus>[0]; want: number | RegExp }[] = [
    { name: "success", status: { status: "Success" }, want: 0 },
    { name: "non-zero exit", status: { status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "7" }] } }, want: 7 },
    { name: "non-zero exit without a code", status: { status: "Failure", reason: "NonZeroExitCode", message: "command terminated" }, want: /exec: command terminated/ },
    { name: "container not found", status: { status: "Failure", reason: "BadRequest", message: 'container "x" not found' }, want: /exec: container "x" not found/ },
    { name: "no status at all", status: undefined, want: /closed without an exit status/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (typeof c.want === "number") assert.equal(exitCodeFromStatus(c.status), c.want);
      else {
        assert.throws(() => exitCodeFromStatus(c.status), (e: unknown) => e instanceof CliError && e.exitCode === EXIT.ERROR && (c.want as RegExp).test(e.message));
      }
    });
  }
});

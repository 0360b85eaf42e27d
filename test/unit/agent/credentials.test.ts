// The agent's own password file (moco-agent-my.cnf, moco-ts addition): parsing the
// controller's [client] text, and the fingerprint the agent shows as a connection attribute.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Pool } from "mysql2/promise";
import { pino } from "pino";

import { AgentCredentials, parseMyCnfPassword, sessionPassword } from "../../../src/agent/credentials.ts";
import { myCnfClientFileText } from "../../../src/controller/builders/secrets.ts";
import { agentSessionsWithFingerprint, passwordFingerprint, AGENT_PASSWORD_ATTRIBUTE } from "../../../src/mysql/password-id.ts";

const PW = "0123456789abcdef0123456789abcdef";

describe("parseMyCnfPassword", () => {
  const ok: { name: string; text: string; want: string }[] = [
    { name: "the controller's file", text: myCnfClientFileText("moco-agent", PW), want: PW },
    { name: "Go-quoted escapes", text: myCnfClientFileText("moco-agent", 'p"a\\s\ts'), want: 'p"a\\s\ts' },
    { name: "unquoted, spaces, comments, other sections", text: "# c\n[mysqld]\npassword=x\n[client]\n user = moco-agent \n password = abc \n", want: "abc" },
    { name: "no user line", text: `[client]\npassword="${PW}"\n`, want: PW },
  ];
  for (const c of ok) it(c.name, () => assert.equal(parseMyCnfPassword(c.text, "moco-agent"), c.want));

  const bad: { name: string; text: string; error: RegExp }[] = [
    { name: "no password", text: '[client]\nuser="moco-agent"\n', error: /no password in \[client\]/ },
    { name: "password outside [client]", text: `[mysqld]\npassword="${PW}"\n`, error: /no password/ },
    { name: "another user", text: myCnfClientFileText("moco-admin", PW), error: /user "moco-admin" is not "moco-agent"/ },
    { name: "broken quoting", text: `[client]\npassword="${PW}\n`, error: /password is not a quoted string/ },
  ];
  for (const c of bad) {
    it(`${c.name}: a clear error without the password`, () => {
      assert.throws(() => parseMyCnfPassword(c.text, "moco-agent"), (e: Error) => c.error.test(e.message) && !e.message.includes(PW));
    });
  }
});

describe("passwordFingerprint", () => {
  it("16 hex characters, stable, different per password, not containing it", () => {
    const a = passwordFingerprint(PW);
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(passwordFingerprint(PW), a);
    assert.notEqual(passwordFingerprint(`${PW}x`), a);
    assert.ok(!PW.includes(a) && !a.includes(PW.slice(0, 8)));
  });
  it("the controller's query asks for moco-agent sessions with that attribute", () => {
    const q = agentSessionsWithFingerprint("abcd");
    assert.deepEqual(q.params, [AGENT_PASSWORD_ATTRIBUTE, "abcd"]);
    assert.match(q.sql, /session_connect_attrs/);
    assert.match(q.sql, /PROCESSLIST_USER = 'moco-agent'/);
  });
});

describe("AgentCredentials.check", () => {
  const OLD = "a".repeat(32);
  const NEW = "b".repeat(32);
  const denied = Object.assign(new Error("Access denied for user"), { errno: 1045, code: "ER_ACCESS_DENIED_ERROR" });
  const cases: { name: string; file: string | null | undefined; login?: Error; want: string; warn?: RegExp }[] = [
    { name: "no file configured: the environment's password", file: null, want: OLD },
    { name: "file absent (a Pod without the mount): the environment's, no warning", file: undefined, want: OLD },
    { name: "file with the same password: unchanged", file: myCnfClientFileText("moco-agent", OLD), want: OLD },
    { name: "file with a new password mysqld accepts: switched", file: myCnfClientFileText("moco-agent", NEW), want: NEW },
    { name: "new password refused by mysqld: kept, warned", file: myCnfClientFileText("moco-agent", NEW), login: denied, want: OLD, warn: /mysqld refuses it yet/ },
    { name: "file of another user: kept, warned", file: myCnfClientFileText("moco-admin", NEW), want: OLD, warn: /user .*moco-admin.* is not .*moco-agent/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-cred-"));
      const file = path.join(dir, "moco-agent-my.cnf");
      if (typeof c.file === "string") fs.writeFileSync(file, c.file);
      const cc: { password?: string; connectAttributes?: Record<string, string> } = { connectAttributes: { _client_name: "mysql2" } };
      const pool = { pool: { config: { connectionConfig: cc } } } as unknown as Pool;
      const lines: string[] = [];
      const tried: string[] = [];
      const creds = new AgentCredentials({
        pool,
        initialPassword: OLD,
        file: c.file === null ? null : file,
        tryLogin: async (p) => {
          tried.push(p);
          if (c.login !== undefined) throw c.login;
        },
        logger: pino({ level: "debug" }, { write: (l: string) => void lines.push(l) }),
      });
      await creds.check();
      await creds.check(); // a second read changes nothing and does not repeat a warning
      assert.equal(creds.password, c.want);
      assert.equal(cc.password, c.want, "new sessions log in with it");
      assert.deepEqual(cc.connectAttributes, { _client_name: "mysql2", moco_ts_password_id: passwordFingerprint(c.want) });
      assert.equal(sessionPassword({ connection: { config: { password: c.want } } }), c.want);
      assert.ok(tried.length <= 2 && tried.every((p) => p === NEW));
      const log = lines.join("");
      if (c.warn !== undefined) {
        assert.match(log, c.warn);
        assert.equal(lines.filter((l) => l.includes("moco-agent password file")).length, 1);
      } else {
        assert.ok(!log.includes("moco-agent password file"), log);
      }
      assert.equal(log.includes("moco-agent password changed"), c.want === NEW);
      assert.ok(!log.includes(OLD) && !log.includes(NEW), "no password in the log");
      fs.rmSync(dir, { recursive: true });
    });
  }
});

// The agent's own password file (moco-agent-my.cnf, moco-ts addition): parsing the
// controller's [client] text, and the fingerprint the agent shows as a connection attribute.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { parseMyCnfPassword } from "../../../src/agent/credentials.ts";
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

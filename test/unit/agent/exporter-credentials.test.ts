// The exporter's liveness (docs/password-rotation.md#the-exporter): when the agent asks the
// kubelet to restart mysqld-exporter. The decision as a table; then ExporterCredentials on a
// temporary file with a loopback HTTP server standing for the exporter's /metrics.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { decideExporterRestart, ExporterCredentials } from "../../../src/agent/exporter-credentials.ts";
import { closeServer, listenOn } from "../../../src/http/server.ts";

describe("decideExporterRestart", () => {
  const T = 1_700_000_000_000;
  const cases: { name: string; changedAt: number | undefined; start: number | undefined; restart: boolean }[] = [
    { name: "no file read", changedAt: undefined, start: T, restart: false },
    { name: "exporter not answering", changedAt: T, start: undefined, restart: false },
    { name: "exporter started before the file changed", changedAt: T, start: T - 60_000, restart: true },
    { name: "started within the 1 s margin after it (clock ticks)", changedAt: T, start: T + 500, restart: true },
    { name: "started after the file changed", changedAt: T, start: T + 5_000, restart: false },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(decideExporterRestart(c.changedAt, c.start).restart, c.restart));
  }
});

describe("ExporterCredentials", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "exporter-cnf-"));
  const file = path.join(dir, "moco-exporter-my.cnf");
  let startSeconds: number | undefined;
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    res.end(startSeconds === undefined ? "mysql_up 1\n" : `# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ${startSeconds.toExponential(11)}\nmysql_up 1\n`);
  });
  after(async () => {
    await closeServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the file with mtime `atMs` (the kubelet's new version). */
  const writeAt = (text: string, atMs: number) => {
    fs.writeFileSync(file, text);
    fs.utimesSync(file, atMs / 1000, atMs / 1000);
  };

  it("answers 503 only while the exporter is older than the file's current contents", async () => {
    const port = await listenOn(server, 0, "127.0.0.1");
    const ec = new ExporterCredentials({ file, metricsUrl: `http://127.0.0.1:${port}/metrics`, intervalMs: 60_000 });
    assert.equal((await ec.verdict()).restart, false, "no file yet");
    const created = Date.UTC(2026, 0, 1, 0, 0, 0);
    writeAt('[client]\nuser="moco-exporter"\npassword="old"\n', created);
    startSeconds = (created + 10_000) / 1000; // the exporter started after the Pod's volume
    await ec.check();
    assert.equal(ec.changedAtMs, created);
    assert.equal((await ec.verdict()).restart, false, "an exporter younger than the file");
    const asked = requests;
    assert.equal((await ec.verdict()).restart, false);
    assert.equal(requests, asked, "nothing pending: the exporter is not asked again");

    // The kubelet writes the same contents again (another key of the Secret changed).
    writeAt('[client]\nuser="moco-exporter"\npassword="old"\n', created + 100_000);
    await ec.check();
    assert.equal((await ec.verdict()).restart, false, "same contents: no restart");

    const rotated = created + 200_000;
    writeAt('[client]\nuser="moco-exporter"\npassword="new"\n', rotated);
    await ec.check();
    const v = await ec.verdict();
    assert.equal(v.restart, true, "new password, exporter from before");
    assert.match(v.reason, /reads the file only at start/);
    assert.doesNotMatch(v.reason, /new|old/, "no password in the answer");
    assert.equal((await ec.verdict()).restart, true, "still, until it restarts");
    startSeconds = undefined;
    assert.equal((await ec.verdict()).restart, false, "no start time (restarting): no verdict against it");
    startSeconds = (rotated + 30_000) / 1000;
    assert.equal((await ec.verdict()).restart, false, "restarted after the change");
    startSeconds = (rotated - 1000) / 1000;
    assert.equal((await ec.verdict()).restart, false, "settled: not asked again until the next change");
  });

  it("an agent started after the change still restarts an older exporter", async () => {
    const port = (server.address() as { port: number }).port;
    const changed = Date.UTC(2026, 0, 2);
    writeAt('[client]\nuser="moco-exporter"\npassword="x"\n', changed);
    startSeconds = (changed - 3_600_000) / 1000;
    const ec = new ExporterCredentials({ file, metricsUrl: `http://127.0.0.1:${port}/metrics`, intervalMs: 60_000 });
    await ec.check();
    assert.equal((await ec.verdict()).restart, true);
  });
});

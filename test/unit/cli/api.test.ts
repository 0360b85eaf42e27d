// createMocoApi over the project's KubeClient (src/cli/api.ts): what reaches the API server
// (path, merge patch, impersonation headers from --as/--as-group/--as-uid) and how
// --request-timeout and a refusal come back. A loopback HTTP server plays the API server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createMocoApi } from "../../../src/cli/api.ts";
import { resolveKubeConfig } from "../../../src/cli/kubeconfig.ts";
import { apiError, EXIT } from "../../../src/cli/errors.ts";
import { kubeconfigYaml } from "./fake.ts";

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

describe("createMocoApi (KubeClient)", () => {
  const seen: Seen[] = [];
  let server: http.Server;
  let url = "";

  before(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => { body += c.toString(); });
      req.on("end", () => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
        if (req.url?.includes("/mysqlclusters/slow")) return; // never answers
        if (req.url?.includes("/mysqlclusters/missing")) {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ kind: "Status", status: "Failure", reason: "NotFound", code: 404, message: 'mysqlclusters.moco.cybozu.com "missing" not found' }));
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster", metadata: { name: "c", namespace: "ns", annotations: { a: "1" } } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const api = (flags: Record<string, unknown>) => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "moco-cli-api-")), "config");
    fs.writeFileSync(file, kubeconfigYaml({ server: url, namespace: "ns" }));
    return createMocoApi(resolveKubeConfig({ kubeconfig: file, ...flags }, { env: {} }));
  };

  it("sends the merge patch with the credentials and the impersonation headers", async () => {
    seen.length = 0;
    const c = await api({ as: "alice", asGroup: ["admins"], asUid: "42" }).patchClusterAnnotations("ns", "c", { a: null, b: "2" });
    assert.equal(c.metadata?.name, "c");
    const [r] = seen;
    assert.ok(r !== undefined);
    assert.equal(r.method, "PATCH");
    assert.equal(r.url, "/apis/moco.cybozu.com/v1beta2/namespaces/ns/mysqlclusters/c");
    assert.equal(r.headers["content-type"], "application/merge-patch+json");
    assert.deepEqual(JSON.parse(r.body), { metadata: { annotations: { a: null, b: "2" } } });
    assert.equal(r.headers["authorization"], "Bearer t1");
    assert.equal(r.headers["impersonate-user"], "alice");
    assert.equal(r.headers["impersonate-group"], "admins");
    assert.equal(r.headers["impersonate-uid"], "42");
  });

  it("a refusal is an ApiError the CLI maps to its exit code and the server's message", async () => {
    const err = await api({}).getCluster("ns", "missing").then(() => undefined, (e: unknown) => e);
    const cli = apiError(err);
    assert.equal(cli.exitCode, EXIT.NOT_FOUND);
    assert.equal(cli.message, 'mysqlclusters.moco.cybozu.com "missing" not found');
  });

  it("--request-timeout bounds a call as a whole", async () => {
    await assert.rejects(api({ requestTimeout: "300ms" }).getCluster("ns", "slow"), { message: "get mysqlcluster: request timed out after 300 ms" });
  });
});

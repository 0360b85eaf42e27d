import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type https from "node:https";
import { inClusterConfig, loadKubeconfigFile, parseKubeconfig } from "../../../src/k8s/kubeconfig.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: "v1", kind: "Config", "current-context": "ctx",
    clusters: [{ name: "other", cluster: { server: "https://wrong:1" } }, { name: "c", cluster }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
  });
}

async function applied(creds: { applyToHTTPSOptions(o: https.RequestOptions): Promise<void> }): Promise<https.RequestOptions> {
  const o: https.RequestOptions = { headers: { Accept: "application/json" } };
  await creds.applyToHTTPSOptions(o);
  return o;
}

describe("kubeconfig without @kubernetes/client-node", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-test-"));
  fs.writeFileSync(path.join(dir, "ca.pem"), "CA-FROM-FILE");
  fs.writeFileSync(path.join(dir, "token"), "tok-from-file\n");

  const cases: { name: string; cluster: Record<string, unknown>; user: Record<string, unknown>; want: Partial<Record<"ca" | "cert" | "key" | "servername" | "auth", string>> & { insecure?: boolean } }[] = [
    {
      name: "client certificate as data",
      cluster: { server: "https://10.0.0.1:6443", "certificate-authority-data": b64("CA") },
      user: { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") },
      want: { ca: "CA", cert: "CERT", key: "KEY" },
    },
    {
      name: "files relative to the kubeconfig, a token file, a TLS server name",
      cluster: { server: "https://10.0.0.1:6443", "certificate-authority": "ca.pem", "tls-server-name": "kubernetes" },
      user: { tokenFile: "token" },
      want: { ca: "CA-FROM-FILE", servername: "kubernetes", auth: "Bearer tok-from-file" },
    },
    {
      name: "a token, TLS verification off",
      cluster: { server: "https://10.0.0.1:6443", "insecure-skip-tls-verify": true },
      user: { token: "abc" },
      want: { auth: "Bearer abc", insecure: true },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const file = path.join(dir, "config");
      const creds = parseKubeconfig(kubeconfig(c.cluster, c.user), file);
      assert.ok(creds !== undefined);
      assert.equal(creds.getCurrentCluster().server, "https://10.0.0.1:6443");
      const o = await applied(creds);
      assert.equal(o.ca?.toString(), c.want.ca);
      assert.equal(o.cert?.toString(), c.want.cert);
      assert.equal(o.key?.toString(), c.want.key);
      assert.equal(o.servername, c.want.servername);
      assert.equal(o.rejectUnauthorized, c.want.insecure === true ? false : undefined);
      const headers = o.headers as Record<string, string>;
      assert.equal(headers["Authorization"], c.want.auth);
      assert.equal(headers["Accept"], "application/json");
    });
  }

  it("leaves exec plugins, basic auth, impersonation and proxies to @kubernetes/client-node", () => {
    for (const [cluster, user] of [
      [{ server: "https://h:1" }, { exec: { command: "x" } }],
      [{ server: "https://h:1" }, { username: "a", password: "b" }],
      [{ server: "https://h:1" }, { as: "alice" }],
      [{ server: "https://h:1", "proxy-url": "http://p:3128" }, {}],
    ] as const) {
      assert.equal(parseKubeconfig(kubeconfig(cluster, user), "/x/config"), undefined, JSON.stringify({ cluster, user }));
    }
  });

  it("the fallback gives the same server and credentials", async () => {
    const file = path.join(dir, "exec-config");
    fs.writeFileSync(file, kubeconfig({ server: "https://10.0.0.2:6443", "certificate-authority-data": b64("CA") }, { token: "t", as: "alice" }));
    const creds = loadKubeconfigFile(file);
    assert.equal(creds.getCurrentCluster()?.server, "https://10.0.0.2:6443");
    const o = await applied(creds);
    assert.equal(o.ca?.toString(), "CA");
    assert.equal((o.headers as Record<string, string>)["Authorization"], "Bearer t");
    assert.equal((o.headers as Record<string, string>)["Impersonate-User"], "alice");
  });

  it("names what is missing", () => {
    assert.throws(() => parseKubeconfig(JSON.stringify({ "current-context": "nope", contexts: [] }), "/x/config"), /\/x\/config: no context named "nope"/);
    assert.throws(() => parseKubeconfig(kubeconfig({}, {}), "/x/config"), /cluster "c" has no server/);
    assert.throws(() => inClusterConfig({}, dir), /KUBERNETES_SERVICE_HOST/);
  });

  it("in cluster: service address (IPv6 in brackets), CA read once, the token re-read from its file", async () => {
    const sa = fs.mkdtempSync(path.join(os.tmpdir(), "sa-"));
    fs.writeFileSync(path.join(sa, "ca.crt"), "SA-CA");
    fs.writeFileSync(path.join(sa, "token"), "t1");
    assert.equal(inClusterConfig({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }, sa).getCurrentCluster().server, "https://10.96.0.1:443");
    const creds = inClusterConfig({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, sa);
    assert.equal(creds.getCurrentCluster().server, "https://[fd00::1]:443");
    const o = await applied(creds);
    assert.equal(o.ca?.toString(), "SA-CA");
    assert.equal((o.headers as Record<string, string>)["Authorization"], "Bearer t1");
  });
});

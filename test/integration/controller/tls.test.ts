// spec.tls (moco-ts addition, docs/tls.md) against a real kube-apiserver: the issued server
// certificate Secret (names, CA, renewal of a certificate near expiry), the CA ConfigMap,
// the volume and my.cnf keys in the StatefulSet, and a user-named Secret (reported while
// missing, then used as is).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { RunningController } from "../../../src/controller/main.ts";
import { issueCertificate, loadCertificateAuthority } from "../../../src/controller/certs.ts";
import { mysqlServerDnsNames } from "../../../src/mysql/tls.ts";
import { SYS_NS, clusterManifest, eventually, getJson, startHarness, waitIdle, type Harness } from "../../env/controller-harness.ts";

const NS = "tls";

interface SecretLike { metadata: { name: string; resourceVersion: string; ownerReferences?: { kind: string; name: string }[] }; data?: Record<string, string> }
interface ConfigMapLike { metadata: { name: string }; data?: Record<string, string> }
interface StsLike {
  spec: { template: { spec: {
    volumes: { name: string; secret?: { secretName: string } ; configMap?: { name: string } }[];
    containers: { name: string; env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] }[];
  } } };
}

const unb64 = (s: string | undefined): string => Buffer.from(s ?? "", "base64").toString("utf8");

function sans(pem: string): string[] {
  return (new X509Certificate(pem).subjectAltName ?? "").split(", ").filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4)).sort();
}

describe("spec.tls: objects", { timeout: 300_000 }, () => {
  let h: Harness;
  let ctl: RunningController;
  let caPem = "";

  before(async () => {
    h = await startHarness();
    await h.kubectl(["create", "namespace", NS]);
    ctl = await h.startController();
    await h.apply(clusterManifest(NS, "db", { tls: { requireSecureTransport: true } }));
    await eventually("the StatefulSet", () => h.kubectl(["get", "sts", "-n", NS, "moco-db"]).then(() => true));
    await waitIdle(ctl);
    const ca = await getJson<SecretLike>(h, ["secret", "-n", SYS_NS, "moco-grpc-ca"]);
    caPem = unb64(ca.data?.["ca.crt"]);
    assert.match(caPem, /BEGIN CERTIFICATE/);
  });
  after(async () => {
    await h?.stop();
  });

  it("issues moco-<name>-mysql-tls from the controller's CA for every Pod and Service name", async () => {
    const s = await getJson<SecretLike>(h, ["secret", "-n", NS, "moco-db-mysql-tls"]);
    assert.equal(unb64(s.data?.["ca.crt"]), caPem);
    assert.match(unb64(s.data?.["tls.key"]), /BEGIN PRIVATE KEY/);
    const cert = unb64(s.data?.["tls.crt"]);
    assert.deepEqual(sans(cert), [...mysqlServerDnsNames("db", NS, 3)].sort());
    assert.ok(new X509Certificate(cert).verify(new X509Certificate(caPem).publicKey), "signed by the CA");
    assert.deepEqual(s.metadata.ownerReferences?.map((r) => `${r.kind}/${r.name}`), ["MySQLCluster/db"]);
  });

  it("hands applications the CA in ConfigMap moco-<name>-ca", async () => {
    const cm = await getJson<ConfigMapLike>(h, ["configmap", "-n", NS, "moco-db-ca"]);
    assert.deepEqual(cm.data, { "ca.crt": caPem });
  });

  it("mounts the certificate in mysqld and the agent, and my.cnf points at it", async () => {
    const sts = await getJson<StsLike>(h, ["sts", "-n", NS, "moco-db"]);
    const pod = sts.spec.template.spec;
    assert.equal(pod.volumes.find((v) => v.name === "mysql-tls")?.secret?.secretName, "moco-db-mysql-tls");
    for (const c of ["mysqld", "agent"]) {
      const m = pod.containers.find((x) => x.name === c)?.volumeMounts?.find((v) => v.name === "mysql-tls");
      assert.deepEqual(m, { name: "mysql-tls", mountPath: "/etc/mysql-tls", readOnly: true }, c);
    }
    assert.equal(pod.containers.find((x) => x.name === "agent")?.env?.find((e) => e.name === "MYSQL_TLS_DIR")?.value, "/etc/mysql-tls");
    const cmName = pod.volumes.find((v) => v.name === "mysql-conf")?.configMap?.name ?? "";
    const mycnf = (await getJson<ConfigMapLike>(h, ["configmap", "-n", NS, cmName])).data?.["my.cnf"] ?? "";
    for (const line of ["ssl_ca = /etc/mysql-tls/ca.crt", "ssl_cert = /etc/mysql-tls/tls.crt", "ssl_key = /etc/mysql-tls/tls.key",
      "admin_ssl_cert = /etc/mysql-tls/tls.crt", "require_secure_transport = ON"]) {
      assert.ok(mycnf.split("\n").includes(line), `my.cnf has ${line}`);
    }
  });

  it("renews a certificate that expires within 30 days", async () => {
    const caSecret = await getJson<SecretLike>(h, ["secret", "-n", SYS_NS, "moco-grpc-ca"]);
    const ca = await loadCertificateAuthority(unb64(caSecret.data?.["tls.crt"]), unb64(caSecret.data?.["tls.key"]));
    const dnsNames = mysqlServerDnsNames("db", NS, 3);
    // Issued 364 days ago with the default 1-year validity: one day left.
    const short = await issueCertificate(ca, { commonName: "short", dnsNames, usage: "server" }, new Date(Date.now() - 364 * 86_400_000));
    const b64 = (t: string) => Buffer.from(t).toString("base64");
    await h.kubectl(["patch", "secret", "-n", NS, "moco-db-mysql-tls", "--type=merge", "-p",
      JSON.stringify({ data: { "tls.crt": b64(short.cert), "tls.key": b64(short.key) } })]);
    await eventually("a renewed certificate", async () => {
      const s = await getJson<SecretLike>(h, ["secret", "-n", NS, "moco-db-mysql-tls"]);
      const cert = new X509Certificate(unb64(s.data?.["tls.crt"]));
      return new Date(cert.validTo).getTime() - Date.now() > 300 * 86_400_000;
    }, 60_000);
    const s = await getJson<SecretLike>(h, ["secret", "-n", NS, "moco-db-mysql-tls"]);
    assert.deepEqual(sans(unb64(s.data?.["tls.crt"])), [...dnsNames].sort());
  });

  it("uses a user-named Secret: reported while missing, then mounted as is", async () => {
    await h.apply(clusterManifest(NS, "own", { replicas: 1, tls: { secretName: "own-cert" } }));
    await eventually("the missing Secret reported", async () => {
      const c = await getJson<{ status?: { conditions?: { type: string; status: string; message?: string }[] } }>(h, ["mysqlcluster", "-n", NS, "own"]);
      const cond = c.status?.conditions?.find((x) => x.type === "ReconcileSuccess");
      return cond?.status === "False" && /spec\.tls\.secretName: Secret tls\/own-cert not found/.test(cond.message ?? "");
    }, 60_000);
    const caSecret = await getJson<SecretLike>(h, ["secret", "-n", SYS_NS, "moco-grpc-ca"]);
    const ca = await loadCertificateAuthority(unb64(caSecret.data?.["tls.crt"]), unb64(caSecret.data?.["tls.key"]));
    const leaf = await issueCertificate(ca, { commonName: "own", dnsNames: mysqlServerDnsNames("own", NS, 1), usage: "server" });
    await h.apply({
      apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name: "own-cert", namespace: NS },
      stringData: { "ca.crt": "USER-CA\n" + caPem, "tls.crt": leaf.cert, "tls.key": leaf.key },
    });
    await eventually("the StatefulSet of own", () => h.kubectl(["get", "sts", "-n", NS, "moco-own"]).then(() => true), 120_000);
    await waitIdle(ctl);
    const sts = await getJson<StsLike>(h, ["sts", "-n", NS, "moco-own"]);
    assert.equal(sts.spec.template.spec.volumes.find((v) => v.name === "mysql-tls")?.secret?.secretName, "own-cert");
    const cm = await getJson<ConfigMapLike>(h, ["configmap", "-n", NS, "moco-own-ca"]);
    assert.equal(cm.data?.["ca.crt"], "USER-CA\n" + caPem);
    await assert.rejects(h.kubectl(["get", "secret", "-n", NS, "moco-own-mysql-tls"]), /NotFound|not found/);
  });
});

// Pure builders of spec.tls (docs/tls.md): my.cnf keys, certificate names, mysql2 options,
// CHANGE REPLICATION SOURCE options, and the objects the controller derives from spec.tls.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  MYSQL_TLS_DIR,
  mysqlClientTlsOptions,
  mysqldTlsMyCnf,
  mysqlServerDnsNames,
  replicationSslOptions,
} from "../../../src/mysql/tls.ts";
import { generateMyCnf } from "../../../src/mysql/mycnf.ts";
import {
  buildBackupCronJob,
  buildCaConfigMap,
  buildMyCnfConfigMap,
  buildRestoreJob,
  buildStatefulSet,
  mysqlTlsSecretName,
  tlsIssuedByController,
  tlsMyCnfKeys,
} from "../../../src/controller/builders/index.ts";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { backupPolicy, cluster, options } from "../builders/fixtures.ts";
import { podMountsTls } from "../../../src/controller/tls.ts";
import { reachesPrimaryOverTls } from "../../../src/clustering/act.ts";
import type { ClusterTls } from "../../../src/clustering/ports.ts";
import { cloneRequestFor } from "../../../src/controller/clustering-adapter.ts";

describe("mysqldTlsMyCnf", () => {
  const cases = [
    { name: "TLS, plaintext clients allowed", require: false, want: "OFF" },
    { name: "TLS required", require: true, want: "ON" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(mysqldTlsMyCnf({ dir: "/d", requireSecureTransport: c.require }), {
        ssl_ca: "/d/ca.crt",
        ssl_cert: "/d/tls.crt",
        ssl_key: "/d/tls.key",
        admin_ssl_ca: "/d/ca.crt",
        admin_ssl_cert: "/d/tls.crt",
        admin_ssl_key: "/d/tls.key",
        tls_version: "TLSv1.2,TLSv1.3",
        require_secure_transport: c.want,
      });
    });
  }
});

describe("generateMyCnf with forced keys", () => {
  it("without keys the text is unchanged (a manifest without spec.tls keeps its ConfigMap name)", () => {
    assert.equal(generateMyCnf({ a: "1" }, 1 << 30, {}), generateMyCnf({ a: "1" }, 1 << 30));
  });
  const cases: { name: string; user: Record<string, string>; key: string; want: string }[] = [
    { name: "the TLS keys are added", user: {}, key: "ssl_cert", want: "ssl_cert = /etc/mysql-tls/tls.crt" },
    { name: "they override the user's", user: { ssl_cert: "/mine.pem" }, key: "ssl_cert", want: "ssl_cert = /etc/mysql-tls/tls.crt" },
    { name: "and the loose_ spelling", user: { loose_require_secure_transport: "OFF" }, key: "require_secure_transport", want: "require_secure_transport = ON" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const text = generateMyCnf(c.user, 1 << 30, mysqldTlsMyCnf({ dir: MYSQL_TLS_DIR, requireSecureTransport: true }));
      const lines = text.split("\n").filter((l) => l.startsWith(`${c.key} `) || l.startsWith(`loose_${c.key} `));
      assert.deepEqual(lines, [c.want]);
    });
  }
});

describe("mysqlServerDnsNames", () => {
  const cases = [
    {
      name: "1 instance",
      args: ["c", "ns", 1] as const,
      want: [
        "moco-c-0", "moco-c-0.moco-c", "moco-c-0.moco-c.ns.svc", "moco-c-0.moco-c.ns.svc.cluster.local",
        "moco-c-primary", "moco-c-primary.ns", "moco-c-primary.ns.svc", "moco-c-primary.ns.svc.cluster.local",
        "moco-c-replica", "moco-c-replica.ns", "moco-c-replica.ns.svc", "moco-c-replica.ns.svc.cluster.local",
        "localhost",
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(mysqlServerDnsNames(...c.args), c.want));
  }
  it("3 instances: each Pod's names, once", () => {
    const n = mysqlServerDnsNames("c", "ns", 3);
    for (const i of [0, 1, 2]) assert.ok(n.includes(`moco-c-${i}.moco-c.ns.svc`));
    assert.equal(new Set(n).size, n.length);
    assert.equal(n.length, 3 * 4 + 8 + 1);
  });
});

describe("mysqlClientTlsOptions", () => {
  const CA = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
  const ssl = { ca: CA, rejectUnauthorized: true, verifyIdentity: true, minVersion: "TLSv1.2" };
  const cases = [
    { name: "no TLS: host and port only", host: "10.0.0.1", tls: undefined, want: { host: "10.0.0.1", port: 3306 }, stream: false },
    { name: "TLS, the host is the name", host: "moco-c-0", tls: { ca: CA }, want: { host: "moco-c-0", port: 3306, ssl }, stream: false },
    { name: "TLS, same name given", host: "moco-c-0", tls: { ca: CA, serverName: "moco-c-0" }, want: { host: "moco-c-0", port: 3306, ssl }, stream: false },
    { name: "TLS to a Pod IP verifying the Pod's name", host: "10.0.0.1", tls: { ca: CA, serverName: "moco-c-0.moco-c.ns.svc" }, want: { host: "moco-c-0.moco-c.ns.svc", port: 3306, ssl }, stream: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { stream, ...rest } = mysqlClientTlsOptions(c.host, 3306, c.tls);
      assert.deepEqual(rest, c.want);
      assert.equal(typeof stream === "function", c.stream);
    });
  }
});

describe("replicationSslOptions", () => {
  const cases = [
    { name: "no TLS", tls: undefined, want: { sql: "SOURCE_SSL=0", params: [] } },
    { name: "verify the name", tls: { caFile: "/etc/mysql-tls/ca.crt", verifyServerName: true }, want: { sql: "SOURCE_SSL=1, SOURCE_SSL_CA=?, SOURCE_SSL_VERIFY_SERVER_CERT=1", params: ["/etc/mysql-tls/ca.crt"] } },
    { name: "CA only (Pod IPs as SOURCE_HOST)", tls: { caFile: "/ca", verifyServerName: false }, want: { sql: "SOURCE_SSL=1, SOURCE_SSL_CA=?, SOURCE_SSL_VERIFY_SERVER_CERT=0", params: ["/ca"] } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(replicationSslOptions(c.tls), c.want));
});

describe("objects derived from spec.tls", () => {
  const withTls = (tls: NonNullable<MySQLCluster["spec"]>["tls"]) => cluster(3, (c) => { if (c.spec) c.spec.tls = tls; });
  const cases = [
    { name: "absent: nothing changes", c: cluster(3), secret: undefined, issued: false, keys: 0 },
    { name: "tls: {} → the controller issues moco-<name>-mysql-tls", c: withTls({}), secret: "moco-test-mysql-tls", issued: true, keys: 8 },
    { name: "the user's Secret", c: withTls({ secretName: "mine", requireSecureTransport: true }), secret: "mine", issued: false, keys: 8 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(mysqlTlsSecretName(c.c), c.secret);
      assert.equal(tlsIssuedByController(c.c), c.issued);
      assert.equal(Object.keys(tlsMyCnfKeys(c.c)).length, c.keys);
      const s = buildStatefulSet(c.c, {}, options());
      const pod = s.spec?.template.spec;
      const vol = pod?.volumes?.find((v) => v.name === "mysql-tls");
      assert.deepEqual(vol?.secret?.secretName, c.secret);
      for (const name of ["mysqld", "agent"]) {
        const ct = pod?.containers.find((x) => x.name === name);
        const m = ct?.volumeMounts?.find((x) => x.name === "mysql-tls");
        assert.deepEqual(m === undefined ? undefined : { path: m.mountPath, ro: m.readOnly }, c.secret === undefined ? undefined : { path: "/etc/mysql-tls", ro: true });
      }
      const agentEnv = pod?.containers.find((x) => x.name === "agent")?.env?.find((e) => e.name === "MYSQL_TLS_DIR");
      assert.equal(agentEnv?.value, c.secret === undefined ? undefined : "/etc/mysql-tls");
      const mycnf = buildMyCnfConfigMap(c.c, undefined);
      assert.equal(mycnf.text.includes("ssl_ca = /etc/mysql-tls/ca.crt"), c.secret !== undefined);
      assert.equal(mycnf.text.includes("require_secure_transport = ON"), c.c.spec?.tls?.requireSecureTransport === true);
      if (c.secret === undefined) assert.equal(mycnf.name, buildMyCnfConfigMap(cluster(3), undefined).name);

      const job = buildBackupCronJob(c.c, backupPolicy(), options()).spec?.jobTemplate.spec?.template.spec;
      const caVol = job?.volumes?.find((v) => v.name === "mysql-tls-ca");
      assert.equal(caVol?.configMap?.name, c.secret === undefined ? undefined : "moco-test-ca");
      const caEnv = job?.containers[0]?.env?.find((e) => e.name === "MYSQL_TLS_CA_FILE");
      assert.equal(caEnv?.value, c.secret === undefined ? undefined : "/etc/mysql-tls-ca/ca.crt");
    });
  }
  it("restore Job mounts the CA ConfigMap too", () => {
    const c = cluster(1, (x) => {
      assert.ok(x.spec, "the fixture has a spec");
      x.spec.tls = {};
      x.spec.restore = { sourceName: "src", sourceNamespace: "ns", restorePoint: "2026-01-01T00:00:00Z", jobConfig: backupPolicy().spec.jobConfig };
    });
    const job = buildRestoreJob(c, options()).spec?.template.spec;
    assert.equal(job?.volumes?.find((v) => v.name === "mysql-tls-ca")?.configMap?.name, "moco-test-ca");
    assert.ok(job?.containers[0]?.volumeMounts?.some((m) => m.mountPath === "/etc/mysql-tls-ca"));
  });
  it("CA ConfigMap moco-<name>-ca", () => {
    const cm = buildCaConfigMap(cluster(3), "PEM");
    assert.equal(cm.metadata?.name, "moco-test-ca");
    assert.equal(cm.metadata?.namespace, "ns");
    assert.deepEqual(cm.data, { "ca.crt": "PEM" });
    assert.equal(cm.metadata?.ownerReferences?.[0]?.kind, "MySQLCluster");
  });
});

describe("podMountsTls (the engine uses TLS only with Pods made with spec.tls)", () => {
  const cases = [
    { name: "no Pod", pod: undefined, want: false },
    { name: "a Pod from before spec.tls", pod: { spec: { containers: [], volumes: [{ name: "grpc-cert" }] } }, want: false },
    { name: "a Pod with the certificate", pod: { spec: { containers: [], volumes: [{ name: "grpc-cert" }, { name: "mysql-tls" }] } }, want: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(podMountsTls(c.pod), c.want));
});

describe("reachesPrimaryOverTls (replication channel and clone from the primary) and the clone request", () => {
  const tls = (mounted?: (i: number) => boolean): ClusterTls => ({
    ca: "CA", serverName: (i) => `moco-c-${i}.moco-c.ns.svc`, replication: { caFile: "/etc/mysql-tls/ca.crt", verifyServerName: true },
    ...(mounted === undefined ? {} : { instanceHasTls: mounted }),
  });
  const cases: Array<[string, ClusterTls | null | undefined, boolean]> = [
    ["no spec.tls (undefined)", undefined, false],
    ["no spec.tls (null)", null, false],
    ["spec.tls, every Pod mounts the certificate", tls(), true],
    ["spec.tls, both ends mount it", tls(() => true), true],
    ["the recipient's Pod predates spec.tls", tls((i) => i !== 2), false],
    ["the primary's Pod predates spec.tls", tls((i) => i !== 0), false],
  ];
  for (const [name, t, want] of cases) {
    it(name, () => {
      assert.equal(reachesPrimaryOverTls(t, 2, 0), want);
      const req = { ordinal: 2, podName: "moco-c-2", podIp: "10.0.0.3", podHostname: "moco-c-2", donorHost: "10.0.0.1", donorPort: 33062, donorUser: "moco-clone-donor", donorPassword: "p", initUser: "moco-admin", initPassword: "q" };
      assert.equal(cloneRequestFor({ ...req, verifyDonorTls: want }).verify_donor_tls, want ? true : undefined, "verify_donor_tls only when asked (an older agent would refuse the field otherwise)");
    });
  }
});

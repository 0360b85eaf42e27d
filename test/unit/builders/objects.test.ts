import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  DEFAULT_BUILDER_OPTIONS,
  DEFAULT_SLOW_LOG_CONFIG_TEMPLATE,
  MOCO_TS_VERSION,
  SlowLogTemplateError,
  buildControllerSecret,
  buildHeadlessService,
  buildMyCnfConfigMap,
  buildMyCnfSecret,
  buildPrimaryService,
  buildReplicaService,
  buildServiceAccount,
  buildSlowLogConfigMap,
  buildUserSecret,
  generatePasswords,
  goQuote,
  mergeServicePorts,
  myCnfClientFileText,
  mysqldMemoryBytes,
  passwordsFromSecret,
  renderSlowLogTemplate,
  resolveBuilderOptions,
  selectConfigMapsToPrune,
  selectSlowLogConfigMapsToDelete,
} from "../../../src/controller/builders/index.ts";
import type { ConfigMapListItem } from "../../../src/controller/builders/index.ts";
import { fnv1a32Hex, generateMyCnf, mycnfConfigMapName } from "../../../src/mysql/mycnf.ts";
import type { MocoPasswords } from "../../../src/mysql/users.ts";
import { LABELS, OWNER, UID, cluster, options, spec } from "./fixtures.ts";

const PASSWORDS: MocoPasswords = {
  ADMIN_PASSWORD: "a".repeat(32),
  AGENT_PASSWORD: "b".repeat(32),
  REPLICATION_PASSWORD: "c".repeat(32),
  CLONE_DONOR_PASSWORD: "d".repeat(32),
  EXPORTER_PASSWORD: "e".repeat(32),
  BACKUP_PASSWORD: "f".repeat(32),
  READONLY_PASSWORD: "0".repeat(32),
  WRITABLE_PASSWORD: "1".repeat(32),
};
const unb64 = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString();
const MiB = 1024 * 1024;

describe("options", () => {
  it("defaults follow docs/controller.md#flags; the moco-ts version matches package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
    assert.equal(MOCO_TS_VERSION, pkg.version);
    assert.equal(DEFAULT_BUILDER_OPTIONS.agentImage, `ghcr.io/moco-ts/moco-ts:${pkg.version}`);
    assert.equal(DEFAULT_BUILDER_OPTIONS.fluentBitImage, "ghcr.io/cybozu-go/moco/fluent-bit:5.0.2.1");
    assert.equal(DEFAULT_BUILDER_OPTIONS.exporterImage, "ghcr.io/cybozu-go/moco/mysqld_exporter:0.19.0.1");
    assert.equal(DEFAULT_BUILDER_OPTIONS.configMapHistoryLimit, 10);
    assert.equal(DEFAULT_BUILDER_OPTIONS.disableDefaultSecurityContext, false);
    assert.equal(resolveBuilderOptions({ agentImage: "x", backupImage: undefined }).backupImage, DEFAULT_BUILDER_OPTIONS.backupImage);
    assert.equal(resolveBuilderOptions({ agentImage: "x" }).agentImage, "x");
  });
});

describe("Secrets", () => {
  it("generatePasswords: 8 keys of 32 lower-case hex chars from the random source", () => {
    let n = 0;
    const p = generatePasswords((size) => new Uint8Array(size).fill(n++));
    assert.equal(Object.keys(p).length, 8);
    assert.equal(p.ADMIN_PASSWORD, "00".repeat(16));
    assert.equal(p.WRITABLE_PASSWORD, "07".repeat(16));
    for (const v of Object.values(generatePasswords())) assert.match(v, /^[0-9a-f]{32}$/);
  });

  it("controller Secret: <sys>/mysql-<ns>.<name>, controller-namespace labels, version annotation, no owner", () => {
    const s = buildControllerSecret(cluster(), PASSWORDS, options());
    assert.deepEqual(s.metadata, {
      name: "mysql-ns.test",
      namespace: "moco-system",
      labels: { ...LABELS, "app.kubernetes.io/instance-namespace": "ns" },
      annotations: { "moco.cybozu.com/secret-version": "1" },
    });
    assert.equal(unb64(s.data?.["AGENT_PASSWORD"]), PASSWORDS.AGENT_PASSWORD);
    assert.deepEqual(Object.keys(s.data ?? {}), Object.keys(s.data ?? {}).sort());
    assert.deepEqual(passwordsFromSecret(s), PASSWORDS);
  });

  it("passwordsFromSecret refuses a Secret without version 1, naming it and no value", () => {
    const s = buildControllerSecret(cluster(), PASSWORDS, options());
    s.metadata = { ...s.metadata, annotations: {} };
    assert.throws(() => passwordsFromSecret(s), (e: Error) => e.message.includes("moco-system/mysql-ns.test") && !e.message.includes("aaaa"));
    const t = buildUserSecret(cluster(), PASSWORDS);
    delete t.data?.["ADMIN_PASSWORD"];
    assert.throws(() => passwordsFromSecret(t), /ADMIN_PASSWORD/);
  });

  it("user Secret moco-<name>: labelSet, annotation, owner, eight keys", () => {
    const s = buildUserSecret(cluster(), PASSWORDS);
    assert.deepEqual(s.metadata, {
      name: "moco-test",
      namespace: "ns",
      labels: LABELS,
      annotations: { "moco.cybozu.com/secret-version": "1" },
      ownerReferences: [OWNER],
    });
    assert.deepEqual(Object.keys(s.data ?? {}), [
      "ADMIN_PASSWORD",
      "AGENT_PASSWORD",
      "BACKUP_PASSWORD",
      "CLONE_DONOR_PASSWORD",
      "EXPORTER_PASSWORD",
      "READONLY_PASSWORD",
      "REPLICATION_PASSWORD",
      "WRITABLE_PASSWORD",
    ]);
  });

  it("my.cnf Secret: exact text of the five files and moco-agent-my.cnf (moco-ts)", () => {
    const s = buildMyCnfSecret(cluster(), PASSWORDS);
    assert.equal(s.metadata?.name, "moco-my-cnf-test");
    assert.deepEqual(s.metadata?.ownerReferences, [OWNER]);
    assert.deepEqual(s.metadata?.annotations, { "moco.cybozu.com/secret-version": "1" });
    const data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, unb64(v)]));
    assert.deepEqual(data, {
      "moco-admin-my.cnf": `[client]\nuser="moco-admin"\npassword="${"a".repeat(32)}"\n`,
      "moco-agent-my.cnf": `[client]\nuser="moco-agent"\npassword="${"b".repeat(32)}"\n`,
      "moco-backup-my.cnf": `[client]\nuser="moco-backup"\npassword="${"f".repeat(32)}"\n`,
      "moco-exporter-my.cnf": `[client]\nuser="moco-exporter"\npassword="${"e".repeat(32)}"\nsocket="/run/mysqld.sock"\n`,
      "moco-readonly-my.cnf": `[client]\nuser="moco-readonly"\npassword="${"0".repeat(32)}"\n`,
      "moco-writable-my.cnf": `[client]\nuser="moco-writable"\npassword="${"1".repeat(32)}"\n`,
    });
  });

  it("goQuote escapes like Go %q", () => {
    assert.equal(goQuote('a"b\\c\n\t\x01'), '"a\\"b\\\\c\\n\\t\\x01"');
    assert.equal(myCnfClientFileText("u", 'p"'), '[client]\nuser="u"\npassword="p\\""\n');
  });

  it("ServiceAccount", () => {
    assert.deepEqual(buildServiceAccount(cluster()), {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "moco-test", namespace: "ns", labels: LABELS, ownerReferences: [OWNER] },
    });
  });
});

describe("my.cnf ConfigMap", () => {
  it("name = mycnfConfigMapName(text); data my.cnf; labels; owner", () => {
    const r = buildMyCnfConfigMap(cluster(), { max_connections: "5" });
    assert.equal(r.text, generateMyCnf({ max_connections: "5" }, 1000 * MiB));
    assert.equal(r.name, mycnfConfigMapName("test", r.text));
    assert.match(r.name, /^moco-test\.[0-9a-f]{8}$/);
    assert.deepEqual(r.configMap.metadata, { name: r.name, namespace: "ns", labels: LABELS, ownerReferences: [OWNER] });
    assert.deepEqual(r.configMap.data, { "my.cnf": r.text });
  });

  const memCases: [string, Record<string, Record<string, string>> | undefined, number][] = [
    ["request 1000Mi", { requests: { memory: "1000Mi" } }, 734003200],
    ["request wins over limit", { requests: { memory: "500Mi" }, limits: { memory: "1000Mi" } }, 367001600],
    ["limit when no request", { limits: { memory: "1000Mi" } }, 734003200],
    ["zero request falls back to limit", { requests: { memory: "0" }, limits: { memory: "500Mi" } }, 367001600],
    ["nothing → 128 MiB", undefined, 134217728],
  ];
  for (const [name, resources, pool] of memCases) {
    it(`buffer pool: ${name}`, () => {
      const c = cluster(3, (x) => {
        const m = spec(x).podTemplate.spec.containers?.[0];
        assert.ok(m, "the fixture has a mysqld container");
        if (resources === undefined) delete m.resources;
        else m.resources = resources;
      });
      assert.match(buildMyCnfConfigMap(c, undefined).text, new RegExp(`\ninnodb_buffer_pool_size = ${pool}\n`));
      if (resources !== undefined && pool !== 134217728) assert.ok(mysqldMemoryBytes(c) > 0);
    });
  }
});

describe("slow-log ConfigMap", () => {
  it("default template: 259 bytes, hash 13246250, rendered path", () => {
    assert.equal(Buffer.byteLength(DEFAULT_SLOW_LOG_CONFIG_TEMPLATE), 259);
    assert.equal(fnv1a32Hex(DEFAULT_SLOW_LOG_CONFIG_TEMPLATE), "13246250");
    const r = buildSlowLogConfigMap(cluster());
    assert.equal(r?.name, "moco-slow-log-agent-config-test.13246250");
    assert.deepEqual(r?.configMap.metadata, { name: r?.name, namespace: "ns", labels: LABELS, ownerReferences: [OWNER] });
    assert.equal(r?.configMap.data?.["fluent-bit.conf"], DEFAULT_SLOW_LOG_CONFIG_TEMPLATE.replace("{{ .Path }}", "/var/log/mysql/mysql.slow"));
  });

  it("disabled → undefined", () => {
    assert.equal(buildSlowLogConfigMap(cluster(3, (c) => (spec(c).disableSlowQueryLogContainer = true))), undefined);
  });

  it("custom template: hash of the template text, not of the output", () => {
    const t = "a {{.Path}} b\n";
    const r = buildSlowLogConfigMap(cluster(3, (c) => (spec(c).slowQueryLogConfigTmpl = t)));
    assert.equal(r?.name, `moco-slow-log-agent-config-test.${fnv1a32Hex(t)}`);
    assert.equal(r?.configMap.data?.["fluent-bit.conf"], "a /var/log/mysql/mysql.slow b\n");
  });

  it("a template with if/with/printf and trim markers: the ConfigMap carries the rendered text", () => {
    const t =
      "[INPUT]\n  Name tail\n{{- if .Path }}\n  Path {{ .Path }}\n{{- end }}\n" +
      "{{ with .Path }}  DB {{ printf \"%s.db\" . }}{{ end }}\n[FILTER]\n  Name grep\n  Regex log {{ `^# Time` }}\n";
    const r = buildSlowLogConfigMap(cluster(3, (c) => (spec(c).slowQueryLogConfigTmpl = t)));
    assert.equal(r?.name, `moco-slow-log-agent-config-test.${fnv1a32Hex(t)}`);
    assert.equal(
      r?.configMap.data?.["fluent-bit.conf"],
      "[INPUT]\n  Name tail\n  Path /var/log/mysql/mysql.slow\n  DB /var/log/mysql/mysql.slow.db\n[FILTER]\n  Name grep\n  Regex log ^# Time\n",
    );
  });

  it("a template moco-ts cannot render: SlowLogTemplateError naming the field, the action and its position", () => {
    assert.equal(renderSlowLogTemplate("x  {{- .Path -}}  y"), "x/var/log/mysql/mysql.slowy");
    const bad: readonly (readonly [string, RegExp])[] = [
      ["[INPUT]\n  Path {{ .Other }}\n", /^spec\.slowQueryLogConfigTmpl: line 2, column 8: \{\{ \.Other \}\}: can't evaluate field Other/],
      ["{{ .Path ", /^spec\.slowQueryLogConfigTmpl: line 1, column 1: unclosed action$/],
      ["{{ range .Path }}{{ end }}", /^spec\.slowQueryLogConfigTmpl: line 1, column 4: .*\{\{ range \}\} is not supported by moco-ts/],
    ];
    for (const [t, message] of bad) {
      assert.throws(() => renderSlowLogTemplate(t), (e: unknown) => e instanceof SlowLogTemplateError && message.test(e.message));
      assert.throws(() => buildSlowLogConfigMap(cluster(3, (c) => (spec(c).slowQueryLogConfigTmpl = t))), SlowLogTemplateError);
    }
  });
});

describe("ConfigMap pruning", () => {
  const own = [{ kind: "MySQLCluster", uid: UID, controller: true }];
  const cm = (name: string, t: string, ownerReferences = own): ConfigMapListItem => ({
    metadata: { name, creationTimestamp: new Date(t), ownerReferences },
  });

  it("keeps historyLimit-1 newest besides the current; prunes the rest", () => {
    const items = [
      cm("moco-test.00000001", "2024-01-01T00:00:01Z"),
      cm("moco-test.00000002", "2024-01-01T00:00:02Z"),
      cm("moco-test.00000003", "2024-01-01T00:00:03Z"),
      cm("moco-test.00000004", "2024-01-01T00:00:04Z"),
      cm("moco-test.0000000c", "2024-01-01T00:00:00Z"),
    ];
    const params = { prefix: "moco-test.", currentName: "moco-test.0000000c", clusterUid: UID };
    assert.deepEqual(selectConfigMapsToPrune(items, { ...params, historyLimit: 3 }), ["moco-test.00000002", "moco-test.00000001"]);
    assert.deepEqual(selectConfigMapsToPrune(items, { ...params, historyLimit: 10 }), []);
    assert.deepEqual(selectConfigMapsToPrune(items, { ...params, historyLimit: 1 }), [
      "moco-test.00000004",
      "moco-test.00000003",
      "moco-test.00000002",
      "moco-test.00000001",
    ]);
  });

  it("never selects another cluster's, a user's or a non-hash name", () => {
    const items = [
      cm("moco-test.00000001", "2024-01-01T00:00:01Z"),
      cm("moco-test.x.00000001", "2024-01-01T00:00:01Z"),
      cm("moco-test.00000002", "2024-01-01T00:00:01Z", [{ kind: "MySQLCluster", uid: "other", controller: true }]),
      cm("moco-test.config", "2024-01-01T00:00:01Z"),
      cm("moco-test2.00000003", "2024-01-01T00:00:01Z"),
      { metadata: { name: "moco-test.00000005" } },
    ];
    assert.deepEqual(
      selectConfigMapsToPrune(items, { prefix: "moco-test.", currentName: "moco-test.ffffffff", clusterUid: UID, historyLimit: 1 }),
      ["moco-test.00000001"],
    );
  });

  it("slow-log ConfigMaps to delete when disabled: dot-terminated prefix and owner", () => {
    const items = [
      cm("moco-slow-log-agent-config-test.13246250", "2024-01-01T00:00:00Z"),
      cm("moco-slow-log-agent-config-test2.13246250", "2024-01-01T00:00:00Z"),
      cm("moco-slow-log-agent-config-test.00000001", "2024-01-01T00:00:00Z", []),
    ];
    assert.deepEqual(selectSlowLogConfigMapsToDelete(items, { clusterName: "test", clusterUid: UID }), [
      "moco-slow-log-agent-config-test.13246250",
    ]);
  });
});

describe("Services", () => {
  it("headless Service", () => {
    assert.deepEqual(buildHeadlessService(cluster()), {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "moco-test", namespace: "ns", labels: LABELS, ownerReferences: [OWNER] },
      spec: {
        type: "ClusterIP",
        clusterIP: "None",
        publishNotReadyAddresses: true,
        selector: LABELS,
        ports: [
          { name: "mysql", protocol: "TCP", port: 3306, targetPort: "mysql" },
          { name: "mysqlx", protocol: "TCP", port: 33060, targetPort: "mysqlx" },
          { name: "mysql-admin", protocol: "TCP", port: 33062, targetPort: "mysql-admin" },
        ],
      },
    });
  });

  it("primary/replica without template", () => {
    for (const [build, name, role] of [
      [buildPrimaryService, "moco-test-primary", "primary"],
      [buildReplicaService, "moco-test-replica", "replica"],
    ] as const) {
      assert.deepEqual(build(cluster()), {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: "ns", labels: LABELS, ownerReferences: [OWNER] },
        spec: {
          type: "ClusterIP",
          selector: { ...LABELS, "moco.cybozu.com/role": role },
          ports: [
            { name: "mysql", protocol: "TCP", port: 3306, targetPort: "mysql" },
            { name: "mysqlx", protocol: "TCP", port: 33060, targetPort: "mysqlx" },
          ],
        },
      });
    }
  });

  it("template: labels merged (labelSet wins), annotations, type, nodePort and clusterIP kept, selector forced", () => {
    const c = cluster(3, (x) => {
      spec(x).primaryServiceTemplate = {
        metadata: { labels: { "app.kubernetes.io/name": "hijack", team: "a" }, annotations: { "lb/x": "1" } },
        spec: {
          type: "NodePort",
          clusterIP: "10.0.0.1",
          clusterIPs: ["10.0.0.1"],
          selector: { foo: "bar" },
          ports: [
            { name: "extra", port: 8080, targetPort: 8080 },
            { name: "mysql", port: 1, protocol: "UDP", nodePort: 30001, targetPort: 2 },
          ],
        },
      };
    });
    const s = buildPrimaryService(c);
    assert.deepEqual(s.metadata?.labels, { ...LABELS, team: "a" });
    assert.deepEqual(s.metadata?.annotations, { "lb/x": "1" });
    assert.equal(s.spec?.type, "NodePort");
    assert.equal(s.spec?.clusterIP, "10.0.0.1", "a pinned clusterIP passes through, as in MOCO (issue 18)");
    assert.deepEqual(s.spec?.clusterIPs, ["10.0.0.1"]);
    assert.deepEqual(s.spec?.selector, { ...LABELS, "moco.cybozu.com/role": "primary" });
    assert.deepEqual(s.spec?.ports, [
      { name: "extra", port: 8080, targetPort: 8080 },
      { name: "mysql", port: 3306, protocol: "TCP", nodePort: 30001, targetPort: "mysql" },
      { name: "mysqlx", protocol: "TCP", port: 33060, targetPort: "mysqlx" },
    ]);
    assert.equal(buildReplicaService(c).spec?.type, "ClusterIP", "replica has no template");
  });

  it("clusterIP from the template: kept when set, not sent when it asks for an allocation", () => {
    const cases: { name: string; template: Record<string, unknown>; clusterIP?: string; clusterIPs?: string[] }[] = [
      { name: "unset", template: {} },
      { name: "empty clusterIP", template: { clusterIP: "" } },
      { name: "empty clusterIPs", template: { clusterIP: "", clusterIPs: [""] } },
      { name: "null clusterIP", template: { clusterIP: null } },
      { name: "clusterIP only", template: { clusterIP: "10.0.0.7" }, clusterIP: "10.0.0.7" },
      { name: "clusterIPs only", template: { clusterIPs: ["10.0.0.8"] }, clusterIPs: ["10.0.0.8"] },
      { name: "dual stack", template: { clusterIP: "10.0.0.9", clusterIPs: ["10.0.0.9", "fd00::9"] }, clusterIP: "10.0.0.9", clusterIPs: ["10.0.0.9", "fd00::9"] },
      { name: "headless", template: { clusterIP: "None" }, clusterIP: "None" },
    ];
    for (const tc of cases) {
      const c = cluster(3, (x) => (spec(x).replicaServiceTemplate = { spec: tc.template }));
      const s = buildReplicaService(c);
      assert.equal(s.spec?.clusterIP, tc.clusterIP, tc.name);
      assert.deepEqual(s.spec?.clusterIPs, tc.clusterIPs, tc.name);
      assert.ok(!("clusterIP" in (s.spec ?? {})) || tc.clusterIP !== undefined, `${tc.name}: no clusterIP key sent`);
    }
  });

  it("port merge cases", () => {
    assert.deepEqual(mergeServicePorts(undefined).map((p) => p.name), ["mysql", "mysqlx"]);
    assert.deepEqual(mergeServicePorts([{ name: "mysqlx", port: 1 }]).map((p) => [p.name, p.port]), [
      ["mysqlx", 33060],
      ["mysql", 3306],
    ]);
    assert.deepEqual(
      mergeServicePorts([{ name: "mysqlx", port: 1, nodePort: 30002 }, { name: "mysql", port: 2 }]),
      [
        { name: "mysqlx", port: 33060, nodePort: 30002, protocol: "TCP", targetPort: "mysqlx" },
        { name: "mysql", port: 3306, protocol: "TCP", targetPort: "mysql" },
      ],
    );
  });

  it("deterministic and does not mutate the template", () => {
    const c = cluster(3, (x) => (spec(x).replicaServiceTemplate = { spec: { ports: [{ name: "mysql", port: 1 }] } }));
    const before = JSON.stringify(c);
    assert.equal(JSON.stringify(buildReplicaService(c)), JSON.stringify(buildReplicaService(c)));
    assert.equal(JSON.stringify(c), before);
  });
});

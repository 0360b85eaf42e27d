import { describe, it } from "node:test";
import { DEFAULT_TIMEZONE_SQL_FILE } from "../../../src/shared/init-script.ts";
import assert from "node:assert/strict";
import type { V1Container, V1StatefulSet } from "@kubernetes/client-node";
import {
  agentArgs,
  buildMyCnfConfigMap,
  buildStatefulSet,
  startupFailureThreshold,
} from "../../../src/controller/builders/index.ts";
import type { MySQLCluster } from "../../../src/api/v1beta2/index.ts";
import { INIT_SCRIPT, LABELS, OWNER, cluster, options, spec } from "./fixtures.ts";

function sts(c: MySQLCluster, opts = options(), userMyCnf?: Record<string, string>, live?: V1StatefulSet): V1StatefulSet {
  return buildStatefulSet(c, { userMyCnf, live }, opts);
}

function containers(s: V1StatefulSet): V1Container[] {
  return s.spec?.template.spec?.containers ?? [];
}
function container(s: V1StatefulSet, name: string): V1Container {
  const c = [...containers(s), ...(s.spec?.template.spec?.initContainers ?? [])].find((x) => x.name === name);
  assert.ok(c, `container ${name} missing`);
  return c;
}

const SECURITY = { runAsUser: 10000, runAsGroup: 10000 };
const MYCNF_NAME = buildMyCnfConfigMap(cluster(), undefined).name;

describe("buildStatefulSet: object for 1, 3 and 5 instances", () => {
  for (const replicas of [1, 3, 5]) {
    it(`${replicas} instance(s): name, labels, owner, selector, replicas, strategy`, () => {
      const s = sts(cluster(replicas));
      assert.equal(s.apiVersion, "apps/v1");
      assert.equal(s.kind, "StatefulSet");
      assert.deepEqual(s.metadata, { name: "moco-test", namespace: "ns", labels: LABELS, ownerReferences: [OWNER] });
      assert.equal(s.spec?.replicas, replicas);
      assert.deepEqual(s.spec?.selector, { matchLabels: LABELS });
      assert.equal(s.spec?.podManagementPolicy, "Parallel");
      assert.deepEqual(s.spec?.updateStrategy, { type: "RollingUpdate" });
      assert.equal(s.spec?.serviceName, "moco-test");
      assert.deepEqual(s.spec?.template.metadata, { labels: LABELS });
      assert.deepEqual(Object.keys(s.metadata?.labels ?? {}), Object.keys(LABELS), "labels sorted");
    });
  }

  it("offline scales to 0", () => {
    assert.equal(sts(cluster(3, (c) => (spec(c).offline = true))).spec?.replicas, 0);
  });

  it("force-rolling-update is copied only for the exact value true", () => {
    const forced = sts(cluster(3, (c) => (c.metadata = { ...c.metadata, annotations: { "moco.cybozu.com/force-rolling-update": "true" } })));
    assert.deepEqual(forced.metadata?.annotations, { "moco.cybozu.com/force-rolling-update": "true" });
    const other = sts(cluster(3, (c) => (c.metadata = { ...c.metadata, annotations: { "moco.cybozu.com/force-rolling-update": "True" } })));
    assert.equal(other.metadata?.annotations, undefined);
  });

  it("throws without uid or mysqld container", () => {
    assert.throws(() => sts(cluster(3, (c) => delete c.metadata?.uid)), /uid/);
    assert.throws(() => sts(cluster(3, (c) => (spec(c).podTemplate.spec.containers = [{ name: "x", image: "y" }]))), /mysqld/);
  });
});

describe("buildStatefulSet: Pod layout", () => {
  const s = sts(cluster());
  const pod = s.spec?.template.spec;

  it("container and init container order; serviceAccount; grace period; security context; affinity", () => {
    assert.deepEqual(containers(s).map((c) => c.name), ["mysqld", "agent", "slow-log"]);
    assert.deepEqual(pod?.initContainers?.map((c) => c.name), ["moco-init"]);
    assert.equal(pod?.serviceAccountName, "moco-test");
    assert.equal(pod?.terminationGracePeriodSeconds, 300);
    assert.deepEqual(pod?.securityContext, { fsGroup: 10000, fsGroupChangePolicy: "OnRootMismatch" });
    assert.deepEqual(pod?.affinity, {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: "kubernetes.io/hostname",
              labelSelector: {
                matchExpressions: [
                  { key: "app.kubernetes.io/name", operator: "In", values: ["mysql"] },
                  { key: "app.kubernetes.io/instance", operator: "In", values: ["test"] },
                  { key: "app.kubernetes.io/created-by", operator: "In", values: ["moco"] },
                ],
              },
            },
          },
        ],
      },
    });
  });

  it("volumes: no shared volume; emptyDirs then configMap/secret volumes with mode 0644", () => {
    assert.deepEqual(pod?.volumes, [
      { name: "tmp", emptyDir: {} },
      { name: "run", emptyDir: {} },
      { name: "var-log", emptyDir: {} },
      { name: "mysql-conf-d", emptyDir: {} },
      { name: "mysql-conf", configMap: { name: MYCNF_NAME, defaultMode: 420 } },
      { name: "my-cnf-secret", secret: { secretName: "moco-my-cnf-test", defaultMode: 420 } },
      { name: "grpc-cert", secret: { secretName: "moco-test-grpc", defaultMode: 420 } },
      { name: "slow-fluent-bit-config", configMap: { name: "moco-slow-log-agent-config-test.13246250", defaultMode: 420 } },
    ]);
  });

  it("mysqld: args, lifecycle, ports, probes, mounts, security", () => {
    assert.deepEqual(container(s, "mysqld"), {
      name: "mysqld",
      image: "mysql:9.7",
      resources: { requests: { memory: "1000Mi" } },
      args: ["--defaults-file=/etc/mysql/my.cnf"],
      lifecycle: { preStop: { exec: { command: ["sleep", "20"] } } },
      ports: [
        { name: "mysql", containerPort: 3306, protocol: "TCP" },
        { name: "mysqlx", containerPort: 33060, protocol: "TCP" },
        { name: "mysql-admin", containerPort: 33062, protocol: "TCP" },
        { name: "health", containerPort: 9081, protocol: "TCP" },
      ],
      startupProbe: { httpGet: { path: "/healthz", port: "health", scheme: "HTTP" }, periodSeconds: 10, failureThreshold: 360 },
      livenessProbe: { httpGet: { path: "/healthz", port: "health", scheme: "HTTP" } },
      readinessProbe: { httpGet: { path: "/readyz", port: "health", scheme: "HTTP" } },
      volumeMounts: [
        { name: "tmp", mountPath: "/tmp" },
        { name: "run", mountPath: "/run" },
        { name: "var-log", mountPath: "/var/log/mysql" },
        { name: "mysql-conf", mountPath: "/etc/mysql" },
        { name: "mysql-conf-d", mountPath: "/etc/mysql-conf.d" },
        { name: "my-cnf-secret", mountPath: "/mysql-credentials", readOnly: true },
        { name: "mysql-data", mountPath: "/var/lib/mysql" },
      ],
      securityContext: SECURITY,
    });
  });

  it("agent: moco-ts image and command, flags, env, envFrom, ports, mounts, resources", () => {
    assert.deepEqual(container(s, "agent"), {
      name: "agent",
      image: "agent:1",
      command: ["moco-agent"],
      args: ["--max-delay", "60s"],
      env: [
        { name: "POD_NAME", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } },
        { name: "CLUSTER_NAME", value: "test" },
      ],
      envFrom: [{ secretRef: { name: "moco-test" } }],
      ports: [
        { name: "agent", containerPort: 9080, protocol: "TCP" },
        { name: "agent-metrics", containerPort: 8080, protocol: "TCP" },
      ],
      volumeMounts: [
        { name: "run", mountPath: "/run" },
        { name: "var-log", mountPath: "/var/log/mysql" },
        { name: "grpc-cert", mountPath: "/grpc-cert", readOnly: true },
        { name: "my-cnf-secret", mountPath: "/mysql-credentials", readOnly: true },
      ],
      resources: { limits: { cpu: "100m", memory: "100Mi" }, requests: { cpu: "100m", memory: "100Mi" } },
      securityContext: SECURITY,
    });
  });

  it("moco-init: user's mysqld image, sh -c script, moco-init args, POD_NAME, mounts, resources", () => {
    assert.deepEqual(container(s, "moco-init"), {
      name: "moco-init",
      image: "mysql:9.7",
      command: ["sh", "-c", INIT_SCRIPT],
      args: ["moco-init", "--data-dir=/var/lib/mysql", "--conf-dir=/etc/mysql-conf.d", "--init-timezones=false", "100"],
      env: [{ name: "POD_NAME", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } }],
      volumeMounts: [
        { name: "tmp", mountPath: "/tmp" },
        { name: "mysql-data", mountPath: "/var/lib/mysql" },
        { name: "mysql-conf-d", mountPath: "/etc/mysql-conf.d" },
      ],
      resources: { limits: { cpu: "100m", memory: "512Mi" }, requests: { cpu: "100m", memory: "512Mi" } },
      securityContext: SECURITY,
    });
  });

  it("moco-init args: timezones, localhost, lower_case_table_names from the user ConfigMap", () => {
    const c = cluster(3, (x) => {
      spec(x).initializeTimezoneData = true;
      spec(x).agentUseLocalhost = true;
      spec(x).serverIDBase = 7;
    });
    const init = container(sts(c, options(), { lower_case_table_names: "1" }), "moco-init");
    assert.deepEqual(init.args, [
      "moco-init",
      "--data-dir=/var/lib/mysql",
      "--conf-dir=/etc/mysql-conf.d",
      "--init-timezones=true",
      "7",
      "--mysqld-localhost=true",
      "--lower-case-table-names=1",
    ]);
  });

  it("initializeTimezoneData: copy-moco-timezones (moco-ts image) runs first and puts the shipped SQL where moco-init reads it", () => {
    const c = cluster(3, (x) => { spec(x).initializeTimezoneData = true; });
    const out = sts(c);
    assert.deepEqual(out.spec?.template.spec?.initContainers?.map((x) => x.name), ["copy-moco-timezones", "moco-init"]);
    const copy = container(out, "copy-moco-timezones");
    assert.deepEqual(copy.command, ["cp", "/usr/share/moco-ts/timezones.sql", "/tmp/moco-timezones.sql"]);
    assert.equal(copy.image, options().agentImage);
    assert.deepEqual(copy.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
    assert.deepEqual(copy.securityContext, SECURITY);
    assert.equal(DEFAULT_TIMEZONE_SQL_FILE, "/tmp/moco-timezones.sql", "moco-init reads the same path");
  });

  it("slow-log sidecar", () => {
    assert.deepEqual(container(s, "slow-log"), {
      name: "slow-log",
      image: "fluent-bit:1",
      volumeMounts: [
        { name: "slow-fluent-bit-config", mountPath: "/fluent-bit/etc", readOnly: true },
        { name: "var-log", mountPath: "/var/log/mysql" },
      ],
      resources: { limits: { cpu: "100m", memory: "20Mi" }, requests: { cpu: "100m", memory: "20Mi" } },
      securityContext: SECURITY,
    });
  });

  it("mysqld-exporter sidecar with collectors, after slow-log; a user container of that name is dropped", () => {
    const c = cluster(3, (x) => {
      spec(x).collectors = ["engine_innodb_status", "info_schema.innodb_metrics"];
      spec(x).podTemplate.spec.containers?.push({ name: "mysqld-exporter", image: "mine" });
    });
    const out = sts(c);
    assert.deepEqual(containers(out).map((x) => x.name), ["mysqld", "agent", "slow-log", "mysqld-exporter"]);
    assert.deepEqual(container(out, "mysqld-exporter"), {
      name: "mysqld-exporter",
      image: "exporter:1",
      args: [
        "--config.my-cnf=/mysql-credentials/moco-exporter-my.cnf",
        "--collect.engine_innodb_status",
        "--collect.info_schema.innodb_metrics",
      ],
      ports: [{ name: "mysqld-metrics", containerPort: 9104, protocol: "TCP" }],
      // moco-ts: the agent's port; restarts the exporter when its my.cnf changed (password rotation).
      startupProbe: { httpGet: { path: "/exporter-healthz", port: 9081, scheme: "HTTP" }, periodSeconds: 10, failureThreshold: 360 },
      livenessProbe: { httpGet: { path: "/exporter-healthz", port: 9081, scheme: "HTTP" }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 4 },
      volumeMounts: [
        { name: "run", mountPath: "/run" },
        { name: "my-cnf-secret", mountPath: "/mysql-credentials", readOnly: true },
      ],
      resources: { limits: { cpu: "200m", memory: "100Mi" }, requests: { cpu: "200m", memory: "100Mi" } },
      securityContext: SECURITY,
    });
  });

  it("a user mysqld-exporter container is kept when collectors is empty", () => {
    const c = cluster(3, (x) => spec(x).podTemplate.spec.containers?.push({ name: "mysqld-exporter", image: "mine" }));
    assert.equal(container(sts(c), "mysqld-exporter").image, "mine");
  });

  it("slow-log disabled: no sidecar and no config volume; a user slow-log container is kept", () => {
    const c = cluster(3, (x) => {
      spec(x).disableSlowQueryLogContainer = true;
      spec(x).podTemplate.spec.containers?.push({ name: "slow-log", image: "mine" });
    });
    const out = sts(c);
    assert.deepEqual(containers(out).map((x) => [x.name, x.image]), [
      ["mysqld", "mysql:9.7"],
      ["agent", "agent:1"],
      ["slow-log", "mine"],
    ]);
    assert.ok(!out.spec?.template.spec?.volumes?.some((v) => v.name === "slow-fluent-bit-config"));
  });

  it("a custom slow-log template changes the ConfigMap name by the template's hash", () => {
    const out = sts(cluster(3, (x) => (spec(x).slowQueryLogConfigTmpl = "[INPUT]\n  Path {{ .Path }}\n")));
    const v = out.spec?.template.spec?.volumes?.find((x) => x.name === "slow-fluent-bit-config");
    assert.match(v?.configMap?.name ?? "", /^moco-slow-log-agent-config-test\.[0-9a-f]{8}$/);
    assert.notEqual(v?.configMap?.name, "moco-slow-log-agent-config-test.13246250");
  });

  it("the my.cnf volume follows the user ConfigMap", () => {
    const withConf = sts(cluster(), options(), { max_connections: "10" });
    const v = withConf.spec?.template.spec?.volumes?.find((x) => x.name === "mysql-conf");
    assert.equal(v?.configMap?.name, buildMyCnfConfigMap(cluster(), { max_connections: "10" }).name);
    assert.notEqual(v?.configMap?.name, MYCNF_NAME);
  });
});

describe("startup probe failureThreshold = max(startupWaitSeconds/10, 1)", () => {
  const cases: [number | undefined, number][] = [
    [3600, 360],
    [25, 2],
    [10, 1],
    [9, 1],
    [0, 1],
    [undefined, 360],
  ];
  for (const [wait, want] of cases) {
    it(`${String(wait)} → ${want}`, () => {
      assert.equal(startupFailureThreshold(wait), want);
      const c = cluster(3, (x) => {
        if (wait === undefined) delete spec(x).startupWaitSeconds;
        else spec(x).startupWaitSeconds = wait;
      });
      assert.equal(container(sts(c), "mysqld").startupProbe?.failureThreshold, want);
    });
  }
});

describe("agent args", () => {
  const cases: [string, (c: MySQLCluster) => void, string[]][] = [
    ["CRD default max delay", () => {}, ["--max-delay", "60s"]],
    ["absent max delay reads as the CRD default", (c) => delete spec(c).maxDelaySeconds, ["--max-delay", "60s"]],
    ["zero disables the check but is passed", (c) => (spec(c).maxDelaySeconds = 0), ["--max-delay", "0s"]],
    [
      "rotation schedule, size and localhost",
      (c) => {
        spec(c).maxDelaySeconds = 5;
        spec(c).logRotationSchedule = "@every 10s";
        spec(c).logRotationSize = 1024;
        spec(c).agentUseLocalhost = true;
      },
      ["--max-delay", "5s", "--log-rotation-schedule", "@every 10s", "--log-rotation-size", "1024", "--mysqld-localhost", "true"],
    ],
    ["size 0 is off", (c) => (spec(c).logRotationSize = 0), ["--max-delay", "60s"]],
  ];
  for (const [name, mutate, want] of cases) {
    it(name, () => {
      assert.deepEqual(agentArgs(cluster(3, mutate)), want);
      assert.deepEqual(container(sts(cluster(3, mutate)), "agent").args, want);
    });
  }
});

describe("podTemplate merge rules", () => {
  it("user labels/annotations: MOCO labels win, sorted", () => {
    const c = cluster(3, (x) => {
      spec(x).podTemplate.metadata = {
        labels: { zeta: "1", "app.kubernetes.io/name": "hijack", alpha: "2" },
        annotations: { b: "2", a: "1" },
      };
    });
    const meta = sts(c).spec?.template.metadata;
    assert.deepEqual(meta?.labels, { ...LABELS, alpha: "2", zeta: "1" });
    assert.deepEqual(Object.keys(meta?.labels ?? {}), [...Object.keys(meta?.labels ?? {})].sort());
    assert.deepEqual(Object.keys(meta?.annotations ?? {}), ["a", "b"]);
  });

  it("user containers, volumes and init containers keep their order around MOCO's", () => {
    const c = cluster(3, (x) => {
      const ps = spec(x).podTemplate.spec;
      ps.containers = [{ name: "side-a", image: "a" }, ...(ps.containers ?? []), { name: "side-b", image: "b" }];
      ps.volumes = [{ name: "extra", emptyDir: {} }];
      ps.initContainers = [{ name: "setup", image: "busybox" }];
    });
    const out = sts(c);
    assert.deepEqual(containers(out).map((x) => x.name), ["mysqld", "agent", "slow-log", "side-a", "side-b"]);
    assert.equal(out.spec?.template.spec?.volumes?.[0]?.name, "extra");
    assert.equal(out.spec?.template.spec?.volumes?.[1]?.name, "tmp");
    assert.deepEqual(out.spec?.template.spec?.initContainers?.map((x) => x.name), ["moco-init", "setup"]);
    assert.deepEqual(container(out, "side-a").securityContext, SECURITY, "security defaults on user containers");
    assert.deepEqual(container(out, "setup").securityContext, SECURITY, "and on user init containers");
  });

  it("user security values are kept; defaults only fill gaps", () => {
    const c = cluster(3, (x) => {
      const m = spec(x).podTemplate.spec.containers?.[0];
      if (m) m.securityContext = { runAsUser: 999, readOnlyRootFilesystem: true };
      spec(x).podTemplate.spec.securityContext = { fsGroup: 5, fsGroupChangePolicy: "Always" };
    });
    const out = sts(c);
    assert.deepEqual(container(out, "mysqld").securityContext, { runAsUser: 999, readOnlyRootFilesystem: true, runAsGroup: 10000 });
    assert.deepEqual(out.spec?.template.spec?.securityContext, { fsGroup: 5, fsGroupChangePolicy: "Always" });
  });

  it("disableDefaultSecurityContext: empty container contexts, no fsGroup, OnRootMismatch kept", () => {
    const out = sts(cluster(), options({ disableDefaultSecurityContext: true }));
    for (const c of [...containers(out), ...(out.spec?.template.spec?.initContainers ?? [])]) {
      assert.deepEqual(c.securityContext, {}, c.name);
    }
    assert.deepEqual(out.spec?.template.spec?.securityContext, { fsGroupChangePolicy: "OnRootMismatch" });
  });

  it("overwriteContainers replace resources/securityContext of system containers wholesale, later wins", () => {
    const c = cluster(3, (x) => {
      spec(x).podTemplate.overwriteContainers = [
        { name: "agent", resources: { requests: { cpu: "1" } } },
        { name: "agent", securityContext: { privileged: false } },
        { name: "moco-init", resources: { limits: { memory: "1Gi" } } },
        { name: "slow-log", resources: { requests: { cpu: "50m" } } },
        { name: "copy-moco-init", resources: { requests: { cpu: "9" } } },
      ];
    });
    const out = sts(c);
    assert.deepEqual(container(out, "agent").resources, { requests: { cpu: "1" } });
    assert.deepEqual(container(out, "agent").securityContext, { privileged: false });
    assert.deepEqual(container(out, "moco-init").resources, { limits: { memory: "1Gi" } });
    assert.deepEqual(container(out, "moco-init").securityContext, SECURITY);
    assert.deepEqual(container(out, "slow-log").resources, { requests: { cpu: "50m" } });
    assert.ok(!containers(out).some((x) => x.name === "copy-moco-init"));
  });

  it("user probes keep timing fields; handlers are overwritten; lifecycle replaced; args appended", () => {
    const c = cluster(3, (x) => {
      const m = spec(x).podTemplate.spec.containers?.[0];
      assert.ok(m, "the fixture has a mysqld container");
      m.args = ["--foo"];
      m.startupProbe = { exec: { command: ["true"] }, periodSeconds: 3, timeoutSeconds: 7 };
      m.livenessProbe = { tcpSocket: { port: 1 }, failureThreshold: 9, initialDelaySeconds: 4 };
      m.readinessProbe = { httpGet: { path: "/x", port: 1 }, successThreshold: 1 };
      m.lifecycle = { postStart: { exec: { command: ["x"] } } };
      m.ports = [{ name: "app", containerPort: 8080 }];
    });
    const m = container(sts(c), "mysqld");
    assert.deepEqual(m.startupProbe, {
      httpGet: { path: "/healthz", port: "health", scheme: "HTTP" },
      periodSeconds: 3,
      timeoutSeconds: 7,
      failureThreshold: 360,
    });
    assert.deepEqual(m.livenessProbe, {
      httpGet: { path: "/healthz", port: "health", scheme: "HTTP" },
      failureThreshold: 9,
      initialDelaySeconds: 4,
    });
    assert.deepEqual(m.readinessProbe, { httpGet: { path: "/readyz", port: "health", scheme: "HTTP" }, successThreshold: 1 });
    assert.deepEqual(m.lifecycle, { preStop: { exec: { command: ["sleep", "20"] } } });
    assert.deepEqual(m.args, ["--foo", "--defaults-file=/etc/mysql/my.cnf"]);
    assert.deepEqual(m.ports?.map((p) => p.name), ["app", "mysql", "mysqlx", "mysql-admin", "health"]);
  });

  it("user affinity replaces the default; user grace period and serviceAccount", () => {
    const c = cluster(3, (x) => {
      const ps = spec(x).podTemplate.spec;
      ps.affinity = { nodeAffinity: {} };
      ps.terminationGracePeriodSeconds = 30;
      ps.serviceAccountName = "mine";
    });
    const pod = sts(c).spec?.template.spec;
    assert.deepEqual(pod?.affinity, { nodeAffinity: {} });
    assert.equal(pod?.terminationGracePeriodSeconds, 30);
    assert.equal(pod?.serviceAccountName, "moco-test", "forced");
  });
});

describe("slow-log stability rule", () => {
  const liveSlowLog: V1Container = { name: "slow-log", image: "fluent-bit:OLD" };
  const live: V1StatefulSet = { spec: { selector: {}, serviceName: "", template: { spec: { containers: [liveSlowLog] } } } };

  it("reuses the live container when the generation is reconciled", () => {
    const c = cluster(3, (x) => (x.status = { currentPrimaryIndex: 0, reconcileInfo: { generation: 1 } }));
    assert.deepEqual(container(sts(c, options(), undefined, live), "slow-log"), liveSlowLog);
  });
  it("builds a new one after a spec change", () => {
    const c = cluster(3, (x) => (x.status = { currentPrimaryIndex: 0, reconcileInfo: { generation: 0 } }));
    assert.equal(container(sts(c, options(), undefined, live), "slow-log").image, "fluent-bit:1");
  });
});

describe("volumeClaimTemplates", () => {
  it("defaults, metadata, owner reference, Pending status", () => {
    const c = cluster(3, (x) => {
      spec(x).volumeClaimTemplates.push({
        metadata: { name: "extra", labels: { b: "1", a: "2" }, annotations: { x: "y" } },
        spec: { accessModes: ["ReadWriteMany"], volumeMode: "Block", storageClassName: "fast", resources: { requests: { storage: "2Gi" } } },
      });
    });
    assert.deepEqual(sts(c).spec?.volumeClaimTemplates, [
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "mysql-data", ownerReferences: [OWNER] },
        spec: { resources: { requests: { storage: "1Gi" } }, accessModes: ["ReadWriteOnce"], volumeMode: "Filesystem" },
        status: { phase: "Pending" },
      },
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "extra", labels: { a: "2", b: "1" }, annotations: { x: "y" }, ownerReferences: [OWNER] },
        spec: { accessModes: ["ReadWriteMany"], volumeMode: "Block", storageClassName: "fast", resources: { requests: { storage: "2Gi" } } },
        status: { phase: "Pending" },
      },
    ]);
  });

  it("keeps a live template's owner apiVersion for the same uid", () => {
    const live = {
      spec: {
        volumeClaimTemplates: [
          { metadata: { name: "mysql-data", ownerReferences: [{ ...OWNER, apiVersion: "moco.cybozu.com/v1beta1" }] } },
        ],
      },
    };
    const out = buildStatefulSet(cluster(), { live }, options());
    assert.equal(out.spec?.volumeClaimTemplates?.[0]?.metadata?.ownerReferences?.[0]?.apiVersion, "moco.cybozu.com/v1beta1");
    const otherUid = { spec: { volumeClaimTemplates: [{ metadata: { name: "mysql-data", ownerReferences: [{ uid: "x", apiVersion: "old" }] } }] } };
    const out2 = buildStatefulSet(cluster(), { live: otherUid }, options());
    assert.equal(out2.spec?.volumeClaimTemplates?.[0]?.metadata?.ownerReferences?.[0]?.apiVersion, "moco.cybozu.com/v1beta2");
  });
});

describe("determinism", () => {
  it("same input twice gives deep-equal output with the same key order; the input is not mutated", () => {
    const c = cluster(5, (x) => {
      spec(x).collectors = ["a"];
      spec(x).podTemplate.metadata = { labels: { z: "1", a: "2" } };
    });
    const before = JSON.stringify(c);
    const a = sts(c, options(), { innodb_log_file_size: "1G" });
    const b = sts(c, options(), { innodb_log_file_size: "1G" });
    assert.deepEqual(a, b);
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    assert.equal(JSON.stringify(c), before);
    assert.deepEqual(JSON.parse(JSON.stringify(a)), a, "no undefined-valued properties");
  });
});

// The Helm chart charts/moco-ts, through the real helm CLI (test/env/build-helm.sh):
// `helm lint`, `helm template` with the default values and with every documented value
// set (each rendered object checked field by field), and deploy/ rendered from it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import {
  DEFAULT_EXPORTER_IMAGE,
  DEFAULT_FLUENT_BIT_IMAGE,
  DEFAULT_MOCO_TS_IMAGE,
  MOCO_TS_VERSION,
} from "../../../src/controller/builders/index.ts";
import { buildCommand } from "../../../src/controller/main.ts";
import { chartDir, helmLint, helmTemplate } from "../../env/helm.ts";
import { REPO_ROOT } from "../../../scripts/gen-crds.ts";
import { committedDeployFiles, renderDeployFiles } from "../../../scripts/render-deploy.ts";

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

// Minimal shapes of what the assertions read.
interface Container {
  name: string; image: string; imagePullPolicy: string; command: string[]; args: string[];
  resources?: unknown; securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string }[];
  env: { name: string }[];
}
interface PodSpec {
  containers: Container[];
  securityContext: Record<string, unknown>;
  volumes: { name: string; emptyDir?: unknown }[];
  serviceAccountName: string;
  priorityClassName?: string; imagePullSecrets?: unknown; nodeSelector?: unknown; affinity?: unknown;
  tolerations?: unknown; topologySpreadConstraints?: unknown;
}
interface Deployment extends Obj { spec: { replicas: number; template: { metadata: { annotations: Record<string, string> }; spec: PodSpec } } }

function render(values?: Record<string, unknown>, namespace?: string): Obj[] {
  return parseAllDocuments(helmTemplate({ ...(values === undefined ? {} : { values }), ...(namespace === undefined ? {} : { namespace }) }))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

function find(objs: readonly Obj[], kind: string, name: string): Obj | undefined {
  return objs.find((o) => o.kind === kind && o.metadata.name === name);
}

function get(objs: readonly Obj[], kind: string, name: string): Obj {
  const o = find(objs, kind, name);
  assert.ok(o !== undefined, `no ${kind} ${name} rendered`);
  return o;
}

function deployment(objs: readonly Obj[]): Deployment {
  return get(objs, "Deployment", "moco-controller") as Deployment;
}

function controllerContainer(objs: readonly Obj[]): Container {
  const c = deployment(objs).spec.template.spec.containers.find((x) => x.name === "moco-controller");
  assert.ok(c !== undefined, "container moco-controller");
  return c;
}

/** The value of `flag` in the container's args (flag and value as separate items). */
function flagValue(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

const kindsAndNames = (objs: readonly Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();

const DEFAULT_OBJECTS = [
  "ClusterRole/moco-backuppolicy-editor-role",
  "ClusterRole/moco-backuppolicy-viewer-role",
  "ClusterRole/moco-manager-role",
  "ClusterRole/moco-mysqlcluster-editor-role",
  "ClusterRole/moco-mysqlcluster-viewer-role",
  "ClusterRoleBinding/moco-manager-rolebinding",
  "CustomResourceDefinition/backuppolicies.moco.cybozu.com",
  "CustomResourceDefinition/mysqlclusters.moco.cybozu.com",
  "Deployment/moco-controller",
  "MutatingWebhookConfiguration/moco-mutating-webhook-configuration",
  "PodDisruptionBudget/moco-controller",
  "Role/moco-leader-election-role",
  "RoleBinding/moco-leader-election-rolebinding",
  "Service/moco-webhook-service",
  "ServiceAccount/moco-controller-manager",
  "ValidatingAdmissionPolicy/moco-delete-validator",
  "ValidatingAdmissionPolicyBinding/moco-delete-validator",
  "ValidatingWebhookConfiguration/moco-validating-webhook-configuration",
];

/** Every value of values.yaml set to something other than its default. */
const ALL_VALUES = {
  replicaCount: 3,
  image: { repository: "registry.example/moco-ts", pullPolicy: "Always", tag: "9.9.9" },
  imagePullSecrets: [{ name: "pull-secret" }],
  resources: { requests: { cpu: "250m", memory: "300Mi" }, limits: { memory: "1Gi" } },
  crds: { enabled: false },
  checkInterval: "30s",
  primaryWatchInterval: "2s",
  extraArgs: ["--check-interval=5s", "--zap-log-level=debug"],
  nodeFlags: "--max-old-space-size=512",
  nodeSelector: { "kubernetes.io/os": "linux" },
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }] } } },
  tolerations: [{ key: "dedicated", operator: "Equal", value: "moco", effect: "NoSchedule" }],
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { "app.kubernetes.io/component": "moco-controller" } } }],
  priorityClassName: "system-cluster-critical",
  podDisruptionBudget: { enabled: true, maxUnavailable: 2 },
  monitoring: {
    enabled: true, podMonitors: { enabled: true, interval: "30s", scrapeTimeout: "10s" },
    prometheusRule: { enabled: true, labels: { release: "kube-prometheus" } },
    grafanaDashboard: { enabled: true, namespace: "grafana", labels: { grafana_dashboard: "yes" }, annotations: { grafana_folder: "MySQL" } },
  },
  agent: { image: { repository: "registry.example/agent", tag: "1.2.3" } },
  backup: { image: { repository: "registry.example/backup", tag: "4.5.6" } },
  fluentbit: { image: { repository: "registry.example/fluent-bit", tag: "7.8" } },
  mysqldExporter: { image: { repository: "registry.example/exporter", tag: "0.20" } },
};

/** Values passed through to the Pod spec as a whole: leaves, whatever they contain. */
const PASS_THROUGH = new Set(["resources", "nodeSelector", "affinity", "monitoring.prometheusRule.labels", "monitoring.grafanaDashboard.labels", "monitoring.grafanaDashboard.annotations"]);

/** Dotted paths of every leaf of a values object (lists, empty and pass-through objects are leaves). */
function leafPaths(v: unknown, prefix = ""): string[] {
  if (v === null || typeof v !== "object" || Array.isArray(v) || Object.keys(v).length === 0 || PASS_THROUGH.has(prefix)) return [prefix];
  return Object.entries(v).flatMap(([k, x]) => leafPaths(x, prefix === "" ? k : `${prefix}.${k}`));
}

const chartValues = parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as Record<string, unknown>;

describe("helm lint", () => {
  for (const [name, values] of [["default values", undefined], ["every value set", ALL_VALUES]] as const) {
    it(`passes --strict with ${name}`, () => {
      const out = helmLint(values === undefined ? {} : { values });
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }
  it("fails on a broken template (the check can fail)", () => {
    assert.throws(() => helmLint({ values: { extraArgs: "not-a-list" } }), /helm lint failed:[\s\S]*range can't iterate over not-a-list/);
  });
});

describe("helm template with the default values", () => {
  const objs = render();

  it("renders exactly the install's objects", () => {
    assert.deepEqual(kindsAndNames(objs), DEFAULT_OBJECTS);
  });

  it("puts namespaced objects in the release namespace and labels every object", () => {
    for (const o of objs) {
      const clusterScoped = ["ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"].includes(o.kind);
      assert.equal(o.metadata.namespace, clusterScoped ? undefined : "moco-system", `${o.kind}/${o.metadata.name}`);
      assert.equal(o.metadata.labels?.["app.kubernetes.io/name"], "moco", `${o.kind}/${o.metadata.name} labels`);
      assert.equal(o.metadata.labels?.["helm.sh/chart"], `moco-ts-${MOCO_TS_VERSION}`);
      assert.equal(o.metadata.labels?.["app.kubernetes.io/version"], MOCO_TS_VERSION);
    }
  });

  it("has the chart's appVersion equal to the controller's version", () => {
    const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as { appVersion: string; version: string };
    assert.equal(chart.appVersion, MOCO_TS_VERSION);
  });

  it("runs a hardened controller Deployment with 2 replicas", () => {
    const d = deployment(objs);
    assert.equal(d.spec.replicas, 2);
    const pod = d.spec.template.spec;
    assert.equal(d.spec.template.metadata.annotations["kubectl.kubernetes.io/default-container"], "moco-controller");
    assert.equal(pod.serviceAccountName, "moco-controller-manager");
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 10000, runAsGroup: 10000, seccompProfile: { type: "RuntimeDefault" } });
    const c = controllerContainer(objs);
    assert.equal(c.image, DEFAULT_MOCO_TS_IMAGE);
    assert.equal(c.imagePullPolicy, "IfNotPresent");
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    assert.deepEqual(c.resources, { requests: { cpu: "100m", memory: "192Mi" } });
    // The read-only root filesystem leaves /tmp (webhook serving certificate) writable.
    assert.deepEqual(c.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
    assert.deepEqual(pod.volumes, [{ name: "tmp", emptyDir: {} }]);
    assert.deepEqual(c.env.map((e) => e.name), ["POD_NAMESPACE", "POD_NAME"]);
    for (const k of ["priorityClassName", "imagePullSecrets", "nodeSelector", "affinity", "tolerations", "topologySpreadConstraints"] as const) {
      assert.equal(pod[k], undefined, `${k} absent by default`);
    }
  });

  it("passes the controller's own default images and CA injection, flags the controller accepts", () => {
    const args = controllerContainer(objs).args;
    assert.equal(flagValue(args, "--agent-image"), DEFAULT_MOCO_TS_IMAGE);
    assert.equal(flagValue(args, "--backup-image"), DEFAULT_MOCO_TS_IMAGE);
    assert.equal(flagValue(args, "--fluent-bit-image"), DEFAULT_FLUENT_BIT_IMAGE);
    assert.equal(flagValue(args, "--mysqld-exporter-image"), DEFAULT_EXPORTER_IMAGE);
    assert.ok(args.includes("--inject-webhook-ca-bundle"));
    assert.ok(args.includes("--check-interval=10s"), "ships a 10s check interval");
    const shipped = buildCommand().exitOverride();
    shipped.parse(args, { from: "user" });
    assert.equal(shipped.opts()["checkInterval"], 10_000);
    assert.ok(!args.some((a) => a.startsWith("--primary-watch-interval")), "the watch's interval is the controller's default");
    assert.equal(shipped.opts()["primaryWatchInterval"], 500, "ships the liveness watch at 500ms");
    const cmd = buildCommand().exitOverride();
    cmd.parse([...args, ...(ALL_VALUES.extraArgs)], { from: "user" });
    assert.equal(cmd.opts()["injectWebhookCaBundle"], true);
    assert.equal(cmd.opts()["checkInterval"], 5000);
  });

  it("keeps the CRDs on uninstall", () => {
    for (const name of ["mysqlclusters.moco.cybozu.com", "backuppolicies.moco.cybozu.com"]) {
      assert.equal(get(objs, "CustomResourceDefinition", name).metadata.annotations?.["helm.sh/resource-policy"], "keep");
    }
  });

  it("aggregates the user roles into admin, edit and view", () => {
    for (const kind of ["mysqlcluster", "backuppolicy"]) {
      const plural = kind === "mysqlcluster" ? "mysqlclusters" : "backuppolicies";
      const editor = get(objs, "ClusterRole", `moco-${kind}-editor-role`) as Obj & { rules: { resources: string[]; verbs: string[] }[] };
      const viewer = get(objs, "ClusterRole", `moco-${kind}-viewer-role`) as Obj & { rules: { resources: string[]; verbs: string[] }[] };
      assert.equal(editor.metadata.labels?.["rbac.authorization.k8s.io/aggregate-to-admin"], "true");
      assert.equal(editor.metadata.labels?.["rbac.authorization.k8s.io/aggregate-to-edit"], "true");
      assert.equal(editor.metadata.labels?.["rbac.authorization.k8s.io/aggregate-to-view"], undefined);
      assert.equal(viewer.metadata.labels?.["rbac.authorization.k8s.io/aggregate-to-view"], "true");
      assert.equal(viewer.metadata.labels?.["rbac.authorization.k8s.io/aggregate-to-edit"], undefined);
      assert.deepEqual(editor.rules, [
        { apiGroups: ["moco.cybozu.com"], resources: [plural], verbs: ["create", "delete", "get", "list", "patch", "update", "watch"] },
        { apiGroups: ["moco.cybozu.com"], resources: [`${plural}/status`], verbs: ["get"] },
      ]);
      assert.deepEqual(viewer.rules, [
        { apiGroups: ["moco.cybozu.com"], resources: [plural], verbs: ["get", "list", "watch"] },
        { apiGroups: ["moco.cybozu.com"], resources: [`${plural}/status`], verbs: ["get"] },
      ]);
    }
  });

  it("has a PodDisruptionBudget over the controller Pods", () => {
    const pdb = get(objs, "PodDisruptionBudget", "moco-controller") as Obj & { spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } };
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, { "app.kubernetes.io/component": "moco-controller", "app.kubernetes.io/name": "moco" });
  });
});

describe("helm template with every value set", () => {
  it("the fixture sets every key of values.yaml", () => {
    assert.deepEqual(leafPaths(ALL_VALUES).sort(), leafPaths(chartValues).sort());
  });

  const objs = render(ALL_VALUES, "db-operators");
  const d = () => deployment(objs);
  const pod = () => d().spec.template.spec;
  const c = () => controllerContainer(objs);

  const cases: { value: string; check: () => void }[] = [
    { value: "replicaCount", check: () => assert.equal(d().spec.replicas, 3) },
    { value: "image", check: () => { assert.equal(c().image, "registry.example/moco-ts:9.9.9"); assert.equal(c().imagePullPolicy, "Always"); } },
    { value: "imagePullSecrets", check: () => assert.deepEqual(pod().imagePullSecrets, ALL_VALUES.imagePullSecrets) },
    { value: "resources", check: () => assert.deepEqual(c().resources, ALL_VALUES.resources) },
    { value: "crds.enabled=false", check: () => assert.equal(objs.filter((o) => o.kind === "CustomResourceDefinition").length, 0) },
    { value: "checkInterval", check: () => assert.ok(c().args.includes("--check-interval=30s")) },
    { value: "primaryWatchInterval", check: () => assert.ok(c().args.includes("--primary-watch-interval=2s")) },
    { value: "extraArgs (appended last)", check: () => assert.deepEqual(c().args.slice(-2), ALL_VALUES.extraArgs) },
    { value: "nodeFlags", check: () => assert.deepEqual(c().env.find((e) => e.name === "MOCO_CONTROLLER_NODE_FLAGS"), { name: "MOCO_CONTROLLER_NODE_FLAGS", value: "--max-old-space-size=512" }) },
    { value: "nodeSelector", check: () => assert.deepEqual(pod().nodeSelector, ALL_VALUES.nodeSelector) },
    { value: "affinity", check: () => assert.deepEqual(pod().affinity, ALL_VALUES.affinity) },
    { value: "tolerations", check: () => assert.deepEqual(pod().tolerations, ALL_VALUES.tolerations) },
    { value: "topologySpreadConstraints", check: () => assert.deepEqual(pod().topologySpreadConstraints, ALL_VALUES.topologySpreadConstraints) },
    { value: "priorityClassName", check: () => assert.equal(pod().priorityClassName, "system-cluster-critical") },
    { value: "podDisruptionBudget.maxUnavailable", check: () => assert.equal((get(objs, "PodDisruptionBudget", "moco-controller") as Obj & { spec: { maxUnavailable: number } }).spec.maxUnavailable, 2) },
    { value: "agent.image", check: () => assert.equal(flagValue(c().args, "--agent-image"), "registry.example/agent:1.2.3") },
    { value: "backup.image", check: () => assert.equal(flagValue(c().args, "--backup-image"), "registry.example/backup:4.5.6") },
    { value: "fluentbit.image", check: () => assert.equal(flagValue(c().args, "--fluent-bit-image"), "registry.example/fluent-bit:7.8") },
    { value: "mysqldExporter.image", check: () => assert.equal(flagValue(c().args, "--mysqld-exporter-image"), "registry.example/exporter:0.20") },
    {
      value: "monitoring.podMonitors",
      check: () => {
        const monitors = objs.filter((o) => o.kind === "PodMonitor") as (Obj & { spec: { podMetricsEndpoints: Record<string, unknown>[]; namespaceSelector: unknown } })[];
        assert.deepEqual(monitors.map((m) => m.metadata.name).sort(), ["moco-agent", "moco-controller", "moco-mysql"]);
        const ports = Object.fromEntries(monitors.map((m) => [m.metadata.name, m.spec.podMetricsEndpoints[0]!["port"]]));
        assert.deepEqual(ports, { "moco-controller": "metrics", "moco-agent": "agent-metrics", "moco-mysql": "mysqld-metrics" });
        for (const m of monitors) {
          assert.equal(m.spec.podMetricsEndpoints[0]!["interval"], "30s");
          assert.equal(m.spec.podMetricsEndpoints[0]!["scrapeTimeout"], "10s");
        }
        assert.deepEqual(monitors.find((m) => m.metadata.name === "moco-controller")!.spec.namespaceSelector, { matchNames: ["db-operators"] });
      },
    },
    {
      value: "the release namespace",
      check: () => {
        const inRelease = objs.filter((o) => o.metadata.namespace !== undefined && o.metadata.name !== "moco-ts-grafana-dashboard");
        assert.ok(inRelease.every((o) => o.metadata.namespace === "db-operators"));
        const binding = get(objs, "ClusterRoleBinding", "moco-manager-rolebinding") as Obj & { subjects: { namespace: string }[] };
        assert.equal(binding.subjects[0]!.namespace, "db-operators");
        for (const kind of ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]) {
          const cfg = objs.find((o) => o.kind === kind) as Obj & { webhooks: { clientConfig: { service: { namespace: string; name: string } } }[] };
          for (const w of cfg.webhooks) assert.deepEqual([w.clientConfig.service.namespace, w.clientConfig.service.name], ["db-operators", "moco-webhook-service"]);
        }
      },
    },
  ];
  for (const tc of cases) it(`honours ${tc.value}`, tc.check);

  const toggles: { name: string; values: Record<string, unknown>; kind: string; present: boolean }[] = [
    { name: "no PodMonitor by default", values: {}, kind: "PodMonitor", present: false },
    { name: "no PodMonitor when monitoring.podMonitors.enabled=false", values: { monitoring: { enabled: true, podMonitors: { enabled: false } } }, kind: "PodMonitor", present: false },
    { name: "PodMonitors when monitoring.enabled=true", values: { monitoring: { enabled: true } }, kind: "PodMonitor", present: true },
    { name: "no PodDisruptionBudget when podDisruptionBudget.enabled=false", values: { podDisruptionBudget: { enabled: false } }, kind: "PodDisruptionBudget", present: false },
    { name: "CRDs when crds.enabled=true", values: { crds: { enabled: true } }, kind: "CustomResourceDefinition", present: true },
    { name: "no CRDs when crds.enabled=false", values: { crds: { enabled: false } }, kind: "CustomResourceDefinition", present: false },
  ];
  for (const t of toggles) {
    it(t.name, () => {
      assert.equal(render(t.values).some((o) => o.kind === t.kind), t.present);
    });
  }

  it("omits the scrape interval and timeout when empty", () => {
    const monitors = render({ monitoring: { enabled: true } }).filter((o) => o.kind === "PodMonitor") as (Obj & { spec: { podMetricsEndpoints: Record<string, unknown>[] } })[];
    assert.equal(monitors.length, 3);
    for (const m of monitors) assert.deepEqual(Object.keys(m.spec.podMetricsEndpoints[0]!).filter((k) => k === "interval" || k === "scrapeTimeout"), []);
  });
});

describe("docs/install.md", () => {
  it("documents every value of values.yaml", () => {
    const doc = readFileSync(join(REPO_ROOT, "docs", "install.md"), "utf8");
    const missing = leafPaths(chartValues).filter((p) => !doc.includes(`\`${p}\``));
    assert.deepEqual(missing, []);
  });
});

describe("the controller's RBAC (test/integration/chart/rbac-audit.test.ts compares it with the calls made)", () => {
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  const objs = render();
  const manager = (get(objs, "ClusterRole", "moco-manager-role") as Obj & { rules: Rule[] }).rules;
  const grants = (group: string, resource: string, verb: string) =>
    manager.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
  it("grants no verb the controller does not use", () => {
    const rows: [string, string, string][] = [
      ["", "pods", "delete"], ["", "pods", "update"], ["", "persistentvolumeclaims", "create"], ["", "persistentvolumeclaims", "delete"],
      ["events.k8s.io", "events", "create"], ["moco.cybozu.com", "backuppolicies", "update"], ["moco.cybozu.com", "backuppolicies", "patch"],
      ["coordination.k8s.io", "leases", "get"], ["", "services", "delete"], ["batch", "jobs", "delete"],
    ];
    for (const [g, r, v] of rows) assert.deepEqual(grants(g, r, v), [], `${g}/${r} ${v}`);
    assert.ok(manager.every((r) => !r.verbs.includes("*") && !r.resources.includes("*") && !r.apiGroups.includes("*")), "no wildcards");
    const resources = manager.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res}`)));
    assert.equal(resources.length, new Set(resources).size, "one rule per resource (no duplicate status rule)");
  });
  it("reaches the webhook configurations only by name, and Leases only in its namespace", () => {
    for (const kind of ["mutating", "validating"]) {
      const rules = manager.filter((r) => r.resources.includes(`${kind}webhookconfigurations`));
      assert.deepEqual(rules.map((r) => ({ names: r.resourceNames, verbs: r.verbs })), [{ names: [`moco-${kind}-webhook-configuration`], verbs: ["get", "update"] }]);
    }
    const role = get(objs, "Role", "moco-leader-election-role") as Obj & { rules: Rule[] };
    assert.equal(role.metadata.namespace, "moco-system");
    assert.deepEqual(role.rules, [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }]);
    const binding = get(objs, "RoleBinding", "moco-leader-election-rolebinding") as Obj & { subjects: { name: string; namespace: string }[] };
    assert.deepEqual(binding.subjects.map((x) => `${x.namespace}/${x.name}`), ["moco-system/moco-controller-manager"]);
  });
});

describe("deploy/ is rendered from the chart", () => {
  it("matches helm template of charts/moco-ts (run: npm run render-deploy)", () => {
    const files = renderDeployFiles();
    for (const [rel, content] of Object.entries(files)) {
      const committed = readFileSync(join(REPO_ROOT, rel), "utf8");
      assert.ok(committed === content, `${rel} is stale: run npm run render-deploy`);
    }
    assert.deepEqual(committedDeployFiles(), Object.keys(files).sort(), "deploy/ holds exactly the rendered files");
  });
});

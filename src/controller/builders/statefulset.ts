// The StatefulSet `moco-<name>` and its Pod template (docs/objects.md#statefulset, docs/agent.md#containers-of-a-mysql-pod-what-the-controller-builds),
// with moco-ts's Pod layout (docs/objects.md): moco-init runs the user's mysqld image
// with `sh -c <initScript>`, so there is no copy-moco-init container and no `shared`
// volume; the agent sidecar runs `moco-agent` from the moco-ts image.
import type {
  V1Affinity,
  V1Container,
  V1ContainerPort,
  V1EnvVar,
  V1PersistentVolumeClaim,
  V1PodSpec,
  V1PodTemplateSpec,
  V1Probe,
  V1ResourceRequirements,
  V1StatefulSet,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import {
  AGENT_CONTAINER,
  EXPORTER_CONTAINER,
  INIT_CONTAINER,
  MYSQLD_CONTAINER,
  MYSQL_DATA_VOLUME,
  SLOW_LOG_CONTAINER,
  TIMEZONE_INIT_CONTAINER,
} from "../../api/v1beta2/index.ts";
import type { MySQLCluster, OverwriteContainer, PersistentVolumeClaim } from "../../api/v1beta2/index.ts";
import { buildMyCnfConfigMap, findMysqldContainer, slowLogConfigMapName, slowLogTemplateOf } from "./configmaps.ts";
import {
  ANNOTATION_FORCE_ROLLING_UPDATE,
  APP_NAME_MYSQL,
  CREATED_BY_MOCO,
  LABEL_APP_CREATED_BY,
  LABEL_APP_INSTANCE,
  LABEL_APP_NAME,
  annotationIsTrue,
  clusterIdentity,
  clusterOwnerReference,
  deepCopy,
  dropUndefined,
  labelSet,
  mergeLabels,
  names,
  sortedRecord,
} from "./meta.ts";
import {
  EXPORTER_HEALTH_PATH,
  PATH_FLUENT_BIT_CONFIG,
  PATH_GRPC_CERT,
  PATH_MYSQL_CONF,
  PATH_MYSQL_CONF_D,
  PATH_MYSQL_DATA,
  PATH_MY_CNF_SECRET,
  PATH_RUN,
  PATH_TMP,
  PATH_VAR_LOG,
  tlsEnabled,
  type ClusterIdentity,
} from "./meta.ts";
import type { BuilderOptions } from "./options.ts";
import { buildTlsVolume, tlsAgentEnv, tlsVolumeMount } from "./tls.ts";
import {
  AGENT_METRICS_PORT,
  AGENT_PORT,
  EXPORTER_PORT,
  HEALTH_PORT,
  MYSQLX_PORT,
  MYSQL_ADMIN_PORT,
  MYSQL_PORT,
} from "./services.ts";

// ---- constants (docs/objects.md#statefulset) ----------------------------------------------------

export const CONTAINER_UID = 10000;
export const CONTAINER_GID = 10000;
export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 300;
export const PRE_STOP_SLEEP_SECONDS = "20";
/** CRD defaults, used when a field is absent (the API server stores them so). */
export const DEFAULT_STARTUP_WAIT_SECONDS = 3600;
export const DEFAULT_MAX_DELAY_SECONDS = 60;

export const VOLUME_TMP = "tmp";
export const VOLUME_RUN = "run";
export const VOLUME_VAR_LOG = "var-log";
export const VOLUME_MYSQL_CONF = "mysql-conf";
export const VOLUME_MYSQL_CONF_D = "mysql-conf-d";
export const VOLUME_MY_CNF_SECRET = "my-cnf-secret";
export const VOLUME_GRPC_CERT = "grpc-cert";
export const VOLUME_SLOW_LOG_CONFIG = "slow-fluent-bit-config";

/** Mode 0644 of the configMap/secret volumes. */
export const VOLUME_DEFAULT_MODE = 0o644;

/** The command of the agent sidecar in the moco-ts image. */
export const AGENT_COMMAND: readonly string[] = Object.freeze(["moco-agent"]);
/** `$0` of the moco-init script (the first element of its args). */
export const INIT_SCRIPT_NAME = "moco-init";

function fixedResources(cpu: string, memory: string): V1ResourceRequirements {
  return { limits: { cpu, memory }, requests: { cpu, memory } };
}

/** Default resources of the system containers (docs/objects.md#default-container-resources; requests = limits). */
export const SYSTEM_CONTAINER_RESOURCES: Readonly<Record<string, V1ResourceRequirements>> = Object.freeze({
  [AGENT_CONTAINER]: fixedResources("100m", "100Mi"),
  [INIT_CONTAINER]: fixedResources("100m", "512Mi"),
  [SLOW_LOG_CONTAINER]: fixedResources("100m", "20Mi"),
  [EXPORTER_CONTAINER]: fixedResources("200m", "100Mi"),
});

// ---- small pieces ---------------------------------------------------------------

function port(name: string, containerPort: number): V1ContainerPort {
  return { name, containerPort, protocol: "TCP" };
}

function mount(name: string, mountPath: string, readOnly = false): V1VolumeMount {
  return readOnly ? { name, mountPath, readOnly: true } : { name, mountPath };
}

const POD_NAME_ENV: V1EnvVar = Object.freeze({
  name: "POD_NAME",
  valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
}) as V1EnvVar;

function podNameEnv(): V1EnvVar {
  return deepCopy(POD_NAME_ENV);
}

/** startupProbe failureThreshold: max(startupWaitSeconds / 10 (integer division), 1). */
export function startupFailureThreshold(startupWaitSeconds: number | undefined): number {
  const s = startupWaitSeconds ?? DEFAULT_STARTUP_WAIT_SECONDS;
  return Math.max(Math.trunc(s / 10), 1);
}

/**
 * A mysqld probe: the user's probe parameters kept, its handler replaced by HTTP GET
 * `path` on port name `health`.
 */
function mysqldProbe(user: V1Probe | undefined, path: string, defaults: Partial<V1Probe> = {}): V1Probe {
  const rest: V1Probe = user === undefined ? {} : deepCopy(user);
  delete rest.exec;
  delete rest.httpGet;
  delete rest.tcpSocket;
  delete rest.grpc;
  const probe: V1Probe = { httpGet: { path, port: "health", scheme: "HTTP" }, ...rest };
  for (const [key, value] of Object.entries(defaults) as [keyof V1Probe, V1Probe[keyof V1Probe]][]) {
    if (probe[key] === undefined || probe[key] === null) (probe as Record<string, unknown>)[key] = value;
  }
  return probe;
}

/** securityContext created if nil; runAsUser/runAsGroup 10000 where unset (unless disabled). */
function applySecurityDefaults(c: V1Container, options: BuilderOptions): void {
  const sc = (c.securityContext ??= {});
  if (!options.disableDefaultSecurityContext) {
    sc.runAsUser ??= CONTAINER_UID;
    sc.runAsGroup ??= CONTAINER_GID;
  }
}

/** `overwriteContainers` entries naming `c`, applied in order (later wins), wholesale. */
function applyOverwrites(c: V1Container, overwrites: readonly OverwriteContainer[] | undefined): void {
  for (const o of overwrites ?? []) {
    if (o.name !== c.name) continue;
    if (o.resources !== undefined && o.resources !== null) c.resources = deepCopy(o.resources) as V1ResourceRequirements;
    if (o.securityContext !== undefined && o.securityContext !== null) c.securityContext = deepCopy(o.securityContext);
  }
}

// ---- containers ---------------------------------------------------------------------

/** The `mysqld` container: the user's, augmented (docs/objects.md#the-mysqld-container). */
export function buildMysqldContainer(cluster: MySQLCluster, options: BuilderOptions): V1Container {
  const user = findMysqldContainer(cluster);
  if (user === undefined) throw new Error("the Pod template has no container named mysqld");
  const c = deepCopy(user) as V1Container;
  c.args = [...(c.args ?? []), `--defaults-file=${PATH_MYSQL_CONF}/my.cnf`];
  c.lifecycle = { preStop: { exec: { command: ["sleep", PRE_STOP_SLEEP_SECONDS] } } };
  c.ports = [
    ...(c.ports ?? []),
    port("mysql", MYSQL_PORT),
    port("mysqlx", MYSQLX_PORT),
    port("mysql-admin", MYSQL_ADMIN_PORT),
    port("health", HEALTH_PORT),
  ];
  c.startupProbe = mysqldProbe(c.startupProbe, "/healthz", {
    periodSeconds: 10,
    failureThreshold: startupFailureThreshold(cluster.spec?.startupWaitSeconds),
  });
  c.livenessProbe = mysqldProbe(c.livenessProbe, "/healthz");
  c.readinessProbe = mysqldProbe(c.readinessProbe, "/readyz");
  c.volumeMounts = [
    ...(c.volumeMounts ?? []),
    mount(VOLUME_TMP, PATH_TMP),
    mount(VOLUME_RUN, PATH_RUN),
    mount(VOLUME_VAR_LOG, PATH_VAR_LOG),
    mount(VOLUME_MYSQL_CONF, PATH_MYSQL_CONF),
    mount(VOLUME_MYSQL_CONF_D, PATH_MYSQL_CONF_D),
    mount(VOLUME_MY_CNF_SECRET, PATH_MY_CNF_SECRET, true),
    mount(MYSQL_DATA_VOLUME, PATH_MYSQL_DATA),
    ...(tlsEnabled(cluster) ? [tlsVolumeMount()] : []),
  ];
  applySecurityDefaults(c, options);
  return c;
}

/** Arguments of `moco-agent` (docs/agent.md#startup). */
export function agentArgs(cluster: MySQLCluster): string[] {
  const spec = cluster.spec;
  const args: string[] = [];
  const maxDelay = spec?.maxDelaySeconds === undefined ? DEFAULT_MAX_DELAY_SECONDS : spec.maxDelaySeconds;
  if (maxDelay !== null) args.push("--max-delay", `${maxDelay}s`);
  if (spec?.logRotationSchedule !== undefined && spec.logRotationSchedule !== "") {
    args.push("--log-rotation-schedule", spec.logRotationSchedule);
  }
  if (spec?.logRotationSize !== undefined && spec.logRotationSize > 0) {
    args.push("--log-rotation-size", String(spec.logRotationSize));
  }
  if (spec?.agentUseLocalhost === true) args.push("--mysqld-localhost", "true");
  return args;
}

/** The `agent` sidecar (docs/objects.md#sidecars, moco-ts image and command). */
export function buildAgentContainer(cluster: MySQLCluster, options: BuilderOptions): V1Container {
  const id = clusterIdentity(cluster);
  const args = agentArgs(cluster);
  const c: V1Container = {
    name: AGENT_CONTAINER,
    image: options.agentImage,
    command: [...AGENT_COMMAND],
    ...(args.length === 0 ? {} : { args }),
    env: [podNameEnv(), { name: "CLUSTER_NAME", value: id.name }, ...(tlsEnabled(cluster) ? [tlsAgentEnv()] : [])],
    envFrom: [{ secretRef: { name: names.userSecret(id.name) } }],
    ports: [port("agent", AGENT_PORT), port("agent-metrics", AGENT_METRICS_PORT)],
    volumeMounts: [
      mount(VOLUME_RUN, PATH_RUN),
      mount(VOLUME_VAR_LOG, PATH_VAR_LOG),
      mount(VOLUME_GRPC_CERT, PATH_GRPC_CERT, true),
      // moco-ts addition: the agent follows moco-agent-my.cnf here (docs/password-rotation.md).
      mount(VOLUME_MY_CNF_SECRET, PATH_MY_CNF_SECRET, true),
      ...(tlsEnabled(cluster) ? [tlsVolumeMount()] : []),
    ],
    resources: deepCopy(SYSTEM_CONTAINER_RESOURCES[AGENT_CONTAINER]),
  };
  applySecurityDefaults(c, options);
  applyOverwrites(c, cluster.spec?.podTemplate.overwriteContainers);
  return c;
}

/** The `slow-log` (fluent-bit) sidecar, built new. */
export function buildSlowLogContainer(cluster: MySQLCluster, options: BuilderOptions): V1Container {
  const c: V1Container = {
    name: SLOW_LOG_CONTAINER,
    image: options.fluentBitImage,
    volumeMounts: [mount(VOLUME_SLOW_LOG_CONFIG, PATH_FLUENT_BIT_CONFIG, true), mount(VOLUME_VAR_LOG, PATH_VAR_LOG)],
    resources: deepCopy(SYSTEM_CONTAINER_RESOURCES[SLOW_LOG_CONTAINER]),
  };
  applySecurityDefaults(c, options);
  applyOverwrites(c, cluster.spec?.podTemplate.overwriteContainers);
  return c;
}

/** The `mysqld-exporter` sidecar (docs/objects.md#sidecars, docs/agent.md#containers-of-a-mysql-pod-what-the-controller-builds). */
export function buildExporterContainer(cluster: MySQLCluster, options: BuilderOptions): V1Container {
  const c: V1Container = {
    name: EXPORTER_CONTAINER,
    image: options.exporterImage,
    args: [
      `--config.my-cnf=${PATH_MY_CNF_SECRET}/moco-exporter-my.cnf`,
      ...(cluster.spec?.collectors ?? []).map((x) => `--collect.${x}`),
    ],
    ports: [port("mysqld-metrics", EXPORTER_PORT)],
    // moco-ts: restarted by the kubelet when the agent sees it older than its my.cnf
    // (a rotated moco-exporter password; mysqld_exporter 0.14 reads the file only at start).
    // The agent listens only after its first-boot initialization: the startup probe gives it
    // the time mysqld's own startup probe gives it.
    startupProbe: {
      httpGet: { path: EXPORTER_HEALTH_PATH, port: HEALTH_PORT, scheme: "HTTP" },
      periodSeconds: 10, failureThreshold: startupFailureThreshold(cluster.spec?.startupWaitSeconds),
    },
    livenessProbe: {
      httpGet: { path: EXPORTER_HEALTH_PATH, port: HEALTH_PORT, scheme: "HTTP" },
      periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 4,
    },
    volumeMounts: [mount(VOLUME_RUN, PATH_RUN), mount(VOLUME_MY_CNF_SECRET, PATH_MY_CNF_SECRET, true)],
    resources: deepCopy(SYSTEM_CONTAINER_RESOURCES[EXPORTER_CONTAINER]),
  };
  applySecurityDefaults(c, options);
  applyOverwrites(c, cluster.spec?.podTemplate.overwriteContainers);
  return c;
}

/**
 * The positional parameters of the moco-init script: `$0` = "moco-init", then the
 * moco-init flags in upstream's order (docs/objects.md#init-containers): `--data-dir`, `--conf-dir`,
 * `--init-timezones`, the server ID base, `--mysqld-localhost=true` (agentUseLocalhost),
 * `--lower-case-table-names=<v>` (user ConfigMap key).
 */
export function initScriptArgs(cluster: MySQLCluster, userMyCnf: Readonly<Record<string, string>> | undefined): string[] {
  const spec = cluster.spec;
  const args = [
    INIT_SCRIPT_NAME,
    `--data-dir=${PATH_MYSQL_DATA}`,
    `--conf-dir=${PATH_MYSQL_CONF_D}`,
    `--init-timezones=${spec?.initializeTimezoneData === true ? "true" : "false"}`,
    String(spec?.serverIDBase ?? 0),
  ];
  if (spec?.agentUseLocalhost === true) args.push("--mysqld-localhost=true");
  const lctn = userMyCnf?.["lower_case_table_names"];
  if (lctn !== undefined) args.push(`--lower-case-table-names=${lctn}`);
  return args;
}

/** The time zone tables as SQL in the moco-ts image (Dockerfile: mysql_tzinfo_to_sql at image build). */
export const TIMEZONE_SQL_IMAGE_PATH = "/usr/share/moco-ts/timezones.sql";
/** Where moco-init reads them (the tmp volume both init containers mount). */
export const TIMEZONE_SQL_PATH = `${PATH_TMP}/moco-timezones.sql`;

/**
 * With `initializeTimezoneData`: an init container of the moco-ts image copying the time
 * zone SQL into the tmp volume, so that moco-init loads it without mysql_tzinfo_to_sql or
 * zoneinfo in the user's mysqld image (MOCO embeds the same data in moco-init).
 */
export function buildTimezoneInitContainer(cluster: MySQLCluster, options: BuilderOptions): V1Container {
  const c: V1Container = {
    name: TIMEZONE_INIT_CONTAINER,
    image: options.agentImage,
    command: ["cp", TIMEZONE_SQL_IMAGE_PATH, TIMEZONE_SQL_PATH],
    volumeMounts: [mount(VOLUME_TMP, PATH_TMP)],
    resources: deepCopy(SYSTEM_CONTAINER_RESOURCES[INIT_CONTAINER]),
  };
  applySecurityDefaults(c, options);
  applyOverwrites(c, cluster.spec?.podTemplate.overwriteContainers);
  return c;
}

/** The `moco-init` init container: the user's mysqld image running `sh -c <initScript>`. */
export function buildInitContainer(
  cluster: MySQLCluster,
  userMyCnf: Readonly<Record<string, string>> | undefined,
  options: BuilderOptions,
): V1Container {
  const image = findMysqldContainer(cluster)?.image;
  if (image === undefined || image === "") throw new Error("the mysqld container has no image");
  const c: V1Container = {
    name: INIT_CONTAINER,
    image,
    command: ["sh", "-c", options.initScript],
    args: initScriptArgs(cluster, userMyCnf),
    env: [podNameEnv()],
    volumeMounts: [
      mount(VOLUME_TMP, PATH_TMP),
      mount(MYSQL_DATA_VOLUME, PATH_MYSQL_DATA),
      mount(VOLUME_MYSQL_CONF_D, PATH_MYSQL_CONF_D),
    ],
    resources: deepCopy(SYSTEM_CONTAINER_RESOURCES[INIT_CONTAINER]),
  };
  applySecurityDefaults(c, options);
  applyOverwrites(c, cluster.spec?.podTemplate.overwriteContainers);
  return c;
}

// ---- volumes --------------------------------------------------------------------

/** The Pod volumes MOCO adds after the user's (docs/objects.md#pod-volumes, without `shared`). */
export function buildMocoVolumes(
  clusterName: string,
  myCnfConfigMap: string,
  slowLogConfigMap: string | undefined,
): V1Volume[] {
  const volumes: V1Volume[] = [
    { name: VOLUME_TMP, emptyDir: {} },
    { name: VOLUME_RUN, emptyDir: {} },
    { name: VOLUME_VAR_LOG, emptyDir: {} },
    { name: VOLUME_MYSQL_CONF_D, emptyDir: {} },
    { name: VOLUME_MYSQL_CONF, configMap: { name: myCnfConfigMap, defaultMode: VOLUME_DEFAULT_MODE } },
    { name: VOLUME_MY_CNF_SECRET, secret: { secretName: names.myCnfSecret(clusterName), defaultMode: VOLUME_DEFAULT_MODE } },
    { name: VOLUME_GRPC_CERT, secret: { secretName: names.grpcSecret(clusterName), defaultMode: VOLUME_DEFAULT_MODE } },
  ];
  if (slowLogConfigMap !== undefined) {
    volumes.push({ name: VOLUME_SLOW_LOG_CONFIG, configMap: { name: slowLogConfigMap, defaultMode: VOLUME_DEFAULT_MODE } });
  }
  return volumes;
}

/** A preferred (weight 100) anti-affinity on kubernetes.io/hostname against Pods matching `expressions`. */
export function preferredHostAntiAffinity(expressions: { key: string; values: string[] }[]): V1Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: "kubernetes.io/hostname",
            labelSelector: { matchExpressions: expressions.map((e) => ({ key: e.key, operator: "In", values: e.values })) },
          },
        },
      ],
    },
  };
}

/** The default Pod anti-affinity (docs/objects.md#pod-template), used when the template has none. */
export function defaultPodAntiAffinity(clusterName: string): V1Affinity {
  return preferredHostAntiAffinity([
    { key: LABEL_APP_NAME, values: [APP_NAME_MYSQL] },
    { key: LABEL_APP_INSTANCE, values: [clusterName] },
    { key: LABEL_APP_CREATED_BY, values: [CREATED_BY_MOCO] },
  ]);
}

// ---- the live StatefulSet (managed fields) --------------------------------------

/** What the builders read of the live StatefulSet (its fields owned by moco-controller). */
export interface LiveStatefulSet {
  readonly spec?: {
    readonly template?: { readonly spec?: { readonly containers?: readonly V1Container[] } };
    readonly volumeClaimTemplates?: readonly LivePvcTemplate[];
  };
}

export interface LivePvcTemplate {
  readonly metadata?: {
    readonly name?: string;
    readonly ownerReferences?: readonly { readonly apiVersion?: string; readonly uid?: string }[];
  };
}

/**
 * Whether the live `slow-log` container is reused verbatim (docs/objects.md#sidecars stability
 * rule): it exists and `metadata.generation == status.reconcileInfo.generation`.
 */
function reusableSlowLogContainer(cluster: MySQLCluster, live: LiveStatefulSet | undefined): V1Container | undefined {
  const existing = live?.spec?.template?.spec?.containers?.find((c) => c.name === SLOW_LOG_CONTAINER);
  if (existing === undefined) return undefined;
  const generation = cluster.metadata?.generation;
  const reconciled = cluster.status?.reconcileInfo?.generation;
  if (generation === undefined || generation !== reconciled) return undefined;
  return deepCopy(existing);
}

// ---- Pod template ---------------------------------------------------------------

export interface PodTemplateInputs {
  /** Name of the my.cnf ConfigMap (buildMyCnfConfigMap(...).name). */
  readonly myCnfConfigMapName: string;
  /** `data` of the user ConfigMap (`spec.mysqlConfigMapName`), if any. */
  readonly userMyCnf?: Readonly<Record<string, string>> | undefined;
  /** The live StatefulSet's fields managed by moco-controller, if it exists. */
  readonly live?: LiveStatefulSet | undefined;
}

/** The Pod template of the StatefulSet (docs/objects.md#pod-template). */
export function buildPodTemplate(cluster: MySQLCluster, inputs: PodTemplateInputs, options: BuilderOptions): V1PodTemplateSpec {
  const id = clusterIdentity(cluster);
  const spec = cluster.spec;
  if (spec === undefined) throw new Error(`MySQLCluster ${id.namespace}/${id.name} has no spec`);
  const template = spec.podTemplate;
  const slowLogEnabled = spec.disableSlowQueryLogContainer !== true;
  const exporterEnabled = (spec.collectors ?? []).length > 0;

  const podSpec = deepCopy(template.spec) as V1PodSpec;
  podSpec.serviceAccountName = names.prefixed(id.name);
  podSpec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;

  const slowLogName = slowLogEnabled ? slowLogConfigMapName(id.name, slowLogTemplateOf(cluster)) : undefined;
  const tlsVolume = buildTlsVolume(cluster);
  podSpec.volumes = [
    ...(podSpec.volumes ?? []),
    ...buildMocoVolumes(id.name, inputs.myCnfConfigMapName, slowLogName),
    ...(tlsVolume === undefined ? [] : [tlsVolume]),
  ];

  const containers: V1Container[] = [buildMysqldContainer(cluster, options), buildAgentContainer(cluster, options)];
  if (slowLogEnabled) {
    containers.push(reusableSlowLogContainer(cluster, inputs.live) ?? buildSlowLogContainer(cluster, options));
  }
  if (exporterEnabled) containers.push(buildExporterContainer(cluster, options));
  for (const user of template.spec.containers ?? []) {
    switch (user.name) {
      case MYSQLD_CONTAINER:
      case AGENT_CONTAINER:
        continue;
      case SLOW_LOG_CONTAINER:
        if (slowLogEnabled) continue;
        break;
      case EXPORTER_CONTAINER:
        if (exporterEnabled) continue;
        break;
    }
    const c = deepCopy(user) as V1Container;
    applySecurityDefaults(c, options);
    containers.push(c);
  }
  podSpec.containers = containers;

  const initContainers: V1Container[] = [
    ...(cluster.spec?.initializeTimezoneData === true ? [buildTimezoneInitContainer(cluster, options)] : []),
    buildInitContainer(cluster, inputs.userMyCnf, options),
  ];
  for (const user of template.spec.initContainers ?? []) {
    const c = deepCopy(user) as V1Container;
    applySecurityDefaults(c, options);
    initContainers.push(c);
  }
  podSpec.initContainers = initContainers;

  const psc = (podSpec.securityContext ??= {});
  if (!options.disableDefaultSecurityContext) psc.fsGroup ??= CONTAINER_GID;
  psc.fsGroupChangePolicy ??= "OnRootMismatch";

  podSpec.affinity ??= defaultPodAntiAffinity(id.name);

  const annotations = template.metadata?.annotations;
  return dropUndefined({
    metadata: {
      labels: mergeLabels(template.metadata?.labels, labelSet(id.name)),
      annotations: annotations === undefined || Object.keys(annotations).length === 0 ? undefined : sortedRecord(annotations),
    },
    spec: podSpec,
  });
}

// ---- volumeClaimTemplates ---------------------------------------------------------

/** One PVC template of the StatefulSet (docs/objects.md#volumeclaimtemplates). */
export function buildVolumeClaimTemplate(
  id: ClusterIdentity,
  template: PersistentVolumeClaim,
  live: LiveStatefulSet | undefined,
): V1PersistentVolumeClaim {
  const name = template.metadata.name ?? "";
  const owner = clusterOwnerReference(id);
  const liveOwner = live?.spec?.volumeClaimTemplates
    ?.find((t) => t.metadata?.name === name)
    ?.metadata?.ownerReferences?.find((r) => r.uid === id.uid);
  if (liveOwner?.apiVersion !== undefined && liveOwner.apiVersion !== owner.apiVersion) owner.apiVersion = liveOwner.apiVersion;
  const spec = deepCopy(template.spec) as NonNullable<V1PersistentVolumeClaim["spec"]>;
  if (spec.accessModes === undefined || spec.accessModes.length === 0) spec.accessModes = ["ReadWriteOnce"];
  if (spec.volumeMode === undefined || spec.volumeMode === "") spec.volumeMode = "Filesystem";
  const labels = template.metadata.labels;
  const annotations = template.metadata.annotations;
  return dropUndefined({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      labels: labels === undefined || Object.keys(labels).length === 0 ? undefined : sortedRecord(labels),
      annotations: annotations === undefined || Object.keys(annotations).length === 0 ? undefined : sortedRecord(annotations),
      ownerReferences: [owner],
    },
    spec,
    status: { phase: "Pending" },
  });
}

// ---- StatefulSet ----------------------------------------------------------------

export interface StatefulSetInputs {
  /** `data` of the user ConfigMap (`spec.mysqlConfigMapName`); undefined when unset. */
  readonly userMyCnf?: Readonly<Record<string, string>> | undefined;
  /** The live StatefulSet's fields managed by moco-controller, if it exists. */
  readonly live?: LiveStatefulSet | undefined;
}

/** `spec.replicas` of the StatefulSet: 0 when offline, else `spec.replicas` (CRD default 1). */
export function statefulSetReplicas(cluster: MySQLCluster): number {
  if (cluster.spec?.offline === true) return 0;
  return cluster.spec?.replicas ?? 1;
}

/**
 * The StatefulSet `moco-<name>` (docs/objects.md#statefulset-object). `updateStrategy.rollingUpdate` is
 * never set here: the partition belongs to the webhook and the partition controller.
 */
export function buildStatefulSet(cluster: MySQLCluster, inputs: StatefulSetInputs, options: BuilderOptions): V1StatefulSet {
  const id = clusterIdentity(cluster);
  const myCnfConfigMapName = buildMyCnfConfigMap(cluster, inputs.userMyCnf).name;
  const force = annotationIsTrue(cluster.metadata?.annotations, ANNOTATION_FORCE_ROLLING_UPDATE);
  return dropUndefined({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name: names.prefixed(id.name),
      namespace: id.namespace,
      labels: labelSet(id.name),
      annotations: force ? { [ANNOTATION_FORCE_ROLLING_UPDATE]: "true" } : undefined,
      ownerReferences: [clusterOwnerReference(id)],
    },
    spec: {
      replicas: statefulSetReplicas(cluster),
      selector: { matchLabels: labelSet(id.name) },
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "RollingUpdate" },
      serviceName: names.prefixed(id.name),
      volumeClaimTemplates: (cluster.spec?.volumeClaimTemplates ?? []).map((t) => buildVolumeClaimTemplate(id, t, inputs.live)),
      template: buildPodTemplate(cluster, { myCnfConfigMapName, userMyCnf: inputs.userMyCnf, live: inputs.live }, options),
    },
  });
}

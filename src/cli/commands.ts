// The behaviour of each subcommand (docs/cli.md#commands and the moco-ts `status` extension),
// written against a small environment (API, output, Pod exec, clock) so unit tests
// can drive them with fakes and the integration test with the real API server.
import { randomBytes } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import type { MySQLCluster } from "../api/v1beta2/index.ts";
import { MYSQLD_CONTAINER, MYSQLCLUSTER_KIND } from "../api/v1beta2/index.ts";
import {
  ANNOTATION_CLUSTERING_STOPPED,
  ANNOTATION_DEMOTE,
  ANNOTATION_PREVENT_DELETE,
  ANNOTATION_RECONCILIATION_STOPPED,
  ANNOTATION_SECRET_VERSION,
  LABEL_APP_CREATED_BY,
  LABEL_APP_INSTANCE,
  LABEL_APP_NAME,
  PATH_MY_CNF_SECRET,
  SECRET_VERSION,
  annotationIsTrue,
  mysqlTlsSecretName,
  names,
} from "../shared/names.ts";
import {
  ANNOTATION_ROTATE_PASSWORD,
  ANNOTATION_ROTATE_PASSWORD_USERS,
  newRotationId,
  parseRotationUsers,
} from "../shared/rotation-request.ts";
import { MOCO_USER_NAMES } from "../mysql/users.ts";
import type { MysqlClientTls } from "../mysql/tls.ts";
import type { MocoApi } from "./api.ts";
import { CliError, EXIT, apiError } from "./errors.ts";
import { MYSQL_CLIENT_USERS, formatCredential, passwordKeyFor } from "./format.ts";
import { probeViaExec, probeViaSql, type InstanceProbe } from "./probe.ts";
import type { PodExecutor } from "./exec.ts";
import { buildStatusReport, formatStatusReport, type ProbeOutcome, type ProbeSource } from "./status.ts";
import { errorMessage } from "../util/errors.ts";

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** What the commands need from the outside world. */
export interface CommandEnv {
  api: MocoApi;
  namespace: string;
  io: CliIO;
  /** Runs commands in Pods (the API server's exec subprotocol, exec.ts). */
  exec: PodExecutor;
  /** Probes one instance (status); defaults to the real exec / SQL probes. */
  probe?(how: ProbeSource, pod: V1Pod, password: () => Promise<string>, timeoutMs: number): Promise<InstanceProbe>;
  sleep(ms: number): Promise<void>;
  now(): number;
}

async function getCluster(env: CommandEnv, name: string, context?: string): Promise<MySQLCluster> {
  try {
    return await env.api.getCluster(env.namespace, name);
  } catch (e) {
    throw apiError(e, context);
  }
}

// ---- credential (docs/cli.md#credential) --------------------------------------------------------------

export interface CredentialOptions {
  mysqlUser: string;
  format: string;
}

export async function runCredential(env: CommandEnv, cluster: string, opts: CredentialOptions): Promise<void> {
  const key = passwordKeyFor(opts.mysqlUser);
  formatCredential(opts.mysqlUser, "", opts.format); // validates the format before any request
  const secretName = names.userSecret(cluster);
  let secret;
  try {
    secret = await env.api.getSecret(env.namespace, secretName);
  } catch (e) {
    throw apiError(e);
  }
  if (secret.metadata?.annotations?.[ANNOTATION_SECRET_VERSION] !== SECRET_VERSION) {
    throw new CliError(
      `Secret ${env.namespace}/${secretName} is not a MOCO password Secret of a supported version ` +
        `(annotation ${ANNOTATION_SECRET_VERSION} is not "${SECRET_VERSION}")`,
      EXIT.ERROR,
    );
  }
  const b64 = secret.data?.[key];
  if (b64 === undefined) {
    throw new CliError(`Secret ${env.namespace}/${secretName} has no key ${key}`, EXIT.ERROR);
  }
  env.io.stdout(formatCredential(opts.mysqlUser, Buffer.from(b64, "base64").toString("utf8"), opts.format));
}

// ---- stop / start clustering | reconciliation (docs/cli.md#stop-and-start) ----------------------------------

export type Pausable = "clustering" | "reconciliation";

const PAUSE_ANNOTATION: Record<Pausable, string> = {
  clustering: ANNOTATION_CLUSTERING_STOPPED,
  reconciliation: ANNOTATION_RECONCILIATION_STOPPED,
};

export async function runStopStart(env: CommandEnv, action: "stop" | "start", what: Pausable, cluster: string): Promise<void> {
  const context = `failed to ${action} ${what} of MySQLCluster`;
  const obj = await getCluster(env, cluster, context);
  const key = PAUSE_ANNOTATION[what];
  const stopped = annotationIsTrue(obj.metadata?.annotations, key);
  if (action === "stop" && stopped) {
    env.io.stdout(`The ${what} is already stopped.\n`);
    return;
  }
  if (action === "start" && !stopped) {
    env.io.stdout(`The ${what} is already running.\n`);
    return;
  }
  try {
    await env.api.patchClusterAnnotations(env.namespace, cluster, { [key]: action === "stop" ? "true" : null });
  } catch (e) {
    throw apiError(e, context);
  }
  env.io.stdout(`${action === "stop" ? "stopped" : "started"} ${what} of MySQLCluster "${env.namespace}/${cluster}"\n`);
}

// ---- rotate-password (moco-ts addition, docs/password-rotation.md) ----------------------------

export interface RotatePasswordOptions {
  /** MOCO user names (repeatable --mysql-user; --user is kubectl's kubeconfig user); empty = all eight. */
  users: readonly string[];
  /** Random hex for the request id (tests). */
  randomHex?: string;
}

/**
 * Records a rotation request on the MySQLCluster: annotation rotate-password = a fresh id,
 * rotate-password-users = the users (removed when all). The controller does the rest.
 */
export async function runRotatePassword(env: CommandEnv, cluster: string, opts: RotatePasswordOptions): Promise<void> {
  const context = "failed to request a password rotation of MySQLCluster";
  let users: string[];
  try {
    users = parseRotationUsers(opts.users.join(","), "--mysql-user");
  } catch (e) {
    throw new CliError(errorMessage(e), EXIT.USAGE);
  }
  await getCluster(env, cluster, context);
  const id = newRotationId(new Date(env.now()), opts.randomHex ?? randomBytes(2).toString("hex"));
  const all = users.length === MOCO_USER_NAMES.length;
  try {
    await env.api.patchClusterAnnotations(env.namespace, cluster, {
      [ANNOTATION_ROTATE_PASSWORD]: id,
      [ANNOTATION_ROTATE_PASSWORD_USERS]: all ? null : users.join(","),
    });
  } catch (e) {
    throw apiError(e, context);
  }
  env.io.stdout(`requested password rotation ${id} of ${all ? "all MOCO users" : users.join(", ")} for MySQLCluster "${env.namespace}/${cluster}"\n`);
}

// ---- switchover (docs/cli.md#switchover, plus moco-ts checks and --wait) ----------------------------------

export interface SwitchoverOptions {
  /** Wait until status.currentPrimaryIndex changes. */
  wait: boolean;
  timeoutMs: number;
  /** Poll interval while waiting (ms). */
  pollMs?: number;
}

function conditionOf(cluster: MySQLCluster, type: string): { status: string; message: string } | undefined {
  const c = cluster.status?.conditions?.find((x) => x.type === type);
  return c ? { status: c.status, message: c.message } : undefined;
}

/**
 * Why a switchover cannot be requested at all, or undefined when it may (docs/cli.md#switchover:
 * offline and single-instance clusters; moco-ts also refuses a cluster without status,
 * whose primary is unknown). Pure, so the rules are table-tested.
 */
export function switchoverRefusal(cluster: MySQLCluster): CliError | undefined {
  const id = `${cluster.metadata?.namespace}/${cluster.metadata?.name}`;
  if (cluster.spec?.offline === true) {
    return new CliError(`MySQLCluster ${id} is offline: an offline cluster cannot switch over`, EXIT.REFUSED);
  }
  if ((cluster.spec?.replicas ?? 1) <= 1) {
    return new CliError(`MySQLCluster ${id} has a single instance: there is no replica to switch over to`, EXIT.REFUSED);
  }
  if (cluster.status?.currentPrimaryIndex === undefined) {
    return new CliError(`MySQLCluster ${id} has no status yet: it is not available`, EXIT.NOT_AVAILABLE);
  }
  return undefined;
}

/**
 * Why a requested switchover may not happen soon. As MOCO, the request is still made (the
 * annotation waits for the clustering manager); these only become warnings on stderr.
 */
export function switchoverWarnings(cluster: MySQLCluster): string[] {
  const id = `${cluster.metadata?.namespace}/${cluster.metadata?.name}`;
  const out: string[] = [];
  if (annotationIsTrue(cluster.metadata?.annotations, ANNOTATION_CLUSTERING_STOPPED)) {
    out.push(`clustering of MySQLCluster ${id} is stopped: ` +
      `the switchover happens after "kubectl moco start clustering ${cluster.metadata?.name}"`);
  }
  const healthy = conditionOf(cluster, "Healthy");
  if (healthy?.status !== "True") {
    const detail = healthy ? `Healthy=${healthy.status}${healthy.message ? `: ${healthy.message}` : ""}` : "no Healthy condition";
    out.push(`MySQLCluster ${id} is not healthy (${detail}): ` +
      "the switchover waits until it is");
  }
  return out;
}

function eventTimeMs(ev: { lastTimestamp?: Date | string; eventTime?: Date | string; metadata?: { creationTimestamp?: Date | string } }): number {
  const t = ev.lastTimestamp ?? ev.eventTime ?? ev.metadata?.creationTimestamp;
  if (t === undefined) return 0;
  return t instanceof Date ? t.getTime() : Date.parse(t);
}

export async function runSwitchover(env: CommandEnv, clusterName: string, opts: SwitchoverOptions): Promise<void> {
  const cluster = await getCluster(env, clusterName);
  const refusal = switchoverRefusal(cluster);
  if (refusal) throw refusal;
  for (const w of switchoverWarnings(cluster)) env.io.stderr(`warning: ${w}\n`);
  const oldIndex = cluster.status?.currentPrimaryIndex as number;
  const podName = names.pod(clusterName, oldIndex);
  let pod: V1Pod;
  try {
    pod = await env.api.getPod(env.namespace, podName);
  } catch (e) {
    throw apiError(e);
  }
  const started = env.now();
  if (!annotationIsTrue(pod.metadata?.annotations, ANNOTATION_DEMOTE)) {
    try {
      pod = await env.api.patchPodAnnotations(env.namespace, podName, { [ANNOTATION_DEMOTE]: "true" });
    } catch (e) {
      throw apiError(e);
    }
  }
  if (annotationIsTrue(pod.metadata?.annotations, ANNOTATION_PREVENT_DELETE)) {
    env.io.stderr(
      `warning: ${podName} carries ${ANNOTATION_PREVENT_DELETE}="true" (replicas are delayed): ` +
        "the switchover is deferred until they catch up\n",
    );
  }
  if (!opts.wait) return;

  const deadline = started + opts.timeoutMs;
  const poll = opts.pollMs ?? 1000;
  let lastFailure: string | undefined;
  for (;;) {
    const now = await getCluster(env, clusterName);
    const idx = now.status?.currentPrimaryIndex;
    if (idx !== undefined && idx !== oldIndex) {
      env.io.stdout(
        `switched over: the primary of MySQLCluster "${env.namespace}/${clusterName}" is now instance ${idx} (${names.pod(clusterName, idx)})\n`,
      );
      return;
    }
    try {
      const events = await env.api.listEvents(env.namespace, MYSQLCLUSTER_KIND, clusterName);
      const failures = events
        .filter((e) => e.reason === "SwitchOverFailed" && eventTimeMs(e) >= started - 1000)
        .sort((a, b) => eventTimeMs(a) - eventTimeMs(b));
      const msg = failures[failures.length - 1]?.message;
      if (msg !== undefined && msg !== lastFailure) {
        lastFailure = msg;
        env.io.stderr(`switchover attempt failed (MOCO retries): ${msg}\n`);
      }
    } catch {
      // events are informative only
    }
    if (env.now() >= deadline) {
      throw new CliError(
        `timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for the switchover of MySQLCluster ` +
          `"${env.namespace}/${clusterName}": the primary is still instance ${oldIndex}` +
          (lastFailure ? ` (last failure: ${lastFailure})` : "") +
          `; the request (${ANNOTATION_DEMOTE} on ${podName}) stays in place`,
        EXIT.TIMEOUT,
      );
    }
    await env.sleep(Math.min(poll, Math.max(0, deadline - env.now())));
  }
}

// ---- mysql (docs/cli.md#mysql) -------------------------------------------------------------------

export interface MysqlOptions {
  mysqlUser: string;
  index: number;
  stdin: boolean;
  tty: boolean;
}

/** The mysql client command run in the mysqld container (the password stays in the Pod's file). */
export function mysqlCommand(opts: MysqlOptions, mysqlArgs: readonly string[]): string[] {
  return ["mysql", `--defaults-extra-file=${PATH_MY_CNF_SECRET}/${opts.mysqlUser}-my.cnf`, ...mysqlArgs];
}

/** The Pod ordinal `mysql` targets: `--index`, or the current primary when negative. */
export function targetIndex(cluster: MySQLCluster, index: number): number {
  const id = `${cluster.metadata?.namespace}/${cluster.metadata?.name}`;
  const replicas = cluster.spec?.replicas ?? 1;
  if (index >= replicas) {
    throw new CliError(`--index ${index} is out of range: MySQLCluster ${id} has ${replicas} instance(s), so the index has to be below ${replicas}`, EXIT.USAGE);
  }
  if (index >= 0) return index;
  const primary = cluster.status?.currentPrimaryIndex;
  if (primary === undefined) {
    throw new CliError(`MySQLCluster ${id} has no status yet: its primary is not known (is it available?)`, EXIT.NOT_AVAILABLE);
  }
  return primary;
}

/** Runs mysql in the Pod; resolves to the exit code to end with (the remote command's). */
export async function runMysql(env: CommandEnv, clusterName: string, mysqlArgs: readonly string[], opts: MysqlOptions): Promise<number> {
  if (!MYSQL_CLIENT_USERS.includes(opts.mysqlUser)) {
    throw new CliError(`invalid user: ${opts.mysqlUser} (one of ${MYSQL_CLIENT_USERS.join(", ")})`, EXIT.USAGE);
  }
  const cluster = await getCluster(env, clusterName);
  const index = targetIndex(cluster, opts.index);
  const podName = names.pod(clusterName, index);
  let pod: V1Pod;
  try {
    pod = await env.api.getPod(env.namespace, podName);
  } catch (e) {
    throw apiError(e);
  }
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") {
    throw new CliError(`pod ${env.namespace}/${podName} is ${phase}: cannot run mysql in it`, EXIT.NOT_AVAILABLE);
  }
  const code = await env.exec.interactive({
    namespace: env.namespace, pod: podName, container: MYSQLD_CONTAINER, command: mysqlCommand(opts, mysqlArgs), stdin: opts.stdin, tty: opts.tty,
  });
  // What MOCO's plugin (client-go's exec) and kubectl exec print after a failing command.
  if (code !== 0) env.io.stderr(`command terminated with exit code ${code}\n`);
  return code;
}

// ---- status (moco-ts extension) ------------------------------------------------------------

export type StatusSource = "auto" | "exec" | "pod-ip" | "none";
export const STATUS_SOURCES: readonly StatusSource[] = ["auto", "exec", "pod-ip", "none"];

export interface StatusOptions {
  output: "table" | "json";
  source: StatusSource;
  timeoutMs: number;
}

/** Label selector of a cluster's mysqld Pods (labelSet, docs/objects.md#label-sets). */
export function podSelector(cluster: string): string {
  return `${LABEL_APP_NAME}=mysql,${LABEL_APP_INSTANCE}=${cluster},${LABEL_APP_CREATED_BY}=moco`;
}

/**
 * spec.tls (docs/tls.md): the CA of the cluster's certificate Secret, read like the
 * credentials (the user's get on Secrets); undefined without spec.tls.
 */
async function clusterTlsCa(env: CommandEnv, cluster: MySQLCluster): Promise<string | undefined> {
  const secretName = mysqlTlsSecretName(cluster);
  if (secretName === undefined) return undefined;
  let secret;
  try {
    secret = await env.api.getSecret(env.namespace, secretName);
  } catch (e) {
    throw apiError(e);
  }
  const ca = Buffer.from(secret.data?.["ca.crt"] ?? "", "base64").toString("utf8");
  if (ca === "") throw new CliError(`Secret ${env.namespace}/${secretName} has no ca.crt`, EXIT.NOT_AVAILABLE);
  return ca;
}

async function defaultProbe(env: CommandEnv, how: ProbeSource, pod: V1Pod, password: () => Promise<string>, timeoutMs: number, tlsFor: (pod: V1Pod) => Promise<MysqlClientTls | undefined>): Promise<InstanceProbe> {
  if (how === "exec") return probeViaExec(env.exec, env.namespace, pod.metadata?.name ?? "", timeoutMs);
  const ip = pod.status?.podIP;
  if (!ip) throw new Error("the Pod has no IP");
  return probeViaSql(ip, 3306, await password(), timeoutMs, await tlsFor(pod));
}

function shortError(e: unknown): string {
  const msg = errorMessage(e);
  return msg.split("\n")[0]?.slice(0, 160) ?? "";
}

export async function runStatus(env: CommandEnv, clusterName: string, opts: StatusOptions): Promise<void> {
  const cluster = await getCluster(env, clusterName);
  let pods: V1Pod[];
  try {
    pods = await env.api.listPods(env.namespace, podSelector(clusterName));
  } catch (e) {
    throw apiError(e);
  }
  let passwordPromise: Promise<string> | undefined;
  const password = (): Promise<string> => {
    passwordPromise ??= (async () => {
      let out = "";
      await runCredential({ ...env, io: { stdout: (t) => { out += t; }, stderr: env.io.stderr } }, clusterName, {
        mysqlUser: "moco-readonly",
        format: "plain",
      });
      return out.replace(/\n$/, "");
    })();
    return passwordPromise;
  };
  let caPromise: Promise<string | undefined> | undefined;
  const tlsFor = async (pod: V1Pod): Promise<MysqlClientTls | undefined> => {
    const ca = await (caPromise ??= clusterTlsCa(env, cluster));
    const ordinal = Number((pod.metadata?.name ?? "").slice(names.pod(clusterName, 0).length - 1));
    return ca === undefined ? undefined : { ca, serverName: names.podFqdn(clusterName, env.namespace, ordinal) };
  };
  const probe = env.probe ?? ((how, pod, pw, t) => defaultProbe(env, how, pod, pw, t, tlsFor));
  const replicas = cluster.spec?.replicas ?? 1;
  const outcomes = new Map<number, ProbeOutcome>();
  if (opts.source !== "none") {
    await Promise.all(
      Array.from({ length: replicas }, async (_, i) => {
        const pod = pods.find((p) => p.metadata?.name === names.pod(clusterName, i));
        if (!pod) {
          outcomes.set(i, { error: "no Pod" });
          return;
        }
        if (pod.status?.phase !== "Running" || pod.metadata?.deletionTimestamp) {
          outcomes.set(i, { error: "not running" });
          return;
        }
        const order: ProbeSource[] = opts.source === "exec" || opts.source === "pod-ip" ? [opts.source] : ["exec", "pod-ip"];
        const errors: string[] = [];
        for (const how of order) {
          try {
            outcomes.set(i, { probe: await probe(how, pod, password, opts.timeoutMs), source: how });
            return;
          } catch (e) {
            errors.push(`${how}: ${shortError(e)}`);
          }
        }
        outcomes.set(i, { error: `cannot query mysqld (${errors.join("; ")})` });
      }),
    );
  }
  const report = buildStatusReport(cluster, pods, outcomes);
  if (opts.output === "json") env.io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else env.io.stdout(formatStatusReport(report));
}

/** Names of MySQLClusters in the namespace starting with `prefix` (shell completion). */
export async function clusterNamesForCompletion(env: CommandEnv, prefix: string): Promise<string[]> {
  try {
    const list = await env.api.listClusters(env.namespace);
    return list
      .map((c) => c.metadata?.name ?? "")
      .filter((n) => n !== "" && n.startsWith(prefix))
      .sort();
  } catch {
    return [];
  }
}

// moco-agent flags and environment (docs/agent.md#startup), parsed into a plain config.
// Flags keep upstream's names and defaults; values use Go's syntax (durations "5s",
// "1m"; booleans "--x", "--x=true", "--x=false") so the controller's arguments for
// upstream moco-agent work unchanged (with the double dash).
import { podOrdinal } from "../util/pod-name.ts";
import { Command, CommanderError } from "commander";

import { parseCronSpec, type CronSchedule } from "../api/v1beta2/cron.ts";
import { parseGoDuration } from "../util/duration.ts";
import { PASSWORD_KEYS, type MocoPasswords, type PasswordKey } from "../mysql/users.ts";
import { errorMessage } from "../util/errors.ts";
import { DEFAULT_SELF_FENCE_THRESHOLD_MS } from "../mysql/self-fence.ts";

export const MYSQLD_ADMIN_PORT = 33062;
export const DEFAULT_SOCKET_PATH = "/run/mysqld.sock";
export const DEFAULT_SLOW_LOG_PATH = "/var/log/mysql/mysql.slow";

export interface ListenAddress {
  /** "" means all interfaces. */
  readonly host: string;
  readonly port: number;
}

export type LogFormat = "json" | "plain" | "logfmt";
export type LogLevel = "debug" | "info" | "warn" | "error" | "critical";

/** Values of the moco-agent flags. Durations in milliseconds. */
export interface AgentFlags {
  readonly address: ListenAddress;
  readonly probeAddress: ListenAddress;
  readonly metricsAddress: ListenAddress;
  readonly socketPath: string;
  readonly grpcCertDir: string;
  readonly connectionTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly maxIdleTimeMs: number;
  /** 0 disables the delay check of /readyz. */
  readonly maxDelayMs: number;
  readonly transactionQueueingWaitMs: number;
  /** --self-fence-threshold (moco-ts): 0 disables self-fencing (docs/agent.md). */
  readonly selfFenceThresholdMs: number;
  readonly logRotationSchedule: string;
  readonly logRotationScheduleParsed: CronSchedule;
  /** Bytes; 0 turns the size trigger off. */
  readonly logRotationSize: number;
  readonly mysqldLocalhost: boolean;
  readonly logFile: string;
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
}

/** Everything the agent needs from its environment. Passwords are secrets: never log them. */
export interface AgentEnvironment {
  readonly podName: string;
  readonly clusterName: string;
  readonly ordinal: number;
  /** Every password the environment provides; AGENT_PASSWORD is always present. */
  readonly passwords: Partial<MocoPasswords> & { readonly AGENT_PASSWORD: string };
}

export class AgentConfigError extends Error {
  override name = "AgentConfigError";
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Go's "host:port" listen address: ":9080", "0.0.0.0:9080", "[::1]:9080". */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]+)$/.exec(text);
  const portText = m?.[3];
  if (m === null || portText === undefined) throw new Error(`invalid address ${JSON.stringify(text)}: expected host:port`);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port in address ${JSON.stringify(text)}`);
  return { host: m[1] ?? m[2] ?? "", port };
}

/** A Go duration as milliseconds; negative values are rejected. */
export function parseDurationMs(flag: string, text: string): number {
  let ms: number;
  try {
    ms = parseGoDuration(text);
  } catch (e) {
    throw new Error(`invalid value ${JSON.stringify(text)} for flag --${flag}: ${errorMessage(e)}`);
  }
  if (ms < 0) throw new Error(`invalid value ${JSON.stringify(text)} for flag --${flag}: negative duration`);
  return ms;
}

/** Go's strconv.ParseBool. */
export function parseGoBool(flag: string, text: string | boolean | undefined): boolean {
  if (text === undefined || text === true) return true;
  if (text === false) return false;
  if (["1", "t", "T", "true", "TRUE", "True"].includes(text)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(text)) return false;
  throw new Error(`invalid boolean value ${JSON.stringify(text)} for flag --${flag}`);
}

function parseSize(flag: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new Error(`invalid value ${JSON.stringify(text)} for flag --${flag}: expected a number of bytes`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`invalid value ${JSON.stringify(text)} for flag --${flag}: too large`);
  return n;
}

interface RawOptions {
  address: string;
  probeAddress: string;
  metricsAddress: string;
  socketPath: string;
  grpcCertDir: string;
  connectionTimeout: string;
  readTimeout: string;
  maxIdleTime: string;
  maxDelay: string;
  transactionQueueingWait: string;
  selfFenceThreshold: string;
  logRotationSchedule: string;
  logRotationSize: string;
  mysqldLocalhost?: string | boolean;
  logfile: string;
  logformat: string;
  loglevel: string;
}

function buildCommand(): Command {
  return new Command("moco-agent")
    .description("MOCO agent: sidecar of mysqld (initialization, probes, clone API, log rotation, metrics)")
    .option("--address <addr>", "listen address of the clone API (HTTPS with mutual TLS)", ":9080")
    .option("--probe-address <addr>", "listen address of /healthz and /readyz", ":9081")
    .option("--metrics-address <addr>", "listen address of /metrics", ":8080")
    .option("--socket-path <path>", "path of the mysqld Unix socket", DEFAULT_SOCKET_PATH)
    .option("--grpc-cert-dir <dir>", "directory of tls.crt, tls.key and ca.crt", "/grpc-cert")
    .option("--connection-timeout <duration>", "MySQL connection timeout", "5s")
    .option("--read-timeout <duration>", "MySQL read timeout", "30s")
    .option("--max-idle-time <duration>", "how long an idle MySQL connection is kept", "30s")
    .option("--max-delay <duration>", "replication delay beyond which /readyz fails (0 disables)", "1m")
    .option("--transaction-queueing-wait <duration>", "how long a replica may go without queued transactions after start", "1m")
    .option(
      "--self-fence-threshold <duration>",
      "fence this writable instance when fewer than rpl_semi_sync_source_wait_for_replica_count peers have confirmed replicating from it for this long, or a commit has waited at least this long (5s at least) for a semi-sync acknowledgement (0 disables)",
      `${DEFAULT_SELF_FENCE_THRESHOLD_MS}ms`,
    )
    .option("--log-rotation-schedule <spec>", "cron schedule of slow log rotation", "*/5 * * * *")
    .option("--log-rotation-size <bytes>", "rotate the slow log when larger (0 disables)", "0")
    .option("--mysqld-localhost [bool]", "reach mysqld's admin port on localhost instead of POD_NAME")
    .option("--logfile <path>", "log to this file instead of stderr", "")
    .option("--logformat <format>", "log format (json; plain and logfmt are accepted and print JSON)", "json")
    .option("--loglevel <level>", "log level: debug, info, warn, error, critical", "info")
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
}

/**
 * Parses moco-agent's command line (without the node and script paths). Throws
 * AgentConfigError on any bad flag; `--help` throws with exit code 0 and the usage.
 */
export function parseAgentFlags(argv: readonly string[]): AgentFlags {
  const cmd = buildCommand();
  try {
    cmd.parse([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.help") throw new AgentConfigError(cmd.helpInformation(), 0);
      throw new AgentConfigError(e.message.replace(/^error: /, ""));
    }
    throw e;
  }
  const o = cmd.opts<RawOptions>();
  try {
    const schedule = parseCronSpec(o.logRotationSchedule);
    if (!schedule.ok) throw new Error(`invalid value ${JSON.stringify(o.logRotationSchedule)} for flag --log-rotation-schedule: ${schedule.error}`);
    const format = o.logformat;
    if (format !== "json" && format !== "plain" && format !== "logfmt") throw new Error(`invalid value ${JSON.stringify(format)} for flag --logformat`);
    const level = o.loglevel;
    if (level !== "debug" && level !== "info" && level !== "warn" && level !== "error" && level !== "critical") {
      throw new Error(`invalid value ${JSON.stringify(level)} for flag --loglevel`);
    }
    return {
      address: parseListenAddress(o.address),
      probeAddress: parseListenAddress(o.probeAddress),
      metricsAddress: parseListenAddress(o.metricsAddress),
      socketPath: o.socketPath,
      grpcCertDir: o.grpcCertDir,
      connectionTimeoutMs: parseDurationMs("connection-timeout", o.connectionTimeout),
      readTimeoutMs: parseDurationMs("read-timeout", o.readTimeout),
      maxIdleTimeMs: parseDurationMs("max-idle-time", o.maxIdleTime),
      maxDelayMs: parseDurationMs("max-delay", o.maxDelay),
      transactionQueueingWaitMs: parseDurationMs("transaction-queueing-wait", o.transactionQueueingWait),
      selfFenceThresholdMs: parseDurationMs("self-fence-threshold", o.selfFenceThreshold),
      logRotationSchedule: o.logRotationSchedule,
      logRotationScheduleParsed: schedule.schedule,
      logRotationSize: parseSize("log-rotation-size", o.logRotationSize),
      mysqldLocalhost: o.mysqldLocalhost === undefined ? false : parseGoBool("mysqld-localhost", o.mysqldLocalhost),
      logFile: o.logfile,
      logFormat: format,
      logLevel: level,
    };
  } catch (e) {
    throw new AgentConfigError(errorMessage(e));
  }
}

/** The ordinal of a StatefulSet Pod name ("moco-c-2" ⇒ 2). */
export function ordinalFromPodName(podName: string): number {
  const n = podOrdinal(podName);
  if (n === undefined) throw new Error(`POD_NAME ${JSON.stringify(podName)} has no ordinal suffix`);
  return n;
}

/** Reads POD_NAME, CLUSTER_NAME and the passwords (docs/agent.md#startup step 1). */
export function readAgentEnvironment(env: Readonly<Record<string, string | undefined>>): AgentEnvironment {
  const podName = env.POD_NAME ?? "";
  if (podName === "") throw new AgentConfigError("POD_NAME is not set", 1);
  let ordinal: number;
  try {
    ordinal = ordinalFromPodName(podName);
  } catch (e) {
    throw new AgentConfigError(errorMessage(e), 1);
  }
  const clusterName = env.CLUSTER_NAME ?? "";
  if (clusterName === "") throw new AgentConfigError("CLUSTER_NAME is not set", 1);
  const agentPassword = env.AGENT_PASSWORD ?? "";
  if (agentPassword === "") throw new AgentConfigError("AGENT_PASSWORD is not set", 1);
  const passwords: Partial<Record<PasswordKey, string>> = {};
  for (const key of PASSWORD_KEYS) {
    const v = env[key];
    if (v !== undefined && v !== "") passwords[key] = v;
  }
  return { podName, clusterName, ordinal, passwords: { ...passwords, AGENT_PASSWORD: agentPassword } };
}

/** All eight passwords, or an error naming the missing keys (never the values). */
export function requireAllPasswords(passwords: Partial<MocoPasswords>): MocoPasswords {
  const missing = PASSWORD_KEYS.filter((k) => (passwords[k] ?? "") === "");
  if (missing.length > 0) throw new Error(`missing passwords in the environment: ${missing.join(", ")}`);
  return passwords as MocoPasswords;
}

// kubectl-compatible global flags (docs/cli.md#global-flags): which kubeconfig, context, cluster, user
// and namespace to use, and credential overrides; the API calls and the execs (`mysql`,
// `status`, exec.ts) all use the result, so they talk to the same API server as the same
// identity.
import fs from "node:fs";
import * as k8s from "@kubernetes/client-node";
import { CliError, EXIT } from "./errors.ts";
import { tryParseGoDuration } from "../util/duration.ts";
import { errorMessage } from "../util/errors.ts";

/** The global flags as commander parses them (camelCase keys). */
export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
  server?: string;
  token?: string;
  as?: string;
  asGroup?: string[];
  asUid?: string;
  certificateAuthority?: string;
  clientCertificate?: string;
  clientKey?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  requestTimeout?: string;
  cacheDir?: string;
  disableCompression?: boolean;
  v?: string;
}

/** Where a kubeconfig comes from, for tests: the environment and the file system. */
export interface KubeConfigSource {
  env: Readonly<Record<string, string | undefined>>;
}

/** The effective connection settings. */
export interface ResolvedKubeConfig {
  kubeConfig: k8s.KubeConfig;
  /** `-n`, else the context's namespace, else "default". */
  namespace: string;
  /** Extra request headers (impersonation of groups / uid). */
  headers: Readonly<Record<string, string>>;
  /** Per-request timeout in ms (0 = none). */
  requestTimeoutMs: number;
}

/**
 * Parses a kubectl/Go duration as accepted by `--request-timeout` and `--timeout`:
 * a bare integer is seconds ("0" = none), otherwise a sequence like "1m30s", "500ms", "2h".
 * Returns milliseconds, or throws a usage CliError.
 */
export function parseDuration(text: string, flag: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const ms = tryParseGoDuration(t);
  if (ms === undefined || ms < 0) {
    throw new CliError(`invalid duration for ${flag}: ${JSON.stringify(text)} (examples: 30s, 5m, 1h30m)`, EXIT.USAGE);
  }
  return Math.round(ms);
}

function fileData(path: string, flag: string): string {
  try {
    return fs.readFileSync(path).toString("base64");
  } catch (e) {
    throw new CliError(`cannot read ${flag} ${path}: ${errorMessage(e)}`, EXIT.ERROR);
  }
}

/**
 * Loads the kubeconfig like kubectl: `--kubeconfig`, else $KUBECONFIG (a list of files,
 * merged), else ~/.kube/config, else the in-cluster service account; then applies
 * `--context`, `--cluster`, `--user` and the per-field overrides.
 */
export function resolveKubeConfig(opts: GlobalOptions, src: KubeConfigSource = { env: process.env }): ResolvedKubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    if (opts.kubeconfig !== undefined && opts.kubeconfig !== "") {
      if (!fs.existsSync(opts.kubeconfig)) {
        throw new CliError(`stat ${opts.kubeconfig}: no such file or directory`, EXIT.ERROR);
      }
      kc.loadFromFile(opts.kubeconfig);
    } else {
      const saved = process.env.KUBECONFIG;
      const wanted = src.env.KUBECONFIG;
      if (wanted === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = wanted;
      try {
        kc.loadFromDefault();
      } finally {
        if (saved === undefined) delete process.env.KUBECONFIG;
        else process.env.KUBECONFIG = saved;
      }
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot load kubeconfig: ${errorMessage(e)}`, EXIT.ERROR);
  }

  if (opts.context !== undefined && opts.context !== "") {
    if (kc.getContextObject(opts.context) === null) {
      throw new CliError(`context "${opts.context}" does not exist`, EXIT.ERROR);
    }
    kc.setCurrentContext(opts.context);
  }

  const current = kc.getContextObject(kc.getCurrentContext());
  const contextName = current?.name ?? "moco-cli";
  let clusterName = current?.cluster ?? "";
  let userName = current?.user ?? "";
  if (opts.cluster !== undefined && opts.cluster !== "") {
    if (!kc.clusters.some((c) => c.name === opts.cluster)) {
      throw new CliError(`cluster "${opts.cluster}" does not exist in the kubeconfig`, EXIT.ERROR);
    }
    clusterName = opts.cluster;
  }
  if (opts.user !== undefined && opts.user !== "") {
    if (!kc.users.some((u) => u.name === opts.user)) {
      throw new CliError(`user "${opts.user}" does not exist in the kubeconfig`, EXIT.ERROR);
    }
    userName = opts.user;
  }

  const baseCluster: k8s.Cluster = kc.clusters.find((c) => c.name === clusterName) ?? {
    name: clusterName || "moco-cli",
    server: "",
    skipTLSVerify: false,
  };
  const baseUser: k8s.User = kc.users.find((u) => u.name === userName) ?? { name: userName || "moco-cli" };

  const cluster: { -readonly [K in keyof k8s.Cluster]: k8s.Cluster[K] } = { ...baseCluster };
  if (opts.server) cluster.server = opts.server;
  if (opts.certificateAuthority) {
    cluster.caData = fileData(opts.certificateAuthority, "--certificate-authority");
    delete cluster.caFile;
  }
  if (opts.insecureSkipTlsVerify) cluster.skipTLSVerify = true;
  if (opts.tlsServerName) cluster.tlsServerName = opts.tlsServerName;
  // loadFromDefault's last resort when there is no kubeconfig and no service account
  const fallback = baseCluster.name === "cluster" && baseCluster.server === "http://localhost:8080" && kc.clusters.length === 1;
  if (cluster.server === "" || (fallback && !opts.server)) {
    throw new CliError("no API server: give --kubeconfig, set KUBECONFIG, create ~/.kube/config or pass --server", EXIT.ERROR);
  }

  const user: { -readonly [K in keyof k8s.User]: k8s.User[K] } = { ...baseUser };
  if (opts.token) {
    user.token = opts.token;
    delete user.exec;
    delete user.authProvider;
  }
  if (opts.clientCertificate) {
    user.certData = fileData(opts.clientCertificate, "--client-certificate");
    delete user.certFile;
  }
  if (opts.clientKey) {
    user.keyData = fileData(opts.clientKey, "--client-key");
    delete user.keyFile;
  }
  if (opts.as) user.impersonateUser = opts.as;

  const headers: Record<string, string> = {};
  const groups = opts.asGroup ?? [];
  if (groups.length > 0 || opts.asUid) {
    if (!opts.as) throw new CliError("--as-group and --as-uid require --as", EXIT.USAGE);
    if (groups.length > 1) {
      throw new CliError("only one --as-group is supported by kubectl-moco", EXIT.USAGE);
    }
    if (groups[0] !== undefined) headers["Impersonate-Group"] = groups[0];
    if (opts.asUid) headers["Impersonate-Uid"] = opts.asUid;
  }

  const ctxNamespace = current?.namespace;
  const resolved = new k8s.KubeConfig();
  resolved.loadFromOptions({
    clusters: [cluster],
    users: [user],
    contexts: [{ name: contextName, cluster: cluster.name, user: user.name, namespace: ctxNamespace }],
    currentContext: contextName,
  });

  const namespace = opts.namespace !== undefined && opts.namespace !== "" ? opts.namespace : ctxNamespace || "default";
  const requestTimeoutMs = opts.requestTimeout ? parseDuration(opts.requestTimeout, "--request-timeout") : 0;
  return { kubeConfig: resolved, namespace, headers, requestTimeoutMs };
}

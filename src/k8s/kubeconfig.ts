// The credentials KubeClient needs (server URL, TLS material, bearer token), loaded without
// @kubernetes/client-node for the common cases: the in-cluster service account (the
// controller and backup Pods) and a kubeconfig whose user is a client certificate or a
// token. Loading that package's KubeConfig imports every generated API model: ~80 MiB of
// RSS in a process that only needs credentials (docs/performance.md#controller-at-scale).
// Anything else (exec and auth-provider plugins, basic auth, impersonation, proxies, several
// KUBECONFIG files) is handed to @kubernetes/client-node's KubeConfig, loaded on demand.
import fs from "node:fs";
import type https from "node:https";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";

/** What KubeClient uses of a kubeconfig (@kubernetes/client-node's KubeConfig has the same shape). */
export interface KubeCredentials {
  getCurrentCluster(): { readonly server: string } | null;
  /** Sets the TLS options and the Authorization header of one request. */
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

export const SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** The token file is re-read this often (as client-go and @kubernetes/client-node do): bound tokens rotate. */
export const TOKEN_FILE_REFRESH_MS = 60_000;

interface Loaded {
  server: string;
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  rejectUnauthorized?: false | undefined;
  servername?: string | undefined;
  token?: string | undefined;
  tokenFile?: string | undefined;
}

/** A kubeconfig reduced to a server, TLS material read once, and a token (re-read from its file every minute). */
export class LightKubeConfig implements KubeCredentials {
  readonly #c: Loaded;
  #token: string | undefined;
  #tokenReadAt = 0;

  constructor(c: Loaded) {
    this.#c = c;
    this.#token = c.token;
  }

  getCurrentCluster(): { readonly server: string } {
    return { server: this.#c.server };
  }

  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    const c = this.#c;
    if (c.ca !== undefined) opts.ca = c.ca;
    if (c.cert !== undefined) opts.cert = c.cert;
    if (c.key !== undefined) opts.key = c.key;
    if (c.rejectUnauthorized === false) opts.rejectUnauthorized = false;
    if (c.servername !== undefined) opts.servername = c.servername;
    if (c.tokenFile !== undefined && Date.now() - this.#tokenReadAt > TOKEN_FILE_REFRESH_MS) {
      this.#token = fs.readFileSync(c.tokenFile, "utf8").trim();
      this.#tokenReadAt = Date.now();
    }
    if (this.#token !== undefined && this.#token !== "") opts.headers = { ...(opts.headers as Record<string, string> | undefined), Authorization: `Bearer ${this.#token}` };
    return Promise.resolve();
  }
}

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === "object" && v !== null && !Array.isArray(v);

const CLUSTER_KEYS = new Set(["server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name", "extensions"]);
const USER_KEYS = new Set(["client-certificate", "client-certificate-data", "client-key", "client-key-data", "token", "tokenFile", "extensions"]);

function named(list: unknown, name: unknown, field: string, file: string): Dict {
  const entry = Array.isArray(list) ? list.find((e) => isDict(e) && e["name"] === name) as Dict | undefined : undefined;
  const body = entry?.[field];
  if (!isDict(body)) throw new Error(`${file}: no ${field} named ${JSON.stringify(name)}`);
  return body;
}

/**
 * The credentials of a kubeconfig's current context, or undefined when they use something
 * LightKubeConfig does not implement (the caller falls back to @kubernetes/client-node).
 */
export function parseKubeconfig(text: string, file: string): LightKubeConfig | undefined {
  const doc: unknown = parseYaml(text);
  if (!isDict(doc)) throw new Error(`${file}: not a kubeconfig`);
  const ctx = named(doc["contexts"], doc["current-context"], "context", file);
  const cluster = named(doc["clusters"], ctx["cluster"], "cluster", file);
  const user = ctx["user"] === undefined ? {} : named(doc["users"], ctx["user"], "user", file);
  if (Object.keys(cluster).some((k) => !CLUSTER_KEYS.has(k)) || Object.keys(user).some((k) => !USER_KEYS.has(k))) return undefined;
  const str = (d: Dict, k: string): string | undefined => (typeof d[k] === "string" && d[k] !== "" ? d[k] : undefined);
  const dir = path.dirname(file);
  const material = (d: Dict, fileKey: string, dataKey: string): Buffer | undefined => {
    const data = str(d, dataKey);
    if (data !== undefined) return Buffer.from(data, "base64");
    const f = str(d, fileKey);
    return f === undefined ? undefined : fs.readFileSync(path.resolve(dir, f));
  };
  const server = str(cluster, "server");
  if (server === undefined) throw new Error(`${file}: cluster ${JSON.stringify(ctx["cluster"])} has no server`);
  const tokenFile = str(user, "tokenFile");
  return new LightKubeConfig({
    server,
    ca: material(cluster, "certificate-authority", "certificate-authority-data"),
    cert: material(user, "client-certificate", "client-certificate-data"),
    key: material(user, "client-key", "client-key-data"),
    rejectUnauthorized: cluster["insecure-skip-tls-verify"] === true ? false : undefined,
    servername: str(cluster, "tls-server-name"),
    token: str(user, "token"),
    tokenFile: tokenFile === undefined ? undefined : path.resolve(dir, tokenFile),
  });
}

/** The in-cluster service account's credentials (KUBERNETES_SERVICE_HOST/PORT, token and CA files under `dir`). */
export function inClusterConfig(env: NodeJS.ProcessEnv = process.env, dir = SERVICEACCOUNT_DIR): LightKubeConfig {
  const host = env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "";
  if (host === "" || port === "") throw new Error("in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  const scheme = port === "80" || port === "8080" || port === "8001" ? "http" : "https"; // as @kubernetes/client-node
  return new LightKubeConfig({
    server: `${scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`,
    ca: fs.readFileSync(path.join(dir, "ca.crt")),
    tokenFile: path.join(dir, "token"),
  });
}

/** @kubernetes/client-node's KubeConfig, loaded only when needed. */
function clientNodeConfig(load: (kc: { loadFromFile(f: string): void; loadFromDefault(): void }) => void): KubeCredentials {
  const { KubeConfig } = createRequire(import.meta.url)("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const kc = new KubeConfig();
  load(kc);
  return kc;
}

/** The credentials of a kubeconfig file. */
export function loadKubeconfigFile(file: string): KubeCredentials {
  return parseKubeconfig(fs.readFileSync(file, "utf8"), file) ?? clientNodeConfig((kc) => kc.loadFromFile(file));
}

/**
 * @kubernetes/client-node's loadFromDefault order: $KUBECONFIG, ~/.kube/config, the in-cluster
 * service account; anything else goes to @kubernetes/client-node itself.
 */
export function loadDefaultKubeconfig(env: NodeJS.ProcessEnv = process.env): KubeCredentials {
  const list = (env["KUBECONFIG"] ?? "").split(path.delimiter).filter((f) => f !== "");
  if (list.length === 1) return loadKubeconfigFile(list[0] ?? "");
  if (list.length === 0) {
    const home = path.join(os.homedir(), ".kube", "config");
    if (fs.existsSync(home)) return loadKubeconfigFile(home);
    if (fs.existsSync(path.join(SERVICEACCOUNT_DIR, "token")) && (env["KUBERNETES_SERVICE_HOST"] ?? "") !== "") return inClusterConfig(env);
  }
  return clientNodeConfig((kc) => kc.loadFromDefault());
}

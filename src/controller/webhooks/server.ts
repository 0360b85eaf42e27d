// The HTTPS admission webhook server (docs/api.md#admission-webhooks): routes AdmissionReview and
// ConversionReview requests to the handlers in admission.ts. Never crashes on malformed
// input: every failure becomes an error response.
import { readFileSync } from "node:fs";
import { FileWatch, contentsFingerprint } from "../../util/file-watch.ts";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  MalformedReviewError,
  denied,
  parseAdmissionReview,
  reviewBackupPolicyValidation,
  reviewConversion,
  reviewMySQLClusterDefaulting,
  reviewMySQLClusterValidation,
  reviewOf,
  reviewStatefulSetMutation,
  type AdmissionRequest,
  type AdmissionResponse,
  type WebhookDependencies,
} from "./admission.ts";
import { guardedListener, readBody, sendJson } from "../../http/server.ts";
import { errorMessage } from "../../util/errors.ts";

export const WEBHOOK_PATHS = {
  mutateMySQLCluster: "/mutate-moco-cybozu-com-v1beta2-mysqlcluster",
  validateMySQLCluster: "/validate-moco-cybozu-com-v1beta2-mysqlcluster",
  validateBackupPolicy: "/validate-moco-cybozu-com-v1beta2-backuppolicy",
  mutateStatefulSet: "/mutate-apps-v1-statefulset",
  convert: "/convert",
  healthz: "/healthz",
} as const;

/** The logging a webhook server needs (a pino logger fits). */
export interface WebhookLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WebhookServerOptions {
  /**
   * The serving certificate: files (re-read every `reloadIntervalMs` and swapped in when
   * they change, e.g. a cert-manager Secret mounted as --cert-dir), or PEM texts (then
   * `setCertificate` swaps them).
   */
  certFile?: string;
  keyFile?: string;
  certificate?: { cert: string; key: string };
  /** Poll interval of certFile/keyFile (default 10 s). */
  reloadIntervalMs?: number;
  /** Default 9443 (docs/api.md#admission-webhooks); 0 picks a free port. */
  port?: number;
  /** Default "0.0.0.0". */
  host?: string;
  dependencies: WebhookDependencies;
  logger?: WebhookLogger;
  /** Largest accepted request body; default 8 MiB. */
  maxBodyBytes?: number;
}

export interface WebhookServer {
  server: Server;
  port: number;
  /** https://<host>:<port> */
  url: string;
  /** Serves `pair` to new connections from now on (open ones keep theirs). Throws when it is unusable. */
  setCertificate(pair: { cert: string | Buffer; key: string | Buffer }): void;
  /**
   * Keeps answering, but no connection stays open for another request: idle keep-alive
   * connections are closed now and every answer from now on carries `Connection: close`.
   * Called when the process is asked to stop, before the rest of the shutdown: the API
   * server's idle connections would otherwise outlive the Pod (ended with SIGKILL after
   * its grace period), and its next admission request, written into a connection whose
   * peer vanished, hangs until the webhook timeout.
   */
  drain(): void;
  close(): Promise<void>;
}

type AdmissionHandler = (req: AdmissionRequest, deps: WebhookDependencies) => AdmissionResponse | Promise<AdmissionResponse>;

const ADMISSION_ROUTES: Record<string, AdmissionHandler> = {
  [WEBHOOK_PATHS.mutateMySQLCluster]: reviewMySQLClusterDefaulting,
  [WEBHOOK_PATHS.validateMySQLCluster]: reviewMySQLClusterValidation,
  [WEBHOOK_PATHS.validateBackupPolicy]: reviewBackupPolicyValidation,
  [WEBHOOK_PATHS.mutateStatefulSet]: (req) => reviewStatefulSetMutation(req),
};

/** Handles one HTTP request; exported for tests that skip TLS. */
export async function handleWebhookRequest(
  req: IncomingMessage,
  res: ServerResponse,
  options: Pick<WebhookServerOptions, "dependencies" | "logger" | "maxBodyBytes">,
): Promise<void> {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  if (path === WEBHOOK_PATHS.healthz) {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
    return;
  }
  const admission = ADMISSION_ROUTES[path];
  if (admission === undefined && path !== WEBHOOK_PATHS.convert) {
    sendJson(res, 404, { message: `no webhook at ${path}` });
    return;
  }
  if (req.method !== "POST") {
    sendJson(res, 405, { message: "webhooks accept POST only" });
    return;
  }
  let uid = "";
  try {
    const limit = options.maxBodyBytes ?? 8 * 1024 * 1024;
    const raw = await readBody(req, limit);
    if (raw === undefined) {
      if (!res.headersSent && !res.destroyed) sendJson(res, 413, { message: `request body larger than ${limit} bytes` });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new MalformedReviewError("the request body is not valid JSON");
    }
    if (admission === undefined) {
      sendJson(res, 200, reviewConversion(body));
      return;
    }
    const request = parseAdmissionReview(body);
    uid = request.uid;
    const response = await admission(request, options.dependencies);
    options.logger?.info(
      {
        path,
        uid,
        operation: request.operation,
        namespace: request.namespace,
        name: request.name,
        allowed: response.allowed,
        code: response.status?.code,
      },
      "admission review",
    );
    sendJson(res, 200, reviewOf(response));
  } catch (e) {
    const malformed = e instanceof MalformedReviewError;
    const message = errorMessage(e);
    options.logger?.error({ path, uid, err: message }, malformed ? "malformed admission review" : "webhook failure");
    const response = malformed ? denied(uid, 400, "BadRequest", message) : denied(uid, 500, "InternalError", message);
    if (path === WEBHOOK_PATHS.convert) {
      sendJson(res, 200, {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "ConversionReview",
        response: { uid, convertedObjects: [], result: { status: "Failure", message } },
      });
      return;
    }
    sendJson(res, 200, reviewOf(response));
  }
}

/** Starts the HTTPS webhook server with the given certificate and key files. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const files = options.certFile !== undefined && options.keyFile !== undefined ? [options.certFile, options.keyFile] : undefined;
  const initial = files?.map((f) => readFileSync(f));
  const first = options.certificate ?? (initial === undefined ? undefined : { cert: initial[0], key: initial[1] });
  if (first === undefined) throw new Error("startWebhookServer: certFile and keyFile, or certificate, are required");
  let draining = false;
  const server = createServer(
    { cert: first.cert, key: first.key },
    guardedListener(
      (req, res) => {
        if (draining) res.setHeader("Connection", "close");
        return handleWebhookRequest(req, res, options);
      },
      (e) => options.logger?.error({ err: errorMessage(e) }, "webhook request failed"),
    ),
  );
  // kube-apiserver keeps idle connections to the webhook for up to 90 s (Go's
  // http.Transport IdleConnTimeout). Node's default 5 s keep-alive closes them first, and a
  // request the API server writes into a connection being closed fails the admission with
  // "broken pipe" (seen when bench/controller-scale.ts created 1000 clusters): idle
  // connections are left for the client to close.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  const host = options.host ?? "0.0.0.0";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 9443, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const setCertificate = (pair: { cert: string | Buffer; key: string | Buffer }): void => {
    server.setSecureContext({ cert: pair.cert, key: pair.key });
  };
  const reloadFailed = (e: unknown) => options.logger?.error({ err: errorMessage(e) }, "cannot reload the webhook serving certificate; serving the previous one");
  const reloader = files === undefined ? undefined : new FileWatch({
    files,
    intervalMs: options.reloadIntervalMs ?? 10_000,
    onChange: ([cert, key]) => {
      setCertificate({ cert: cert ?? "", key: key ?? "" });
      options.logger?.info({ certFile: options.certFile }, "reloaded the webhook serving certificate");
    },
    onReadError: reloadFailed,
    onError: reloadFailed,
  }, initial === undefined ? undefined : contentsFingerprint(files, initial)).start();
  return {
    server,
    port,
    url: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    setCertificate,
    drain: () => {
      draining = true;
      server.closeIdleConnections();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        void reloader?.stop();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

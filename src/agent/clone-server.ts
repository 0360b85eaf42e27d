// The HTTPS (mutual TLS) server of the clone API. The server certificate, its key and
// the CA that client certificates must chain to are read from the certificate
// directory (Secret moco-<cluster>-grpc: tls.crt, tls.key, ca.crt) and re-read every
// hour. A client must present a certificate signed by that CA whose subject CN is
// exactly "moco-controller".
import fs from "node:fs";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import type { TLSSocket } from "node:tls";

import { validateCloneRequest, type CloneService } from "./clone.ts";
import { CLONE_ERROR_STATUS, CLONE_PATH, type CloneErrorCode } from "../shared/clone-api.ts";
import type { ListenAddress } from "./config.ts";
import { safeErrorMessage, type Logger } from "./log.ts";
import { closeServer, guardedListener, listenOn, readBody, sendJson } from "../http/server.ts";

export const CONTROLLER_COMMON_NAME = "moco-controller";
export const CERT_RELOAD_INTERVAL_MS = 60 * 60 * 1000;
const MAX_BODY_BYTES = 64 * 1024;

export interface ServerTlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

/** Reads tls.crt, tls.key and ca.crt from `dir`. */
export function readServerTlsFiles(dir: string): ServerTlsFiles {
  return {
    cert: fs.readFileSync(path.join(dir, "tls.crt")),
    key: fs.readFileSync(path.join(dir, "tls.key")),
    ca: fs.readFileSync(path.join(dir, "ca.crt")),
  };
}

/** Whether a verified peer certificate subject is the controller's. */
export function isControllerSubject(subject: Readonly<Record<string, string | string[] | undefined>> | undefined): boolean {
  return subject?.CN === CONTROLLER_COMMON_NAME;
}

export interface CloneServer {
  readonly port: number;
  /** Re-reads the certificates now (also done every hour). */
  reloadCertificates(): void;
  close(): Promise<void>;
}

function sendError(res: ServerResponse, code: CloneErrorCode, message: string): void {
  sendJson(res, CLONE_ERROR_STATUS[code], { code, message });
}

export interface CloneServerOptions {
  readonly address: ListenAddress;
  readonly certDir: string;
  readonly service: CloneService;
  readonly logger: Logger;
  readonly reloadIntervalMs?: number;
}

/** Starts the clone API server; resolves once it listens. */
export async function startCloneServer(opts: CloneServerOptions): Promise<CloneServer> {
  const log = opts.logger.child({ component: "clone-api" });
  const tls = readServerTlsFiles(opts.certDir);
  const server = https.createServer(
    { ...tls, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" },
    guardedListener(handle, (err) => log.error({ error: safeErrorMessage(err) }, "clone API request failed")),
  );
  // A clone keeps its request open for as long as it takes.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const socket = req.socket as TLSSocket;
    if (!socket.authorized || !isControllerSubject(socket.getPeerCertificate().subject)) {
      log.warn({ remote: socket.remoteAddress, cn: socket.getPeerCertificate()?.subject?.CN }, "rejected a client that is not moco-controller");
      sendError(res, "UNAUTHENTICATED", `the client certificate's common name must be ${CONTROLLER_COMMON_NAME}`);
      return;
    }
    if (url.pathname !== CLONE_PATH) {
      sendError(res, "NOT_FOUND", `no such endpoint ${url.pathname}`);
      return;
    }
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      sendError(res, "METHOD_NOT_ALLOWED", "use POST");
      return;
    }
    let body: unknown;
    try {
      const raw = await readBody(req, MAX_BODY_BYTES);
      if (raw === undefined) {
        sendError(res, "INVALID_ARGUMENT", "request body too large");
        return;
      }
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      sendError(res, "INVALID_ARGUMENT", "the request body is not valid JSON");
      return;
    }
    const validation = validateCloneRequest(body);
    if (!validation.ok) {
      sendError(res, "INVALID_ARGUMENT", validation.message);
      return;
    }
    res.on("close", () => {
      if (!res.writableFinished) log.warn("the client went away; the clone continues");
    });
    try {
      const outcome = await opts.service.clone(validation.request);
      if (outcome.ok) sendJson(res, 200, {});
      else sendError(res, outcome.code, outcome.message);
    } catch (err) {
      // CloneService never throws; keep a response anyway, without secrets.
      sendError(res, "INTERNAL", safeErrorMessage(err, [validation.request.password, validation.request.init_password]));
    }
  }

  const reloadCertificates = () => {
    try {
      server.setSecureContext({ ...readServerTlsFiles(opts.certDir), minVersion: "TLSv1.2" });
      log.info("reloaded TLS certificates");
    } catch (err) {
      log.error({ error: safeErrorMessage(err) }, "failed to reload TLS certificates; keeping the old ones");
    }
  };
  const timer = setInterval(reloadCertificates, opts.reloadIntervalMs ?? CERT_RELOAD_INTERVAL_MS);
  timer.unref();

  const port = await listenOn(server, opts.address.port, opts.address.host);
  log.info({ port }, "clone API listening");
  return {
    port,
    reloadCertificates,
    close: () => {
      clearInterval(timer);
      return closeServer(server);
    },
  };
}

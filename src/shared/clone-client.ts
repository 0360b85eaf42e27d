// The controller's side of the clone API: one HTTPS request with the controller's
// client certificate (CN moco-controller), waiting until the agent answers.
import fs from "node:fs";
import https from "node:https";

import { CLONE_PATH, type CloneErrorCode, type CloneRequest } from "./clone-api.ts";

/** PEM files (paths) or their contents. */
export interface CloneClientTls {
  /** CA that signed the agent's server certificate. */
  readonly ca: string | Buffer;
  /** Client certificate with CN moco-controller and its key. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export interface CloneClientOptions {
  /** Name sent as SNI and verified against the server certificate when it differs from the URL host (e.g. dialing a Pod IP). */
  readonly serverName?: string;
  readonly signal?: AbortSignal;
}

/** A non-200 answer of the agent, or a transport failure (code "UNAVAILABLE"). Never carries a password. */
export class AgentCloneError extends Error {
  override name = "AgentCloneError";
  readonly code: CloneErrorCode | "UNAVAILABLE" | "UNKNOWN";
  /** HTTP status, 0 when no response arrived. */
  readonly httpStatus: number;
  constructor(code: CloneErrorCode | "UNAVAILABLE" | "UNKNOWN", httpStatus: number, message: string) {
    super(message);
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

function pem(v: string | Buffer): Buffer {
  if (Buffer.isBuffer(v)) return v;
  return v.includes("-----BEGIN") ? Buffer.from(v) : fs.readFileSync(v);
}

/**
 * Asks the agent at `agentUrl` (e.g. "https://moco-c-1.moco-c.ns.svc:9080") to clone
 * from the donor in `request`. Resolves when the clone and the post-clone
 * initialization are done; rejects with AgentCloneError otherwise.
 */
export function cloneFromDonor(agentUrl: string, tls: CloneClientTls, request: CloneRequest, opts: CloneClientOptions = {}): Promise<void> {
  const url = new URL(CLONE_PATH, agentUrl);
  if (url.protocol !== "https:") return Promise.reject(new AgentCloneError("INVALID_ARGUMENT", 0, `agent URL must be https, got ${url.protocol}`));
  const body = JSON.stringify(request);
  return new Promise<void>((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: "POST",
        ca: pem(tls.ca),
        cert: pem(tls.cert),
        key: pem(tls.key),
        servername: opts.serverName,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        signal: opts.signal,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => reject(new AgentCloneError("UNAVAILABLE", res.statusCode ?? 0, `reading the agent's answer failed: ${err.message}`)));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          if (status === 200) {
            resolve();
            return;
          }
          let code: CloneErrorCode | "UNKNOWN" = "UNKNOWN";
          let message = `agent answered HTTP ${status}`;
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { code?: unknown; message?: unknown };
            if (typeof parsed.code === "string") code = parsed.code as CloneErrorCode;
            if (typeof parsed.message === "string") message = parsed.message;
          } catch {
            /* not JSON: keep the generic message */
          }
          reject(new AgentCloneError(code, status, message));
        });
      },
    );
    req.on("error", (err) => reject(new AgentCloneError("UNAVAILABLE", 0, `clone request to ${url.host} failed: ${err.message}`)));
    req.end(body);
  });
}

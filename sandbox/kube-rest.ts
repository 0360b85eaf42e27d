// Minimal REST access to the API server for the sandbox node: JSON requests with any
// content type (merge patch for Pod status, bindings), using the kubeconfig's TLS.
import https from "node:https";
import type * as k8s from "@kubernetes/client-node";

export class KubeRestError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
  }
}

export interface KubeRest {
  request<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T>;
}

export function makeKubeRest(kc: k8s.KubeConfig): KubeRest {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const base = new URL(cluster.server);
  return {
    async request<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const opts: https.RequestOptions = {
        method, hostname: base.hostname, port: base.port, path,
        headers: {
          Accept: "application/json",
          ...(payload !== undefined ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) } : {}),
        },
        timeout: 15_000,
      };
      await kc.applyToHTTPSOptions(opts);
      return new Promise<T>((resolve, reject) => {
        const req = https.request(opts, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const code = res.statusCode ?? 0;
            if (code >= 200 && code < 300) {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } else {
              let msg = text;
              try { msg = (JSON.parse(text) as { message?: string }).message ?? text; } catch { /* not JSON */ }
              reject(new KubeRestError(code, `${method} ${path}: ${code} ${msg}`));
            }
          });
        });
        req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timeout`)));
        req.on("error", reject);
        req.end(payload);
      });
    },
  };
}

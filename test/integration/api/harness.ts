// A real kube-apiserver (+ etcd) with the moco-ts CRDs installed and the admission
// webhooks registered against a webhook server started in this process, whose
// dependencies read from that same API server (src/controller/webhooks/k8s-deps.ts, over a
// KubeClient as in moco-controller).
// One harness per test file: start it in before(), stop it in after().
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../../env/kube.ts";
import { ensureCa, ensureCert } from "../../env/pki.ts";
import { REPO_ROOT } from "../../../scripts/gen-crds.ts";
import {
  buildWebhookConfigurations,
  startWebhookServer,
  type WebhookLogger,
  type WebhookServer,
} from "../../../src/controller/webhooks/index.ts";
import { webhookDependencies } from "../../../src/controller/webhooks/k8s-deps.ts";
import { KubeClient } from "../../../src/k8s/client.ts";
import { BACKUPPOLICY_PLURAL, GROUP, MYSQLCLUSTER_PLURAL, VERSION } from "../../../src/api/v1beta2/index.ts";
import { eventually } from "../../env/eventually.ts";
export { eventually };

export type Json = Record<string, unknown>;

/** What the webhook server logged (every admission review and every failure). */
export interface WebhookLog {
  reviews: { path: string; operation: string; allowed: boolean; code: number | undefined }[];
  errors: { msg: string; obj: object }[];
}

export interface ApiHarness {
  cp: ControlPlane;
  kc: k8s.KubeConfig;
  webhook: WebhookServer;
  /** PEM of the CA that signed the webhook serving certificate. */
  webhookCa: string;
  log: WebhookLog;
  custom: k8s.CustomObjectsApi;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  storage: k8s.StorageV1Api;
  /** A raw request to the API server as the admin user (JSON in, JSON out). */
  request(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<RawResponse>;
  stop(): Promise<void>;
}

export interface RawResponse {
  status: number;
  body: Json;
  /** Warning headers (admission warnings arrive as `299 - "<text>"`). */
  warnings: string[];
}

export const MYSQLCLUSTERS = { group: GROUP, version: VERSION, plural: MYSQLCLUSTER_PLURAL } as const;
export const BACKUPPOLICIES = { group: GROUP, version: VERSION, plural: BACKUPPOLICY_PLURAL } as const;

export { sleep } from "../../env/procs.ts";


/** The Status object of a failed client-node call (or of a raw response). */
export interface ApiError {
  code: number;
  message: string;
  reason?: string;
  causes: { field?: string; message?: string; reason?: string }[];
}

/** Normalises a client-node ApiException into the API server's Status. */
export function apiError(e: unknown): ApiError {
  if (e instanceof k8s.ApiException) {
    let body: unknown = e.body;
    if (typeof body === "string") {
      try {
        body = JSON.parse(body);
      } catch {
        body = { message: body };
      }
    }
    return statusOf(e.code, (body ?? {}) as Json);
  }
  throw e;
}

export function statusOf(code: number, body: Json): ApiError {
  const details = body["details"] as { causes?: ApiError["causes"] } | undefined;
  const out: ApiError = {
    code: typeof body["code"] === "number" ? body["code"] : code,
    message: typeof body["message"] === "string" ? body["message"] : JSON.stringify(body),
    causes: details?.causes ?? [],
  };
  if (typeof body["reason"] === "string") out.reason = body["reason"];
  return out;
}

/** Runs `fn` and returns the API error it must fail with. */
export async function rejection(fn: () => Promise<unknown>): Promise<ApiError> {
  try {
    await fn();
  } catch (e) {
    return apiError(e);
  }
  throw new Error("the API server accepted the request");
}

async function apply(cp: ControlPlane, obj: unknown): Promise<void> {
  await cp.kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], JSON.stringify(obj));
}

/** A MySQLCluster that the validating webhook rejects but the CRD schema accepts. */
function probeCluster(name: string): Json {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "MySQLCluster",
    metadata: { name, namespace: "default" },
    spec: {
      replicas: 2,
      podTemplate: { spec: { containers: [{ name: "mysqld", image: "mysql" }] } },
      volumeClaimTemplates: [{ metadata: { name: "mysql-data" }, spec: { resources: { requests: { storage: "1Gi" } } } }],
    },
  };
}

export async function startApiHarness(): Promise<ApiHarness> {
  const cp = await startControlPlane({ controllerManager: false });
  let webhook: WebhookServer | undefined;
  let agent: https.Agent | undefined;
  const stopAll = async () => {
    agent?.destroy();
    await webhook?.close().catch(() => undefined);
    await cp.stop();
  };
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfig);

    // Serving certificate of the webhook server, from a CA of its own.
    const pki = path.join(cp.dir, "webhook-pki");
    const ca = ensureCa(pki, "moco-ts-webhook-ca");
    const cert = ensureCert(pki, "webhook", ca, { cn: "127.0.0.1", sans: ["127.0.0.1"], usage: "server" });
    const webhookCa = fs.readFileSync(ca.cert, "utf8");

    const log: WebhookLog = { reviews: [], errors: [] };
    const logger: WebhookLogger = {
      info(obj, msg) {
        if (msg !== "admission review") return;
        const o = obj as { path: string; operation: string; allowed: boolean; code?: number };
        log.reviews.push({ path: o.path, operation: o.operation, allowed: o.allowed, code: o.code });
      },
      error(obj, msg) {
        log.errors.push({ msg, obj });
      },
    };
    webhook = await startWebhookServer({
      certFile: cert.cert,
      keyFile: cert.key,
      host: "127.0.0.1",
      port: 0,
      dependencies: webhookDependencies(new KubeClient(kc, { qps: 0 })),
      logger,
    });

    // CRDs, as shipped.
    await cp.kubectl(["apply", "--server-side", "-f", path.join(REPO_ROOT, "deploy", "crds")]);
    // (kubectl wait fails at once while a new CRD has no status.conditions yet.)
    await eventually("the CRDs to be Established", () =>
      cp
        .kubectl([
          "wait",
          "--for=condition=Established",
          "crd/mysqlclusters.moco.cybozu.com",
          "crd/backuppolicies.moco.cybozu.com",
          "--timeout=60s",
        ])
        .then(() => true),
    );
    // Webhook configurations pointing at this process.
    const { mutating, validating } = buildWebhookConfigurations({
      target: { url: webhook.url },
      caBundle: Buffer.from(webhookCa).toString("base64"),
    });
    await apply(cp, mutating);
    await apply(cp, validating);

    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    // The API server picks up new webhook configurations asynchronously: wait until
    // the validating webhook rejects and the mutating webhook defaults.
    await eventually("the admission webhooks to be called", async () => {
      const denied = await custom
        .createNamespacedCustomObject({ ...MYSQLCLUSTERS, namespace: "default", body: probeCluster("probe-invalid"), dryRun: "All" })
        .then(() => false, (e: unknown) => /spec\.replicas/.test(apiError(e).message));
      if (!denied) return undefined;
      const ok = probeCluster("probe-valid");
      (ok["spec"] as Json)["replicas"] = 1;
      const created = (await custom.createNamespacedCustomObject({
        ...MYSQLCLUSTERS,
        namespace: "default",
        body: ok,
        dryRun: "All",
      })) as { metadata?: { finalizers?: string[] } };
      return created.metadata?.finalizers?.includes("moco.cybozu.com/mysqlcluster") ? true : undefined;
    });

    const httpsAgent = new https.Agent({
      ca: fs.readFileSync(cp.ca.cert),
      cert: fs.readFileSync(cp.adminCert.cert),
      key: fs.readFileSync(cp.adminCert.key),
      keepAlive: true,
      maxSockets: 16,
    });
    agent = httpsAgent;
    const request = (method: string, urlPath: string, body?: unknown, contentType = "application/json") =>
      new Promise<RawResponse>((resolve, reject) => {
        const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
        const req = https.request(
          `${cp.server}${urlPath}`,
          {
            method,
            agent: httpsAgent,
            headers: {
              accept: "application/json",
              ...(data === undefined ? {} : { "content-type": contentType, "content-length": Buffer.byteLength(data) }),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let parsed: Json;
              try {
                parsed = text === "" ? {} : (JSON.parse(text) as Json);
              } catch {
                parsed = { message: text };
              }
              const w = res.headers["warning"];
              const warnings = w === undefined ? [] : Array.isArray(w) ? w : [w];
              resolve({ status: res.statusCode ?? 0, body: parsed, warnings });
            });
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(data);
      });

    return {
      cp,
      kc,
      webhook,
      webhookCa,
      log,
      custom,
      core: kc.makeApiClient(k8s.CoreV1Api),
      apps: kc.makeApiClient(k8s.AppsV1Api),
      storage: kc.makeApiClient(k8s.StorageV1Api),
      request,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** GETs /healthz of the webhook server (trusting its CA). */
export function webhookHealthz(h: ApiHarness): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(`${h.webhook.url}/healthz`, { ca: h.webhookCa, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => {
      req.destroy();
      resolve(0);
    });
  });
}

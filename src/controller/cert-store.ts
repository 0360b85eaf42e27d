// The controller's CA Secret and the certificates issued from it (certs.ts has the X.509
// part). The CA Secret `<sys>/moco-grpc-ca` is created once (AlreadyExists → read it:
// several replicas may race) and never updated.
import fs from "node:fs";
import path from "node:path";
import type { V1Secret } from "@kubernetes/client-node";
import type { KubeClient } from "../k8s/client.ts";
import { isAlreadyExists, isNotFound } from "../k8s/errors.ts";
import { resources } from "../k8s/resource.ts";
import {
  CONTROLLER_CLIENT_CN,
  LEAF_RENEW_BEFORE_DAYS,
  b64,
  createCertificateAuthority,
  isLeafCurrent,
  issueCertificate,
  loadCertificateAuthority,
  unb64,
  webhookDnsNames,
  type CertificateAuthority,
  type KeyPairPem,
} from "./certs.ts";

export const CA_SECRET_NAME = "moco-grpc-ca";
export const WEBHOOK_CERT_SECRET_NAME = "moco-controller-cert";
export const DEFAULT_WEBHOOK_SERVICE_NAME = "moco-webhook-service";

const CA_LABELS = { "app.kubernetes.io/name": "moco", "app.kubernetes.io/component": "moco-controller" };

/** TLS material of the controller's client certificate (PEM texts). */
export interface ClientTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export class CertificateStore {
  readonly #client: KubeClient;
  readonly #namespace: string;
  #ca: Promise<CertificateAuthority> | undefined;
  #clientTls: { tls: ClientTls; expires: number } | undefined;

  constructor(client: KubeClient, controllerNamespace: string) {
    this.#client = client;
    this.#namespace = controllerNamespace;
  }

  /** The CA, loaded from (or created into) its Secret once per process. */
  ca(): Promise<CertificateAuthority> {
    if (this.#ca === undefined) {
      const p = this.#loadOrCreateCa();
      this.#ca = p;
      p.catch(() => { if (this.#ca === p) this.#ca = undefined; });
    }
    return this.#ca;
  }

  async #loadOrCreateCa(): Promise<CertificateAuthority> {
    const read = async (): Promise<CertificateAuthority | undefined> => {
      try {
        const s = await this.#client.get<V1Secret>(resources.secrets, CA_SECRET_NAME, this.#namespace);
        const cert = unb64(s.data?.["tls.crt"] ?? s.data?.["ca.crt"]);
        const key = unb64(s.data?.["tls.key"]);
        if (cert === "" || key === "") throw new Error(`Secret ${this.#namespace}/${CA_SECRET_NAME} lacks tls.crt or tls.key`);
        return await loadCertificateAuthority(cert, key);
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    };
    const existing = await read();
    if (existing !== undefined) return existing;
    const ca = await createCertificateAuthority();
    const secret: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: CA_SECRET_NAME, namespace: this.#namespace, labels: CA_LABELS },
      type: "kubernetes.io/tls",
      data: { "ca.crt": b64(ca.cert), "tls.crt": b64(ca.cert), "tls.key": b64(ca.key) },
    };
    try {
      await this.#client.create(resources.secrets, secret);
      return ca;
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      const raced = await read();
      if (raced === undefined) throw new Error(`Secret ${this.#namespace}/${CA_SECRET_NAME} vanished while being created`);
      return raced;
    }
  }

  /** The controller's client certificate (CN moco-controller), re-issued before it expires. */
  async clientTls(now: Date = new Date()): Promise<ClientTls> {
    const cached = this.#clientTls;
    if (cached !== undefined && cached.expires - now.getTime() > LEAF_RENEW_BEFORE_DAYS * 86_400_000) return cached.tls;
    const ca = await this.ca();
    const leaf = await issueCertificate(ca, { commonName: CONTROLLER_CLIENT_CN, usage: "client" }, now);
    const tls = { ca: ca.cert, cert: leaf.cert, key: leaf.key };
    this.#clientTls = { tls, expires: now.getTime() + 365 * 86_400_000 };
    return tls;
  }

  /**
   * The data of the agent Secret `moco-<name>-grpc` when `existing` must be (re)written
   * (missing, other CA, wrong names, near expiry); undefined when it is still good.
   */
  async agentSecretData(dnsNames: readonly string[], existing: Pick<V1Secret, "data"> | undefined): Promise<Record<string, string> | undefined> {
    const ca = await this.ca();
    const data = existing?.data ?? {};
    if (unb64(data["ca.crt"]) === ca.cert && unb64(data["tls.key"]) !== "" && (await isLeafCurrent(ca, unb64(data["tls.crt"]), dnsNames))) {
      return undefined;
    }
    const leaf = await issueCertificate(ca, { commonName: dnsNames[0] ?? "moco-agent", dnsNames, usage: "server" });
    return { "ca.crt": b64(ca.cert), "tls.crt": b64(leaf.cert), "tls.key": b64(leaf.key) };
  }

  /**
   * The webhook serving certificate in Secret `<sys>/moco-controller-cert` (ca.crt,
   * tls.crt, tls.key), created once and re-issued near expiry or when the names change.
   */
  async ensureWebhookCertificate(serviceName = DEFAULT_WEBHOOK_SERVICE_NAME, extraDnsNames: readonly string[] = [], extraIps: readonly string[] = []): Promise<KeyPairPem & { ca: string }> {
    const ca = await this.ca();
    const dnsNames = [...webhookDnsNames(serviceName, this.#namespace), ...extraDnsNames];
    let existing: V1Secret | undefined;
    try {
      existing = await this.#client.get<V1Secret>(resources.secrets, WEBHOOK_CERT_SECRET_NAME, this.#namespace);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const d = existing?.data ?? {};
    if (existing !== undefined && unb64(d["ca.crt"]) === ca.cert && unb64(d["tls.key"]) !== "" && (await isLeafCurrent(ca, unb64(d["tls.crt"]), dnsNames))) {
      return { ca: ca.cert, cert: unb64(d["tls.crt"]), key: unb64(d["tls.key"]) };
    }
    const leaf = await issueCertificate(ca, { commonName: dnsNames[0] ?? serviceName, dnsNames, ipAddresses: extraIps, usage: "server" });
    const data = { "ca.crt": b64(ca.cert), "tls.crt": b64(leaf.cert), "tls.key": b64(leaf.key) };
    if (existing === undefined) {
      try {
        await this.#client.create(resources.secrets, {
          apiVersion: "v1", kind: "Secret",
          metadata: { name: WEBHOOK_CERT_SECRET_NAME, namespace: this.#namespace, labels: CA_LABELS },
          type: "kubernetes.io/tls", data,
        } as V1Secret);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        // Another replica won the race: use its certificate.
        const s = await this.#client.get<V1Secret>(resources.secrets, WEBHOOK_CERT_SECRET_NAME, this.#namespace);
        return { ca: ca.cert, cert: unb64(s.data?.["tls.crt"]), key: unb64(s.data?.["tls.key"]) };
      }
    } else {
      await this.#client.update(resources.secrets, { ...existing, data } as V1Secret);
    }
    return { ca: ca.cert, cert: leaf.cert, key: leaf.key };
  }
}

/** Writes tls.crt/tls.key (and ca.crt) into `dir` (created when missing). */
export function writeCertFiles(dir: string, pair: KeyPairPem & { ca?: string }): { certFile: string; keyFile: string } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = path.join(dir, "tls.crt");
  const keyFile = path.join(dir, "tls.key");
  fs.writeFileSync(certFile, pair.cert, { mode: 0o600 });
  fs.writeFileSync(keyFile, pair.key, { mode: 0o600 });
  if (pair.ca !== undefined) fs.writeFileSync(path.join(dir, "ca.crt"), pair.ca, { mode: 0o600 });
  return { certFile, keyFile };
}

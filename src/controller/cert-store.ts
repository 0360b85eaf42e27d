// The controller's CA Secret and the certificates issued from it (certs.ts has the X.509
// part, cert-renewal.ts the timing). The CA Secret `<sys>/moco-grpc-ca` is created once
// (AlreadyExists → read it: several replicas may race) and never written by the
// controller afterwards: tls.crt/tls.key sign, ca.crt is the trusted bundle (the signing
// CA, plus the other CA during a rollover; docs/certificates.md). refreshCa() re-reads it.
import type { V1Secret } from "@kubernetes/client-node";
import type { KubeClient } from "../k8s/client.ts";
import { isAlreadyExists, isConflict, isNotFound } from "../k8s/errors.ts";
import { resources } from "../k8s/resource.ts";
import { DEFAULT_CERT_LIFETIMES, type CertLifetimes } from "./cert-renewal.ts";
import {
  CONTROLLER_CLIENT_CN,
  b64,
  createCertificateAuthority,
  isLeafCurrent,
  issueCertificate,
  loadCertificateAuthority,
  unb64,
  webhookDnsNames,
  type CertificateAuthority,
  type KeyPairPem,
  type LeafRequest,
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
  readonly lifetimes: CertLifetimes;
  #ca: Promise<CertificateAuthority> | undefined;
  #clientTls: { tls: ClientTls; expires: number; signer: string } | undefined;

  constructor(client: KubeClient, controllerNamespace: string, lifetimes: CertLifetimes = DEFAULT_CERT_LIFETIMES) {
    this.#client = client;
    this.#namespace = controllerNamespace;
    this.lifetimes = lifetimes;
  }

  /**
   * Re-reads the CA Secret (a CA rollover edits it); returns whether the signing CA or the
   * trusted bundle changed. A failed read keeps the CA in use.
   */
  async refreshCa(): Promise<boolean> {
    const before = this.#ca === undefined ? undefined : await this.#ca.catch(() => undefined);
    const p = this.#loadOrCreateCa();
    const after = await p;
    this.#ca = p;
    return before === undefined || before.cert !== after.cert || before.bundle !== after.bundle;
  }

  /** The CA, loaded from (or created into) its Secret once per process (refreshCa() re-reads it). */
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
        const bundle = unb64(s.data?.["ca.crt"]);
        return await loadCertificateAuthority(cert, key, bundle === "" ? cert : bundle);
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
      data: { "ca.crt": b64(ca.bundle), "tls.crt": b64(ca.cert), "tls.key": b64(ca.key) },
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

  /**
   * The controller's client certificate (CN moco-controller), re-issued before it expires
   * or when the signing CA changed; `ca` is the trusted bundle.
   */
  async clientTls(now: Date = new Date()): Promise<ClientTls> {
    const ca = await this.ca();
    const cached = this.#clientTls;
    if (cached !== undefined && cached.signer === ca.cert && cached.tls.ca === ca.bundle && cached.expires - now.getTime() > this.lifetimes.renewBeforeMs) return cached.tls;
    const leaf = await issueCertificate(ca, { commonName: CONTROLLER_CLIENT_CN, usage: "client", validityMs: this.lifetimes.validityMs }, now);
    const tls = { ca: ca.bundle, cert: leaf.cert, key: leaf.key };
    this.#clientTls = { tls, expires: now.getTime() + this.lifetimes.validityMs, signer: ca.cert };
    return tls;
  }

  /**
   * The data (ca.crt, tls.crt, tls.key) of a Secret holding a leaf certificate from the
   * controller CA when `existing` must be (re)written: missing, signed by another CA, a
   * different trusted bundle, other DNS names, or due for renewal; undefined when it is
   * still good. The reusable entry point for every Secret-held leaf.
   */
  async leafSecretData(req: Omit<LeafRequest, "validityMs">, existing: Pick<V1Secret, "data"> | undefined, now: Date = new Date()): Promise<Record<string, string> | undefined> {
    if (await this.isLeafSecretCurrent(req.dnsNames, existing, now)) return undefined;
    const ca = await this.ca();
    const leaf = await issueCertificate(ca, { ...req, validityMs: this.lifetimes.validityMs }, now);
    return { "ca.crt": b64(ca.bundle), "tls.crt": b64(leaf.cert), "tls.key": b64(leaf.key) };
  }

  /** Whether leafSecretData would leave `existing` as it is (no key generated). */
  async isLeafSecretCurrent(dnsNames: readonly string[] | undefined, existing: Pick<V1Secret, "data"> | undefined, now: Date = new Date()): Promise<boolean> {
    const ca = await this.ca();
    const data = existing?.data ?? {};
    return unb64(data["ca.crt"]) === ca.bundle && unb64(data["tls.key"]) !== "" && (await isLeafCurrent(ca, unb64(data["tls.crt"]), dnsNames, now, this.lifetimes.renewBeforeMs));
  }

  /** leafSecretData for the agent Secret `moco-<name>-grpc` (server certificate for `dnsNames`). */
  agentSecretData(dnsNames: readonly string[], existing: Pick<V1Secret, "data"> | undefined): Promise<Record<string, string> | undefined> {
    return this.leafSecretData({ commonName: dnsNames[0] ?? "moco-agent", dnsNames, usage: "server" }, existing);
  }

  /**
   * The webhook serving certificate in Secret `<sys>/moco-controller-cert` (ca.crt,
   * tls.crt, tls.key), created once and re-issued near expiry or when the names change.
   */
  async ensureWebhookCertificate(serviceName = DEFAULT_WEBHOOK_SERVICE_NAME, extraDnsNames: readonly string[] = [], extraIps: readonly string[] = []): Promise<KeyPairPem & { ca: string }> {
    const dnsNames = [...webhookDnsNames(serviceName, this.#namespace), ...extraDnsNames];
    const req = { commonName: dnsNames[0] ?? serviceName, dnsNames, ipAddresses: extraIps, usage: "server" } as const;
    const read = async (): Promise<V1Secret | undefined> => {
      try {
        return await this.#client.get<V1Secret>(resources.secrets, WEBHOOK_CERT_SECRET_NAME, this.#namespace);
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    };
    const pairOf = (d: Record<string, string> | undefined) => ({ ca: unb64(d?.["ca.crt"]), cert: unb64(d?.["tls.crt"]), key: unb64(d?.["tls.key"]) });
    // Several replicas may renew at once: the loser of the create or update race takes
    // the winner's certificate (same CA) on the next round.
    for (let attempt = 0; ; attempt++) {
      const existing = await read();
      const data = await this.leafSecretData(req, existing);
      if (data === undefined) return pairOf(existing?.data);
      try {
        if (existing === undefined) {
          await this.#client.create(resources.secrets, {
            apiVersion: "v1", kind: "Secret",
            metadata: { name: WEBHOOK_CERT_SECRET_NAME, namespace: this.#namespace, labels: CA_LABELS },
            type: "kubernetes.io/tls", data,
          } as V1Secret);
        } else {
          await this.#client.update(resources.secrets, { ...existing, data } as V1Secret);
        }
        return pairOf(data);
      } catch (e) {
        if (attempt >= 3 || !(isAlreadyExists(e) || isConflict(e))) throw e;
      }
    }
  }
}

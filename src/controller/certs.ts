// Certificates without cert-manager (moco-ts decision, docs/controller.md "Certificates").
//
// The controller keeps its own CA (ECDSA P-256) in Secret `<sys>/moco-grpc-ca` (keys
// ca.crt, tls.crt, tls.key; created once, never updated) and issues from it:
//  - per cluster, the agent's server certificate (DNS SAN `*.moco-<name>.<ns>.svc`, server
//    auth) straight into Secret `<ns>/moco-<name>-grpc` (ca.crt, tls.crt, tls.key);
//  - its own client certificate (CN moco-controller, client auth), kept in memory, for
//    calling the agents' clone API;
//  - the webhook serving certificate for `moco-webhook-service.<sys>.svc`.
// Pure functions only: the Kubernetes reads/writes are in cert-store.ts; renewal timing
// and reloading are in cert-renewal.ts.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** PEM-encoded certificate and PKCS#8 key. */
export interface KeyPairPem {
  readonly cert: string;
  readonly key: string;
}

/**
 * The CA: its certificate/key in PEM, and the key imported for signing. `bundle` is what
 * peers trust (ca.crt): the signing certificate, and during a CA rollover also the other
 * CA (docs/certificates.md).
 */
export interface CertificateAuthority extends KeyPairPem {
  readonly signingKey: CryptoKey;
  readonly certificate: x509.X509Certificate;
  readonly bundle: string;
}

export const CA_COMMON_NAME = "MOCO gRPC CA";
export const CONTROLLER_CLIENT_CN = "moco-controller";
/** Validity of the CA (10 years, like the chart's 87600h). */
export const CA_VALIDITY_DAYS = 3650;
/** Validity of leaf certificates. */
export const LEAF_VALIDITY_DAYS = 365;
/** A leaf certificate is re-issued when it expires within this many days. */
export const LEAF_RENEW_BEFORE_DAYS = 30;

function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] ?? 0) & 0x7f; // positive
  return Buffer.from(b).toString("hex");
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** A new self-signed CA. */
export async function createCertificateAuthority(now: Date = new Date()): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${CA_COMMON_NAME}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const cert = certificate.toString("pem");
  // The bundle normalised as loadCertificateAuthority normalises it, so a CA read back from its
  // Secret compares equal to the one that created it (no agent Secret re-issued per restart).
  return { cert, key: await exportKey(keys.privateKey), signingKey: keys.privateKey, certificate, bundle: bundleWith(cert, cert) };
}

/** The certificates of a PEM bundle, normalised (one PEM block each, "\n"-terminated). */
export function splitPemBundle(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => `${m[0].replace(/\r\n/g, "\n")}\n`);
}

/** `bundle` with `cert` appended when it is not in it already. */
export function bundleWith(bundle: string, cert: string): string {
  const certs = splitPemBundle(bundle);
  const want = splitPemBundle(cert)[0];
  if (want === undefined) return certs.join("");
  return (certs.includes(want) ? certs : [...certs, want]).join("");
}

/**
 * Loads a CA from PEM (as stored in the CA Secret: the signing pair, and `bundlePem` the
 * trusted CAs; the signing certificate is added to it when missing). Throws when the key
 * cannot be imported.
 */
export async function loadCertificateAuthority(certPem: string, keyPem: string, bundlePem: string = certPem): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(certPem);
  const der = x509.PemConverter.decodeFirst(keyPem);
  const signingKey = await webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  return { cert: certPem, key: keyPem, signingKey, certificate, bundle: bundleWith(bundlePem, certPem) };
}

export interface LeafRequest {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly usage: "server" | "client" | "both";
  /** Lifetime in milliseconds (default LEAF_VALIDITY_DAYS). */
  readonly validityMs?: number;
}

/** A leaf certificate signed by `ca`. */
export async function issueCertificate(ca: CertificateAuthority, req: LeafRequest, now: Date = new Date()): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const ekus: string[] = [];
  if (req.usage !== "client") ekus.push(x509.ExtendedKeyUsage.serverAuth);
  if (req.usage !== "server") ekus.push(x509.ExtendedKeyUsage.clientAuth);
  const sans = [
    ...(req.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(req.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(ekus, false),
    await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${req.commonName}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (req.validityMs ?? LEAF_VALIDITY_DAYS * DAY_MS)),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    extensions,
  });
  return { cert: cert.toString("pem"), key: await exportKey(keys.privateKey) };
}

/** The agent server certificate's DNS name for cluster `name` in `namespace`. */
export function agentDnsNames(name: string, namespace: string): string[] {
  return [`*.moco-${name}.${namespace}.svc`];
}

/** The webhook Service's DNS names. */
export function webhookDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

/**
 * Whether a stored leaf certificate is still good: parses, signed by `ca` (issuer and
 * signature), carries exactly `dnsNames` (when given), and does not expire within
 * `renewBeforeMs` (default LEAF_RENEW_BEFORE_DAYS).
 */
export async function isLeafCurrent(ca: CertificateAuthority, certPem: string | undefined, dnsNames: readonly string[] | undefined, now: Date = new Date(), renewBeforeMs: number = LEAF_RENEW_BEFORE_DAYS * DAY_MS): Promise<boolean> {
  if (certPem === undefined || certPem === "") return false;
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch {
    return false;
  }
  if (cert.issuer !== ca.certificate.subject) return false;
  if (cert.notAfter.getTime() - now.getTime() < renewBeforeMs) return false;
  if (cert.notBefore.getTime() > now.getTime() + 60_000) return false;
  try {
    if (!(await cert.verify({ publicKey: ca.certificate.publicKey, signatureOnly: true }))) return false;
  } catch {
    return false;
  }
  if (dnsNames !== undefined) {
    const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const have = (ext?.names.items ?? []).filter((n) => n.type === "dns").map((n) => n.value).sort();
    const want = [...dnsNames].sort();
    if (have.length !== want.length || have.some((v, i) => v !== want[i])) return false;
  }
  return true;
}

/** Base64 of a UTF-8 string (Secret data). */
export function b64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** UTF-8 of base64 Secret data ("" when absent). */
export function unb64(data: string | undefined): string {
  return data === undefined ? "" : Buffer.from(data, "base64").toString("utf8");
}

// A tiny PKI made with the openssl command: one CA and the certificates the test
// control plane, the webhooks and the sandbox need. Keys never leave the directory.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface CertPaths {
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** Creates (once) a CA in `dir` and returns its paths. */
export function ensureCa(dir: string, cn = "moco-ts-test-ca"): CertPaths {
  fs.mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, "ca.crt");
  const key = path.join(dir, "ca.key");
  if (!fs.existsSync(cert) || !fs.existsSync(key)) {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
      "-days", "3650", "-subj", `/CN=${cn}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  }
  return { cert, key };
}

/**
 * Issues (once) a certificate signed by `ca`. `sans` entries are IPs or DNS names;
 * `org` sets O= (Kubernetes groups). `usage` picks serverAuth or clientAuth.
 */
export function ensureCert(dir: string, name: string, ca: CertPaths, opts: {
  cn: string; org?: string; sans?: string[]; usage: "server" | "client" | "both";
}): CertPaths {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  if (fs.existsSync(cert) && fs.existsSync(key)) return { cert, key };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  const subj = `/CN=${opts.cn}${opts.org ? `/O=${opts.org}` : ""}`;
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subj], dir);
  const eku = opts.usage === "server" ? "serverAuth" : opts.usage === "client" ? "clientAuth" : "serverAuth,clientAuth";
  const lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", `extendedKeyUsage=${eku}`];
  if (opts.sans?.length) {
    lines.push("subjectAltName=" + opts.sans.map((s) => (/^[0-9.]+$/.test(s) || s.includes(":") ? `IP:${s}` : `DNS:${s}`)).join(","));
  }
  fs.writeFileSync(ext, lines.join("\n") + "\n");
  openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", cert,
    "-days", "3650", "-extfile", ext], dir);
  fs.rmSync(csr, { force: true });
  fs.rmSync(ext, { force: true });
  return { cert, key };
}

/** An RSA key pair for service-account token signing. */
export function ensureServiceAccountKey(dir: string): { key: string; pub: string } {
  const key = path.join(dir, "sa.key");
  const pub = path.join(dir, "sa.pub");
  if (!fs.existsSync(key) || !fs.existsSync(pub)) {
    openssl(["genrsa", "-out", key, "2048"], dir);
    openssl(["rsa", "-in", key, "-pubout", "-out", pub], dir);
  }
  return { key, pub };
}

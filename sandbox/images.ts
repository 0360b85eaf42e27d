// Which root filesystem and default entrypoint stand for a container image on the
// sandbox node. There is no container runtime here, so an image is mapped to a root
// filesystem that really contains the program:
//   MySQL images (MOCO's ghcr.io/cybozu-go/moco/mysql, the official mysql, …) → the
//     Debian rootfs with MySQL 9.7 (.cache/rootfs/mysql);
//   the moco-ts image → a view of the host (/usr, /bin, /lib, /etc, this repository);
//     its entry points (moco-agent, moco-controller, moco-backup, kubectl-moco) are
//     wrappers in sandbox/bin that run the TypeScript sources on Node 24; `mysql` and
//     `mysqlbinlog` (which moco-backup runs) are the wrappers in sandbox/bin/mysql-tools
//     that run the MySQL rootfs's client binaries without chroot (only on this image's PATH);
//   mysqld_exporter images → the host view running Debian's prometheus-mysqld-exporter;
//   fluent-bit images (the slow-log sidecar) → an emulation that prints the slow log
//     to stdout, as MOCO's default fluent-bit configuration does;
//   the test image `moco-ts.sandbox/host` → the host view (sh, coreutils).
// Any other image makes the container fail with reason ImageNotSupported.
import path from "node:path";

export const repoRoot = path.resolve(import.meta.dirname, "..");
export const mysqlRootfsDir = path.join(repoRoot, ".cache", "rootfs", "mysql");
export const sandboxBinDir = path.join(repoRoot, "sandbox", "bin");
/** `mysql`/`mysqlbinlog` of the MySQL rootfs, for the moco-ts image only (the real image has them). */
export const mysqlToolsDir = path.join(sandboxBinDir, "mysql-tools");

export interface ImageMapping {
  /** "mysql": chroot into the MySQL rootfs; "host": a per-container view of the host. */
  root: "mysql" | "host";
  /** ENTRYPOINT when the container gives no command. */
  entrypoint: string[];
  /** Default PATH inside. */
  path: string;
}

const STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function mapImage(image: string): ImageMapping | undefined {
  const name = image.split("@")[0]!.replace(/:[^/]*$/, "");
  const last = name.split("/").pop() ?? "";
  if (last === "mysql" || last === "mysql-server" || last === "percona-server") {
    return { root: "mysql", entrypoint: ["mysqld"], path: STD_PATH };
  }
  if (last === "moco-ts" || name.endsWith("moco-ts/moco-ts")) {
    return { root: "host", entrypoint: [], path: `${sandboxBinDir}:${mysqlToolsDir}:${path.join(repoRoot, "node_modules", ".bin")}:${STD_PATH}` };
  }
  if (last === "mysqld_exporter" || last === "mysqld-exporter") {
    return { root: "host", entrypoint: ["/usr/bin/prometheus-mysqld-exporter"], path: STD_PATH };
  }
  if (last === "fluent-bit") {
    // Emulated: prints the slow log to stdout like MOCO's default configuration.
    return { root: "host", entrypoint: [path.join(sandboxBinDir, "sandbox-fluent-bit")], path: STD_PATH };
  }
  if (name === "moco-ts.sandbox/host") {
    return { root: "host", entrypoint: ["/bin/sh"], path: `${sandboxBinDir}:${STD_PATH}` };
  }
  return undefined;
}

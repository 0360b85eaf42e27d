// Network namespaces of the project's own, kept as files (not under /run/netns, so `ip netns`
// on the host neither lists nor owns them), and TCP forwarding from the host's loopback into
// one. A namespace file must sit on a private mount: its directory is bind-mounted onto itself
// and made private, and both mounts go when the namespace is deleted.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { spawnManaged, waitUntil, type ManagedProcess } from "./procs.ts";

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr?.trim() || err.message}`);
  }
}

/** `p` with symbolic links resolved (mountinfo names real paths), also when `p` does not exist yet. */
function realPath(p: string): string {
  if (fs.existsSync(p)) return fs.realpathSync(p);
  const parent = path.dirname(p);
  return parent === p ? p : path.join(realPath(parent), path.basename(p));
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  dir = realPath(dir);
  const lines = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  const points = lines.map((l) => l.split(" ")[4] ?? "").filter((p) => p === dir || p.startsWith(`${dir}/`))
    .map((p) => p.replace(/\\040/g, " "));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir`, deepest first (lazily when busy). */
export function unmountUnder(dir: string): void {
  for (const p of mountsUnder(dir)) {
    try { run("umount", [p]); } catch { run("umount", ["-l", p]); }
  }
}

/** Creates (or finds) the network namespace file `<dir>/net`, with loopback up; returns its path. */
export function createNetns(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  dir = realPath(dir);
  const file = path.join(dir, "net");
  if (mountsUnder(file).includes(file)) return file;
  if (!mountsUnder(dir).includes(dir)) {
    run("mount", ["--bind", dir, dir]);
    run("mount", ["--make-private", dir]);
  }
  fs.writeFileSync(file, "");
  run("unshare", [`--net=${file}`, "true"]);
  inNetns(file, "ip", ["link", "set", "lo", "up"]);
  return file;
}

/** Deletes the namespace made by createNetns (a no-op when there is none). */
export function deleteNetns(dir: string): void {
  unmountUnder(dir);
  fs.rmSync(path.join(dir, "net"), { force: true });
}

/** Runs a command inside the namespace; returns its stdout. */
export function inNetns(file: string, cmd: string, args: string[]): string {
  return run("nsenter", [`--net=${file}`, "--", cmd, ...args]);
}

export interface Forward {
  /** The port on the host's 127.0.0.1 that reaches the target. */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Forwards 127.0.0.1:<port> on the host to `host:port` inside the namespace: a relay process
 * in the namespace (test/env/netns-relay.ts) listens on a unix socket, which the host side
 * dials for each connection. Only loopback and the namespace are involved.
 */
export async function forwardIntoNetns(file: string, target: { host: string; port: number }, socketPath: string): Promise<Forward> {
  fs.rmSync(socketPath, { force: true });
  const relay: ManagedProcess = spawnManaged("netns-relay", process.execPath,
    [path.join(import.meta.dirname, "netns-relay.ts"), socketPath, target.host, String(target.port)],
    { netns: file, marker: "netns-relay.ts" });
  await waitUntil(`relay socket ${socketPath}`, async () => fs.existsSync(socketPath), { timeoutMs: 20_000, proc: relay, intervalMs: 100 });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(socketPath);
    sockets.add(client); sockets.add(upstream);
    client.on("close", () => { sockets.delete(client); upstream.destroy(); });
    upstream.on("close", () => { sockets.delete(upstream); client.destroy(); });
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await relay.stop(5_000);
      fs.rmSync(socketPath, { force: true });
    },
  };
}

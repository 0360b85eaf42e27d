// Starts real mysqld instances (MySQL 9.7 from the Debian root filesystem made by
// test/env/mysql-rootfs.sh) for integration tests.
//
// Each instance runs as `unshare -m` + `chroot <rootfs> mysqld`, with its own host
// directory bind-mounted at /mnt/inst inside the chroot (data directory, socket,
// error log, my.cnf), its own loopback address (127.x.y.z) with the standard ports
// 3306 and admin port 33062, like a Pod IP. Processes get PDEATHSIG=SIGKILL, are
// killed on process exit, and stray ones from a crashed run are reaped at the next
// start, so no mysqld outlives a test run.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import mysql from "mysql2/promise";

export const repoRoot = path.resolve(import.meta.dirname, "../..");
export const cacheDir = path.join(repoRoot, ".cache");
export const mysqlRootfs = path.join(cacheDir, "rootfs", "mysql");
const templateDir = path.join(cacheDir, "mysql-template");
const instancesDir = path.join(cacheDir, "tmp", "mysqld");
const registryDir = path.join(cacheDir, "run", "mysqld");
const mountPoint = "/mnt/inst";

export const MYSQL_PORT = 3306;
export const MYSQL_ADMIN_PORT = 33062;

export interface MysqldOptions {
  /** Extra lines for the [mysqld] section (a my.cnf fragment). */
  mycnf?: string;
  /** server_id of instance i is serverIdBase + i. Default 100. */
  serverIdBase?: number;
  /**
   * "template": a data directory initialized with --initialize-insecure plus a
   * `root@'%'` account (password in `rootPassword`). "empty": no data directory;
   * the caller initializes it (e.g. the moco-init code under test).
   */
  init?: "template" | "empty";
}

export interface MysqldInstance {
  readonly index: number;
  /** Loopback address the instance listens on (its "Pod IP"). */
  readonly host: string;
  readonly port: number;
  readonly adminPort: number;
  readonly serverId: number;
  /** Host path of the instance directory (bind-mounted at /mnt/inst in the chroot). */
  readonly dir: string;
  /** Host path of the data directory. */
  readonly dataDir: string;
  /** Host path of the Unix socket. */
  readonly socketPath: string;
  readonly rootPassword: string;
  pid(): number | undefined;
  running(): boolean;
  /** Start mysqld and wait until it accepts root connections. */
  start(timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (crash). */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Delete the data directory (the instance must be stopped). */
  wipeData(): void;
  /** A new connection as root over TCP. */
  connect(opts?: { admin?: boolean }): Promise<mysql.Connection>;
  /** The last lines of the error log. */
  errorLogTail(lines?: number): string;
  /** Wait until mysqld exits on its own (e.g. after CLONE). */
  waitExit(timeoutMs: number): Promise<void>;
}

export interface MysqldSet {
  readonly instances: MysqldInstance[];
  stopAll(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) {
      try { child.kill("SIGKILL"); } catch { /* already gone */ }
    }
  });
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Kills mysqld processes left by test runs whose owner process is gone. */
export function reapStrayMysqld(): number {
  let reaped = 0;
  if (!fs.existsSync(registryDir)) return 0;
  for (const f of fs.readdirSync(registryDir)) {
    const file = path.join(registryDir, f);
    let rec: { pid: number; owner: number; dir: string };
    try { rec = JSON.parse(fs.readFileSync(file, "utf8")); } catch { fs.rmSync(file, { force: true }); continue; }
    if (isAlive(rec.owner)) continue;
    if (isAlive(rec.pid)) {
      let cmd = "";
      try { cmd = fs.readFileSync(`/proc/${rec.pid}/cmdline`, "utf8"); } catch { /* gone */ }
      if (cmd.includes("mysqld")) { process.kill(rec.pid, "SIGKILL"); reaped++; }
    }
    fs.rmSync(rec.dir, { recursive: true, force: true });
    fs.rmSync(file, { force: true });
  }
  return reaped;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function addressFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

let nextThirdOctet = (process.pid % 200) + 20;

/** Picks `count` loopback addresses 127.77.X.(1..count) that are free on ports 3306 and 33062. */
async function allocateAddresses(count: number): Promise<string[]> {
  for (let attempt = 0; attempt < 230; attempt++) {
    const third = nextThirdOctet;
    nextThirdOctet = nextThirdOctet >= 250 ? 20 : nextThirdOctet + 1;
    const hosts = Array.from({ length: count }, (_, i) => `127.77.${third}.${i + 1}`);
    let ok = true;
    for (const h of hosts) {
      if (!(await addressFree(h, MYSQL_PORT)) || !(await addressFree(h, MYSQL_ADMIN_PORT))) { ok = false; break; }
    }
    if (ok) return hosts;
  }
  throw new Error("no free loopback address block for mysqld");
}

function baseMyCnf(host: string, serverId: number, extra: string): string {
  return `[mysqld]
datadir=${mountPoint}/data
socket=${mountPoint}/mysqld.sock
pid_file=${mountPoint}/mysqld.pid
log_error=${mountPoint}/error.log
bind_address=${host}
port=${MYSQL_PORT}
admin_address=${host}
admin_port=${MYSQL_ADMIN_PORT}
mysqlx=OFF
user=root
secure_file_priv=
skip_name_resolve=ON
gtid_mode=ON
enforce_gtid_consistency=ON
server_id=${serverId}
report_host=${host}
report_port=${MYSQL_PORT}
innodb_buffer_pool_size=64M
innodb_log_buffer_size=8M
performance_schema_max_table_instances=400
${extra}
`;
}

function mysqldCommand(dir: string, args: string[]): { cmd: string; argv: string[] } {
  const inner = `mount --bind '${dir}' '${mysqlRootfs}${mountPoint}' && exec chroot '${mysqlRootfs}' /usr/sbin/mysqld ${args.join(" ")}`;
  return {
    cmd: "setpriv",
    argv: ["--pdeathsig", "SIGKILL", "--", "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", inner],
  };
}

function runToCompletion(cmd: string, argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ["ignore", "ignore", "pipe"] });
    live.add(p);
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    p.once("error", reject);
    p.once("exit", (code) => {
      live.delete(p);
      if (code === 0) resolve(0); else reject(new Error(`${cmd} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

let templateReady: Promise<string> | undefined;

/** Initializes (once, cached under .cache/mysql-template) a data directory with a root@'%' account. */
export function ensureMysqlTemplate(): Promise<string> {
  templateReady ??= (async () => {
    const pwFile = path.join(templateDir, "root-password");
    if (fs.existsSync(path.join(templateDir, "data", "mysql.ibd")) && fs.existsSync(pwFile)) {
      return fs.readFileSync(pwFile, "utf8").trim();
    }
    if (!fs.existsSync(path.join(mysqlRootfs, "usr/sbin/mysqld"))) {
      throw new Error(`no MySQL rootfs at ${mysqlRootfs}: run test/env/provision.sh (or test/env/mysql-rootfs.sh)`);
    }
    const work = `${templateDir}.tmp-${process.pid}`;
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    fs.mkdirSync(path.join(mysqlRootfs, mountPoint), { recursive: true });
    const password = randomBytes(16).toString("hex");
    fs.writeFileSync(path.join(work, "init.sql"),
      `CREATE USER 'root'@'%' IDENTIFIED BY '${password}';\nGRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;\n` +
      `GRANT PROXY ON ''@'' TO 'root'@'%' WITH GRANT OPTION;\n`);
    fs.writeFileSync(path.join(work, "my.cnf"), baseMyCnf("127.0.0.1", 1, ""));
    const { cmd, argv } = mysqldCommand(work, [
      `--defaults-file=${mountPoint}/my.cnf`, "--initialize-insecure", `--init-file=${mountPoint}/init.sql`,
    ]);
    await runToCompletion(cmd, argv);
    fs.rmSync(path.join(work, "init.sql"));
    fs.rmSync(path.join(work, "data", "auto.cnf"), { force: true });
    fs.writeFileSync(path.join(work, "root-password"), password + "\n");
    fs.rmSync(templateDir, { recursive: true, force: true });
    fs.renameSync(work, templateDir);
    return password;
  })();
  return templateReady;
}

class Instance implements MysqldInstance {
  readonly port = MYSQL_PORT;
  readonly adminPort = MYSQL_ADMIN_PORT;
  readonly index: number;
  readonly host: string;
  readonly serverId: number;
  readonly dir: string;
  readonly dataDir: string;
  readonly socketPath: string;
  readonly rootPassword: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly registryFile: string;

  constructor(index: number, host: string, serverId: number, dir: string, rootPassword: string) {
    this.index = index;
    this.host = host;
    this.serverId = serverId;
    this.dir = dir;
    this.dataDir = path.join(dir, "data");
    this.socketPath = path.join(dir, "mysqld.sock");
    this.rootPassword = rootPassword;
    this.registryFile = path.join(registryDir, `${path.basename(dir)}.json`);
  }

  pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 120_000): Promise<void> {
    if (this.running()) return;
    const { cmd, argv } = mysqldCommand(this.dir, [`--defaults-file=${mountPoint}/my.cnf`]);
    const child = spawn(cmd, argv, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    this.child = child;
    live.add(child);
    this.exited = new Promise((resolve) => child.once("exit", () => { live.delete(child); resolve(); }));
    fs.mkdirSync(registryDir, { recursive: true });
    fs.writeFileSync(this.registryFile, JSON.stringify({ pid: child.pid, owner: process.pid, dir: this.dir }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running()) {
        throw new Error(`mysqld ${this.host} exited during start-up: ${stderr}\n${this.errorLogTail()}`);
      }
      try {
        const c = await this.connect();
        await c.end();
        return;
      } catch (e) {
        if (Date.now() > deadline) {
          throw new Error(`mysqld ${this.host} not ready after ${timeoutMs} ms: ${(e as Error).message}\n${this.errorLogTail()}`);
        }
        await sleep(250);
      }
    }
  }

  async waitExit(timeoutMs: number): Promise<void> {
    if (!this.running()) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exited,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`mysqld ${this.host} still running after ${timeoutMs} ms`)), timeoutMs); }),
    ]).finally(() => clearTimeout(timer));
  }

  async stop(): Promise<void> {
    if (!this.running()) return;
    this.child?.kill("SIGTERM");
    try {
      await this.waitExit(60_000);
    } catch {
      this.child?.kill("SIGKILL");
      await this.exited;
    }
  }

  async kill(): Promise<void> {
    if (!this.running()) return;
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  wipeData(): void {
    if (this.running()) throw new Error("wipeData needs a stopped instance");
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  connect(opts: { admin?: boolean } = {}): Promise<mysql.Connection> {
    return mysql.createConnection({
      host: this.host,
      port: opts.admin ? this.adminPort : this.port,
      user: "root",
      password: this.rootPassword,
      connectTimeout: 5000,
      multipleStatements: false,
    });
  }

  errorLogTail(lines = 30): string {
    try {
      return fs.readFileSync(path.join(this.dir, "error.log"), "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no error log)";
    }
  }

  async destroy(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.rmSync(this.registryFile, { force: true });
  }
}

/**
 * Starts `count` mysqld instances. Each gets a copy of the cached template data
 * directory (a fresh server_uuid), its own loopback address and a my.cnf made of
 * the base settings plus `opts.mycnf`. Call `stopAll()` when done (also on failure).
 */
export async function startMysqlds(count: number, opts: MysqldOptions = {}): Promise<MysqldSet> {
  installExitHook();
  reapStrayMysqld();
  const password = await ensureMysqlTemplate();
  const hosts = await allocateAddresses(count);
  const base = opts.serverIdBase ?? 100;
  const instances: Instance[] = [];
  for (let i = 0; i < count; i++) {
    const host = hosts[i] as string;
    const dir = path.join(instancesDir, `${process.pid}-${host}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    if ((opts.init ?? "template") === "template") {
      fs.cpSync(path.join(templateDir, "data"), path.join(dir, "data"), { recursive: true });
    }
    fs.writeFileSync(path.join(dir, "my.cnf"), baseMyCnf(host, base + i, opts.mycnf ?? ""));
    instances.push(new Instance(i, host, base + i, dir, password));
  }
  const set: MysqldSet = {
    instances,
    async stopAll() {
      await Promise.all(instances.map((inst) => inst.destroy()));
    },
  };
  if ((opts.init ?? "template") === "template") {
    try {
      await Promise.all(instances.map((inst) => inst.start()));
    } catch (e) {
      await set.stopAll();
      throw e;
    }
  }
  return set;
}

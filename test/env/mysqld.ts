// Starts real mysqld instances (MySQL 9.7 from the Debian root filesystem made by
// test/env/mysql-rootfs.sh) for integration tests.
//
// Each instance runs as `unshare -m` + `chroot <rootfs> mysqld`, with its own host
// directory bind-mounted at /mnt/inst inside the chroot (data directory, socket,
// error log, my.cnf), its own loopback address (127.x.y.z) with the standard ports
// 3306 and admin port 33062, like a Pod IP. Processes get PDEATHSIG=SIGKILL, are
// killed on process exit, and stray ones from a crashed run are reaped at the next
// start, so no mysqld outlives a test run.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import mysql from "mysql2/promise";

import { cacheDir, reapStrayProcesses, spawnManaged, type ManagedProcess } from "./procs.ts";
import { GiveUp, PollTimeout, eventually } from "./eventually.ts";
import { ER_SECURE_TRANSPORT_REQUIRED } from "../../src/mysql/tls.ts";

export const mysqlRootfs = path.join(cacheDir, "rootfs", "mysql");
const templateDir = path.join(cacheDir, "mysql-template");
const instancesDir = path.join(cacheDir, "tmp", "mysqld");
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
  /**
   * Files written into each instance directory before mysqld starts (path relative to
   * the directory → content), e.g. TLS certificates; inside the chroot the directory is
   * /mnt/inst (MYSQLD_INSTANCE_DIR).
   */
  files?: (index: number, host: string) => Record<string, string> | Promise<Record<string, string>>;
}

/** Where an instance's directory appears inside its chroot (my.cnf paths point here). */
export const MYSQLD_INSTANCE_DIR = "/mnt/inst";

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
  return { cmd: "unshare", argv: ["--mount", "--propagation", "private", "--", "sh", "-c", inner] };
}

async function runToCompletion(cmd: string, argv: string[]): Promise<void> {
  const p = spawnManaged("mysqld --initialize", cmd, argv, { marker: "mysqld" });
  await p.exited;
  if (p.child.exitCode !== 0) throw new Error(`mysqld --initialize exited ${p.child.exitCode}: ${p.outputTail(2000)}`);
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
  private proc: ManagedProcess | undefined;

  constructor(index: number, host: string, serverId: number, dir: string, rootPassword: string) {
    this.index = index;
    this.host = host;
    this.serverId = serverId;
    this.dir = dir;
    this.dataDir = path.join(dir, "data");
    this.socketPath = path.join(dir, "mysqld.sock");
    this.rootPassword = rootPassword;
  }

  pid(): number | undefined {
    return this.running() ? this.proc?.child.pid : undefined;
  }

  running(): boolean {
    return this.proc?.running() ?? false;
  }

  async start(timeoutMs = 120_000): Promise<void> {
    if (this.running()) return;
    const { cmd, argv } = mysqldCommand(this.dir, [`--defaults-file=${mountPoint}/my.cnf`]);
    this.proc = spawnManaged(`mysqld ${this.host}`, cmd, argv, { marker: "mysqld", cleanup: this.dir });
    // require_secure_transport=ON: mysqld answers, and refuses plaintext.
    await waitForMysqld(this, this.proc, () => this.connect(), (errno) => errno === ER_SECURE_TRANSPORT_REQUIRED, timeoutMs);
  }

  async waitExit(timeoutMs: number): Promise<void> {
    const proc = this.proc;
    if (!proc || !proc.running()) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      proc.exited,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`mysqld ${this.host} still running after ${timeoutMs} ms`)), timeoutMs); }),
    ]).finally(() => clearTimeout(timer));
  }

  async stop(): Promise<void> {
    await this.proc?.stop(60_000);
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
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
  }
}

/**
 * Starts `count` mysqld instances. Each gets a copy of the cached template data
 * directory (a fresh server_uuid), its own loopback address and a my.cnf made of
 * the base settings plus `opts.mycnf`. Call `stopAll()` when done (also on failure).
 */
export async function startMysqlds(count: number, opts: MysqldOptions = {}): Promise<MysqldSet> {
  reapStrayProcesses();
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
    for (const [rel, content] of Object.entries((await opts.files?.(i, host)) ?? {})) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), content, { mode: 0o600 });
    }
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

// ---------------------------------------------------------------------------------
// Added for the agent tests (test/integration/agent): running a command inside the
// MySQL root filesystem, and starting mysqld on a data directory that has no
// root@'%' account (one made by moco-init).

export interface RootfsRunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved (last 16 KiB). */
  readonly output: string;
}

/**
 * Runs `argv` chrooted in the MySQL rootfs, in a private mount namespace, with the host
 * directory `dir` bind-mounted at /mnt/inst (like an instance). The environment is
 * PATH=/usr/sbin:/usr/bin:/sbin:/bin plus `opts.env`. Killed after `timeoutMs`.
 */
export async function runInMysqlRootfs(dir: string, argv: readonly string[], opts: {
  env?: Readonly<Record<string, string>>; timeoutMs?: number;
} = {}): Promise<RootfsRunResult> {
  fs.mkdirSync(path.join(mysqlRootfs, mountPoint), { recursive: true });
  const inner = `mount --bind "$1" "$2${mountPoint}" && root="$2" && shift 2 && exec chroot "$root" "$@"`;
  const p = spawnManaged("rootfs command", "unshare", [
    "--mount", "--propagation", "private", "--", "sh", "-c", inner, "sh", dir, mysqlRootfs, ...argv,
  ], { marker: "chroot", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LANG: "C", ...(opts.env ?? {}) } });
  const timer = setTimeout(() => void p.kill(), opts.timeoutMs ?? 300_000);
  await p.exited;
  clearTimeout(timer);
  return { code: p.child.exitCode, signal: p.child.signalCode, output: p.outputTail(16384) };
}

/**
 * Polls until mysqld answers: `connect` succeeds, or fails with a MySQL error `answered`
 * accepts. Fails at once when the process exits, with the error log on a time-out.
 */
async function waitForMysqld(
  inst: MysqldInstance,
  proc: ManagedProcess,
  connect: () => Promise<{ end(): Promise<void> }>,
  answered: (errno: number) => boolean,
  timeoutMs: number,
): Promise<void> {
  try {
    await eventually(`mysqld ${inst.host} to answer`, async () => {
      if (!proc.running()) throw new GiveUp(`mysqld ${inst.host} exited during start-up: ${proc.outputTail()}\n${inst.errorLogTail()}`);
      try {
        await (await connect()).end();
        return true;
      } catch (e) {
        const errno = (e as { errno?: unknown }).errno;
        if (typeof errno === "number" && answered(errno)) return true;
        throw e;
      }
    }, timeoutMs);
  } catch (e) {
    if (e instanceof PollTimeout) throw new Error(`${e.message}\n${inst.errorLogTail()}`, { cause: e.cause });
    throw e;
  }
}

/**
 * Starts mysqld on `inst`'s directory (its my.cnf) without waiting for the template's
 * root@'%' login: resolves once mysqld answers on its Unix socket (any MySQL answer,
 * including "access denied"). The instance object does not track this process: stop
 * it with the returned handle before `stopAll()`.
 */
export async function startMysqldProcess(inst: MysqldInstance, timeoutMs = 120_000): Promise<ManagedProcess> {
  const { cmd, argv } = mysqldCommand(inst.dir, [`--defaults-file=${mountPoint}/my.cnf`]);
  const proc = spawnManaged(`mysqld ${inst.host}`, cmd, argv, { marker: "mysqld", cleanup: inst.dir });
  const connect = () => mysql.createConnection({ socketPath: inst.socketPath, user: "root", password: "", connectTimeout: 2000 });
  try {
    await waitForMysqld(inst, proc, connect, (errno) => errno >= 1000, timeoutMs);
  } catch (e) {
    await proc.kill();
    throw e;
  }
  return proc;
}

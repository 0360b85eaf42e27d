// The `kubectl moco` command tree (commander): global kubectl-compatible flags, the
// subcommands of docs/cli.md and the moco-ts extensions, and the mapping of every outcome to
// an exit code (errors.ts). `runCli` never calls process.exit, so tests call it directly.
import { isSea } from "node:sea";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { createMocoApi, type MocoApi } from "./api.ts";
import {
  STATUS_SOURCES,
  clusterNamesForCompletion,
  runCredential,
  runMysql,
  runRotatePassword,
  runStatus,
  runStopStart,
  runSwitchover,
  type CommandEnv,
  type StatusSource,
} from "./commands.ts";
import {
  COMPLETION_SHELLS,
  completionRequest,
  completionScript,
  formatCompletion,
  type CompletionSpec,
} from "./completion.ts";
import { CliError, EXIT } from "./errors.ts";
import { clientExecutor, type PodExecutor } from "./exec.ts";
import { CREDENTIAL_FORMATS, CREDENTIAL_USERS, parseIndex } from "./format.ts";
import {
  parseDuration,
  resolveKubeConfig,
  type GlobalOptions,
  type ResolvedKubeConfig,
} from "./kubeconfig.ts";
import { MOCO_USER_NAMES } from "../mysql/users.ts";
import { errorMessage } from "../util/errors.ts";
import { setTimeout as sleep } from "node:timers/promises";

/** Injection points; everything defaults to the real process. */
export interface CliDeps {
  env?: Readonly<Record<string, string | undefined>>;
  stdout?(text: string): void;
  stderr?(text: string): void;
  makeApi?(cfg: ResolvedKubeConfig): MocoApi;
  exec?: PodExecutor;
  probe?: CommandEnv["probe"];
  sleep?(ms: number): Promise<void>;
  now?(): number;
}

/** Set by scripts/build-kubectl-moco.sh (esbuild --define) in the single executable. */
declare const MOCO_TS_BUILD_VERSION: string | undefined;

/** The package version: the build's, else package.json next to src/ or dist/src/. */
export function pluginVersion(): string {
  if (typeof MOCO_TS_BUILD_VERSION === "string") return MOCO_TS_BUILD_VERSION;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = path.join(dir, "package.json");
    try {
      const pkg = JSON.parse(fs.readFileSync(p, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "moco-ts" && pkg.version) return pkg.version;
    } catch {
      // keep looking upwards
    }
    dir = path.dirname(dir);
  }
  return "unknown";
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const CLUSTER_ARG = "CLUSTER_NAME";

/** Builds the command tree. `setExit` receives the exit code of actions that produce one. */
function buildProgram(deps: Required<Pick<CliDeps, "stdout" | "stderr">> & CliDeps, setExit: (code: number) => void): Command {
  const env = deps.env ?? process.env;
  const program = new Command("kubectl moco");
  program
    .description("The kubectl plugin for MOCO (moco-ts): operate MySQLClusters.")
    .usage("[global flags] <subcommand> [flags] args...")
    .configureOutput({
      writeOut: (s) => deps.stdout(s),
      writeErr: (s) => deps.stderr(s),
    })
    .exitOverride()
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true })
    .helpOption("-h, --help", "help for the command")
    .version(`kubectl-moco version ${pluginVersion()}`, "--version", "print the version of kubectl-moco")
    .option("--kubeconfig <path>", "path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "the kubeconfig context to use")
    .option("--cluster <name>", "the kubeconfig cluster to use")
    .option("--user <name>", "the kubeconfig user to use")
    .option("-n, --namespace <namespace>", "namespace of the MySQLCluster (default: the context's, else \"default\")")
    .option("-s, --server <address>", "the address and port of the Kubernetes API server")
    .option("--token <token>", "bearer token for authentication to the API server")
    .option("--as <user>", "username to impersonate for the operation")
    .option("--as-group <group>", "group to impersonate for the operation (repeatable)", collect)
    .option("--as-uid <uid>", "UID to impersonate for the operation")
    .option("--certificate-authority <path>", "path to a cert file for the certificate authority")
    .option("--client-certificate <path>", "path to a client certificate file for TLS")
    .option("--client-key <path>", "path to a client key file for TLS")
    .option("--insecure-skip-tls-verify", "do not verify the server's certificate (insecure)")
    .option("--tls-server-name <name>", "server name to use for server certificate validation")
    .option("--request-timeout <duration>", "per-request timeout (e.g. 1s, 2m; default 0 = none)")
    .option("--cache-dir <path>", "default cache directory (accepted for kubectl compatibility; ignored)")
    .option("--disable-compression", "accepted for kubectl compatibility; ignored")
    .option("-v, --v <level>", "log verbosity (accepted for kubectl compatibility; ignored)");

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  let cachedEnv: CommandEnv | undefined;
  const commandEnv = (): CommandEnv => {
    if (cachedEnv) return cachedEnv;
    const g = globals();
    const resolved = resolveKubeConfig(g, { env });
    cachedEnv = {
      api: (deps.makeApi ?? createMocoApi)(resolved),
      namespace: resolved.namespace,
      io: { stdout: deps.stdout, stderr: deps.stderr },
      exec: deps.exec ?? clientExecutor(resolved.kubeConfig, resolved.headers),
      probe: deps.probe,
      sleep: deps.sleep ?? ((ms) => sleep(ms)),
      now: deps.now ?? (() => Date.now()),
    };
    return cachedEnv;
  };

  // mysql
  program
    .command("mysql")
    .description("Run the mysql client in a mysqld Pod of the cluster (the current primary by default)")
    .usage(`[flags] ${CLUSTER_ARG} [-- mysql-args...]`)
    .argument(`<${CLUSTER_ARG}>`, "name of the MySQLCluster")
    .argument("[mysql-args...]", "arguments for mysql, after --")
    .addOption(
      new Option("-u, --mysql-user <user>", "login user: moco-readonly, moco-writable or moco-admin (also moco-backup, moco-exporter)")
        .default("moco-readonly"),
    )
    .option("--index <n>", "ordinal of the target instance (-1 = the current primary)", "-1")
    .option("-i, --stdin", "pass stdin to mysql", false)
    .option("-t, --tty", "allocate a TTY (use -it for an interactive session)", false)
    .addHelpText("after", `
Examples:
  # one query on the primary of cluster "orders" in namespace "shop"
  kubectl moco -n shop mysql orders -- -N -e 'SELECT @@server_id'
  # feed a script as the writable user
  kubectl moco -n shop mysql -u moco-writable -i orders < schema.sql
  # interactive session on instance 1
  kubectl moco -n shop mysql --index 1 -it orders

The exit code is mysql's; a non-zero one is also noted on stderr as kubectl exec does.`)
    .action(async (cluster: string, mysqlArgs: string[], opts: { mysqlUser: string; index: string; stdin: boolean; tty: boolean }) => {
      const index = parseIndex(opts.index);
      const code = await runMysql(commandEnv(), cluster, mysqlArgs, {
        mysqlUser: opts.mysqlUser, index, stdin: opts.stdin, tty: opts.tty,
      });
      setExit(code);
    });

  // credential
  program
    .command("credential")
    .description("Print the password of a MOCO user (or a my.cnf [client] section with --format mycnf)")
    .usage(`[flags] ${CLUSTER_ARG}`)
    .argument(`<${CLUSTER_ARG}>`, "name of the MySQLCluster")
    .option("-u, --mysql-user <user>", `one of ${CREDENTIAL_USERS.join(", ")}`, "moco-readonly")
    .option("--format <format>", `output format: ${CREDENTIAL_FORMATS.join(" or ")}`, "plain")
    .action(async (cluster: string, opts: { mysqlUser: string; format: string }) => {
      await runCredential(commandEnv(), cluster, opts);
    });

  // switchover
  program
    .command("switchover")
    .description("Ask MOCO to move the primary role to a replica (annotates the primary Pod with moco.cybozu.com/demote)")
    .usage(`[flags] ${CLUSTER_ARG}`)
    .argument(`<${CLUSTER_ARG}>`, "name of the MySQLCluster")
    .option("--wait", "wait until the primary has changed (status.currentPrimaryIndex)", false)
    .option("--timeout <duration>", "how long --wait waits (e.g. 90s, 5m)", "5m")
    .addHelpText("after", `
Refused (exit 5) when the cluster is offline or has a single instance; exit 4 when it
has no status yet. When clustering is stopped or the cluster is not Healthy, the request
is still recorded, as MOCO does, with a warning: the switchover happens once clustering
runs and the cluster is Healthy. Without --wait it prints nothing on stdout and exits 0
once the request is recorded.`)
    .action(async (cluster: string, opts: { wait: boolean; timeout: string }) => {
      const timeoutMs = parseDuration(opts.timeout, "--timeout");
      await runSwitchover(commandEnv(), cluster, { wait: opts.wait, timeoutMs });
    });

  // rotate-password (moco-ts addition)
  program
    .command("rotate-password")
    .description("Rotate the passwords of MOCO's users without downtime (moco-ts addition; sets annotation moco-ts.cybozu.com/rotate-password)")
    .usage(`[flags] ${CLUSTER_ARG}`)
    .argument(`<${CLUSTER_ARG}>`, "name of the MySQLCluster")
    .option("-u, --mysql-user <user>", `a MOCO user to rotate (repeatable; default all): ${MOCO_USER_NAMES.join(", ")}`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addHelpText("after", `
The controller sets each new password with MySQL's dual passwords (RETAIN CURRENT
PASSWORD), hands it to every consumer (Secrets, replicas, agents, exporters, jobs) and
discards the old one only when all of them use the new one. It prints the request id and
exits once the request is recorded; progress is reported as Events on the MySQLCluster
(reason PasswordRotation*). See docs/password-rotation.md.`)
    .action(async (cluster: string, opts: { mysqlUser: string[] }) => {
      await runRotatePassword(commandEnv(), cluster, { users: opts.mysqlUser });
    });

  // stop / start
  for (const action of ["stop", "start"] as const) {
    const parent = program
      .command(action)
      .description(action === "stop" ? "Stop the clustering or reconciliation of a MySQLCluster" : "Start the clustering or reconciliation of a MySQLCluster")
      .action(() => {
        parent.outputHelp();
      });
    for (const what of ["clustering", "reconciliation"] as const) {
      parent
        .command(what)
        .description(
          action === "stop"
            ? `Stop the ${what} of a MySQLCluster (sets annotation moco.cybozu.com/${what}-stopped: "true")`
            : `Start the ${what} of a MySQLCluster (removes annotation moco.cybozu.com/${what}-stopped)`,
        )
        .usage(CLUSTER_ARG)
        .argument(`<${CLUSTER_ARG}>`, "name of the MySQLCluster")
        .action(async (cluster: string) => {
          await runStopStart(commandEnv(), action, what, cluster);
        });
    }
  }

  // status
  program
    .command("status")
    .description("Show the instances of a MySQLCluster: role, readiness, GTID lag, errant, semi-sync, last backup")
    .usage(`[flags] ${CLUSTER_ARG}`)
    .argument(`<${CLUSTER_ARG}>`, "name of the MySQLCluster")
    .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json"]).default("table"))
    .addOption(
      new Option("--source <how>", "how to read each mysqld: exec (kubectl exec mysql), pod-ip (direct SQL to the Pod IP), auto (exec, then pod-ip), none (API objects only)")
        .choices([...STATUS_SOURCES])
        .default("auto"),
    )
    .option("--probe-timeout <duration>", "timeout of each instance query", "10s")
    .action(async (cluster: string, opts: { output: "table" | "json"; source: StatusSource; probeTimeout: string }) => {
      const timeoutMs = parseDuration(opts.probeTimeout, "--probe-timeout");
      await runStatus(commandEnv(), cluster, { output: opts.output, source: opts.source, timeoutMs });
    });

  // completion
  program
    .command("completion")
    .description("Print a shell completion script (bash, zsh, fish or powershell)")
    .argument("<shell>", COMPLETION_SHELLS.join("|"))
    .action((shell: string) => {
      const script = completionScript(shell);
      if (script === undefined) throw new CliError(`unsupported shell type "${shell}"`, EXIT.USAGE);
      deps.stdout(script);
    });

  // version (moco-ts extension; MOCO's plugin only has --version)
  program
    .command("version")
    .description("Print the version of kubectl-moco and how it runs")
    .action(() => {
      deps.stdout(`kubectl-moco version ${pluginVersion()}\n`);
      deps.stdout(`runtime: Node.js ${process.version} ${process.platform}/${process.arch}${isSea() ? " (single executable)" : ""}\n`);
    });

  program
    .command("__complete", { hidden: true })
    .description("cobra-style completion backend")
    .allowUnknownOption()
    .helpOption(false)
    .argument("[words...]")
    .action(async (words: string[]) => {
      const req = completionRequest(completionSpecOf(program), words.length === 0 ? [""] : words);
      if (req.kind === "values") {
        deps.stdout(formatCompletion(req.values));
        return;
      }
      let names: string[] = [];
      try {
        const e = commandEnv();
        const ns = req.namespace ?? e.namespace;
        names = await clusterNamesForCompletion({ ...e, namespace: ns }, req.prefix);
      } catch {
        names = [];
      }
      deps.stdout(formatCompletion(names));
    });

  return program;
}

/** The completion tree of a commander program. */
function completionSpecOf(cmd: Command): CompletionSpec {
  const flags: Record<string, boolean> = {};
  const flagValues: Record<string, readonly string[]> = {};
  for (const o of cmd.options) {
    const takes = o.required || o.optional;
    for (const f of [o.long, o.short]) {
      if (!f) continue;
      flags[f] = takes;
      if (o.argChoices) flagValues[f] = o.argChoices;
    }
  }
  for (const f of ["-u", "--mysql-user"]) if (f in flags) flagValues[f] = CREDENTIAL_USERS;
  if ("--format" in flags) flagValues["--format"] = CREDENTIAL_FORMATS;
  const commands: Record<string, CompletionSpec> = {};
  for (const c of cmd.commands) {
    if (c.name() === "__complete") continue;
    commands[c.name()] = completionSpecOf(c);
  }
  if (cmd.parent === null) commands["help"] = { commands: {}, flags: {} };
  const takesCluster = cmd.registeredArguments[0]?.name() === CLUSTER_ARG;
  return { commands, flags, flagValues, takesCluster };
}

/**
 * Runs the plugin with `argv` (the arguments after the program name) and resolves to the
 * exit code. Errors are printed as `Error: <message>` on stderr.
 */
export async function runCli(argv: readonly string[], deps: CliDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? ((s: string) => void process.stdout.write(s));
  const stderr = deps.stderr ?? ((s: string) => void process.stderr.write(s));
  let exitCode: number = EXIT.OK;
  const program = buildProgram({ ...deps, stdout, stderr }, (c) => { exitCode = c; });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0) return EXIT.OK;
      return EXIT.USAGE;
    }
    if (e instanceof CliError) {
      stderr(`Error: ${e.message}\n`);
      return e.exitCode;
    }
    stderr(`Error: ${errorMessage(e)}\n`);
    return EXIT.ERROR;
  }
}

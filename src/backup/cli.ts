// Command line of `moco-backup` (docs/backup.md#command-line), with commander. The global flags are
// accepted before or after the subcommand (the builders put them after it).
import { Command, CommanderError, Option } from "commander";
import type { BackendType } from "./bucket/types.ts";
import { parseBackupTime } from "./keys.ts";
import { parseUserFilter, type UserFilter } from "./dump/load.ts";

export interface GlobalFlags {
  workDir: string;
  threads: number;
  region: string;
  endpoint: string;
  usePathStyle: boolean;
  backendType: BackendType;
  caCert: string;
  /** moco-ts extras. */
  chunkRows?: number;
  chunkBytes?: number;
  progressInterval: number;
}

export interface BackupCommand { kind: "backup"; flags: GlobalFlags; bucket: string; namespace: string; name: string }
export interface RestoreCommand {
  kind: "restore";
  flags: GlobalFlags;
  bucket: string;
  sourceNamespace: string;
  sourceName: string;
  namespace: string;
  name: string;
  restorePoint: Date;
  schema?: string;
  users?: UserFilter[];
}
export type ParsedCommand = BackupCommand | RestoreCommand;

const VERSION = "0.36.0-moco-ts";

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new CommanderError(2, "moco-backup.invalidArgument", `--${name} must be a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
}

function addGlobalOptions(c: Command): Command {
  return c
    .option("--work-dir <dir>", "writable scratch directory", "/work")
    .option("--threads <n>", "parallelism of dump, load and compression", positiveInt("threads"), 4)
    .option("--region <region>", "object-store region (S3)", "")
    .option("--endpoint <url>", "object-store API endpoint URL", (v: string) => {
      try { new URL(v); } catch { throw new CommanderError(2, "moco-backup.invalidArgument", `--endpoint is not a URL: ${JSON.stringify(v)}`); }
      return v;
    }, "")
    .option("--use-path-style", "S3 path-style addressing", false)
    .option("--backend-type <type>", "s3, gcs or azure (anything else means s3)", "s3")
    .option("--ca-cert <file>", "PEM file added to the system CA pool (S3)", "")
    .addOption(new Option("--chunk-rows <n>", "target rows per dump chunk").argParser(positiveInt("chunk-rows")))
    .addOption(new Option("--chunk-bytes <n>", "target bytes per dump chunk").argParser(positiveInt("chunk-bytes")))
    .option("--progress-interval <seconds>", "seconds between progress log lines", positiveInt("progress-interval"), 10);
}

function normalizeBackend(v: unknown): BackendType {
  return v === "gcs" || v === "azure" ? v : "s3";
}

function flagsOf(cmd: Command): GlobalFlags {
  const o = cmd.optsWithGlobals() as Record<string, unknown>;
  const f: GlobalFlags = {
    workDir: String(o["workDir"]),
    threads: Number(o["threads"]),
    region: String(o["region"] ?? ""),
    endpoint: String(o["endpoint"] ?? ""),
    usePathStyle: o["usePathStyle"] === true,
    backendType: normalizeBackend(o["backendType"]),
    caCert: String(o["caCert"] ?? ""),
    progressInterval: Number(o["progressInterval"]),
  };
  if (typeof o["chunkRows"] === "number") f.chunkRows = o["chunkRows"];
  if (typeof o["chunkBytes"] === "number") f.chunkBytes = o["chunkBytes"];
  return f;
}

/** Parses the restore point argument (UTC YYYYMMDD-hhmmss). */
export function parseRestorePoint(s: string): Date {
  const d = parseBackupTime(s);
  if (d === undefined) throw new CommanderError(2, "moco-backup.invalidArgument", `invalid restore point ${JSON.stringify(s)}: want YYYYMMDD-hhmmss (UTC)`);
  return d;
}

/**
 * Builds the program; `run` receives the parsed command. `exitOverride` makes errors throw
 * (CommanderError) instead of exiting, for tests.
 */
export function buildProgram(run: (cmd: ParsedCommand) => Promise<void>, opts: { exitOverride?: boolean; quiet?: boolean } = {}): Command {
  const program = addGlobalOptions(new Command("moco-backup"))
    .description("Backup and restore of MySQLCluster data (moco-ts)")
    .version(VERSION, "--version");
  program.command("backup")
    .description("take a full dump and the binary logs since the previous backup")
    .argument("<bucket>").argument("<namespace>").argument("<name>")
    .action(async (bucket: string, namespace: string, name: string, _o: unknown, cmd: Command) => {
      await run({ kind: "backup", flags: flagsOf(cmd), bucket, namespace, name });
    });
  program.command("restore")
    .description("restore a new cluster from a backup at a point in time")
    .argument("<bucket>").argument("<source_namespace>").argument("<source_name>")
    .argument("<namespace>").argument("<name>").argument("<restore_point>", "YYYYMMDD-hhmmss (UTC)")
    .argument("<schema>", "schema to restore; empty means all").argument("<users>", "comma-separated user[@host]; empty means all")
    .action(async (bucket: string, sns: string, sname: string, ns: string, name: string, point: string, schema: string,
      users: string, _o: unknown, cmd: Command) => {
      const c: RestoreCommand = {
        kind: "restore", flags: flagsOf(cmd), bucket, sourceNamespace: sns, sourceName: sname, namespace: ns, name,
        restorePoint: parseRestorePoint(point),
      };
      if (schema !== "") c.schema = schema;
      const u = parseUserFilter(users);
      if (u !== undefined) c.users = u;
      await run(c);
    });
  for (const sub of program.commands) {
    addGlobalOptions(sub);
    sub.allowExcessArguments(false);
  }
  if (opts.exitOverride) {
    program.exitOverride();
    for (const sub of program.commands) sub.exitOverride();
  }
  if (opts.quiet) {
    const out = { writeOut: () => undefined, writeErr: () => undefined };
    program.configureOutput(out);
    for (const sub of program.commands) sub.configureOutput(out);
  }
  return program;
}

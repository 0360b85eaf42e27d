// The MySQL client programs the jobs run (mysqlbinlog, mysql). The job image has them on
// PATH; MOCO_BACKUP_MYSQLBINLOG / MOCO_BACKUP_MYSQL override the command (a whitespace-
// separated prefix, e.g. a wrapper that runs them chrooted in a MySQL root filesystem).
// Paths given to the tools are relative to the working directory so such a wrapper only
// needs to map the working directory. Passwords go through a defaults file (mode 0600),
// never through argv or logs.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { redact } from "./log.ts";

export interface Tools {
  mysqlbinlog: string[];
  mysql: string[];
}

function splitCommand(s: string | undefined, dflt: string): string[] {
  const parts = (s ?? "").trim().split(/\s+/).filter((x) => x !== "");
  return parts.length > 0 ? parts : [dflt];
}

export function toolsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Tools {
  return {
    mysqlbinlog: splitCommand(env["MOCO_BACKUP_MYSQLBINLOG"], "mysqlbinlog"),
    mysql: splitCommand(env["MOCO_BACKUP_MYSQL"], "mysql"),
  };
}

/** Writes a [client] defaults file with the password; returns its path. */
export function writeClientDefaults(dir: string, password: string): string {
  const file = path.join(dir, "client.cnf");
  const escaped = password.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  fs.writeFileSync(file, `[client]\npassword="${escaped}"\n`, { mode: 0o600 });
  return file;
}

export interface SpawnedTool {
  child: ChildProcess;
  done: Promise<void>;
}

/** Spawns a tool; `done` rejects with the exit status and the (redacted) stderr tail. */
export function spawnTool(cmd: readonly string[], args: readonly string[], opts: {
  cwd: string; env?: NodeJS.ProcessEnv; stdin?: "pipe" | "ignore"; stdout?: "pipe" | "ignore"; secrets?: readonly string[];
  onStderr?: (line: string) => void;
}): SpawnedTool {
  const [bin, ...pre] = cmd;
  if (bin === undefined) throw new Error("empty tool command");
  const child = spawn(bin, [...pre, ...args], {
    cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.stdin ?? "ignore", opts.stdout ?? "pipe", "pipe"],
  });
  let tail = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    tail = (tail + d).slice(-4000);
    for (const line of d.split("\n")) if (line.trim() !== "") opts.onStderr?.(redact(line, opts.secrets ?? []));
  });
  const name = path.basename(cmd.at(-1) ?? bin);
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", (e) => reject(new Error(`${name}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${name} exited with ${code ?? signal}: ${redact(tail.trim(), opts.secrets ?? [])}`));
    });
  });
  return { child, done };
}

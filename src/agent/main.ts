// moco-agent: the sidecar of every mysqld container (docs/agent.md#startup).
// `node dist/src/agent/main.js [flags]` in the moco-ts image (or `node src/agent/main.ts`).
import { startAgent, type RunningAgent } from "./agent.ts";
import { AgentConfigError, parseAgentFlags, readAgentEnvironment } from "./config.ts";
import { PASSWORD_KEYS } from "../mysql/users.ts";
import { createAgentLogger, safeErrorMessage } from "./log.ts";

/** Parses flags and environment, then starts the agent; stops it on SIGTERM/SIGINT. */
export async function runAgentMain(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<RunningAgent> {
  const flags = parseAgentFlags(argv);
  const agentEnv = readAgentEnvironment(env);
  const logger = createAgentLogger({
    level: flags.logLevel,
    logFile: flags.logFile,
    bindings: { cluster: agentEnv.clusterName, pod: agentEnv.podName },
  });
  if (flags.logFormat !== "json") logger.warn({ logformat: flags.logFormat }, "only JSON logs are written");
  const agent = await startAgent({ flags, env: agentEnv, logger, tlsDir: env.MYSQL_TLS_DIR });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    agent.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  return agent;
}

if (import.meta.main) {
  runAgentMain(process.argv.slice(2), process.env).catch((err: unknown) => {
    if (err instanceof AgentConfigError) {
      process.stderr.write(err.exitCode === 0 ? err.message : `moco-agent: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    const secrets = PASSWORD_KEYS.map((k) => process.env[k]);
    process.stderr.write(`${JSON.stringify({ level: 60, time: Date.now(), msg: "moco-agent failed", error: safeErrorMessage(err, secrets) })}\n`);
    process.exit(1);
  });
}

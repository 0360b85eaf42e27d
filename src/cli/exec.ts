// Commands in a Pod's container through the API server's exec subprotocol (client-node's Exec,
// a WebSocket on pods/exec — what `kubectl exec` speaks), so `kubectl moco mysql` and the exec
// probe of `status` need no kubectl binary (docs/cli.md "No kubectl needed"). The exit code
// comes from the V1Status the server sends on the error channel.
// The one exception to "one way to reach the API server" (src/k8s/client.ts, docs/k8s-layer.md):
// KubeClient speaks request/response JSON and watch streams, not the WebSocket exec
// subprotocol (channels, resize, the status channel), so this part stays on client-node's Exec,
// built from the same resolved kubeconfig and impersonation headers as the plugin's KubeClient.
import { PassThrough, Writable, type Readable } from "node:stream";
import { Exec, type KubeConfig, type V1Status } from "@kubernetes/client-node";
import { CliError, EXIT } from "./errors.ts";

export interface ExecRequest {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly command: readonly string[];
  /** Pass the plugin's stdin to the command. */
  readonly stdin: boolean;
  /** Allocate a TTY (stdin in raw mode when it is a terminal; the window size follows stdout). */
  readonly tty: boolean;
}

export interface PodExecutor {
  /** Runs the command with the plugin's stdin/stdout/stderr; resolves to its exit code. */
  interactive(req: ExecRequest): Promise<number>;
  /** Runs the command without stdin, collecting stdout; rejects (stderr's last line) on a non-zero exit or timeout. */
  collect(req: Omit<ExecRequest, "stdin" | "tty">, timeoutMs: number): Promise<string>;
}

/**
 * The command's exit code from the status the server ends an exec with: 0 on Success, the
 * `ExitCode` cause of NonZeroExitCode; any other failure (Pod or container not found, exec
 * forbidden, …) is a CliError with the server's message.
 */
export function exitCodeFromStatus(status: V1Status | undefined): number {
  if (status === undefined) throw new CliError("exec: the connection closed without an exit status", EXIT.ERROR);
  if (status.status === "Success") return 0;
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return code;
  }
  throw new CliError(`exec: ${status.message ?? status.reason ?? "failed"}`, EXIT.ERROR);
}

/** Writes to `target` without ever ending it (process.stdout/stderr must stay open). */
function forward(target: NodeJS.WritableStream): Writable {
  return new Writable({ write(chunk, _enc, done) { target.write(chunk as Buffer, () => done()); } });
}

/** Headers (impersonation of groups / uid) on top of what the kubeconfig puts on every request. */
function withHeaders(kc: KubeConfig, headers: Readonly<Record<string, string>>): KubeConfig {
  if (Object.keys(headers).length === 0) return kc;
  const apply = kc.applyToHTTPSOptions.bind(kc);
  const wrapped = Object.create(kc) as KubeConfig;
  wrapped.applyToHTTPSOptions = async (opts) => {
    await apply(opts);
    opts.headers = { ...opts.headers, ...headers };
  };
  return wrapped;
}

async function run(exec: Exec, req: ExecRequest, stdout: Writable, stderr: Writable, stdin: Readable | null,
  onSocket: (ws: { close(): void }) => void = () => undefined): Promise<number> {
  let status: V1Status | undefined;
  const ws = await exec.exec(req.namespace, req.pod, req.container, [...req.command], stdout, stderr, stdin, req.tty, (s) => { status = s; });
  onSocket(ws);
  await new Promise<void>((resolve) => {
    if (ws.readyState === ws.CLOSED) resolve();
    else ws.once("close", () => resolve());
  });
  return exitCodeFromStatus(status);
}

/** The real executor over a resolved kubeconfig (+ request headers). */
export function clientExecutor(kc: KubeConfig, headers: Readonly<Record<string, string>>): PodExecutor {
  const exec = new Exec(withHeaders(kc, headers));
  return {
    async interactive(req) {
      const stdin = process.stdin;
      const raw = req.tty && req.stdin && stdin.isTTY;
      if (raw) stdin.setRawMode(true);
      try {
        // With a TTY the server merges stderr into stdout; client-node resizes the remote
        // terminal from process.stdout's size when it is a terminal.
        const out = req.tty && process.stdout.isTTY ? process.stdout : forward(process.stdout);
        return await run(exec, req, out, forward(process.stderr), req.stdin ? stdin : null);
      } finally {
        if (raw) stdin.setRawMode(false);
        if (req.stdin) stdin.pause();
      }
    },
    async collect(req, timeoutMs) {
      let out = "";
      let err = "";
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      stdout.on("data", (b: Buffer) => { out += b.toString(); });
      stderr.on("data", (b: Buffer) => { err += b.toString(); });
      let timer: NodeJS.Timeout | undefined;
      let socket: { close(): void } | undefined;
      let timedOut = false;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => { timedOut = true; socket?.close(); reject(new Error(`timed out after ${timeoutMs} ms`)); }, timeoutMs);
      });
      try {
        const running = run(exec, { ...req, stdin: false, tty: false }, stdout, stderr, null, (ws) => { socket = ws; if (timedOut) ws.close(); });
        running.catch(() => undefined);
        const code = await Promise.race([running, timeout]);
        if (code !== 0) throw new Error(err.trim().split("\n").pop() || `exit code ${code}`);
        return out;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

// The part of the kubelet API that `kubectl logs` and `kubectl exec` need:
// kube-apiserver proxies GET /containerLogs/{namespace}/{pod}/{container}?follow=&
// tailLines=&previous= and the upgrade requests to /exec/{namespace}/{pod}/{container}
// ?command=..&input=1&output=1&error=1&tty=1 (SPDY/3.1, see streaming.ts) to the node's
// kubeletEndpoint over TLS with its kubelet client certificate. Each sandbox node
// serves it on its own port; requests must present a client certificate signed by the
// cluster CA (the apiserver's), others are refused.
import fs from "node:fs";
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { PodRuntime } from "./pod-runtime.ts";
import { parseExecQuery, rejectUpgrade, serveExec, type ExecRequest } from "./streaming.ts";

export interface KubeletApiOptions {
  host: string;
  port: number;
  cert: string;
  key: string;
  /** CA that signed the apiserver's kubelet client certificate. */
  clientCa: string;
  findPod(namespace: string, name: string): PodRuntime | undefined;
  log?(msg: string, extra?: Record<string, unknown>): void;
}

/** /exec/{namespace}/{pod}/{container}, or with the pod UID before the container. */
const EXEC_PATH = /^\/exec\/([^/]+)\/([^/]+)\/(?:([^/]+)\/)?([^/]+)$/;

/** Serves `kubectl exec`: validates the target, then hands the upgraded connection to streaming.ts. */
function handleExec(opts: KubeletApiOptions, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on("error", () => undefined);
  const url = new URL(req.url ?? "/", "https://kubelet");
  const m = EXEC_PATH.exec(url.pathname);
  if (!m || (req.method !== "POST" && req.method !== "GET")) {
    rejectUpgrade(socket, 404, "NotFound", `the sandbox node serves no upgrade at ${url.pathname}`);
    return;
  }
  const [ns, podName, uid, container] = [m[1]!, m[2]!, m[3], m[4]!].map((x) => (x === undefined ? x : decodeURIComponent(x)));
  const rt = opts.findPod(ns!, podName!);
  if (!rt || (uid && rt.pod.metadata?.uid !== uid)) {
    rejectUpgrade(socket, 404, "NotFound", `pod ${ns}/${podName} not found on this node`);
    return;
  }
  let request: ExecRequest;
  try {
    request = parseExecQuery(url.searchParams);
  } catch (e) {
    rejectUpgrade(socket, 400, "BadRequest", (e as Error).message);
    return;
  }
  const run = rt.runs.find((r) => r.spec.name === container && !r.init) ?? rt.runs.find((r) => r.spec.name === container);
  if (!run) {
    rejectUpgrade(socket, 404, "NotFound", `container ${container} not found in pod ${ns}/${podName}`);
    return;
  }
  if (run.state.kind !== "running" || !rt.containerPid(container!)) {
    const st = run.state;
    const why = st.kind === "waiting" ? `waiting: ${st.reason}` : st.kind === "terminated" ? `terminated with exit code ${st.exitCode}` : "starting";
    rejectUpgrade(socket, 400, "BadRequest", `container ${container} in pod ${ns}/${podName} is not running (${why})`);
    return;
  }
  opts.log?.("exec", { pod: `${ns}/${podName}`, container, tty: request.options.tty, stdin: request.options.stdin });
  void serveExec(req, socket, head, {
    request, log: opts.log,
    start: () => rt.execStream(container!, request.command, { stdin: request.options.stdin, tty: request.options.tty }),
  });
}

function lastLines(text: string, n: number): string {
  if (n <= 0) return "";
  const lines = text.split("\n");
  const trailing = lines[lines.length - 1] === "" ? 1 : 0;
  return lines.slice(Math.max(0, lines.length - trailing - n)).join("\n");
}

export function startKubeletApi(opts: KubeletApiOptions): Promise<https.Server> {
  const server = https.createServer({
    cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key), ca: fs.readFileSync(opts.clientCa),
    requestCert: true, rejectUnauthorized: true,
  }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://kubelet");
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (/^\/exec\//.test(url.pathname)) {
      res.writeHead(400, { "Content-Type": "text/plain" }).end("exec needs an upgrade to SPDY/3.1\n");
      return;
    }
    if (req.method !== "GET" || !m) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("the sandbox node serves only /containerLogs and /exec\n");
      return;
    }
    const [, ns, podName, container] = m.map((x) => decodeURIComponent(x)) as [string, string, string, string];
    const rt = opts.findPod(ns, podName);
    if (!rt || !rt.runs.some((r) => r.spec.name === container)) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end(`container ${container} of pod ${ns}/${podName} not found on this node\n`);
      return;
    }
    const file = rt.logFile(container);
    let text = "";
    try { text = fs.readFileSync(file, "utf8"); } catch { /* not started yet */ }
    const tail = url.searchParams.get("tailLines");
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.write(tail !== null ? lastLines(text, Number(tail)) : text);
    if (url.searchParams.get("follow") !== "true") {
      res.end();
      return;
    }
    let offset = Buffer.byteLength(text);
    const timer = setInterval(() => {
      try {
        const size = fs.statSync(file).size;
        if (size > offset) {
          const fd = fs.openSync(file, "r");
          const buf = Buffer.alloc(size - offset);
          fs.readSync(fd, buf, 0, buf.length, offset);
          fs.closeSync(fd);
          offset = size;
          res.write(buf);
        }
      } catch { /* file rotated or pod gone */ }
      if (rt.terminated) { clearInterval(timer); res.end(); }
    }, 250);
    req.on("close", () => clearInterval(timer));
  });
  // Upgraded connections leave the HTTP server's bookkeeping: track them so that
  // closeAllConnections() (node shutdown) also ends exec sessions and their commands.
  const upgraded = new Set<Duplex>();
  const closeHttpConnections = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeHttpConnections();
    for (const s of upgraded) s.destroy();
  };
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once("close", () => upgraded.delete(socket));
    handleExec(opts, req, socket, head);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}

// The part of the kubelet API that `kubectl logs` needs: kube-apiserver proxies
// GET /containerLogs/{namespace}/{pod}/{container}?follow=&tailLines=&previous= to the
// node's kubeletEndpoint over TLS with its kubelet client certificate. Each sandbox
// node serves it on its own port; requests must present a client certificate signed
// by the cluster CA (the apiserver's), others are refused.
import fs from "node:fs";
import https from "node:https";
import type { PodRuntime } from "./pod-runtime.ts";

export interface KubeletApiOptions {
  host: string;
  port: number;
  cert: string;
  key: string;
  /** CA that signed the apiserver's kubelet client certificate. */
  clientCa: string;
  findPod(namespace: string, name: string): PodRuntime | undefined;
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
    if (req.method !== "GET" || !m) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("the sandbox node serves only /containerLogs\n");
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
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}

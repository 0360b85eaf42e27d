// The one way moco-ts serves HTTP (agent probes, metrics and clone API; controller
// health, metrics and webhooks): every request listener goes through
// `guardedListener`, so that no request, however malformed, can end the process.
//
// - The request target is parsed once, here. A target that is not a valid URL
//   (`GET http://[ HTTP/1.1`, which Node's parser accepts and `new URL` rejects) gets
//   400 before any route sees it.
// - A route that throws, or whose promise rejects, answers 500 (or, when the answer was
//   already started, has its connection closed) and the error is handed to `onError`;
//   it never becomes an uncaught exception or an unhandled rejection.
import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A route: the request, its response and the parsed request target. */
export type GuardedHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

/**
 * The request target of `req` as a URL: a path ("/healthz?x", origin form) on
 * http://localhost, or an absolute URL as sent; undefined when it is neither (the caller
 * answers 400).
 */
export function parseRequestTarget(req: Pick<IncomingMessage, "url">): URL | undefined {
  const target = req.url ?? "/";
  try {
    return target.startsWith("/") ? new URL(`http://localhost${target}`) : new URL(target);
  } catch {
    return undefined;
  }
}

function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Answers `status` with `body` as JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The request body, or undefined as soon as it exceeds `limit` bytes (the rest is not
 * read; the caller answers 413 or its own "too large" error).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function answerFailure(res: ServerResponse): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy();
    return;
  }
  sendText(res, 500, "internal error\n");
}

/**
 * Wraps `handler` so that a malformed request target gets 400 and a throwing or
 * rejecting handler gets 500; `onError` (a logger call) sees the error.
 */
export function guardedListener(handler: GuardedHandler, onError: (err: unknown) => void = () => undefined): RequestListener {
  return (req, res) => {
    const url = parseRequestTarget(req);
    if (url === undefined) {
      sendText(res, 400, "malformed request target\n");
      return;
    }
    const fail = (err: unknown) => {
      try {
        onError(err);
      } finally {
        answerFailure(res);
      }
    };
    try {
      const result = handler(req, res, url);
      if (result !== undefined) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  };
}

/** Listens on host:port ("" or undefined host = every address); resolves with the bound port. */
export function listenOn(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host === "" ? undefined : host, () => {
      server.off("error", reject);
      const a = server.address();
      resolve(typeof a === "object" && a !== null ? (a as AddressInfo).port : port);
    });
  });
}

/** Stops accepting, closes every open connection, resolves once the server closed. */
export function closeServer(server: Server | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

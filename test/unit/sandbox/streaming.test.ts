// SPDY/3.1 framing and the kubelet exec protocol (sandbox/streaming.ts): frame round
// trips, frames written by moby/spdystream (what kube-apiserver sends), header
// compression continuity, and a whole exec session over a real socket.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { PassThrough } from "node:stream";
import zlib from "node:zlib";
import {
  adler32, encodeFrame, encodeHeaderBlock, exitStatus, FLAG_FIN, FrameParser, HeaderCompressor, negotiateProtocol,
  parseExecQuery, parseHeaderBlock, serveExec, SPDY3_DICTIONARY, SpdyProtocolError, type ExecProcess, type SpdyFrame, type SpdyHeaders,
} from "../../../sandbox/streaming.ts";

// Written by github.com/moby/spdystream v0.5.0's spdy.Framer (the framer kube-apiserver's
// SPDY client uses): SYN_STREAM 1 {streamtype: error}, SYN_STREAM 3 {stdin}, SYN_STREAM 5
// {stdout} priority 3, DATA 3 "hello", DATA 3 FIN, PING 1, SYN_REPLY 2 {}, RST_STREAM 5
// CANCEL, GOAWAY 5 OK.
const GO_FRAMES = "80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff" +
  "800300010000001700000003000000000000c22e555c92929907000000ffff800300010000001900000005000000006000c22ac5565c92925f5a" +
  "02000000ffff000000030000000568656c6c6f0000000301000000800300060000000400000001800300020000000e000000026260606000000000" +
  "ffff8003000300000008000000050000000580030007000000080000000500000000";

describe("SPDY/3 framing", () => {
  it("has the SPDY/3 dictionary", () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    // The dictionary id Go's zlib writer put into GO_FRAMES' zlib header (bytes 2..5 of the first block).
    assert.equal(adler32(SPDY3_DICTIONARY), Buffer.from(GO_FRAMES, "hex").readUInt32BE(20));
  });

  it("reads the frames spdystream writes, split at every byte", () => {
    const raw = Buffer.from(GO_FRAMES, "hex");
    const expected: SpdyFrame[] = [
      { type: "syn_stream", streamId: 1, associatedToStreamId: 0, priority: 0, slot: 0, flags: 0, headers: { streamtype: ["error"] } },
      { type: "syn_stream", streamId: 3, associatedToStreamId: 0, priority: 0, slot: 0, flags: 0, headers: { streamtype: ["stdin"] } },
      { type: "syn_stream", streamId: 5, associatedToStreamId: 0, priority: 3, slot: 0, flags: 0, headers: { streamtype: ["stdout"] } },
      { type: "data", streamId: 3, flags: 0, data: Buffer.from("hello") },
      { type: "data", streamId: 3, flags: FLAG_FIN, data: Buffer.alloc(0) },
      { type: "ping", id: 1 },
      { type: "syn_reply", streamId: 2, flags: 0, headers: {} },
      { type: "rst_stream", streamId: 5, status: 5 },
      { type: "goaway", lastGoodStreamId: 5, status: 0 },
    ];
    assert.deepEqual(new FrameParser().push(raw), expected);
    const p = new FrameParser();
    const got: SpdyFrame[] = [];
    for (let i = 0; i < raw.length; i++) got.push(...p.push(raw.subarray(i, i + 1)));
    assert.deepEqual(got, expected);
    assert.equal(p.pending, 0);
  });

  it("round-trips every frame type, header blocks continuing one zlib stream", () => {
    const frames: SpdyFrame[] = [
      { type: "syn_stream", streamId: 1, associatedToStreamId: 0, priority: 7, slot: 0, flags: FLAG_FIN, headers: { streamtype: ["error"], multi: ["a", "b"] } },
      { type: "syn_reply", streamId: 1, flags: 0, headers: {} },
      { type: "syn_reply", streamId: 3, flags: FLAG_FIN, headers: { big: ["x".repeat(70_000)] } },
      { type: "headers", streamId: 3, flags: 0, headers: { "x-y": ["z"] } },
      { type: "data", streamId: 7, flags: 0, data: Buffer.from([0, 1, 2, 255]) },
      { type: "data", streamId: 0x7fffffff, flags: FLAG_FIN, data: Buffer.alloc(0) },
      { type: "rst_stream", streamId: 9, status: 6 },
      { type: "settings", flags: 1, entries: [{ flags: 1, id: 7, value: 65536 }, { flags: 0, id: 4, value: 100 }] },
      { type: "ping", id: 0xfffffffe },
      { type: "goaway", lastGoodStreamId: 11, status: 2 },
      { type: "window_update", streamId: 13, delta: 0x7fffffff },
      { type: "unknown", frameType: 0x20, flags: 3, payload: Buffer.from("opaque") },
    ];
    const c = new HeaderCompressor();
    const wire = Buffer.concat(frames.map((f) => encodeFrame(f, c)));
    assert.deepEqual(new FrameParser().push(wire), frames);
    // The header blocks alone are one zlib stream with the dictionary, as any SPDY peer reads them.
    const c2 = new HeaderCompressor();
    const blocks = ([{ a: ["1"] }, { b: ["2", "3"] }] as SpdyHeaders[]).map((h) => c2.compress(encodeHeaderBlock(h)));
    const inflated = zlib.inflateSync(Buffer.concat(blocks), { dictionary: SPDY3_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    assert.deepEqual(inflated, Buffer.concat([encodeHeaderBlock({ a: ["1"] }), encodeHeaderBlock({ b: ["2", "3"] })]));
    // Every block ends on a sync flush (Go's compress/flate releases a block's data only there).
    for (const b of blocks) assert.equal(b.subarray(-5).toString("hex"), "000000ffff");
  });

  it("lower-cases header names and rejects truncated blocks and other versions", () => {
    assert.deepEqual(parseHeaderBlock(encodeHeaderBlock({ StreamType: ["stdout"] })), { streamtype: ["stdout"] });
    assert.throws(() => parseHeaderBlock(encodeHeaderBlock({ a: ["b"] }).subarray(0, 10)), SpdyProtocolError);
    const v2 = encodeFrame({ type: "ping", id: 1 }, new HeaderCompressor());
    v2.writeUInt16BE(0x8002, 0);
    assert.throws(() => new FrameParser().push(v2), /unsupported SPDY version 2/);
    assert.throws(() => new FrameParser().push(Buffer.from("0000000000000000", "hex")), /stream 0/);
  });
});

describe("exec protocol helpers", () => {
  it("negotiates like the kubelet: the client's first choice among v4, v3, v2", () => {
    assert.equal(negotiateProtocol("v5.channel.k8s.io, v4.channel.k8s.io,v3.channel.k8s.io"), "v4.channel.k8s.io");
    assert.equal(negotiateProtocol(["v2.channel.k8s.io", "v4.channel.k8s.io"]), "v2.channel.k8s.io");
    assert.equal(negotiateProtocol("v5.channel.k8s.io"), "");
    assert.equal(negotiateProtocol(undefined), "");
  });

  it("parses the exec query; stderr is folded into the tty", () => {
    const q = new URLSearchParams("command=sh&command=-c&command=echo+a+b&input=1&output=1&error=1");
    assert.deepEqual(parseExecQuery(q), { command: ["sh", "-c", "echo a b"], options: { stdin: true, stdout: true, stderr: true, tty: false } });
    assert.equal(parseExecQuery(new URLSearchParams("command=sh&output=1&error=1&tty=1")).options.stderr, false);
    assert.throws(() => parseExecQuery(new URLSearchParams("command=sh")), /at least 1 of stdin, stdout, stderr/);
  });

  it("reports exit codes as client-go's v4 decoder expects", () => {
    assert.deepEqual(exitStatus(0, ["true"]), { metadata: {}, status: "Success" });
    const s = exitStatus(3, ["sh", "-c", "exit 3"]);
    assert.equal(s.reason, "NonZeroExitCode");
    assert.deepEqual(s.details, { causes: [{ reason: "ExitCode", message: "3" }] });
  });
});

/** A minimal SPDY client over a socket, built from the same codec (the apiserver side). */
class TestClient {
  readonly socket: net.Socket;
  private readonly parser = new FrameParser();
  private readonly compressor = new HeaderCompressor();
  readonly data = new Map<number, Buffer[]>();
  readonly fin = new Set<number>();
  readonly frames: SpdyFrame[] = [];
  private waiters: (() => void)[] = [];

  constructor(socket: net.Socket, head: Buffer) {
    this.socket = socket;
    const onFrames = (chunk: Buffer) => {
      for (const f of this.parser.push(chunk)) {
        this.frames.push(f);
        if (f.type === "data") {
          if (f.data.length) (this.data.get(f.streamId) ?? this.data.set(f.streamId, []).get(f.streamId)!).push(f.data);
          if (f.flags & FLAG_FIN) this.fin.add(f.streamId);
        }
      }
      for (const w of this.waiters.splice(0)) w();
    };
    socket.on("data", onFrames);
    if (head.length) onFrames(head);
  }

  send(f: SpdyFrame): void {
    this.socket.write(encodeFrame(f, this.compressor));
  }

  text(id: number): string {
    return Buffer.concat(this.data.get(id) ?? []).toString();
  }

  async until(cond: () => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error("timed out");
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
  }
}

function upgrade(port: number, query: string, protocols: string): Promise<{ socket: net.Socket; head: Buffer; status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, host: "127.0.0.1", method: "POST", path: `/exec/ns/pod/c?${query}`,
      headers: { Connection: "Upgrade", Upgrade: "SPDY/3.1", "X-Stream-Protocol-Version": protocols } });
    req.on("upgrade", (res, socket, head) => resolve({ socket, head, status: res.statusCode ?? 0, headers: res.headers, body: "" }));
    req.on("response", (res) => {
      let body = "";
      res.on("data", (d: Buffer) => { body += d.toString(); });
      res.on("end", () => resolve({ socket: res.socket, head: Buffer.alloc(0), status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("serveExec over a socket", () => {
  /** A fake command: echoes stdin to stdout upper-cased, writes "warn" to stderr, exits 7. */
  function fakeProcess(): ExecProcess & { resized: [number, number][] } {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const resized: [number, number][] = [];
    const exited = new Promise<number>((resolve) => {
      const chunks: Buffer[] = [];
      stdin.on("data", (d: Buffer) => chunks.push(d));
      stdin.on("end", () => {
        stdout.end(Buffer.concat(chunks).toString().toUpperCase());
        stderr.end("warn");
        resolve(7);
      });
    });
    return { stdin, stdout, stderr, exited, resize: (w, h) => resized.push([w, h]), kill: () => undefined, resized };
  }

  it("runs a session: replies to streams, pipes stdin, half-closes outputs, reports the exit code", async () => {
    let proc: ReturnType<typeof fakeProcess> | undefined;
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    server.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://x");
      void serveExec(req, socket, head, { request: parseExecQuery(url.searchParams), start: () => (proc = fakeProcess()) });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const up = await upgrade(port, "command=x&input=1&output=1&error=1", "v5.channel.k8s.io,v4.channel.k8s.io");
      assert.equal(up.status, 101);
      assert.equal(up.headers["x-stream-protocol-version"], "v4.channel.k8s.io");
      const c = new TestClient(up.socket, up.head);
      const types = ["error", "stdin", "stdout", "stderr"];
      types.forEach((t, i) => c.send({ type: "syn_stream", streamId: 1 + 2 * i, associatedToStreamId: 0, priority: 0, slot: 0, flags: 0, headers: { streamtype: [t] } }));
      await c.until(() => c.frames.filter((f) => f.type === "syn_reply").length === 4);
      c.send({ type: "ping", id: 1 });
      await c.until(() => c.frames.some((f) => f.type === "ping"));
      const payload = Buffer.from("abc".repeat(50_000));
      c.send({ type: "data", streamId: 3, flags: 0, data: payload });
      c.send({ type: "data", streamId: 3, flags: FLAG_FIN, data: Buffer.alloc(0) });
      await c.until(() => c.fin.has(1));
      assert.ok(c.fin.has(5) && c.fin.has(7), "stdout and stderr were half-closed before the status");
      assert.equal(c.text(5), payload.toString().toUpperCase());
      assert.equal(c.text(7), "warn");
      const status = JSON.parse(c.text(1)) as { status: string; reason: string; details: { causes: { reason: string; message: string }[] } };
      assert.equal(status.status, "Failure");
      assert.deepEqual(status.details.causes, [{ reason: "ExitCode", message: "7" }]);
      assert.ok(proc);
      up.socket.destroy();
    } finally {
      server.close();
    }
  });

  it("refuses an upgrade without a protocol it speaks", async () => {
    const server = http.createServer();
    server.on("upgrade", (req, socket, head) => {
      void serveExec(req, socket, head, { request: { command: ["x"], options: { stdin: false, stdout: true, stderr: false, tty: false } }, start: () => { throw new Error("not reached"); } });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const up = await upgrade((server.address() as net.AddressInfo).port, "command=x&output=1", "v5.channel.k8s.io");
      assert.equal(up.status, 403);
      assert.match(up.body, /unable to negotiate protocol/);
    } finally {
      server.close();
    }
  });
});

// The kubelet's streaming protocol for `kubectl exec`, server side.
//
// kubectl 1.34 talks WebSocket (v5.channel.k8s.io) to kube-apiserver; the apiserver's
// stream translator (feature TranslateStreamCloseWebsocketRequests, on by default)
// turns that into a SPDY/3.1 client towards the kubelet, exactly like kubectl's own
// SPDY fallback which the apiserver proxies byte for byte. So the kubelet side is
// always: an HTTP/1.1 upgrade to `SPDY/3.1`, a sub-protocol negotiated with
// `X-Stream-Protocol-Version` (the kubelet accepts v4/v3/v2.channel.k8s.io), then one
// SPDY stream per channel, each created by the client with a `streamType` header:
// error, stdin, stdout, stderr, resize. The server replies to every SYN_STREAM,
// waits for all the streams the query asked for (input/output/error/tty), runs the
// command, half-closes stdout/stderr when the command's output ends, and reports the
// result on the error stream: with v4 a metav1.Status JSON (Success, or Failure with
// reason NonZeroExitCode and the exit code as cause "ExitCode"), with v2/v3 a plain
// message for failures only. Upstream: k8s.io/kubelet/pkg/cri/streaming/remotecommand
// (server), k8s.io/client-go/tools/remotecommand (client), github.com/moby/spdystream
// (framing), and the SPDY/3 draft (draft-mbelshe-httpbis-spdy-00).
//
// SPDY/3 framing, as far as spdystream uses it:
//   control frame: 1 | version(15) | type(16) | flags(8) | length(24) | payload
//   data frame:    0 | stream-id(31) | flags(8) | length(24) | data
// SYN_STREAM, SYN_REPLY and HEADERS carry a name/value header block compressed with
// zlib using the SPDY/3 dictionary, one zlib stream per direction for the whole
// connection, each block ending on a sync flush. We send our (tiny) blocks as stored
// deflate blocks followed by the sync-flush marker, which every inflater accepts; incoming blocks are inflated with
// node:zlib. spdystream implements no flow control (WINDOW_UPDATE and SETTINGS are
// parsed and ignored on both sides), so neither do we beyond TCP back-pressure.
import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import { Duplex, type Readable, type Writable } from "node:stream";
import zlib from "node:zlib";

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1, SYN_REPLY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, HEADERS: 8, WINDOW_UPDATE: 9,
} as const;

/** FLAG_FIN for data frames and SYN_STREAM/SYN_REPLY/HEADERS. */
export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, UNSUPPORTED_VERSION: 4, CANCEL: 5, INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7, STREAM_IN_USE: 8, STREAM_ALREADY_CLOSED: 9, FRAME_TOO_LARGE: 11,
} as const;

export const GoAwayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

/** Largest payload of one frame (24-bit length). */
export const MAX_FRAME_PAYLOAD = 0xffffff;

/** Header names are lower case; a value list is sent NUL-separated. */
export type SpdyHeaders = Record<string, string[]>;

export type SpdyFrame =
  | { type: "data"; streamId: number; flags: number; data: Buffer }
  | { type: "syn_stream"; streamId: number; associatedToStreamId: number; priority: number; slot: number; flags: number; headers: SpdyHeaders }
  | { type: "syn_reply"; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: "headers"; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: "rst_stream"; streamId: number; status: number }
  | { type: "settings"; flags: number; entries: { flags: number; id: number; value: number }[] }
  | { type: "ping"; id: number }
  | { type: "goaway"; lastGoodStreamId: number; status: number }
  | { type: "window_update"; streamId: number; delta: number }
  /** A control frame of a type SPDY/3 does not define: receivers ignore it. */
  | { type: "unknown"; frameType: number; flags: number; payload: Buffer };

export class SpdyProtocolError extends Error {}

// ---- header compression ----

const DICTIONARY_WORDS = [
  "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding", "accept-language",
  "accept-ranges", "age", "allow", "authorization", "cache-control", "connection", "content-base", "content-encoding",
  "content-language", "content-length", "content-location", "content-md5", "content-range", "content-type", "date",
  "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range",
  "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate",
  "proxy-authorization", "range", "referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
  "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK", "version",
  "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
];
const DICTIONARY_TAIL = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505" +
  "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden" +
  "404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug " +
  "Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif," +
  "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8" +
  "charset=iso-8859-1,utf-,*,enq=0.";

/** The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1), 1423 bytes. */
export const SPDY3_DICTIONARY: Buffer = Buffer.concat([
  ...DICTIONARY_WORDS.map((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return Buffer.concat([len, Buffer.from(w, "latin1")]);
  }),
  Buffer.from(DICTIONARY_TAIL, "latin1"),
]);

export function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < buf.length; i++) {
    a = (a + buf[i]!) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  const names = Object.keys(headers);
  parts.push(u32(names.length));
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase(), "utf8");
    const v = Buffer.from(headers[name]!.join("\0"), "utf8");
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function parseHeaderBlock(buf: Buffer): SpdyHeaders {
  let off = 0;
  const need = (n: number) => { if (off + n > buf.length) throw new SpdyProtocolError("truncated header block"); };
  need(4);
  const count = buf.readUInt32BE(off); off += 4;
  const headers: SpdyHeaders = {};
  for (let i = 0; i < count; i++) {
    need(4);
    const nl = buf.readUInt32BE(off); off += 4;
    need(nl);
    const name = buf.toString("utf8", off, off + nl).toLowerCase(); off += nl;
    need(4);
    const vl = buf.readUInt32BE(off); off += 4;
    need(vl);
    const value = buf.toString("utf8", off, off + vl); off += vl;
    if (name === "") throw new SpdyProtocolError("empty header name");
    (headers[name] ??= []).push(...value.split("\0"));
  }
  return headers;
}

/**
 * The sending side of a connection's header compression: one zlib stream (with the
 * SPDY/3 dictionary) continued by every header block. Blocks are stored, not
 * compressed: valid deflate that needs no asynchronous zlib call.
 */
export class HeaderCompressor {
  private started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      const cmf = 0x78; // deflate, 32 KiB window
      let flg = 0x20; // FDICT, FLEVEL 0
      flg += 31 - ((cmf * 256 + flg) % 31 || 31);
      const dictId = Buffer.alloc(4);
      dictId.writeUInt32BE(adler32(SPDY3_DICTIONARY));
      parts.push(Buffer.from([cmf, flg]), dictId);
    }
    for (let off = 0; off < block.length || off === 0; off += 0xffff) {
      const chunk = block.subarray(off, off + 0xffff);
      const hdr = Buffer.alloc(5);
      hdr[0] = 0x00; // BFINAL=0, BTYPE=00 (stored), padded to the byte boundary
      hdr.writeUInt16LE(chunk.length, 1);
      hdr.writeUInt16LE(~chunk.length & 0xffff, 3);
      parts.push(hdr, chunk);
      if (block.length === 0) break;
    }
    // The sync-flush marker: an empty stored block. Inflaters (Go's compress/flate
    // among them) hand out a block's data only when they reach it.
    parts.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

/** Largest amount of compressed header data one connection may send us. */
const MAX_COMPRESSED_HEADERS = 1 << 20;

/**
 * The receiving side: inflates each block as the continuation of the connection's
 * zlib stream. node:zlib has no synchronous streaming inflater, so every block is
 * inflated together with the blocks before it (sync flush, no Z_FINISH) and the new
 * output is the part past what was already returned. Header blocks are few and small
 * (an exec session has five); the total is capped.
 */
export class HeaderDecompressor {
  private input: Buffer[] = [];
  private inputLength = 0;
  private produced = 0;

  decompress(chunk: Buffer): Buffer {
    this.inputLength += chunk.length;
    if (this.inputLength > MAX_COMPRESSED_HEADERS) throw new SpdyProtocolError("too much header data on one connection");
    this.input.push(chunk);
    let out: Buffer;
    try {
      out = zlib.inflateSync(Buffer.concat(this.input), { dictionary: SPDY3_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (e) {
      throw new SpdyProtocolError(`header block does not inflate: ${(e as Error).message}`);
    }
    const block = out.subarray(this.produced);
    this.produced = out.length;
    return Buffer.from(block);
  }
}

// ---- frames ----

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError("frame too large");
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(((flags & 0xff) << 24 | payload.length) >>> 0, 4);
  return Buffer.concat([h, payload]);
}

function u32s(...ns: number[]): Buffer {
  const b = Buffer.alloc(4 * ns.length);
  ns.forEach((n, i) => b.writeUInt32BE(n >>> 0, 4 * i));
  return b;
}

/** Serialises a frame; header blocks go through the connection's compressor. */
export function encodeFrame(frame: SpdyFrame, compressor: HeaderCompressor): Buffer {
  switch (frame.type) {
    case "data": {
      if (frame.data.length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError("data frame too large");
      const h = Buffer.alloc(8);
      h.writeUInt32BE(frame.streamId & 0x7fffffff, 0);
      h.writeUInt32BE(((frame.flags & 0xff) << 24 | frame.data.length) >>> 0, 4);
      return Buffer.concat([h, frame.data]);
    }
    case "syn_stream": {
      const fixed = Buffer.alloc(10);
      fixed.writeUInt32BE(frame.streamId & 0x7fffffff, 0);
      fixed.writeUInt32BE(frame.associatedToStreamId & 0x7fffffff, 4);
      fixed[8] = (frame.priority & 0x7) << 5;
      fixed[9] = frame.slot & 0xff;
      return controlFrame(FrameType.SYN_STREAM, frame.flags, Buffer.concat([fixed, compressor.compress(encodeHeaderBlock(frame.headers))]));
    }
    case "syn_reply":
    case "headers":
      return controlFrame(frame.type === "syn_reply" ? FrameType.SYN_REPLY : FrameType.HEADERS, frame.flags,
        Buffer.concat([u32s(frame.streamId & 0x7fffffff), compressor.compress(encodeHeaderBlock(frame.headers))]));
    case "rst_stream":
      return controlFrame(FrameType.RST_STREAM, 0, u32s(frame.streamId & 0x7fffffff, frame.status));
    case "settings":
      return controlFrame(FrameType.SETTINGS, frame.flags,
        u32s(frame.entries.length, ...frame.entries.flatMap((e) => [((e.flags & 0xff) << 24 | (e.id & 0xffffff)) >>> 0, e.value])));
    case "ping":
      return controlFrame(FrameType.PING, 0, u32s(frame.id));
    case "goaway":
      return controlFrame(FrameType.GOAWAY, 0, u32s(frame.lastGoodStreamId & 0x7fffffff, frame.status));
    case "window_update":
      return controlFrame(FrameType.WINDOW_UPDATE, 0, u32s(frame.streamId & 0x7fffffff, frame.delta & 0x7fffffff));
    case "unknown":
      return controlFrame(frame.frameType, frame.flags, frame.payload);
  }
}

/** Incremental frame parser for one direction of a connection. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  private readonly decompressor: HeaderDecompressor;

  constructor(decompressor = new HeaderDecompressor()) {
    this.decompressor = decompressor;
  }

  /** Adds received bytes; returns the frames they complete. Throws SpdyProtocolError. */
  push(chunk: Buffer): SpdyFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: SpdyFrame[] = [];
    while (this.buf.length >= 8) {
      const length = this.buf.readUInt32BE(4) & 0xffffff;
      if (this.buf.length < 8 + length) break;
      const head = this.buf.subarray(0, 8);
      const payload = this.buf.subarray(8, 8 + length);
      this.buf = this.buf.subarray(8 + length);
      frames.push(this.parse(head, Buffer.from(payload)));
    }
    return frames;
  }

  /** Bytes received that do not form a whole frame yet. */
  get pending(): number {
    return this.buf.length;
  }

  private parse(head: Buffer, payload: Buffer): SpdyFrame {
    const first = head.readUInt32BE(0);
    const flags = head[4]!;
    if ((first & 0x80000000) === 0) {
      const streamId = first & 0x7fffffff;
      if (streamId === 0) throw new SpdyProtocolError("data frame for stream 0");
      return { type: "data", streamId, flags, data: payload };
    }
    const version = (first >>> 16) & 0x7fff;
    const type = first & 0xffff;
    if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
    const need = (n: number) => { if (payload.length < n) throw new SpdyProtocolError(`control frame type ${type} too short`); };
    switch (type) {
      case FrameType.SYN_STREAM: {
        need(10);
        const streamId = payload.readUInt32BE(0) & 0x7fffffff;
        if (streamId === 0) throw new SpdyProtocolError("SYN_STREAM for stream 0");
        return {
          type: "syn_stream", streamId, associatedToStreamId: payload.readUInt32BE(4) & 0x7fffffff,
          priority: payload[8]! >> 5, slot: payload[9]!, flags,
          headers: parseHeaderBlock(this.decompressor.decompress(payload.subarray(10))),
        };
      }
      case FrameType.SYN_REPLY:
      case FrameType.HEADERS: {
        need(4);
        const streamId = payload.readUInt32BE(0) & 0x7fffffff;
        const headers = parseHeaderBlock(this.decompressor.decompress(payload.subarray(4)));
        return { type: type === FrameType.SYN_REPLY ? "syn_reply" : "headers", streamId, flags, headers };
      }
      case FrameType.RST_STREAM:
        need(8);
        return { type: "rst_stream", streamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) };
      case FrameType.SETTINGS: {
        need(4);
        const n = payload.readUInt32BE(0);
        need(4 + 8 * n);
        const entries = Array.from({ length: n }, (_, i) => {
          const fid = payload.readUInt32BE(4 + 8 * i);
          return { flags: fid >>> 24, id: fid & 0xffffff, value: payload.readUInt32BE(8 + 8 * i) };
        });
        return { type: "settings", flags, entries };
      }
      case FrameType.PING:
        need(4);
        return { type: "ping", id: payload.readUInt32BE(0) };
      case FrameType.GOAWAY:
        need(8);
        return { type: "goaway", lastGoodStreamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) };
      case FrameType.WINDOW_UPDATE:
        need(8);
        return { type: "window_update", streamId: payload.readUInt32BE(0) & 0x7fffffff, delta: payload.readUInt32BE(4) & 0x7fffffff };
      default:
        return { type: "unknown", frameType: type, flags, payload };
    }
  }
}

// ---- server connection ----

/** Largest DATA frame we send (spdystream reads any size; this keeps streams interleaved). */
const DATA_CHUNK = 32 * 1024;

/** One stream a client opened: readable = what the client sends, writable = what we send. */
export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: SpdyHeaders;
  private readonly session: SpdyServerSession;
  /** We sent FIN or RST. */
  localClosed = false;
  /** The client sent FIN or RST. */
  remoteClosed = false;

  constructor(session: SpdyServerSession, id: number, headers: SpdyHeaders) {
    super({ allowHalfOpen: true });
    this.session = session;
    this.id = id;
    this.headers = headers;
  }

  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.localClosed) { cb(new Error(`stream ${this.id} is closed`)); return; }
    let ok = true;
    for (let off = 0; off < chunk.length; off += DATA_CHUNK) {
      ok = this.session.send({ type: "data", streamId: this.id, flags: 0, data: chunk.subarray(off, off + DATA_CHUNK) });
    }
    if (ok) cb(); else this.session.onDrain(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.localClosed) {
      this.localClosed = true;
      this.session.send({ type: "data", streamId: this.id, flags: FLAG_FIN, data: Buffer.alloc(0) });
    }
    this.session.forgetIfDone(this);
    cb();
  }

  override _read(): void {
    this.session.resumeFor(this);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.localClosed || !this.remoteClosed) {
      if (!this.localClosed) this.session.send({ type: "rst_stream", streamId: this.id, status: RstStatus.CANCEL });
      this.localClosed = true;
      this.remoteClosed = true;
    }
    this.session.forget(this);
    cb(err);
  }

  /** Data from the client. */
  deliver(data: Buffer): void {
    if (this.remoteClosed) return;
    if (data.length && !this.push(data)) this.session.pauseFor(this);
  }

  remoteFinish(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    this.push(null);
    this.session.forgetIfDone(this);
  }

  /** The client reset the stream (or the connection went away). */
  remoteReset(): void {
    this.remoteClosed = true;
    this.localClosed = true;
    this.push(null);
    this.destroy();
  }
}

export interface SpdyServerSessionOptions {
  /** Decides whether to accept a stream the client opens (false: RST REFUSED_STREAM). */
  acceptStream?(stream: SpdyStream): boolean;
  log?(msg: string, extra?: Record<string, unknown>): void;
}

/**
 * The server end of a SPDY/3.1 connection over an upgraded socket. Emits "stream"
 * (SpdyStream) for each stream the client opens, after replying with SYN_REPLY, and
 * "close" once the socket is gone.
 */
export class SpdyServerSession extends EventEmitter {
  readonly socket: Duplex;
  private readonly opts: SpdyServerSessionOptions;
  private readonly parser = new FrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly paused = new Set<SpdyStream>();
  private lastClientStreamId = 0;
  private closed = false;
  private goneAway = false;

  constructor(socket: Duplex, opts: SpdyServerSessionOptions = {}, head?: Buffer) {
    super();
    this.socket = socket;
    this.opts = opts;
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (e: Error) => this.opts.log?.("spdy connection error", { error: e.message }));
    socket.on("close", () => this.teardown());
    socket.on("end", () => this.teardown());
    if (head?.length) this.receive(head);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Writes a frame; false when the socket buffer is full (wait with onDrain). */
  send(frame: SpdyFrame): boolean {
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) return true;
    return this.socket.write(encodeFrame(frame, this.compressor));
  }

  onDrain(cb: () => void): void {
    if (this.closed) { cb(); return; }
    const done = () => { this.socket.off("drain", done); this.off("close", done); cb(); };
    this.socket.once("drain", done);
    this.once("close", done);
  }

  pauseFor(stream: SpdyStream): void {
    this.paused.add(stream);
    this.socket.pause();
  }

  resumeFor(stream: SpdyStream): void {
    if (this.paused.delete(stream) && this.paused.size === 0 && !this.closed) this.socket.resume();
  }

  forget(stream: SpdyStream): void {
    this.streams.delete(stream.id);
    this.resumeFor(stream);
  }

  forgetIfDone(stream: SpdyStream): void {
    if (stream.localClosed && stream.remoteClosed) this.streams.delete(stream.id);
  }

  /** Sends GOAWAY and ends the connection. */
  close(status: number = GoAwayStatus.OK): void {
    if (this.closed) return;
    if (!this.goneAway) {
      this.goneAway = true;
      this.send({ type: "goaway", lastGoodStreamId: this.lastClientStreamId, status });
    }
    this.socket.end();
    // A client that never closes its side is cut off.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    let frames: SpdyFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (e) {
      this.opts.log?.("spdy protocol error", { error: (e as Error).message });
      this.close(GoAwayStatus.PROTOCOL_ERROR);
      return;
    }
    for (const f of frames) this.handle(f);
  }

  private handle(f: SpdyFrame): void {
    switch (f.type) {
      case "syn_stream": {
        if (f.streamId % 2 !== 1 || f.streamId <= this.lastClientStreamId) {
          this.send({ type: "rst_stream", streamId: f.streamId, status: RstStatus.PROTOCOL_ERROR });
          return;
        }
        this.lastClientStreamId = f.streamId;
        if (this.goneAway) {
          this.send({ type: "rst_stream", streamId: f.streamId, status: RstStatus.REFUSED_STREAM });
          return;
        }
        const stream = new SpdyStream(this, f.streamId, f.headers);
        if (this.opts.acceptStream && !this.opts.acceptStream(stream)) {
          stream.localClosed = true;
          stream.remoteClosed = true;
          this.send({ type: "rst_stream", streamId: f.streamId, status: RstStatus.REFUSED_STREAM });
          return;
        }
        this.streams.set(f.streamId, stream);
        if (f.flags & FLAG_UNIDIRECTIONAL) stream.localClosed = true;
        this.send({ type: "syn_reply", streamId: f.streamId, flags: 0, headers: {} });
        if (f.flags & FLAG_FIN) stream.remoteFinish();
        this.emit("stream", stream);
        return;
      }
      case "data": {
        const s = this.streams.get(f.streamId);
        if (!s) {
          if (f.streamId > this.lastClientStreamId) this.send({ type: "rst_stream", streamId: f.streamId, status: RstStatus.INVALID_STREAM });
          return;
        }
        s.deliver(f.data);
        if (f.flags & FLAG_FIN) s.remoteFinish();
        return;
      }
      case "headers": {
        if (f.flags & FLAG_FIN) this.streams.get(f.streamId)?.remoteFinish();
        return;
      }
      case "rst_stream":
        this.streams.get(f.streamId)?.remoteReset();
        return;
      case "ping":
        // Client pings have odd ids; echo them. Even ids would answer our own pings (we send none).
        if (f.id % 2 === 1) this.send(f);
        return;
      case "goaway":
        this.goneAway = true;
        return;
      case "syn_reply":
        // We open no streams.
        this.send({ type: "rst_stream", streamId: f.streamId, status: RstStatus.PROTOCOL_ERROR });
        return;
      case "settings":
      case "window_update":
      case "unknown":
        return;
    }
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.remoteReset();
    this.streams.clear();
    if (!this.socket.destroyed) this.socket.destroy();
    this.emit("close");
  }
}

// ---- remotecommand (exec) ----

export const StreamProtocol = {
  V4: "v4.channel.k8s.io",
  V3: "v3.channel.k8s.io",
  V2: "v2.channel.k8s.io",
} as const;
/** What the kubelet's SPDY server accepts, in its order (v5 is WebSocket-only). */
export const SUPPORTED_PROTOCOLS: readonly string[] = [StreamProtocol.V4, StreamProtocol.V3, StreamProtocol.V2];

export const StreamType = { ERROR: "error", STDIN: "stdin", STDOUT: "stdout", STDERR: "stderr", RESIZE: "resize" } as const;

export interface ExecStreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface ExecRequest {
  command: string[];
  options: ExecStreamOptions;
}

/** Parses the kubelet's exec query (command=..&command=..&input=1&output=1&error=1&tty=1). */
export function parseExecQuery(params: URLSearchParams): ExecRequest {
  const flag = (name: string) => params.get(name) === "1";
  const tty = flag("tty");
  const options = { stdin: flag("input"), stdout: flag("output"), stderr: flag("error") && !tty, tty };
  if (!options.stdin && !options.stdout && !options.stderr) throw new Error("you must specify at least 1 of stdin, stdout, stderr");
  const command = params.getAll("command");
  if (command.length === 0) throw new Error("no command given");
  return { command, options };
}

/** A command started for an exec session. */
export interface ExecProcess {
  /** Present when stdin was asked for. */
  stdin: Writable | null;
  stdout: Readable | null;
  /** Null with a tty (the terminal carries both). */
  stderr: Readable | null;
  /** Resolves with the exit status (128+signal when killed) once the process is gone. */
  exited: Promise<number>;
  /** Terminal size changes (tty only). */
  resize(width: number, height: number): void;
  kill(): void;
}

/** The JSON of a metav1.Status the v4 error stream carries. */
export interface ExecStatus {
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes: { reason?: string; message: string }[] };
}

export function exitStatus(code: number, command: string[]): ExecStatus {
  if (code === 0) return { metadata: {}, status: "Success" };
  return {
    metadata: {}, status: "Failure", reason: "NonZeroExitCode",
    message: `command terminated with non-zero exit code: error executing command [${command.join(" ")}], exit code ${code}`,
    details: { causes: [{ reason: "ExitCode", message: String(code & 0xff) }] },
  };
}

export function internalErrorStatus(message: string): ExecStatus {
  return {
    metadata: {}, status: "Failure", code: 500, reason: "InternalError",
    message: `Internal error occurred: ${message}`, details: { causes: [{ message }] },
  };
}

/** What goes on the error stream: v4 sends the JSON status, v2/v3 the message of failures only. */
export function encodeErrorStream(protocol: string, status: ExecStatus): Buffer {
  if (protocol === StreamProtocol.V4) return Buffer.from(JSON.stringify(status));
  return status.status === "Success" ? Buffer.alloc(0) : Buffer.from(status.message ?? "error");
}

/** Picks the first protocol of the client's list the server supports ("" if none). */
export function negotiateProtocol(headerValue: string | string[] | undefined, supported: readonly string[] = SUPPORTED_PROTOCOLS): string {
  const values = Array.isArray(headerValue) ? headerValue : headerValue === undefined ? [] : [headerValue];
  const client = values.flatMap((v) => v.split(",")).map((s) => s.trim()).filter(Boolean);
  return client.find((p) => supported.includes(p)) ?? "";
}

/** Answers an upgrade request without upgrading: an HTTP error whose body is a metav1.Status. */
export function rejectUpgrade(socket: Duplex, code: number, reason: string, message: string, extraHeaders: Record<string, string> = {}): void {
  const body = JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });
  const text: Record<number, string> = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error" };
  const head = [`HTTP/1.1 ${code} ${text[code] ?? "Error"}`, "Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close", ...Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}`)];
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
}

export function isSpdyUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? "").toLowerCase().split(",").some((p) => p.trim() === "spdy/3.1");
}

export interface ServeExecOptions {
  request: ExecRequest;
  /** Starts the command; throwing reports an internal error on the error stream. */
  start(): ExecProcess;
  /** How long the client has to open every stream (kubelet: 30 s). */
  streamCreationTimeoutMs?: number;
  log?(msg: string, extra?: Record<string, unknown>): void;
}

/**
 * Serves one exec request arriving as an HTTP upgrade: negotiates the protocol,
 * switches to SPDY/3.1, waits for the streams, runs the command and reports its exit
 * status. Resolves when the session is over.
 */
export function serveExec(req: IncomingMessage, socket: Duplex, head: Buffer, opts: ServeExecOptions): Promise<void> {
  if (!isSpdyUpgrade(req)) {
    rejectUpgrade(socket, 400, "BadRequest", `unable to upgrade: the sandbox kubelet speaks SPDY/3.1 only, not ${req.headers.upgrade ?? "(none)"}`);
    return Promise.resolve();
  }
  const offered = req.headers["x-stream-protocol-version"];
  if (!offered) {
    rejectUpgrade(socket, 400, "BadRequest", "unable to upgrade: X-Stream-Protocol-Version is required");
    return Promise.resolve();
  }
  const protocol = negotiateProtocol(offered);
  if (!protocol) {
    rejectUpgrade(socket, 403, "Forbidden", `unable to upgrade: unable to negotiate protocol: client supports ${String(offered)}, server accepts ${SUPPORTED_PROTOCOLS.join(", ")}`,
      { "X-Accepted-Stream-Protocol-Versions": SUPPORTED_PROTOCOLS.join(", ") });
    return Promise.resolve();
  }
  socket.write(["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade", "Upgrade: SPDY/3.1", `X-Stream-Protocol-Version: ${protocol}`, "", ""].join("\r\n"));
  const { options, command } = opts.request;
  const wanted = new Set<string>([StreamType.ERROR]);
  if (options.stdin) wanted.add(StreamType.STDIN);
  if (options.stdout) wanted.add(StreamType.STDOUT);
  if (options.stderr) wanted.add(StreamType.STDERR);
  if (options.tty && protocol !== StreamProtocol.V2) wanted.add(StreamType.RESIZE);
  const streams = new Map<string, SpdyStream>();
  const session = new SpdyServerSession(socket, {
    log: opts.log,
    acceptStream: (s) => {
      const type = s.header("streamtype") ?? "";
      if (!wanted.has(type) || streams.has(type)) {
        opts.log?.("unexpected exec stream", { streamType: type });
        return false;
      }
      return true;
    },
  }, head);

  return new Promise<void>((resolve) => {
    let proc: ExecProcess | undefined;
    session.once("close", () => {
      proc?.kill();
      resolve();
    });
    const timer = setTimeout(() => {
      opts.log?.("timed out waiting for client to create streams", { got: [...streams.keys()] });
      session.close(GoAwayStatus.OK);
    }, opts.streamCreationTimeoutMs ?? 30_000);
    session.on("stream", (s: SpdyStream) => {
      streams.set(s.header("streamtype")!, s);
      // Stream errors (a reset while writing) end the session below; keep them from crashing the node.
      s.on("error", () => undefined);
      if (streams.size === wanted.size) {
        clearTimeout(timer);
        proc = run();
      }
    });

    const run = (): ExecProcess | undefined => {
      const errorStream = streams.get(StreamType.ERROR)!;
      const finish = (status: ExecStatus) => {
        if (!errorStream.localClosed) errorStream.end(encodeErrorStream(protocol, status));
        // The client closes the connection once it has read the status.
        setTimeout(() => session.close(), 10_000).unref();
      };
      let p: ExecProcess;
      try {
        p = opts.start();
      } catch (e) {
        for (const t of [StreamType.STDOUT, StreamType.STDERR]) streams.get(t)?.end();
        finish(internalErrorStatus(`error executing command in container: ${(e as Error).message}`));
        return undefined;
      }
      const stdin = streams.get(StreamType.STDIN);
      if (stdin && p.stdin) {
        const target = p.stdin;
        target.on("error", () => undefined); // EPIPE when the command does not read its input
        stdin.pipe(target);
      } else {
        stdin?.resume();
      }
      const outputsDone: Promise<void>[] = [];
      const wire = (from: Readable | null, to: SpdyStream | undefined) => {
        if (!to) { from?.resume(); return; }
        if (!from) { to.end(); return; }
        outputsDone.push(new Promise<void>((res) => {
          to.once("finish", () => res());
          to.once("close", () => res());
        }));
        from.pipe(to);
      };
      wire(p.stdout, streams.get(StreamType.STDOUT));
      wire(p.stderr, streams.get(StreamType.STDERR));
      const resize = streams.get(StreamType.RESIZE);
      if (resize) {
        let pending = "";
        resize.setEncoding("utf8");
        resize.on("data", (d: string) => {
          pending += d;
          // client-go sends one JSON object per line: {"Width":80,"Height":24}
          let nl: number;
          while ((nl = pending.indexOf("\n")) >= 0) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (!line) continue;
            try {
              const size = JSON.parse(line) as { Width?: number; Height?: number };
              if (size.Width && size.Height) p.resize(size.Width, size.Height);
            } catch { /* ignore malformed sizes */ }
          }
        });
      }
      void p.exited.then(async (code) => {
        await Promise.all(outputsDone);
        finish(exitStatus(code, command));
      }, (e: Error) => {
        for (const t of [StreamType.STDOUT, StreamType.STDERR]) streams.get(t)?.end();
        finish(internalErrorStatus(`error executing command in container: ${e.message}`));
      });
      return p;
    };
  });
}

import { Readable, Transform, type TransformCallback } from "node:stream";

/** A pass-through that counts bytes. */
export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** Pipes `body` through a byte counter (errors of the source are forwarded). */
export function counted(body: Readable | Buffer): { stream: Readable; counter: ByteCounter } {
  const counter = new ByteCounter();
  const src = Buffer.isBuffer(body) ? Readable.from([body]) : body;
  src.on("error", (e) => counter.destroy(e));
  src.pipe(counter);
  return { stream: counter, counter };
}

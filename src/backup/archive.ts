// The two objects of a backup directory, as MOCO writes them (docs/backup.md#bucket-layout):
//
//   <dir>dump.tar         uncompressed tar of `dump/` (its data files are compressed already)
//   <dir>binlog.tar.zst   zstd-compressed tar of `binlog/`
//
// Both are built from the work directory and streamed to the bucket (multipart, memory
// bounded by the part size). dump.tar is uploaded while the dump is written
// (streamArchive: each file joins the archive once complete); a failed upload is re-sent
// from the files on disk, so the dump itself is never redone. The restore side streams
// an archive back into the work directory. The head entry of each archive (the dump's
// schema document, the binlog manifest) says what it holds, so a restore checks an
// archive (and refuses a restore point it does not cover) by reading its first few
// kilobytes, before downloading the rest or touching the target.
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import type { Bucket } from "./bucket/types.ts";
import { BucketError } from "./bucket/types.ts";
import { createCompressor, createDecompressor } from "./dump/format.ts";
import type { Logger } from "./log.ts";
import { withRetry } from "./retry.ts";
import { errorMessage } from "../util/errors.ts";

export type ArchiveCompression = "none" | "zstd";

/** Any bucket failure but a refused credential or a missing bucket is worth another try. */
export const isTransientBucketError = (e: unknown): boolean => (e instanceof BucketError ? e.code === "Other" : true);

/** Bytes of a ustar archive of files of these sizes (headers, padding, end blocks; no pax headers). */
export function tarSize(sizes: readonly number[]): number {
  return sizes.reduce((n, s) => n + 512 + Math.ceil(s / 512) * 512, 0) + 1024;
}

/**
 * A tar archive written while its files are produced: `add` a file (path relative to
 * `root`, also its name in the archive) once it is complete, then `finish`. Files are
 * packed one after the other in the order added, with back-pressure from `stream`.
 */
export class ArchiveWriter {
  readonly root: string;
  /** What to upload (a Node.js Readable: tar-stream's own streams are streamx streams). */
  readonly stream: Readable;
  /** Every file added, in archive order. */
  readonly entries: string[] = [];
  readonly #pack = tar.pack();
  #chain: Promise<void> = Promise.resolve();
  #error: Error | undefined;
  readonly #aborted: Promise<void>;
  #abort: (e: Error) => void = () => undefined;

  constructor(root: string, compression: ArchiveCompression) {
    this.root = root;
    this.#aborted = new Promise<void>((resolve) => { this.#abort = () => resolve(); });
    const tarStream = Readable.from(this.#pack, { objectMode: false });
    if (compression === "zstd") {
      const z = createCompressor("zstd");
      tarStream.on("error", (e) => z.destroy(e));
      this.stream = tarStream.pipe(z);
    } else {
      this.stream = tarStream;
    }
  }

  add(rel: string): void {
    this.entries.push(rel);
    this.#chain = this.#chain.then(async () => {
      if (this.#error) return;
      const file = path.join(this.root, rel);
      const st = fs.statSync(file);
      const entry = this.#pack.entry({ name: rel, size: st.size, mode: 0o644, mtime: st.mtime, type: "file" });
      const copied = new Promise<void>((resolve, reject) => {
        const src = fs.createReadStream(file);
        src.on("error", reject);
        entry.on("error", reject);
        entry.on("finish", () => resolve());
        src.pipe(entry);
      });
      // A consumer that went away stops reading: do not wait for it forever.
      await Promise.race([copied, this.#aborted]);
    }).catch((e: unknown) => this.abort(e as Error));
  }

  /** Waits for the files added so far and ends the archive; after `abort`, only waits (the stream carries the error). */
  async finish(): Promise<void> {
    await this.#chain;
    if (!this.#error) this.#pack.finalize();
  }

  /** Ends the stream with `e` (the upload fails and leaves no object). */
  abort(e: Error): void {
    if (this.#error) return;
    this.#error = e;
    this.#abort(e);
    this.#pack.destroy(e);
  }
}

/** A tar stream of the files `entries` (paths relative to `root`, in this order). */
export function packFiles(root: string, entries: readonly string[], compression: ArchiveCompression = "none"): Readable {
  const w = new ArchiveWriter(root, compression);
  for (const e of entries) w.add(e);
  void w.finish().catch(() => undefined);
  return w.stream;
}

export interface PutArchiveOptions {
  bucket: Bucket;
  key: string;
  root: string;
  entries: readonly string[];
  compression: ArchiveCompression;
  log: Logger;
  attempts?: number;
  retryBaseDelayMs?: number;
}

/** Uploads the archive of `entries`; re-sends it from the files on transient errors. Returns the bytes stored. */
export async function putArchive(o: PutArchiveOptions): Promise<number> {
  const sizes = o.entries.map((e) => fs.statSync(path.join(o.root, e)).size);
  const raw = tarSize(sizes);
  return withRetry(async (attempt) => {
    if (attempt > 1) o.log.warn({ key: o.key, attempt }, "re-sending the archive");
    const uploaded = await o.bucket.put(o.key, packFiles(o.root, o.entries, o.compression), { sizeHint: raw });
    if (o.compression === "none" && uploaded < raw) throw new Error(`${o.key}: uploaded ${uploaded} bytes of ${raw}`);
    return uploaded;
  }, { attempts: o.attempts ?? 5, baseDelayMs: o.retryBaseDelayMs ?? 1000, maxDelayMs: 30_000, isTransient: isTransientBucketError });
}

export interface StreamArchiveOptions extends Omit<PutArchiveOptions, "entries"> {
  /** Expected archive size (S3 part sizing), e.g. the source's data size. */
  sizeHint?: number;
}

/**
 * Uploads an archive while `produce` writes its files (it calls `add` for each complete
 * one), so upload and production overlap. The files stay in `root` until the upload is
 * done: if the streamed upload fails, the whole archive is re-sent from them afterwards
 * (`putArchive`, one attempt fewer). A failure of `produce` aborts the upload.
 */
export async function streamArchive<T>(o: StreamArchiveOptions, produce: (add: (rel: string) => void) => Promise<T>): Promise<{ value: T; bytes: number }> {
  const w = new ArchiveWriter(o.root, o.compression);
  const upload = o.bucket.put(o.key, w.stream, o.sizeHint !== undefined ? { sizeHint: o.sizeHint } : {})
    .then((bytes) => ({ bytes }), (error: unknown) => {
      w.abort(error instanceof Error ? error : new Error(String(error)));
      return { error };
    });
  let value: T;
  try {
    value = await produce((rel) => w.add(rel));
    await w.finish();
  } catch (e) {
    w.abort(e instanceof Error ? e : new Error(String(e)));
    await upload;
    throw e;
  }
  const r = await upload;
  if ("bytes" in r) return { value, bytes: r.bytes };
  if (!isTransientBucketError(r.error)) throw r.error;
  o.log.warn({ key: o.key, err: errorMessage(r.error) }, "the streamed upload failed; re-sending the archive from the work directory");
  const attempts = Math.max(1, (o.attempts ?? 5) - 1);
  const bytes = await putArchive({ ...o, entries: w.entries, attempts });
  return { value, bytes };
}

/** An archive entry name that stays inside `top/` once extracted (no absolute path, no `..`). */
export function safeEntryName(name: string, top: string): string | undefined {
  const n = name.replace(/^\.\//, "");
  if (n.startsWith("/") || n.includes("\0")) return undefined;
  const parts = n.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length < 2 || parts[0] !== top || parts.includes("..")) return undefined;
  return parts.join("/");
}

function decoded(body: Readable, compression: ArchiveCompression): Readable {
  if (compression === "none") return body;
  const z = createDecompressor("zstd");
  body.on("error", (e) => z.destroy(e));
  return body.pipe(z);
}

/** The archive's entries as the object downloads; `close` stops the download. */
async function openArchive(bucket: Bucket, key: string, compression: ArchiveCompression): Promise<{ extract: tar.Extract; close: () => void }> {
  const body = decoded(await bucket.get(key), compression);
  const extract = tar.extract();
  body.on("error", (e) => extract.destroy(e));
  body.pipe(extract);
  return { extract, close: () => { body.unpipe(extract); body.destroy(); extract.destroy(); } };
}

export interface ExtractOptions {
  bucket: Bucket;
  key: string;
  compression: ArchiveCompression;
  /** Directory the archive's `top/` goes into (cleared first). */
  root: string;
  top: string;
  log: Logger;
  attempts?: number;
}

/** Downloads the archive into `root/top/` (retried from scratch on transient errors). Returns the extracted files' bytes. */
export async function extractArchive(o: ExtractOptions): Promise<number> {
  const dest = path.join(o.root, o.top);
  return withRetry(async (attempt) => {
    if (attempt > 1) o.log.warn({ key: o.key, attempt }, "downloading the archive again");
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(dest, { recursive: true });
    const { extract, close } = await openArchive(o.bucket, o.key, o.compression);
    let bytes = 0;
    try {
      for await (const entry of extract) {
        const h = entry.header;
        const rel = safeEntryName(h.name, o.top);
        if (h.type === "directory") { entry.resume(); continue; }
        if (h.type !== "file" || rel === undefined) throw new Error(`${o.key}: unexpected archive entry ${JSON.stringify(h.name)} (${h.type ?? "?"})`);
        const file = path.join(o.root, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        await pipeline(Readable.from(entry, { objectMode: false }), fs.createWriteStream(file));
        bytes += h.size ?? 0;
      }
    } finally {
      close();
    }
    return bytes;
  }, { attempts: o.attempts ?? 5, baseDelayMs: 1000, maxDelayMs: 30_000, isTransient: isTransientBucketError });
}

/** The head of an archive is not what was expected; `found` is its first entry's name ("" when none). */
export class ArchiveHeadError extends Error {
  readonly found: string;
  constructor(message: string, found: string) {
    super(message);
    this.name = "ArchiveHeadError";
    this.found = found;
  }
}

/**
 * The first entry of an archive, which must be `expected`; only the beginning of the
 * object is read. Fails with an ArchiveHeadError naming what was found instead, and
 * with "not a readable archive" when the object is no tar.
 */
export async function readFirstEntry(bucket: Bucket, key: string, compression: ArchiveCompression, expected: string, maxBytes = 64 << 20): Promise<Buffer> {
  const { extract, close } = await openArchive(bucket, key, compression);
  try {
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^\.\//, "");
      if (name !== expected) {
        entry.resume();
        throw new ArchiveHeadError(`${key} does not start with ${expected} but with ${JSON.stringify(name)}`, name);
      }
      if ((entry.header.size ?? 0) > maxBytes) throw new ArchiveHeadError(`${key}: ${expected} is too large (${entry.header.size} bytes)`, name);
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(c as Buffer);
      return Buffer.concat(parts);
    }
    throw new ArchiveHeadError(`${key} is an empty archive`, "");
  } catch (e) {
    if (e instanceof BucketError || e instanceof ArchiveHeadError) throw e;
    throw new Error(`${key} is not a readable archive: ${errorMessage(e)}`, { cause: e });
  } finally {
    close();
  }
}

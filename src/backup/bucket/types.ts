// One small interface over S3, GCS and Azure Blob (docs/backup.md#object-stores).
import type { Readable } from "node:stream";

export type BackendType = "s3" | "gcs" | "azure";

export interface PutOptions {
  /** Expected size in bytes (S3 uses it to size multipart parts). */
  sizeHint?: number;
  /** Default: by key suffix (contentTypeFor). */
  contentType?: string;
}

export interface Bucket {
  readonly backend: BackendType;
  readonly name: string;
  /**
   * Uploads `body` to `key`, streaming (memory stays bounded by the part/block size).
   * Returns the number of bytes uploaded. A Buffer body is retried on transient errors;
   * a stream cannot be replayed, so callers retry streams themselves (chunk level).
   */
  put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<number>;
  /** A stream of the object's bytes. Rejects with BucketError code "NotFound" when absent. */
  get(key: string): Promise<Readable>;
  /** Every key under `prefix` (all pages), sorted lexicographically. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Fails with a clear BucketError when the bucket is missing or the credentials are refused. */
  checkAccess(): Promise<void>;
  close(): Promise<void>;
}

export type BucketErrorCode = "NotFound" | "NoSuchBucket" | "AccessDenied" | "Other";

/** An object-store failure with a message fit for a user (never a secret). */
export class BucketError extends Error {
  readonly code: BucketErrorCode;
  override readonly cause: unknown;
  constructor(code: BucketErrorCode, message: string, cause?: unknown) {
    super(message);
    this.name = "BucketError";
    this.code = code;
    this.cause = cause;
  }
}

/**
 * Attempts per object-store request, the first included. Each SDK's own retry (exponential
 * back-off on throttling, 5xx and network errors) is the only retry layer of a request:
 * moco-ts does not wrap SDK calls in retries of its own. A streaming upload that fails after
 * these attempts is re-sent whole by its caller (putArchive, chunk uploads), which counts
 * its own attempts.
 */
export const BUCKET_REQUEST_ATTEMPTS = 5;

/** Content type by suffix: .tar, .zst, .gz, .json, else octet-stream. */
export function contentTypeFor(key: string): string {
  if (key.endsWith(".tar")) return "application/x-tar";
  if (key.endsWith(".zst")) return "application/zstd";
  if (key.endsWith(".gz")) return "application/gzip";
  if (key.endsWith(".json")) return "application/json";
  return "application/octet-stream";
}

// GCS backend: @google-cloud/storage with Google default credentials (GOOGLE_APPLICATION_CREDENTIALS,
// workload identity). STORAGE_EMULATOR_HOST (read by the library) or --endpoint points it at an
// emulator such as fake-gcs-server. Uploads are streamed as one request (no resumable-upload
// state file, so a read-only root filesystem is fine).
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Storage, type StorageOptions } from "@google-cloud/storage";
import { withRetry } from "../retry.ts";
import { BUCKET_REQUEST_ATTEMPTS, BucketError, contentTypeFor, type Bucket, type PutOptions } from "./types.ts";
import { counted } from "./util.ts";
import { errorMessage } from "../../util/errors.ts";

export interface GcsOptions {
  bucket: string;
  /** API endpoint (moco-ts honours it; upstream ignores it). Default: STORAGE_EMULATOR_HOST or Google's. */
  endpoint?: string;
  projectId?: string;
}

function codeOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "number" ? c : undefined;
}

/** `host:port`, `http://host:port` or `http://host:port/storage/v1` → `http://host:port`. */
export function emulatorBase(value: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(value) ? value : `http://${value}`;
  return withScheme.replace(/\/+$/, "").replace(/\/storage\/v1$/, "");
}

export class GcsBucket implements Bucket {
  readonly backend = "gcs" as const;
  readonly name: string;
  readonly #storage: Storage;

  constructor(opts: GcsOptions) {
    this.name = opts.bucket;
    const so: StorageOptions = {
      retryOptions: { autoRetry: true, maxRetries: BUCKET_REQUEST_ATTEMPTS - 1, maxRetryDelay: 10, totalTimeout: 600 },
    };
    const emulator = process.env["STORAGE_EMULATOR_HOST"];
    if (opts.projectId) so.projectId = opts.projectId;
    else if (process.env["GOOGLE_CLOUD_PROJECT"]) so.projectId = process.env["GOOGLE_CLOUD_PROJECT"];
    if (emulator) {
      // Go clients take STORAGE_EMULATOR_HOST as host:port; the Node library uses it verbatim as
      // the JSON API base URL. Accept both: construct with a normalised value, restore it after.
      const base = emulatorBase(emulator);
      so.apiEndpoint = opts.endpoint || base;
      process.env["STORAGE_EMULATOR_HOST"] = `${base}/storage/v1`;
      try {
        this.#storage = new Storage(so);
      } finally {
        process.env["STORAGE_EMULATOR_HOST"] = emulator;
      }
    } else {
      if (opts.endpoint) so.apiEndpoint = opts.endpoint;
      this.#storage = new Storage(so);
    }
  }

  #translate(e: unknown, what: string, key?: string): Error {
    if (e instanceof BucketError) return e;
    const code = codeOf(e);
    const msg = errorMessage(e);
    if (code === 404) {
      if (key === undefined || /bucket/i.test(msg)) {
        return new BucketError("NoSuchBucket", `GCS bucket "${this.name}" does not exist`, e);
      }
      return new BucketError("NotFound", `GCS object "${key}" not found in bucket "${this.name}"`, e);
    }
    if (code === 401 || code === 403 || /credential/i.test(msg)) {
      return new BucketError("AccessDenied", `access to GCS bucket "${this.name}" denied: check the credentials (${msg})`, e);
    }
    return new BucketError("Other", `GCS ${what} on bucket "${this.name}" failed: ${msg}`, e);
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<number> {
    const run = async () => {
      const { stream, counter } = counted(body);
      const file = this.#storage.bucket(this.name).file(key);
      try {
        await pipeline(stream, file.createWriteStream({
          resumable: false, contentType: opts.contentType ?? contentTypeFor(key), validation: false,
        }));
      } catch (e) {
        throw this.#translate(e, "upload", key);
      }
      return counter.bytes;
    };
    // The library does not retry an upload without a generation precondition (not
    // idempotent), so a Buffer upload is retried here: still one layer.
    if (Buffer.isBuffer(body)) return withRetry(run, { attempts: BUCKET_REQUEST_ATTEMPTS, isTransient: (e) => (e as BucketError).code === "Other" });
    return run();
  }

  async get(key: string): Promise<Readable> {
    const file = this.#storage.bucket(this.name).file(key);
    try {
      // Fail fast with NotFound before streaming (createReadStream reports it late).
      const [exists] = await file.exists();
      if (!exists) throw new BucketError("NotFound", `GCS object "${key}" not found in bucket "${this.name}"`);
    } catch (e) {
      throw this.#translate(e, "get", key);
    }
    return file.createReadStream({ validation: false });
  }

  async list(prefix: string): Promise<string[]> {
    try {
      const [files] = await this.#storage.bucket(this.name).getFiles({ prefix, autoPaginate: true });
      return files.map((f) => f.name).sort();
    } catch (e) {
      throw this.#translate(e, "list");
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#storage.bucket(this.name).file(key).delete();
    } catch (e) {
      throw this.#translate(e, "delete", key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      const [exists] = await this.#storage.bucket(this.name).file(key).exists();
      return exists;
    } catch (e) {
      throw this.#translate(e, "exists", key);
    }
  }

  async checkAccess(): Promise<void> {
    let exists: boolean;
    try {
      [exists] = await this.#storage.bucket(this.name).exists();
    } catch (e) {
      throw this.#translate(e, "access check");
    }
    if (!exists) throw new BucketError("NoSuchBucket", `GCS bucket "${this.name}" does not exist`);
  }

  async close(): Promise<void> {}
}

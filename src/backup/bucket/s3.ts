// S3 backend: @aws-sdk/client-s3 with the SDK's default credential chain (env, shared
// config, web identity / IRSA, IMDS), multipart streaming uploads through lib-storage.
import fs from "node:fs";
import https from "node:https";
import tls from "node:tls";
import type { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { BUCKET_REQUEST_ATTEMPTS, BucketError, contentTypeFor, type Bucket, type PutOptions } from "./types.ts";
import { counted } from "./util.ts";
import { errorMessage } from "../../util/errors.ts";

export interface S3Options {
  bucket: string;
  region?: string;
  endpoint?: string;
  usePathStyle?: boolean;
  /** PEM file added to the system CA pool. */
  caCert?: string;
  /** Explicit credentials (tests); default: the SDK chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Multipart part size in bytes (default 8 MiB, grown to stay under 10 000 parts). */
  partSize?: number;
  /** Parts in flight per upload (default 2). */
  queueSize?: number;
}

const MiB = 1024 * 1024;


/** Part size: at least `min`, large enough that `sizeHint` fits in 9 000 parts, a multiple of 1 MiB. */
export function s3PartSize(sizeHint: number | undefined, min = 8 * MiB): number {
  if (sizeHint === undefined || sizeHint <= 0) return min;
  const needed = Math.ceil(sizeHint / 9000 / MiB) * MiB;
  return Math.max(min, needed);
}

function httpStatus(e: unknown): number | undefined {
  const m = (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return m?.httpStatusCode;
}

function errName(e: unknown): string {
  return String((e as { name?: unknown; Code?: unknown } | null)?.name ?? "");
}

export class S3Bucket implements Bucket {
  readonly backend = "s3" as const;
  readonly name: string;
  readonly #client: S3Client;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #endpoint: string;

  constructor(opts: S3Options) {
    this.name = opts.bucket;
    this.#partSize = opts.partSize ?? 8 * MiB;
    this.#queueSize = opts.queueSize ?? 2;
    this.#endpoint = opts.endpoint ?? "AWS";
    const region = opts.region || process.env["AWS_REGION"] || process.env["AWS_DEFAULT_REGION"] || "us-east-1";
    const config: S3ClientConfig = { region, forcePathStyle: opts.usePathStyle ?? false, maxAttempts: BUCKET_REQUEST_ATTEMPTS };
    if (opts.endpoint) config.endpoint = opts.endpoint;
    if (opts.credentials) config.credentials = opts.credentials;
    if (opts.caCert) {
      const ca = [...tls.rootCertificates, fs.readFileSync(opts.caCert, "utf8")];
      config.requestHandler = { httpsAgent: new https.Agent({ ca, keepAlive: true }) };
    }
    this.#client = new S3Client(config);
  }

  #translate(e: unknown, what: string, key?: string): Error {
    const status = httpStatus(e);
    const name = errName(e);
    if (name === "NoSuchBucket" || (status === 404 && key === undefined)) {
      return new BucketError("NoSuchBucket", `S3 bucket "${this.name}" does not exist at ${this.#endpoint}`, e);
    }
    if (name === "NoSuchKey" || name === "NotFound" || status === 404) {
      return new BucketError("NotFound", `S3 object "${key ?? ""}" not found in bucket "${this.name}"`, e);
    }
    if (status === 403 || status === 401 || ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "CredentialsProviderError"].includes(name)) {
      return new BucketError("AccessDenied", `access to S3 bucket "${this.name}" denied (${name || status}): check the credentials`, e);
    }
    const msg = errorMessage(e);
    return new BucketError("Other", `S3 ${what} on bucket "${this.name}" failed: ${name ? name + ": " : ""}${msg}`, e);
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<number> {
    // lib-storage sends the body as buffered parts (one PutObject when it is small), each of
    // which the SDK retries itself.
    const { stream, counter } = counted(body);
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.name, Key: key, Body: stream, ContentType: opts.contentType ?? contentTypeFor(key) },
      partSize: s3PartSize(opts.sizeHint, this.#partSize),
      queueSize: this.#queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (e) {
      stream.destroy();
      throw this.#translate(e, "upload", key);
    }
    return counter.bytes;
  }

  async get(key: string): Promise<Readable> {
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.name, Key: key }));
      return out.Body as Readable;
    } catch (e) {
      throw this.#translate(e, "get", key);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (e) {
      throw this.#translate(e, "list");
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
    } catch (e) {
      throw this.#translate(e, "delete", key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
      return true;
    } catch (e) {
      const t = this.#translate(e, "head", key);
      if (t instanceof BucketError && t.code === "NotFound") return false;
      throw t;
    }
  }

  async checkAccess(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.name }));
    } catch (e) {
      throw this.#translate(e, "access check");
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

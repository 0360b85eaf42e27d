// Azure Blob backend: the bucket name is a container. Credentials: AZURE_STORAGE_CONNECTION_STRING
// (Azurite), else AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY (shared key), else
// DefaultAzureCredential (service principal env, managed/workload identity, CLI).
// Service URL: --endpoint, else https://<AZURE_STORAGE_ACCOUNT>.blob.core.windows.net/.
import type { Readable } from "node:stream";
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from "@azure/storage-blob";
import type { TokenCredential } from "@azure/core-auth";
import { BUCKET_REQUEST_ATTEMPTS, BucketError, contentTypeFor, type Bucket, type PutOptions } from "./types.ts";
import { counted } from "./util.ts";
import { errorMessage } from "../../util/errors.ts";

export interface AzureOptions {
  container: string;
  endpoint?: string;
  /** Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

const BLOCK_SIZE = 4 * 1024 * 1024;

export class AzureBucket implements Bucket {
  readonly backend = "azure" as const;
  readonly name: string;
  #container: ContainerClient | undefined;
  readonly #opts: AzureOptions;

  constructor(opts: AzureOptions) {
    this.name = opts.container;
    this.#opts = opts;
  }

  async #client(): Promise<ContainerClient> {
    if (this.#container) return this.#container;
    const env = this.#opts.env ?? process.env;
    const retryOptions = { maxTries: BUCKET_REQUEST_ATTEMPTS, retryDelayInMs: 200, maxRetryDelayInMs: 10_000 };
    let svc: BlobServiceClient;
    const conn = env["AZURE_STORAGE_CONNECTION_STRING"];
    const account = env["AZURE_STORAGE_ACCOUNT"];
    if (conn) {
      svc = BlobServiceClient.fromConnectionString(conn, { retryOptions });
    } else {
      const url = this.#opts.endpoint || (account ? `https://${account}.blob.core.windows.net/` : "");
      if (!url) throw new BucketError("Other", "Azure Blob: neither --endpoint nor AZURE_STORAGE_ACCOUNT is set");
      const key = env["AZURE_STORAGE_KEY"];
      if (account && key) {
        svc = new BlobServiceClient(url, new StorageSharedKeyCredential(account, key), { retryOptions });
      } else {
        let cred: TokenCredential;
        try {
          const identity = (await import("@azure/identity")) as { DefaultAzureCredential: new () => TokenCredential };
          cred = new identity.DefaultAzureCredential();
        } catch (e) {
          throw new BucketError("AccessDenied", "Azure Blob: no credentials (set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT/AZURE_STORAGE_KEY)", e);
        }
        svc = new BlobServiceClient(url, cred, { retryOptions });
      }
    }
    this.#container = svc.getContainerClient(this.name);
    return this.#container;
  }

  #translate(e: unknown, what: string, key?: string): Error {
    if (e instanceof BucketError) return e;
    const status = (e as { statusCode?: unknown } | null)?.statusCode;
    const code = String((e as { code?: unknown } | null)?.code ?? "");
    const msg = errorMessage(e).split("\n")[0] ?? "";
    if (code === "ContainerNotFound" || (status === 404 && key === undefined)) {
      return new BucketError("NoSuchBucket", `Azure container "${this.name}" does not exist`, e);
    }
    if (code === "BlobNotFound" || status === 404) {
      return new BucketError("NotFound", `Azure blob "${key ?? ""}" not found in container "${this.name}"`, e);
    }
    if (status === 403 || status === 401 || code === "AuthenticationFailed" || code === "AuthorizationFailure") {
      return new BucketError("AccessDenied", `access to Azure container "${this.name}" denied (${code || String(status)}): check the credentials`, e);
    }
    return new BucketError("Other", `Azure ${what} on container "${this.name}" failed: ${code ? code + ": " : ""}${msg}`, e);
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<number> {
    const run = async () => {
      const c = await this.#client();
      const { stream, counter } = counted(body);
      try {
        await c.getBlockBlobClient(key).uploadStream(stream, BLOCK_SIZE, 4, {
          blobHTTPHeaders: { blobContentType: opts.contentType ?? contentTypeFor(key) },
        });
      } catch (e) {
        stream.destroy();
        throw this.#translate(e, "upload", key);
      }
      return counter.bytes;
    };
    // Blocks are buffered; the SDK retries each request itself.
    return run();
  }

  async get(key: string): Promise<Readable> {
    try {
      const c = await this.#client();
      const res = await c.getBlobClient(key).download();
      const body = res.readableStreamBody;
      if (!body) throw new BucketError("Other", `Azure blob "${key}" has no body`);
      return body as Readable;
    } catch (e) {
      throw this.#translate(e, "get", key);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    try {
      const c = await this.#client();
      for await (const b of c.listBlobsFlat({ prefix })) keys.push(b.name);
    } catch (e) {
      throw this.#translate(e, "list");
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    try {
      const c = await this.#client();
      await c.deleteBlob(key);
    } catch (e) {
      throw this.#translate(e, "delete", key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      const c = await this.#client();
      return await c.getBlobClient(key).exists();
    } catch (e) {
      throw this.#translate(e, "exists", key);
    }
  }

  async checkAccess(): Promise<void> {
    try {
      const c = await this.#client();
      await c.getProperties();
    } catch (e) {
      throw this.#translate(e, "access check");
    }
  }

  async close(): Promise<void> {}
}

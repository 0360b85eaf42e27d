// Real object-storage servers on loopback for backup/restore tests:
//   S3    versitygw (Go module github.com/versity/versitygw, POSIX backend)
//   GCS   fake-gcs-server (Go module github.com/fsouza/fake-gcs-server)
//   Azure Azurite (npm)
// Each starts with one bucket/container and returns the credentials to use it.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { binDir, freePort, repoRoot, spawnManaged, waitUntil, type ManagedProcess, makeTmpDir } from "./procs.ts";

export interface S3Server {
  kind: "s3";
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

export interface GcsServer {
  kind: "gcs";
  /** Base URL, e.g. http://127.0.0.1:PORT (set STORAGE_EMULATOR_HOST to it). */
  endpoint: string;
  bucket: string;
  projectId: string;
  stop(): Promise<void>;
}

export interface AzureServer {
  kind: "azure";
  /** Blob endpoint including the account, e.g. http://127.0.0.1:PORT/devstoreaccount1 */
  endpoint: string;
  account: string;
  accountKey: string;
  container: string;
  connectionString: string;
  stop(): Promise<void>;
}

function binary(name: string): string {
  const p = path.join(binDir, name);
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run test/env/provision.sh (or test/env/build-storage.sh)`);
  return p;
}

async function stopAndClean(proc: ManagedProcess, dir: string): Promise<void> {
  await proc.stop(5000);
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * versitygw serving the S3 API over a directory; the bucket is created through the S3 API.
 * `host` is the address it listens on (default loopback); the e2e tests, which run inside
 * the real node's network namespace, pass the node's address (NODE_IP) so that Job Pods reach it.
 */
export async function startS3(bucket = "moco-backup", opts: { host?: string } = {}): Promise<S3Server> {
  const host = opts.host ?? "127.0.0.1";
  const dir = makeTmpDir("s3-");
  const data = path.join(dir, "data");
  fs.mkdirSync(data);
  const port = await freePort(host);
  const accessKeyId = "moco" + randomBytes(6).toString("hex");
  const secretAccessKey = randomBytes(20).toString("hex");
  const region = "us-east-1";
  const proc = spawnManaged("versitygw", binary("versitygw"), [
    "--port", `${host}:${port}`, "--region", region, "posix", data,
  ], {
    logFile: path.join(dir, "versitygw.log"), marker: "versitygw", cleanup: dir,
    env: { ...process.env, ROOT_ACCESS_KEY: accessKeyId, ROOT_SECRET_KEY: secretAccessKey },
  });
  const endpoint = `http://${host}:${port}`;
  const { S3Client, CreateBucketCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  try {
    await waitUntil("versitygw to create the bucket", async () => {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return true;
    }, { timeoutMs: 30_000, proc });
  } catch (e) {
    await stopAndClean(proc, dir);
    throw e;
  } finally {
    client.destroy();
  }
  return { kind: "s3", endpoint, region, bucket, accessKeyId, secretAccessKey, stop: () => stopAndClean(proc, dir) };
}

/** fake-gcs-server with a filesystem backend; the bucket exists from the start. */
export async function startGcs(bucket = "moco-backup"): Promise<GcsServer> {
  const dir = makeTmpDir("gcs-");
  const data = path.join(dir, "data");
  fs.mkdirSync(path.join(data, bucket), { recursive: true });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const proc = spawnManaged("fake-gcs-server", binary("fake-gcs-server"), [
    "-scheme", "http", "-host", "127.0.0.1", "-port", String(port),
    "-backend", "filesystem", "-filesystem-root", data,
    "-public-host", `127.0.0.1:${port}`, "-external-url", endpoint, "-log-level", "warn",
  ], { logFile: path.join(dir, "fake-gcs-server.log"), marker: "fake-gcs-server", cleanup: dir });
  try {
    await waitUntil("fake-gcs-server to list the bucket", async () => {
      const res = await fetch(`${endpoint}/storage/v1/b/${bucket}`);
      return res.ok;
    }, { timeoutMs: 30_000, proc });
  } catch (e) {
    await stopAndClean(proc, dir);
    throw e;
  }
  return { kind: "gcs", endpoint, bucket, projectId: "moco-ts-test", stop: () => stopAndClean(proc, dir) };
}

// Azurite's documented development account (public, not a secret).
const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** Azurite's blob service; the container is created through the Azure SDK. */
export async function startAzure(container = "moco-backup"): Promise<AzureServer> {
  const dir = makeTmpDir("azure-");
  const port = await freePort();
  const main = path.join(repoRoot, "node_modules", "azurite", "dist", "src", "blob", "main.js");
  if (!fs.existsSync(main)) throw new Error("azurite is missing: run npm ci");
  const proc = spawnManaged("azurite-blob", process.execPath, [
    main, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", dir,
    "--skipApiVersionCheck", "--loose", "--silent", "--disableProductStyleUrl",
  ], { logFile: path.join(dir, "azurite.log"), marker: "azurite", cleanup: dir });
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`;
  const { BlobServiceClient } = await import("@azure/storage-blob");
  try {
    await waitUntil("azurite to create the container", async () => {
      const svc = BlobServiceClient.fromConnectionString(connectionString);
      await svc.getContainerClient(container).createIfNotExists();
      return true;
    }, { timeoutMs: 30_000, proc });
  } catch (e) {
    await stopAndClean(proc, dir);
    throw e;
  }
  return {
    kind: "azure", endpoint, account: AZURITE_ACCOUNT, accountKey: AZURITE_KEY, container, connectionString,
    stop: () => stopAndClean(proc, dir),
  };
}

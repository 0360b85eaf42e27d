// Smoke tests: each object store is a real server that the official SDKs can use.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { Storage } from "@google-cloud/storage";
import { BlobServiceClient } from "@azure/storage-blob";
import { startAzure, startGcs, startS3, type AzureServer, type GcsServer, type S3Server } from "../../env/storage.ts";

const payload = randomBytes(256 * 1024);

describe("S3 (versitygw) through @aws-sdk/client-s3", () => {
  let s3: S3Server;
  let client: S3Client;
  before(async () => {
    s3 = await startS3();
    client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  });
  after(async () => { client?.destroy(); await s3?.stop(); });

  it("puts, gets and lists objects", async () => {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "moco/ns/c/20260101-000000/dump.tar", Body: payload }));
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "moco/ns/c/20260101-000000/binlog.tar.zst", Body: "x" }));
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "moco/ns/c/20260101-000000/dump.tar" }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), payload);
    const list = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "moco/ns/c/" }));
    assert.deepEqual(list.Contents?.map((o) => o.Key).sort(), [
      "moco/ns/c/20260101-000000/binlog.tar.zst", "moco/ns/c/20260101-000000/dump.tar"]);
  });

  it("refuses a wrong secret", async () => {
    const bad = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: "wrong" } });
    await assert.rejects(bad.send(new ListObjectsV2Command({ Bucket: s3.bucket })));
    bad.destroy();
  });
});

describe("GCS (fake-gcs-server) through @google-cloud/storage", () => {
  let gcs: GcsServer;
  before(async () => { gcs = await startGcs(); });
  after(async () => { await gcs?.stop(); });

  it("puts, gets and lists objects", async () => {
    const storage = new Storage({ apiEndpoint: gcs.endpoint, projectId: gcs.projectId });
    const bucket = storage.bucket(gcs.bucket);
    await bucket.file("moco/ns/c/a.bin").save(payload, { resumable: false });
    await bucket.file("moco/ns/c/b.bin").save(Buffer.from("b"), { resumable: false });
    const [data] = await bucket.file("moco/ns/c/a.bin").download();
    assert.deepEqual(data, payload);
    const [files] = await bucket.getFiles({ prefix: "moco/ns/c/" });
    assert.deepEqual(files.map((f) => f.name).sort(), ["moco/ns/c/a.bin", "moco/ns/c/b.bin"]);
  });
});

describe("Azure Blob (Azurite) through @azure/storage-blob", () => {
  let az: AzureServer;
  before(async () => { az = await startAzure(); });
  after(async () => { await az?.stop(); });

  it("puts, gets and lists blobs", async () => {
    const container = BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient(az.container);
    await container.getBlockBlobClient("moco/ns/c/a.bin").uploadData(payload);
    await container.getBlockBlobClient("moco/ns/c/b.bin").uploadData(Buffer.from("b"));
    const data = await container.getBlockBlobClient("moco/ns/c/a.bin").downloadToBuffer();
    assert.deepEqual(data, payload);
    const names: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: "moco/ns/c/" })) names.push(b.name);
    assert.deepEqual(names.sort(), ["moco/ns/c/a.bin", "moco/ns/c/b.bin"]);
  });
});

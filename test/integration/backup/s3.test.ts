// Backup and PiTR restore against a real S3 server (versitygw) and real mysqld 9.7.
import { S3Bucket } from "../../../src/backup/bucket/s3.ts";
import { startS3 } from "../../env/storage.ts";
import { backupSuite } from "./suite.ts";

backupSuite("s3", async () => {
  const s3 = await startS3();
  const make = (bucket: string, secret = s3.secretAccessKey) => new S3Bucket({
    bucket, endpoint: s3.endpoint, region: s3.region, usePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: secret }, partSize: 5 * 1024 * 1024,
  });
  const bucket = make(s3.bucket);
  return {
    bucket,
    missingBucket: () => make("no-such-bucket"),
    wrongCredential: () => make(s3.bucket, "wrong-secret-key-0123456789"),
    stop: async () => { await bucket.close(); await s3.stop(); },
  };
}, { extended: true });

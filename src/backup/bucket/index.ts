import { AzureBucket } from "./azure.ts";
import { GcsBucket } from "./gcs.ts";
import { S3Bucket } from "./s3.ts";
import type { BackendType, Bucket } from "./types.ts";

export * from "./types.ts";
export { S3Bucket, s3PartSize } from "./s3.ts";
export { GcsBucket } from "./gcs.ts";
export { AzureBucket } from "./azure.ts";

export interface BucketFlags {
  backendType: BackendType;
  bucket: string;
  region?: string;
  endpoint?: string;
  usePathStyle?: boolean;
  caCert?: string;
}

/** The backend named by --backend-type with the bucket flags of docs/backup.md#bucket-flags. */
export function createBucket(f: BucketFlags): Bucket {
  switch (f.backendType) {
    case "gcs":
      return new GcsBucket({ bucket: f.bucket, ...(f.endpoint ? { endpoint: f.endpoint } : {}) });
    case "azure":
      return new AzureBucket({ container: f.bucket, ...(f.endpoint ? { endpoint: f.endpoint } : {}) });
    default:
      return new S3Bucket({
        bucket: f.bucket,
        ...(f.region ? { region: f.region } : {}),
        ...(f.endpoint ? { endpoint: f.endpoint } : {}),
        usePathStyle: f.usePathStyle ?? false,
        ...(f.caCert ? { caCert: f.caCert } : {}),
      });
  }
}

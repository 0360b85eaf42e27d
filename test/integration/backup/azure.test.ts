// Backup and PiTR restore against Azurite (Azure Blob) and real mysqld 9.7.
import { AzureBucket } from "../../../src/backup/bucket/azure.ts";
import { startAzure } from "../../env/storage.ts";
import { backupSuite } from "./suite.ts";

backupSuite("azure", async () => {
  const az = await startAzure();
  const make = (container: string, env: Record<string, string>) => new AzureBucket({ container, env, endpoint: az.endpoint });
  const bucket = make(az.container, { AZURE_STORAGE_CONNECTION_STRING: az.connectionString });
  return {
    bucket,
    missingBucket: () => make("no-such-container", { AZURE_STORAGE_CONNECTION_STRING: az.connectionString }),
    // shared-key credentials with a wrong key (a valid base64 key of the right length)
    wrongCredential: () => make(az.container, {
      AZURE_STORAGE_ACCOUNT: az.account, AZURE_STORAGE_KEY: Buffer.alloc(64, 7).toString("base64"),
    }),
    stop: async () => { await bucket.close(); await az.stop(); },
  };
});

// Backup and PiTR restore against fake-gcs-server and real mysqld 9.7.
// fake-gcs-server does not check credentials, so there is no refused-credential case here.
import { GcsBucket } from "../../../src/backup/bucket/gcs.ts";
import { startGcs } from "../../env/storage.ts";
import { backupSuite } from "./suite.ts";

backupSuite("gcs", async () => {
  const gcs = await startGcs();
  process.env["STORAGE_EMULATOR_HOST"] = gcs.endpoint;
  const make = (bucket: string) => new GcsBucket({ bucket, projectId: gcs.projectId });
  const bucket = make(gcs.bucket);
  return {
    bucket,
    missingBucket: () => make("no-such-bucket"),
    stop: async () => { await bucket.close(); await gcs.stop(); },
  };
});

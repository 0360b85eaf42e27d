import type { Bucket } from "./bucket/types.ts";
import { BINLOG_FORMAT, type BinlogManifest } from "./dump/format.ts";
import { readJson } from "./dump/load.ts";
import { BINLOG_DIR, MANIFEST } from "./keys.ts";

export async function readBinlogManifestOrThrow(bucket: Bucket, dir: string): Promise<BinlogManifest> {
  const m = await readJson<BinlogManifest>(bucket, `${dir}${BINLOG_DIR}/${MANIFEST}`);
  if (m.format !== BINLOG_FORMAT) throw new Error(`${dir}${BINLOG_DIR}/${MANIFEST} is not a moco-ts binlog manifest`);
  return m;
}

// MySQLCluster defaulting on CREATE (docs/api.md#mysqlcluster-defaulting). Every other default comes from the
// CRD schema (applied by the API server; see structural.ts applySchemaDefaults).
import { randomBytes } from "node:crypto";
import { MYSQLCLUSTER_FINALIZER } from "./constants.ts";
import type { MySQLCluster } from "./schema.ts";

/** Four random bytes as a little-endian uint32 x, mapped to (x & 0x3FFFFFFF) + 1. */
export function serverIDBaseFromBytes(bytes: Uint8Array): number {
  if (bytes.length < 4) throw new Error("serverIDBaseFromBytes needs 4 bytes");
  const x = ((bytes[0] as number) | ((bytes[1] as number) << 8) | ((bytes[2] as number) << 16) | ((bytes[3] as number) << 24)) >>> 0;
  return (x & 0x3fffffff) + 1;
}

/**
 * Returns a defaulted copy: the finalizer moco.cybozu.com/mysqlcluster is added when
 * absent, and a zero/absent spec.serverIDBase becomes a random value in 1 … 2^30.
 * `random` is injectable for tests (defaults to the CSPRNG).
 */
export function defaultMySQLCluster(
  cluster: MySQLCluster,
  random: (size: number) => Uint8Array = randomBytes,
): MySQLCluster {
  const out = structuredClone(cluster);
  const metadata = (out.metadata ??= {});
  const finalizers = Array.isArray(metadata.finalizers) ? metadata.finalizers : [];
  if (!finalizers.includes(MYSQLCLUSTER_FINALIZER)) metadata.finalizers = [...finalizers, MYSQLCLUSTER_FINALIZER];
  const spec = (out.spec ??= {} as NonNullable<MySQLCluster["spec"]>);
  // The mutating webhook runs before the API server checks the CRD schema, so `spec` may
  // be any JSON value here: leave a non-object alone (the schema then rejects it).
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) return out;
  if (spec.serverIDBase === undefined || spec.serverIDBase === null || spec.serverIDBase === 0) {
    spec.serverIDBase = serverIDBaseFromBytes(random(4));
  }
  return out;
}

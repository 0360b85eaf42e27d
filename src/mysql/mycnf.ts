// my.cnf generation (docs/objects.md#mycnf-configmap) from the memory of the mysqld container.
//
// Two layers:
//   - generateUpstreamMyCnf: upstream MOCO's text, byte for byte (DefaultMycnf docs/objects.md#defaultmycnf,
//     ConstMycnf docs/objects.md#constmycnf). Kept so the spec's test vector can be checked exactly.
//   - generateMyCnf: what moco-ts writes. The same algorithm over moco-ts's defaults,
//     which differ from upstream only where MySQL 8.4/9.7 would refuse to start
//     (see MYSQL97_DEFAULT_RENAMES and docs/clustering.md).

import { QuantityParseError, parseQuantityValue } from "../util/quantity.ts";

/** A my.cnf section: key → value, both verbatim. */
export type MyCnfSection = Readonly<Record<string, string>>;

/** Upstream DefaultMycnf (docs/objects.md#defaultmycnf), overridable by the user ConfigMap. */
export const UPSTREAM_DEFAULT_MYCNF: MyCnfSection = Object.freeze({
  tmpdir: "/tmp",
  innodb_tmpdir: "/tmp",
  character_set_server: "utf8mb4",
  collation_server: "utf8mb4_unicode_ci",
  default_time_zone: "+0:00",
  back_log: "900",
  max_connections: "100000",
  max_allowed_packet: "1G",
  max_heap_table_size: "64M",
  sort_buffer_size: "4M",
  join_buffer_size: "2M",
  thread_cache_size: "100",
  wait_timeout: "604800",
  lock_wait_timeout: "60",
  table_open_cache: "65536",
  table_definition_cache: "65536",
  transaction_isolation: "READ-COMMITTED",
  tmp_table_size: "64M",
  slow_query_log: "ON",
  long_query_time: "2",
  log_error_verbosity: "3",
  log_slow_extra: "ON",
  max_sp_recursion_depth: "20",
  print_identified_with_as_hex: "ON",
  loose_binlog_transaction_compression: "ON",
  temptable_use_mmap: "OFF",
  information_schema_stats_expiry: "0",
  disabled_storage_engines: "MyISAM",
  default_storage_engine: "InnoDB",
  innodb_flush_method: "O_DIRECT",
  innodb_lock_wait_timeout: "60",
  innodb_print_all_deadlocks: "1",
  innodb_online_alter_log_max_size: "1073741824",
  innodb_adaptive_hash_index: "ON",
  loose_innodb_numa_interleave: "ON",
  innodb_buffer_pool_in_core_file: "OFF",
  innodb_log_file_size: "800M",
  innodb_log_files_in_group: "2",
  innodb_buffer_pool_dump_pct: "100",
  innodb_buffer_pool_dump_at_shutdown: "1",
  innodb_buffer_pool_load_at_startup: "0",
  loose_innodb_validate_tablespace_paths: "OFF",
  innodb_flush_neighbors: "0",
  innodb_random_read_ahead: "false",
  innodb_read_ahead_threshold: "0",
  innodb_log_write_ahead_size: "512",
  innodb_undo_log_truncate: "OFF",
});

/** ConstMycnf `[mysqld]` (docs/objects.md#constmycnf), forced over the user's values. */
export const CONST_MYSQLD_MYCNF: MyCnfSection = Object.freeze({
  port: "3306",
  socket: "/run/mysqld.sock",
  datadir: "/var/lib/mysql/data",
  secure_file_priv: "NULL",
  skip_name_resolve: "ON",
  slow_query_log_file: "/var/log/mysql/mysql.slow",
  enforce_gtid_consistency: "ON",
  gtid_mode: "ON",
  binlog_format: "ROW",
  log_replica_updates: "ON",
  relay_log_recovery: "OFF",
  mysqlx_port: "33060",
  admin_port: "33062",
  pid_file: "/run/mysqld.pid",
  read_only: "ON",
  super_read_only: "ON",
  skip_replica_start: "ON",
  loose_replication_optimize_for_static_plugin_config: "ON",
  loose_replication_sender_observe_commit_only: "OFF",
});

/** ConstMycnf `[client]`. */
export const CONST_CLIENT_MYCNF: MyCnfSection = Object.freeze({
  port: "3306",
  socket: "/run/mysqld.sock",
  loose_default_character_set: "utf8mb4",
});

/** ConstMycnf `[mysql]` (the value of init_command includes the double quotes). */
export const CONST_MYSQL_MYCNF: MyCnfSection = Object.freeze({
  auto_rehash: "OFF",
  init_command: '"SET autocommit=0"',
});

/**
 * Defaults that moco-ts writes with a `loose_` prefix, and why. Each of these was
 * removed from mysqld (8.4 or 9.x) so a plain key makes mysqld refuse to start with
 * "unknown variable"; `loose_` keeps the 8.0-era intent where the variable still
 * exists and is ignored elsewhere. A user key with or without `loose_` still replaces
 * it (docs/objects.md#mycnf-algorithm step 3).
 */
export const MYSQL97_DEFAULT_RENAMES: Readonly<Record<string, { to: string; reason: string }>> = Object.freeze({
  temptable_use_mmap: {
    to: "loose_temptable_use_mmap",
    reason: "deprecated in 8.0.26 and removed in 8.4; mysqld 8.4/9.7 reject it as unknown",
  },
  innodb_log_files_in_group: {
    to: "loose_innodb_log_files_in_group",
    reason: "deprecated in 8.0.30 (innodb_redo_log_capacity) and removed in 9.x; mysqld 9.7 rejects it as unknown",
  },
  innodb_log_file_size: {
    to: "loose_innodb_log_file_size",
    reason: "deprecated in 8.0.30 (innodb_redo_log_capacity) and removed in 9.x; mysqld 9.7 rejects it as unknown",
  },
});

/** moco-ts DefaultMycnf: upstream's with MYSQL97_DEFAULT_RENAMES applied. */
export const DEFAULT_MYCNF: MyCnfSection = Object.freeze(
  Object.fromEntries(
    Object.entries(UPSTREAM_DEFAULT_MYCNF).map(([k, v]) => [MYSQL97_DEFAULT_RENAMES[k]?.to ?? k, v]),
  ),
);

const MIB = 1024 * 1024;
const MIN_BUFFER_POOL = 128 * MIB;

/**
 * innodb_buffer_pool_size for a container with `memTotalBytes` of memory
 * (docs/objects.md#mycnf-algorithm step 4): 70 % (integer arithmetic, as upstream: (mem/100)*70), rounded down to
 * a multiple of 1 MiB, at least 128 MiB.
 */
export function bufferPoolSize(memTotalBytes: number): number {
  const mem = Math.max(0, Math.floor(memTotalBytes));
  const seventy = Math.floor(mem / 100) * 70;
  const rounded = Math.floor(seventy / MIB) * MIB;
  return rounded < MIN_BUFFER_POOL ? MIN_BUFFER_POOL : rounded;
}

/** Inputs to the generator that differ between upstream and moco-ts. */
export interface MyCnfProfile {
  readonly defaults: MyCnfSection;
  readonly mysqld: MyCnfSection;
  readonly client: MyCnfSection;
  readonly mysql: MyCnfSection;
}

export const UPSTREAM_MYCNF_PROFILE: MyCnfProfile = Object.freeze({
  defaults: UPSTREAM_DEFAULT_MYCNF,
  mysqld: CONST_MYSQLD_MYCNF,
  client: CONST_CLIENT_MYCNF,
  mysql: CONST_MYSQL_MYCNF,
});

export const MOCO_TS_MYCNF_PROFILE: MyCnfProfile = Object.freeze({
  defaults: DEFAULT_MYCNF,
  mysqld: CONST_MYSQLD_MYCNF,
  client: CONST_CLIENT_MYCNF,
  mysql: CONST_MYSQL_MYCNF,
});

/** Keys removed from the user's `[mysqld]` section (docs/objects.md#mycnf-algorithm step 5). */
const STRIPPED_KEYS = ["_include", "log_bin", "log_error", "skip_log_bin", "disable_log_bin"] as const;

/** Set `key` in `section`, removing both its plain and its `loose_` spelling first. */
function overrideKey(section: Map<string, string>, key: string, value: string): void {
  const base = key.startsWith("loose_") ? key.slice("loose_".length) : key;
  section.delete(base);
  section.delete(`loose_${base}`);
  section.set(key, value);
}

function byteOrder(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return Buffer.compare(x, y);
}

/** The my.cnf algorithm of docs/objects.md#mycnf-algorithm over a given profile. */
export function generateMyCnfWithProfile(
  profile: MyCnfProfile,
  userConf: Readonly<Record<string, string>> | undefined,
  memTotalBytes: number,
  forcedMysqld: MyCnfSection = {},
): string {
  const conf = userConf ?? {};
  const opaque = conf["_include"] ?? "";

  const mysqld = new Map<string, string>(Object.entries(profile.defaults));
  for (const [rawKey, value] of Object.entries(conf)) {
    overrideKey(mysqld, rawKey.replaceAll("-", "_"), value);
  }
  if (!mysqld.has("innodb_buffer_pool_size")) {
    mysqld.set("innodb_buffer_pool_size", String(bufferPoolSize(memTotalBytes)));
  }
  for (const key of STRIPPED_KEYS) mysqld.delete(key);
  for (const [key, value] of Object.entries(profile.mysqld)) overrideKey(mysqld, key, value);
  for (const [key, value] of Object.entries(forcedMysqld)) overrideKey(mysqld, key, value);

  const sections = new Map<string, Map<string, string>>([
    ["client", new Map(Object.entries(profile.client))],
    ["mysql", new Map(Object.entries(profile.mysql))],
    ["mysqld", mysqld],
  ]);
  let out = "";
  for (const name of [...sections.keys()].sort(byteOrder)) {
    const section = sections.get(name) ?? new Map<string, string>();
    out += `[${name}]\n`;
    if (name === "mysqld" && opaque !== "") out += `${opaque}\n`;
    for (const key of [...section.keys()].sort(byteOrder)) {
      out += `${key} = ${section.get(key) ?? ""}\n`;
    }
    out += "\n";
  }
  out += "!includedir /etc/mysql-conf.d\n";
  return out;
}

/** Upstream MOCO's my.cnf text for the same inputs (byte-compatible with MOCO v0.36). */
export function generateUpstreamMyCnf(userConf: Readonly<Record<string, string>> | undefined, memTotalBytes: number): string {
  return generateMyCnfWithProfile(UPSTREAM_MYCNF_PROFILE, userConf, memTotalBytes);
}

/**
 * The my.cnf that moco-ts puts in ConfigMap `moco-<cluster>.<hash>`: docs/objects.md#mycnf-algorithm
 * over moco-ts's defaults (accepted by MySQL 8.4 and 9.7).
 * `userConf` is the `data` of the user ConfigMap; `memTotalBytes` the mysqld container's
 * memory (requests, else limits, else 0 — see containerMemoryBytes). `forcedMysqld`
 * (moco-ts additions such as the TLS keys of mysqldTlsMyCnf) is forced over everything.
 */
export function generateMyCnf(userConf: Readonly<Record<string, string>> | undefined, memTotalBytes: number, forcedMysqld: MyCnfSection = {}): string {
  return generateMyCnfWithProfile(MOCO_TS_MYCNF_PROFILE, userConf, memTotalBytes, forcedMysqld);
}

/** FNV-1a 32-bit hash of the UTF-8 bytes of `text`, as 8 lower-case hex digits. */
export function fnv1a32Hex(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** Name of the generated my.cnf ConfigMap: `moco-<cluster>.<fnv1a32(text)>`. */
export function mycnfConfigMapName(clusterName: string, text: string): string {
  return `moco-${clusterName}.${fnv1a32Hex(text)}`;
}

// ---------------------------------------------------------------------------------
// Kubernetes resource.Quantity

/** A memory quantity in bytes as a safe JS integer (throws beyond 2^53-1). */
export function memoryBytesFromQuantity(text: string | number): number {
  const value = parseQuantityValue(text);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new QuantityParseError(`memory quantity ${JSON.stringify(text)} is too large`);
  }
  return Number(value);
}

/** The subset of a container's `resources` that memory selection reads. */
export interface ContainerResourcesLike {
  readonly requests?: Readonly<Record<string, string | number>> | undefined;
  readonly limits?: Readonly<Record<string, string | number>> | undefined;
}

/**
 * memTotal of docs/objects.md#mycnf-inputs: `requests.memory` if non-zero, else `limits.memory` if
 * non-zero, else 0.
 */
export function containerMemoryBytes(resources: ContainerResourcesLike | undefined): number {
  for (const list of [resources?.requests, resources?.limits]) {
    const q = list?.["memory"];
    if (q === undefined) continue;
    const bytes = memoryBytesFromQuantity(q);
    if (bytes !== 0) return bytes;
  }
  return 0;
}

// Names shared by the API, the webhooks and the CRD generator (docs/api.md#where-the-api-is-defined, docs/api.md#reserved-names, docs/api.md#admission-webhooks).

export const GROUP = "moco.cybozu.com";
export const VERSION = "v1beta2";
export const API_VERSION = `${GROUP}/${VERSION}`;

export const MYSQLCLUSTER_KIND = "MySQLCluster";
export const MYSQLCLUSTER_LIST_KIND = "MySQLClusterList";
export const MYSQLCLUSTER_PLURAL = "mysqlclusters";
export const MYSQLCLUSTER_SINGULAR = "mysqlcluster";

export const BACKUPPOLICY_KIND = "BackupPolicy";
export const BACKUPPOLICY_LIST_KIND = "BackupPolicyList";
export const BACKUPPOLICY_PLURAL = "backuppolicies";
export const BACKUPPOLICY_SINGULAR = "backuppolicy";

/** Finalizer the defaulting webhook adds on CREATE (docs/api.md#mysqlcluster-defaulting). */
export const MYSQLCLUSTER_FINALIZER = "moco.cybozu.com/mysqlcluster";

/** The volume claim template that must exist (mounted at /var/lib/mysql). */
export const MYSQL_DATA_VOLUME = "mysql-data";
/** Path of mysqld's slow query log: `.Path` of `spec.slowQueryLogConfigTmpl`. */
export const SLOW_LOG_PATH = "/var/log/mysql/mysql.slow";

/** The user container that runs mysqld. */
export const MYSQLD_CONTAINER = "mysqld";

/** Longest accepted MySQLCluster name (StatefulSet and CronJob names stay within 52). */
export const MAX_CLUSTER_NAME_LENGTH = 40;

/** Replica counts moco-ts accepts (docs/api.md#replica-rules; upstream accepts any positive odd number). */
export const SUPPORTED_REPLICAS: readonly number[] = [1, 3, 5];

/** System containers that `overwriteContainers[].name` may name (docs/api.md#overwritecontainer). */
export const OVERWRITABLE_CONTAINERS = ["agent", "copy-moco-init", "moco-init", "slow-log", "mysqld-exporter"] as const;

export const AGENT_CONTAINER = "agent";
export const SLOW_LOG_CONTAINER = "slow-log";
export const EXPORTER_CONTAINER = "mysqld-exporter";
export const INIT_CONTAINER = "moco-init";
export const COPY_INIT_CONTAINER = "copy-moco-init";
/** moco-ts only: copies the shipped time zone SQL into the Pod (spec.initializeTimezoneData). */
export const TIMEZONE_INIT_CONTAINER = "copy-moco-timezones";

/** mysqld container ports and port names MOCO uses (docs/api.md#reserved-names). */
export const RESERVED_MYSQLD_PORTS: readonly number[] = [3306, 33060, 33062, 9081];
export const RESERVED_MYSQLD_PORT_NAMES: readonly string[] = ["mysql", "mysqlx", "mysql-admin", "health"];

/** Pod volume names reserved upstream (docs/api.md#reserved-names). */
export const RESERVED_VOLUMES: readonly string[] = [
  "tmp",
  "run",
  "var-log",
  "mysql-conf",
  "mysql-conf-d",
  "my-cnf-secret",
  "slow-fluent-bit-config",
];
/** Names the controller also adds, reserved by moco-ts only (docs/api.md#reserved-names; stricter than MOCO). */
export const MOCO_TS_RESERVED_VOLUMES: readonly string[] = ["shared", "grpc-cert", MYSQL_DATA_VOLUME];
export const MOCO_TS_RESERVED_INIT_CONTAINERS: readonly string[] = [COPY_INIT_CONTAINER, TIMEZONE_INIT_CONTAINER];
/** A regular container cannot share a name with an init container of the same Pod. */
export const MOCO_TS_RESERVED_CONTAINERS: readonly string[] = [INIT_CONTAINER, COPY_INIT_CONTAINER, TIMEZONE_INIT_CONTAINER];

export const DEFAULT_STORAGE_CLASS_ANNOTATIONS: readonly string[] = [
  "storageclass.kubernetes.io/is-default-class",
  "storageclass.beta.kubernetes.io/is-default-class",
];

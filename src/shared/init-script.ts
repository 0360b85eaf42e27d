// moco-init as a POSIX sh script (docs/agent.md#moco-init-buildinitscript).
//
// Upstream ships moco-init as a static Go binary that a `copy-moco-init` init container
// copies from the agent image into a shared volume, so that the `moco-init` init
// container (running the user's mysqld image) can execute it. moco-ts has no
// self-contained binary to ship (the agent is a Node program), so the controller puts
// the text built here into the `moco-init` init container of the mysqld image as
// `command: ["sh", "-c", <script>]`. It needs only what a MySQL image has: sh, mysqld,
// the mysql client (for time zones: the SQL that the copy-moco-timezones init container
// copies from the moco-ts image, else mysql_tzinfo_to_sql and zoneinfo) plus rm, mv,
// mkdir and sync.
//
// Behaviour (environment POD_NAME):
//   1. require mysqld on PATH, POD_NAME with an ordinal suffix, server_id in uint32;
//   2. unless <data-dir>/moco-initialized exists: delete <data-dir>/data, run
//      `mysqld --initialize-insecure` (+ lower_case_table_names), optionally load the
//      time zone tables through a throw-away mysqld on a private socket (no network, no
//      binary log, writable even though MOCO's my.cnf says super_read_only), then write the
//      marker crash-safely (.moco-initialized, sync, rename, sync);
//   3. always (re)write <conf-dir>/my.cnf: server_id = base + ordinal, admin_address.
//
// buildInitScript is pure: the same options give the same text, so the StatefulSet
// template only changes when an option does.

export const DEFAULT_INIT_DATA_DIR = "/var/lib/mysql";
export const DEFAULT_INIT_CONF_DIR = "/etc/mysql-conf.d";
export const DEFAULT_ZONEINFO_DIR = "/usr/share/zoneinfo";
export const DEFAULT_TIMEZONE_SQL_FILE = "/tmp/moco-timezones.sql";
export interface InitScriptOptions {
  /** The persistent volume; mysqld's datadir is `<dataDir>/data`. Default /var/lib/mysql (what MOCO's controller passes). */
  readonly dataDir?: string;
  /** Directory receiving the generated my.cnf (included by the main my.cnf). Default /etc/mysql-conf.d. */
  readonly confDir?: string;
  /** `spec.serverIDBase`: server_id = base + ordinal; a uint32. */
  readonly serverIdBase: number;
  /** Passed as --lower_case_table_names when set (the user ConfigMap has the key). */
  readonly lowerCaseTableNames?: 0 | 1 | 2;
  /** `spec.initializeTimezoneData`: load the time zone tables after initialization. */
  readonly initTimezones?: boolean;
  /** `spec.agentUseLocalhost`: admin_address = localhost instead of POD_NAME. */
  readonly mysqldLocalhost?: boolean;
  /** --basedir for mysqld (upstream passes /usr/local/mysql). Omitted when unset: mysqld derives it. */
  readonly baseDir?: string;
  /** A --defaults-file for every mysqld run; unset, mysqld reads its default option files (as upstream). */
  readonly defaultsFile?: string;
  /** Where mysql_tzinfo_to_sql reads the zone files. Default /usr/share/zoneinfo. */
  readonly zoneinfoDir?: string;
  /**
   * The time zone SQL shipped with moco-ts (copied by the copy-moco-timezones init
   * container); when present it is loaded instead of running mysql_tzinfo_to_sql.
   * Default /tmp/moco-timezones.sql.
   */
  readonly timezoneSqlFile?: string;
}

const UINT32_MAX = 4294967295;

/** Single-quotes a value for sh. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function checkPath(what: string, value: string): string {
  if (!value.startsWith("/")) throw new Error(`${what} must be an absolute path, got ${JSON.stringify(value)}`);
  if (/[\0\n\r]/.test(value)) throw new Error(`${what} must not contain NUL or line breaks`);
  if (value.length > 1 && value.endsWith("/")) return value.replace(/\/+$/, "");
  return value;
}

/** Validates the options (throws with a message naming the bad one) and fills defaults. */
export function normalizeInitScriptOptions(options: InitScriptOptions): Required<Omit<InitScriptOptions, "lowerCaseTableNames" | "baseDir" | "defaultsFile">> &
  Pick<InitScriptOptions, "lowerCaseTableNames" | "baseDir" | "defaultsFile"> {
  const base = options.serverIdBase;
  if (!Number.isInteger(base) || base < 0 || base > UINT32_MAX) {
    throw new Error(`serverIdBase must be an integer in [0, ${UINT32_MAX}], got ${String(base)}`);
  }
  const lctn = options.lowerCaseTableNames;
  if (lctn !== undefined && lctn !== 0 && lctn !== 1 && lctn !== 2) {
    throw new Error(`lowerCaseTableNames must be 0, 1 or 2, got ${String(lctn)}`);
  }
  return {
    dataDir: checkPath("dataDir", options.dataDir ?? DEFAULT_INIT_DATA_DIR),
    confDir: checkPath("confDir", options.confDir ?? DEFAULT_INIT_CONF_DIR),
    serverIdBase: base,
    lowerCaseTableNames: lctn,
    initTimezones: options.initTimezones ?? false,
    mysqldLocalhost: options.mysqldLocalhost ?? false,
    baseDir: options.baseDir === undefined ? undefined : checkPath("baseDir", options.baseDir),
    defaultsFile: options.defaultsFile === undefined ? undefined : checkPath("defaultsFile", options.defaultsFile),
    zoneinfoDir: checkPath("zoneinfoDir", options.zoneinfoDir ?? DEFAULT_ZONEINFO_DIR),
    timezoneSqlFile: checkPath("timezoneSqlFile", options.timezoneSqlFile ?? DEFAULT_TIMEZONE_SQL_FILE),
  };
}

/** The moco-init script for `sh -c`. Throws on invalid options. */
export function buildInitScript(options: InitScriptOptions): string {
  const o = normalizeInitScriptOptions(options);
  const lines = [
    "# moco-init, generated by moco-ts (docs/agent.md#moco-init-buildinitscript). Needs: sh, mysqld, mysql, rm, mv, mkdir, sync.",
    "set -eu",
    `DATA_DIR=${shellQuote(o.dataDir)}`,
    `CONF_DIR=${shellQuote(o.confDir)}`,
    `SERVER_ID_BASE=${o.serverIdBase}`,
    `LOWER_CASE_TABLE_NAMES=${o.lowerCaseTableNames === undefined ? "''" : String(o.lowerCaseTableNames)}`,
    `INIT_TIMEZONES=${o.initTimezones ? 1 : 0}`,
    `MYSQLD_LOCALHOST=${o.mysqldLocalhost ? 1 : 0}`,
    `BASE_DIR=${shellQuote(o.baseDir ?? "")}`,
    `DEFAULTS_FILE=${shellQuote(o.defaultsFile ?? "")}`,
    `ZONEINFO_DIR=${shellQuote(o.zoneinfoDir)}`,
    `TZ_SQL_FILE=${shellQuote(o.timezoneSqlFile)}`,
    SCRIPT_BODY,
  ];
  return lines.join("\n");
}

// The fixed part. Only POSIX sh: no pipefail, no arrays, no `local`. `${D}{` writes a
// literal sh parameter expansion inside the template.
const D = "$";
const SCRIPT_BODY = String.raw`
log() { printf 'moco-init: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for c in mysqld rm mv mkdir sync; do
  command -v "$c" >/dev/null 2>&1 || die "$c not found in PATH"
done

[ -n "${D}{POD_NAME:-}" ] || die "POD_NAME is not set"
case "$POD_NAME" in
  *-*) ordinal=${D}{POD_NAME##*-} ;;
  *) die "POD_NAME has no ordinal suffix: $POD_NAME" ;;
esac
case "$ordinal" in
  0) ;;
  '' | 0* | *[!0-9]*) die "POD_NAME has no ordinal suffix: $POD_NAME" ;;
esac
[ "${D}{#ordinal}" -le 10 ] || die "ordinal too large: $ordinal"
server_id=$((SERVER_ID_BASE + ordinal))
[ "$server_id" -le 4294967295 ] || die "server_id $server_id exceeds uint32"

run_mysqld() {
  if [ -n "$DEFAULTS_FILE" ]; then
    set -- --defaults-file="$DEFAULTS_FILE" "$@"
  fi
  if [ -n "$BASE_DIR" ]; then
    set -- "$@" --basedir="$BASE_DIR"
  fi
  if [ -n "$LOWER_CASE_TABLE_NAMES" ]; then
    set -- "$@" --lower_case_table_names="$LOWER_CASE_TABLE_NAMES"
  fi
  mysqld "$@"
}

load_timezones() {
  command -v mysql >/dev/null 2>&1 || die "mysql client not found in PATH (needed for time zones)"
  if [ -f "$TZ_SQL_FILE" ]; then
    log "loading the time zone data shipped with moco-ts ($TZ_SQL_FILE)"
  else
    command -v mysql_tzinfo_to_sql >/dev/null 2>&1 || die "no $TZ_SQL_FILE and mysql_tzinfo_to_sql not found in PATH (needed for time zones)"
  fi
  sock="$DATA_DIR/moco-init.sock"
  pidfile="$DATA_DIR/moco-init.pid"
  tzsql="$DATA_DIR/moco-init-tz.sql"
  rm -f "$sock" "$sock.lock" "$pidfile" "$tzsql"
  log "starting a temporary mysqld to load time zone data"
  # The temporary mysqld daemonizes: make sure no failure path leaves it running.
  trap 'if [ -f "$pidfile" ]; then read -r tmp_pid <"$pidfile" && kill -9 "$tmp_pid" 2>/dev/null; fi' EXIT
  run_mysqld --datadir="$DATA_DIR/data" --socket="$sock" --pid-file="$pidfile" \
    --skip-networking --mysqlx=OFF --skip-log-bin --read_only=OFF --super_read_only=OFF --daemonize
  tries=0
  until mysql --no-defaults --protocol=SOCKET --socket="$sock" --user=root -e 'SELECT 1' >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || die "the temporary mysqld did not answer within 30 s"
    sleep 1
  done
  if [ -f "$TZ_SQL_FILE" ]; then
    cp "$TZ_SQL_FILE" "$tzsql" || die "cannot copy $TZ_SQL_FILE"
  else
    mysql_tzinfo_to_sql "$ZONEINFO_DIR" >"$tzsql" 2>/dev/null || die "mysql_tzinfo_to_sql failed"
  fi
  mysql --no-defaults --protocol=SOCKET --socket="$sock" --user=root mysql <"$tzsql" || die "loading time zone data failed"
  rm -f "$tzsql"
  read -r pid <"$pidfile" || die "no pid file from the temporary mysqld"
  mysql --no-defaults --protocol=SOCKET --socket="$sock" --user=root -e 'SHUTDOWN' || die "SHUTDOWN failed"
  tries=0
  while kill -0 "$pid" 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 120 ] || die "the temporary mysqld did not stop within 60 s"
    sleep 0.5 2>/dev/null || sleep 1
  done
  rm -f "$sock" "$sock.lock" "$pidfile"
  trap - EXIT
}

mkdir -p "$DATA_DIR" "$CONF_DIR"

if [ ! -e "$DATA_DIR/moco-initialized" ]; then
  log "initializing $DATA_DIR/data"
  rm -rf "$DATA_DIR/data"
  run_mysqld --datadir="$DATA_DIR/data" --initialize-insecure
  if [ "$INIT_TIMEZONES" = 1 ]; then
    load_timezones
  fi
  : >"$DATA_DIR/.moco-initialized"
  sync
  mv -f "$DATA_DIR/.moco-initialized" "$DATA_DIR/moco-initialized"
  sync
  log "initialized"
fi

if [ "$MYSQLD_LOCALHOST" = 1 ]; then
  admin_address=localhost
else
  admin_address=$POD_NAME
fi
printf '[mysqld]\nserver_id = %s\nadmin_address = %s\n' "$server_id" "$admin_address" >"$CONF_DIR/.my.cnf.tmp"
mv -f "$CONF_DIR/.my.cnf.tmp" "$CONF_DIR/my.cnf"
log "wrote $CONF_DIR/my.cnf (server_id = $server_id, admin_address = $admin_address)"
`;

// Pure text helpers of the plugin: the my.cnf form of `credential`, Go-style quoting,
// the user → Secret key mapping, and plain-text tables.
import { goQuote } from "../api/v1beta2/index.ts";
import { CLI_USER_NAMES, mocoUser } from "../mysql/index.ts";
import type { MocoUserName, PasswordKey } from "../mysql/index.ts";
import { CliError, EXIT } from "./errors.ts";

/** Users `credential` prints and `-u` completion offers (docs/cli.md#credential). */
export const CREDENTIAL_USERS: readonly string[] = CLI_USER_NAMES;

/**
 * Users `mysql -u` accepts: the five whose `<user>-my.cnf` the `moco-my-cnf-<cluster>`
 * Secret mounts in every Pod (docs/objects.md#secrets-in-the-cluster-namespace). Upstream accepts any name and fails inside
 * the Pod; moco-ts rejects other names up front.
 */
export const MYSQL_CLIENT_USERS: readonly string[] = Object.freeze([
  "moco-readonly",
  "moco-writable",
  "moco-admin",
  "moco-backup",
  "moco-exporter",
]);

export const CREDENTIAL_FORMATS: readonly string[] = Object.freeze(["plain", "mycnf"]);

/** The Secret key holding `user`'s password; throws `invalid user: <user>` for others. */
export function passwordKeyFor(user: string): PasswordKey {
  if (!(CREDENTIAL_USERS as readonly string[]).includes(user)) {
    throw new CliError(`invalid user: ${user}`, EXIT.USAGE);
  }
  return mocoUser(user as MocoUserName).passwordKey;
}

/** Go's strconv.Quote (`%q`), one implementation for all of moco-ts. */
export { goQuote };

/** `credential` output in `format` (docs/cli.md#credential): the password line, or a [client] section. */
export function formatCredential(user: string, password: string, format: string): string {
  switch (format) {
    case "plain":
      return `${password}\n`;
    case "mycnf":
      return `[client]\nuser=${user}\npassword=${goQuote(password)}\n`;
    default:
      throw new CliError(`unknown format: ${format}`, EXIT.USAGE);
  }
}

/**
 * A left-aligned table with two spaces between columns, like kubectl get: header row
 * first. Cells are printed as given; missing cells are empty.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      header
        .map((_, i) => {
          const cell = r[i] ?? "";
          return i === header.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
        })
        .join("  ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/** Parses a non-negative or -1 integer flag value (`--index`). */
export function parseIndex(text: string): number {
  if (!/^-?\d+$/.test(text.trim())) {
    throw new CliError(`invalid argument ${JSON.stringify(text)} for "--index" flag: not an integer`, EXIT.USAGE);
  }
  return Number(text.trim());
}

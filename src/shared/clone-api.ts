// The clone API's wire contract (docs/agent.md): the path, the JSON request and the
// error body of `POST /v1/clone`. The agent serves it (src/agent/clone-server.ts) and the
// controller calls it (clone-client.ts); both import it from here.

export const CLONE_PATH = "/v1/clone";

/** The JSON body of `POST /v1/clone` (fields of upstream's CloneRequest). */
export interface CloneRequest {
  /** Donor host (name or IPv4; IPv6 literals are not supported by clone_valid_donor_list). */
  readonly host: string;
  readonly port: number;
  /** Donor user with BACKUP_ADMIN (and REPLICATION SLAVE for later replication). */
  readonly user: string;
  readonly password: string;
  /** A user of the donor's data with ALL and GRANT OPTION, reachable through the socket. */
  readonly init_user: string;
  readonly init_password: string;
  /** How long to wait for mysqld to come back after the clone; default 600. */
  readonly boot_timeout_seconds?: number;
  /**
   * moco-ts addition (spec.tls, docs/tls.md): clone over TLS with the donor's certificate
   * verified against the recipient's CA (`clone_ssl_ca`, `REQUIRE SSL`). Absent or false ⇒
   * the clone plugin's default, as MOCO (TLS when the donor offers it, unverified).
   */
  readonly verify_donor_tls?: boolean;
  /**
   * moco-ts addition (docs/clustering.md "Errant former primary"): the recipient may hold
   * data when this non-empty GTID set names only transactions it executed with its own
   * `server_uuid` (the controller found them to be all it has beyond the primary); the clone
   * discards them. Absent ⇒ the recipient must be empty (FAILED_PRECONDITION otherwise), as MOCO.
   */
  readonly discard_errant_gtids?: string;
}

/** gRPC status code names used in error bodies, with their HTTP status. */
export const CLONE_ERROR_STATUS = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  FAILED_PRECONDITION: 412,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
} as const;
export type CloneErrorCode = keyof typeof CLONE_ERROR_STATUS;

/** The JSON body of every non-200 response. */
export interface CloneErrorBody {
  readonly code: CloneErrorCode;
  readonly message: string;
}

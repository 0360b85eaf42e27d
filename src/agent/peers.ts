// The question a writable instance's agent asks its peers for active self-fencing
// (docs/clustering.md "Self-fencing"): "do you replicate from me?". A peer's agent answers
// from its own mysqld (the replication channel's configured source host/port and whether
// its IO thread is stopped) on the probe port (docs/agent.md: the clone API's mutual TLS
// accepts only the controller's client certificate, and the agents' own certificates are
// server-only, so an agent cannot be a client there). The answer carries nothing secret: the
// peer's source host and IO thread state. The peers' mysqld are never called
// (a failed connection would count towards their max_connect_errors).
import os from "node:os";

import type { Connection } from "mysql2/promise";

import { queryRows } from "../mysql/query.ts";
import { REPLICATION_SOURCE_PATH, SELF_FENCE_PROBE_TIMEOUT_MS, probedVariable } from "../mysql/self-fence.ts";
import { names } from "../shared/names.ts";
import { podOrdinal } from "../util/pod-name.ts";

/** Who asks: its Pod name, the addresses replicas may use as its SOURCE_HOST, its mysqld port. */
export interface Requester {
  readonly pod: string;
  readonly hosts: readonly string[];
  readonly port: number;
}

/** The peer's replication channel ("" channel); null when it is not a replica. */
export interface SourceView {
  readonly host: string;
  readonly port: number;
  /** performance_schema.replication_connection_status.SERVICE_STATE: ON, CONNECTING or OFF. */
  readonly ioState: string;
}

export interface PeerAnswer {
  readonly confirm: boolean;
  readonly source: SourceView | null;
}

/**
 * Whether `source` is the requester and is not stopped (pure): the port matches and the host
 * is either one of the requester's addresses or a DNS name whose first label is its Pod name
 * (`moco-C-i.moco-C.NS.svc`, as the controller configures replication).
 */
export function confirmsRequester(source: SourceView | null, who: Requester): boolean {
  if (source === null || source.ioState.toUpperCase() === "OFF" || source.ioState === "") return false;
  if (who.port > 0 && source.port !== who.port) return false;
  const host = source.host.toLowerCase();
  if (who.hosts.some((h) => h.toLowerCase() === host)) return true;
  return who.pod !== "" && host.split(".")[0] === who.pod.toLowerCase();
}

/** The channel's configured source, the IO thread state and mysqld's time, read over the socket. */
export const REPLICATION_SOURCE_QUERY =
  "SELECT c.HOST AS host, c.PORT AS port, s.SERVICE_STATE AS state, NOW(6) AS at " +
  "FROM performance_schema.replication_connection_configuration c " +
  "JOIN performance_schema.replication_connection_status s ON s.CHANNEL_NAME = c.CHANNEL_NAME WHERE c.CHANNEL_NAME = ''";

export function parseSourceView(row: Record<string, unknown> | undefined): SourceView | null {
  if (row === undefined) return null;
  return { host: String(row.host ?? ""), port: Number(row.port ?? 0), ioState: String(row.state ?? "") };
}

/**
 * The replica side: reads the source over its own socket session and, for a confirmation,
 * records it in mysqld (@moco_ts_probed_by_<requester>, src/mysql/self-fence.ts) before the
 * answer goes out, so every confirmation a requester counts is on record by then. A record
 * that cannot be written turns the answer into "no".
 */
export class SourceAnswerer {
  readonly #connect: () => Promise<Connection>;
  #conn: Connection | null = null;

  constructor(connect: () => Promise<Connection>) {
    this.#connect = connect;
  }

  async answer(who: Requester, timeoutMs = SELF_FENCE_PROBE_TIMEOUT_MS): Promise<PeerAnswer> {
    if (this.#conn === null) {
      const c = await this.#connect();
      c.on("error", () => {
        if (this.#conn === c) this.#conn = null;
      });
      this.#conn = c;
    }
    const conn = this.#conn;
    try {
      const row = (await queryRows(conn, REPLICATION_SOURCE_QUERY, [], timeoutMs))[0];
      const source = parseSourceView(row);
      const ordinal = podOrdinal(who.pod);
      if (!confirmsRequester(source, who) || ordinal === undefined) return { confirm: false, source };
      await conn.query({ sql: `SET @${probedVariable(ordinal)} = ?`, timeout: timeoutMs }, [String(row?.at ?? "")]);
      return { confirm: true, source };
    } catch (err) {
      conn.destroy();
      if (this.#conn === conn) this.#conn = null;
      throw err;
    }
  }

  close(): void {
    this.#conn?.destroy();
    this.#conn = null;
  }
}

/** The requester from the query string of a peer request; an error names the bad field. */
export function parseRequester(url: URL): Requester {
  const pod = url.searchParams.get("pod") ?? "";
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(pod) || pod.length > 253) throw new Error("query parameter pod: a Pod name is required");
  const port = Number(url.searchParams.get("port") ?? "0");
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("query parameter port: not a port number");
  const hosts = url.searchParams.getAll("host").filter((h) => h !== "").slice(0, 16);
  return { pod, hosts, port };
}

/** The addresses of this host's non-internal interfaces (a Pod's IP), for Requester.hosts. */
export function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => !a.internal).map((a) => a.address));
}

/** Where peer `ordinal`'s probe port is: `moco-C-i.moco-C` (the Pod's DNS search path adds the namespace). */
export function defaultPeerAddress(cluster: string, probePort: number): (ordinal: number) => { host: string; port: number } {
  return (ordinal) => ({ host: `${names.pod(cluster, ordinal)}.${names.prefixed(cluster)}`, port: probePort });
}

export interface PeerClientOptions {
  readonly requester: Omit<Requester, "port">;
  readonly peerAddress: (ordinal: number) => { host: string; port: number };
  readonly timeoutMs?: number | undefined;
}

/** The AskPeer of src/agent/self-fence.ts over HTTP: true only for an in-time confirming answer. */
export function peerAsker(o: PeerClientOptions): (ordinal: number, port: number, signal: AbortSignal) => Promise<boolean> {
  return async (ordinal, port, signal) => {
    const { host, port: probePort } = o.peerAddress(ordinal);
    const q = new URLSearchParams({ pod: o.requester.pod, port: String(port) });
    for (const h of o.requester.hosts) q.append("host", h);
    const authority = host.includes(":") ? `[${host}]` : host;
    try {
      const res = await fetch(`http://${authority}:${probePort}${REPLICATION_SOURCE_PATH}?${q.toString()}`, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs ?? SELF_FENCE_PROBE_TIMEOUT_MS)]),
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        return false;
      }
      const body = (await res.json()) as Partial<PeerAnswer>;
      return body.confirm === true;
    } catch {
      return false;
    }
  };
}

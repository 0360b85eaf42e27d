// The agent's active self-fencing timings (docs/clustering.md "Self-fencing"), one source
// for both sides: moco-agent's flag defaults (src/agent/config.ts, src/agent/self-fence.ts)
// and the clustering engine's failover guard (src/clustering/fence-guard.ts; it may import only src/mysql), which waits
// until an unreachable old primary must have fenced itself. The controller does not render
// these as agent arguments: the agent's defaults are these constants.

/** Default --self-fence-threshold: how long fewer than w peers confirm before the agent fences. */
export const DEFAULT_SELF_FENCE_THRESHOLD_MS = 2_000;
/** How often a writable instance's agent asks its peers (and looks at its own mysqld). */
export const SELF_FENCE_PROBE_INTERVAL_MS = 500;
/** Bound of one peer request; an answer later than this does not confirm. */
export const SELF_FENCE_PROBE_TIMEOUT_MS = 1_000;
/**
 * How long a confirmation counts, from the moment its request was sent: one interval plus
 * one timeout, so a healthy peer answering every request in time never lapses.
 */
export const SELF_FENCE_CONFIRMATION_TTL_MS = SELF_FENCE_PROBE_INTERVAL_MS + SELF_FENCE_PROBE_TIMEOUT_MS;
/**
 * Bound of the fence itself on the agent's socket connection until super_read_only is on
 * (offline_mode, kill of client sessions, semi-sync source off, super_read_only).
 */
export const SELF_FENCE_DURATION_MS = 1_000;
/** Slack for the agent's own mysqld look and scheduling (on the shared 2-core test machine the idle fence came up to ~0.7 s later than the ideal bound). */
export const SELF_FENCE_MARGIN_MS = 1_000;

/** The path of the peer answer on the agent's probe port (docs/agent.md). */
export const REPLICATION_SOURCE_PATH = "/replication-source";

export interface SelfFenceTimings {
  /** 0: self-fencing is off (the engine's guard then does not wait). */
  readonly thresholdMs: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly fenceDurationMs: number;
  readonly marginMs: number;
}

export const DEFAULT_SELF_FENCE_TIMINGS: SelfFenceTimings = Object.freeze({
  thresholdMs: DEFAULT_SELF_FENCE_THRESHOLD_MS,
  probeIntervalMs: SELF_FENCE_PROBE_INTERVAL_MS,
  probeTimeoutMs: SELF_FENCE_PROBE_TIMEOUT_MS,
  fenceDurationMs: SELF_FENCE_DURATION_MS,
  marginMs: SELF_FENCE_MARGIN_MS,
});

/**
 * From the moment the old primary's last w+1 peers stopped confirming (T0) to the moment it
 * has surely fenced itself: a confirmation counts for interval + timeout after its request
 * was sent (sent before T0), then fewer than w count for the threshold, the agent notices at
 * its next look (one interval), then the fence runs, plus a margin.
 */
export function selfFenceBoundMs(t: SelfFenceTimings): number {
  return t.probeIntervalMs + t.probeTimeoutMs + t.thresholdMs + t.probeIntervalMs + t.fenceDurationMs + t.marginMs;
}

// ---- "last probed by the primary", recorded in each replica's mysqld -------------------
// A replica's agent, when it confirms a probe of instance i, sets the user variable
// @moco_ts_probed_by_<i> to mysqld's NOW(6) (read with the replication source it confirmed)
// on a session it keeps open, before it answers. The engine reads the age on the same mysqld
// (performance_schema.user_variables_by_thread, mysqld's own clock). The session ends with the
// agent: no variable, then, means "unknown".

export function probedVariable(ordinal: number): string {
  return `moco_ts_probed_by_${ordinal}`;
}

export const PROBED_AGES_QUERY =
  "SELECT VARIABLE_NAME AS n, TIMESTAMPDIFF(MICROSECOND, VARIABLE_VALUE, NOW(6)) AS us " +
  "FROM performance_schema.user_variables_by_thread WHERE VARIABLE_NAME LIKE 'moco\\_ts\\_probed\\_by\\_%'";

/** Requester ordinal → milliseconds since its last confirmed probe (the youngest record per ordinal). */
export function parseProbedAges(rows: readonly Record<string, unknown>[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of rows) {
    const m = /^moco_ts_probed_by_(\d+)$/.exec(String(r.n ?? "").toLowerCase());
    const us = Number(r.us);
    if (m === null || r.us === null || !Number.isFinite(us)) continue;
    const ordinal = Number(m[1]);
    const ms = Math.max(0, us / 1000);
    out.set(ordinal, Math.min(out.get(ordinal) ?? Number.POSITIVE_INFINITY, ms));
  }
  return out;
}

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
/** Slack for the agent's own mysqld look and scheduling. */
export const SELF_FENCE_MARGIN_MS = 500;

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

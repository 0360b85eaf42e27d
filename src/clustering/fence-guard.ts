// The failover guard (docs/clustering.md "Self-fencing"): an old primary the controller could
// not fence itself (unreachable) fences itself once fewer than w = floor(n/2) of its peers
// have confirmed replicating from it for --self-fence-threshold (src/agent/self-fence.ts).
// The new primary becomes writable only once that must have happened. Pure.
import { selfFenceBoundMs, type SelfFenceTimings } from "../mysql/self-fence.ts";

/** What the controller knows of one peer of the old primary (every ordinal but the old primary's). */
export interface GuardPeer {
  /** The controller reached it in this failover (its IO thread stopped or re-pointed by it). */
  readonly reached: boolean;
  /** Milliseconds since the controller saw its IO thread stopped or re-pointed; undefined: not seen. */
  readonly ioStoppedAgeMs?: number | undefined;
  /**
   * Milliseconds since its agent last confirmed a probe of the old primary (its own record);
   * undefined: unknown. Valid only when read after the IO thread was stopped plus one probe
   * timeout (an answer computed before the stop is then on record); the caller leaves it out
   * otherwise.
   */
  readonly probedAgeMs?: number | undefined;
}

export interface GuardDecision {
  /** How much longer to keep the new primary read-only. */
  readonly waitMs: number;
  /** S: how long the old primary has lacked w confirmations at least. */
  readonly silentMs: number;
  readonly reason: string;
}

/**
 * s_r: how long peer r has surely not confirmed (0 for an unreached one: it may be confirming
 * now). Both figures are lower bounds of that time (a stopped IO thread never confirms; the
 * agent's record is its last confirmation), so the larger one holds.
 */
export function peerSilenceMs(p: GuardPeer): number {
  if (!p.reached) return 0;
  const known = [p.ioStoppedAgeMs, p.probedAgeMs].filter((v): v is number => v !== undefined && Number.isFinite(v) && v >= 0);
  return known.length === 0 ? 0 : Math.max(...known);
}

/**
 * What the failover's pass knows of the old primary itself: `read-only` (reached and
 * super_read_only: fenced by the controller), `down` (every try refused and the kubelet
 * reports its mysqld container not running: it takes no write, and starts again
 * super_read_only), or `unknown` (unreachable, or reached writable).
 */
export type OldPrimaryState = "unknown" | "read-only" | "down";

/**
 * How long to wait before the new primary may be writable. n instances, w = floor(n/2):
 * the old primary lacks w confirmations for at least S = the (w+1)-th largest s_r over its
 * n-1 peers (then at most w-1 peers can still confirm), and has fenced itself
 * selfFenceBoundMs(timings) after that began; wait = max(0, bound − S). An old primary
 * `read-only` or `down`, or timings.thresholdMs 0 (self-fencing off: the old behaviour) ⇒ no
 * wait; n = 1 ⇒ no wait.
 */
export function failoverGuard(n: number, peers: readonly GuardPeer[], timings: SelfFenceTimings, old: OldPrimaryState = "unknown"): GuardDecision {
  if (old === "read-only") return { waitMs: 0, silentMs: 0, reason: "the old primary is read-only (fenced by the controller)" };
  if (old === "down") return { waitMs: 0, silentMs: 0, reason: "the old primary's mysqld is down (connections refused, its container not running): it starts again read-only" };
  if (timings.thresholdMs <= 0) return { waitMs: 0, silentMs: 0, reason: "self-fencing is off: no wait (the old primary may stay writable until a pass reaches it)" };
  if (n <= 1) return { waitMs: 0, silentMs: 0, reason: "a single instance" };
  const w = Math.floor(n / 2);
  const bound = selfFenceBoundMs(timings);
  const silences = peers.map(peerSilenceMs).sort((a, b) => b - a);
  const s = silences[w] ?? 0;
  const waitMs = Math.max(0, Math.ceil(bound - s));
  return {
    waitMs,
    silentMs: s,
    reason: `${w + 1} of the old primary's ${n - 1} peers have not confirmed it for ${Math.round(s)} ms; it fences itself within ${bound} ms of that`,
  };
}

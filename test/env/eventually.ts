// Polling for tests and the environment: calls `probe` until it returns a value other than
// undefined/false, and fails with the last error seen when `timeoutMs` runs out. A probe that
// knows waiting is pointless (the process it waits for exited) throws GiveUp to fail at once.
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../../src/util/errors.ts";

/** Thrown by a probe to stop polling at once; eventually() rethrows it as it is. */
export class GiveUp extends Error {
  override name = "GiveUp";
}

/** Thrown by eventually() when `timeoutMs` ran out; `cause` is the probe's last error, if any. */
export class PollTimeout extends Error {
  override name = "PollTimeout";
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last === undefined ? "" : `: ${errorMessage(last)}`;
      throw new PollTimeout(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`, { cause: last });
    }
    await sleep(intervalMs);
  }
}

// Polling for tests: calls `probe` until it returns a value other than undefined/false,
// and fails with the last error seen when `timeoutMs` runs out.
import { setTimeout as sleep } from "node:timers/promises";

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
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last === undefined ? "" : `: ${(last as Error)?.message ?? String(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

// The ordinal of a StatefulSet Pod from its name `<statefulset>-<ordinal>`: the one parser the
// controller, the agent, the clustering engine and the backup job use.

/**
 * The ordinal after the last `-` of `podName`, or undefined when there is none. The
 * StatefulSet controller writes ordinals in decimal without leading zeros and below 2^32,
 * so "moco-c-007" and "moco-c-99999999999" are not Pod names it makes.
 */
export function podOrdinal(podName: string): number | undefined {
  const m = /-(0|[1-9][0-9]{0,9})$/.exec(podName);
  if (m?.[1] === undefined) return undefined;
  const n = Number(m[1]);
  return n <= 4294967295 ? n : undefined;
}

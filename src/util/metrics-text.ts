// Reads one series out of a Prometheus text exposition (a /metrics body): the agent reads the
// exporter's start time with it, the tests read series of the components they scrape.

/** The value of the first series `name` whose labels include `labels`, or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{ ]+)(\{([^}]*)\})? (.+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const ls: Record<string, string> = {};
    for (const kv of (m[3] ?? "").matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) ls[kv[1] ?? ""] = kv[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) return Number(m[4]);
  }
  return undefined;
}

// Where a MySQLCluster's bring-up time goes, per Pod, from real timestamps (issue #14):
//   node bench/startup-timeline.ts KUBECONFIG NAMESPACE CLUSTER
// prints, in seconds after the cluster's creation, the cluster's conditions, each Pod's
// conditions, each (init) container's start and finish (and the previous run's, after a
// restart) and the namespace's events (Scheduled, Pulled, Started, Unhealthy probes, the
// controller's events). Run it right after a bring-up, e.g. on the sandbox:
//   node bench/startup-timeline.ts .cache/realnode/moco-ts-sandbox/control-plane/kubeconfig default sandbox
// Event times have a one-second granularity (the API's); container times too.
import { execFileSync } from "node:child_process";
import { k8sBinary } from "../test/env/kube.ts";

interface Cond { type: string; status: string; lastTransitionTime?: string }
interface ContainerState { startedAt?: string; finishedAt?: string; exitCode?: number }
interface ContainerStatus {
  name: string;
  state?: Record<string, ContainerState>;
  lastState?: { terminated?: ContainerState };
}
interface Obj { metadata: { name: string; creationTimestamp: string }; status?: { conditions?: Cond[]; initContainerStatuses?: ContainerStatus[]; containerStatuses?: ContainerStatus[] } }
interface Ev {
  involvedObject: { kind: string; name: string };
  reason: string;
  message?: string;
  count?: number;
  eventTime?: string;
  firstTimestamp?: string;
  lastTimestamp?: string;
  metadata: { creationTimestamp: string };
}

const [kubeconfig, ns, name] = process.argv.slice(2);
if (kubeconfig === undefined || ns === undefined || name === undefined) {
  console.error("usage: node bench/startup-timeline.ts KUBECONFIG NAMESPACE CLUSTER");
  process.exit(2);
}

function get<T>(...args: string[]): T {
  return JSON.parse(execFileSync(k8sBinary("kubectl"), ["--kubeconfig", kubeconfig!, "-n", ns!, "get", ...args, "-o", "json"], { encoding: "utf8", maxBuffer: 64 << 20 })) as T;
}

const ms = (t: string | undefined | null) => (t ? Date.parse(t) : undefined);
const cluster = get<Obj>("mysqlcluster", name);
const t0 = ms(cluster.metadata.creationTimestamp)!;
const rows: [number, string][] = [];
const add = (t: number | undefined, what: string) => { if (t !== undefined) rows.push([(t - t0) / 1000, what]); };

for (const c of cluster.status?.conditions ?? []) add(ms(c.lastTransitionTime), `cluster ${c.type}=${c.status}`);
const pods = get<{ items: Obj[] }>("pods", "-l", `app.kubernetes.io/instance=${name}`).items;
for (const p of pods) {
  const pn = p.metadata.name;
  add(ms(p.metadata.creationTimestamp), `${pn} created`);
  for (const c of p.status?.conditions ?? []) add(ms(c.lastTransitionTime), `${pn} ${c.type}=${c.status}`);
  for (const cs of [...p.status?.initContainerStatuses ?? [], ...p.status?.containerStatuses ?? []]) {
    for (const [kind, st] of Object.entries(cs.state ?? {})) {
      add(ms(st.startedAt), `${pn} ${cs.name} started (now ${kind})`);
      add(ms(st.finishedAt), `${pn} ${cs.name} finished (exit ${st.exitCode})`);
    }
    const prev = cs.lastState?.terminated;
    if (prev) {
      add(ms(prev.startedAt), `${pn} ${cs.name} previous run started`);
      add(ms(prev.finishedAt), `${pn} ${cs.name} previous run finished (exit ${prev.exitCode})`);
    }
  }
}
for (const e of get<{ items: Ev[] }>("events").items) {
  const t = ms(e.eventTime) ?? ms(e.firstTimestamp) ?? ms(e.metadata.creationTimestamp);
  const last = (e.count ?? 1) > 1 && e.lastTimestamp ? ` (×${e.count}, last at ${((ms(e.lastTimestamp)! - t0) / 1000).toFixed(1)})` : "";
  add(t, `event ${e.involvedObject.kind}/${e.involvedObject.name} ${e.reason}: ${(e.message ?? "").slice(0, 110)}${last}`);
}
rows.sort((a, b) => a[0] - b[0]);
for (const [t, what] of rows) console.log(`${t.toFixed(1).padStart(7)}  ${what}`);

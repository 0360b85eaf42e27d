// Faults on the real node's containers, for tests (docs/sandbox.md, "Real node").
// Minimal version: kill -9 of a container's main process. (The chaos work adds the other
// fault kinds in this file.)
import fs from "node:fs";
import path from "node:path";
import { paths, type NodeLayout } from "./config.ts";

const taskDir = (l: NodeLayout) => path.join(paths(l).containerdState, "io.containerd.runtime.v2.task", "k8s.io");

/**
 * The ids of the containerd tasks (running containers) of one container of a Pod, found from
 * the CRI annotations of each task's OCI spec: read on the host, without the API's lag.
 */
export function containerTaskIds(l: NodeLayout, target: { namespace: string; pod: string; container: string }): string[] {
  let ids: string[] = [];
  try { ids = fs.readdirSync(taskDir(l)); } catch { return []; }
  return ids.filter((id) => {
    try {
      const a = (JSON.parse(fs.readFileSync(path.join(taskDir(l), id, "config.json"), "utf8")) as { annotations?: Record<string, string> }).annotations ?? {};
      return a["io.kubernetes.cri.container-type"] === "container" && a["io.kubernetes.cri.sandbox-namespace"] === target.namespace &&
        a["io.kubernetes.cri.sandbox-name"] === target.pod && a["io.kubernetes.cri.container-name"] === target.container;
    } catch { return false; }
  });
}

/** The host pid of a container's main process (containerd's init.pid of its task); undefined when it has no task. */
export function containerMainPid(l: NodeLayout, containerID: string): number | undefined {
  const id = containerID.replace(/^containerd:\/\//, "");
  try {
    const pid = Number(fs.readFileSync(path.join(taskDir(l), id, "init.pid"), "utf8"));
    return pid > 0 ? pid : undefined;
  } catch { return undefined; }
}

/**
 * kill -9 of a container's main process (containerID as in a Pod's containerStatuses,
 * `containerd://<id>`). Returns the pid killed; throws when the container has no process.
 */
export function killContainerProcess(l: NodeLayout, containerID: string): number {
  const pid = containerMainPid(l, containerID);
  if (pid === undefined) throw new Error(`container ${containerID} has no running task on node ${l.nodeName}`);
  process.kill(pid, "SIGKILL");
  return pid;
}

// Faults on the real node's containers, for tests (docs/sandbox.md, "Real node").
// Minimal version: kill -9 of a container's main process. (The chaos work adds the other
// fault kinds in this file.)
import fs from "node:fs";
import path from "node:path";
import { paths, type NodeLayout } from "./config.ts";

/** The host pid of a container's main process (containerd's init.pid of its task); undefined when it has no task. */
export function containerMainPid(l: NodeLayout, containerID: string): number | undefined {
  const id = containerID.replace(/^containerd:\/\//, "");
  try {
    const pid = Number(fs.readFileSync(path.join(paths(l).containerdState, "io.containerd.runtime.v2.task", "k8s.io", id, "init.pid"), "utf8"));
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

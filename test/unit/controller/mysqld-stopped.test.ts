// PodView.mysqldStopped (src/controller/clustering-adapter.ts): the engine fails a primary over
// without the self-fence guard's wait only when the kubelet holds its mysqld container down;
// a crash the kubelet restarts at once must not count (the primary would be failed over and
// come back errant instead of coming back as the primary).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1ContainerState, V1Pod } from "@kubernetes/client-node";
import { mysqldStopped } from "../../../src/controller/clustering-adapter.ts";

const pod = (state: V1ContainerState | undefined, name = "mysqld"): V1Pod => ({
  metadata: { name: "moco-c-0" },
  status: state === undefined ? {} : { containerStatuses: [{ name, state, ready: false, restartCount: 1, image: "", imageID: "" }] },
});

describe("mysqldStopped", () => {
  const cases: { name: string; pod: V1Pod; want: boolean | undefined }[] = [
    { name: "running", pod: pod({ running: { startedAt: new Date() } }), want: false },
    { name: "terminated (the kubelet restarts it now)", pod: pod({ terminated: { exitCode: 137, reason: "Error" } }), want: false },
    { name: "waiting in CrashLoopBackOff", pod: pod({ waiting: { reason: "CrashLoopBackOff" } }), want: true },
    { name: "waiting: cannot be run", pod: pod({ waiting: { reason: "RunContainerError" } }), want: true },
    { name: "waiting: being created", pod: pod({ waiting: { reason: "ContainerCreating" } }), want: false },
    { name: "waiting: the Pod initializing", pod: pod({ waiting: { reason: "PodInitializing" } }), want: false },
    { name: "no state reported", pod: pod(undefined), want: undefined },
    { name: "only another container reported", pod: pod({ waiting: { reason: "CrashLoopBackOff" } }, "agent"), want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(mysqldStopped(c.pod), c.want));
});

// What the campaign (chaos/main.ts) and the failover benchmark (bench/failover.ts) both run
// against: the node's network namespace (Pod addresses are reachable only there), then the
// cluster's instances, the 100 ms sampler and the acknowledged-writes writer.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { nodeLayout } from "../sandbox/realnode/node.ts";
import type { Parts } from "./campaign.ts";
import { Instances } from "./instances.ts";
import { kubeFor, type Kube } from "./kube.ts";
import { Rng } from "./rng.ts";
import { Sampler } from "./sampler.ts";
import { secretValue } from "./setup.ts";
import { ChaosWriter } from "./writer.ts";
import { setTimeout as sleep } from "node:timers/promises";

const IN_NETNS = "CHAOS_IN_NETNS";

/** The options of the cluster a run acts on (the campaign's and the bench's). */
export function clusterOptions(cmd: Command): Command {
  return cmd
    .option("--namespace <ns>", "namespace of the MySQLCluster", "chaos")
    .option("--cluster <name>", "the MySQLCluster (created with 3 instances when missing)", "chaos")
    .option("--recovery-timeout <s>", "longest wait for Healthy after a fault (s)", "600");
}

/**
 * Outside the node's network namespace: runs `script` again inside it with the same
 * arguments and exits with its status (never returns). Inside: returns the node's kubeconfig.
 */
export function inNodeNetns(node: string, script: string): { layout: ReturnType<typeof nodeLayout>; kube: Kube } {
  const layout = nodeLayout(node);
  if (!process.env[IN_NETNS]) {
    const netns = path.join(layout.dir, "ns", "net");
    if (!fs.existsSync(netns)) {
      console.error(`the real node ${node} is not running: start it with \`MOCO_TS_SANDBOX_NODE=${node} npm run sandbox\``);
      process.exit(2);
    }
    const r = spawnSync("nsenter", [`--net=${netns}`, "--", process.execPath, script, ...process.argv.slice(2)], {
      stdio: "inherit", env: { ...process.env, [IN_NETNS]: "1" },
    });
    process.exit(r.status ?? 1);
  }
  return { layout, kube: kubeFor(path.join(layout.dir, "inner.kubeconfig")) };
}

export interface Session extends Parts {
  /** Stops the writer, checks every acknowledged insert on the final primary, stops the rest. */
  finish(): Promise<{ primary: string | undefined; lostTotal: number }>;
}

/** Starts the instances list, the sampler and the writer against a Healthy cluster. */
export async function openSession(o: {
  layout: ReturnType<typeof nodeLayout>; kube: Kube; namespace: string; cluster: string; seed: number; short: boolean; log(m: string): void;
}): Promise<Session> {
  const { kube } = o;
  const secret = `moco-${o.cluster}`;
  const writable = { user: "moco-writable", password: await secretValue(kube, o.namespace, secret, "WRITABLE_PASSWORD") };
  const admin = { user: "moco-admin", password: await secretValue(kube, o.namespace, secret, "ADMIN_PASSWORD") };
  const instances = new Instances(kube, o.namespace, o.cluster);
  await instances.start();
  const sampler = new Sampler(instances, writable);
  await sampler.sampleOnce();
  sampler.start();
  const writer = new ChaosWriter(instances, writable, () => sampler.writable);
  await writer.setup();
  writer.start();
  const ctx = { node: { layout: o.layout }, kube, instances, rng: new Rng(o.seed), admin, client: writable, short: o.short, log: o.log, writable: () => sampler.writable };
  return {
    ctx, kube, instances, sampler, writer,
    async finish() {
      await writer.stop();
      await sleep(2000);
      await instances.refresh();
      const primary = instances.labelledPrimary();
      let lostTotal = -1;
      if (primary?.ip) {
        const present = await writer.presentOn(primary.ip);
        lostTotal = writer.acked.filter((id) => !present.has(id)).length;
      }
      await sampler.stop();
      instances.stop();
      return { primary: primary?.name, lostTotal };
    },
  };
}

// The real node's configuration files (sandbox/realnode/config.ts): each parses, and carries
// the settings without which the node leaks onto the host or breaks on this machine.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import {
  containerdConfig, cniConfig, corefile, kubeProxyConfig, kubeletConfig, localPathManifests, paths,
  NODE_IP, PAUSE_IMAGE, STORAGE_CLASS, type NodeLayout,
} from "../../../sandbox/realnode/config.ts";

const layout: NodeLayout = { dir: "/cache/realnode/n1", cgroupRoot: "/moco-ts-n1", nodeName: "n1" };

describe("real node configuration", () => {
  it("keeps every containerd path under the node's directory, with the settings this machine needs", () => {
    const toml = containerdConfig(layout);
    const pathsInIt = [...toml.matchAll(/= "(\/[^"]*)"/g)].map((m) => m[1]!);
    assert.ok(pathsInIt.length >= 6);
    for (const p of pathsInIt) {
      assert.ok(p.startsWith(layout.dir) || p === "/usr/lib/cni", `${p} is outside the node's directory`);
    }
    for (const line of ["restrict_oom_score_adj = true", `sandbox_image = "${PAUSE_IMAGE}"`, "SystemdCgroup = false", 'snapshotter = "overlayfs"']) {
      assert.ok(toml.includes(line), line);
    }
  });

  it("gives Pods the node's address as their gateway without making the bridge one", () => {
    const conf = JSON.parse(cniConfig(layout)) as { plugins: { type: string; isGateway?: boolean; ipMasq?: boolean; ipam?: { dataDir: string; routes: { gw: string }[] } }[] };
    const bridge = conf.plugins.find((p) => p.type === "bridge")!;
    assert.equal(bridge.isGateway, false);
    assert.equal(bridge.ipMasq, false);
    assert.deepEqual(bridge.ipam!.routes.map((r) => r.gw), [NODE_IP]);
    assert.equal(bridge.ipam!.dataDir, paths(layout).cniDataDir);
  });

  it("configures kubelet for cgroup v1 with its own cgroup root, DNS and no host resolv.conf", () => {
    const k = parse(kubeletConfig(layout, { ca: "/ca", cert: "/c", key: "/k" })) as Record<string, unknown>;
    assert.equal(k.cgroupDriver, "cgroupfs");
    assert.equal(k.cgroupRoot, layout.cgroupRoot);
    assert.equal(k.failCgroupV1, false);
    assert.deepEqual(k.clusterDNS, [NODE_IP]);
    assert.equal(k.resolvConf, paths(layout).resolvConf);
    assert.equal(k.containerRuntimeEndpoint, `unix://${paths(layout).containerdSock}`);
  });

  it("leaves the VM's conntrack settings alone and masquerades Service traffic", () => {
    const k = parse(kubeProxyConfig(layout, "/kc")) as { conntrack: Record<string, unknown>; iptables: { masqueradeAll: boolean }; mode: string };
    assert.equal(k.mode, "iptables");
    assert.equal(k.conntrack.maxPerCore, 0);
    assert.equal(k.iptables.masqueradeAll, true);
  });

  it("gives CoreDNS no upstream", () => {
    const cf = corefile("/kc");
    assert.doesNotMatch(cf, /\b(forward|proxy)\b/);
    assert.match(cf, new RegExp(`bind ${NODE_IP.replace(/\./g, "\\.")}`));
  });

  it("makes local-path the default StorageClass with volumes under the node's directory", () => {
    const docs = parseAllDocuments(localPathManifests(layout)).map((d) => d.toJS() as {
      kind: string; metadata: { name: string; annotations?: Record<string, string> }; data?: Record<string, string>;
    });
    const sc = docs.find((d) => d.kind === "StorageClass")!;
    assert.equal(sc.metadata.name, STORAGE_CLASS);
    assert.equal(sc.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"], "true");
    const cm = docs.find((d) => d.kind === "ConfigMap")!;
    const config = JSON.parse(cm.data!["config.json"]!) as { nodePathMap: { paths: string[] }[] };
    assert.deepEqual(config.nodePathMap[0]!.paths, [paths(layout).localPathDir]);
    assert.match(cm.data!["helperPod.yaml"]!, /imagePullPolicy: Never/);
  });
});

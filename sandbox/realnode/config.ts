// The configuration files of the real node's components, as pure functions of its layout
// (docs/sandbox.md, "Real node"; the settings each needed on this machine are the ones
// ../shared/real-node.md measured). Addresses: the node's network namespace holds the
// bridge `cni0` = NODE_IP/24 (Pods get the rest of POD_CIDR), the Service range is
// SERVICE_CIDR (routed onto the bridge inside the namespace), CoreDNS listens on NODE_IP.
export const NODE_IP = "10.244.0.1";
export const POD_CIDR = "10.244.0.0/24";
export const SERVICE_CIDR = "10.0.0.0/24";
export const BRIDGE = "cni0";
export const APISERVER_PORT = 6443;
export const CLUSTER_DOMAIN = "cluster.local";
export const PAUSE_IMAGE = "localhost/moco-ts-node/pause:1";
export const BUSYBOX_IMAGE = "localhost/moco-ts-node/busybox:latest";
export const STORAGE_CLASS = "local-path";
export const LOCAL_PATH_NAMESPACE = "local-path-storage";

/** Where every file of one node lives (all under its own directory in .cache/realnode). */
export interface NodeLayout {
  dir: string;
  /** The cgroup every Pod of the node goes under, in every hierarchy (kubelet's cgroupRoot). */
  cgroupRoot: string;
  nodeName: string;
}

export const paths = (l: NodeLayout) => ({
  containerdRoot: `${l.dir}/containerd/root`,
  containerdState: `${l.dir}/containerd/state`,
  containerdSock: `${l.dir}/containerd/containerd.sock`,
  containerdConfig: `${l.dir}/containerd/config.toml`,
  runcRoot: `${l.dir}/containerd/runc`,
  cniConfDir: `${l.dir}/cni/net.d`,
  cniDataDir: `${l.dir}/cni/ipam`,
  kubeletRoot: `${l.dir}/kubelet`,
  kubeletConfig: `${l.dir}/kubelet.yaml`,
  podLogs: `${l.dir}/pod-logs`,
  resolvConf: `${l.dir}/resolv.conf`,
  sysctlDir: `${l.dir}/sysctl`,
  kubeProxyConfig: `${l.dir}/kube-proxy.yaml`,
  corefile: `${l.dir}/Corefile`,
  localPathDir: `${l.dir}/local-path`,
  logs: `${l.dir}/logs`,
});

export function containerdConfig(l: NodeLayout): string {
  const p = paths(l);
  return `version = 2
root = "${p.containerdRoot}"
state = "${p.containerdState}"
[grpc]
  address = "${p.containerdSock}"
[ttrpc]
  address = "${p.containerdSock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${l.dir}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # The VM's processes lack CAP_SYS_RESOURCE: without it every Pod sandbox fails to start.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${p.runcRoot}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p.cniConfDir}"
`;
}

/** bridge + host-local on the pre-made bridge; the gateway is reached by an explicit route. */
export function cniConfig(l: NodeLayout): string {
  return JSON.stringify({
    cniVersion: "0.4.0",
    name: "moco-ts-node",
    plugins: [
      {
        type: "bridge", bridge: BRIDGE, isGateway: false, ipMasq: false, hairpinMode: true,
        ipam: {
          type: "host-local", dataDir: paths(l).cniDataDir,
          ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP }]],
          routes: [{ dst: "0.0.0.0/0", gw: NODE_IP }],
        },
      },
      { type: "loopback" },
    ],
  }, null, 2);
}

/** The values kubelet would otherwise write into the VM's /proc/sys (it finds them already set). */
export const KUBELET_SYSCTLS: Record<string, string> = {
  "vm/overcommit_memory": "1",
  "vm/panic_on_oom": "0",
  "kernel/panic": "10",
  "kernel/panic_on_oops": "1",
  "kernel/keys/root_maxkeys": "1000000",
  "kernel/keys/root_maxbytes": "25000000",
};

export function kubeletConfig(l: NodeLayout, pki: { ca: string; cert: string; key: string }): string {
  const p = paths(l);
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: ${pki.cert}
tlsPrivateKeyFile: ${pki.key}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${pki.ca}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupRoot: ${l.cgroupRoot}
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${p.containerdSock}
clusterDNS: [${NODE_IP}]
clusterDomain: ${CLUSTER_DOMAIN}
resolvConf: ${p.resolvConf}
podLogsDir: ${p.podLogs}
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
`;
}

export function kubeProxyConfig(l: NodeLayout, kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${kubeconfig}
mode: iptables
hostnameOverride: ${l.nodeName}
bindAddress: ${NODE_IP}
clusterCIDR: ${POD_CIDR}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [${NODE_IP}/32]
iptables:
  # Pod -> ClusterIP -> Pod on the same bridge: with no br_netfilter the reply would bypass
  # the namespace's conntrack; masquerading every Service connection routes it back through it.
  masqueradeAll: true
conntrack:
  # 0: leave the VM-wide conntrack table size and timeouts as they are.
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

/** CoreDNS: cluster names only; no forward plugin, so nothing is asked outside the machine. */
export function corefile(kubeconfig: string): string {
  return `.:53 {
    bind ${NODE_IP}
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
`;
}

/** The objects local-path-provisioner reads (its upstream deploy/local-path-storage.yaml, trimmed). */
export function localPathManifests(l: NodeLayout): string {
  const config = JSON.stringify({ nodePathMap: [{ node: "DEFAULT_PATH_FOR_NON_LISTED_NODES", paths: [paths(l).localPathDir] }] });
  const indent = (s: string) => s.split("\n").map((x) => `    ${x}`).join("\n");
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${LOCAL_PATH_NAMESPACE}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: local-path-provisioner, namespace: ${LOCAL_PATH_NAMESPACE}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${STORAGE_CLASS}
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
allowVolumeExpansion: false
---
apiVersion: v1
kind: ConfigMap
metadata: {name: local-path-config, namespace: ${LOCAL_PATH_NAMESPACE}}
data:
  config.json: '${config}'
  setup: |-
${indent("#!/bin/sh\nset -eu\nmkdir -m 0777 -p \"$VOL_DIR\"")}
  teardown: |-
${indent("#!/bin/sh\nset -eu\nrm -rf \"$VOL_DIR\"")}
  helperPod.yaml: |-
${indent(`apiVersion: v1
kind: Pod
metadata:
  name: helper-pod
spec:
  priorityClassName: system-node-critical
  tolerations:
  - key: node.kubernetes.io/disk-pressure
    operator: Exists
    effect: NoSchedule
  containers:
  - name: helper-pod
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: Never`)}
`;
}

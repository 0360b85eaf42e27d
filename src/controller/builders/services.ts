// The three Services (docs/objects.md#services).
import type { V1Service, V1ServicePort, V1ServiceSpec } from "@kubernetes/client-node";
import type { MySQLCluster, ServiceTemplate } from "../../api/v1beta2/index.ts";
import {
  LABEL_ROLE,
  ROLE_PRIMARY,
  ROLE_REPLICA,
  clusterIdentity,
  clusterOwnerReference,
  deepCopy,
  dropUndefined,
  labelSet,
  mergeLabels,
  names,
  sortedRecord,
} from "./meta.ts";

export const MYSQL_PORT = 3306;
export const MYSQLX_PORT = 33060;
export const MYSQL_ADMIN_PORT = 33062;
export const HEALTH_PORT = 9081;
export const AGENT_PORT = 9080;
export const AGENT_METRICS_PORT = 8080;
export const EXPORTER_PORT = 9104;

function namedPort(name: string, port: number): V1ServicePort {
  return { name, protocol: "TCP", port, targetPort: name };
}

/** Headless Service `moco-<name>` (the StatefulSet's serviceName); templates do not apply. */
export function buildHeadlessService(cluster: MySQLCluster): V1Service {
  const id = clusterIdentity(cluster);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: names.prefixed(id.name),
      namespace: id.namespace,
      labels: labelSet(id.name),
      ownerReferences: [clusterOwnerReference(id)],
    },
    spec: {
      type: "ClusterIP",
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: labelSet(id.name),
      ports: [
        namedPort("mysql", MYSQL_PORT),
        namedPort("mysqlx", MYSQLX_PORT),
        namedPort("mysql-admin", MYSQL_ADMIN_PORT),
      ],
    },
  };
}

/**
 * The ports of a primary/replica Service (docs/objects.md#services, the port rule): the template's ports in
 * their order, the entries named `mysql`/`mysqlx` forced to TCP 3306/33060 → named
 * targetPort (other fields such as nodePort kept); a missing one is appended, mysql
 * before mysqlx.
 */
export function mergeServicePorts(templatePorts: readonly V1ServicePort[] | undefined): V1ServicePort[] {
  const forced: Record<string, number> = { mysql: MYSQL_PORT, mysqlx: MYSQLX_PORT };
  const out: V1ServicePort[] = [];
  const seen = new Set<string>();
  for (const p of templatePorts ?? []) {
    const port = deepCopy(p);
    const forcedPort = port.name === undefined ? undefined : forced[port.name];
    if (port.name !== undefined && forcedPort !== undefined) {
      port.protocol = "TCP";
      port.port = forcedPort;
      port.targetPort = port.name;
      seen.add(port.name);
    }
    out.push(port);
  }
  for (const name of ["mysql", "mysqlx"]) {
    if (!seen.has(name)) out.push(namedPort(name, forced[name] as number));
  }
  return out;
}

function buildRoleService(cluster: MySQLCluster, role: string, name: string, template: ServiceTemplate | undefined): V1Service {
  const id = clusterIdentity(cluster);
  const base = labelSet(id.name);
  const spec: V1ServiceSpec = template?.spec === undefined ? {} : (deepCopy(template.spec) as V1ServiceSpec);
  // clusterIP/clusterIPs pass through as in MOCO (docs/objects.md "Services"): a pinned
  // address is honoured when the Service is created. Empty values mean "allocate one",
  // so they are not sent: the controller then owns neither field and its server-side
  // apply never contends with the address the API server allocated.
  if (spec.clusterIP === "" || spec.clusterIP === null) delete spec.clusterIP;
  if (spec.clusterIPs !== undefined && (spec.clusterIPs === null || spec.clusterIPs.every((ip) => ip === ""))) delete spec.clusterIPs;
  spec.type ??= "ClusterIP";
  spec.selector = sortedRecord({ ...base, [LABEL_ROLE]: role });
  spec.ports = mergeServicePorts(spec.ports);
  const annotations = template?.metadata?.annotations;
  return dropUndefined({
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: id.namespace,
      labels: mergeLabels(template?.metadata?.labels, base),
      annotations: annotations === undefined || Object.keys(annotations).length === 0 ? undefined : sortedRecord(annotations),
      ownerReferences: [clusterOwnerReference(id)],
    },
    spec,
  });
}

/** Service `moco-<name>-primary` from `spec.primaryServiceTemplate`. */
export function buildPrimaryService(cluster: MySQLCluster): V1Service {
  const id = clusterIdentity(cluster);
  return buildRoleService(cluster, ROLE_PRIMARY, names.primaryService(id.name), cluster.spec?.primaryServiceTemplate);
}

/** Service `moco-<name>-replica` from `spec.replicaServiceTemplate`. */
export function buildReplicaService(cluster: MySQLCluster): V1Service {
  const id = clusterIdentity(cluster);
  return buildRoleService(cluster, ROLE_REPLICA, names.replicaService(id.name), cluster.spec?.replicaServiceTemplate);
}

// The MySQLCluster manifest the sandbox applies (and the e2e tests vary).
export interface SandboxClusterOptions {
  name: string;
  namespace: string;
  replicas: number;
  image?: string;
  memory?: string;
  terminationGracePeriodSeconds?: number;
  mysqlConfigMapName?: string;
}

export function mysqlClusterManifest(o: SandboxClusterOptions): string {
  return `apiVersion: moco.cybozu.com/v1beta2
kind: MySQLCluster
metadata:
  name: ${o.name}
  namespace: ${o.namespace}
spec:
  replicas: ${o.replicas}
${o.mysqlConfigMapName ? `  mysqlConfigMapName: ${o.mysqlConfigMapName}\n` : ""}  podTemplate:
    spec:
${o.terminationGracePeriodSeconds !== undefined ? `      terminationGracePeriodSeconds: ${o.terminationGracePeriodSeconds}\n` : ""}      containers:
      - name: mysqld
        image: ${o.image ?? "mysql:9.7"}
        resources:
          requests:
            memory: ${o.memory ?? "512Mi"}
  volumeClaimTemplates:
  - metadata:
      name: mysql-data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
`;
}

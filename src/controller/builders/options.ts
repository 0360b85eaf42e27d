// Controller options the builders read (docs/controller.md#flags), as one typed object
// with the upstream defaults, except that the agent and backup images default to the
// moco-ts image (docs/objects.md "Images").

/** moco-ts's own version; the default agent/backup image tag (checked against package.json by a test). */
export const MOCO_TS_VERSION = "0.1.0";

/** The moco-ts image: it carries moco-agent, moco-backup and moco-controller. */
export const DEFAULT_MOCO_TS_IMAGE = `ghcr.io/moco-ts/moco-ts:${MOCO_TS_VERSION}`;
export const DEFAULT_FLUENT_BIT_IMAGE = "ghcr.io/cybozu-go/moco/fluent-bit:5.0.2.1";
export const DEFAULT_EXPORTER_IMAGE = "ghcr.io/cybozu-go/moco/mysqld_exporter:0.19.0.1";
/** `--mysql-configmap-history-limit` default. */
export const DEFAULT_CONFIGMAP_HISTORY_LIMIT = 10;

export interface BuilderOptions {
  /** `POD_NAMESPACE` of moco-controller (`<sys>`): home of the controller Secrets. */
  readonly controllerNamespace: string;
  /** `--agent-image`: image of the `agent` sidecar (runs `moco-agent`). */
  readonly agentImage: string;
  /** `--backup-image`: image of the backup CronJob and restore Job (runs `moco-backup`). */
  readonly backupImage: string;
  /** `--fluent-bit-image`: image of the `slow-log` sidecar. */
  readonly fluentBitImage: string;
  /** `--mysqld-exporter-image`: image of the `mysqld-exporter` sidecar. */
  readonly exporterImage: string;
  /**
   * The shell script the `moco-init` init container runs with `sh -c` inside the user's
   * mysqld image (written by src/shared/init-script.ts; passed in, not imported).
   */
  readonly initScript: string;
  /** `--pvc-sync-label-keys`. */
  readonly pvcSyncLabelKeys: readonly string[];
  /** `--pvc-sync-annotation-keys`. */
  readonly pvcSyncAnnotationKeys: readonly string[];
  /** `--mysql-configmap-history-limit`: ConfigMaps kept per cluster, current included. */
  readonly configMapHistoryLimit: number;
  /** `--disable-default-security-context`: no runAsUser/runAsGroup/fsGroup 10000. */
  readonly disableDefaultSecurityContext: boolean;
  /** `TEST_NO_JOB_RESOURCE=1`: omit resources from backup/restore containers (tests only). */
  readonly omitJobResources: boolean;
}

export const DEFAULT_BUILDER_OPTIONS: BuilderOptions = Object.freeze({
  controllerNamespace: "moco-system",
  agentImage: DEFAULT_MOCO_TS_IMAGE,
  backupImage: DEFAULT_MOCO_TS_IMAGE,
  fluentBitImage: DEFAULT_FLUENT_BIT_IMAGE,
  exporterImage: DEFAULT_EXPORTER_IMAGE,
  initScript: "",
  pvcSyncLabelKeys: Object.freeze([]) as readonly string[],
  pvcSyncAnnotationKeys: Object.freeze([]) as readonly string[],
  configMapHistoryLimit: DEFAULT_CONFIGMAP_HISTORY_LIMIT,
  disableDefaultSecurityContext: false,
  omitJobResources: false,
});

/** The defaults overridden by `overrides` (undefined entries are ignored). */
export function resolveBuilderOptions(overrides: Partial<BuilderOptions> = {}): BuilderOptions {
  const out: Record<string, unknown> = { ...DEFAULT_BUILDER_OPTIONS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) out[key] = value;
  }
  return Object.freeze(out) as unknown as BuilderOptions;
}

// Mutating/ValidatingWebhookConfiguration objects for the moco-ts webhooks (docs/api.md).
// scripts/gen-crds.ts writes the chart's template (charts/moco-ts, Service target, caBundle
// injected by the controller) from here; integration tests call buildWebhookConfigurations
// with the URL of a locally started server and its CA.
import { GROUP, VERSION } from "../../api/v1beta2/index.ts";
import { WEBHOOK_PATHS } from "./server.ts";

export const MUTATING_WEBHOOK_CONFIGURATION_NAME = "moco-mutating-webhook-configuration";
export const VALIDATING_WEBHOOK_CONFIGURATION_NAME = "moco-validating-webhook-configuration";

export type WebhookTarget =
  | { url: string }
  | { service: { namespace: string; name: string; port?: number } };

export interface WebhookConfigurationOptions {
  /** Base URL of the server (e.g. https://127.0.0.1:9443) or the Service that fronts it. */
  target: WebhookTarget;
  /** Base64 PEM CA bundle; omit to leave it to cert-manager's injection. */
  caBundle?: string;
  /** Object names; default the chart's names. */
  mutatingName?: string;
  validatingName?: string;
  /** Annotations on both objects (e.g. cert-manager.io/inject-ca-from). */
  annotations?: Record<string, string>;
}

interface ClientConfig {
  url?: string;
  service?: { namespace: string; name: string; path: string; port?: number };
  caBundle?: string;
}

interface RuleWithOperations {
  apiGroups: string[];
  apiVersions: string[];
  operations: string[];
  resources: string[];
}

export interface Webhook {
  name: string;
  admissionReviewVersions: string[];
  clientConfig: ClientConfig;
  failurePolicy: "Fail";
  matchPolicy: "Equivalent";
  sideEffects: "None";
  rules: RuleWithOperations[];
  objectSelector?: { matchLabels: Record<string, string> };
}

export interface WebhookConfiguration {
  apiVersion: "admissionregistration.k8s.io/v1";
  kind: "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration";
  metadata: { name: string; annotations?: Record<string, string> };
  webhooks: Webhook[];
}

function clientConfig(options: WebhookConfigurationOptions, path: string): ClientConfig {
  const cfg: ClientConfig =
    "url" in options.target
      ? { url: `${options.target.url.replace(/\/+$/, "")}${path}` }
      : {
          service: {
            namespace: options.target.service.namespace,
            name: options.target.service.name,
            path,
            ...(options.target.service.port === undefined ? {} : { port: options.target.service.port }),
          },
        };
  if (options.caBundle !== undefined) cfg.caBundle = options.caBundle;
  return cfg;
}

function webhook(
  options: WebhookConfigurationOptions,
  name: string,
  path: string,
  rule: RuleWithOperations,
  objectSelector?: { matchLabels: Record<string, string> },
): Webhook {
  const w: Webhook = {
    name,
    admissionReviewVersions: ["v1"],
    clientConfig: clientConfig(options, path),
    failurePolicy: "Fail",
    matchPolicy: "Equivalent",
    sideEffects: "None",
    rules: [rule],
  };
  if (objectSelector !== undefined) w.objectSelector = objectSelector;
  return w;
}

/** The two webhook configurations of docs/api.md#admission-webhooks for the given target. */
export function buildWebhookConfigurations(options: WebhookConfigurationOptions): {
  mutating: WebhookConfiguration;
  validating: WebhookConfiguration;
} {
  const metadata = (name: string) =>
    options.annotations === undefined ? { name } : { name, annotations: { ...options.annotations } };
  const moco = (resources: string, operations: string[]): RuleWithOperations => ({
    apiGroups: [GROUP],
    apiVersions: [VERSION],
    operations,
    resources: [resources],
  });
  return {
    mutating: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: metadata(options.mutatingName ?? MUTATING_WEBHOOK_CONFIGURATION_NAME),
      webhooks: [
        webhook(options, "mmysqlcluster.kb.io", WEBHOOK_PATHS.mutateMySQLCluster, moco("mysqlclusters", ["CREATE"])),
        webhook(
          options,
          "statefulset.kb.io",
          WEBHOOK_PATHS.mutateStatefulSet,
          { apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["statefulsets"] },
          { matchLabels: { "app.kubernetes.io/created-by": "moco" } },
        ),
      ],
    },
    validating: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: metadata(options.validatingName ?? VALIDATING_WEBHOOK_CONFIGURATION_NAME),
      webhooks: [
        webhook(
          options,
          "vmysqlcluster.kb.io",
          WEBHOOK_PATHS.validateMySQLCluster,
          moco("mysqlclusters", ["CREATE", "UPDATE"]),
        ),
        webhook(
          options,
          "vbackuppolicy.kb.io",
          WEBHOOK_PATHS.validateBackupPolicy,
          moco("backuppolicies", ["CREATE", "UPDATE", "DELETE"]),
        ),
      ],
    },
  };
}

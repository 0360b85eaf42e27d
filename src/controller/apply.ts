// Server-side apply for moco-controller (docs/objects.md#how-objects-are-written): src/k8s's applyIfChanged and
// extractOwnedFields with the field manager `moco-controller` (force), in the controller's
// convention that `live` is the cached object or undefined when it does not exist.
import { applyIfChanged, type ApplyResult } from "../k8s/apply.ts";
import type { KubeClient } from "../k8s/client.ts";
import { extractOwnedFields } from "../k8s/fieldsv1.ts";
import type { ResourceDescriptor } from "../k8s/resource.ts";
import type { KubeObject } from "../k8s/types.ts";

export const FIELD_MANAGER = "moco-controller";

/** The live object's fields owned by moco-controller's apply (undefined when it owns none). */
export function extractOwned<T extends KubeObject>(live: T | undefined): Partial<T> | undefined {
  return live === undefined ? undefined : extractOwnedFields(live, FIELD_MANAGER) as Partial<T> | undefined;
}

/**
 * Server-side apply of `desired` unless the live object's fields owned by moco-controller
 * already equal it. `live` is the caller's current view (cache or GET); undefined when the
 * object does not exist (then it is applied without a GET).
 */
export function applyAsController<T extends KubeObject>(client: KubeClient, resource: ResourceDescriptor, desired: T, live: T | undefined): Promise<ApplyResult<T>> {
  return applyIfChanged<T, T>(client, desired, { fieldManager: FIELD_MANAGER, force: true, resource, live: live ?? null });
}

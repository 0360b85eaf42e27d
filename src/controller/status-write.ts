// What the controller's status writers do when the API server refuses a status write
// (422 Invalid, 400 BadRequest): the object broke the CRD schema, which is a moco-ts bug
// (docs/controller.md "Status writes"). It is logged and counted in
// moco_ts_status_writes_refused_total{writer}; the tests assert the counter stays 0.
import type { Logger } from "pino";
import { isRefusedObject } from "../k8s/errors.ts";
import { errorMessage } from "../util/errors.ts";
import type { ControllerMetrics, StatusWriter } from "../metrics/index.ts";

/** Logs and counts `e` when it is a refused status write; other errors pass untouched. */
export function noteRefusedStatusWrite(e: unknown, writer: StatusWriter, metrics: ControllerMetrics, log: Logger): void {
  if (!isRefusedObject(e)) return;
  metrics.statusWritesRefused.inc({ writer });
  log.error({ err: errorMessage(e), writer }, "the API server refused a MySQLCluster status write");
}

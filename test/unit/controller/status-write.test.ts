// A status write the API server refuses (422 Invalid, 400 BadRequest) is logged and
// counted in moco_ts_status_writes_refused_total{writer}; other failures (conflict,
// not found, server errors, network) are left to the writers' retries and not counted.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import * as k8s from "@kubernetes/client-node";
import { noteRefusedStatusWrite } from "../../../src/controller/status-write.ts";
import { ApiError } from "../../../src/k8s/errors.ts";
import { ControllerMetrics, STATUS_WRITES_REFUSED } from "../../../src/metrics/index.ts";

const invalid = { kind: "Status", reason: "Invalid", code: 422, message: 'MySQLCluster.moco.cybozu.com "c" is invalid: status.backup.warnings: Required value' };

const cases: { name: string; error: unknown; counted: boolean }[] = [
  { name: "422 Invalid (our client)", error: new ApiError("PUT", "/apis/x/status", 422, invalid), counted: true },
  { name: "422 Invalid (client-node)", error: new k8s.ApiException(422, "Invalid", JSON.stringify(invalid), {}), counted: true },
  { name: "400 BadRequest", error: new ApiError("PUT", "/apis/x/status", 400, { reason: "BadRequest", code: 400 }), counted: true },
  { name: "409 Conflict", error: new ApiError("PUT", "/apis/x/status", 409, { reason: "Conflict", code: 409 }), counted: false },
  { name: "404 NotFound", error: new ApiError("PUT", "/apis/x/status", 404, { reason: "NotFound", code: 404 }), counted: false },
  { name: "500", error: new ApiError("PUT", "/apis/x/status", 500, { code: 500 }), counted: false },
  { name: "network error", error: new Error("ECONNRESET"), counted: false },
];

describe("noteRefusedStatusWrite", () => {
  for (const tc of cases) {
    it(`${tc.counted ? "counts and logs" : "leaves alone"}: ${tc.name}`, async () => {
      const metrics = new ControllerMetrics({ processMetrics: false });
      const lines: string[] = [];
      const log = pino({ base: undefined }, new Writable({ write(chunk: Buffer, _e, cb) { lines.push(chunk.toString()); cb(); } }));
      assert.equal(await metrics.value(STATUS_WRITES_REFUSED, { writer: "clustering" }), 0, "the series exists at 0");
      noteRefusedStatusWrite(tc.error, "clustering", metrics, log);
      assert.equal(await metrics.value(STATUS_WRITES_REFUSED, { writer: "clustering" }), tc.counted ? 1 : 0);
      assert.equal(await metrics.value(STATUS_WRITES_REFUSED, { writer: "reconciler" }), 0);
      const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; writer?: string; err?: string });
      if (!tc.counted) {
        assert.deepEqual(logged, []);
        return;
      }
      assert.equal(logged.length, 1);
      assert.equal(logged[0]?.level, 50, "an error");
      assert.equal(logged[0]?.writer, "clustering");
      assert.match(logged[0]?.msg ?? "", /refused a MySQLCluster status write/);
    });
  }
});

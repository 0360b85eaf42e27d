// statementHint: the words a timed-out statement is named by (the first three, up to the
// first literal), never a quoted value.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { statementHint } from "../../../src/clustering/sql.ts";

describe("statementHint", () => {
  const cases: [string, string][] = [
    ["STOP REPLICA IO_THREAD", "STOP REPLICA IO_THREAD"],
    ["  SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r", "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)"],
    ["SHOW REPLICA STATUS", "SHOW REPLICA STATUS"],
    ["SET GLOBAL super_read_only=1", "SET GLOBAL super_read_only=1"],
    ["CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PASSWORD=?", "CHANGE REPLICATION SOURCE"],
    ["SELECT 'a literal' AS x", "SELECT"],
    ["SET GLOBAL x='AFTER_SYNC'", "SET GLOBAL"],
    ["KILL\n\tCONNECTION ?", "KILL CONNECTION ?"],
  ];
  for (const [sql, want] of cases) {
    it(JSON.stringify(sql), () => {
      assert.equal(statementHint(sql), want);
    });
  }
});

// Slow query log rotation against a real mysqld 9.7 (docs/agent.md#tests-on-real-mysql-97 A6): rename to
// mysql.slow.0 plus FLUSH LOCAL SLOW LOGS reopens the file; the size trigger keeps the
// log bounded; a directory in the target's place is a counted failure; cron ticks.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { Connection } from "mysql2/promise";

import { startMysqlds, type MysqldInstance, type MysqldSet } from "../../env/mysqld.ts";
import { parseCronSpec } from "../../../src/api/v1beta2/cron.ts";
import { startAgent, type RunningAgent } from "../../../src/agent/agent.ts";
import { silentLogger } from "../../../src/util/log.ts";
import { createAgentMetrics } from "../../../src/agent/metrics.ts";
import { LogRotator } from "../../../src/agent/rotation.ts";
import { agentEnv, agentTestCerts, testAgentFlags } from "./helpers.ts";
import { randomPasswords } from "../../env/random.ts";
import { eventually } from "../../env/eventually.ts";
import { setTimeout as sleep } from "node:timers/promises";

const SIZE_LIMIT = 32 * 1024;

describe("slow log rotation on real mysqld", () => {
  let set: MysqldSet;
  let inst: MysqldInstance;
  let agent: RunningAgent | undefined;
  let c: Connection;
  let slowLog: string;

  before(async () => {
    set = await startMysqlds(1, { mycnf: "slow_query_log=ON\nslow_query_log_file=/mnt/inst/mysql.slow\nlong_query_time=0\n" });
    inst = set.instances[0]!;
    slowLog = path.join(inst.dir, "mysql.slow");
    agent = await startAgent({
      // The cron schedule is far away: only the size trigger and explicit calls rotate.
      flags: testAgentFlags(inst.socketPath, agentTestCerts().serverDir, ["--log-rotation-schedule=@yearly", `--log-rotation-size=${SIZE_LIMIT}`]),
      env: agentEnv(randomPasswords()),
      logger: silentLogger(),
      mysqldHost: inst.host,
      slowLogPath: slowLog,
      firstBoot: { rootRetryIntervalMs: 500 },
      defaultMetrics: false,
    });
    c = await inst.connect();
  });
  after(async () => {
    await c?.end().catch(() => undefined);
    await agent?.close();
    await set?.stopAll();
  });

  const count = async (name: string) => (await agent!.metrics.registry.getSingleMetric(`moco_instance_${name}`)!.get()).values[0]?.value ?? 0;

  it("renames mysql.slow to mysql.slow.0 and mysqld reopens a new file", async () => {
    await c.query("SELECT 'before rotation marker'");
    const before = fs.statSync(slowLog);
    assert.ok(fs.readFileSync(slowLog, "utf8").includes("before rotation marker"));
    const result = await agent!.rotator.rotate();
    assert.deepEqual(result, { ok: true });
    assert.equal(fs.statSync(`${slowLog}.0`).ino, before.ino, "the old file is now mysql.slow.0");
    await c.query("SELECT 'after rotation marker'");
    const after = fs.statSync(slowLog);
    assert.notEqual(after.ino, before.ino, "mysqld writes a new mysql.slow");
    const text = fs.readFileSync(slowLog, "utf8");
    assert.ok(text.includes("after rotation marker") && !text.includes("before rotation marker"));
    assert.equal(await count("log_rotation_count"), 1);
    assert.equal(await count("log_rotation_failure_count"), 0);
  });

  it("the size trigger keeps mysql.slow bounded while queries keep coming", async () => {
    const rotationsBefore = await count("log_rotation_count");
    let written = 0;
    let maxSize = 0;
    // Bursts of ~8 KiB of slow log (each query's entry is a few hundred bytes), paced so
    // that the once-a-second size check runs between bursts.
    for (let burst = 0; burst < 24; burst++) {
      for (let i = 0; i < 25; i++) await c.query(`SELECT ${burst * 100 + i} AS n, REPEAT('x', 64) AS pad`);
      written += 25;
      await sleep(250);
      try {
        maxSize = Math.max(maxSize, fs.statSync(slowLog).size);
      } catch { /* just renamed */ }
    }
    const total = fs.statSync(`${slowLog}.0`).size + fs.statSync(slowLog).size;
    const rotations = (await count("log_rotation_count")) - rotationsBefore;
    assert.ok(rotations >= 2, `rotated ${rotations} times for ${written} queries`);
    // A file can exceed the limit by what is written in the second between two checks.
    assert.ok(maxSize < SIZE_LIMIT * 3, `mysql.slow reached ${maxSize} bytes (limit ${SIZE_LIMIT})`);
    assert.ok(total < SIZE_LIMIT * 5, `mysql.slow + mysql.slow.0 = ${total} bytes`);
    assert.equal(await count("log_rotation_failure_count"), 0);
  });

  it("stays below the limit without rotating", async () => {
    await agent!.rotator.rotate();
    const rotationsBefore = await count("log_rotation_count");
    await c.query("SELECT 1");
    await sleep(2500);
    assert.ok(fs.statSync(slowLog).size < SIZE_LIMIT);
    assert.equal(await count("log_rotation_count"), rotationsBefore);
  });

  it("a directory in place of mysql.slow.0 is a counted failure", async () => {
    fs.rmSync(`${slowLog}.0`, { force: true });
    fs.mkdirSync(`${slowLog}.0`);
    fs.writeFileSync(path.join(`${slowLog}.0`, "keep"), "x");
    try {
      const failuresBefore = await count("log_rotation_failure_count");
      const result = await agent!.rotator.rotate();
      assert.equal(result.ok, false);
      assert.equal(await count("log_rotation_failure_count"), failuresBefore + 1);
      assert.ok(fs.existsSync(slowLog), "the slow log stays in place");
    } finally {
      fs.rmSync(`${slowLog}.0`, { recursive: true, force: true });
    }
  });

  it("the cron schedule triggers rotations", async () => {
    const schedule = parseCronSpec("@every 1s");
    assert.ok(schedule.ok);
    const metrics = createAgentMetrics("test", 0, { defaultMetrics: false });
    const rotator = new LogRotator({ db: agent!.pool, slowLogPath: slowLog, schedule: schedule.schedule, sizeLimit: 0, metrics, logger: silentLogger() });
    rotator.start();
    try {
      await eventually("two scheduled rotations", async () => {
        const v = (await metrics.logRotationCount.get()).values[0]?.value ?? 0;
        return v >= 2 ? true : undefined;
      }, 15_000);
      assert.ok(fs.existsSync(`${slowLog}.0`));
    } finally {
      await rotator.stop();
    }
  });
});

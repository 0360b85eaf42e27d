// moco-agent flags and environment.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import {
  AgentConfigError,
  ordinalFromPodName,
  parseAgentFlags,
  parseListenAddress,
  readAgentEnvironment,
  requireAllPasswords,
} from "../../../src/agent/config.ts";
import { mysqldAdminHost } from "../../../src/agent/agent.ts";

describe("parseAgentFlags", () => {
  it("has upstream's defaults", () => {
    const f = parseAgentFlags([]);
    assert.deepEqual(f.address, { host: "", port: 9080 });
    assert.deepEqual(f.probeAddress, { host: "", port: 9081 });
    assert.deepEqual(f.metricsAddress, { host: "", port: 8080 });
    assert.equal(f.socketPath, "/run/mysqld.sock");
    assert.equal(f.grpcCertDir, "/grpc-cert");
    assert.equal(f.connectionTimeoutMs, 5000);
    assert.equal(f.readTimeoutMs, 30_000);
    assert.equal(f.maxIdleTimeMs, 30_000);
    assert.equal(f.maxDelayMs, 60_000);
    assert.equal(f.transactionQueueingWaitMs, 60_000);
    assert.equal(f.logRotationSchedule, "*/5 * * * *");
    assert.equal(f.logRotationScheduleParsed.kind, "fields");
    assert.equal(f.logRotationSize, 0);
    assert.equal(f.mysqldLocalhost, false);
    assert.equal(f.logFormat, "json");
    assert.equal(f.logLevel, "info");
  });

  it("takes the values the controller passes, in both --flag=value and --flag value forms", () => {
    const f = parseAgentFlags([
      "--max-delay=90s", "--log-rotation-schedule", "@every 10s", "--log-rotation-size=1048576", "--mysqld-localhost=true",
      "--address", "127.0.0.1:19080", "--probe-address=[::1]:19081", "--connection-timeout=1m30s", "--max-idle-time=500ms", "--loglevel=critical",
    ]);
    assert.equal(f.maxDelayMs, 90_000);
    assert.deepEqual(f.logRotationScheduleParsed, { kind: "every", everyMs: 10_000 });
    assert.equal(f.logRotationSize, 1048576);
    assert.equal(f.mysqldLocalhost, true);
    assert.deepEqual(f.address, { host: "127.0.0.1", port: 19080 });
    assert.deepEqual(f.probeAddress, { host: "::1", port: 19081 });
    assert.equal(f.connectionTimeoutMs, 90_000);
    assert.equal(f.maxIdleTimeMs, 500);
    assert.equal(f.logLevel, "critical");
    assert.equal(parseAgentFlags(["--mysqld-localhost"]).mysqldLocalhost, true);
    assert.equal(parseAgentFlags(["--mysqld-localhost=false"]).mysqldLocalhost, false);
    assert.equal(parseAgentFlags(["--max-delay=0"]).maxDelayMs, 0);
  });

  it("rejects bad values with the flag's name", () => {
    for (const [argv, message] of [
      [["--max-delay=60"], /--max-delay.*missing unit/],
      [["--max-delay=-1s"], /--max-delay.*negative/],
      [["--read-timeout=soon"], /--read-timeout/],
      [["--log-rotation-schedule=* * *"], /--log-rotation-schedule.*expected exactly 5 fields/],
      [["--log-rotation-size=1Gi"], /--log-rotation-size/],
      [["--mysqld-localhost=maybe"], /--mysqld-localhost/],
      [["--address=9080"], /invalid address/],
      [["--metrics-address=:99999"], /invalid port/],
      [["--loglevel=trace"], /--loglevel/],
      [["--logformat=xml"], /--logformat/],
      [["--no-such-flag"], /unknown option/],
      [["positional"], /too many arguments|unexpected/],
    ] as const) {
      assert.throws(() => parseAgentFlags(argv), (e: unknown) => e instanceof AgentConfigError && e.exitCode === 2 && message.test(e.message), argv.join(" "));
    }
  });

  it("--help ends with exit code 0 and the usage", () => {
    assert.throws(() => parseAgentFlags(["--help"]), (e: unknown) => e instanceof AgentConfigError && e.exitCode === 0 && e.message.includes("--log-rotation-schedule") && e.message.includes("--grpc-cert-dir"));
  });
});

describe("agent environment", () => {
  const passwords = {
    ADMIN_PASSWORD: "a", AGENT_PASSWORD: "b", REPLICATION_PASSWORD: "c", CLONE_DONOR_PASSWORD: "d",
    EXPORTER_PASSWORD: "e", BACKUP_PASSWORD: "f", READONLY_PASSWORD: "g", WRITABLE_PASSWORD: "h",
  };

  it("reads POD_NAME's ordinal, CLUSTER_NAME and the passwords", () => {
    const env = readAgentEnvironment({ POD_NAME: "moco-my-db-12", CLUSTER_NAME: "my-db", ...passwords, OTHER: "x" });
    assert.equal(env.ordinal, 12);
    assert.equal(env.clusterName, "my-db");
    assert.deepEqual(env.passwords, passwords);
    assert.deepEqual(requireAllPasswords(env.passwords), passwords);
  });

  it("requires POD_NAME with an ordinal, CLUSTER_NAME and AGENT_PASSWORD", () => {
    assert.throws(() => readAgentEnvironment({ CLUSTER_NAME: "c", AGENT_PASSWORD: "x" }), /POD_NAME is not set/);
    assert.throws(() => readAgentEnvironment({ POD_NAME: "moco-c", CLUSTER_NAME: "c", AGENT_PASSWORD: "x" }), /no ordinal suffix/);
    assert.throws(() => readAgentEnvironment({ POD_NAME: "moco-c-0", AGENT_PASSWORD: "x" }), /CLUSTER_NAME is not set/);
    assert.throws(() => readAgentEnvironment({ POD_NAME: "moco-c-0", CLUSTER_NAME: "c" }), /AGENT_PASSWORD is not set/);
  });

  it("names missing passwords without printing the present ones", () => {
    const { BACKUP_PASSWORD: _b, WRITABLE_PASSWORD: _w, ...some } = passwords;
    assert.throws(() => requireAllPasswords(some), (e: Error) => e.message === "missing passwords in the environment: BACKUP_PASSWORD, WRITABLE_PASSWORD");
  });

  it("parses ordinals and addresses", () => {
    assert.equal(ordinalFromPodName("moco-x-0"), 0);
    assert.throws(() => ordinalFromPodName("moco-x-007"));
    assert.throws(() => ordinalFromPodName("moco-x-99999999999"));
    assert.deepEqual(parseListenAddress(":8080"), { host: "", port: 8080 });
    assert.deepEqual(parseListenAddress("0.0.0.0:1"), { host: "0.0.0.0", port: 1 });
  });

  it("dials the admin port on POD_NAME, or localhost with --mysqld-localhost", () => {
    assert.equal(mysqldAdminHost({ mysqldLocalhost: false }, { podName: "moco-c-1" }), "moco-c-1");
    assert.equal(mysqldAdminHost({ mysqldLocalhost: true }, { podName: "moco-c-1" }), "localhost");
  });
});

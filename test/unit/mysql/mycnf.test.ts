import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CONST_MYSQLD_MYCNF,
  DEFAULT_MYCNF,
  MYSQL97_DEFAULT_RENAMES,
  UPSTREAM_DEFAULT_MYCNF,
  bufferPoolSize,
  containerMemoryBytes,
  fnv1a32Hex,
  generateMyCnf,
  generateUpstreamMyCnf,
  memoryBytesFromQuantity,
  mycnfConfigMapName,
} from "../../../src/mysql/mycnf.ts";
import { QuantityParseError } from "../../../src/util/quantity.ts";

const MiB = 1024 * 1024;

/** Parse generated text back into sections (key order kept) for targeted assertions. */
function sectionsOf(text: string): Map<string, [string, string][]> {
  const out = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  for (const line of text.split("\n")) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header !== null) {
      current = [];
      out.set(header[1] ?? "", current);
      continue;
    }
    const kv = /^([^ ]+) = (.*)$/.exec(line);
    if (kv !== null && current !== undefined) current.push([kv[1] ?? "", kv[2] ?? ""]);
  }
  return out;
}

function mysqldOf(text: string): Map<string, string> {
  return new Map(sectionsOf(text).get("mysqld") ?? []);
}

describe("generateUpstreamMyCnf reproduces upstream MOCO", () => {
  it("spec test vector: no user ConfigMap, 100 MiB => 2114 bytes, hash e15970f0", () => {
    const text = generateUpstreamMyCnf(undefined, 100 * MiB);
    assert.equal(Buffer.byteLength(text), 2114);
    assert.equal(fnv1a32Hex(text), "e15970f0");
    assert.equal(mycnfConfigMapName("test", text), "moco-test.e15970f0");
  });

  it("an empty user ConfigMap is the same as none", () => {
    assert.equal(generateUpstreamMyCnf({}, 100 * MiB), generateUpstreamMyCnf(undefined, 100 * MiB));
  });

  it("layout: sections client, mysql, mysqld; sorted keys; blank line; includedir", () => {
    const text = generateUpstreamMyCnf(undefined, 0);
    assert.ok(text.startsWith("[client]\nloose_default_character_set = utf8mb4\nport = 3306\nsocket = /run/mysqld.sock\n\n[mysql]\n"));
    assert.ok(text.includes('[mysql]\nauto_rehash = OFF\ninit_command = "SET autocommit=0"\n\n[mysqld]\nadmin_port = 33062\n'));
    assert.ok(text.endsWith("wait_timeout = 604800\n\n!includedir /etc/mysql-conf.d\n"));
    const keys = (sectionsOf(text).get("mysqld") ?? []).map(([k]) => k);
    assert.deepEqual(keys, [...keys].sort());
    assert.equal(keys.length, Object.keys(UPSTREAM_DEFAULT_MYCNF).length + 1 + Object.keys(CONST_MYSQLD_MYCNF).length);
  });

  it("keeps the upstream keys 9.7 rejects", () => {
    const m = mysqldOf(generateUpstreamMyCnf(undefined, 0));
    assert.equal(m.get("temptable_use_mmap"), "OFF");
    assert.equal(m.get("innodb_log_file_size"), "800M");
    assert.equal(m.get("innodb_log_files_in_group"), "2");
  });
});

describe("generateMyCnf (moco-ts) algorithm, docs/objects.md#mycnf-algorithm", () => {
  const cases: {
    name: string;
    conf: Record<string, string> | undefined;
    mem: number;
    has?: Record<string, string>;
    lacks?: string[];
  }[] = [
    {
      name: "defaults with computed buffer pool",
      conf: undefined,
      mem: 1000 * MiB,
      has: { innodb_buffer_pool_size: "734003200", thread_cache_size: "100", max_connections: "100000" },
    },
    {
      name: "dashes normalised and unknown keys kept",
      conf: { "thread-cache-size": "200", foo: "bar" },
      mem: 1000 * MiB,
      has: { thread_cache_size: "200", foo: "bar" },
      lacks: ["thread-cache-size"],
    },
    {
      name: "user key without loose_ replaces a loose_ default",
      conf: { innodb_numa_interleave: "OFF" },
      mem: 1000 * MiB,
      has: { innodb_numa_interleave: "OFF" },
      lacks: ["loose_innodb_numa_interleave"],
    },
    {
      name: "user loose_ key replaces a default (moco-ts default is already loose_)",
      conf: { loose_temptable_use_mmap: "ON", loose_innodb_validate_tablespace_paths: "ON" },
      mem: 1000 * MiB,
      has: { loose_temptable_use_mmap: "ON", loose_innodb_validate_tablespace_paths: "ON" },
      lacks: ["temptable_use_mmap"],
    },
    {
      name: "user plain key replaces a moco-ts loose_ default",
      conf: { innodb_log_file_size: "1G" },
      mem: 0,
      has: { innodb_log_file_size: "1G" },
      lacks: ["loose_innodb_log_file_size"],
    },
    {
      name: "explicit innodb_buffer_pool_size wins",
      conf: { innodb_buffer_pool_size: "268435456" },
      mem: 1000 * MiB,
      has: { innodb_buffer_pool_size: "268435456" },
    },
    {
      name: "loose_innodb_buffer_pool_size is not the exact key: pool is still computed",
      conf: { loose_innodb_buffer_pool_size: "268435456" },
      mem: 1000 * MiB,
      has: { innodb_buffer_pool_size: "734003200", loose_innodb_buffer_pool_size: "268435456" },
    },
    {
      name: "binlog and error-log keys are stripped",
      conf: { "log-bin": "x", log_error: "/tmp/e", skip_log_bin: "1", disable_log_bin: "1", loose_log_bin: "y" },
      mem: 0,
      lacks: ["log_bin", "log-bin", "log_error", "skip_log_bin", "disable_log_bin"],
      has: { loose_log_bin: "y" },
    },
    {
      name: "constants win over the user and remove loose_ variants",
      conf: { port: "1234", loose_gtid_mode: "OFF", read_only: "OFF", "super-read-only": "OFF" },
      mem: 0,
      has: { port: "3306", gtid_mode: "ON", read_only: "ON", super_read_only: "ON" },
      lacks: ["loose_gtid_mode"],
    },
    {
      name: "user cannot override a loose_ constant with its plain name",
      conf: { replication_sender_observe_commit_only: "ON" },
      mem: 0,
      has: { loose_replication_sender_observe_commit_only: "OFF" },
      lacks: ["replication_sender_observe_commit_only"],
    },
    {
      name: "values are verbatim",
      conf: { sql_mode: "'STRICT_TRANS_TABLES,NO_ZERO_DATE'", init_connect: "SET NAMES utf8mb4" },
      mem: 0,
      has: { sql_mode: "'STRICT_TRANS_TABLES,NO_ZERO_DATE'", init_connect: "SET NAMES utf8mb4" },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = mysqldOf(generateMyCnf(c.conf, c.mem));
      for (const [k, v] of Object.entries(c.has ?? {})) assert.equal(m.get(k), v, k);
      for (const k of c.lacks ?? []) assert.equal(m.has(k), false, `${k} must be absent`);
    });
  }

  it("opaque _include text goes right after [mysqld], followed by one newline", () => {
    const text = generateMyCnf({ _include: "!include /etc/extra.cnf\n# hello", foo: "bar" }, 0);
    assert.ok(text.includes("[mysqld]\n!include /etc/extra.cnf\n# hello\nadmin_port = 33062\n"));
    assert.equal(mysqldOf(text).has("_include"), false);
    // Only in [mysqld].
    assert.equal(text.split("!include /etc/extra.cnf").length, 2);
  });

  it("client and mysql sections are constants only", () => {
    const s = sectionsOf(generateMyCnf({ foo: "bar" }, 0));
    assert.deepEqual(s.get("client"), [
      ["loose_default_character_set", "utf8mb4"],
      ["port", "3306"],
      ["socket", "/run/mysqld.sock"],
    ]);
    assert.deepEqual(s.get("mysql"), [
      ["auto_rehash", "OFF"],
      ["init_command", '"SET autocommit=0"'],
    ]);
  });

  it("keys are sorted in byte order (upper case before lower case, '_' after digits)", () => {
    const keys = (sectionsOf(generateMyCnf({ Zeta: "1", a1: "1", a_: "1" }, 0)).get("mysqld") ?? []).map(([k]) => k);
    assert.ok(keys.indexOf("Zeta") < keys.indexOf("a1"));
    assert.ok(keys.indexOf("a1") < keys.indexOf("a_"));
  });

  it("the hash changes with the text", () => {
    const a = generateMyCnf(undefined, 0);
    const b = generateMyCnf({ foo: "bar" }, 0);
    assert.notEqual(mycnfConfigMapName("c", a), mycnfConfigMapName("c", b));
    assert.match(mycnfConfigMapName("c", a), /^moco-c\.[0-9a-f]{8}$/);
  });
});

describe("moco-ts divergence for MySQL 9.7", () => {
  it("moco-ts text = upstream text with the three removed variables loose_-prefixed", () => {
    const upstream = generateUpstreamMyCnf(undefined, 100 * MiB);
    let expected = upstream;
    for (const [from, { to }] of Object.entries(MYSQL97_DEFAULT_RENAMES)) {
      expected = expected.replace(`\n${from} = `, `\n${to} = `);
    }
    // Re-sort [mysqld] lines since the renamed keys move.
    const [head, rest] = expected.split("[mysqld]\n");
    const [body, tail] = (rest ?? "").split("\n\n!includedir");
    const sortedBody = (body ?? "").split("\n").sort().join("\n");
    expected = `${head}[mysqld]\n${sortedBody}\n\n!includedir${tail}`;
    assert.equal(generateMyCnf(undefined, 100 * MiB), expected);
  });

  it("concrete moco-ts output for no ConfigMap and 100 MiB", () => {
    const text = generateMyCnf(undefined, 100 * MiB);
    assert.equal(Buffer.byteLength(text), 2114 + 3 * "loose_".length);
    const m = mysqldOf(text);
    assert.equal(m.get("loose_temptable_use_mmap"), "OFF");
    assert.equal(m.get("loose_innodb_log_file_size"), "800M");
    assert.equal(m.get("loose_innodb_log_files_in_group"), "2");
    for (const k of ["temptable_use_mmap", "innodb_log_file_size", "innodb_log_files_in_group"]) {
      assert.equal(m.has(k), false, k);
    }
    assert.equal(m.get("innodb_buffer_pool_size"), "134217728");
    assert.equal(fnv1a32Hex(text), fnv1a32Hex(generateMyCnf(undefined, 100 * MiB)));
    assert.notEqual(fnv1a32Hex(text), "e15970f0");
  });

  it("no legacy replication names in the moco-ts constants or defaults", () => {
    const all = Object.keys({ ...DEFAULT_MYCNF, ...CONST_MYSQLD_MYCNF }).join(" ");
    assert.doesNotMatch(all, /master|slave/);
  });

  it("DEFAULT_MYCNF differs from upstream's only by the documented renames", () => {
    const upstreamKeys = Object.keys(UPSTREAM_DEFAULT_MYCNF);
    const mine = Object.keys(DEFAULT_MYCNF);
    assert.equal(mine.length, upstreamKeys.length);
    for (const k of upstreamKeys) {
      const to = MYSQL97_DEFAULT_RENAMES[k]?.to ?? k;
      assert.equal(DEFAULT_MYCNF[to], UPSTREAM_DEFAULT_MYCNF[k], k);
    }
  });
});

describe("fnv1a32Hex", () => {
  const cases: [string, string][] = [
    ["", "811c9dc5"],
    ["a", "e40c292c"],
    ["foobar", "bf9cf968"],
    ["é", "1e9de8c1"],
  ];
  for (const [input, want] of cases) {
    it(JSON.stringify(input), () => assert.equal(fnv1a32Hex(input), want));
  }
});

describe("bufferPoolSize", () => {
  const cases: [number, number][] = [
    [0, 134217728],
    [100 * MiB, 134217728],
    [182 * MiB, 134217728], // 70 % = 127.4 MiB -> 127 MiB < 128 MiB
    [183 * MiB, 134217728], // 70 % = 128.1 MiB -> 128 MiB
    [200 * MiB, 146800640], // 140 MiB
    [500 * MiB, 367001600],
    [1000 * MiB, 734003200],
    [1024 * MiB, 750780416], // (1073741824/100)*70 = 751619260 -> 716 MiB
    [4 * 1024 * MiB, 3006267392],
    [1_000_000_099, 699400192], // integer division first: (1e9+99)/100 = 10000000, *70 = 7e8 -> 667 MiB
  ];
  for (const [mem, want] of cases) {
    it(`${mem} bytes`, () => {
      const got = bufferPoolSize(mem);
      assert.equal(got, want);
      assert.equal(got % MiB, 0);
      assert.ok(got >= 134217728);
    });
  }
});

describe("memoryBytesFromQuantity", () => {
  it("refuses values beyond 2^53", () => {
    assert.equal(memoryBytesFromQuantity("7Pi"), 7 * 2 ** 50);
    assert.equal(memoryBytesFromQuantity("512Mi"), 536870912);
    assert.throws(() => memoryBytesFromQuantity("8Pi"), QuantityParseError); // 2^53
  });
});

describe("containerMemoryBytes (docs/objects.md#mycnf-inputs)", () => {
  const cases: { name: string; res: Parameters<typeof containerMemoryBytes>[0]; want: number }[] = [
    { name: "no resources", res: undefined, want: 0 },
    { name: "empty", res: {}, want: 0 },
    { name: "requests win", res: { requests: { memory: "1Gi" }, limits: { memory: "2Gi" } }, want: 1073741824 },
    { name: "limits when requests absent", res: { requests: { cpu: "1" }, limits: { memory: "2Gi" } }, want: 2147483648 },
    { name: "limits when requests zero", res: { requests: { memory: "0" }, limits: { memory: "500M" } }, want: 500000000 },
    { name: "numeric quantity", res: { limits: { memory: 1048576 } }, want: 1048576 },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(containerMemoryBytes(c.res), c.want));
  }
});

// Self-fencing's decision (docs/clustering.md "Self-fencing"): table-driven.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import {
  DEFAULT_SELF_FENCE_THRESHOLD_MS,
  PeerConfirmations,
  decideSelfFence,
  lackingForMs,
  parseSelfFenceObservation,
  peerOrdinals,
  type PeerConfirmationState,
  type SelfFenceObservation,
} from "../../../src/agent/self-fence.ts";
import { confirmsRequester, parseRequester, type Requester, type SourceView } from "../../../src/agent/peers.ts";
import { parseAgentFlags } from "../../../src/agent/config.ts";

const primary: SelfFenceObservation = { superReadOnly: false, semiSyncSourceEnabled: true, longestAckWaitSeconds: null };

describe("decideSelfFence", () => {
  const table: Array<[string, Partial<SelfFenceObservation>, number, boolean, RegExp]> = [
    ["healthy primary, no commit waits", {}, 5_000, false, /no commit waits/],
    ["a commit waits 0 s (a slow replica, just now)", { longestAckWaitSeconds: 0 }, 5_000, false, /below the threshold/],
    ["a commit waits 4 s, threshold 5 s", { longestAckWaitSeconds: 4 }, 5_000, false, /waited 4 s.*below/],
    ["a commit waits 5 s, threshold 5 s: fence", { longestAckWaitSeconds: 5 }, 5_000, true, /waited 5 s for a semi-sync acknowledgement \(threshold 5 s\)/],
    ["a commit waits 120 s: fence", { longestAckWaitSeconds: 120 }, 5_000, true, /waited 120 s/],
    ["threshold below a second: a 0 s wait does not fence yet", { longestAckWaitSeconds: 0 }, 500, false, /below/],
    ["threshold 2 s: the ack wait still needs 5 s (large transactions)", { longestAckWaitSeconds: 4 }, 2_000, false, /below/],
    ["threshold 2 s: a 5 s ack wait fences", { longestAckWaitSeconds: 5 }, 2_000, true, /threshold 5 s/],
    ["threshold 8 s: the ack wait needs 8 s", { longestAckWaitSeconds: 7 }, 8_000, false, /below/],
    ["already super_read_only (fenced, or a replica)", { superReadOnly: true, longestAckWaitSeconds: 60 }, 5_000, false, /read-only/],
    ["not a semi-sync source", { semiSyncSourceEnabled: false, longestAckWaitSeconds: 60 }, 5_000, false, /not a semi-sync source/],
    ["disabled (threshold 0)", { longestAckWaitSeconds: 600 }, 0, false, /disabled/],
  ];
  for (const [name, patch, threshold, fence, reason] of table) {
    it(name, () => {
      const d = decideSelfFence({ ...primary, ...patch }, threshold);
      assert.equal(d.fence, fence);
      assert.match(d.reason, reason);
    });
  }
});

describe("parseSelfFenceObservation", () => {
  const table: Array<[string, Record<string, unknown> | undefined, SelfFenceObservation | RegExp]> = [
    ["writable source, nobody waits", { sro: "0", ss: "ON", w: null, wc: "1", port: 3306 }, { superReadOnly: false, semiSyncSourceEnabled: true, longestAckWaitSeconds: null, waitForReplicaCount: 1, port: 3306 }],
    ["numbers as mysql2 returns them", { sro: 1, ss: "OFF", w: "7", wc: 2, port: "3306" }, { superReadOnly: true, semiSyncSourceEnabled: false, longestAckWaitSeconds: 7, waitForReplicaCount: 2, port: 3306 }],
    ["no semi-sync plugin (no variable row)", { sro: 0, ss: null, w: null, wc: null }, { superReadOnly: false, semiSyncSourceEnabled: false, longestAckWaitSeconds: null, waitForReplicaCount: 0, port: 0 }],
    ["no row", undefined, /no row/],
  ];
  for (const [name, row, want] of table) {
    it(name, () => {
      if (want instanceof RegExp) assert.throws(() => parseSelfFenceObservation(row), want);
      else assert.deepEqual(parseSelfFenceObservation(row), want);
    });
  }
});

describe("--self-fence-threshold", () => {
  const table: Array<[string, string[], number | RegExp]> = [
    ["default", [], DEFAULT_SELF_FENCE_THRESHOLD_MS],
    ["set", ["--self-fence-threshold=3s"], 3_000],
    ["disabled", ["--self-fence-threshold=0"], 0],
    ["bad", ["--self-fence-threshold=soon"], /--self-fence-threshold/],
    ["negative", ["--self-fence-threshold=-1s"], /--self-fence-threshold.*negative/],
  ];
  for (const [name, argv, want] of table) {
    it(name, () => {
      if (want instanceof RegExp) assert.throws(() => parseAgentFlags(argv), want);
      else assert.equal(parseAgentFlags(argv).selfFenceThresholdMs, want);
    });
  }
});

describe("decideSelfFence with the peers' confirmations (active trigger)", () => {
  const peers = (p: Partial<PeerConfirmationState>): PeerConfirmationState => ({ armed: true, lackingForMs: 0, confirming: 2, needed: 1, ...p });
  const table: Array<[string, Partial<SelfFenceObservation>, number, PeerConfirmationState, boolean, RegExp]> = [
    ["idle primary, enough confirmations", {}, 2_000, peers({}), false, /no commit waits/],
    ["idle primary, none for 1.9 s (threshold 2 s)", {}, 2_000, peers({ confirming: 0, lackingForMs: 1_900 }), false, /no commit waits/],
    ["idle primary, none for 2 s: fence", {}, 2_000, peers({ confirming: 0, lackingForMs: 2_000 }), true, /0 of the 1 needed peers.*2000 ms \(threshold 2 s\)/],
    ["n=5: one of two needed for 3 s: fence", {}, 2_000, peers({ confirming: 1, needed: 2, lackingForMs: 3_000 }), true, /1 of the 2 needed/],
    ["not armed yet (peers never confirmed): no fence", {}, 2_000, peers({ armed: false, confirming: 0, lackingForMs: 60_000 }), false, /not armed/],
    ["not armed, but a commit waited 6 s: passive trigger fences", { longestAckWaitSeconds: 6 }, 2_000, peers({ armed: false, confirming: 0 }), true, /waited 6 s/],
    ["read-only: never", { superReadOnly: true }, 2_000, peers({ confirming: 0, lackingForMs: 60_000 }), false, /read-only/],
    ["1-instance cluster (needed 0): never", {}, 2_000, peers({ confirming: 0, needed: 0, lackingForMs: 60_000 }), false, /no commit waits/],
    ["disabled: never", {}, 0, peers({ confirming: 0, lackingForMs: 60_000 }), false, /disabled/],
  ];
  for (const [name, patch, threshold, p, fence, reason] of table) {
    it(name, () => {
      const d = decideSelfFence({ ...primary, ...patch }, threshold, p);
      assert.equal(d.fence, fence);
      assert.match(d.reason, reason);
    });
  }
});

describe("lackingForMs (ttl 1500 ms)", () => {
  const table: Array<[string, number[], number, number, number]> = [
    ["n=3 (needed 1): one peer confirmed a request sent at 1000, now 2000", [1_000, 0], 1, 2_000, 0],
    ["n=3: the latest confirmation's request was sent at 1000, now 3000", [1_000, 500], 1, 3_000, 500],
    ["n=5 (needed 2): the 2nd latest decides", [5_000, 1_000, 900, 800], 2, 4_000, 1_500],
    ["n=5: two recent ones", [5_000, 4_900, 0, 0], 2, 6_000, 0],
    ["fewer peers on record than needed: forever", [5_000], 2, 6_000, Number.POSITIVE_INFINITY],
    ["needed 0", [], 0, 6_000, 0],
  ];
  for (const [name, times, needed, now, want] of table) it(name, () => assert.equal(lackingForMs(times, needed, 1_500, now), want));
});

describe("PeerConfirmations", () => {
  it("arms on the first time enough confirm, stays armed while they lapse, resets per writable period", () => {
    const c = new PeerConfirmations();
    assert.deepEqual(c.state(1, 0, 1_500), { armed: false, lackingForMs: 0, confirming: 0, needed: 1 });
    c.confirmed(1, 100);
    assert.deepEqual(c.state(1, 200, 1_500), { armed: true, lackingForMs: 0, confirming: 1, needed: 1 });
    c.confirmed(1, 50);
    assert.deepEqual(c.state(1, 2_600, 1_500), { armed: true, lackingForMs: 1_000, confirming: 0, needed: 1 });
    c.reset();
    assert.deepEqual(c.state(1, 2_700, 1_500), { armed: false, lackingForMs: 0, confirming: 0, needed: 1 });
  });
  it("a new wait count re-arms", () => {
    const c = new PeerConfirmations();
    c.confirmed(1, 0);
    assert.equal(c.state(1, 0, 1_500).armed, true);
    assert.equal(c.state(2, 0, 1_500).armed, false);
  });
});

describe("peerOrdinals", () => {
  const table: Array<[number, number, number[]]> = [[0, 1, [1, 2]], [1, 1, [0, 2]], [2, 2, [0, 1, 3, 4]], [0, 0, []]];
  for (const [own, w, want] of table) it(`own ${own}, w ${w}`, () => assert.deepEqual(peerOrdinals(own, w), want));
});

describe("confirmsRequester", () => {
  const who: Requester = { pod: "moco-c-0", hosts: ["10.0.0.5"], port: 3306 };
  const src = (p: Partial<SourceView>): SourceView => ({ host: "moco-c-0.moco-c.ns.svc", port: 3306, ioState: "ON", ...p });
  const table: Array<[string, SourceView | null, boolean]> = [
    ["replicates from it by DNS name", src({}), true],
    ["connecting counts", src({ ioState: "CONNECTING" }), true],
    ["IO thread stopped", src({ ioState: "OFF" }), false],
    ["another instance", src({ host: "moco-c-1.moco-c.ns.svc" }), false],
    ["a Pod name that only starts alike", src({ host: "moco-c-01.moco-c.ns.svc" }), false],
    ["by Pod IP", src({ host: "10.0.0.5" }), true],
    ["another port", src({ port: 3307 }), false],
    ["not a replica", null, false],
  ];
  for (const [name, s, want] of table) it(name, () => assert.equal(confirmsRequester(s, who), want));
});

describe("parseRequester", () => {
  const table: Array<[string, string, Requester | RegExp]> = [
    ["full", "?pod=moco-c-0&port=3306&host=10.0.0.5&host=fd00::5", { pod: "moco-c-0", hosts: ["10.0.0.5", "fd00::5"], port: 3306 }],
    ["no port", "?pod=moco-c-0", { pod: "moco-c-0", hosts: [], port: 0 }],
    ["no pod", "?port=3306", /query parameter pod/],
    ["bad port", "?pod=moco-c-0&port=x", /query parameter port/],
  ];
  for (const [name, q, want] of table) {
    it(name, () => {
      const url = new URL(`http://x/replication-source${q}`);
      if (want instanceof RegExp) assert.throws(() => parseRequester(url), want);
      else assert.deepEqual(parseRequester(url), want);
    });
  }
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Backoff, backoffDelay } from "../../../src/util/backoff.ts";
import { FakeClock } from "./fake-clock.ts";
import { TokenBucket } from "../../../src/k8s/ratelimit.ts";
import { Selector, toSelector } from "../../../src/k8s/labels.ts";
import { isAlreadyExists, isConflict, isGone, isNotFound, ApiError } from "../../../src/k8s/errors.ts";
import { resourcePath, resources } from "../../../src/k8s/resource.ts";
import { microTime } from "../../../src/k8s/leader.ts";

describe("back-off", () => {
  it("doubles from the initial delay and stops at the cap", () => {
    const o = { initialMs: 500, maxMs: 10_000 };
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50, 5000].map((n) => backoffDelay(n, o)), [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000]);
  });

  it("honours another factor and adds jitter in [0, jitter) of the delay", () => {
    assert.equal(backoffDelay(2, { initialMs: 100, maxMs: 1e9, factor: 3 }), 900);
    assert.equal(backoffDelay(1, { initialMs: 100, maxMs: 1e9, jitter: 0.5 }, () => 0.5), 250);
    assert.equal(backoffDelay(1, { initialMs: 100, maxMs: 1e9, jitter: 0.5 }, () => 0), 200);
  });

  it("Backoff counts failures and resets", () => {
    const b = new Backoff({ initialMs: 10, maxMs: 35 });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [10, 20, 35, 35]);
    assert.equal(b.failures, 4);
    b.reset();
    assert.equal(b.next(), 10);
  });
});

describe("TokenBucket", () => {
  it("allows a burst, then one token per 1/qps", async () => {
    const clock = new FakeClock();
    const tb = new TokenBucket(10, 2, clock);
    await tb.take();
    await tb.take();
    assert.equal(tb.delayMs(), 100);
    let got = false;
    const p = tb.take().then(() => { got = true; });
    await clock.advance(50);
    assert.equal(got, false);
    await clock.advance(50);
    await p;
    assert.equal(got, true);
  });
});

describe("label selectors", () => {
  const cases: Array<[string, Record<string, string> | undefined, boolean]> = [
    ["", { a: "1" }, true],
    ["a=1", { a: "1" }, true],
    ["a==1", { a: "2" }, false],
    ["a!=1", {}, true],
    ["a!=1", { a: "1" }, false],
    ["a in (1, 2),b", { a: "2", b: "" }, true],
    ["a in (1,2),b", { a: "2" }, false],
    ["a notin (1,2)", { a: "3" }, true],
    ["a notin (1,2)", { a: "1" }, false],
    ["!a", {}, true],
    ["!a", { a: "" }, false],
    ["app.kubernetes.io/name=mysql,app.kubernetes.io/instance=c1", { "app.kubernetes.io/name": "mysql", "app.kubernetes.io/instance": "c1" }, true],
    ["x=", { x: "" }, true],
    ["a", undefined, false],
  ];
  for (const [sel, labels, want] of cases) {
    it(`${JSON.stringify(sel)} on ${JSON.stringify(labels)} → ${want}`, () => assert.equal(Selector.parse(sel).matches(labels), want));
  }

  it("round-trips through toString and accepts the LabelSelector object form", () => {
    const s = Selector.parse("a=1, b notin (x,y),!c,d");
    assert.equal(s.toString(), "a=1,b notin (x,y),!c,d");
    const o = toSelector({ matchLabels: { a: "1" }, matchExpressions: [{ key: "b", operator: "In", values: ["x", "y"] }, { key: "c", operator: "DoesNotExist" }] });
    assert.equal(o.matches({ a: "1", b: "y" }), true);
    assert.equal(o.matches({ a: "1", b: "y", c: "1" }), false);
    assert.throws(() => Selector.parse("a in (1"), /expected/);
    assert.throws(() => toSelector({ matchExpressions: [{ key: "a", operator: "Bogus" }] }), /unknown operator/);
  });
});

describe("errors, paths, times", () => {
  it("classifies API errors, including client-node's ApiException shape", () => {
    assert.equal(isNotFound(new ApiError("GET", "/x", 404, { reason: "NotFound" })), true);
    assert.equal(isNotFound({ code: 404, body: "{}" }), true);
    assert.equal(isAlreadyExists(new ApiError("POST", "/x", 409, { reason: "AlreadyExists" })), true);
    assert.equal(isConflict(new ApiError("POST", "/x", 409, { reason: "AlreadyExists" })), false);
    assert.equal(isConflict({ code: 409, body: JSON.stringify({ reason: "Conflict" }) }), true);
    assert.equal(isGone(new ApiError("GET", "/x", 410, { reason: "Expired" })), true);
  });

  it("builds REST paths for core, grouped and cluster-scoped resources", () => {
    assert.equal(resourcePath(resources.configMaps, { namespace: "ns", name: "a" }), "/api/v1/namespaces/ns/configmaps/a");
    assert.equal(resourcePath(resources.mysqlClusters, { namespace: "ns", name: "c", subresource: "status" }), "/apis/moco.cybozu.com/v1beta2/namespaces/ns/mysqlclusters/c/status");
    assert.equal(resourcePath(resources.configMaps), "/api/v1/configmaps");
    assert.equal(resourcePath(resources.namespaces, { namespace: "ignored", name: "x" }), "/api/v1/namespaces/x");
  });

  it("formats MicroTime with six fractional digits", () => {
    assert.equal(microTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), "2024-01-02T03:04:05.678000Z");
  });
});

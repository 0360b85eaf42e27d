import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FakeClock, flushMicrotasks } from "./fake-clock.ts";
import {
  BucketRateLimiter, ItemExponentialRateLimiter, MaxOfRateLimiter, WorkQueue, runWorkers, type RateLimiter,
} from "../../../src/k8s/queue.ts";
import { pino } from "pino";

const silent = pino({ level: "silent" });

function queue(clock = new FakeClock(), limiter?: RateLimiter<string>) {
  return new WorkQueue<string>({ clock, rateLimiter: limiter ?? new ItemExponentialRateLimiter<string>(5, 1000) });
}

async function take(q: WorkQueue<string>): Promise<string> {
  const r = await q.get();
  assert.equal(r.shutdown, false);
  return r.item as string;
}

describe("WorkQueue", () => {
  it("de-duplicates: an item queued twice is handed out once", async () => {
    const q = queue();
    q.add("a"); q.add("b"); q.add("a");
    assert.equal(q.len(), 2);
    assert.equal(await take(q), "a");
    assert.equal(await take(q), "b");
    assert.equal(q.len(), 0);
  });

  it("an item re-added while processing is handed out again only after done()", async () => {
    const q = queue();
    q.add("a");
    const a = await take(q);
    q.add("a");
    q.add("a");
    assert.equal(q.len(), 0, "not queued while being processed");
    let second: string | undefined;
    void q.get().then((r) => { second = r.item; });
    await flushMicrotasks();
    assert.equal(second, undefined, "no concurrent hand-out of the same item");
    q.done(a);
    await flushMicrotasks();
    assert.equal(second, "a");
    q.done("a");
    assert.equal(q.len(), 0, "processed once more, not twice more");
  });

  it("done() without a re-add does not requeue", async () => {
    const q = queue();
    q.add("x");
    q.done(await take(q));
    assert.equal(q.len(), 0);
    assert.equal(q.processingLen(), 0);
  });

  it("get() waits for an add", async () => {
    const q = queue();
    const p = q.get();
    q.add("late");
    assert.deepEqual(await p, { item: "late", shutdown: false });
  });

  it("addAfter hands items out in due-time order, and only when due", async () => {
    const clock = new FakeClock();
    const q = queue(clock);
    q.addAfter("c", 300);
    q.addAfter("a", 100);
    q.addAfter("b", 200);
    q.addAfter("now", 0);
    assert.equal(q.len(), 1);
    assert.equal(q.waitingLen(), 3);
    await clock.advance(99);
    assert.equal(q.len(), 1);
    await clock.advance(1);
    await clock.advance(250);
    const order = [await take(q), await take(q), await take(q)];
    assert.deepEqual(order, ["now", "a", "b"]);
    await clock.advance(50);
    assert.equal(await take(q), "c");
  });

  it("addAfter of an item already waiting keeps the earlier time", async () => {
    const clock = new FakeClock();
    const q = queue(clock);
    q.addAfter("a", 1000);
    q.addAfter("a", 100);
    q.addAfter("a", 5000);
    assert.equal(q.waitingLen(), 1);
    await clock.advance(100);
    assert.equal(q.len(), 1);
    await clock.advance(10_000);
    assert.equal(q.len(), 1, "the later adds did not queue it again");
  });

  it("addRateLimited backs off exponentially per item; forget resets", async () => {
    const clock = new FakeClock();
    const q = queue(clock, new ItemExponentialRateLimiter<string>(10, 1000));
    const dueAfter = async (item: string): Promise<number> => {
      q.addRateLimited(item);
      let waited = 0;
      while (q.len() === 0) { await clock.advance(1); waited++; }
      q.done(await take(q));
      return waited;
    };
    assert.deepEqual([await dueAfter("a"), await dueAfter("a"), await dueAfter("a")], [10, 20, 40]);
    assert.equal(q.numRequeues("a"), 3);
    assert.equal(await dueAfter("b"), 10, "per item");
    q.forget("a");
    assert.equal(q.numRequeues("a"), 0);
    assert.equal(await dueAfter("a"), 10);
  });

  it("shutdown: adds are ignored, delayed items dropped, queued items drained, then get reports shutdown", async () => {
    const clock = new FakeClock();
    const q = queue(clock);
    q.add("a");
    q.addAfter("later", 100);
    q.shutdown();
    q.add("b");
    assert.equal(q.isShuttingDown(), true);
    assert.equal(await take(q), "a");
    await clock.advance(1000);
    assert.deepEqual(await q.get(), { item: undefined, shutdown: true });
  });

  it("shutdown wakes blocked getters; shutdownAndWait waits for items in processing", async () => {
    const q = queue();
    const blocked = q.get();
    q.shutdown();
    assert.deepEqual(await blocked, { item: undefined, shutdown: true });

    const q2 = queue();
    q2.add("x");
    const x = await take(q2);
    let finished = false;
    const waiting = q2.shutdownAndWait().then(() => { finished = true; });
    await flushMicrotasks();
    assert.equal(finished, false);
    q2.done(x);
    await waiting;
    assert.equal(finished, true);
  });

  it("addFirst: first-lane items are handed out before add() items, each lane in order", async () => {
    const cases: { name: string; ops: [op: "add" | "first", item: string][]; want: string[] }[] = [
      { name: "lanes", ops: [["add", "a"], ["add", "b"], ["first", "x"], ["first", "y"], ["add", "c"]], want: ["x", "y", "a", "b", "c"] },
      { name: "a queued item moves to the first lane", ops: [["add", "a"], ["add", "b"], ["first", "b"]], want: ["b", "a"] },
      { name: "first then add: stays first, once", ops: [["first", "a"], ["add", "b"], ["add", "a"]], want: ["a", "b"] },
      { name: "first twice: once, at its first place", ops: [["first", "a"], ["first", "b"], ["first", "a"]], want: ["a", "b"] },
    ];
    for (const c of cases) {
      const q = queue();
      for (const [op, item] of c.ops) if (op === "add") q.add(item); else q.addFirst(item);
      assert.equal(q.len(), c.want.length, c.name);
      const got: string[] = [];
      while (q.len() > 0) { const it = await take(q); got.push(it); q.done(it); }
      assert.deepEqual(got, c.want, c.name);
    }
  });

  it("addFirst of an item being processed queues it in the first lane at done(), never concurrently", async () => {
    const q = queue();
    q.add("a");
    const a = await take(q);
    q.add("b");
    q.addFirst("a");
    assert.equal(q.len(), 1, "a is not queued while being processed");
    q.done(a);
    assert.equal(await take(q), "a", "ahead of b");
    q.done("a");
    assert.equal(await take(q), "b");
    q.done("b");
    assert.equal(q.len(), 0);
  });

  it("addFirst after shutdown is ignored", async () => {
    const q = queue();
    q.shutdown();
    q.addFirst("a");
    assert.equal(q.len(), 0);
  });
});

describe("rate limiters", () => {
  it("ItemExponentialRateLimiter: base × 2^n capped", () => {
    const l = new ItemExponentialRateLimiter<string>(5, 1_000_000);
    const got = Array.from({ length: 6 }, () => l.when("k"));
    assert.deepEqual(got, [5, 10, 20, 40, 80, 160]);
    for (let i = 0; i < 40; i++) l.when("k");
    assert.equal(l.when("k"), 1_000_000);
  });

  it("BucketRateLimiter: burst free, then 1/qps apart", async () => {
    const clock = new FakeClock();
    const l = new BucketRateLimiter<string>(10, 3, clock);
    assert.deepEqual([l.when("a"), l.when("b"), l.when("c")], [0, 0, 0]);
    assert.equal(l.when("d"), 100);
    assert.equal(l.when("e"), 200);
    await clock.advance(1000);
    assert.equal(l.when("f"), 0);
  });

  it("MaxOfRateLimiter takes the largest delay and forgets in all", () => {
    const a = new ItemExponentialRateLimiter<string>(5, 1000);
    const b = new ItemExponentialRateLimiter<string>(50, 1000);
    const m = new MaxOfRateLimiter(a, b);
    assert.equal(m.when("k"), 50);
    assert.equal(m.when("k"), 100);
    m.forget("k");
    assert.equal(a.numRequeues("k") + b.numRequeues("k"), 0);
  });
});

describe("runWorkers", () => {
  it("success forgets, failure requeues rate limited, requeueAfter requeues after the delay", async () => {
    const clock = new FakeClock();
    const q = queue(clock, new ItemExponentialRateLimiter<string>(100, 10_000));
    const calls: Array<[string, number]> = [];
    let failuresLeft = 2;
    const done = runWorkers(q, 2, async (item) => {
      calls.push([item, clock.now()]);
      if (item === "flaky" && failuresLeft-- > 0) throw new Error("boom");
      if (item === "periodic" && calls.filter(([i]) => i === "periodic").length < 2) return { requeueAfterMs: 5000 };
      return undefined;
    }, { logger: silent });
    const t0 = clock.now();
    q.add("flaky");
    q.add("ok");
    q.add("periodic");
    await clock.advance(10_000);
    q.shutdown();
    await done;
    const times = (name: string) => calls.filter(([i]) => i === name).map(([, t]) => t - t0);
    assert.deepEqual(times("ok"), [0]);
    assert.deepEqual(times("flaky"), [0, 100, 300], "retried after 100 ms then 200 ms");
    assert.equal(q.numRequeues("flaky"), 0, "forgotten after the success");
    assert.deepEqual(times("periodic"), [0, 5000]);
  });

  it("never runs one item concurrently, and runs a re-added item again", async () => {
    const q = queue();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const done = runWorkers(q, 4, async () => {
      running++; runs++;
      maxRunning = Math.max(maxRunning, running);
      if (runs === 1) await gate;
      running--;
    }, { logger: silent });
    q.add("k");
    await flushMicrotasks();
    q.add("k"); q.add("k");
    await flushMicrotasks();
    assert.equal(runs, 1);
    release();
    await flushMicrotasks();
    q.shutdown();
    await done;
    assert.equal(maxRunning, 1);
    assert.equal(runs, 2, "the re-adds during processing collapse into one more run");
  });
});

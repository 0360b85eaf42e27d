// Renewal timing of src/controller/cert-renewal.ts, and the CA bundle
// handling of certs.ts (pure logic; no API server).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  certificateNotAfter,
  renewalCheckIntervalMs,
  renewalDue,
  validateLifetimes,
} from "../../../src/controller/cert-renewal.ts";
import {
  bundleWith,
  createCertificateAuthority,
  isLeafCurrent,
  issueCertificate,
  loadCertificateAuthority,
  splitPemBundle,
} from "../../../src/controller/certs.ts";

const T0 = new Date("2026-01-01T00:00:00Z");

test("renewalDue: absent, unparsable, inside and outside the renew-before window", async () => {
  const ca = await createCertificateAuthority(T0);
  const leaf = await issueCertificate(ca, { commonName: "x", usage: "server", validityMs: 100_000 }, T0);
  const rows: [string, string | undefined, number, boolean][] = [
    ["absent", undefined, 0, true],
    ["empty", "", 0, true],
    ["garbage", "not a certificate", 0, true],
    ["fresh", leaf.cert, 0, false],
    ["just before the window", leaf.cert, 100_000 - 30_000 - 1_000, false],
    ["inside the window", leaf.cert, 100_000 - 30_000 + 1_000, true],
    ["expired", leaf.cert, 200_000, true],
  ];
  for (const [name, pem, afterMs, want] of rows) {
    assert.equal(renewalDue(pem, { renewBeforeMs: 30_000 }, new Date(T0.getTime() + afterMs)), want, name);
  }
  assert.equal(certificateNotAfter(leaf.cert)?.getTime(), T0.getTime() + 100_000);
});

test("validateLifetimes names the flag; renewalCheckIntervalMs is a quarter of renew-before within [1 s, 10 min]", () => {
  assert.throws(() => validateLifetimes({ validityMs: 5_000, renewBeforeMs: 1_000 }), /--cert-validity/);
  assert.throws(() => validateLifetimes({ validityMs: 60_000, renewBeforeMs: 60_000 }), /--cert-renew-before/);
  assert.throws(() => validateLifetimes({ validityMs: 60_000, renewBeforeMs: 0 }), /--cert-renew-before/);
  assert.deepEqual(validateLifetimes({ validityMs: 60_000, renewBeforeMs: 20_000 }), { validityMs: 60_000, renewBeforeMs: 20_000 });
  const rows: [number, number][] = [[2_000, 1_000], [20_000, 5_000], [30 * 86_400_000, 600_000]];
  for (const [renewBeforeMs, want] of rows) assert.equal(renewalCheckIntervalMs({ validityMs: 365 * 86_400_000, renewBeforeMs }), want, String(renewBeforeMs));
});

test("isLeafCurrent: renew-before, and a leaf of another CA with the same name is not current", async () => {
  const a = await createCertificateAuthority(T0);
  const b = await createCertificateAuthority(T0);
  const leaf = await issueCertificate(a, { commonName: "x", dnsNames: ["x.svc"], usage: "server", validityMs: 100_000 }, T0);
  assert.equal(await isLeafCurrent(a, leaf.cert, ["x.svc"], T0, 30_000), true);
  assert.equal(await isLeafCurrent(a, leaf.cert, ["x.svc"], new Date(T0.getTime() + 80_000), 30_000), false);
  assert.equal(await isLeafCurrent(a, leaf.cert, ["y.svc"], T0, 30_000), false);
  assert.equal(await isLeafCurrent(b, leaf.cert, ["x.svc"], T0, 30_000), false, "same subject CN, other key");
});

test("CA bundles: loadCertificateAuthority adds the signing CA to ca.crt; bundleWith does not duplicate", async () => {
  const a = await createCertificateAuthority(T0);
  const b = await createCertificateAuthority(T0);
  const loaded = await loadCertificateAuthority(b.cert, b.key, a.cert);
  assert.deepEqual(splitPemBundle(loaded.bundle), [...splitPemBundle(a.cert), ...splitPemBundle(b.cert)]);
  assert.equal(bundleWith(loaded.bundle, a.cert), loaded.bundle);
  const both = await loadCertificateAuthority(a.cert, a.key, a.cert + b.cert);
  assert.equal(splitPemBundle(both.bundle).length, 2);
  assert.equal((await loadCertificateAuthority(a.cert, a.key)).bundle, splitPemBundle(a.cert).join(""));
});

test("CA bundles: a created CA and the same CA read back from its Secret have the same bundle (agent Secrets stay current across controller restarts)", async () => {
  const created = await createCertificateAuthority(T0);
  const readBack = await loadCertificateAuthority(created.cert, created.key, created.bundle);
  assert.equal(readBack.bundle, created.bundle);
  assert.equal((await loadCertificateAuthority(created.cert, created.key)).bundle, created.bundle);
});

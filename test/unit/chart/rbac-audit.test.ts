// The RBAC-against-audit-log comparison (test/env/rbac-audit.ts) that both audits use, on
// hand-written audit events: what counts as refused, as used, as granted but unused.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import YAML from "yaml";
import { auditPolicy, type AuditEvent } from "../../env/kube.ts";
import { auditRbac, expandRules, jobRoleTriples } from "../../env/rbac-audit.ts";

const USER = "system:serviceaccount:moco-system:moco-controller-manager";

function ev(verb: string, resource: string, o: { group?: string; sub?: string; name?: string; code?: number; decision?: string; user?: string } = {}): AuditEvent {
  return {
    stage: "ResponseComplete", verb, user: { username: o.user ?? USER }, requestURI: `/x/${resource}`,
    objectRef: { resource, ...(o.group === undefined ? {} : { apiGroup: o.group }), ...(o.sub === undefined ? {} : { subresource: o.sub }), ...(o.name === undefined ? {} : { name: o.name }) },
    responseStatus: { code: o.code ?? 200 },
    ...(o.decision === undefined ? {} : { annotations: { "authorization.k8s.io/decision": o.decision } }),
  };
}

describe("expandRules", () => {
  it("expands groups × resources × verbs, with resourceNames kept", () => {
    assert.deepEqual([...expandRules([
      { apiGroups: ["", "apps"], resources: ["pods", "pods/status"], verbs: ["get"] },
      { apiGroups: ["admissionregistration.k8s.io"], resources: ["mutatingwebhookconfigurations"], resourceNames: ["a"], verbs: ["update"] },
    ])].sort(), [
      "/pods get", "/pods/status get", "admissionregistration.k8s.io/mutatingwebhookconfigurations update @a", "apps/pods get", "apps/pods/status get",
    ]);
  });
});

describe("auditRbac", () => {
  const granted = expandRules([
    { apiGroups: [""], resources: ["services"], verbs: ["patch", "create", "list"] },
    { apiGroups: ["admissionregistration.k8s.io"], resources: ["validatingwebhookconfigurations"], resourceNames: ["v"], verbs: ["get"] },
    { apiGroups: ["moco.cybozu.com"], resources: ["mysqlclusters/finalizers"], verbs: ["update"] },
    { apiGroups: ["moco.cybozu.com"], resources: ["mysqlclusters"], verbs: ["update"] },
  ]);
  const base = [ev("patch", "services", { code: 201 }), ev("get", "validatingwebhookconfigurations", { group: "admissionregistration.k8s.io", name: "v" })];
  const cases: { name: string; log: AuditEvent[]; unreached?: Record<string, string>; want: Partial<Record<"denied" | "missing" | "unused" | "unreachedNotGranted" | "unreachedButUsed", string[]>> }[] = [
    {
      name: "a server-side apply that created (201) counts as create; a named read matches its resourceNames rule; the escalation verb is exempt",
      log: base, want: { denied: [], missing: [], unused: ["/services list", "moco.cybozu.com/mysqlclusters/finalizers update"] },
    },
    {
      name: "an unreached entry exempts its verb; one that was used is reported",
      log: [...base, ev("list", "services")], unreached: { "moco.cybozu.com/mysqlclusters/finalizers update": "why", "/services list": "why" },
      want: { unused: [], unreachedButUsed: ["/services list"], unreachedNotGranted: [] },
    },
    {
      name: "an unreached entry not granted is stale",
      log: base, unreached: { "/secrets delete": "why" }, want: { unreachedNotGranted: ["/secrets delete"] },
    },
    {
      name: "a verb used but not granted is missing (a named one with its name); other users are ignored",
      log: [...base, ev("delete", "services", { name: "s" }), ev("get", "validatingwebhookconfigurations", { group: "admissionregistration.k8s.io", name: "w" }), ev("delete", "secrets", { user: "someone" })],
      want: { missing: ["/services delete @s", "admissionregistration.k8s.io/validatingwebhookconfigurations get @w"] },
    },
    {
      name: "refused by authorization (decision forbid) is denied; a 403 of admission (decision allow) is not",
      log: [...base, ev("create", "services", { code: 403, decision: "forbid" }), ev("patch", "services", { code: 403, decision: "allow" })],
      want: { denied: ["create /x/services"] },
    },
    {
      name: "a 403 without the authorization annotation counts as refused",
      log: [...base, ev("list", "services", { code: 403 })], want: { denied: ["list /x/services"] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const a = auditRbac(c.log, USER, granted, c.unreached ?? {});
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(a[k as keyof typeof c.want], v, k);
    });
  }
  it("the escalation triples are what the backup and restore Roles grant", () => {
    const t = jobRoleTriples();
    for (const k of ["moco.cybozu.com/mysqlclusters update", "/pods get", "/events update"]) assert.ok(t.has(k), k);
  });
});

describe("auditPolicy", () => {
  it("logs every request, or only the named users' (None for the rest); watches at their start too", () => {
    const all = YAML.parse(auditPolicy()) as { omitStages: string[]; rules: { level: string; users?: string[] }[] };
    assert.deepEqual(all.omitStages, ["RequestReceived"]);
    assert.deepEqual(all.rules, [{ level: "Metadata" }]);
    const some = YAML.parse(auditPolicy([USER])) as typeof all;
    assert.deepEqual(some.rules, [{ level: "Metadata", users: [USER] }, { level: "None" }]);
  });
});

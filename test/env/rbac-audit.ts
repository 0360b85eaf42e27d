// The comparison of a user's RBAC rules with its API calls in kube-apiserver's audit log
// (test/env/kube.ts readAuditLog), shared by the integration audit (the controller in-process
// on a real API server, test/integration/chart/rbac-audit.test.ts) and the e2e one (the
// controller Pods on the real node over the whole e2e run, test/e2e/zz-rbac-audit.test.ts).
// A rule is expanded into "group/resource[/sub] verb" triples ("@name" appended when the
// rule names resourceNames); a request becomes the same triple. Then:
//  - a request authorization refused (403 with decision "forbid"; not one admission refused,
//    such as a write into a namespace being deleted), or a triple no rule grants: the role lacks it;
//  - a granted triple nothing used: the role grants too much, unless it is one of the
//    escalation triples (what the backup/restore Roles the controller writes grant: RBAC
//    lets it write them only if it holds those verbs itself, computed from the builders) or
//    listed as unreached, with the reason the run cannot reach it;
//  - an unreached entry that is not granted is stale (one used after all is only reported:
//    some are reached by timing, e.g. a read when a cache lags).
import assert from "node:assert/strict";
import type { AuditEvent } from "./kube.ts";
import { buildBackupRole, buildRestoreRole } from "../../src/controller/builders/jobs.ts";

export interface PolicyRule { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] }

/** "group/resource[/sub] verb" for each (group, resource, verb) of `rules` (resourceNames kept as "@name"). */
export function expandRules(rules: readonly PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? [""]) {
      for (const res of r.resources ?? []) {
        for (const v of r.verbs) {
          if (r.resourceNames === undefined || r.resourceNames.length === 0) out.add(`${g}/${res} ${v}`);
          else for (const n of r.resourceNames) out.add(`${g}/${res} ${v} @${n}`);
        }
      }
    }
  }
  return out;
}

/** What the backup and restore Roles the controller writes grant (without their resourceNames). */
export function jobRoleTriples(): Set<string> {
  const x = {
    apiVersion: "moco.cybozu.com/v1beta2", kind: "MySQLCluster",
    metadata: { name: "x", namespace: "x", uid: "00000000-0000-0000-0000-000000000000" }, spec: {},
  } as never;
  const rules = [...(buildBackupRole(x).rules ?? []), ...(buildRestoreRole(x).rules ?? [])] as PolicyRule[];
  return expandRules(rules.map(({ resourceNames: _, ...r }) => r));
}

export interface RbacAudit {
  /** The user's resource requests in the log. */
  events: number;
  /** "verb URI" of the requests authorization refused. */
  denied: string[];
  /** Triples used but granted by no rule. */
  missing: string[];
  /** Triples granted, used by nothing, neither escalation nor listed unreached. */
  unused: string[];
  /** Unreached entries the rules do not grant. */
  unreachedNotGranted: string[];
  /** Unreached entries that were used after all. */
  unreachedButUsed: string[];
  used: Set<string>;
  granted: Set<string>;
}

/** Compares `user`'s requests in `log` with the triples `granted`, given the `unreached` exceptions. */
export function auditRbac(log: readonly AuditEvent[], user: string, granted: Set<string>, unreached: Record<string, string>): RbacAudit {
  const events = log.filter((e) => e.user.username === user && e.objectRef?.resource !== undefined);
  // Refused by authorization; a 403 of admission (e.g. a namespace being deleted) was allowed by RBAC.
  const refused = (e: AuditEvent) => {
    const decision = e.annotations?.["authorization.k8s.io/decision"];
    return decision === "forbid" || (decision === undefined && e.responseStatus?.code === 403);
  };
  const denied = [...new Set(events.filter(refused).map((e) => `${e.verb} ${e.requestURI}`))];
  const used = new Set<string>();
  for (const e of events) {
    const r = e.objectRef ?? {};
    const res = `${r.apiGroup ?? ""}/${r.resource ?? ""}${r.subresource === undefined ? "" : `/${r.subresource}`}`;
    const verbs = [e.verb];
    // Server-side apply of an absent object creates it: authorized as create too.
    if (e.verb === "patch" && e.responseStatus?.code === 201) verbs.push("create");
    for (const v of verbs) {
      const key = `${res} ${v}`;
      used.add(granted.has(key) || r.name === undefined ? key : `${key} @${r.name}`);
    }
  }
  const escalation = jobRoleTriples();
  return {
    events: events.length, denied, used, granted,
    missing: [...used].filter((u) => !granted.has(u)).sort(),
    unused: [...granted].filter((g) => !used.has(g) && !escalation.has(g) && unreached[g] === undefined).sort(),
    unreachedNotGranted: Object.keys(unreached).filter((g) => !granted.has(g)),
    unreachedButUsed: Object.keys(unreached).filter((g) => used.has(g)),
  };
}

/** Asserts that the audit found nothing (`hint` is added to the unused-verbs message); returns a one-line summary (which names the unreached entries used after all). */
export function assertRbacAudit(a: RbacAudit, hint = ""): string {
  assert.ok(a.events > 50, `the audit log holds the user's requests (${a.events})`);
  assert.deepEqual(a.denied, [], "requests RBAC refused");
  assert.deepEqual(a.missing, [], "used but not granted");
  assert.deepEqual(a.unused, [], `granted but never used (and neither needed for the RBAC escalation check nor listed as unreached)${hint}`);
  assert.deepEqual(a.unreachedNotGranted, [], "listed as unreached but not granted");
  // Not a failure: some unreached paths are taken by timing only (a cache lagging behind), so
  // the summary names them for the list's upkeep.
  return `requests ${a.events}; triples used ${a.used.size}, granted ${a.granted.size}; listed unreached but used: ${a.unreachedButUsed.join(", ") || "none"}`;
}

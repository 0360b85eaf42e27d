// Every reference from the code to a document stays inside this repository (issue #16):
// no section-sign references (they pointed at a specification outside the repository), no
// bare names of those specification files, and every `docs/<file>.md#<anchor>` names a file
// of docs/ and a heading in it (GitHub's anchor rules). Scans src/, test/, sandbox/, chaos/,
// bench/ and scripts/; and the links between README.md and docs/*.md resolve the same way.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../../..");
const SCANNED = ["src", "test", "sandbox", "chaos", "bench", "scripts"];
const SECTION_SIGN = "\u00a7";
/** File names of the outside specification; in the code they must be docs/ links. */
const SPEC_FILE = /(?<![\w/.-])(api|backup|behaviours|cli|clustering|objects|observability|operations)\.md\b/g;
const DOC_REF = /\bdocs\/([\w.-]+\.md)(?:#([\w-]+))?/g;

/** GitHub's anchor for a heading: lowercase, punctuation dropped (except - and _), spaces to -. */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}_\- ]/gu, "").replace(/ /g, "-");
}

/** The anchors of a Markdown document: one per heading outside fenced code, with GitHub's -1, -2 for repeats. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const f = /^\s*(```+|~~~+)/.exec(line);
    if (f) {
      const mark = f[1] ?? "";
      if (fence === undefined) fence = mark;
      else if (mark.startsWith(fence)) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const base = githubSlug(h[1] ?? "");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function* textFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* textFiles(p);
    else if (entry.isFile() && fs.statSync(p).size < 4 * 1024 * 1024) {
      const head = fs.readFileSync(p).subarray(0, 8000);
      if (!head.includes(0)) yield p;
    }
  }
}

interface Hit {
  file: string;
  line: number;
  text: string;
}

function scan(): { sectionSigns: Hit[]; specNames: Hit[]; docRefs: (Hit & { doc: string; anchor?: string })[] } {
  const sectionSigns: Hit[] = [];
  const specNames: Hit[] = [];
  const docRefs: (Hit & { doc: string; anchor?: string })[] = [];
  for (const top of SCANNED) {
    const dir = path.join(root, top);
    if (!fs.existsSync(dir)) continue;
    for (const file of textFiles(dir)) {
      const rel = path.relative(root, file);
      const lines = fs.readFileSync(file, "utf8").split("\n");
      lines.forEach((text, i) => {
        const hit = { file: rel, line: i + 1, text: text.trim() };
        if (text.includes(SECTION_SIGN)) sectionSigns.push(hit);
        for (const m of text.matchAll(SPEC_FILE)) specNames.push({ ...hit, text: m[0] });
        for (const m of text.matchAll(DOC_REF)) docRefs.push({ ...hit, text: m[0], doc: m[1] ?? "", anchor: m[2] });
      });
    }
  }
  return { sectionSigns, specNames, docRefs };
}

const where = (h: Hit): string => `${h.file}:${h.line}: ${h.text}`;

describe("references from the code to documents", () => {
  const found = scan();

  it("no section-sign reference (to the specification outside the repository)", () => {
    assert.deepEqual(found.sectionSigns.map(where), []);
  });

  it("no bare specification file name: documents are named as docs/<file>.md", () => {
    assert.deepEqual(found.specNames.map(where), []);
  });

  it("every docs/<file>.md#<anchor> names an existing file and one of its headings", () => {
    assert.ok(found.docRefs.length > 300, `only ${found.docRefs.length} docs/ references found: is the scan broken?`);
    const anchors = new Map<string, Set<string> | undefined>();
    const broken: string[] = [];
    for (const ref of found.docRefs) {
      if (!anchors.has(ref.doc)) {
        const p = path.join(root, "docs", ref.doc);
        anchors.set(ref.doc, fs.existsSync(p) ? anchorsOf(fs.readFileSync(p, "utf8")) : undefined);
      }
      const set = anchors.get(ref.doc);
      if (set === undefined) broken.push(`${where(ref)} (no such file docs/${ref.doc})`);
      else if (ref.anchor !== undefined && !set.has(ref.anchor)) broken.push(`${where(ref)} (no heading #${ref.anchor} in docs/${ref.doc})`);
    }
    assert.deepEqual(broken, []);
  });
});

describe("links between the documents", () => {
  it("every relative link in README.md and docs/*.md names an existing file, and a heading of it when it has an anchor", () => {
    const docs = ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
    const broken: string[] = [];
    let links = 0;
    for (const doc of docs) {
      const lines = fs.readFileSync(path.join(root, doc), "utf8").split("\n");
      lines.forEach((text, i) => {
        for (const m of text.matchAll(/\]\(([^)#\s]*)(?:#([^)\s]+))?\)/g)) {
          const target = m[1] ?? "";
          if (/^[a-z]+:/.test(target)) continue; // http:, https:, mailto:
          links++;
          const file = target === "" ? path.join(root, doc) : path.resolve(path.dirname(path.join(root, doc)), target);
          if (!fs.existsSync(file)) broken.push(`${doc}:${i + 1}: ${m[0]} (no such file)`);
          else if (m[2] !== undefined && file.endsWith(".md") && !anchorsOf(fs.readFileSync(file, "utf8")).has(m[2])) broken.push(`${doc}:${i + 1}: ${m[0]} (no such heading)`);
        }
      });
    }
    assert.ok(links > 20, `only ${links} links found: is the scan broken?`);
    assert.deepEqual(broken, []);
  });
});

describe("githubSlug and anchorsOf (the rules the check relies on)", () => {
  const cases: [string, string][] = [
    ["Gathering status", "gathering-status"],
    ["Containers of a MySQL Pod (what the controller builds)", "containers-of-a-mysql-pod-what-the-controller-builds"],
    ["moco-init (`buildInitScript`)", "moco-init-buildinitscript"],
    ["Tests on real MySQL 9.7", "tests-on-real-mysql-97"],
    ["my.cnf ConfigMap", "mycnf-configmap"],
    ["Observe → assess → decide → act", "observe--assess--decide--act"],
    ["slowQueryLogConfigTmpl: a subset of Go's text/template", "slowquerylogconfigtmpl-a-subset-of-gos-texttemplate"],
    ["Certificates without cert-manager (moco-ts decision)", "certificates-without-cert-manager-moco-ts-decision"],
  ];
  for (const [heading, slug] of cases) {
    it(`${JSON.stringify(heading)} → #${slug}`, () => assert.equal(githubSlug(heading), slug));
  }

  it("skips fenced code and numbers repeated headings", () => {
    const md = "# Top\n\n```sh\n# not a heading\n```\n\n## Events\n\n### Events\n";
    assert.deepEqual([...anchorsOf(md)], ["top", "events", "events-1"]);
  });

  it("a reference to a missing heading is reported by the scan's rule", () => {
    assert.equal(anchorsOf("## Switchover\n").has("switch-over"), false);
  });
});

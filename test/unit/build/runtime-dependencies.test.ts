// Every package that src/ loads at runtime is a production dependency (issue #13: the
// image is built with `npm prune --omit=dev`, so a package reachable only as a
// devDependency, or only through one, is missing there; @azure/identity was).
//
// The production import graph: every static import/export that is not type-only and every
// `import("...")` in src/, parsed with the TypeScript compiler. Each bare specifier's package
// must be in package.json's `dependencies`, and package-lock.json must not mark it dev-only.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import ts from "typescript";

const root = path.resolve(import.meta.dirname, "../../..");

/** The module specifiers `text` loads at runtime (type-only imports and exports left out). */
function runtimeSpecifiers(fileName: string, text: string): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.isTypeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg !== undefined && ts.isStringLiteralLike(arg)) out.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The npm package of a bare specifier ("@scope/name/sub" → "@scope/name"); undefined for relative and node: ones. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) return undefined;
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
  return builtinModules.includes(name) ? undefined : name;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

describe("runtime imports of src/ are production dependencies", () => {
  it("runtimeSpecifiers finds runtime imports and skips type-only ones", () => {
    const cases: Array<[string, string[]]> = [
      [`import a from "a";`, ["a"]],
      [`import type { B } from "b";`, []],
      [`import { type C } from "c";`, []],
      [`import { type D, d } from "d";`, ["d"]],
      [`import "e";`, ["e"]],
      [`export { f } from "f";`, ["f"]],
      [`export type { G } from "g";`, []],
      [`async function h() { await import("@h/i"); }`, ["@h/i"]],
      [`import * as j from "j/sub";`, ["j/sub"]],
    ];
    for (const [text, want] of cases) assert.deepEqual(runtimeSpecifiers("x.ts", text), want, text);
  });

  it("packageOf names the package of a bare specifier", () => {
    const cases: Array<[string, string | undefined]> = [
      ["mysql2/promise", "mysql2"],
      ["@azure/identity", "@azure/identity"],
      ["@aws-sdk/client-s3/dist", "@aws-sdk/client-s3"],
      ["node:fs", undefined],
      ["fs", undefined],
      ["./x.ts", undefined],
    ];
    for (const [s, want] of cases) assert.equal(packageOf(s), want, s);
  });

  it("every package src/ loads is in dependencies and not dev-only in the lock", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
    };
    const deps = new Set(Object.keys(pkg.dependencies ?? {}));
    const used = new Map<string, string>();
    for (const file of sourceFiles(path.join(root, "src"))) {
      for (const s of runtimeSpecifiers(file, fs.readFileSync(file, "utf8"))) {
        const name = packageOf(s);
        if (name !== undefined && !used.has(name)) used.set(name, path.relative(root, file));
      }
    }
    assert.ok(used.has("mysql2") && used.has("@azure/identity"), `the scan found too little: ${[...used.keys()].join(", ")}`);
    const problems: string[] = [];
    for (const [name, file] of used) {
      if (!deps.has(name)) problems.push(`${name} (imported by ${file}) is not in package.json dependencies`);
      const entry = lock.packages[`node_modules/${name}`];
      if (entry === undefined) problems.push(`${name} (imported by ${file}) is not in package-lock.json`);
      else if (entry.dev === true || entry.devOptional === true) problems.push(`${name} (imported by ${file}) is dev-only in package-lock.json`);
    }
    assert.deepEqual(problems, []);
  });
});

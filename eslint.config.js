// ESLint flat config: typescript-eslint's recommended rules over all TypeScript, and the
// dependency layers of README.md's "Layout" table (no-restricted-imports per folder).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// ---- layers -----------------------------------------------------------------------------
// Imports are relative, so a pattern matches "../" (once or more) followed by a folder name;
// the folder names below are unique in the tree, so the depth does not matter. For one file
// the last matching block wins (flat config replaces a rule's options), so each block repeats
// the patterns of the blocks it refines. test/unit/build/layers.test.ts checks every rule.
// src/util/ is not in SRC_FOLDERS: every layer may import it.

const UP = "^(?:\\.\\./)+";
const SRC_FOLDERS = ["agent", "api", "backup", "cli", "clustering", "controller", "http", "k8s", "metrics", "mysql", "shared"];

/** A pattern forbidding imports of the given folders (reached through "../"). */
function folders(names, message) {
  return { regex: `${UP}(?:${names.join("|")})/`, message };
}

/** src/<self>/ may import, of src/, only `allowed`. */
function onlyFromSrc(self, allowed, message) {
  return folders(SRC_FOLDERS.filter((f) => f !== self && !allowed.includes(f)), message);
}

/** Modules of src/clustering/ (imported as "./x.ts", or "../clustering/x.ts" from elsewhere). */
function engineModules(names, message) {
  return { regex: `^(?:\\./|${UP}clustering/)(?:${names.join("|")})\\.ts$`, message };
}

const SRC = [folders(["test", "sandbox", "chaos", "bench", "scripts"], "layers: src/ never imports test/, sandbox/, chaos/, bench/ or scripts/")];

const SRC_LAYERS = {
  util: [onlyFromSrc("util", [], "layers: src/util/ (neutral helpers every layer may use) imports nothing else of src/")],
  k8s: [onlyFromSrc("k8s", [], "layers: src/k8s/ is the generic Kubernetes layer and imports nothing else of src/")],
  mysql: [onlyFromSrc("mysql", [], "layers: src/mysql/ (SQL, GTID, my.cnf, users) imports nothing else of src/, no Kubernetes or controller code")],
  http: [onlyFromSrc("http", [], "layers: src/http/ imports nothing else of src/")],
  metrics: [onlyFromSrc("metrics", [], "layers: src/metrics/ imports nothing else of src/")],
  api: [onlyFromSrc("api", ["k8s"], "layers: src/api/ imports only src/k8s/")],
  shared: [onlyFromSrc("shared", ["api", "mysql"], "layers: src/shared/ (names, annotations and protocols shared by controller, agent and CLI) imports only src/api/ and src/mysql/")],
  clustering: [onlyFromSrc("clustering", ["mysql"], "layers: src/clustering/ depends only on its ports and src/mysql/")],
  agent: [onlyFromSrc("agent", ["api", "mysql", "http", "shared"], "layers: src/agent/ imports only src/api/, src/mysql/, src/http/ and src/shared/ (never controller internals)")],
  backup: [onlyFromSrc("backup", ["api", "mysql", "shared", "k8s"], "layers: src/backup/ imports only src/api/, src/mysql/, src/shared/ and src/k8s/ (never controller internals)")],
  cli: [onlyFromSrc("cli", ["api", "mysql", "shared", "k8s"], "layers: src/cli/ imports only src/api/, src/mysql/, src/shared/ and src/k8s/ (never controller internals)")],
  controller: [
    folders(["agent", "cli", "backup"], "layers: src/controller/ never imports src/agent/, src/cli/ or src/backup/ (shared code lives in src/shared/)"),
    { regex: `${UP}clustering/(?!(?:manager|ports|types|sql)\\.ts$)`, message: "layers: src/controller/ uses the clustering engine through manager.ts, ports.ts, types.ts and sql.ts only" },
  ],
};

// Inside src/clustering/: observe → decide → act, run by the manager; cluster.ts, instance.ts,
// sql.ts, ports.ts and types.ts are what every phase may use.
const ENGINE_PHASES = {
  "observe.ts": [engineModules(["decide", "act", "manager"], "layers: clustering observe imports neither decide, act nor the manager")],
  "decide.ts": [engineModules(["observe", "act", "manager", "instance", "sql"], "layers: clustering decide is pure: it imports neither observe, act, the manager nor the SQL modules")],
  "act.ts": [engineModules(["observe", "manager"], "layers: clustering act imports decide, never observe or the manager")],
};
const ENGINE_SHARED = [engineModules(["observe", "decide", "act", "manager"], "layers: the clustering engine's shared modules import no phase and not the manager")];

const TESTS_ONLY = "layers: sandbox/, chaos/, bench/, scripts/ and test/env/ never import test/unit, test/integration, test/e2e or test/node; shared set-up belongs in test/env/";
const OUTSIDE_TESTS = [
  { regex: `${UP}test/(?:unit|integration|e2e|node)/`, message: TESTS_ONLY },
  { regex: "^\\.\\./(?:unit|integration|e2e|node)/", message: TESTS_ONLY },
];
const TEST_ENV = [
  ...OUTSIDE_TESTS,
  folders(["sandbox", "chaos", "bench", "scripts"], "layers: test/env/ (the environment library) never imports sandbox/, chaos/, bench/ or scripts/"),
];

const restrict = (files, patterns) => ({ files, rules: { "no-restricted-imports": ["error", { patterns }] } });

const layers = [
  restrict(["src/**/*.ts"], SRC),
  ...Object.entries(SRC_LAYERS).map(([folder, patterns]) => restrict([`src/${folder}/**/*.ts`], [...SRC, ...patterns])),
  restrict(
    ["cluster.ts", "instance.ts", "sql.ts", "ports.ts", "types.ts"].map((f) => `src/clustering/${f}`),
    [...SRC, ...SRC_LAYERS.clustering, ...ENGINE_SHARED],
  ),
  ...Object.entries(ENGINE_PHASES).map(([file, patterns]) => restrict([`src/clustering/${file}`], [...SRC, ...SRC_LAYERS.clustering, ...patterns])),
  restrict(["sandbox/**/*.ts", "chaos/**/*.ts", "bench/**/*.ts", "scripts/**/*.ts"], OUTSIDE_TESTS),
  restrict(["test/env/**/*.ts"], TEST_ENV),
];

export default tseslint.config(
  { ignores: ["dist/", ".cache/", "node_modules/", "deploy/", "charts/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
  ...layers,
);

// The dependency layers of README.md's "Layout" table are enforced by eslint.config.js
// (no-restricted-imports per folder). This lints imports written as text, under file paths
// inside each layer, with the project's own config: every crossing import must be reported
// with its layer's message, and the allowed ones must not, so a rule that is dropped or
// loosened fails here, not silently in review.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { ESLint } from "eslint";

const root = path.resolve(import.meta.dirname, "../../..");
const eslint = new ESLint({ cwd: root });

/** The no-restricted-imports messages ESLint reports for `code` as the file `file`. */
async function layerMessages(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport const used = [x];\n`, { filePath: path.join(root, file) });
  assert.ok(result !== undefined, `no lint result for ${file}`);
  const fatal = result.messages.filter((m) => m.fatal === true);
  assert.deepEqual(fatal, [], `${file} did not parse`);
  return result.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

const K8S = "layers: src/k8s/ is the generic Kubernetes layer and imports nothing else of src/";
const MYSQL = "layers: src/mysql/ (SQL, GTID, my.cnf, users) imports nothing else of src/, no Kubernetes or controller code";
const CLI = "layers: src/cli/ imports only src/api/, src/mysql/, src/shared/ and src/k8s/ (never controller internals)";
const AGENT = "layers: src/agent/ imports only src/api/, src/mysql/, src/http/ and src/shared/ (never controller internals)";
const BACKUP = "layers: src/backup/ imports only src/api/, src/mysql/, src/shared/ and src/k8s/ (never controller internals)";
const CONTROLLER = "layers: src/controller/ never imports src/agent/, src/cli/ or src/backup/ (shared code lives in src/shared/)";
const CONTROLLER_ENGINE = "layers: src/controller/ uses the clustering engine through manager.ts, ports.ts, types.ts and sql.ts only";
const CLUSTERING = "layers: src/clustering/ depends only on its ports and src/mysql/";
const SHARED = "layers: src/shared/ (names, annotations and protocols shared by controller, agent and CLI) imports only src/api/ and src/mysql/";
const API = "layers: src/api/ imports only src/k8s/";
const UTIL = "layers: src/util/ (neutral helpers every layer may use) imports nothing else of src/";
const OBSERVE = "layers: clustering observe imports neither decide, act nor the manager";
const DECIDE = "layers: clustering decide is pure: it imports neither observe, act, the manager nor the SQL modules";
const ACT = "layers: clustering act imports decide, never observe or the manager";
const ENGINE_SHARED = "layers: the clustering engine's shared modules import no phase and not the manager";
const SRC = "layers: src/ never imports test/, sandbox/, chaos/, bench/ or scripts/";
const TESTS_ONLY =
  "layers: sandbox/, chaos/, bench/, scripts/ and test/env/ never import test/unit, test/integration, test/e2e or test/node; shared set-up belongs in test/env/";
const TEST_ENV = "layers: test/env/ (the environment library) never imports sandbox/, chaos/, bench/ or scripts/";

/** [file, import statement, the layer message it must be reported with]. */
const crossing: [string, string, string][] = [
  ["src/k8s/fieldsv1.ts", `import { x } from "../api/v1beta2/quantity.ts";`, K8S],
  ["src/util/quantity.ts", `import { x } from "../api/v1beta2/core-schemas.ts";`, UTIL],
  ["src/util/errors.ts", `import { x } from "../k8s/errors.ts";`, UTIL],
  ["src/k8s/client.ts", `import { x } from "../controller/main.ts";`, K8S],
  ["src/k8s/informer.ts", `import { x } from "../clustering/manager.ts";`, K8S],
  ["src/mysql/users.ts", `import { x } from "../k8s/client.ts";`, MYSQL],
  ["src/mysql/tls.ts", `import { x } from "../controller/builders/meta.ts";`, MYSQL],
  ["src/api/v1beta2/validation.ts", `import { x } from "../../controller/builders/meta.ts";`, API],
  ["src/shared/names.ts", `import { x } from "../controller/builders/meta.ts";`, SHARED],
  ["src/cli/commands.ts", `import { x } from "../controller/builders/meta.ts";`, CLI],
  ["src/cli/probe.ts", `import type { x } from "../controller/builders/statefulset.ts";`, CLI],
  ["src/cli/status.ts", `export { x } from "../agent/config.ts";`, CLI],
  ["src/agent/agent.ts", `import { x } from "../controller/password-rotation.ts";`, AGENT],
  ["src/backup/dump/load.ts", `import { x } from "../../controller/builders/index.ts";`, BACKUP],
  ["src/backup/kube.ts", `import { x } from "../agent/config.ts";`, BACKUP],
  ["src/controller/mysqlcluster.ts", `import { x } from "../agent/init-script.ts";`, CONTROLLER],
  ["src/controller/builders/statefulset.ts", `import { x } from "../../cli/format.ts";`, CONTROLLER],
  ["src/controller/clustering-adapter.ts", `import { x } from "../clustering/observe.ts";`, CONTROLLER_ENGINE],
  ["src/clustering/manager.ts", `import { x } from "../k8s/client.ts";`, CLUSTERING],
  ["src/clustering/sql.ts", `import { x } from "../api/v1beta2/index.ts";`, CLUSTERING],
  ["src/clustering/observe.ts", `import { x } from "./decide.ts";`, OBSERVE],
  ["src/clustering/observe.ts", `import { x } from "./act.ts";`, OBSERVE],
  ["src/clustering/decide.ts", `import { x } from "./act.ts";`, DECIDE],
  ["src/clustering/decide.ts", `import { x } from "./observe.ts";`, DECIDE],
  ["src/clustering/decide.ts", `import { x } from "./sql.ts";`, DECIDE],
  ["src/clustering/act.ts", `import { x } from "./observe.ts";`, ACT],
  ["src/clustering/act.ts", `import { x } from "./manager.ts";`, ACT],
  ["src/clustering/cluster.ts", `import { x } from "./decide.ts";`, ENGINE_SHARED],
  ["src/clustering/instance.ts", `import { x } from "./observe.ts";`, ENGINE_SHARED],
  ["src/controller/builders/meta.ts", `import { x } from "../../../test/env/kube.ts";`, SRC],
  ["src/agent/main.ts", `import { x } from "../../sandbox/main.ts";`, SRC],
  ["src/http/server.ts", `export * from "../../chaos/rng.ts"; const x = 1;`, SRC],
  ["bench/controller-scale.ts", `import { x } from "../test/integration/controller/harness.ts";`, TESTS_ONLY],
  ["sandbox/realnode/node.ts", `import { x } from "../../test/e2e/harness.ts";`, TESTS_ONLY],
  ["chaos/main.ts", `import { x } from "../test/unit/cli/fake.ts";`, TESTS_ONLY],
  ["scripts/gen-crds.ts", `import { x } from "../test/node/chaos.test.ts";`, TESTS_ONLY],
  ["test/env/kube.ts", `import { x } from "../integration/api/harness.ts";`, TESTS_ONLY],
  ["test/env/pki.ts", `import { x } from "../../sandbox/main.ts";`, TEST_ENV],
];

/** [file, import statement] that the layers allow. */
const allowed: [string, string][] = [
  ["src/k8s/fieldsv1.ts", `import { x } from "../util/quantity.ts";`],
  ["src/api/v1beta2/validation.ts", `import { x } from "../../util/quantity.ts";`],
  ["src/mysql/mycnf.ts", `import { x } from "../util/quantity.ts";`],
  ["src/clustering/observe.ts", `import { x } from "../util/duration.ts";`],
  ["src/cli/commands.ts", `import { x } from "../shared/names.ts";`],
  ["src/cli/probe.ts", `import { x } from "../mysql/tls.ts";`],
  ["src/cli/api.ts", `import { x } from "../k8s/client.ts";`],
  ["src/backup/kube.ts", `import { x } from "../k8s/client.ts";`],
  ["src/agent/clone-server.ts", `import { x } from "../shared/clone-api.ts";`],
  ["src/controller/mysqlcluster.ts", `import { x } from "../shared/init-script.ts";`],
  ["src/controller/main.ts", `import { x } from "../clustering/manager.ts";`],
  ["src/controller/password-rotator.ts", `import { x } from "../clustering/sql.ts";`],
  ["src/clustering/act.ts", `import { x } from "./decide.ts";`],
  ["src/clustering/observe.ts", `import { x } from "./instance.ts";`],
  ["src/clustering/decide.ts", `import { x } from "./cluster.ts";`],
  ["src/clustering/manager.ts", `import { x } from "./observe.ts";`],
  ["src/clustering/ports.ts", `import { x } from "../mysql/users.ts";`],
  ["src/shared/rotation-request.ts", `import { x } from "../mysql/users.ts";`],
  ["sandbox/realnode/node.ts", `import { x } from "../../test/env/kube.ts";`],
  ["bench/controller-scale.ts", `import { x } from "../test/env/controller-harness.ts";`],
  ["chaos/main.ts", `import { x } from "../sandbox/realnode/node.ts";`],
  ["test/env/controller-harness.ts", `import { x } from "../../src/controller/main.ts";`],
];

describe("dependency layers (eslint.config.js)", () => {
  for (const [file, code, message] of crossing) {
    it(`reports ${file}: ${code}`, async () => {
      const messages = await layerMessages(file, code);
      assert.equal(messages.length, 1, `expected one layer error, got ${JSON.stringify(messages)}`);
      assert.ok(messages[0]?.endsWith(message), `expected the message to end with ${JSON.stringify(message)}, got ${JSON.stringify(messages[0])}`);
    });
  }
  for (const [file, code] of allowed) {
    it(`allows ${file}: ${code}`, async () => {
      assert.deepEqual(await layerMessages(file, code), []);
    });
  }
});

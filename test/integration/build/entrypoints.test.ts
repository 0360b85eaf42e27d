// The built output (what the moco-ts image ships) compiles, and every entry point in
// it starts and answers --help.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { buildDist } from "../../env/procs.ts";

const entryPoints: [string, string, RegExp][] = [
  ["moco-controller", "src/controller/main.js", /--check-interval/],
  ["moco-agent", "src/agent/main.js", /--max-delay/],
  ["moco-backup", "src/backup/main.js", /backup|restore/],
  ["kubectl-moco", "src/cli/kubectl-moco.js", /switchover/],
];

describe("built entry points", () => {
  let outDir = "";
  before(() => {
    // The built files resolve node_modules from the repository, as in the image's /app.
    outDir = buildDist();
  });
  after(() => { fs.rmSync(outDir, { recursive: true, force: true }); });

  for (const [name, file, usage] of entryPoints) {
    it(`${name} (${file}) answers --help`, async () => {
      const js = path.join(outDir, file);
      assert.ok(fs.existsSync(js), `${file} was built`);
      const out = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, [js, "--help"], { timeout: 60_000, env: { ...process.env, POD_NAMESPACE: "moco-system" } }, (err, stdout, stderr) => {
          if (err) reject(new Error(`${name} --help failed: ${err.message}\n${stderr}`));
          else resolve(stdout + stderr);
        });
      });
      assert.match(out, /usage/i);
      assert.match(out, usage);
    });
  }
});

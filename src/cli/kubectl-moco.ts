#!/usr/bin/env node
// Entry point of the `kubectl-moco` executable (`kubectl moco …`): see docs/cli.md. No
// top-level await: scripts/build-kubectl-moco.sh bundles this file as CommonJS for the single
// executable.
import { runCli } from "./program.ts";

void runCli(process.argv.slice(2)).then((code) => { process.exitCode = code; });

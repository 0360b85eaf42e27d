#!/usr/bin/env node
// Entry point of the `kubectl-moco` executable (`kubectl moco …`): see docs/cli.md.
import { runCli } from "./program.ts";

process.exitCode = await runCli(process.argv.slice(2));

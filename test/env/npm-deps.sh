#!/usr/bin/env bash
# Installs the npm packages (including the Node 24 binary, npm package node@24) with `npm ci`
# when node_modules does not match package-lock.json. The match is by content: the lock's
# sha256 is stamped into node_modules after the install (a modification time would differ
# between checkouts of the same lock, e.g. git worktrees sharing one node_modules).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
stamp=node_modules/.moco-ts-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -x node_modules/.bin/node && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then exit 0; fi
echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"

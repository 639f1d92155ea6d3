#!/usr/bin/env bash
# Installs the pages' front-end assets (the state design system, npm @gouvfr/dsfr, pinned by
# web/package-lock.json) into web/node_modules, where the provider serves them from
# (`static_dir`). Does nothing when web/node_modules is newer than the lock file.
set -euo pipefail
cd "$(dirname "$0")/../web"

# npm writes node_modules/.package-lock.json at each install: its age is the install's.
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is needed to install the design system (web/package-lock.json)" >&2
  exit 1
fi
echo "assets: npm ci in web/"
npm ci --no-audit --no-fund
touch "$stamp"

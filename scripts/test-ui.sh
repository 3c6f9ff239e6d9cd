#!/usr/bin/env bash
# Lints and type-checks the admin UI, then runs its browser tests: a real rivetqd with
# in-memory storage and Debian's Chromium driven by playwright-core (tests in ui/tests/).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build-ui.sh
cd ui
echo "test-ui: eslint"
npx --no-install eslint --max-warnings=0 .
echo "test-ui: tsc --noEmit"
npx --no-install tsc --noEmit
echo "test-ui: browser tests"
# One file at a time: each starts a server and a browser, and the machine has 2 cores.
node --test --test-concurrency=1 tests/*.test.mjs

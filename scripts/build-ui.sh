#!/usr/bin/env bash
# Builds the admin UI (ui/, Next.js static export) into src/rivetq/server/ui_static/, which
# rivetqd serves at /ui/. A no-op when neither the UI sources nor the lockfile changed.
set -euo pipefail
cd "$(dirname "$0")/.."

UI=ui
DEST=src/rivetq/server/ui_static
export NEXT_TELEMETRY_DISABLED=1

command -v npm >/dev/null || { echo "build-ui: npm not found (install nodejs >= 20.9 and npm)" >&2; exit 1; }

hash_files() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# What the build reads: sources, config, manifest and lockfile (not tests, not outputs).
source_hash() {
  local files
  mapfile -t files < <(find "$UI" \( -path "$UI/node_modules" -o -path "$UI/.next" -o -path "$UI/out" -o -path "$UI/tests" \) -prune \
    -o -type f ! -name '*.tsbuildinfo' ! -name 'next-env.d.ts' -print | LC_ALL=C sort)
  hash_files "${files[@]}"
}

lock_hash="$(hash_files "$UI/package-lock.json")"
if [ "$(cat "$UI/node_modules/.rivetq-lock-hash" 2>/dev/null)" != "$lock_hash" ]; then
  echo "build-ui: installing node modules (npm ci)"
  (cd "$UI" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" > "$UI/node_modules/.rivetq-lock-hash"
fi

want="$(source_hash)"
if [ -f "$DEST/index.html" ] && [ "$(cat "$DEST/.build-hash" 2>/dev/null)" = "$want" ]; then
  echo "build-ui: up to date"
  exit 0
fi

echo "build-ui: next build"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
(cd "$UI" && npx --no-install next build >"$log" 2>&1) || { cat "$log" >&2; exit 1; }
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
cp -r "$UI/out" "$DEST"
echo "$want" > "$DEST/.build-hash"
echo "build-ui: copied $UI/out to $DEST"

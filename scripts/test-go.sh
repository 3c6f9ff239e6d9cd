#!/usr/bin/env bash
# Tests the Go SDK (clients/go) against a real rivetqd: starts one on a free loopback
# port (the embedded engine in a temp data dir, so backups run; a random bearer token;
# a fast lease reaper), then runs gofmt, go vet, a build of the examples (the seed's
# example must compile unchanged) and go test. The server is stopped on exit, whatever
# happens.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
rivetqd="${RIVETQD:-$root/.venv/bin/rivetqd}"

# Standard library only: no module downloads, and the local Go even if go.mod asked
# for another. The caches live in the git-ignored test-artifacts/ so reruns are fast.
export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off GOSUMDB=off
export GOPATH="$root/test-artifacts/go/path" GOCACHE="$root/test-artifacts/go/cache"

go_minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [ "$go_minor" -lt 19 ]; then
  echo "test-go: Go >= 1.19 is required, found $(go env GOVERSION)" >&2
  exit 1
fi

workdir="$(mktemp -d)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap stop_server EXIT

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="$("$python" -c 'import secrets; print(secrets.token_hex(16))')"
url="http://127.0.0.1:$port"

# Started in $workdir so that no ./config.yaml of the caller applies.
(cd "$workdir" && RIVETQ_AUTH_TOKENS="$token" RIVETQ_QUEUE_LEASE_CHECK_INTERVAL=50ms \
  exec "$rivetqd" --http-addr "127.0.0.1:$port" --grpc-addr "" \
  --data-dir "$workdir/data" >"$workdir/rivetqd.log" 2>&1) &
server_pid=$!

for _ in $(seq 150); do
  if curl -fsS -o /dev/null "$url/readyz" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "test-go: rivetqd exited during startup:" >&2
    cat "$workdir/rivetqd.log" >&2
    exit 1
  fi
  sleep 0.1
done
if ! curl -fsS -o /dev/null "$url/readyz"; then
  echo "test-go: rivetqd not ready after 15 s:" >&2
  cat "$workdir/rivetqd.log" >&2
  exit 1
fi

cd "$root/clients/go"
# examples/seed is the seed README's example verbatim (its spacing is not gofmt's).
unformatted="$(gofmt -l $(find . -name '*.go' -not -path './examples/seed/*'))"
if [ -n "$unformatted" ]; then
  echo "test-go: not gofmt-formatted: $unformatted" >&2
  exit 1
fi
go vet ./...
go build ./examples/... # several packages: built, then discarded
RIVETQ_URL="$url" RIVETQ_TEST_TOKEN="$token" go test -count=1 -timeout 120s ${GO_TEST_FLAGS:-} ./... || {
  echo "test-go: rivetqd log:" >&2
  tail -n 50 "$workdir/rivetqd.log" >&2
  exit 1
}

#!/usr/bin/env bash
# rivetqd --workers 1 and --workers 2 beside PostgreSQL SKIP LOCKED, beanstalkd -b -f0 and Redis
# appendfsync always (fsync on for every durable system), through the peer harness, at each
# concurrency given (producers = consumers; default 8 and 64). Needs the harness's venv
# (../shared/bench/peers/README.md, "Setup"). Results: the harness's tables on stdout.
#
#   bash bench/peers_workers.sh            # 8/8 and 64/64
#   bash bench/peers_workers.sh 64         # 64/64 only
set -euo pipefail
cd "$(dirname "$0")/.."
peers=../shared/bench/peers
python=${PEERS_PYTHON:-/tmp/peers-venv/bin/python}
common=(--jobs 20000 --paced-fraction 0 --fixed-rate 0)

run_rivetq() {  # $1 workers, $2 concurrency
  local dir port pid
  dir=$(mktemp -d)
  port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/rivetqd --workers "$1" --http-addr "127.0.0.1:$port" --grpc-addr "" --data-dir "$dir/data" >"$dir/log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
  echo "## RivetQ --workers $1, $2 producers / $2 consumers (wal.fsync: true)"
  "$python" "$peers/run.py" --systems rivetq --rivetq-url "http://127.0.0.1:$port" --concurrency "$2" "${common[@]}"
  kill -TERM "$pid"
  wait "$pid"
  rm -rf "$dir"
}

[ $# -gt 0 ] || set -- 8 64
for concurrency in "$@"; do
  run_rivetq 1 "$concurrency"
  run_rivetq 2 "$concurrency"
  echo "## peers, $concurrency producers / $concurrency consumers"
  "$python" "$peers/run.py" --systems postgres,beanstalkd,redis --beanstalkd-modes fsync --redis-fsync always \
    --concurrency "$concurrency" "${common[@]}"
done

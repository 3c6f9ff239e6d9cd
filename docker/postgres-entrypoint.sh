#!/bin/sh
# Creates the cluster with the rivetq role and database on first start (the Unix socket,
# inside the container only, trusts local users; TCP needs the password), then runs
# postgres as PID 1 (SIGINT from `docker stop` is a fast, clean shutdown).
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf 'rivetq\n' > /tmp/pwfile
  initdb -D "$PGDATA" -U rivetq --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm /tmp/pwfile
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  createdb -h /var/run/postgresql -U rivetq rivetq
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -p "$PGPORT"

#!/bin/sh
# Writes Prometheus's configuration for the compose file's RivetQ nodes (their HTTP ports
# come from the environment, as in docker-compose.yml), then runs Prometheus as PID 1.
set -eu
cat > /prometheus/prometheus.yml <<CONFIG
global:
  scrape_interval: ${SCRAPE_INTERVAL:-15s}
scrape_configs:
  - job_name: rivetq
    static_configs:
      - targets:
          - 127.0.0.1:${RIVETQ_HTTP_PORT:-8080}
          - 127.0.0.1:${RIVETQ_NODE1_HTTP_PORT:-8081}
          - 127.0.0.1:${RIVETQ_NODE2_HTTP_PORT:-8082}
CONFIG
exec /usr/bin/prometheus --config.file=/prometheus/prometheus.yml --storage.tsdb.path=/prometheus \
  --web.listen-address="127.0.0.1:${PROMETHEUS_PORT:-9095}"

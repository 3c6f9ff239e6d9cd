# Prometheus from Debian for the compose file's `prometheus` profile: it scrapes every
# RivetQ node of docker-compose.yml (nodes that are not running show as down).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus && chown nobody:nogroup /prometheus
COPY docker/prometheus-entrypoint.sh /usr/local/bin/prometheus-entrypoint.sh
USER nobody
VOLUME /prometheus
ENTRYPOINT ["/usr/local/bin/prometheus-entrypoint.sh"]

#!/usr/bin/env bash
# Builds the RivetQ image rivetq:<version> (also tagged rivetq:latest) from the wheelhouse
# in dist/wheelhouse (`make docker` makes it first). The base image comes from
# scripts/docker-base.sh when no registry can provide it.
set -euo pipefail
cd "$(dirname "$0")/.."

wheel="$(ls dist/rivetq-*.whl 2>/dev/null | head -1)"
[ -n "$wheel" ] && [ -d dist/wheelhouse ] || { echo "docker-build: no dist/wheelhouse (run make wheelhouse)" >&2; exit 1; }
version="$(basename "$wheel" | cut -d- -f2)"

bash scripts/docker-base.sh
# The classic builder: it is in every Docker engine, BuildKit needs the buildx plugin.
DOCKER_BUILDKIT=0 docker build -q --network host -f docker/Dockerfile -t "rivetq:$version" -t rivetq:latest . >/dev/null
echo "docker-build: rivetq:$version"

#!/usr/bin/env bash
# Gives the local Docker daemon the base image the Dockerfile starts from
# (debian:bookworm-slim) when no image registry is reachable: a minimal Debian made with
# debootstrap and loaded with `docker import`. The root file system is cached as a tarball
# ($RIVETQ_BASE_CACHE) so that the next run, CI's included, skips debootstrap.
# A no-op when the daemon already has the image.
set -euo pipefail

image="${BASE_IMAGE:-debian:bookworm-slim}"
cache="${RIVETQ_BASE_CACHE:-/var/cache/rivetq/debian-bookworm-minbase.tar}"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "docker-base: $image present"
  exit 0
fi

if [ ! -s "$cache" ]; then
  command -v debootstrap >/dev/null || { echo "docker-base: debootstrap not found (apt-get install debootstrap)" >&2; exit 1; }
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  echo "docker-base: debootstrap --variant=minbase bookworm (a few minutes)"
  # $DEBIAN_MIRROR, when set, replaces debootstrap's default mirror.
  debootstrap --variant=minbase bookworm "$root" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >"$root.log" 2>&1 \
    || { tail -30 "$root.log" >&2; exit 1; }
  rm -f "$root.log"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  mkdir -p "$(dirname "$cache")"
  tar -C "$root" -cf "$cache.tmp" .
  mv "$cache.tmp" "$cache"
fi

docker import "$cache" "$image" >/dev/null
echo "docker-base: imported $cache as $image"

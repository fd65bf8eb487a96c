#!/usr/bin/env bash
# deploy/image.sh — build the tenantdesk image (`make image`).
#
# Engine: docker when its engine answers, else podman (ENGINE=docker|podman forces one). Base
# images are made sure of first (deploy/base-images.sh: present → used; else pulled; else, as root
# without a registry, Debian stand-ins). Podman builds in docker format (HEALTHCHECK is not part of
# the OCI image format and podman would drop it).
#
# Environment: IMAGE (default tenantdesk:latest), ENGINE, BUILD_TIMEOUT (s, default 1800),
#   SKIP_BASE_IMAGES=1, and deploy/base-images.sh's variables.
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$here/lib.sh"
cd "$here/.."

IMAGE=${IMAGE:-tenantdesk:latest}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}

pick_engine
export ENGINE
work=$(mktemp -d "${TMPDIR:-/tmp}/tenantdesk-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
podman_conf "$work"

if [ "${SKIP_BASE_IMAGES:-0}" != 1 ]; then
  bash "$here/base-images.sh"
fi

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
opts=()
[ "$ENGINE" = podman ] && opts=(--format docker --pull=missing)

log "building $IMAGE with $ENGINE (version $version)"
start=$SECONDS
timeout "$BUILD_TIMEOUT" "$ENGINE" build "${opts[@]}" \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$IMAGE" .
log "built $IMAGE in $((SECONDS - start)) s: $("$ENGINE" image inspect -f '{{.Size}}' "$IMAGE" |
  awk '{ printf "%.1f MB", $1 / 1e6 }')"

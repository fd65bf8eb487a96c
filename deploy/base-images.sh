#!/usr/bin/env bash
# deploy/base-images.sh — make sure the base images the Dockerfile's FROM lines name exist locally.
#
# For each image: present locally → nothing to do; else try to pull it (the real image, whenever a
# registry answers); else build a *stand-in* from Debian with debootstrap, tagged exactly as the
# FROM line spells it, so that `podman build` / `docker build` can run without a registry.
# Runs once: the next call finds the images and returns at once.
#
# Stand-ins (machines without registry access, like the CI VMs):
#   docker.io/library/debian:bookworm-slim  debootstrap --variant=minbase bookworm, slimmed the way
#                                           the official image is (no docs/man/locales, no apt lists)
#   docker.io/library/golang:1.26-bookworm  that + gcc, libc6-dev, make, git, ca-certificates, curl
#                                           + this machine's Go (go env GOROOT, must be go1.26.x)
# The host's extra CA certificates (/usr/local/share/ca-certificates/*.crt, e.g. a TLS-intercepting
# proxy's) go into the golang stand-in's system trust store, so `go mod download`
# and `npm ci` in the build stage work here; the Dockerfile itself needs nothing special. The
# runtime (debian) stand-in does not get them: they would end up in the final image.
# Stand-ins carry the label org.tenantdesk.stand-in=true (the final image inherits it from debian).
#
# Needs root and debootstrap for the stand-ins (Debian: apt-get install debootstrap).
# Environment: ENGINE (docker|podman; default: autodetect), DOCKERFILE (default ./Dockerfile),
#   NO_PULL=1 (skip the pull attempt), PULL_TIMEOUT (s, default 120),
#   DEBIAN_MIRROR (default http://deb.debian.org/debian), STANDIN_GOROOT (default: go env GOROOT).
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$here/lib.sh"
cd "$here/.."

DOCKERFILE=${DOCKERFILE:-Dockerfile}
PULL_TIMEOUT=${PULL_TIMEOUT:-120}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
SLIM=docker.io/library/debian:bookworm-slim
GOLANG=docker.io/library/golang:1.26-bookworm
GO_SERIES=go1.26

pick_engine
work=$(mktemp -d "${TMPDIR:-/var/tmp}/tenantdesk-base.XXXXXX")
cleanup() {
  # debootstrap mounts /proc, /sys (and in containers /dev) inside the rootfs; a killed run can
  # leave them mounted: unmount before deleting, and never delete across a mount point.
  local m
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
podman_conf "$work"

standin() {  # image → which recipe, or empty
  case "$1" in
    "$SLIM") echo slim ;;
    "$GOLANG") echo golang ;;
  esac
}

missing=()
while read -r ref; do
  [ -n "$ref" ] || continue
  img=$(qualify "$ref")
  if image_exists "$img"; then
    log "base image $img: present"
    continue
  fi
  if [ "${NO_PULL:-0}" != 1 ]; then
    log "base image $img: pulling (timeout ${PULL_TIMEOUT}s)"
    if timeout "$PULL_TIMEOUT" "$ENGINE" pull -q "$img" >/dev/null 2>"$work/pull.err"; then
      log "base image $img: pulled from the registry"
      continue
    fi
    log "base image $img: pull failed: $(tail -n1 "$work/pull.err")"
  fi
  [ -n "$(standin "$img")" ] || die "no registry and no stand-in recipe for $img (FROM in $DOCKERFILE)"
  missing+=("$img")
done < <(base_images "$DOCKERFILE")

[ "${#missing[@]}" -gt 0 ] || exit 0

# --- stand-ins ----------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "creating stand-in base images needs root (debootstrap)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap missing (apt-get install debootstrap)"
need_golang=0
for img in "${missing[@]}"; do [ "$img" = "$GOLANG" ] && need_golang=1; done

if [ "$need_golang" = 1 ]; then
  goroot=${STANDIN_GOROOT:-$(go env GOROOT 2>/dev/null || echo /usr/local/go)}
  [ -x "$goroot/bin/go" ] || die "no Go for the golang stand-in (set STANDIN_GOROOT)"
  gover=$("$goroot/bin/go" env GOVERSION)
  case "$gover" in
    "$GO_SERIES" | "$GO_SERIES".*) ;;
    *) die "the golang stand-in is $GOLANG but $goroot is $gover" ;;
  esac
fi

if ! image_exists "$SLIM"; then
  rootfs=$work/rootfs
  log "stand-in $SLIM: debootstrap --variant=minbase $SUITE from $DEBIAN_MIRROR"
  start=$SECONDS
  if ! timeout 1200 debootstrap --variant=minbase "$SUITE" "$rootfs" "$DEBIAN_MIRROR" \
       >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  fi
  log "stand-in $SLIM: debootstrap took $((SECONDS - start)) s"

  # Slim it the way the official image is made (debuerreotype --slimify), for this install and for
  # every package installed into it later.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian,man}/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'APT::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  # The official image's sources: the release, its updates and security (deb822).
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/ldconfig/aux-cache \
         "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/etc/hostname "$rootfs"/etc/resolv.conf
  mkdir -p "$rootfs/var/lib/apt/lists/partial"

  log "stand-in $SLIM: importing ($(du -sh "$rootfs" | cut -f1))"
  tar --numeric-owner --xattrs -C "$rootfs" -c . |
    timeout 600 "$ENGINE" import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      --change 'LABEL org.tenantdesk.stand-in=true' \
      --change "LABEL org.tenantdesk.stand-in.for=$SLIM" \
      - "$SLIM" >/dev/null
  rm -rf --one-file-system "$rootfs"
  log "stand-in $SLIM: done"
fi

if [ "$need_golang" = 1 ]; then
  ctx=$work/golang-context
  mkdir -p "$ctx/ca"
  [ -d /usr/local/share/ca-certificates ] && cp -r /usr/local/share/ca-certificates/. "$ctx/ca/"
  log "stand-in $GOLANG: $gover from $goroot, $(find "$ctx/ca" -name '*.crt' | wc -l) extra CA certificate(s)"
  # Hard links when /usr/local/go and the work dir share a file system; a copy otherwise.
  cp -al "$goroot" "$ctx/go" 2>/dev/null || cp -a "$goroot" "$ctx/go"
  cp "$here/golang-standin.Containerfile" "$ctx/Containerfile"
  start=$SECONDS
  opts=(); [ "$ENGINE" = podman ] && opts=(--format docker --pull=never)
  timeout 1200 "$ENGINE" build "${opts[@]}" \
    --build-arg "BASE=$SLIM" --build-arg "GOLANG_VERSION=${gover#go}" \
    --label org.tenantdesk.stand-in=true --label "org.tenantdesk.stand-in.for=$GOLANG" \
    -t "$GOLANG" -f "$ctx/Containerfile" "$ctx"
  log "stand-in $GOLANG: done in $((SECONDS - start)) s"
fi

"$ENGINE" images --filter label=org.tenantdesk.stand-in=true >&2

# shellcheck shell=bash
# Shared helpers for the deploy/ scripts. Source it; it defines functions only.

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pick_engine sets ENGINE to the container engine to use, unless ENGINE is already set:
# a docker CLI whose engine answers, else podman. (A docker CLI alone, without a running
# daemon, does not count.)
pick_engine() {
  if [ -n "${ENGINE:-}" ]; then
    command -v "$ENGINE" >/dev/null 2>&1 || die "ENGINE=$ENGINE is not installed"
    return
  fi
  if command -v docker >/dev/null 2>&1 && timeout 15 docker info >/dev/null 2>&1; then
    ENGINE=docker
  elif command -v podman >/dev/null 2>&1; then
    ENGINE=podman
  else
    die "neither a working docker engine nor podman found (Debian: apt-get install podman runc)"
  fi
}

# podman_conf points podman at a private containers.conf, unless CONTAINERS_CONF is already set:
#  - default_ulimits at the limits this process already has: podman otherwise asks for
#    nofile=1048576 and a high nproc, which some machines (and unprivileged CI VMs) refuse;
#  - runtime runc when it is installed (crun fails on some cgroup setups; runc works everywhere
#    podman does).
# The file is written under $1 (a directory the caller removes).
podman_conf() {
  [ "$ENGINE" = podman ] || return 0
  [ -z "${CONTAINERS_CONF:-}" ] || { log "using CONTAINERS_CONF=$CONTAINERS_CONF"; return 0; }
  local dir=$1 nofile nproc
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
  nproc=$(ulimit -Hu);  [ "$nproc" = unlimited ] && nproc=32768
  [ "$nproc" -gt 32768 ] && nproc=32768
  {
    echo '[containers]'
    echo "default_ulimits = [\"nofile=${nofile}:${nofile}\", \"nproc=${nproc}:${nproc}\"]"
    if command -v runc >/dev/null 2>&1; then
      echo '[engine]'
      echo 'runtime = "runc"'
    fi
  } >"$dir/containers.conf"
  export CONTAINERS_CONF="$dir/containers.conf"
}

# qualify prints an image reference the way podman stores it (docker.io/library/...).
qualify() {
  local ref=$1 first=${1%%/*}
  if [ "$ref" = "$first" ]; then
    echo "docker.io/library/$ref"
  elif [[ "$first" == *.* || "$first" == *:* || "$first" == localhost ]]; then
    echo "$ref"
  else
    echo "docker.io/$ref"
  fi
}

# base_images prints the external images the Dockerfile's FROM lines name (not its own stages).
base_images() {
  awk '
    toupper($1) == "FROM" {
      img = ""; for (i = 2; i <= NF; i++) if ($i !~ /^--/) { img = $i; break }
      for (j = i + 1; j < NF; j++) if (toupper($j) == "AS") stage[tolower($(j + 1))] = 1
      if (img != "" && !(tolower(img) in stage)) print img
    }' "$1" | sort -u
}

image_exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

#!/usr/bin/env bash
# deploy/image-test.sh — build the image and test it as a container (`make image-test`).
#
#  1. deploy/image.sh: base images (real, or Debian stand-ins without a registry), then the build.
#  2. Runs the image on a free 127.0.0.1 port with a fresh named volume, waits for /healthz and
#     runs the image's own HEALTHCHECK.
#  3. Walks the main flow with curl: register an organization, onboard an agent (initial password
#     from id="agent-initial-password"), agent login + new password, a customer opens a ticket,
#     the agent engages, both write, the agent closes, the customer rates.
#  4. Checks the server runs as a non-root user, stops the container (SIGTERM must end it cleanly),
#     removes it, starts a new container on the same volume — hardened as compose.yaml runs it:
#     read-only root, tmpfs /tmp, no capabilities, no-new-privileges — and finds everything
#     again: the organization, the closed and rated ticket, the messages, and both logins.
#  5. Removes the container and the volume, also on failure or interrupt.
# Every step is bounded: engine calls by timeout(1), HTTP calls by curl --max-time.
#
# Environment: IMAGE (default tenantdesk:latest), ENGINE (docker|podman), SKIP_BUILD=1 (test an
#   existing IMAGE), KEEP=1 (leave the container and volume for inspection), HEALTH_TIMEOUT (s, 60).
set -Eeuo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$here/lib.sh"
cd "$here/.."

IMAGE=${IMAGE:-tenantdesk:latest}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}
NAME=tenantdesk-image-test-$$
VOLUME=tenantdesk-image-test-$$
ORG=acme

pick_engine
export ENGINE IMAGE
work=$(mktemp -d "${TMPDIR:-/tmp}/tenantdesk-image-test.XXXXXX")
podman_conf "$work"
started=$SECONDS
container_made=0
volume_made=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ] && [ "$container_made" = 1 ]; then
    log "FAILED (exit $rc); last container logs:"
    timeout 30 "$ENGINE" logs --tail 40 "$NAME" >&2 2>&1 || true
    if [ "$rc" -eq 1 ] && [ -s "$work/body" ]; then
      log "last response body (head):"; head -c 1500 "$work/body" >&2; echo >&2
    fi
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    log "KEEP=1: container $NAME and volume $VOLUME left in place"
  else
    [ "$container_made" = 1 ] && { timeout 60 "$ENGINE" rm -f -t 5 "$NAME" >/dev/null 2>&1 || true; }
    [ "$volume_made" = 1 ] && { timeout 60 "$ENGINE" volume rm -f "$VOLUME" >/dev/null 2>&1 || true; }
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

eng() { timeout 120 "$ENGINE" "$@"; }

# --- build ----------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash "$here/image.sh"
fi
log "build phase done after $((SECONDS - started)) s"

# --- image metadata -------------------------------------------------------------------------------
user=$(eng image inspect -f '{{.Config.User}}' "$IMAGE")
case "${user%%:*}" in "" | 0 | root) die "image USER is '$user' (must be a non-root user)" ;; esac
if [ "$ENGINE" = podman ]; then hc_field=.HealthCheck; else hc_field=.Config.Healthcheck; fi
health=$(eng image inspect -f "{{json $hc_field}}" "$IMAGE" 2>/dev/null || true)
case "$health" in *healthcheck*) ;; *) die "image has no HEALTHCHECK (podman needs --format docker): $health" ;; esac
log "image $IMAGE: user $user, healthcheck $health"

# The binary is built with the toolchain go.mod names (its patched standard library), not with
# whichever Go the build image carries.
want_go=$(sed -n 's/^toolchain //p' go.mod)
if [ -n "$want_go" ]; then
  cid=$(eng create "$IMAGE")
  if ! eng cp "$cid:/usr/local/bin/tenantdesk" "$work/tenantdesk.bin"; then
    eng rm "$cid" >/dev/null || true
    die "could not copy the binary out of $IMAGE"
  fi
  eng rm "$cid" >/dev/null
  got_go=$(go version "$work/tenantdesk.bin" | awk '{print $2}')
  [ "$got_go" = "$want_go" ] || die "the image's binary was built with $got_go; go.mod names $want_go"
  log "image binary built with $got_go"
fi

# --- container ------------------------------------------------------------------------------------
eng volume create "$VOLUME" >/dev/null
volume_made=1
port=

# start_container [run options…]: run the image, wait for /healthz, run its HEALTHCHECK.
start_container() {
  container_made=1
  # 127.0.0.1::8080 — the engine picks a free loopback port.
  eng run -d --name "$NAME" -p 127.0.0.1::8080 -v "$VOLUME:/data" "$@" "$IMAGE" >/dev/null 2>"$work/run.err" ||
    { cat "$work/run.err" >&2; die "$ENGINE run failed"; }
  port=$(eng port "$NAME" 8080/tcp | head -n1 | sed 's/.*://')
  [[ "$port" =~ ^[0-9]+$ ]] || die "no host port for 8080/tcp (got '$port')"
  BASE=http://127.0.0.1:$port
  local t0=$SECONDS
  until curl -fsS --max-time 2 -o /dev/null "$BASE/healthz" 2>/dev/null; do
    [ "$(eng inspect -f '{{.State.Running}}' "$NAME")" = true ] || die "container exited before serving"
    [ $((SECONDS - t0)) -lt "$HEALTH_TIMEOUT" ] || die "/healthz did not answer 200 within ${HEALTH_TIMEOUT}s"
    sleep 0.3
  done
  log "container $NAME serving on $BASE (/healthz after $((SECONDS - t0)) s)"
  # The image's own HEALTHCHECK command, run by the engine inside the container.
  if [ "$ENGINE" = podman ]; then
    eng healthcheck run "$NAME" >/dev/null 2>&1 || die "podman healthcheck run: unhealthy"
  else
    local s=
    for _ in $(seq 1 $((HEALTH_TIMEOUT * 2))); do
      s=$(eng inspect -f '{{.State.Health.Status}}' "$NAME")
      [ "$s" = healthy ] && break
      sleep 0.5
    done
    [ "$s" = healthy ] || die "docker health status: $s"
  fi
  log "HEALTHCHECK: healthy"
}

# --- HTTP helpers ---------------------------------------------------------------------------------
# req JAR METHOD PATH [curl args…]: the response body goes to $work/body, the headers to
# $work/headers; prints the status code. Never follows redirects.
req() {
  local jar=$work/$1.jar method=$2 path=$3
  shift 3
  curl -sS --max-time 20 -X "$method" -b "$jar" -c "$jar" -D "$work/headers" -o "$work/body" \
    -w '%{http_code}' "$@" "$BASE$path"
}
location() { sed -n 's/^[Ll]ocation: *\([^[:space:]]*\).*/\1/p' "$work/headers" | tail -n1; }
csrf() { sed -n 's/.*name="_csrf" value="\([^"]*\)".*/\1/p' "$work/body" | head -n1; }

# get JAR PATH [WANT]: GET, expect WANT (200).
get() {
  local code
  code=$(req "$1" GET "$2")
  [ "$code" = "${3:-200}" ] || die "GET $2 answered $code (want ${3:-200})"
}

# post JAR PATH WANT_STATUS field=value…: fetches nothing; uses $TOKEN as _csrf.
post() {
  local jar=$1 path=$2 want=$3 code
  shift 3
  local args=(--data-urlencode "_csrf=$TOKEN")
  for kv in "$@"; do args+=(--data-urlencode "$kv"); done
  code=$(req "$jar" POST "$path" "${args[@]}")
  [ "$code" = "$want" ] || die "POST $path answered $code (want $want)"
}

# form JAR PAGE: GET PAGE and take its CSRF token.
form() {
  get "$1" "$2"
  TOKEN=$(csrf)
  [ -n "$TOKEN" ] || die "no _csrf input on $2"
}

expect_body() {  # expect_body REGEX WHAT
  grep -Eq -- "$1" "$work/body" || die "response lacks $2 (/$1/)"
}

expect_location() {  # expect_location REGEX
  local loc
  loc=$(location)
  [[ "$loc" =~ $1 ]] || die "redirect to '$loc' (want $1)"
}

# --- first container: the main flow ---------------------------------------------------------------
start_container
t_flow=$SECONDS
ORG_EMAIL=owner@acme.example
ORG_PW='org-Passw0rd-1'
AGENT_EMAIL=agent@acme.example
AGENT_PW='agent-Passw0rd-2'
AGENT_MSG='Hello from the agent, inside the container'
CUSTOMER_MSG='Thanks, customer here; the restart must keep this'

form org /register
post org /register 303 "name=Acme Corp" "website=https://acme.example" "username=$ORG" \
  "email=$ORG_EMAIL" "password=$ORG_PW" "password_repeat=$ORG_PW"
expect_location '^/dash$'
log "registered organization $ORG"

form org /dash
post org /agents 200 "full_name=Ada Agent" "email=$AGENT_EMAIL"
initial_pw=$(sed -n 's/.*id="agent-initial-password"[^>]*>\([^<]*\)<.*/\1/p' "$work/body" | head -n1)
[ -n "$initial_pw" ] || die 'no id="agent-initial-password" in the answer to POST /agents'
log "onboarded agent $AGENT_EMAIL"

form agent "/agent/$ORG/login"
post agent "/agent/$ORG/login" 303 "email=$AGENT_EMAIL" "password=$initial_pw"
expect_location "^/agent/$ORG/password\$"
form agent "/agent/$ORG/password"
post agent "/agent/$ORG/password" 303 "password=$AGENT_PW" "password_repeat=$AGENT_PW"
expect_location "^/agent/$ORG/dash\$"
log "agent logged in and set its password"

form customer "/$ORG/open-ticket"
post customer "/$ORG/open-ticket" 303 "customer_name=Carl Customer" \
  "customer_email=carl@customer.example" "query=My order never arrived"
ticket_url=$(location)
[[ "$ticket_url" =~ ^/customer/$ORG/t/[A-Za-z0-9_-]{22,}$ ]] || die "ticket URL '$ticket_url'"
log "customer opened a ticket"

form agent "/agent/$ORG/dash"
engage=$(grep -Eo "/agent/$ORG/tickets/[0-9]+/engage" "$work/body" | head -n1)
[ -n "$engage" ] || die "no waiting ticket to engage on the agent dashboard"
ticket_id=$(echo "$engage" | grep -Eo '[0-9]+' | head -n1)
post agent "$engage" 303
talk_url=$(location)
[[ "$talk_url" =~ ^/agent/$ORG/talk/[0-9]+$ ]] || die "engage redirected to '$talk_url'"
log "agent engaged ticket $ticket_id"

form agent "$talk_url"
post agent "$talk_url/messages" 303 "message=$AGENT_MSG"

form customer "$ticket_url"
expect_body "$AGENT_MSG" "the agent's message on the customer's page"
post customer "$ticket_url/messages" 303 "message=$CUSTOMER_MSG"

# The message poll: both messages, with their senders.
get customer "$ticket_url/messages?after=0"
expect_body 'data-sender="agent"' "the agent's message in the poll"
expect_body 'data-sender="customer"' "the customer's message in the poll"

form agent "$talk_url"
expect_body "$CUSTOMER_MSG" "the customer's message on the agent's page"
post agent "/agent/$ORG/tickets/$ticket_id/close" 303
log "messages exchanged, ticket closed"

form customer "$ticket_url"
expect_body 'id="rating-form"' "the rating form once the ticket is closed"
post customer "$ticket_url/rating" 303 "rating=5"
get customer "$ticket_url"
expect_body 'id="rated"' "the rating on the customer's page"

get org /dash
expect_body 'id="tickets-closed"' "the closed ticket on the dashboard"
expect_body 'data-rating="5"' "the rating on the dashboard"
log "customer rated 5/5; main flow done in $((SECONDS - t_flow)) s"

# --- non-root -------------------------------------------------------------------------------------
uid=$(eng exec "$NAME" id -u)
[ "$uid" != 0 ] || die "exec in the container runs as root"
pid=$(eng inspect -f '{{.State.Pid}}' "$NAME")
proc_uid=$(awk '/^Uid:/ { print $2 " " $3 }' "/proc/$pid/status" 2>/dev/null || true)
case "$proc_uid" in
  "") log "(cannot read /proc/$pid/status here; relying on exec id -u = $uid)" ;;
  "0 "* | *" 0") die "the server process (pid $pid) runs as uid $proc_uid" ;;
esac
data_owner=$(eng exec "$NAME" stat -c %u /data)
[ "$data_owner" = "$uid" ] || die "/data is owned by $data_owner, the server runs as $uid"
log "non-root: exec uid $uid, server process uid ${proc_uid:-?} (real effective), /data owner $data_owner"

# check_logs: no panic and no error-level line in the server's log.
check_logs() {
  if eng logs "$NAME" 2>&1 | grep -Eq 'panic|level=ERROR'; then
    eng logs "$NAME" 2>&1 | grep -E 'panic|level=ERROR' | head -n 5 >&2
    die "errors in the container log"
  fi
}
check_logs

# --- stop, new container, same volume -------------------------------------------------------------
t_stop=$SECONDS
# (podman without systemd logs that it cannot remove the healthcheck timer: $work/engine.err)
eng stop -t 30 "$NAME" >/dev/null 2>>"$work/engine.err" || { cat "$work/engine.err" >&2; die "$ENGINE stop failed"; }
exit_code=$(eng inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$exit_code" = 0 ] || die "the server exited with $exit_code on SIGTERM (want 0: graceful shutdown)"
eng logs "$NAME" 2>&1 | grep -q 'shutting down' || die "no 'shutting down' in the logs after SIGTERM"
log "stopped gracefully in $((SECONDS - t_stop)) s (exit 0)"
eng rm "$NAME" >/dev/null 2>>"$work/engine.err" || { cat "$work/engine.err" >&2; die "$ENGINE rm failed"; }
container_made=0

# The second container runs hardened the way compose.yaml runs it.
start_container --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges
get anon /
expect_body "/$ORG/open-ticket" "the organization on the home page after the restart"

form org2 /login
post org2 /login 303 "email=$ORG_EMAIL" "password=$ORG_PW"
expect_location '^/dash$'
get org2 /dash
expect_body "id=\"ticket-$ticket_id\"" "ticket $ticket_id on the dashboard after the restart"
expect_body 'data-rating="5"' "the rating on the dashboard after the restart"

form agent2 "/agent/$ORG/login"
post agent2 "/agent/$ORG/login" 303 "email=$AGENT_EMAIL" "password=$AGENT_PW"
expect_location "^/agent/$ORG/dash\$"

get customer "$ticket_url"
expect_body "$CUSTOMER_MSG" "the customer's message after the restart"
expect_body 'id="rated"' "the rating on the customer's page after the restart"
log "after the restart on the same volume: organization, ticket, rating, messages and logins are there"

check_logs
size=$(timeout 30 "$ENGINE" image inspect --format '{{.Size}}' "$IMAGE" 2>/dev/null || echo 0)
log "image-test OK in $((SECONDS - started)) s (image $IMAGE, $ENGINE, $((size / 1048576)) MiB)"

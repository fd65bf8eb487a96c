#!/usr/bin/env bash
# govulncheck without the internet (vuln.go.dev may not resolve where this runs):
#
#   1. the Go vulnerability database ships as the module golang.org/x/vulndb (its data/osv/*.json),
#      fetched through the module proxy at a pinned version;
#   2. its indexdb command turns that into a database govulncheck reads with -db file://DIR, cached
#      under .cache/vulndb/<version>/ (ignored by git) so that it is built once;
#   3. govulncheck (pinned) scans every package with the build tags the project builds with.
#
# It fails (exit 3) when a vulnerability is reachable from our code; vulnerabilities only in
# modules or packages we do not call are listed by `-show verbose` but do not fail the check.
# Refresh the database by bumping VULNDB_VERSION (`go list -m golang.org/x/vulndb@latest`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

GO=${GO:-go}
TAGS=${TAGS:-libsqlite3}
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
# Whole run bounded (cold: ~1.5 min to build indexdb and the index, ~30 s to scan).
TIMEOUT=${VULNCHECK_TIMEOUT:-15m}

db="$root/.cache/vulndb/$VULNDB_VERSION"
if [ ! -d "$db/index" ]; then
  echo "vulncheck: building the vulnerability database $VULNDB_VERSION into ${db#$root/}"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # Outside this module, so that neither go.mod nor go.sum is touched.
  dir=$(cd "$work" && GOFLAGS=-mod=mod timeout "$TIMEOUT" "$GO" mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  if [ ! -d "$dir/data/osv" ]; then
    echo "vulncheck: golang.org/x/vulndb@$VULNDB_VERSION has no data/osv (got '$dir')" >&2
    exit 1
  fi
  (cd "$work" && GOFLAGS=-mod=mod timeout "$TIMEOUT" "$GO" run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" \
    -vulns "$dir/data/osv" -out "$work/db")
  mkdir -p "$(dirname "$db")"
  rm -rf "$db.tmp" && mv "$work/db" "$db.tmp" && mv "$db.tmp" "$db"
fi

echo "vulncheck: govulncheck $GOVULNCHECK_VERSION, database $VULNDB_VERSION, $("$GO" version)"
timeout "$TIMEOUT" "$GO" run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" -db "file://$db" -tags "$TAGS" ./...

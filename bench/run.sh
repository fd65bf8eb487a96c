#!/usr/bin/env bash
# The benchmark suite without make: builds bin/tenantdesk and runs bench/ (see bench/main.go
# for the BENCH_* variables). Writes BENCHMARKS.md in the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1
go build -tags libsqlite3 -trimpath -ldflags "-s -w" -o bin/tenantdesk .
exec go run -tags libsqlite3 ./bench -bin bin/tenantdesk -out BENCHMARKS.md "$@"

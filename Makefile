# tenantdesk — build, test and run.
#
#   make deps     check (and, as root on Debian/Ubuntu, install) the system packages the build needs
#   make assets   npm ci (when needed) and vendor htmx into assets/vendor/
#   make build    bin/tenantdesk
#   make run      build, then ./bin/tenantdesk serve   (env vars pass through; ARGS="..." appends)
#   make test     go vet + govulncheck + go test -race (RACE= disables the race detector)
#   make vulncheck  govulncheck on a pinned, locally built vulnerability database (scripts/vulncheck.sh)
#   make screenshots  the main pages in Chromium at phone and desktop widths → docs/screenshots/
#   make bench    Go benchmarks + HTTP load on the real binary (10,000 tenants) → BENCHMARKS.md
#   make fmt | vet | clean | distclean
#   make image       container image $(IMAGE) with docker or podman (deploy/image.sh)
#   make image-test  build it, run it on a loopback port with a volume, walk the main flow, restart,
#                    check again (deploy/image-test.sh; as root without a registry it first makes
#                    Debian stand-ins of the base images: deploy/base-images.sh)
#
# Every go command carries -tags $(TAGS): with it, mattn/go-sqlite3 (session storage) compiles no
# SQLite of its own and links against the one inside go-libsql. Without the tag the link fails with
# hundreds of "multiple definition of sqlite3_*" errors.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

GO      ?= go
NPM     ?= npm
TAGS    := libsqlite3
RACE    ?= -race
BIN     := bin/tenantdesk
ARGS    ?=

# The minimum Go release, as go.mod states it (used only in the install hint).
GO_VERSION := $(shell sed -n 's/^go \([0-9][0-9.]*\).*/\1/p' go.mod 2>/dev/null)

# A Go installed the official way but not yet on PATH still gets found.
ifneq ($(wildcard /usr/local/go/bin/go),)
export PATH := $(PATH):/usr/local/go/bin
endif

# cgo is required (go-libsql, mattn/go-sqlite3, -race).
export CGO_ENABLED := 1

# go-libsql leaves an empty BLOB's dangling pointer where the GC checks pointers, which aborts
# the process (sql/sqlite/godebug.go): the binary re-executes itself with this; tests and
# benchmarks get it here.
export GODEBUG ?= invalidptr=0

# go.mod names the patched Go toolchain (`toolchain` line): exactly that one is used, fetched
# through the module proxy once, whatever Go the machine has (its go.env may say local, and a
# newer Go may refuse to link go-libsql; see go.mod). GOTOOLCHAIN set in the environment wins.
GOTOOLCHAIN ?= $(or $(shell sed -n 's/^toolchain //p' go.mod),auto)
export GOTOOLCHAIN

# npm ci leaves node_modules/.package-lock.json behind; it is our "node_modules is current" stamp.
NODE_STAMP   := node_modules/.package-lock.json
HTMX_SRC     := node_modules/htmx.org/dist/htmx.min.js
HTMX_VENDOR  := assets/vendor/htmx.min.js
VENDOR_FILES := $(HTMX_VENDOR)

.PHONY: all deps assets build run test vet vulncheck fmt clean distclean image image-test screenshots bench

all: build

# ---------------------------------------------------------------------------------------------
# deps: gcc + libc headers, sqlite3.h (libsqlite3-dev), node + npm, go.
# Missing packages are installed with apt-get when running as root; otherwise we stop and print
# the exact command to run.
deps:
	@if ! command -v $(GO) >/dev/null 2>&1; then \
	  echo "deps: '$(GO)' not found on PATH." >&2; \
	  echo "      Install Go $(or $(GO_VERSION),1.26) (or newer 1.26.x), e.g. on linux/amd64:" >&2; \
	  echo "        curl -fsSL https://go.dev/dl/go$(or $(GO_VERSION),1.26.8).linux-amd64.tar.gz | sudo tar -C /usr/local -xz" >&2; \
	  echo "        export PATH=\$$PATH:/usr/local/go/bin" >&2; \
	  echo "      (linux-arm64 for ARM machines; see https://go.dev/doc/install)" >&2; \
	  exit 1; \
	fi
	@missing=""; \
	command -v gcc >/dev/null 2>&1           || missing="$$missing gcc"; \
	[ -e /usr/include/stdio.h ]              || missing="$$missing libc6-dev"; \
	[ -e /usr/include/sqlite3.h ]            || missing="$$missing libsqlite3-dev"; \
	command -v node >/dev/null 2>&1          || missing="$$missing nodejs"; \
	command -v $(NPM) >/dev/null 2>&1        || missing="$$missing npm"; \
	if [ -z "$$missing" ]; then \
	  echo "deps: ok (go, gcc, libc6-dev, libsqlite3-dev, node, npm)"; \
	  exit 0; \
	fi; \
	echo "deps: missing:$$missing"; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "deps: no apt-get here; install the equivalents of:$$missing" >&2; \
	  exit 1; \
	fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "deps: not root; run this, then make again:" >&2; \
	  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing" >&2; \
	  exit 1; \
	fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update && apt-get install -y --no-install-recommends $$missing

# ---------------------------------------------------------------------------------------------
# assets: only redone when package.json / package-lock.json change (or the files are missing).
assets: $(VENDOR_FILES)

# Order-only on deps: npm must exist, but deps (phony) must not force a re-install.
$(NODE_STAMP): package-lock.json package.json | deps
	$(NPM) ci --no-audit --no-fund
	@touch $@

# Plain cp (no -p): the copy is newer than the stamp, so it is not redone on the next run.
$(HTMX_VENDOR): $(NODE_STAMP)
	@test -f $(HTMX_SRC) || { echo "$(HTMX_SRC) missing after npm ci; is htmx.org in package.json?" >&2; exit 1; }
	@mkdir -p $(@D)
	cp $(HTMX_SRC) $@

# ---------------------------------------------------------------------------------------------
build: deps assets
	@mkdir -p $(dir $(BIN))
	CGO_ENABLED=1 $(GO) build -tags $(TAGS) -trimpath -ldflags "-s -w" -o $(BIN) .

run: build
	./$(BIN) serve $(ARGS)

test: deps assets
	$(GO) vet -tags $(TAGS) ./...
	GO=$(GO) TAGS=$(TAGS) bash scripts/vulncheck.sh
	$(GO) test -tags $(TAGS) $(RACE) -count=1 -timeout 20m ./...

# No vulnerability reachable from our code (stdlib included), offline: see scripts/vulncheck.sh.
vulncheck:
	GO=$(GO) TAGS=$(TAGS) bash scripts/vulncheck.sh

# Screenshots of the main pages at phone and desktop widths (light and dark), taken by the e2e
# test with Debian's chromium against the real binary; committed under docs/screenshots/.
# They use Inter when it is installed (Debian: fonts-inter), as the stylesheet asks.
SCREENSHOTS ?= docs/screenshots
screenshots: deps assets
	@command -v chromium >/dev/null 2>&1 || { echo "screenshots: chromium missing (apt-get install chromium)" >&2; exit 1; }
	@fc-list 2>/dev/null | grep -q 'Inter' || echo "screenshots: font Inter not installed (apt-get install fonts-inter); the fallback font is used"
	SCREENSHOTS=$(abspath $(SCREENSHOTS)) $(GO) test -tags $(TAGS) -count=1 -run '^TestScreenshots$$' -v ./e2e

# Benchmarks (never part of make test): the Go benchmarks of the store and render paths, then
# HTTP load against bin/tenantdesk on seeded data, each figure beside a plain Fiber static
# handler measured in the same run (bench/). Writes BENCHMARKS.md; takes about 10 minutes.
# BENCH_TENANTS (10000), BENCH_DURATION (10s), BENCH_CONNS (64), BENCH_MAX_OPEN (256), BENCH_GO=0.
bench: build
	$(GO) run -tags $(TAGS) ./bench -bin $(BIN) -out BENCHMARKS.md

vet: deps assets
	$(GO) vet -tags $(TAGS) ./...

# gofmt takes no build tags (it formats every file regardless).
fmt:
	gofmt -l -w $$(git ls-files --cached --others --exclude-standard '*.go')

clean:
	rm -rf bin assets/vendor

distclean: clean
	rm -rf node_modules

# ---------------------------------------------------------------------------------------------
# Container image. ENGINE=docker|podman forces an engine (default: a docker whose engine answers,
# else podman). The binary is built inside the image (Go and npm on the host are not used; only
# the golang stand-in, when one has to be made, copies the host's Go).
IMAGE ?= tenantdesk:latest

image:
	IMAGE='$(IMAGE)' bash deploy/image.sh

image-test:
	IMAGE='$(IMAGE)' bash deploy/image-test.sh

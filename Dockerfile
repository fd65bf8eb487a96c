# tenantdesk container image.
#
#   make image                      (docker or podman, whichever works; see deploy/image.sh)
#   docker build -t tenantdesk .    (podman: podman build --format docker -t tenantdesk .)
#   docker run -d -p 8080:8080 -v tenantdesk-data:/data tenantdesk
#
# Both FROM images are Debian bookworm (glibc): go-libsql ships static libraries for glibc only,
# there is no musl/Alpine build. Without a registry, deploy/base-images.sh makes local stand-ins
# tagged exactly as these FROM lines are spelled.

# ---------------------------------------------------------------------------------------------
# Build stage: the same `make build` as on a developer machine (cgo, -tags libsqlite3, htmx from
# the pinned npm package).
FROM golang:1.26-bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive

# gcc, libc6-dev and make come with the golang image; nodejs/npm fetch the pinned htmx,
# libsqlite3-dev gives sqlite3.h and libsqlite3.so for -tags libsqlite3.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Go modules in their own layer: redone only when go.mod/go.sum change. The toolchain go.mod
# names (the patched standard library; newer Go releases refuse to link go-libsql) comes into
# this layer too: the image's own Go only starts the build, as on a developer machine.
COPY go.mod go.sum ./
RUN export GOTOOLCHAIN="$(sed -n 's/^toolchain //p' go.mod)" \
 && go version \
 && go mod download

# npm packages in their own layer: redone only when package*.json change. npm ci leaves
# node_modules/.package-lock.json, which the Makefile takes as "node_modules is current".
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

# The source (.dockerignore keeps out tests, data, node_modules, bin, assets/vendor), then the
# build: `make build` checks the tools, copies htmx into assets/vendor/ and runs
# CGO_ENABLED=1 go build -tags libsqlite3 -trimpath -ldflags "-s -w" -o bin/tenantdesk .
COPY . .
RUN env -u GOTOOLCHAIN make build \
 && go version -m bin/tenantdesk | head -1

# ---------------------------------------------------------------------------------------------
# Runtime stage: glibc, the binary, a non-root user and the /data volume.
FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive

# libsqlite3-0: the binary is linked with -lsqlite3 (-tags libsqlite3; `readelf -d` lists
# libsqlite3.so.0) even though the SQLite inside go-libsql does the work. ca-certificates: for
# outgoing TLS (remote tenant backends). tzdata: the IANA time zones that organizations' business
# hours are kept in (Go reads /usr/share/zoneinfo; the binary embeds no copy). bookworm-slim
# already has it; naming it keeps it whatever the base image counts as required.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libsqlite3-0 tzdata \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/* \
 && groupadd --system --gid 10001 tenantdesk \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin tenantdesk \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0750 /data

COPY --from=build /src/bin/tenantdesk /usr/local/bin/tenantdesk
# Fails the build (not the first start) if a shared library is missing.
RUN ["/usr/local/bin/tenantdesk", "--help"]

ENV DATA_DIR=/data \
    PORT=8080

# /data is owned by the tenantdesk user before VOLUME: a new named volume starts with that owner.
VOLUME /data
WORKDIR /data
EXPOSE 8080

USER 10001:10001

# SIGTERM: readiness turns 503, in-flight requests finish (at most 20 s), every database closes.
# Give `docker stop` more than its default 10 s: `docker stop -t 30` / compose stop_grace_period.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/tenantdesk", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/tenantdesk"]
CMD ["serve"]

# Last, so that new values do not invalidate the layers above.
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="tenantdesk" \
      org.opencontainers.image.description="Multitenant helpdesk: one Go binary (Fiber, html templates, htmx, libSQL)" \
      org.opencontainers.image.url="https://github.com/tenantdesk/tenantdesk" \
      org.opencontainers.image.source="https://github.com/tenantdesk/tenantdesk" \
      org.opencontainers.image.documentation="https://github.com/tenantdesk/tenantdesk#docker" \
      org.opencontainers.image.licenses="NOASSERTION" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

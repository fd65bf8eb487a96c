# syntax=docker/dockerfile:1
#
# tenantdesk container image.
#   docker build -t tenantdesk .            (or: podman build --format docker -t tenantdesk .)
#   docker run -p 8080:8080 -v tenantdesk-data:/data tenantdesk
#
# Build stage: Debian-based Go (go-libsql ships glibc static libs only; no Alpine/musl build).

FROM golang:1.26-bookworm AS build

# nodejs/npm for the vendored front-end assets; libsqlite3-dev for sqlite3.h (-tags libsqlite3).
# gcc, libc6-dev and make already come with the golang image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Go modules: own layer, redone only when go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download

# npm packages: own layer, redone only when package*.json change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Source, then the same build as `make build` (its deps check is a no-op here, and npm ci is not
# repeated because node_modules is newer than package-lock.json).
COPY . .
RUN make build

# ---------------------------------------------------------------------------------------------
# Runtime stage: the binary needs glibc only (no libsqlite3 at run time with -tags libsqlite3).
FROM debian:bookworm-slim

ARG VERSION=dev
ARG REVISION=unknown
ARG LICENSE=NOASSERTION

LABEL org.opencontainers.image.title="tenantdesk" \
      org.opencontainers.image.description="Multitenant helpdesk: one Go binary (Fiber, html templates, htmx, libSQL)" \
      org.opencontainers.image.source="https://github.com/tenantdesk/tenantdesk" \
      org.opencontainers.image.licenses="${LICENSE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tenantdesk \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin tenantdesk \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0750 /data

COPY --from=build /src/bin/tenantdesk /usr/local/bin/tenantdesk

ENV DATA_DIR=/data \
    PORT=8080

# Ownership of /data is set above, before VOLUME (changes after VOLUME would be discarded).
VOLUME /data
WORKDIR /data
EXPOSE 8080

USER 10001:10001

STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/tenantdesk", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/tenantdesk"]
CMD ["serve"]

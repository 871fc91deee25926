# syntax=docker/dockerfile:1
#
# Container image of `app-ecs` (the axum server of iot-playground) with the web UI at /.
#
#   docker build -t iot-playground/app-ecs .
#   docker run --rm -p 8080:8080 iot-playground/app-ecs            # in-memory store
#   docker run --rm -p 8080:8080 -e DATABASE_URL=postgres://… iot-playground/app-ecs
#
# The binary is linked statically against musl, so the final stage is distroless `static`: no
# shell, no libc, no package manager, runs as uid 65532 (`nonroot`). The build compiles for the
# platform the image is built for (linux/amd64 by default; `--platform linux/arm64` for Graviton
# builds natively under emulation or on an arm64 builder).
#
# Health: the image has no shell or HTTP client, so the binary probes itself
# (`app-ecs --health-check`: GET /health on its own port, exit 0 on 200). On ECS the ALB target
# group checks `GET /health` as well.

# --- web UI (web/: plain ES modules, `npm run build` copies them and vendors uPlot into dist/) ---
# Platform-independent output: built on the build machine even for an arm64 image.
FROM --platform=$BUILDPLATFORM node:24-bookworm-slim AS web

WORKDIR /web
COPY web/package.json web/package-lock.json ./
# Runtime dependencies only (uPlot); no install scripts run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY web/ ./
RUN npm run build

# The UI served by app-ecs talks to its own origin. The serverless toggle and the Grafana link are
# for the CDN deployment, whose config.json Terraform writes (deploy/modules/cdn); override with
# --build-arg UI_CONFIG='{"backends":{"ecs":"","serverless":"https://…"},"grafanaUrl":"https://…"}'.
ARG UI_CONFIG='{"backends":{"ecs":"","serverless":null},"grafanaUrl":null}'
RUN printf '%s\n' "${UI_CONFIG}" > dist/config.json \
 && node -e 'JSON.parse(require("fs").readFileSync("dist/config.json", "utf8"))'

# --- app-ecs -------------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder

# musl-gcc, in case a dependency compiles C (ring, aws-lc); pinned to bookworm's only version.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
 && rm -rf /var/lib/apt/lists/*

ARG TARGETARCH=amd64
WORKDIR /src

# The Rust target for the image's architecture, recorded for the next steps.
RUN case "${TARGETARCH}" in \
      amd64) echo x86_64-unknown-linux-musl > /rust-target ;; \
      arm64) echo aarch64-unknown-linux-musl > /rust-target ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
 && rustup target add "$(cat /rust-target)"

COPY . .

# Cache mounts keep the registry and target/ between builds (BuildKit); the binary is copied out
# of the cached target/ in the same step. --locked: Cargo.lock is the single source of versions.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p app-ecs --target "$(cat /rust-target)" \
 && mkdir -p /out \
 && cp "target/$(cat /rust-target)/release/app-ecs" /out/app-ecs

# --- runtime -------------------------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="iot-playground app-ecs" \
      org.opencontainers.image.description="IoT simulation API (axum) on PostgreSQL with Prometheus metrics at /metrics" \
      org.opencontainers.image.licenses="Apache-2.0"

WORKDIR /app
COPY --from=builder --chown=0:0 --chmod=0555 /out/app-ecs /app/app-ecs
COPY --from=web --chown=0:0 /web/dist /app/web

# Defaults for a container; every one can be overridden (see README "Configuration").
ENV BIND_ADDRESS=0.0.0.0 \
    PORT=8080 \
    LOG_FORMAT=json \
    WEB_DIR=/app/web

# distroless `nonroot` (65532:65532); numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
# On SIGTERM app-ecs keeps serving for SHUTDOWN_DRAIN_SECS (30 s) while the load balancer
# deregisters it, then finishes in-flight requests (SHUTDOWN_TIMEOUT_SECS, 20 s); keep the ECS
# stopTimeout above their sum.
STOPSIGNAL SIGTERM

HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/app/app-ecs", "--health-check"]
ENTRYPOINT ["/app/app-ecs"]

# syntax=docker/dockerfile:1
#
# TicketClub server image.
#   docker build -t ticketclub .
#   docker run --rm -p 3000:3000 --ulimit nofile=1048576:1048576 ticketclub
# Needs BuildKit (the default builder since Docker 23; buildx in CI). README "Deploying" has more.

# ---- build ------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /build

# Dependencies only: this layer is rebuilt only when Cargo.toml or Cargo.lock change. Stub
# sources stand in for ours; the stub's own artifacts are then deleted so that the build below
# compiles the real crate (COPY keeps the files' mtimes, which may be older than the stub's).
# The workspace also needs the load generator's manifest (stubbed: it is not built here) and the
# patched engineioxide that [patch.crates-io] points to (vendor/engineioxide/PATCHES.md).
COPY Cargo.toml Cargo.lock ./
COPY benches/loadgen/Cargo.toml ./benches/loadgen/
COPY vendor ./vendor
RUN mkdir -p src benches/loadgen/src benches/loadgen/benches \
    && printf '//! Dependency-cache stub.\n' > src/lib.rs \
    && printf '//! Dependency-cache stub.\nfn main() {}\n' > src/main.rs \
    && printf '//! Dependency-cache stub.\nfn main() {}\n' > benches/loadgen/src/main.rs \
    && printf '//! Dependency-cache stub.\nfn main() {}\n' > benches/loadgen/benches/waiting_room.rs \
    && cargo build --release --locked --bin ticketclub \
    && rm -rf src target/release/ticketclub target/release/ticketclub.d \
        target/release/deps/ticketclub-* target/release/deps/libticketclub-* \
        target/release/.fingerprint/ticketclub-*

# The sources. sql/ and assets/ are compiled in (include_str!/include_bytes!), so they come first.
COPY sql ./sql
COPY assets ./assets
COPY client-demo ./client-demo
COPY src ./src
RUN cargo build --release --locked --bin ticketclub \
    && install -D -m 0755 target/release/ticketclub /out/ticketclub

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# busybox (about 0.8 MB, libc only) gives the health check an HTTP client (`busybox wget`) without
# curl's dozen libraries; ca-certificates for TLS to managed databases and caches.
# Versions are not pinned: bookworm's archive keeps only the current security release of each.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends busybox ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ticketclub \
    && useradd --system --uid 10001 --gid ticketclub --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin ticketclub \
    && mkdir -p /data \
    && chown ticketclub:ticketclub /data \
    && chmod 0750 /data

COPY --from=build /out/ticketclub /usr/local/bin/ticketclub

# The binary embeds the migrations and pictures; these copies are for operators (inspection,
# manual migrations, serving the demo client from a CDN). Owned by root, read-only to the app.
WORKDIR /opt/ticketclub
COPY sql ./sql
COPY assets ./assets
COPY client-demo ./client-demo

LABEL org.opencontainers.image.title="ticketclub" \
      org.opencontainers.image.description="Fair virtual waiting room and live seat map (Socket.IO compatible)" \
      org.opencontainers.image.licenses="MIT"

# Every setting can be overridden with `docker run -e` / `--env-file` (README, Configuration).
ENV TICKETCLUB_ADDR=0.0.0.0:3000 \
    DATABASE_URL=sqlite:/data/ticketclub.db \
    TICKETCLUB_LOG_FORMAT=json \
    RUST_LOG=info

VOLUME ["/data"]
EXPOSE 3000
# Numeric, so that runtimes checking for a non-root user (runAsNonRoot) can tell.
USER 10001:10001

# The server drains on SIGTERM: it disconnects sockets (clients reconnect to another instance) and
# waits up to TICKETCLUB_SHUTDOWN_GRACE seconds; stop with `docker stop --time 30`.
STOPSIGNAL SIGTERM

# Liveness on the port of TICKETCLUB_ADDR (whatever follows its last colon; the shell expands it
# when the probe runs, so an --env-file override counts). Docker's --timeout bounds the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/bin/sh", "-c", "busybox wget -q -O /dev/null \"http://127.0.0.1:${TICKETCLUB_ADDR##*:}/healthz\" || exit 1"]

ENTRYPOINT ["/usr/local/bin/ticketclub"]

# syntax=docker/dockerfile:1
# Two images from one build: `--target server` (tickertalk) and `--target bot` (tickertalk-bot).
#   docker build --target server -t tickertalk-server .
#   docker build --target bot -t tickertalk-bot .

FROM rust:1-bookworm AS build
WORKDIR /src
# sqlx's query macros use the committed .sqlx/ data instead of a live database.
ENV SQLX_OFFLINE=true
# The whole workspace: the server embeds web/ and migrations/ at compile time.
COPY . .
# Cache mounts keep the registry and target/ between builds; the binaries are copied out of the
# cached target/ because it is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace \
    && mkdir -p /out \
    && cp target/release/tickertalk target/release/tickertalk-bot /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin tickertalk
USER tickertalk
WORKDIR /tmp

FROM runtime AS bot
# The contract's default quote source; override with QUOTE_URL.
ENV QUOTE_URL="https://stooq.com/q/l/?s={symbol}&f=sd2t2ohlcv&h&e=csv"
COPY --from=build /out/tickertalk-bot /usr/local/bin/tickertalk-bot
CMD ["tickertalk-bot"]

# Last, so that a plain `docker build .` gives the server.
FROM runtime AS server
ENV LISTEN_ADDR=0.0.0.0:8080
COPY --from=build /out/tickertalk /usr/local/bin/tickertalk
EXPOSE 8080
CMD ["tickertalk"]

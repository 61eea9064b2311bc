# syntax=docker/dockerfile:1
# The console and the Kaltura API emulator in one image: `multi-account serve` (the default) or
# `multi-account emulator`. See README.md, "Docker".

FROM rust:1.95-bookworm AS build
WORKDIR /src

# Dependencies first, with stand-in sources for the workspace's three crates, so editing the project does not
# rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY crates/kaltura/Cargo.toml crates/kaltura/
COPY crates/kaltura-emulator/Cargo.toml crates/kaltura-emulator/
RUN mkdir -p src crates/kaltura/src crates/kaltura-emulator/src \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > crates/kaltura-emulator/src/main.rs \
    && touch src/lib.rs crates/kaltura/src/lib.rs crates/kaltura-emulator/src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src crates/kaltura/src crates/kaltura-emulator/src

# What the build reads: askama compiles templates/, sqlx::migrate! embeds migrations/, static/ and the emulator's
# schema.sql are include_bytes!/include_str!-ed.
COPY crates ./crates
COPY src ./src
COPY templates ./templates
COPY migrations ./migrations
COPY static ./static
# The stand-ins' build stamps are newer than the real sources' checkout times: make cargo rebuild the crates.
RUN touch src/main.rs src/lib.rs crates/kaltura/src/lib.rs crates/kaltura-emulator/src/lib.rs \
        crates/kaltura-emulator/src/main.rs \
    && cargo build --release --locked \
    && install -m 0755 target/release/multi-account /usr/local/bin/multi-account

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin multi-account \
    && mkdir /data \
    && chown multi-account:multi-account /data
COPY --from=build /usr/local/bin/multi-account /usr/local/bin/multi-account

# SQLite lives on the volume (the console's database and, in demo mode, the emulator's next to it).
ENV MA_DATABASE_URL=sqlite:///data/multi-account.db \
    MA_LISTEN=0.0.0.0:8080
VOLUME /data
WORKDIR /data
USER multi-account
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["multi-account", "healthcheck"]
ENTRYPOINT ["multi-account"]
CMD ["serve"]

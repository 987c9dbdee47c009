# syntax=docker/dockerfile:1
#
# One image, both binaries: `kisum-api` (the default command; `kisum-api
# migrate` applies the migrations) and `kisum-worker`.
#
#   docker build -t kisum-artist .
#
# Needs BuildKit (the default builder of Docker 23 and later): the cache
# mounts keep the cargo registry and the target directory between builds, so
# a source change recompiles the workspace crates, not the dependencies.
# Query macros read the committed .sqlx/ data: no database at build time.
# Everything the binaries serve (migrations, reference data, ops pages,
# contract fonts and templates) is compiled in; TLS is rustls (no OpenSSL).
# Outbound HTTPS (JWKS, webhooks) verifies against the system CA bundle,
# which the runtime image ships.
#
# The image carries no demo code: `kisum-api seed-demo` exists only when
# built with `--build-arg CARGO_FEATURES=kisum-api/demo`, as compose's demo
# profile does for its own image.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
ARG CARGO_FEATURES=""
WORKDIR /src
ENV SQLX_OFFLINE=true \
    CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never

# The container healthcheck of compose: the runtime image has no shell, curl
# or wget, so a std-only probe is built here.
COPY <<'EOF' /probe/main.rs
//! `kisum-probe [PATH]`: GET http://127.0.0.1:$PORT{PATH} (default
//! `/readyz`, port 8080); exit 0 on a 2xx answer within 3 s, else 1.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| "/readyz".to_owned());
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080u16);
    match status(&path, port) {
        Ok(code) if (200..300).contains(&code) => ExitCode::SUCCESS,
        Ok(code) => {
            eprintln!("kisum-probe: {path} answered {code}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("kisum-probe: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn status(path: &str, port: u16) -> std::io::Result<u16> {
    let limit = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), limit)?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    // "HTTP/1.1 200 ..."
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .filter(|_| head.starts_with(b"HTTP/1."))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))
}
EOF
RUN mkdir -p /out \
 && rustc --edition 2024 -C opt-level=s -C strip=symbols -o /out/kisum-probe /probe/main.rs

# The whole workspace (.dockerignore leaves out target/, .dev/, .git and
# node_modules): cargo loads every member's manifest, and the crates embed
# files from migrations/, reference/ and shared/assets/.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p kisum-api -p kisum-worker \
      ${CARGO_FEATURES:+--features "$CARGO_FEATURES"} \
 && install -m 0755 target/release/kisum-api target/release/kisum-worker /out/

# glibc 2.36, libgcc and the CA bundle, no shell; user 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENV HOST=0.0.0.0 \
    PORT=8080 \
    LOG_FORMAT=json
EXPOSE 8080
# No image HEALTHCHECK: the worker serves no HTTP. compose checks the API
# with `kisum-probe /readyz`; Kubernetes probes /healthz and /readyz itself.
CMD ["kisum-api"]

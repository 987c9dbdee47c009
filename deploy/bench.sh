#!/usr/bin/env bash
# Benchmarks (not tests): release builds against real Postgres.
#
#   ./deploy/bench.sh directory   100,000 artists; search latency with a typo and a genre filter
#   ./deploy/bench.sh booking     100,000 artists, 1,000,000 windows, 200,000 holds and bookings:
#                                 avails search latency, confirms/s under 16 clients, expiry of 10,000 holds
#
# Postgres: TEST_DATABASE_URL, else DATABASE_URL, else 127.0.0.1:5432. Each
# benchmark makes and drops its own database and prints one JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  directory) exec cargo run --release -q -p kisum-tests --bin bench_directory ;;
  booking)
    # The expiry stage runs the release worker binary.
    cargo build --release -q -p kisum-worker
    exec cargo run --release -q -p kisum-tests --bin bench_booking ;;
  *) echo "usage: $0 directory|booking" >&2; exit 2 ;;
esac

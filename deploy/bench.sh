#!/usr/bin/env bash
# Benchmarks (not tests): release builds against real Postgres.
#
#   ./deploy/bench.sh directory   100,000 artists; search latency with a typo and a genre filter
#
# Postgres: TEST_DATABASE_URL, else DATABASE_URL, else 127.0.0.1:5432. Each
# benchmark makes and drops its own database and prints one JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  directory) exec cargo run --release -q -p kisum-tests --bin bench_directory ;;
  *) echo "usage: $0 directory" >&2; exit 2 ;;
esac

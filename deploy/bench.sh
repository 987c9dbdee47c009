#!/usr/bin/env bash
# Benchmarks (not tests): release builds against real Postgres.
#
#   ./deploy/bench.sh directory   100,000 artists; search latency with a typo and a genre filter
#   ./deploy/bench.sh booking     100,000 artists, 1,000,000 windows, 200,000 holds and bookings:
#                                 avails search latency, confirms/s under 16 clients, expiry of 10,000 holds
#   ./deploy/bench.sh lists       5,000 requests, offers, holds and bookings between two orgs: latency and
#                                 statements of a 200-item page of each list
#   ./deploy/bench.sh contracts   400 sent contracts from the starter agreement: PDF first render and cached,
#                                 the renderer alone, signatures/s under 16 clients
#   ./deploy/bench.sh touring     a 60-stop tour with 500 other confirmed bookings (radius clauses) and 240
#                                 itinerary items: routing and calendar feed latency
#   ./deploy/bench.sh handoff     10,000 Finance handoffs to a local fake: deliveries/s with 1 and 2 worker
#                                 processes, then with 30% first answers 503 (none accepted twice)
#   ./deploy/bench.sh trust       10,000 companies, 200,000 bookings with ratings and deposits: the nightly trust
#                                 sweep (time, batch p95, database load) and the incremental drain (companies/s)
#   ./deploy/bench.sh marketplace 100,000 artists on the booking world: read-model rebuild, marketplace p50/p95
#                                 (HTTP and in-process), refresh lag under load, agency dashboard p95
#   ./deploy/bench.sh queue       100,000 no-op jobs: enqueue, jobs/s with 1 and 2 worker processes,
#                                 enqueue-to-start latency, kill -9 recovery; then the graphile-worker
#                                 peer (../shared/tools/queue_peer.sh, when present) on the same Postgres
#   ./deploy/bench.sh privacy     200,000 contact cards and 100,000 notes: one subject's export and erasure
#                                 over HTTP (p50/p95), beside one Postgres pass over every searched column
#   ./deploy/bench.sh events      the change-feed stream on the release API process: 10 and 1,000 streams of
#                                 one org at RATE events/s: commit-to-delivery p50/p99, RSS per stream,
#                                 Postgres transactions/s besides the writer (not growing with streams)
#   ./deploy/bench.sh retention   1,000,000 done jobs: the queue table's size never pruned, after pruning to
#                                 JOB_RETENTION_HOURS (rows/s, batches) and after a second round (space reused)
#   ./deploy/bench.sh load        the release API process (and a worker) on 20,000 artists: bookings list,
#                                 marketplace search, artist detail, hold and offer creation at 16 and 64
#                                 clients: req/s, p50/p95/p99, API RSS and CPU, jobs/s, statements per request
#   ./deploy/bench.sh load-replica the same on a durable primary and a hot standby of its own, the API reading
#                                 from the standby: CPU of each server per stage, statements per request on each
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
  lists) exec cargo run --release -q -p kisum-tests --bin bench_lists ;;
  privacy) exec cargo run --release -q -p kisum-tests --bin bench_privacy ;;
  contracts) exec cargo run --release -q -p kisum-tests --bin bench_contracts ;;
  touring) exec cargo run --release -q -p kisum-tests --bin bench_touring ;;
  handoff)
    cargo build --release -q -p kisum-worker
    exec cargo run --release -q -p kisum-tests --bin bench_handoff ;;
  trust) exec cargo run --release -q -p kisum-tests --bin bench_trust ;;
  marketplace)
    cargo build --release -q -p kisum-worker
    exec cargo run --release -q -p kisum-tests --bin bench_marketplace ;;
  queue)
    cargo build --release -q -p kisum-worker
    exec cargo run --release -q -p kisum-tests --bin bench_queue ;;
  events)
    cargo build --release -q -p kisum-api -p kisum-worker
    exec cargo run --release -q -p kisum-tests --bin bench_events ;;
  retention) exec cargo run --release -q -p kisum-tests --bin bench_retention ;;
  load)
    # The API and the worker run as their release binaries.
    cargo build --release -q -p kisum-api -p kisum-worker
    exec cargo run --release -q -p kisum-tests --bin bench_load ;;
  load-replica)
    cargo build --release -q -p kisum-api -p kisum-worker
    REPLICA=1 exec cargo run --release -q -p kisum-tests --bin bench_load ;;
  *) echo "usage: $0 directory|booking|lists|contracts|touring|handoff|trust|marketplace|queue|events|retention|load|load-replica" >&2; exit 2 ;;
esac

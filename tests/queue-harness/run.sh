#!/usr/bin/env bash
# The worker's queue through the public Postgres job-queue benchmark
# (github.com/hardbyte/postgresql-job-queue-benchmarking), beside awa, on a
# private PostgreSQL cluster of this host (no Docker). See README.md here.
#
#   tests/queue-harness/run.sh setup          harness + Python venv + awa-bench on crates.io
#   tests/queue-harness/run.sh build          release builds of both adapters
#   tests/queue-harness/run.sh smoke          shortest throughput cell, kisum and awa
#   tests/queue-harness/run.sh bench ARGS...  `bench run ARGS...` (the harness's CLI)
#   tests/queue-harness/run.sh matrix [CELL...] every chaos and pressure cell and the
#                                             throughput sweep, shortened (see README.md),
#                                             then their table
#   tests/queue-harness/run.sh table TSV      the table of a matrix run again
#   tests/queue-harness/run.sh ARGS...        the harness's CLI as is (run | combine | compare)
#   tests/queue-harness/run.sh down           stop and remove the private cluster
#
# Environment:
#   QH_CACHE        cache directory              (<repo>/target/queue-harness)
#   QH_MIRROR       a git directory of the harness, used when fetching it fails
#   QH_PG_PORT      port of the private cluster  (15555 if free, else a free one)
#   QH_PG_BIN       PostgreSQL binaries          (/usr/lib/postgresql/15/bin)
#   QH_AWA_VERSION  awa crates for awa-bench     (=0.6.9)
#   QH_RESULTS      results directory            ($QH_CACHE/results)
#   SMOKE_WORKERS, SMOKE_WARMUP, SMOKE_CLEAN, SMOKE_SYSTEMS: the smoke cell
#   MATRIX_SYSTEMS  systems of each matrix cell  (awa,kisum), run in one invocation
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
HARNESS_REPO=https://github.com/hardbyte/postgresql-job-queue-benchmarking
HARNESS_COMMIT=93677cab92dad89ee9eccb0d6e113893de43cbe6
CACHE=${QH_CACHE:-$REPO/target/queue-harness}
HARNESS=$CACHE/harness
VENV=$CACHE/venv
AWA_VERSION=${QH_AWA_VERSION:-=0.6.9}
export QH_PG_BIN=${QH_PG_BIN:-/usr/lib/postgresql/15/bin}
export QH_PG_STATE=$CACHE/pg
export QH_HARNESS=$HARNESS
export QH_REPO=$REPO
export QH_RESULTS=${QH_RESULTS:-$CACHE/results}

log() { echo "[queue-harness] $*" >&2; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  if [[ -n ${QH_PG_PORT:-} ]]; then
    echo "$QH_PG_PORT"
    return
  fi
  # A cluster of ours still running keeps its port.
  if [[ -f $QH_PG_STATE/data/postgresql.conf ]] && [[ -f $QH_PG_STATE/data/postmaster.pid ]]; then
    sed -n 's/^port = \([0-9]*\)$/\1/p' "$QH_PG_STATE/data/postgresql.conf" | tail -1
    return
  fi
  local p
  for p in 15555 $(seq 15556 15655); do
    if port_free "$p"; then
      echo "$p"
      return
    fi
  done
  log "no free port in 15555-15655"
  exit 1
}

fetch_harness() {
  [[ -f $HARNESS/bench.py ]] && return
  local tmp=$CACHE/harness.part
  rm -rf "$tmp"
  mkdir -p "$tmp"
  log "harness $HARNESS_COMMIT from $HARNESS_REPO"
  if git -C "$tmp" init -q &&
    git -C "$tmp" remote add origin "$HARNESS_REPO" &&
    timeout 300 git -C "$tmp" fetch -q --depth 1 origin "$HARNESS_COMMIT" &&
    git -C "$tmp" checkout -q FETCH_HEAD; then
    rm -rf "$tmp/.git" "$tmp/results"
  elif [[ -n ${QH_MIRROR:-} ]]; then
    log "fetch failed; harness $HARNESS_COMMIT from the mirror $QH_MIRROR"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    # results/ (published runs, with large files) is left out.
    local paths
    paths=$(git -C "$QH_MIRROR" ls-tree --name-only "$HARNESS_COMMIT" | grep -vx results)
    # shellcheck disable=SC2086
    git -C "$QH_MIRROR" archive "$HARNESS_COMMIT" -- $paths | tar -x -C "$tmp"
  else
    log "could not fetch the harness; set QH_MIRROR to a git directory of it"
    exit 1
  fi
  echo "$HARNESS_COMMIT" >"$tmp/.harness-commit"
  mv "$tmp" "$HARNESS"
}

setup_venv() {
  [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import psycopg, matplotlib, pandas, numpy, pydantic' 2>/dev/null && return
  log "python venv $VENV"
  python3 -m venv "$VENV"
  # The harness's pyproject.toml dependencies (its uv.lock pins Python 3.12+).
  "$VENV/bin/pip" install -q 'psycopg[binary]>=3.2' 'matplotlib>=3.9' 'pandas>=2.2' 'numpy>=2.0' 'pydantic>=2'
}

# awa-bench depends on ../../awa/{awa-model,awa-worker,awa-macros} (an awa
# checkout beside the harness); here on the crates published on crates.io.
awa_from_crates_io() {
  local toml=$HARNESS/awa-bench/Cargo.toml
  grep -q 'path = "../../awa/' "$toml" || return 0
  log "awa-bench on crates.io awa $AWA_VERSION"
  sed -i -E \
    -e "s|^(awa-model) = \\{ path = \"../../awa/awa-model\" \\}|\\1 = \"$AWA_VERSION\"|" \
    -e "s|^(awa-worker) = \\{ path = \"../../awa/awa-worker\" \\}|\\1 = \"$AWA_VERSION\"|" \
    -e "s|^(awa-macros) = \\{ path = \"../../awa/awa-macros\" \\}|\\1 = \"$AWA_VERSION\"|" \
    "$toml"
  # awa 0.6.x renamed QueueCounts::completed (which counted every terminal
  # state) to `terminal`; only awa-bench's standalone scenarios read it.
  sed -i 's/counts\.completed/counts.terminal/g' "$HARNESS/awa-bench/src/main.rs"
  # Its own workspace, not a member of one above it.
  grep -q '^\[workspace\]' "$toml" || printf '\n[workspace]\n' >>"$toml"
  # The lock pins the path crates at 0.6.0-alpha.9; resolve afresh.
  rm -f "$HARNESS/awa-bench/Cargo.lock"
  (cd "$HARNESS/awa-bench" && cargo generate-lockfile -q)
}

setup() {
  mkdir -p "$CACHE"
  fetch_harness
  setup_venv
  awa_from_crates_io
}

build() {
  setup
  log "cargo build --release -p kisum-queue-bench"
  (cd "$REPO" && cargo build --release -p kisum-queue-bench)
  log "cargo build --release (awa-bench)"
  (cd "$HARNESS/awa-bench" && SQLX_OFFLINE=true cargo build --release)
}

harness() {
  setup
  QH_PG_PORT=$(pick_port)
  export QH_PG_PORT
  log "private cluster on 127.0.0.1:$QH_PG_PORT ($QH_PG_STATE)"
  # The shim first on PATH: the harness's `docker compose ...` land there.
  # The harness runs compose in its own directory.
  (cd "$HARNESS" && PATH="$HERE/bin:$PATH" exec "$VENV/bin/python" "$HERE/bench_local.py" "$@")
}

# After a cell (the cluster kept running): what kisum's database holds,
# the jobs by state and how many ran more than once. (awa's `awa.jobs` is
# a compatibility view over its ring tables that took over 30 s here.)
db_check() {
  local kisum
  kisum=$(PGPASSWORD=bench PGOPTIONS="-c statement_timeout=30s" "$QH_PG_BIN/psql" -X -qAt \
    -h 127.0.0.1 -p "$QH_PG_PORT" -U bench -d kisum_bench -c \
    "SELECT coalesce(string_agg(status || ' ' || n, ', ' ORDER BY status), 'no jobs')
            || ', ' || (SELECT count(*) FROM apalis.jobs WHERE attempts > 1) || ' run twice'
       FROM (SELECT status, count(*) AS n FROM apalis.jobs GROUP BY status) AS s" 2>/dev/null || true)
  printf 'kisum=%s' "${kisum:-–}"
}

# One cell: one invocation of the harness with every system of the matrix.
matrix_cell() {
  local tsv=$1 name=$2
  shift 2
  local before after run_dir started rc=0
  before=$(ls "$QH_RESULTS" 2>/dev/null | sort)
  started=$(date +%s)
  # A fresh cluster for the cell's first system, as the harness gives each
  # system without KEEP_DB; the second finds the first's idle database.
  (cd "$HARNESS" && "$HERE/bin/docker" compose down -v >/dev/null 2>&1) || true
  log "cell $name: $*"
  KEEP_DB=1 QH_SKIP_BUILD=1 harness run --systems "${MATRIX_SYSTEMS:-awa,kisum}" --skip-build "$@" \
    >"$QH_RESULTS/$name.log" 2>&1 || rc=$?
  after=$(ls "$QH_RESULTS" 2>/dev/null | sort)
  run_dir=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '\.' | tail -1 || true)
  QH_PG_PORT=$(pick_port)
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$QH_RESULTS/$run_dir" "$rc" \
    "$(($(date +%s) - started))" "$(db_check)" >>"$tsv"
}

# The published chaos and pressure cells (scripts/run_full_sweep.sh, phases
# B and C) and throughput sweep (phase A), each phase shortened by the same
# rule for every system: warm-up 15 s, baseline 30 s, stress and recovery
# about half of the published length. Rates and replica counts as published.
matrix() {
  mkdir -p "$QH_RESULTS"
  local tsv
  tsv=$QH_RESULTS/matrix-$(date -u +%Y%m%dT%H%M%SZ).tsv
  local cells=("$@")
  [[ ${#cells[@]} -gt 0 ]] || cells=(
    chaos_postgres_restart chaos_pg_backend_kill chaos_pool_exhaustion
    chaos_crash_recovery chaos_repeated_kills
    idle_in_tx_saturation sustained_high_load active_readers event_delivery_burst
    throughput_w4 throughput_w16 throughput_w64
  )
  local head=(--phase warmup=warmup:15s --phase baseline=clean:30s)
  local cell
  for cell in "${cells[@]}"; do
    case $cell in
      chaos_postgres_restart)
        matrix_cell "$tsv" "$cell" --producer-rate 600 "${head[@]}" \
          --phase restart=postgres-restart:30s --phase recovery=clean:45s ;;
      chaos_pg_backend_kill)
        matrix_cell "$tsv" "$cell" --producer-rate 600 "${head[@]}" \
          --phase 'kills=pg-backend-kill(rate=2):30s' --phase recovery=clean:45s ;;
      chaos_pool_exhaustion)
        matrix_cell "$tsv" "$cell" --producer-rate 600 "${head[@]}" \
          --phase 'exhaustion=pool-exhaustion(idle_conns=300):30s' --phase recovery=clean:45s ;;
      chaos_crash_recovery)
        matrix_cell "$tsv" "$cell" --producer-rate 300 --replicas 2 "${head[@]}" \
          --phase 'kill=kill-worker(instance=0):30s' --phase 'restart=start-worker(instance=0):30s' \
          --phase recovery=clean:45s ;;
      chaos_repeated_kills)
        matrix_cell "$tsv" "$cell" --producer-rate 300 --replicas 2 "${head[@]}" \
          --phase 'repeated=repeated-kill(instance=0,period=20s):60s' --phase recovery=clean:45s ;;
      idle_in_tx_saturation)
        matrix_cell "$tsv" "$cell" --producer-rate 800 --worker-count 32 "${head[@]}" \
          --phase idle_1=idle-in-tx:120s --phase recovery_1=clean:90s ;;
      # The adapters pace themselves here: the harness's own pacer keeps
      # the base rate through a high-load phase (it does not read the rate
      # file the phase writes), the adapters' producers do.
      sustained_high_load)
        PRODUCER_PACING=adapter matrix_cell "$tsv" "$cell" --producer-rate 800 --worker-count 32 "${head[@]}" \
          --phase pressure_1=high-load:120s --phase recovery_1=clean:60s ;;
      active_readers)
        matrix_cell "$tsv" "$cell" --producer-rate 800 --worker-count 32 "${head[@]}" \
          --phase readers_1=active-readers:120s --phase recovery_1=clean:60s ;;
      event_delivery_burst)
        PRODUCER_PACING=adapter matrix_cell "$tsv" "$cell" --producer-rate 1200 --worker-count 64 "${head[@]}" \
          --phase pressure_1=high-load:150s --phase recovery_1=clean:120s ;;
      throughput_w*)
        matrix_cell "$tsv" "$cell" --producer-rate 50000 --producer-mode depth-target \
          --target-depth 4000 --worker-count "${cell#throughput_w}" \
          --phase warmup=warmup:15s --phase clean=clean:45s ;;
      *)
        log "unknown cell $cell"
        exit 1 ;;
    esac
  done
  "$VENV/bin/python" "$HERE/table.py" "$tsv" | tee "${tsv%.tsv}.md"
  log "table: ${tsv%.tsv}.md"
}

case ${1:-} in
  setup) setup ;;
  build) build ;;
  smoke)
    shift
    # The published throughput sweep's cell (scripts/run_full_sweep.sh,
    # phase A: depth-target 4000, offered 50000/s, warmup 30 s, clean
    # 180 s) at its shortest.
    harness run \
      --systems "${SMOKE_SYSTEMS:-kisum,awa}" \
      --producer-rate 50000 \
      --producer-mode depth-target \
      --target-depth 4000 \
      --worker-count "${SMOKE_WORKERS:-32}" \
      --phase "warmup=warmup:${SMOKE_WARMUP:-10s}" \
      --phase "clean=clean:${SMOKE_CLEAN:-30s}" \
      --skip-build \
      "$@"
    ;;
  bench)
    shift
    harness run "$@"
    ;;
  matrix)
    shift
    setup
    QH_PG_PORT=$(pick_port)
    export QH_PG_PORT
    matrix "$@"
    ;;
  table) "$VENV/bin/python" "$HERE/table.py" "$2" ;;
  down)
    export QH_PG_PORT=${QH_PG_PORT:-15555}
    (cd "$HARNESS" && "$HERE/bin/docker" compose down -v)
    ;;
  "" | -h | --help) sed -n '2,27p' "$0" ;;
  *) harness "$@" ;;
esac

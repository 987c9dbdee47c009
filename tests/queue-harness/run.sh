#!/usr/bin/env bash
# The worker's queue through the public Postgres job-queue benchmark
# (github.com/hardbyte/postgresql-job-queue-benchmarking), beside awa, on a
# private PostgreSQL cluster of this host (no Docker). See README.md here.
#
#   tests/queue-harness/run.sh setup          harness + Python venv + awa-bench on crates.io
#   tests/queue-harness/run.sh build          release builds of both adapters
#   tests/queue-harness/run.sh smoke          shortest throughput cell, kisum and awa
#   tests/queue-harness/run.sh bench ARGS...  `bench run ARGS...` (the harness's CLI)
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
  down)
    export QH_PG_PORT=${QH_PG_PORT:-15555}
    (cd "$HARNESS" && "$HERE/bin/docker" compose down -v)
    ;;
  "" | -h | --help) sed -n '2,22p' "$0" ;;
  *) harness "$@" ;;
esac

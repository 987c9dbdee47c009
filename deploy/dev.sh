#!/usr/bin/env bash
# Local development and test entry point.
#
#   ./deploy/dev.sh run    Postgres (reuse or start), migrate, demo data, run api + worker
#   ./deploy/dev.sh test   Postgres (reuse or start), Chromium and tests/browser's
#                          packages, pdftotext, the schemathesis venv (installed when missing),
#                          build, run the whole test suite
#   ./deploy/dev.sh stop   stop the private Postgres cluster, if this script started one
#
# Postgres, in order of preference:
#   1. DATABASE_URL, when it answers;
#   2. 127.0.0.1:${PGPORT:-5432} as user postgres, when it answers;
#   3. a private cluster under .dev/pg on ${PGPORT:-5432} (or the next free port),
#      from the system's PostgreSQL binaries, installed with apt-get when absent.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEV_DIR="$ROOT/.dev"
# initdb/postgres refuse to run as root and run as `postgres` instead, which
# may not reach into a root-only checkout: then the cluster lives in /var/tmp.
if [ "$(id -u)" = 0 ]; then
  PG_DIR="/var/tmp/kisum-dev-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
else
  PG_DIR="$DEV_DIR/pg"
fi
DB_NAME=${DB_NAME:-kisum_dev}

# A .env file fills in what the caller's environment does not set.
if [ -f "$ROOT/.env" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    key=${line%%=*}; value=${line#*=}
    [[ "$key" =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
    [ -n "${!key+x}" ] || export "$key=$value"
  done < "$ROOT/.env"
fi
PG_PORT_DEFAULT=${PGPORT:-5432}

log() { printf '\033[1;34m[dev]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[dev]\033[0m %s\n' "$*" >&2; exit 1; }

# tcp_open HOST PORT: something accepts connections there.
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# pg_answers URL: a Postgres server answers a query at URL.
pg_answers() {
  local url=$1
  if command -v psql >/dev/null 2>&1; then
    psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1
  else
    local hostport=${url#*@}; hostport=${hostport%%/*}
    tcp_open "${hostport%%:*}" "${hostport##*:}"
  fi
}

pg_bindir() {
  local dir
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

install_postgres() {
  [ "$(id -u)" = 0 ] || die "PostgreSQL binaries are missing; install them (apt-get install postgresql) or set DATABASE_URL"
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL binaries are missing and apt-get is not available; set DATABASE_URL"
  log "installing PostgreSQL from the distribution's packages"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# as_pg_user CMD...: run as the cluster owner (initdb and postgres refuse root).
as_pg_user() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$PG_DIR" --shell /usr/sbin/nologin postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_private_cluster() {
  local bindir port
  bindir=$(pg_bindir || true)
  if [ -z "$bindir" ]; then
    install_postgres
    bindir=$(pg_bindir || true)
    [ -n "$bindir" ] || die "PostgreSQL was installed but initdb cannot be found"
  fi
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" = 0 ]; then
    as_pg_user true
    chown -R postgres "$PG_DIR"
  fi
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    log "creating a private cluster in $PG_DIR ($bindir)"
    as_pg_user "$bindir/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
      || as_pg_user "$bindir/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  fi
  if [ -f "$PG_DIR/port" ] && as_pg_user "$bindir/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    port=$(cat "$PG_DIR/port")
  else
    port=$PG_PORT_DEFAULT
    while tcp_open 127.0.0.1 "$port"; do port=$((port + 1)); done
    log "starting the private cluster on 127.0.0.1:$port"
    as_pg_user "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
      -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null \
      || { tail -n 20 "$PG_DIR/postgres.log" >&2; die "the private cluster did not start"; }
    echo "$port" > "$PG_DIR/port"
  fi
  echo "postgres://postgres@127.0.0.1:$port"
}

# server_url: a reachable server (no database part), starting one if needed.
server_url() {
  if [ -n "${DATABASE_URL:-}" ] && pg_answers "$DATABASE_URL"; then
    log "using DATABASE_URL"
    echo "${DATABASE_URL%/*}"
    return
  fi
  [ -n "${DATABASE_URL:-}" ] && log "DATABASE_URL does not answer; looking further"
  local local_url="postgres://postgres@127.0.0.1:$PG_PORT_DEFAULT"
  if pg_answers "$local_url/postgres"; then
    log "using the Postgres on 127.0.0.1:$PG_PORT_DEFAULT"
    echo "$local_url"
    return
  fi
  start_private_cluster
}

dev_env() {
  # Defaults for local use; the caller's environment and .env win.
  if [ -z "${JWT_SECRET:-}${JWT_PUBLIC_KEY_PEM:-}${JWT_JWKS_URL:-}" ]; then
    export JWT_SECRET=dev-only-hs256-secret-change-me-0123456789
  fi
  export INTERNAL_API_KEYS=${INTERNAL_API_KEYS:-dev-internal-key-change-me-0123456789}
  # A fixed key for local use only; production makes its own with `kisum-api contract-signing-key`.
  export CONTRACT_SIGNING_KEY=${CONTRACT_SIGNING_KEY:-ZGV2LW9ubHktY29udHJhY3Qtc2VhbC1rZXktY2huZyE=}
  export CORS_ORIGIN=${CORS_ORIGIN:-http://localhost:3000}
  export LOG_FORMAT=${LOG_FORMAT:-pretty}
  export RUN_MIGRATIONS_ON_START=${RUN_MIGRATIONS_ON_START:-true}
}

# dev_token ORG ROLE: an HS256 token for local calls, signed with JWT_SECRET.
dev_token() {
  local b64='openssl base64 -A' header payload sig now
  now=$(date +%s)
  header=$(printf '{"alg":"HS256","typ":"JWT"}' | $b64 | tr '+/' '-_' | tr -d '=')
  payload=$(printf '{"sub":"dev-user","email":"dev@kisum.test","exp":%s,"orgs":[{"id":"%s","role":"%s"}]}' \
    "$((now + 86400))" "$1" "$2" | $b64 | tr '+/' '-_' | tr -d '=')
  sig=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$JWT_SECRET" -binary | $b64 | tr '+/' '-_' | tr -d '=')
  echo "$header.$payload.$sig"
}

# demo_guide: where to look in the demo (ids from seed-demo's DEMO_* lines).
demo_guide() {
  local api="http://localhost:${PORT:-8080}"
  log "demo: Northern Lights Agency (org $DEMO_ORG) and Riverside Presents (org $DEMO_PROMOTER_ORG); 24 h owner tokens:"
  cat <<EOF
  export AGENCY="authorization: Bearer $(dev_token "$DEMO_ORG" owner)" AGENCY_ORG="x-org: $DEMO_ORG"
  export PROMOTER="authorization: Bearer $(dev_token "$DEMO_PROMOTER_ORG" owner)" PROMOTER_ORG="x-org: $DEMO_PROMOTER_ORG"
  curl -H "\$AGENCY" -H "\$AGENCY_ORG" "$api/api/v1/booking-requests?role=incoming"  # the open inquiry (and the converted ones)
  curl -H "\$AGENCY" -H "\$AGENCY_ORG" $api/api/v1/offers/$DEMO_OFFER/versions  # quote, then the promoter's counter
  curl -H "\$AGENCY" -H "\$AGENCY_ORG" "$api/api/v1/holds?artist_id=$DEMO_HOLD_ARTIST&date=$DEMO_HOLD_DATE"  # holds 1 and 2
  curl -H "\$AGENCY" -H "\$AGENCY_ORG" $api/api/v1/bookings/$DEMO_BOOKING/activity  # request, offer, accept, hold, booking, contract
  curl -H "\$AGENCY" -H "\$AGENCY_ORG" "$api/api/v1/contracts/$DEMO_CONTRACT/document?format=pdf" -o contract.pdf  # signed by the promoter; countersign to seal
  curl -H "\$PROMOTER" -H "\$PROMOTER_ORG" "$api/api/v1/avails/search?country=NL"  # published windows
  ops dashboard: $api/ops (sign in with $(printf '%s' "$INTERNAL_API_KEYS" | cut -d, -f1)); the canary's dead job appears within seconds
  docs: $api/api/v1/docs/
EOF
}

cmd_run() {
  local server
  if [ -n "${DATABASE_URL:-}" ] && pg_answers "${DATABASE_URL%/*}/postgres"; then
    log "using DATABASE_URL"
  else
    server=$(server_url)
    export DATABASE_URL="$server/$DB_NAME"
  fi
  dev_env
  log "building"
  # The `demo` feature gives kisum-api its seed-demo command.
  cargo build --workspace --bins --features kisum-api/demo
  log "migrating $DB_NAME"
  ./target/debug/kisum-api migrate
  log "loading demo data"
  local seeded
  seeded=$(./target/debug/kisum-api seed-demo)
  # Only the NAME=uuid-or-date lines seed-demo prints for us.
  eval "$(printf '%s\n' "$seeded" | grep -E '^DEMO_[A-Z_]+=[0-9a-f-]+$')"
  demo_guide >&2
  ./target/debug/kisum-worker &
  WORKER_PID=$!
  trap 'kill "$WORKER_PID" 2>/dev/null; wait "$WORKER_PID" 2>/dev/null || true' EXIT
  ./target/debug/kisum-api
}

# as_root CMD...: run as root, through sudo (never prompting) when not root.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    return 1
  fi
}

install_chromium() {
  command -v apt-get >/dev/null 2>&1 || return 1
  log "installing Chromium from the distribution's packages (for the ops dashboard's browser test)"
  # A machine that never ran apt-get update knows no candidate yet.
  if ! apt-cache policy chromium 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && return 0
  # Stale package lists name files the mirror no longer has: refresh once.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

install_poppler_utils() {
  command -v apt-get >/dev/null 2>&1 || return 1
  log "installing poppler-utils from the distribution's packages (pdftotext, for the contract document tests)"
  # A machine that never ran apt-get update knows no candidate yet.
  if ! apt-cache policy poppler-utils 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null && return 0
  # Stale package lists name files the mirror no longer has: refresh once.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
}

# The contract document tests (shared, unit tests) read rendered PDFs back
# with pdftotext; without it they fail, saying so.
install_document_test_deps() {
  if ! command -v pdftotext >/dev/null 2>&1; then
    install_poppler_utils || log "poppler-utils could not be installed (apt-get, as root or with sudo); the contract document tests will fail"
  fi
}

# The ops dashboard's browser test (tests/browser, run by the suite) drives
# Debian's Chromium with playwright-core. Whatever cannot be installed makes
# that test fail, saying so; the rest of the suite still runs.
install_browser_test_deps() {
  local dir="$ROOT/tests/browser"
  if [ ! -x /usr/bin/chromium ]; then
    install_chromium || log "Chromium could not be installed (apt-get, as root or with sudo); the browser test will fail"
  fi
  npm_ci_when_changed "$dir" "the browser test"
}

# npm ci in a test's package folder, again only when its lock file changed
# since the last install (a stamp keeps the lock file's hash).
npm_ci_when_changed() {
  local dir="$1" what="$2" stamp sum
  if ! command -v npm >/dev/null 2>&1; then
    log "npm is missing (install Node.js 20 or later); $what will fail"
    return 0
  fi
  stamp="$dir/node_modules/.package-lock.sha256"
  sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ ! -d "$dir/node_modules" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    log "installing the packages of $what (npm ci in ${dir#"$ROOT"/})"
    if (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
      echo "$sum" > "$stamp"
    else
      log "npm ci failed in ${dir#"$ROOT"/}; $what will fail"
    fi
  fi
}

# openapi-typescript and typescript (pinned) for the TypeScript client check,
# and the client package's own (clients/typescript, with openapi-fetch).
install_typescript_test_deps() {
  npm_ci_when_changed "$ROOT/tests/typescript" "the TypeScript client check"
  npm_ci_when_changed "$ROOT/clients/typescript" "the TypeScript client package"
}

# The schemathesis guard's tool, pinned in tests/schemathesis/requirements.txt,
# in a venv under .dev; made again only when the requirements change.
SCHEMATHESIS_VENV="$DEV_DIR/schemathesis-venv"
install_schemathesis() {
  local req="$ROOT/tests/schemathesis/requirements.txt" stamp="$SCHEMATHESIS_VENV/.requirements.sha256" sum
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$SCHEMATHESIS_VENV/bin/schemathesis" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
    return 0
  fi
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing python3-venv (apt-get)"
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
        || { log "python3-venv could not be installed; the schemathesis test will fail"; return 0; }
    else
      log "python3 with venv is missing (apt-get install python3-venv); the schemathesis test will fail"
      return 0
    fi
  fi
  log "installing schemathesis into $SCHEMATHESIS_VENV"
  rm -rf "$SCHEMATHESIS_VENV"
  if python3 -m venv "$SCHEMATHESIS_VENV" \
    && "$SCHEMATHESIS_VENV/bin/pip" install -q --disable-pip-version-check -r "$req"; then
    echo "$sum" > "$stamp"
  else
    log "installing schemathesis failed; the schemathesis test will fail"
  fi
}

# The tools of deploy/k8s/validate.sh (kubectl with kustomize,
# kubernetes-validate, jsonschema), pinned in deploy/k8s/requirements.txt, in
# a venv under .dev; made again only when the requirements change.
K8S_VENV="$DEV_DIR/k8s-venv"
install_k8s_tools() {
  local req="$ROOT/deploy/k8s/requirements.txt" stamp="$K8S_VENV/.requirements.sha256" sum
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$K8S_VENV/bin/kubectl" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
    return 0
  fi
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    log "python3 with venv is missing (apt-get install python3-venv); the deploy manifests test will fail"
    return 0
  fi
  log "installing the deploy manifests' validation tools into $K8S_VENV"
  rm -rf "$K8S_VENV"
  if python3 -m venv "$K8S_VENV" \
    && "$K8S_VENV/bin/pip" install -q --disable-pip-version-check -r "$req"; then
    echo "$sum" > "$stamp"
  else
    log "installing the deploy manifests' validation tools failed; the deploy manifests test will fail"
  fi
}

cmd_test() {
  local status=0
  CLUSTER_WAS_RUNNING=0
  private_cluster_running && CLUSTER_WAS_RUNNING=1
  TEST_SERVER=$(server_url)
  # Whatever happens (failure, Ctrl-C), test databases and a cluster
  # started for this run go away.
  trap 'cleanup_after_test' EXIT
  export TEST_DATABASE_URL="$TEST_SERVER/postgres"
  unset DATABASE_URL
  install_browser_test_deps
  install_document_test_deps
  install_typescript_test_deps
  install_schemathesis
  export SCHEMATHESIS_VENV
  install_k8s_tools
  export K8S_VENV
  log "building"
  cargo build --workspace --bins --tests
  log "testing against $TEST_SERVER"
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast || status=$?
  else
    cargo test --workspace --no-fail-fast || status=$?
  fi
  return $status
}

cleanup_after_test() {
  cleanup_test_databases "$TEST_SERVER" || true
  if [ "$CLUSTER_WAS_RUNNING" = 0 ] && private_cluster_running; then cmd_stop; fi
}

private_cluster_running() {
  local bindir
  bindir=$(pg_bindir || true)
  [ -n "$bindir" ] && [ -f "$PG_DIR/port" ] && as_pg_user "$bindir/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1
}

# Test databases drop themselves; the shared migrated templates go here.
cleanup_test_databases() {
  command -v psql >/dev/null 2>&1 || return 0
  local dbs db
  dbs=$(psql "$1/postgres" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'kisum\_tpl\_%' OR datname LIKE 'kisum\_test\_%'" 2>/dev/null) || return 0
  for db in $dbs; do
    psql "$1/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
}

cmd_stop() {
  local bindir
  bindir=$(pg_bindir || true)
  if [ -n "$bindir" ] && [ -f "$PG_DIR/data/PG_VERSION" ]; then
    log "stopping the private cluster"
    as_pg_user "$bindir/pg_ctl" -D "$PG_DIR/data" stop -m fast >/dev/null || true
    rm -f "$PG_DIR/port"
  fi
}

case "${1:-}" in
  run) cmd_run ;;
  test) cmd_test ;;
  stop) cmd_stop ;;
  *) echo "usage: $0 run|test|stop" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Regenerates `.sqlx/`, the offline data of sqlx's query macros, against a
# freshly migrated scratch database, so `cargo build` needs no database.
# Run it after adding or changing a `query!`/`query_as!` and commit `.sqlx/`.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=${SQLX_SERVER_URL:-postgres://postgres@127.0.0.1:5432}
DB=${SQLX_PREPARE_DB:-kisum_sqlx_prepare}
export DATABASE_URL="$SERVER/$DB"
export PGOPTIONS="-c client_min_messages=warning"
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
# The macros need the schema before anything compiles, so the migrations are
# applied with psql: the job queue's (from its crate), then ours.
APALIS_DIR=$(cargo metadata -q --format-version 1 | python3 -c '
import json, sys, os
meta = json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in meta["packages"] if p["name"] == "apalis-postgres"))')
for f in "$APALIS_DIR"/migrations/*.sql migrations/*.sql; do
  psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null
done
rm -rf .sqlx
mkdir -p .sqlx
# Offline data is written by the macros while they check queries online.
touch shared/src/lib.rs
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/.sqlx" cargo check -q --workspace --all-targets
# When apalis-postgres is rebuilt too, its own queries land here: drop them.
APALIS_DIR="$APALIS_DIR" python3 - <<'PY'
import json, os, pathlib
apalis = pathlib.Path(os.environ["APALIS_DIR"])
texts = [p.read_text(errors="ignore") for p in apalis.rglob("*") if p.suffix in (".sql", ".rs")]
for f in pathlib.Path(".sqlx").glob("*.json"):
    query = json.loads(f.read_text())["query"].strip()
    if any(query in t for t in texts):
        f.unlink()
PY
psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/"

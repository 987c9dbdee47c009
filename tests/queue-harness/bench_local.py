#!/usr/bin/env python3
"""The harness's `bench` CLI with this repository's adapter registered.

Run by run.sh (which sets the variables below); the harness itself is
unchanged. What this adds to it:

- system `kisum`: the worker's queue (tests/queue-harness/adapter, the
  `kisum-queue-bench` binary), built with cargo in this repository and
  launched natively, like the harness's native `awa`;
- the Postgres port: the harness's is a constant (15555); QH_PG_PORT
  replaces it, so the private cluster can run on any free port;
- the results directory: QH_RESULTS instead of <harness>/results;
- revision capture for `kisum` (this repository's git state) and `awa`
  (the crates.io version in awa-bench/Cargo.lock, as run.sh builds it
  from crates.io rather than from an `../awa` checkout).

Environment: QH_HARNESS (harness checkout), QH_REPO (this repository),
QH_PG_PORT, QH_RESULTS, QH_KISUM_PROFILE (cargo profile, default release),
QH_SKIP_BUILD (do not rebuild kisum-queue-bench when it exists).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HARNESS = Path(os.environ["QH_HARNESS"]).resolve()
REPO = Path(os.environ["QH_REPO"]).resolve()
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HARNESS))

from bench_harness import adapters, orchestrator, versions  # noqa: E402

adapters.PG_PORT = int(os.environ.get("QH_PG_PORT", adapters.PG_PORT))
if os.environ.get("QH_RESULTS"):
    orchestrator.RESULTS_ROOT = Path(os.environ["QH_RESULTS"])

PROFILE = os.environ.get("QH_KISUM_PROFILE", "release")


def _kisum_binary() -> Path:
    target = adapters._cargo_target_dir(REPO / "Cargo.toml")
    return target / ("debug" if PROFILE == "dev" else PROFILE) / "kisum-queue-bench"


def build_kisum(skip: bool) -> None:
    # The harness calls the builder again before each system's launch,
    # whatever --skip-build says; QH_SKIP_BUILD (run.sh matrix) keeps the
    # binary already built, so a cell runs what the matrix started with.
    if skip or (os.environ.get("QH_SKIP_BUILD") and _kisum_binary().exists()):
        return
    print("[harness] building kisum-queue-bench (native)...", file=sys.stderr)
    subprocess.run(
        ["cargo", "build", "--profile", PROFILE, "-p", "kisum-queue-bench"],
        cwd=str(REPO),
        check=True,
    )


def launch_kisum(manifest, overrides):
    return adapters.LaunchSpec(
        argv=[str(_kisum_binary())],
        env=adapters._base_env(manifest, overrides),
    )


def _git(*args: str) -> str | None:
    res = subprocess.run(["git", *args], cwd=str(REPO), capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else None


def _kisum_revision() -> dict:
    return {
        "source": "kisum repository (tests/queue-harness/adapter)",
        "git_sha": _git("rev-parse", "HEAD"),
        "git_short": _git("rev-parse", "--short", "HEAD"),
        "git_branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool((_git("status", "--porcelain") or "").strip()),
        "library": "apalis-postgres (kisum-worker storage)",
        "pinned_version": _locked_version(REPO / "Cargo.lock", "apalis-postgres"),
    }


def _locked_version(lock: Path, name: str) -> str | None:
    try:
        text = lock.read_text()
    except OSError:
        return None
    m = re.search(r'name = "' + re.escape(name) + r'"\nversion = "([^"]+)"', text)
    return m.group(1) if m else None


def _awa_revision() -> dict:
    lock = HARNESS / "awa-bench" / "Cargo.lock"
    return {
        "source": "crates.io (awa-bench built against the published crates)",
        "library": "awa-worker",
        "pinned_version": _locked_version(lock, "awa-worker"),
        "awa_model": _locked_version(lock, "awa-model"),
        "awa_macros": _locked_version(lock, "awa-macros"),
    }


adapters.ADAPTERS["kisum"] = adapters.AdapterEntry(
    bench_dir=HERE / "kisum-bench",
    builder=build_kisum,
    launcher=launch_kisum,
)
versions._CAPTURE["kisum"] = _kisum_revision
versions._CAPTURE["awa"] = _awa_revision

if __name__ == "__main__":
    raise SystemExit(orchestrator.main())

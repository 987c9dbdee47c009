#!/usr/bin/env python3
"""One table of a matrix run: every cell, every system, the figures the
published sweep reports.

    table.py MATRIX_TSV

MATRIX_TSV is what `run.sh matrix` writes: one line per cell with its
name, results directory, exit status, wall time and the database
check of each system after the cell. Read from each cell's raw.csv:

- recovered: the last phase's median completion rate is at least 90% of
  the first clean phase's (the harness's own recovery threshold) and the
  harness exited 0;
- recovery: seconds from the end of the stress phase(s) to the first
  sample back at that threshold (the harness's `chaos_recovery_time_s`
  definition, applied to every cell);
- jobs/s: median of the baseline, of the stress phase(s), of the last
  phase, and the peak 5 s sample after warm-up;
- claim p50 / p99: medians of the adapter's windows during the stress
  phase(s);
- dead tuples: the sum over the system's event tables, at the last sample
  and at the peak;
- lost (harness): the harness's `jobs_lost` estimate (enqueued minus
  completed over the stress and recovery span, from the adapters' rates),
  computed the same way here for the cells where the harness does not;
- db: the database after the cell (see run.sh).
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

STRESS_TYPES = {
    "kill-worker",
    "start-worker",
    "postgres-restart",
    "pg-backend-kill",
    "pool-exhaustion",
    "repeated-kill",
    "idle-in-tx",
    "high-load",
    "active-readers",
}


def fmt(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def per_sample_sum(rows: list[dict], metric: str, phases: set[str]) -> list[tuple[float, float]]:
    """An adapter rate summed across replicas, per sample ordinal."""
    streams: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        if r["metric"] == metric and r["subject_kind"] == "adapter" and r["phase_label"] in phases:
            streams[r["instance_id"]].append((float(r["elapsed_s"]), float(r["value"])))
    merged: dict[int, list[float]] = {}
    for samples in streams.values():
        for i, (t, v) in enumerate(sorted(samples)):
            slot = merged.setdefault(i, [t, 0.0])
            slot[0] = min(slot[0], t)
            slot[1] += v
    return [(t, v) for _, (t, v) in sorted(merged.items())]


def per_sample_windows(rows: list[dict], metric: str, phases: set[str]) -> float:
    """The count behind an adapter rate over `phases`: rate times window,
    summed over samples and replicas (the harness's `jobs_lost` arithmetic)."""
    total = 0.0
    for r in rows:
        if r["metric"] == metric and r["subject_kind"] == "adapter" and r["phase_label"] in phases:
            try:
                total += float(r["value"]) * float(r["window_s"] or 0)
            except ValueError:
                continue
    return total


def per_sample_max(rows: list[dict], metric: str, phases: set[str]) -> list[float]:
    by_t: dict[str, float] = {}
    for r in rows:
        if r["metric"] == metric and r["subject_kind"] == "adapter" and r["phase_label"] in phases:
            key = r["sampled_at"] or r["elapsed_s"]
            by_t[key] = max(by_t.get(key, 0.0), float(r["value"]))
    return list(by_t.values())


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def system_figures(rows: list[dict], phase_order: list[tuple[str, str]]) -> dict:
    labels = [label for label, _ in phase_order]
    types = dict(phase_order)
    measured = [lb for lb in labels if types[lb] != "warmup"]
    baseline = next((lb for lb in measured if types[lb] == "clean"), None)
    stress = [lb for lb in measured if types[lb] in STRESS_TYPES]
    last = measured[-1] if measured else None

    def rate(phases: list[str]) -> float | None:
        return median([v for _, v in per_sample_sum(rows, "completion_rate", set(phases))])

    base = rate([baseline]) if baseline else None
    out: dict = {
        "baseline": base,
        "stress": rate(stress) if stress else None,
        "last": rate([last]) if last else None,
        "peak": max((v for _, v in per_sample_sum(rows, "completion_rate", set(measured))), default=None),
        "claim_p50": median(per_sample_max(rows, "claim_p50_ms", set(stress))),
        "claim_p99": median(per_sample_max(rows, "claim_p99_ms", set(stress))),
    }
    span = set(stress + measured[measured.index(stress[-1]) + 1 :]) if stress else set()
    out["lost_estimate"] = (
        max(0.0, per_sample_windows(rows, "enqueue_rate", span) - per_sample_windows(rows, "completion_rate", span))
        if span
        else None
    )
    out["recovered"] = bool(base and out["last"] is not None and out["last"] >= 0.9 * base)
    out["recovery_s"] = None
    if base and stress:
        stress_samples = per_sample_sum(rows, "completion_rate", set(stress))
        after = [lb for lb in measured[measured.index(stress[-1]) + 1 :]]
        if stress_samples and after:
            end = stress_samples[-1][0]
            for t, v in per_sample_sum(rows, "completion_rate", set(after)):
                if v >= 0.9 * base:
                    out["recovery_s"] = t - end
                    break
    # Dead tuples: sum over tables per sample time.
    dead: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        if r["metric"] == "n_dead_tup" and r["subject_kind"] == "table":
            dead[r["elapsed_s"]][r["subject"]] = float(r["value"])
    if dead:
        ordered = sorted(dead.items(), key=lambda kv: float(kv[0]))
        sums = [sum(tables.values()) for _, tables in ordered]
        out["dead_end"], out["dead_peak"] = sums[-1], max(sums)
    else:
        out["dead_end"] = out["dead_peak"] = None
    return out


def main() -> None:
    tsv = Path(sys.argv[1])
    print(
        "| cell | system | recovered | recovery s | lost (harness) | db after | "
        "jobs/s baseline / stress / last / peak | claim p50 / p99 ms (stress) | "
        "dead tuples end / peak |"
    )
    print("|---|---|---|---:|---:|---|---|---|---|")
    for line in tsv.read_text().splitlines():
        cell, run_dir, rc, _secs, db = (line.split("\t") + [""] * 5)[:5]
        run = Path(run_dir)
        summary_path, raw_path = run / "summary.json", run / "raw.csv"
        if not raw_path.exists() or not summary_path.exists():
            print(f"| {cell} | – | no results (rc {rc}) | | | | | | |")
            continue
        summary = json.loads(summary_path.read_text())
        phase_order = [(p["label"], p["type"]) for p in summary.get("phases", [])]
        with raw_path.open() as fh:
            rows = list(csv.DictReader(fh))
        db_by_system = dict(part.split("=", 1) for part in db.split(";") if "=" in part)
        for system in sorted({r["system"] for r in rows}):
            f = system_figures([r for r in rows if r["system"] == system], phase_order)
            lost = f["lost_estimate"]
            for phase in summary.get("systems", {}).get(system, {}).get("phases", {}).values():
                if isinstance(phase, dict) and phase.get("jobs_lost") is not None:
                    lost = phase["jobs_lost"]
            recovered = "yes" if f["recovered"] and rc == "0" else f"no (rc {rc})"
            print(
                f"| {cell} | {system} | {recovered} | {fmt(f['recovery_s'])} | {fmt(lost)} | "
                f"{db_by_system.get(system, '–')} | "
                f"{fmt(f['baseline'])} / {fmt(f['stress'])} / {fmt(f['last'])} / {fmt(f['peak'])} | "
                f"{fmt(f['claim_p50'], 1)} / {fmt(f['claim_p99'], 1)} | "
                f"{fmt(f['dead_end'])} / {fmt(f['dead_peak'])} |"
            )


if __name__ == "__main__":
    main()

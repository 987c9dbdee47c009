"""Runs the schemathesis guard against a served API and prints its figures.

Usage: run.py BASE_URL REPORT_DIR, with the venv's python (the one that has
schemathesis). The environment names the WFC auth file
(SCHEMATHESIS_WFC_AUTH) and the internal key (KISUM_INTERNAL_KEY) that
schemathesis.toml refers to. Prints the run's own output, then one line of
figures and the failures by check; exits 0 only when nothing failed and the
run completed.
"""

import json
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import schemathesis.core.failures
import schemathesis.openapi.checks  # noqa: F401  (defines the OpenAPI failure types)


def failure_checks():
    """Failure type name -> the checks that raise it."""
    found = {}
    pending = [schemathesis.core.failures.Failure]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = tuple(getattr(cls, "checks", ()) or ())
        pending.extend(cls.__subclasses__())
    return found


def main() -> int:
    base_url, report_dir = sys.argv[1].rstrip("/"), Path(sys.argv[2])
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / "report.json"
    report.unlink(missing_ok=True)
    here = Path(__file__).resolve().parent
    cli = Path(sys.executable).parent / "schemathesis"
    command = [
        str(cli),
        "--config-file",
        str(here / "schemathesis.toml"),
        "run",
        f"{base_url}/api/v1/openapi.json",
        "--no-color",
        "--report",
        "json,junit",
        "--report-dir",
        str(report_dir),
        "--report-json-path",
        str(report),
    ]
    run = subprocess.run(command, cwd=report_dir, check=False)
    if not report.exists():
        print(f"schemathesis exited with {run.returncode} and wrote no report")
        return 1
    data = json.loads(report.read_text())
    cases = data["test_cases"]
    operations = data["operations"]
    print(
        f"schemathesis {data['schemathesis_version']}: seed {data['seed']}, "
        f"{cases['generated']} cases over {operations['tested']}/{operations['total']} operations "
        f"in {data['running_time']:.0f} s (stopped by {data['stop_reason']}); "
        f"{cases['with_failures']} cases failed, {len(data['errors'])} errors"
    )
    checks = failure_checks()
    by_check = Counter()
    for failure in data["failures"]:
        for check in checks.get(failure["type"], ("unknown",))[:1]:
            by_check[check] += failure["count"]
        print(
            f"  {failure['code']} {failure['title']} x{failure['count']}: "
            + ", ".join(failure["operations"])
        )
    config = tomllib.loads((here / "schemathesis.toml").read_text())
    enabled = [name for name, check in config["checks"].items() if isinstance(check, dict) and check.get("enabled")]
    for check in sorted(set(enabled) | set(by_check)):
        print(f"  {check}: {by_check[check]} failures")
    for error in data["errors"]:
        print(f"  error: {json.dumps(error)[:500]}")
    ok = run.returncode == 0 and not data["failures"] and not data["errors"] and data["complete"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

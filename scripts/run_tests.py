"""`make test`: run every test group under its site's settings module and print one total.

A Django process has one settings module, and each site is its own settings module, so the suite runs as
one pytest process per group. Extra arguments are passed to every pytest run (e.g. `-k refresh -x`)."""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (settings module, test directories). Tests that start their own servers run under the issuer's.
GROUPS = [
    ("settings.issuer", ["tests/issuer"]),
    ("settings.orders", ["tests/sso_client", "tests/orders"]),
    ("settings.products", ["tests/products"]),
    ("settings.issuer", ["tests/integration"]),
    ("settings.issuer", ["tests/security"]),
    ("settings.issuer", ["tests/browser"]),
]


def main(extra_args: list[str]) -> int:
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    worst = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index, (settings_module, paths) in enumerate(GROUPS):
            paths = [p for p in paths if (ROOT / p).exists()]
            if not paths:
                continue
            report = Path(tmp) / f"group{index}.xml"
            print(f"\n=== {' '.join(paths)} (DJANGO_SETTINGS_MODULE={settings_module})", flush=True)
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
            code = subprocess.call(
                [sys.executable, "-m", "pytest", *paths, f"--junitxml={report}", *extra_args], cwd=ROOT, env=env
            )
            if code not in (0, 5):  # 5: nothing collected after -k filtering
                worst = worst or code
            if report.exists():
                for suite in ET.parse(report).getroot().iter("testsuite"):
                    tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
                    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
                    totals["passed"] += tests - skipped - failed
                    totals["failed"] += failed
                    totals["skipped"] += skipped
    print(f"\nall groups: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    if totals["passed"] == 0 and worst == 0:
        return 1
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

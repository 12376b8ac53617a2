"""CI's summary of JUnit files and tox's result JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

# Reports
# --------------------------------------------------------------------------------------------

def summarize(junit_dir: Path, result_json: Path | None) -> int:
    """Per-env test counts (JUnit XML) and timings (tox --result-json); a plain closing line."""
    rows = []
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for xml in sorted(junit_dir.glob("*.xml")) if junit_dir.is_dir() else []:
        n = f = s = 0
        root = ET.parse(xml).getroot()
        for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
            n += int(suite.get("tests", 0))
            f += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            s += int(suite.get("skipped", 0))
        passed = n - f - s
        rows.append((xml.stem, passed, f, s))
        totals["passed"] += passed
        totals["failed"] += f
        totals["skipped"] += s
    if result_json and result_json.is_file():
        data = json.loads(result_json.read_text())
        print("tox environments (seconds): setup = venv + deps, install = our wheels, run = commands")
        print(f"  {'env':<16}{'result':>8}{'setup':>8}{'install':>9}{'run':>8}{'total':>8}")
        for name, env in data.get("testenvs", {}).items():
            if name.startswith(".") or "result" not in env:
                continue  # not run
            setup = sum(c.get("elapsed", 0) for c in env.get("setup", []))
            pre = sum(c.get("elapsed", 0) for c in env.get("test", []) if c.get("run_id", "").startswith("commands_pre"))
            run = sum(c.get("elapsed", 0) for c in env.get("test", []) if c.get("run_id", "").startswith("commands["))
            ok = "ok" if env["result"].get("success") else "FAIL"
            print(f"  {name:<16}{ok:>8}{setup:8.1f}{pre:9.1f}{run:8.1f}{env['result'].get('duration', 0):8.1f}")
    if rows:
        print("tests per environment:")
        for env, p, f, s in rows:
            print(f"  {env:<16} {p:5d} passed {f:5d} failed {s:5d} skipped")
    print(f"total: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if totals["failed"] or not rows else 0


# --------------------------------------------------------------------------------------------

"""The full-run figures of the 1998 and 2017 milestones are rendered from their record."""

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "capstone" / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_milestones_full_block_matches_the_record():
    full = _load("milestones_full")
    figures = _load("figures")
    for page in full.PAGES:
        assert figures.read_block(page, full.BLOCK) == full.render(), (
            f"{page.relative_to(REPO)}'s milestones_full block differs from "
            "capstone/benchmarks/results/milestones_full.json: run "
            "`python capstone/benchmarks/milestones_full.py --readme`")


def test_milestones_full_renders_the_latest_full_runs(tmp_path):
    full = _load("milestones_full")
    hardware = {"cpu": "Test CPU", "cores": 2, "load_average": [0.1, 0.2, 0.3]}

    def run(key, quick, checks, seconds, passed=True):
        return {"milestone": key, "quick": quick, "passed": passed, "checks": checks,
                "seconds": seconds, "started": "2026-12-07T13:00:00+00:00", "hardware": hardware}

    acc = {"name": "test accuracy on the 10,000 test images", "value": 0.6712, "op": ">=",
           "threshold": 0.65, "passed": True}
    loss = {"name": "held-out loss (nats per character)", "value": 1.9321, "op": "<=",
            "threshold": 2.0, "passed": True}
    record = tmp_path / "full.json"
    record.write_text(json.dumps({"format": 1, "runs": [
        run("1998-convolution", False, [dict(acc, value=0.5)], 60, passed=False),
        run("1998-convolution", True, [dict(acc, value=0.3)], 10),  # quick: not shown
        run("1998-convolution", False, [acc], 1080),
    ]}))
    text = full.render(record)
    assert "| 1998-convolution | `tito milestone run 1998 --kernels composite` | test accuracy on " \
           "the 10,000 test images: 67.12% (bar >= 65%) | 18.0 min | yes | 0.10, 0.20, 0.30 |" in text
    assert "| 2017-attention | `tito milestone run 2017` | not run yet |" in text
    assert "Measured on Test CPU, 2 cores, 2026-12-07" in text
    data = json.loads(record.read_text())
    data["runs"].append(run("2017-attention", False, [loss], 840))
    record.write_text(json.dumps(data))
    assert "held-out loss (nats per character): 1.932 (bar <= 2) | 14.0 min | yes" in full.render(record)
    assert "have not been run yet" in full.render(tmp_path / "none.json")

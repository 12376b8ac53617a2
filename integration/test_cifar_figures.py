"""The CIFAR-10 figures the docs quote are the ones the committed results file holds."""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SUMMARY = REPO / "capstone" / "performance" / "results" / "full-18-epochs-crop2-tta2-summary.json"
PAGES = ["README.md", ".ci/setup.sh", "packages/training/README.md",
         "packages/training/src/tinytorch/core/training/cifar10.py"]


@pytest.fixture(scope="module")
def measured():
    result = json.loads(SUMMARY.read_text())
    return {"accuracy": f"{result['test_accuracy'] * 100:.2f}",
            "minutes": f"{result['total_seconds'] / 60:.0f}"}


@pytest.mark.parametrize("page", PAGES)
def test_full_recipe_figures_match_the_results_file(page, measured):
    text = (REPO / page).read_text()
    accuracies = re.findall(r"(\d\d\.\d\d) ?% (?:measured|test accuracy)|\*\*(\d\d\.\d\d)%\*\*|"
                            r"measured \*\*(\d\d\.\d\d)%\*\*|gave the (\d\d\.\d\d)%|"
                            r"measured the\s+(\d\d\.\d\d)%", text)
    found = {a for group in accuracies for a in group if a}
    assert found, f"{page} quotes no full-recipe accuracy any more: update PAGES"
    assert found == {measured["accuracy"]}, f"{page}: {found} vs the results file's {measured}"
    # the run's duration, where a line quoting that accuracy gives one
    for line in text.splitlines():
        if measured["accuracy"] not in line:
            continue
        for minutes in re.findall(r"(\d+) min", line):
            assert minutes == measured["minutes"], f"{page}: {minutes} min vs {measured['minutes']}"

"""The 1998 milestone's quick form on the real CIFAR-10, then 2018 benchmarking what it trained.

The 1998 milestone needs the real CIFAR-10 (CI prepares it once: ``python .ci/tt.py cifar10``),
which is why it runs here and not in the capstone package's own tests. Its quick form trains
the LeNet-style network on 1,024 images and must reach its threshold on 500 test images; the
2018 milestone must then find and benchmark that network.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from tinytorch.capstone.milestones import cli
from tinytorch.core.dataloader import CIFAR10, DatasetNotFoundError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cifar10_root():
    try:
        return str(CIFAR10(train=False).root)
    except DatasetNotFoundError as err:
        pytest.fail(f"the real CIFAR-10 is required; prepare it with `python .ci/tt.py cifar10`\n{err}")


def _run(argv):
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = cli.main(argv)
    return code, buf.getvalue()


def test_milestone_1998_quick_then_2018_on_its_network(cifar10_root, tmp_path):
    record = tmp_path / "milestones.json"
    code, out = _run(["run", "1998", "--quick", "--record", str(record), "--data", cifar10_root])
    assert code == 0, out
    assert "conv: the reference fused kernels" in out and "1998 convolution: PASSED" in out
    weights = tmp_path / "milestones" / "1998-convolution-quick.npz"
    assert weights.exists()
    entry = json.loads(record.read_text())["runs"][-1]
    assert entry["kernels"] == "fused" and entry["details"]["train_images"] == 1024
    assert entry["checks"][0]["value"] >= 0.25

    code, out = _run(["run", "2018", "--quick", "--record", str(record), "--data", cifar10_root])
    entry = json.loads(record.read_text())["runs"][-1]
    assert f"the 1998 network from {weights}" in entry["details"]["model"]
    assert entry["details"]["samples"] == "CIFAR-10 test images"
    assert code == (0 if entry["passed"] else 1)

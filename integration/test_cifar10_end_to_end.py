"""CIFAR-10 end to end: a CNN built only from TinyTorch packages, trained on the real training
images, reaches at least 50% accuracy on the full real test set (10,000 images).

Nothing here is mocked or synthetic: the data are the official ``cifar-10-batches-py`` files,
read by tinytorch-dataloader; the network is tinytorch-spatial/layers/dense; the gradients come
from tinytorch-autograd, the updates from tinytorch-optimizers, the loop from tinytorch-training.
The data must be prepared beforehand (CI does it once): ``python .ci/tt.py cifar10``.

Measured on the 2-core course machine (shared, so CPU time from ``time``, which counts both
threads): 115 s of CPU for the accuracy test (two epochs of the half-width small CNN on 50,000
images, then the 10,000 test images twice) and 69.71% test accuracy; about 6 s more for the
``tito train`` test. On two quiet cores that is one to two minutes of wall time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from tinytorch.core.dataloader import CIFAR10, DatasetNotFoundError
from tinytorch.core.training import Trainer, load_checkpoint
from tinytorch.core.training.cifar10 import (RECIPES, Recipe, build_model, cifar10_loaders,
                                             train_cifar10)

pytestmark = pytest.mark.slow

PREPARE = "python .ci/tt.py cifar10"


@pytest.fixture(scope="module")
def cifar10_root():
    """The real CIFAR-10 must be there: this test never downloads or fakes it."""
    try:
        test = CIFAR10(train=False)
        train = CIFAR10(train=True)
    except DatasetNotFoundError as err:
        pytest.fail(f"the real CIFAR-10 is required; prepare it with `{PREPARE}` (from the "
                    f"repository root; it honours $TINYTORCH_DATA)\n{err}")
    assert train.data.shape == (50000, 3, 32, 32) and test.data.shape == (10000, 3, 32, 32)
    assert np.bincount(test.targets, minlength=10).tolist() == [1000] * 10
    return str(test.root)


# Two epochs of the course's small CNN at half width (16-32-64 channels, 34k parameters):
# the quick recipe's optimiser and schedule, about half the compute of the full-width net.
CI_RECIPE = Recipe("ci", "small_cnn", epochs=2, batch_size=128, lr=0.1, widths=(16, 32, 64))


def test_small_cnn_reaches_50_percent_on_the_real_test_set(cifar10_root, tmp_path):
    cpu, wall = time.process_time(), time.perf_counter()
    summary = train_cifar10(CI_RECIPE, root=cifar10_root, out_dir=str(tmp_path), seed=0,
                            progress=False)
    assert summary["train_images"] == 50000 and summary["test_images"] == 10000

    # Measure again, independently of the trainer's bookkeeping: the saved weights, loaded into
    # a fresh network, classify the 10,000 test images.
    model = build_model(CI_RECIPE)
    model.load_state_dict(load_checkpoint(summary["checkpoint"])["model"])
    _, test, _ = cifar10_loaders(cifar10_root, batch_size=CI_RECIPE.batch_size)
    trainer = Trainer(model, optimizer=None, loss_fn=None, progress=False)
    scores = trainer.predict(test)
    labels = test.dataset.targets
    accuracy = float(np.mean(scores.argmax(axis=1) == labels))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"\nCIFAR-10 test accuracy {accuracy * 100:.2f}% on {len(labels):,} images; "
          f"{cpu:.0f} s CPU, {wall:.0f} s wall")

    assert scores.shape == (10000, 10)
    assert accuracy == pytest.approx(summary["test_accuracy"], abs=1e-9)
    assert accuracy >= 0.50, f"test accuracy {accuracy:.2%} < 50%"
    per_class = np.bincount(labels, weights=scores.argmax(axis=1) == labels, minlength=10) / 1000
    assert (per_class > 0.1).all(), f"a class is (almost) never recognised: {per_class}"


def tito_command():
    beside = os.path.join(os.path.dirname(sys.executable), "tito")
    if os.path.exists(beside):
        return [beside]
    found = shutil.which("tito")
    return [found] if found else [sys.executable, "-m", "tinytorch.setup"]


def test_tito_train_cifar10_runs_end_to_end(cifar10_root, tmp_path):
    out = tmp_path / "run"
    cmd = tito_command() + ["train", "cifar10", "--epochs", "1", "--data", cifar10_root,
                            "--out", str(out), "--limit-train", "512", "--limit-test", "500"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # the progress bar (stderr; as log lines, since it is not a terminal), ending full
    bar_lines = [line for line in proc.stderr.splitlines() if line.startswith("epoch 1/1")]
    assert bar_lines and "4/4" in bar_lines[-1] and "━" * 24 in bar_lines[-1]
    assert "loss" in bar_lines[-1] and "img/s" in bar_lines[-1]
    # the summary lines on stdout
    acc = re.search(r"test accuracy: ([\d.]+)% on 500 test images", proc.stdout)
    assert acc, proc.stdout
    ck = re.search(r"checkpoint: (.+\.npz)$", proc.stdout, re.MULTILINE)
    assert ck and os.path.exists(ck.group(1)), proc.stdout

    # the checkpoint loads back into the quick recipe's network and gives the printed accuracy
    state = load_checkpoint(ck.group(1))
    assert state["epoch"] == 1 and len(state["history"]) == 1
    model = build_model(RECIPES["quick"])
    model.load_state_dict(state["model"])
    _, test, _ = cifar10_loaders(cifar10_root, limit_test=500)
    scores = Trainer(model, None, None, progress=False).predict(test)
    measured = float(np.mean(scores.argmax(axis=1) == test.dataset.targets))
    assert measured * 100 == pytest.approx(float(acc.group(1)), abs=0.006)

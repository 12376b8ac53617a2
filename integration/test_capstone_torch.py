"""The capstone's PyTorch comparisons checked for correctness (never for speed).

* the speed-run's PyTorch twin computes what the TinyTorch network computes (same weights);
* on the same batches, with the same optimizer and schedule, both frameworks' first epoch of
  the speed-run recipe ends with the same training loss;
* every op of the analysis track agrees between the frameworks before it is timed.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinytorch.capstone.analysis import check_case, op_cases  # noqa: E402
from tinytorch.capstone.speedrun import run_tinytorch, run_torch, torch_twin  # noqa: E402
from tinytorch.core.tensor import Tensor, manual_seed  # noqa: E402
from tinytorch.core.training.cifar10 import RECIPES, Recipe, build_model, tta_logits  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("recipe", ["quick", "full"])
def test_twin_computes_the_same(recipe):
    manual_seed(0)
    model = build_model(RECIPES[recipe])
    twin = torch_twin(model, torch)
    model.eval()
    twin.eval()
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32), dtype=np.float32)
    ours = model(Tensor(x)).data
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
    # test-time augmentation: both frameworks measured through the same views and weights
    with torch.no_grad():
        theirs = tta_logits(lambda a: twin(torch.from_numpy(a)).numpy(), x, 2)
    ours = tta_logits(lambda a: model(Tensor(a)).data, x, 2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)


def test_same_recipe_same_first_epoch():
    from tinytorch.core.dataloader import CIFAR10, DatasetNotFoundError
    try:
        CIFAR10(train=False)
    except DatasetNotFoundError:
        pytest.skip("CIFAR-10 is not prepared (python .ci/tt.py cifar10)")
    common = dict(thresholds=(0.0,), epochs=1, limit_train=512, limit_test=200, progress=False)
    recipe = Recipe(**{**asdict(RECIPES["quick"]), "tta": 2})  # measured with flips and shifts
    ours = run_tinytorch(recipe, **common)
    theirs = run_torch(recipe, threads=1, **common)
    a, b = ours["history"][0], theirs["history"][0]
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
    assert abs(a["test_acc"] - b["test_acc"]) <= 0.02
    assert ours["parameters"] == theirs["parameters"]


def test_analysis_ops_agree():
    for case in op_cases(torch, scale=0.1):
        assert check_case(case) <= case.tolerance

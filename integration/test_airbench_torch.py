"""The airbench recipe's parts against PyTorch, and its speed-run twin's first steps.

* batch norm without a learnable scale (momentum 0.4, eps 1e-12) and GELU on 4-D maps: values,
  running statistics and gradients as torch.nn's;
* the TinyTorch network and its torch twin compute the same logits (with TTA too);
* TinyTorch's Lookahead and airbench's ``lerp_`` form give the same weights;
* on the same CIFAR-10 batches, from the same weights, the recipe's first epochs (summed loss,
  two parameter groups, LambdaLR, lookahead, the whitening bias frozen after an epoch) end with
  the same training loss in both frameworks — a few hundred images, seconds.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinytorch.capstone.speedrun import run_tinytorch, run_torch, torch_twin  # noqa: E402
from tinytorch.capstone.speedrun_airbench import TorchLookahead  # noqa: E402
from tinytorch.core.activations import GELU  # noqa: E402
from tinytorch.core.spatial import BatchNorm2d, fused_kernels  # noqa: E402
from tinytorch.core.tensor import Tensor, manual_seed  # noqa: E402
from tinytorch.core.training.cifar10 import RECIPES, Recipe, build_model, tta_logits  # noqa: E402
from tinytorch.core.training.lookahead import Lookahead  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_scale_free_batchnorm_and_gelu_match_torch(fused):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6, 4, 5, 5)) * 3 + 1).astype(np.float32)
    g = rng.standard_normal((6, 4, 5, 5)).astype(np.float32)
    ours = BatchNorm2d(4, eps=1e-12, momentum=0.4, learn_scale=False)
    ours.bias.data[...] = rng.standard_normal(4).astype(np.float32)
    theirs = torch.nn.BatchNorm2d(4, eps=1e-12, momentum=0.4)
    theirs.weight.requires_grad_(False)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    xt = Tensor(x, requires_grad=True)
    with fused_kernels(fused):
        y = GELU()(ours(xt))
    (y * Tensor(g)).sum().backward()
    xx = torch.from_numpy(x).requires_grad_(True)
    yy = torch.nn.GELU()(theirs(xx))
    (yy * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(y.data, yy.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xt.grad.data, xx.grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert ours.weight.grad is None and theirs.weight.grad is None
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, key).data, getattr(theirs, key).numpy(), rtol=1e-5)


def test_airbench_twin_computes_the_same_and_averages_the_same():
    manual_seed(0)
    model = build_model(RECIPES["airbench"])
    twin = torch_twin(model, torch)
    assert [n for n, p in twin.named_parameters() if not p.requires_grad] == \
        [n for n, p in model.named_parameters() if not p.requires_grad]
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32), dtype=np.float32)
    model.train()
    twin.train()  # batch statistics, and one update of the running ones
    ours = model(Tensor(x)).data
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-5)
    model.eval()
    twin.eval()
    with torch.no_grad():
        theirs = tta_logits(lambda a: twin(torch.from_numpy(a)).numpy(), x, 2)
    np.testing.assert_allclose(tta_logits(lambda a: model(Tensor(a)).data, x, 2), theirs,
                               rtol=1e-3, atol=1e-5)
    # lookahead: TinyTorch's (numpy, in place) and airbench's lerp_ form, after the same moves
    look, tlook = Lookahead(model), TorchLookahead(twin)
    rng = np.random.default_rng(1)
    for decay in (0.3, 0.9, 1.0):
        for (k, ours), theirs in zip(model.state_dict(keep_vars=True).items(),
                                     twin.state_dict().values()):
            if ours.data.dtype.kind == "f":
                move = rng.standard_normal(ours.shape).astype(np.float32)
                ours.data[...] += move
                theirs.add_(torch.from_numpy(move))
        look.update(decay)
        with torch.no_grad():
            tlook.update(twin, decay)
    for (k, ours), theirs in zip(model.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_airbench_first_steps_agree_with_the_twin():
    from tinytorch.core.dataloader import CIFAR10, DatasetNotFoundError
    try:
        CIFAR10(train=False)
    except DatasetNotFoundError:
        pytest.skip("CIFAR-10 is not prepared (python .ci/tt.py cifar10)")
    base = RECIPES["airbench"]
    # batches of 256 so a few hundred images give several steps; a lookahead every 2 steps and
    # the whitening bias frozen after the first epoch, so both happen within the test
    recipe = Recipe(**{**asdict(base), "batch_size": 256,
                       "options": {**base.options, "lookahead_every": 2, "whiten_bias_epochs": 1}})
    common = dict(thresholds=(0.0,), epochs=2, limit_train=512, limit_test=100, progress=False,
                  stop_when_reached=False)
    ours = run_tinytorch(recipe, **common)
    theirs = run_torch(recipe, threads=1, **common)
    assert len(ours["history"]) == len(theirs["history"]) == 2
    for a, b in zip(ours["history"], theirs["history"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-3)
        assert abs(a["test_acc"] - b["test_acc"]) <= 0.02
    assert ours["parameters"] == theirs["parameters"]


def test_performance_readme_diagnosis_matches_its_results_file():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "capstone" / "performance" / "airbench_diagnosis.py"
    spec = importlib.util.spec_from_file_location("_airbench_diagnosis", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import json
    result = json.loads(module.RESULT.read_text())
    shown = module._figures().read_block(module.README, module.BLOCK)
    assert shown == module.render(result), ("capstone/performance/README.md's diagnosis block "
                                            "differs from its results file: run "
                                            "python capstone/performance/airbench_diagnosis.py")

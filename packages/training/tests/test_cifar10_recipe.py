"""The CIFAR-10 networks, recipes and ``tito train`` plumbing, on a tiny copy in the official format.

The files written here have the layout and encoding of the real ``cifar-10-batches-py`` (pickled
dicts of a uint8 ``data`` array and a ``labels`` list), with random pixels: they check the
plumbing (loaders, checkpoint, history, summary, command line) in seconds. Training on the real
CIFAR-10 and measuring the test accuracy is ``integration/test_cifar10_end_to_end.py``.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import cli, load_checkpoint
from tinytorch.core.training.cifar10 import (RECIPES, Recipe, airbench_net, build_model,
                                             cifar10_loaders, prepare_run, small_cnn, train_cifar10)

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory, write_tiny_cifar):
    """130 training and 20 test images of random pixels, in the official file layout."""
    return write_tiny_cifar(tmp_path_factory.mktemp("data"), [26] * 5, 20, CLASSES)


def test_small_cnn_shapes_and_size():
    manual_seed(0)
    model = small_cnn()
    out = model(Tensor(np.zeros((2, 3, 32, 32), np.float32)))
    assert out.shape == (2, 10) and out.dtype == np.float32
    # 3 convs (no bias) + their batch norms + the classifier
    expected = (3 * 32 * 9 + 32 * 64 * 9 + 64 * 128 * 9) + 2 * (32 + 64 + 128) + (128 * 4 * 4 * 10 + 10)
    assert sum(p.data.size for p in model.parameters()) == expected
    assert small_cnn(widths=(8, 16))(Tensor(np.zeros((1, 3, 32, 32), np.float32))).shape == (1, 10)


def test_airbench_net_shape():
    manual_seed(0)
    model = airbench_net(widths=(8, 16, 16))
    assert model(Tensor(np.zeros((2, 3, 32, 32), np.float32))).shape == (2, 10)


def test_recipes_build_their_models():
    assert set(RECIPES) == {"quick", "full", "airbench"}
    assert build_model(RECIPES["quick"]).__class__.__name__ == "Sequential"
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model(Recipe("x", "resnet", epochs=1, batch_size=8, lr=0.1))
    with pytest.raises(ValueError, match="unknown recipe 'fast'"):
        train_cifar10("fast")


def test_loaders_limit_and_batch(tiny_cifar):
    train, test, classes = cifar10_loaders(tiny_cifar, batch_size=16, limit_train=64, limit_test=12,
                                           prefetch=0)
    assert classes == CLASSES
    assert len(train.dataset) == 64 and len(train) == 4 and len(test.dataset) == 12
    x, y = next(iter(train))
    assert x.shape == (16, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    assert abs(float(x.data.mean())) < 0.5  # normalised
    with pytest.raises(ValueError, match="no full batch of 128"):
        cifar10_loaders(tiny_cifar, batch_size=128, limit_train=100)


def test_crop_padding_reaches_the_training_crops(tiny_cifar):
    def crop_padding(loader):
        return [t for t in loader.transform.transforms if type(t).__name__ == "RandomCrop"][0].padding

    train, _, _ = cifar10_loaders(tiny_cifar, batch_size=16, prefetch=0)
    assert crop_padding(train) == 4  # the usual CIFAR-10 default
    train, _, _ = cifar10_loaders(tiny_cifar, batch_size=16, prefetch=0, crop_padding=2)
    assert crop_padding(train) == 2
    full = RECIPES["full"]
    assert full.crop_padding == 2 and full.tta == 2  # airbench's shifts of 2 px, multi-view TTA
    tiny_full = Recipe(**{**asdict(full), "batch_size": 16, "widths": (4, 8, 8)})
    assert crop_padding(prepare_run(tiny_full, tiny_cifar).train) == 2


def test_train_cifar10_writes_loadable_weights_and_a_summary(tiny_cifar, tmp_path, capsys):
    recipe = Recipe("tiny", "small_cnn", epochs=2, batch_size=13, lr=0.05, widths=(4, 8))
    out = str(tmp_path / "run")
    summary = train_cifar10(recipe, root=tiny_cifar, out_dir=out, progress=False)
    printed = capsys.readouterr().out
    assert summary["train_images"] == 130 and summary["test_images"] == 20
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and len(summary["history"]) == 2
    assert f"test accuracy: {summary['test_accuracy'] * 100:.2f}% on 20 test images" in printed
    assert f"checkpoint: {summary['checkpoint']}" in printed
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["test_accuracy"] == summary["test_accuracy"]
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 2

    state = load_checkpoint(summary["checkpoint"])
    assert state["epoch"] == 2
    model = build_model(recipe)
    model.load_state_dict(state["model"])
    model.eval()
    _, test, _ = cifar10_loaders(tiny_cifar, batch_size=13, prefetch=0)
    x, y = next(iter(test))
    acc = float((model(x).data.argmax(axis=1) == y.data).mean())
    assert acc == pytest.approx(summary["test_accuracy"])  # the checkpoint is the evaluated model

    # resuming a finished run trains nothing and still reports (and keeps) its checkpoint
    again = train_cifar10(recipe, root=tiny_cifar, out_dir=out, progress=False,
                          resume=summary["checkpoint"])
    assert again["test_accuracy"] == summary["test_accuracy"]
    assert len(again["history"]) == 2 and os.path.exists(again["checkpoint"])


def parse(argv):
    parser = argparse.ArgumentParser(prog="tito")
    cli.register(parser.add_subparsers(dest="command"))
    return parser, parser.parse_args(argv)


def test_cli_options():
    parser, args = parse(["train", "cifar10", "--epochs", "1", "--limit-train", "256",
                          "--limit-test", "100", "--recipe", "full"])
    assert (args.epochs, args.limit_train, args.limit_test, args.recipe) == (1, 256, 100, "full")
    assert args.func is cli.run
    help_text = parser._subparsers._group_actions[0].choices["train"].format_help()
    assert "--recipe" in help_text and "--resume" in help_text
    assert "--limit-train" not in help_text  # testing flags stay out of the help


def test_cli_runs_on_the_tiny_copy(tiny_cifar, tmp_path, capsys):
    _, args = parse(["train", "cifar10", "--epochs", "1", "--data", tiny_cifar, "--out",
                     str(tmp_path / "cli"), "--limit-train", "128", "--no-progress"])
    assert cli.run(args) == 0
    printed = capsys.readouterr().out
    assert "recipe 'quick'" in printed and "1 epochs of 1 batches of 128" in printed
    assert "test accuracy:" in printed and "on 20 test images" in printed
    assert os.path.exists(tmp_path / "cli" / "last.npz")


def test_cli_without_data_says_how_to_get_it(tmp_path, capsys):
    _, args = parse(["train", "cifar10", "--data", str(tmp_path / "empty")])
    assert cli.run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("tito train:") and "cifar-10-batches-py" in err

"""``tito train cifar10 --kernels``: whose convolution trains, and the line that says so.

The student's own tinytorch-spatial (version ``+student``, or code imported from a workspace
``tito module start`` made) trains on its composite path by default; the reference keeps the
fused kernels. ``integration/test_milestone_student.py`` checks it with a real workspace.
"""

from __future__ import annotations

import json
import sys

import pytest

from tinytorch.core.spatial import fused_kernels_enabled
from tinytorch.core.training import cli, provenance
from tinytorch.core.training.cifar10 import Recipe, train_cifar10

CLASSES = [f"class{i}" for i in range(10)]


@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory, write_tiny_cifar):
    """130 training and 10 test images of random pixels, in the official file layout."""
    return write_tiny_cifar(tmp_path_factory.mktemp("data"), [26] * 5, 10, CLASSES)


TINY = Recipe("tiny", "small_cnn", epochs=1, batch_size=13, lr=0.05, widths=(4, 8))


def _seen_paths(monkeypatch):
    """Record, at each training step, whether the fused kernels were switched on."""
    from tinytorch.core.training.trainer import Trainer

    seen = []
    original = Trainer.train_step

    def spy(self, x, y):
        seen.append(fused_kernels_enabled())
        return original(self, x, y)

    monkeypatch.setattr(Trainer, "train_step", spy)
    return seen


@pytest.mark.parametrize("kernels", ["fused", "composite"])
def test_kernels_choice_runs_that_path_and_says_so(kernels, tiny_cifar, tmp_path, capsys, monkeypatch):
    seen = _seen_paths(monkeypatch)
    summary = train_cifar10(TINY, root=tiny_cifar, out_dir=str(tmp_path), progress=False,
                            kernels=kernels)
    printed = capsys.readouterr().out
    assert seen and set(seen) == {kernels == "fused"}
    assert summary["kernels"] == kernels
    assert json.loads((tmp_path / "summary.json").read_text())["kernels"] == kernels
    assert f"conv: the reference {'fused kernels' if kernels == 'fused' else 'composite implementation'}" in printed
    assert fused_kernels_enabled()  # the global setting is restored afterwards


def test_kernels_default_follows_whose_spatial_is_installed(monkeypatch):
    assert provenance.implementation("spatial").kind == "reference"
    assert provenance.default_kernels() == "fused"
    student = provenance.Implementation("spatial", "tinytorch-spatial", "0.1.0+student", "student",
                                        "/ws/spatial/src/tinytorch/core/spatial", "/ws/spatial")
    monkeypatch.setattr(provenance, "implementation", lambda folder: student)
    assert provenance.default_kernels() == "composite"
    assert provenance.choose_kernels(None) == "composite"
    assert provenance.choose_kernels("fused") == "fused"
    assert provenance.kernels_line("composite").startswith("conv: your composite implementation")
    assert "your composite code is not used" in provenance.kernels_line("fused")


def test_kernels_implementation_reads_a_student_workspace(tmp_path, monkeypatch):
    """Code imported from a folder holding .tinytorch-workspace.json is the student's."""
    ws = tmp_path / "tinytorch-student" / "toymod"
    pkg = ws / "src" / "tinytorch" / "core" / "toymod"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (ws / ".tinytorch-workspace.json").write_text("{}")
    monkeypatch.syspath_prepend(str(ws / "src"))
    found = provenance.implementation("toymod")
    assert found.kind == "student" and found.workspace == str(ws.resolve())
    assert found.location == str(pkg.resolve()) and found.version is None
    (ws / ".tinytorch-workspace.json").unlink()
    assert provenance.implementation("toymod").kind == "reference"
    assert provenance.implementation("no_such_module").kind == "not installed"


def test_kernels_bad_choice_is_one_line(tiny_cifar, tmp_path, capsys):
    with pytest.raises(ValueError, match="kernels 'fast': choose 'fused' or 'composite'"):
        provenance.choose_kernels("fast")
    with pytest.raises(SystemExit) as exc:
        cli.main(["cifar10", "--kernels", "fast", "--data", tiny_cifar, "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "invalid choice: 'fast'" in capsys.readouterr().err


def test_kernels_cli_passes_the_choice(tiny_cifar, tmp_path, capsys, monkeypatch):
    seen = _seen_paths(monkeypatch)
    code = cli.main(["cifar10", "--kernels", "composite", "--data", tiny_cifar, "--out",
                     str(tmp_path), "--epochs", "1", "--limit-train", "128", "--limit-test", "10",
                     "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert seen and not any(seen)
    assert "conv: the reference composite implementation" in capsys.readouterr().out
    assert sys.modules["tinytorch.core.spatial"].fused_kernels_enabled()

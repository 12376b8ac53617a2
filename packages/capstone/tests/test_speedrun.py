"""Track 1: the speed-run harness (first crossings, the TinyTorch run on a tiny CIFAR-10).

The same recipe in PyTorch is checked in ``integration/test_capstone_torch.py`` (PyTorch is
never a dependency of a package's own tests).
"""

from __future__ import annotations

import json

import pytest

from tinytorch.capstone.speedrun import (first_crossings, recipe_named, run_speedrun, run_tinytorch,
                                         speedrun_markdown)


def _history(accs):
    return [{"epoch": i + 1, "train_seconds": 10.0 * (i + 1), "wall_seconds": 12.0 * (i + 1),
             "test_acc": a} for i, a in enumerate(accs)]


def test_first_crossings():
    hist = _history([0.5, 0.91, 0.899, 0.94, 0.95])
    out = first_crossings(hist, (0.90, 0.94, 0.99))
    assert out["0.90"] == {"epoch": 2, "train_seconds": 20.0, "wall_seconds": 24.0, "test_acc": 0.91}
    assert out["0.94"]["epoch"] == 4  # reaching the threshold exactly counts
    assert out["0.99"] is None
    assert first_crossings([], (0.9,)) == {"0.90": None}
    # a threshold between two-decimal values keeps its third decimal (not "0.91")
    assert list(first_crossings(hist, (0.905,))) == ["0.905"]
    hist[0]["test_acc"] = None  # an epoch without a measurement is skipped
    assert first_crossings(hist, (0.1,))["0.10"]["epoch"] == 2


def test_recipes():
    assert recipe_named("quick").model == "small_cnn"
    assert recipe_named("full", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe_named("turbo")


def test_first_crossings_stop_a_tinytorch_run_when_every_threshold_is_reached(tiny_cifar):
    result = run_tinytorch("quick", thresholds=(0.0,), epochs=3, root=tiny_cifar,
                           limit_train=256, limit_test=60, progress=False)
    assert len(result["history"]) == 1  # 0% is reached after the first epoch: stop
    hit = result["crossings"]["0.00"]
    assert hit["epoch"] == 1 and 0 < hit["train_seconds"] <= hit["wall_seconds"]
    assert result["framework"] == "TinyTorch" and result["train_images"] == 256
    row = result["history"][0]
    assert 0 <= row["test_acc"] <= 1 and row["img_per_s"] > 0


def test_speedrun_writes_its_report(tiny_cifar, tmp_path):
    result = run_speedrun("quick", ("tinytorch",), thresholds=(0.0, 1.01), epochs=2, root=tiny_cifar,
                          limit_train=128, limit_test=60, out_dir=str(tmp_path), progress=False)
    run = result["runs"][0]
    assert len(run["history"]) == 2  # 101% is never reached: every epoch runs
    assert run["crossings"]["1.01"] is None and run["crossings"]["0.00"]["epoch"] == 1
    assert run["history"][1]["train_seconds"] > run["history"][0]["train_seconds"]
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["runs"][0]["crossings"] == run["crossings"]
    assert saved["memory"].startswith(("freed memory kept", "the C allocator"))
    report = (tmp_path / "report.md").read_text()
    assert "| 101% | not reached |" in report and "| 0% | 1 |" in report
    assert report == speedrun_markdown(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "result.json"]  # no temp left
    with pytest.raises(ValueError, match="unknown framework"):
        run_speedrun("quick", ("jax",), root=tiny_cifar, limit_train=128, limit_test=60,
                     progress=False)


def test_speedrun_keeps_every_finished_epoch_while_running(tiny_cifar, tmp_path, monkeypatch):
    """A run cut short (a session's end, a crash) keeps the epochs it finished: the results
    file is rewritten after each one, naming the run in progress."""
    from tinytorch.capstone import speedrun

    seen = []
    real_save = speedrun._save

    def save_and_look(result, out_dir):
        real_save(result, out_dir)
        saved = json.loads((tmp_path / "result.json").read_text())
        seen.append((saved.get("in_progress", {}).get("framework"),
                     len(saved.get("in_progress", {}).get("history", [])), len(saved["runs"])))

    monkeypatch.setattr(speedrun, "_save", save_and_look)
    run_speedrun("quick", ("tinytorch",), thresholds=(1.01,), epochs=2, root=tiny_cifar,
                 limit_train=128, limit_test=60, out_dir=str(tmp_path), progress=False)
    # after epoch 1 and epoch 2 (in progress), then the finished run (nothing in progress)
    assert seen == [("TinyTorch", 1, 0), ("TinyTorch", 2, 0), (None, 0, 1)]
    partial = {"runs": [], "in_progress": {"framework": "PyTorch",
                                           "history": [{"test_acc": 0.5}, {"test_acc": 0.625}]}}
    assert "**PyTorch** — still running when this was saved, 2 epochs done: test accuracy " \
           "50.00%, 62.50%." in speedrun_markdown(partial)


def test_data_provenance_chooses_the_thresholds(tiny_cifar, tmp_path, monkeypatch):
    from tinytorch.capstone import speedrun
    from tinytorch.core.dataloader import CIFAR10

    data = speedrun.data_provenance(tiny_cifar)
    assert data["official"] is False and "do not carry over" in data["note"]
    result = run_speedrun("quick", ("tinytorch",), epochs=1, root=tiny_cifar, limit_train=128,
                          limit_test=60, progress=False)
    assert result["data"] == data
    assert result["runs"][0]["thresholds"] == list(speedrun.REBUILT_THRESHOLDS)
    assert f"Data: {data['note']}." in speedrun_markdown(result)

    monkeypatch.setattr(CIFAR10, "is_official", lambda self: True)
    assert speedrun.data_provenance(tiny_cifar)["official"] is True
    result = run_speedrun("quick", ("tinytorch",), epochs=1, root=tiny_cifar, limit_train=128,
                          limit_test=60, progress=False)
    assert result["runs"][0]["thresholds"] == list(speedrun.DEFAULT_THRESHOLDS)
    assert "94.01 %" in speedrun_markdown(result)
    assert speedrun.data_provenance(tmp_path / "empty")["official"] is None  # no data there

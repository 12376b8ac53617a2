"""plot_history (optional extra: matplotlib; skipped when it is not installed)."""

from __future__ import annotations

import pytest

from tinytorch.core.training import plot_history

HISTORY = [{"epoch": 1, "train_loss": 1.5, "train_acc": 0.4, "val_loss": 1.4, "val_acc": 0.45},
           {"epoch": 2, "train_loss": 1.0, "train_acc": 0.6, "val_loss": 1.1, "val_acc": None}]


def test_plot_history_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_history(HISTORY, str(tmp_path / "plots" / "curves.png"), "a title")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_history_needs_a_history(tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="history is empty"):
        plot_history([], str(tmp_path / "x.png"))

"""plot_history (optional extra: matplotlib; skipped when it is not installed)."""

from __future__ import annotations

import pytest

from tinytorch.core.training import plot_history
from tinytorch.core.training.plot import history_figure

HISTORY = [{"epoch": 1, "train_loss": 1.5, "train_acc": 0.4, "val_loss": 1.4, "val_acc": 0.45},
           {"epoch": 2, "train_loss": 1.0, "train_acc": 0.6, "val_loss": 1.1, "val_acc": None}]
LONG = [{"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.1 * e} for e in range(1, 6)]


def test_plot_history_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_history(HISTORY, str(tmp_path / "plots" / "curves.png"), "a title", test_acc=0.5)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_history_needs_a_history(tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="history is empty"):
        plot_history([], str(tmp_path / "x.png"))


def test_history_figure_marks_the_measured_test_accuracy():
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = history_figure(LONG, test_acc=0.4567)
    try:
        acc = fig.axes[1]
        test = [line for line in acc.get_lines() if line.get_label().startswith("test")]
        assert len(test) == 1
        assert test[0].get_label() == "test: 45.67%"
        assert list(test[0].get_xdata()) == [5] and list(test[0].get_ydata()) == [pytest.approx(45.67)]
        # the dashed reference line across the panel at the same height
        assert any(list(line.get_ydata()) == [pytest.approx(45.67)] * 2 for line in acc.get_lines())
        assert "test" not in [line.get_label() for line in fig.axes[0].get_lines()]
    finally:
        plt.close(fig)


def test_history_figure_without_test_accuracy_draws_train_only():
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = history_figure(LONG)
    try:
        assert [line.get_label() for line in fig.axes[1].get_lines()] == ["train"]
    finally:
        plt.close(fig)


def test_history_figure_ticks_whole_epochs():
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = history_figure(HISTORY)  # two epochs: matplotlib alone would tick 1.0, 1.2, ..., 2.0
    try:
        fig.canvas.draw()
        for ax in fig.axes:
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
    finally:
        plt.close(fig)


def test_history_figure_rejects_a_percentage():
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="test_acc=90.2"):
        history_figure(HISTORY, test_acc=90.2)

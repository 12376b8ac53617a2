"""Plot a training history (loss and accuracy per epoch) to a PNG. Needs matplotlib:
``pip install "tinytorch-training[plot]"``.

This file imports nothing of TinyTorch: the documentation site loads it on its own, by path,
to draw the committed results of a training run.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

__all__ = ["plot_history", "history_figure"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: works without a display
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_history needs matplotlib: pip install 'tinytorch-training[plot]'"
        ) from None
    return plt


def history_figure(history: Sequence[dict], title: str = "",
                   test_acc: float | None = None) -> Any:
    """The figure ``plot_history`` saves: loss (left) and accuracy in % (right) per epoch.

    Args:
        history: ``Trainer.fit``'s rows (``epoch``, ``train_loss``, ``train_acc``, and
            ``val_loss`` / ``val_acc`` when there was validation data).
        title: drawn above both panels.
        test_acc: the accuracy measured on the test set after training (a fraction), drawn as
            a dashed line and a point at the last epoch; ``None`` draws nothing.

    Returns:
        A ``matplotlib.figure.Figure``; close it with ``matplotlib.pyplot.close(fig)``.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    if not history:
        raise ValueError("plot_history: the history is empty (train for at least one epoch)")
    if test_acc is not None and not 0.0 <= test_acc <= 1.0:
        raise ValueError(f"plot_history: test_acc={test_acc!r} is not a fraction in [0, 1] "
                         "(pass 0.902, not 90.2)")
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        values = [row.get(key) for row in history]
        if any(v is not None for v in values):
            ax_loss.plot(epochs, values, marker="o", label=label)
    for key, label in (("train_acc", "train"), ("val_acc", "validation")):
        values = [None if row.get(key) is None else 100 * row[key] for row in history]
        if any(v is not None for v in values):
            ax_acc.plot(epochs, values, marker="o", label=label)
    if test_acc is not None:
        # measured once, after the last epoch: a point there, and a line to read it against
        ax_acc.axhline(100 * test_acc, color="tab:red", linestyle="--", linewidth=1)
        ax_acc.plot([epochs[-1]], [100 * test_acc], marker="*", markersize=12, color="tab:red",
                    linestyle="none", label=f"test: {100 * test_acc:.2f}%")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history: Sequence[dict], path: str, title: str = "",
                 test_acc: float | None = None, dpi: int = 100) -> str:
    """Draw train/val loss and accuracy curves from ``Trainer.fit``'s history; returns the path.

    Args:
        history: ``Trainer.fit``'s rows, one per epoch.
        path: the PNG to write (its folder is created).
        title: drawn above both panels.
        test_acc: the test accuracy measured after training (a fraction), marked on the
            accuracy panel.
        dpi: pixels per inch of the PNG (the figure is 10 × 4 inches).
    """
    plt = _pyplot()
    fig = history_figure(history, title, test_acc)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path

"""Plot a training history (loss and accuracy per epoch) to a PNG. Needs matplotlib:
``pip install "tinytorch-training[plot]"``.
"""

from __future__ import annotations

import os
from typing import Sequence

__all__ = ["plot_history"]


def plot_history(history: Sequence[dict], path: str, title: str = "") -> str:
    """Draw train/val loss and accuracy curves from ``Trainer.fit``'s history; returns the path."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: works without a display
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_history needs matplotlib: pip install 'tinytorch-training[plot]'"
        ) from None
    if not history:
        raise ValueError("plot_history: the history is empty (train for at least one epoch)")
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
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

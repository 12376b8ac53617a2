"""tinytorch.core.training — losses, metrics, the Trainer, checkpoints.

    >>> from tinytorch.core.training import Trainer, CrossEntropyLoss
    >>> trainer = Trainer(model, optimizer, CrossEntropyLoss(label_smoothing=0.1))
    >>> history = trainer.fit(train_loader, val_loader, epochs=10)

The CIFAR-10 recipes (``tito train cifar10``) live in :mod:`tinytorch.core.training.cifar10`.
"""

from .callbacks import BestModel, Callback, EarlyStopping
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .losses import (BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss,
                     binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss)
from .losses_more import (BCELoss, HuberLoss, KLDivLoss, L1Loss, SmoothL1Loss,
                          binary_cross_entropy, huber_loss, kl_div, l1_loss, smooth_l1_loss)
from .metrics import RunningMean, accuracy, confusion_matrix, top_k_accuracy
from .plot import plot_history
from .progress import ProgressBar
from .trainer import Trainer

__all__ = [
    "Trainer", "Callback", "EarlyStopping", "BestModel",
    "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
    "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits",
    "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "KLDivLoss",
    "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "kl_div",
    "accuracy", "top_k_accuracy", "confusion_matrix", "RunningMean",
    "save_checkpoint", "load_checkpoint", "CheckpointError", "ProgressBar", "plot_history",
]

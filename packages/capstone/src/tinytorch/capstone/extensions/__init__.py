"""Track 2 — algorithm extensions: residual blocks, GroupNorm (tinytorch-spatial's, re-exported),
mixup, label smoothing and a warm-up + cosine schedule, each with a before/after measurement
on CIFAR-10 (:mod:`.experiments`)."""

from .groupnorm import GroupNorm, group_norm
from .mixing import mixup, one_hot, smooth_labels
from .residual import ResidualBlock, make_blocks, norm_layer
from .schedules import WarmupCosine, warmup_cosine_factor

__all__ = ["GroupNorm", "group_norm", "ResidualBlock", "make_blocks", "norm_layer", "mixup",
           "one_hot", "smooth_labels", "WarmupCosine", "warmup_cosine_factor"]

"""tinytorch.core.optimizers — turn gradients into better weights.

    >>> from tinytorch.core.optimizers import SGD, CosineAnnealingLR
    >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> sched = CosineAnnealingLR(opt, T_max=epochs)
    >>> for epoch in range(epochs):
    ...     for x, y in batches:
    ...         opt.zero_grad()
    ...         loss_fn(model(x), y).backward()
    ...         opt.step()
    ...     sched.step()

Every optimizer follows PyTorch's update equations exactly (an integration test checks the
weights against torch.optim step for step); state dicts are flat dicts of numbers and numpy
arrays, ready for ``np.savez``.
"""

from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm_
from .optimizer import Optimizer
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .schedulers import CosineAnnealingLR, LinearWarmup, LRScheduler, OneCycleLR, StepLR
from .schedulers_more import LambdaLR, LinearLR, ReduceLROnPlateau, SequentialLR
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop",
    "LRScheduler", "StepLR", "CosineAnnealingLR", "LinearWarmup", "OneCycleLR",
    # beyond the lesson (given): more optimizers and schedules
    "Adagrad", "NAdam", "RAdam",
    "LambdaLR", "LinearLR", "SequentialLR", "ReduceLROnPlateau",
    "clip_grad_norm_",
]

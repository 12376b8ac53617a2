"""The PyTorch twin of a TinyTorch network, and the pieces of a PyTorch training run.

:func:`torch_twin` builds the same network in ``torch.nn`` with a copy of the weights;
:func:`torch_train_epoch` trains it for one epoch on a TinyTorch loader's batches and
:func:`torch_evaluate` measures it, so both frameworks see the same data. The speed-run
(:mod:`.speedrun`) and its airbench twin (:mod:`.speedrun_airbench`) both import this module,
which imports neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tinytorch.core.benchmarking import import_torch
from tinytorch.core.dense import Sequential
from tinytorch.core.training.cifar10 import tta_logits

__all__ = ["torch_batch", "torch_evaluate", "torch_run_info", "torch_train_epoch", "torch_twin"]


def torch_twin(model: Sequential, torch: Any = None) -> Any:
    """The same network in ``torch.nn``, with a copy of ``model``'s weights and buffers.

    Supports the layers tinytorch-training's recipes use (Conv2d, BatchNorm2d, ReLU, GELU,
    MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dense, Dropout, airbench's Mul); state-dict
    keys match PyTorch's, and each parameter's ``requires_grad`` is copied too (a frozen whitening
    conv or batch-norm scale stays frozen).

    Raises:
        TypeError: a layer with no PyTorch counterpart here.
    """
    torch = torch or import_torch()
    nn = torch.nn
    layers = []
    for name, layer in model.named_children():
        kind = type(layer).__name__
        if kind == "Conv2d":
            twin = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                             layer.padding, layer.dilation, layer.groups, bias=layer.bias is not None)
        elif kind == "BatchNorm2d":
            twin = nn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
        elif kind == "ReLU":
            twin = nn.ReLU()
        elif kind == "GELU":
            twin = nn.GELU(approximate=layer.approximate)
        elif kind == "MaxPool2d":
            twin = nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding, layer.dilation)
        elif kind == "AvgPool2d":
            twin = nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding,
                                count_include_pad=layer.count_include_pad)
        elif kind == "AdaptiveAvgPool2d":
            twin = nn.AdaptiveAvgPool2d(layer.output_size)
        elif kind == "Flatten":
            twin = nn.Flatten(layer.start_dim, layer.end_dim)
        elif kind in ("Dense", "Linear"):
            twin = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
        elif kind == "Dropout":
            twin = nn.Dropout(layer.p)
        elif kind == "Mul":
            twin = _torch_mul(torch, layer.scale)
        else:
            raise TypeError(f"torch_twin: no PyTorch counterpart for layer {name} ({kind})")
        layers.append(twin)
    net = nn.Sequential(*layers)
    state = {k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()}
    net.load_state_dict(state)
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    for name, p in net.named_parameters():
        p.requires_grad_(name not in frozen)
    return net


def _torch_mul(torch: Any, scale: float) -> Any:
    class Mul(torch.nn.Module):  # torch.nn has no constant-factor layer
        def __init__(self) -> None:
            super().__init__()
            self.scale = scale

        def forward(self, x: Any) -> Any:
            return x * self.scale

    return Mul()


def torch_batch(x: Any, y: Any, torch: Any) -> tuple:
    """A TinyTorch loader's batch as torch tensors: the images as they are, labels as int64."""
    return (torch.from_numpy(np.ascontiguousarray(x.data)),
            torch.from_numpy(np.asarray(y.data, dtype=np.int64)))


def torch_train_epoch(net: Any, train: Any, loss_fn: Any, optimizer: Any, scheduler: Any,
                      torch: Any, after_step: Callable[[], bool] | None = None) -> tuple:
    """One epoch of a torch network over ``train``: (seconds, images seen, summed loss).

    Each batch: forward, loss, backward, an optimizer step and a scheduler step. A
    ``reduction="sum"`` loss (airbench's) is summed over its batch already; a mean loss is
    weighted by the batch size. ``after_step`` runs after every step; when it returns True the
    epoch ends there (airbench's step budget).
    """
    net.train()
    t0 = time.perf_counter()
    loss_sum, seen = 0.0, 0
    for x, y in train:
        xb, yb = torch_batch(x, y, torch)
        loss = loss_fn(net(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += float(loss.detach()) * (1 if loss_fn.reduction == "sum" else xb.shape[0])
        seen += xb.shape[0]
        if after_step is not None and after_step():
            break
    return time.perf_counter() - t0, seen, loss_sum


def torch_run_info(net: Any, train: Any, test: Any, seed: int, torch: Any) -> dict:
    """What the result of a PyTorch run records besides its epochs."""
    return {"parameters": int(sum(p.numel() for p in net.parameters())),
            "train_images": len(train.dataset), "test_images": len(test.dataset), "seed": seed,
            "torch_version": str(torch.__version__), "torch_threads": int(torch.get_num_threads())}


def torch_evaluate(net: Any, test: Any, loss_fn: Any, tta: int, torch: Any) -> tuple:
    """(accuracy, mean loss) of a torch network over ``test``, through :func:`tta_logits`."""
    net.eval()
    correct, total, test_loss = 0, 0, 0.0
    with torch.no_grad():
        for x, y in test:
            xb, yb = torch_batch(x, y, torch)
            out = net(xb)
            test_loss += float(loss_fn(out, yb)) * yb.shape[0]
            logits = out.numpy()
            if tta:  # the same views, weights and helper as the TinyTorch run
                logits = tta_logits(lambda a: net(torch.from_numpy(a)).numpy(), x.data, int(tta))
            correct += int((logits.argmax(1) == yb.numpy()).sum())
            total += yb.shape[0]
    return correct / total, test_loss / total

"""The PyTorch twin of the training module's ``airbench`` recipe, written as airbench94 does.

Same initial weights (copied by :func:`.twin.torch_twin`, frozen tensors included), the
same batches (the same TinyTorch loader object, alternating flips and translations included),
and the same recipe, in PyTorch's own idioms rather than TinyTorch's code: ``torch.optim.SGD``
with two parameter groups, ``torch.optim.lr_scheduler.LambdaLR``, the summed
``nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum")``, and the lookahead as
``Tensor.lerp_`` over the state dict. So a difference between the two runs is a difference
between the frameworks (or between TinyTorch's parts and PyTorch's), not a shared bug.
"""

from __future__ import annotations

import math
from typing import Any


from tinytorch.core.spatial import BatchNorm2d
from tinytorch.core.training.airbench import airbench_lr_factor, airbench_total_steps

from .twin import torch_evaluate, torch_run_info, torch_train_epoch, torch_twin

__all__ = ["torch_airbench_optimizer", "TorchLookahead", "run_torch_airbench", "twin_table"]


def torch_airbench_optimizer(model: Any, net: Any, recipe: Any, torch: Any) -> Any:
    """``torch.optim.SGD`` with the recipe's two groups, matched to TinyTorch's by name."""
    momentum = recipe.momentum
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    lr = recipe.lr / kilostep
    wd = recipe.weight_decay * recipe.batch_size / kilostep
    lr_biases = lr * recipe.options["bias_lr_scale"]
    bn_names = {f"{name}.bias" for name, m in model.named_children() if isinstance(m, BatchNorm2d)}
    params = dict(net.named_parameters())
    norm_biases = [p for k, p in params.items() if k in bn_names and p.requires_grad]
    others = [p for k, p in params.items() if k not in bn_names and p.requires_grad]
    return torch.optim.SGD([dict(params=norm_biases, lr=lr_biases, weight_decay=wd / lr_biases),
                            dict(params=others, lr=lr, weight_decay=wd / lr)],
                           momentum=momentum, nesterov=True)


class TorchLookahead:
    """airbench's lookahead in torch ops: ``ema.lerp_(w, 1 - decay); w.copy_(ema)``."""

    def __init__(self, net: Any) -> None:
        self.ema = {k: v.clone() for k, v in net.state_dict().items()}

    def update(self, net: Any, decay: float) -> None:
        for (k, w), ema in zip(net.state_dict().items(), self.ema.values()):
            if w.is_floating_point():
                ema.lerp_(w, 1 - decay)
                w.copy_(ema)


def run_torch_airbench(parts: Any, recipe: Any, torch: Any, run: Any, seed: int) -> dict:
    """Train the twin like airbench94 on ``parts.train``; ``run`` records every epoch."""
    train, test = parts.train, parts.test
    net = torch_twin(parts.model, torch)
    optimizer = torch_airbench_optimizer(parts.model, net, recipe, torch)
    total = airbench_total_steps(len(train), recipe.epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: airbench_lr_factor(s, total))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing, reduction="sum")
    eval_loss = torch.nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    lookahead = TorchLookahead(net)
    every = recipe.options["lookahead_every"]
    step = 0

    def after_step() -> bool:
        """airbench's lookahead every few steps, and a last one at the step budget."""
        nonlocal step
        step += 1
        with torch.no_grad():
            if step % every == 0:
                lookahead.update(net, 0.95 ** 5 * (step / total) ** 3)
            if step >= total:
                lookahead.update(net, 1.0)
        return step >= total

    for epoch in range(1, math.ceil(recipe.epochs) + 1):
        net[0].bias.requires_grad_(epoch - 1 < recipe.options["whiten_bias_epochs"])
        seconds, seen, loss_sum = torch_train_epoch(net, train, loss_fn, optimizer, scheduler,
                                                    torch, after_step)
        acc, test_loss = torch_evaluate(net, test, eval_loss, recipe.tta, torch)
        if run.record(epoch, seconds, seen, loss_sum / seen, acc, test_loss) or step >= total:
            break
    return run.result("PyTorch", recipe, torch_run_info(net, train, test, seed, torch))


def twin_table(result: dict) -> str:
    """The two frameworks' epochs side by side (a markdown table), from a speed-run result
    holding a TinyTorch and a PyTorch run; empty when it holds fewer."""
    runs = {run["framework"]: run for run in result.get("runs", [])}
    if not {"TinyTorch", "PyTorch"} <= set(runs):
        return ""
    ours, theirs = runs["TinyTorch"]["history"], runs["PyTorch"]["history"]
    lines = ["| epoch | train loss TinyTorch | train loss PyTorch | rel. diff | test loss TinyTorch "
             "| test loss PyTorch | test acc TinyTorch | test acc PyTorch |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for a, b in zip(ours, theirs):
        rel = abs(a["train_loss"] - b["train_loss"]) / max(abs(b["train_loss"]), 1e-12)
        lines.append(f"| {a['epoch']} | {a['train_loss']:.6f} | {b['train_loss']:.6f} | {rel:.1e} | "
                     f"{a['test_loss']:.6f} | {b['test_loss']:.6f} | {a['test_acc'] * 100:.2f}% | "
                     f"{b['test_acc'] * 100:.2f}% |")
    return "\n".join(lines) + "\n"

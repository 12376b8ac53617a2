"""Magnitude pruning: set the smallest weights to zero, and keep them there.

A trained network has many weights close to zero; removing them barely changes what it
computes. *Unstructured* pruning zeroes individual weights by magnitude:

* **per layer** — every layer loses the same fraction of its weights (its own threshold);
* **global** — one threshold across all layers: the k smallest |w| of the whole model go,
  wherever they are. Layers with many redundant weights (a big first Dense) lose more than
  small, crowded ones (a 3×3 conv on RGB).

The zeros are kept by a boolean *mask* per weight. Fine-tuning after pruning would bring the
pruned weights back (their gradients are not zero), so the masks are applied again after
every optimizer step — by :class:`MaskedOptimizer` (wraps any optimizer) or by
:class:`PruningCallback` (for :class:`~tinytorch.core.training.Trainer`).

Sparsity is always *measured* — :func:`sparsity_report` counts the zeros in the weights
themselves, not the masks' intent.

Unstructured zeros do not make numpy faster (a dense matmul multiplies zeros as fast as
anything else); they make the model *compressible*. To make it smaller and faster in
numpy, remove whole neurons or channels: :mod:`tinytorch.core.compression.structured`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from tinytorch.core.layers import Dense, Module
from tinytorch.core.spatial import Conv2d
from tinytorch.core.training import Callback

__all__ = ["prunable_weights", "magnitude_mask", "global_magnitude_masks", "PruningMasks",
           "prune_magnitude", "MaskedOptimizer", "PruningCallback", "SparsityReport",
           "sparsity_report"]

PRUNABLE_TYPES = (Dense, Conv2d)


def prunable_weights(model: Module, types: tuple = PRUNABLE_TYPES) -> list:
    """``(name, weight)`` of every Dense/Conv2d weight in ``model`` (biases and BN excluded).

    Biases and batch-norm parameters are a tiny fraction of a model and matter a lot per
    value, so magnitude pruning leaves them alone (as is customary).
    """
    found = []
    for mod_name, m in model.named_modules():
        if isinstance(m, types) and getattr(m, "weight", None) is not None:
            found.append((f"{mod_name}.weight" if mod_name else "weight", m.weight))
    return found


def _check_sparsity(sparsity: Any, who: str) -> float:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(sparsity) <= 1.0:
        raise ValueError(f"{who}: sparsity must be a number in [0, 1], got {sparsity!r}")
    return float(sparsity)


def _count(sparsity: float, n: int) -> int:
    """How many of ``n`` weights to remove for ``sparsity`` (rounded to the nearest)."""
    return min(n, int(round(sparsity * n)))


def magnitude_mask(weight: Any, sparsity: float) -> np.ndarray:
    """Boolean keep-mask of ``weight``'s shape that removes its ``sparsity`` smallest |w|.

    Exactly ``round(sparsity · size)`` entries are False (ties broken by position), so a
    layer of 1,000 weights at sparsity 0.9 keeps exactly 100.

    Args:
        weight: a numpy array or Tensor.
        sparsity: fraction of entries to remove, in [0, 1].
    """
    w = np.asarray(weight.data if hasattr(weight, "data") and not isinstance(weight, np.ndarray)
                   else weight)
    sparsity = _check_sparsity(sparsity, "magnitude_mask")
    k = _count(sparsity, w.size)
    ### BEGIN SOLUTION
    ### HINT: np.argpartition finds the k smallest |w| without sorting everything
    keep = np.ones(w.size, dtype=bool)
    if k > 0:
        smallest = np.argpartition(np.abs(w).ravel(), k - 1)[:k]
        keep[smallest] = False
    return keep.reshape(w.shape)
    ### END SOLUTION


def global_magnitude_masks(weights: Iterable[Any], sparsity: float) -> tuple:
    """Keep-masks for several weights from ONE threshold across all of them.

    The ``round(sparsity · total)`` smallest magnitudes of all weights together are removed,
    wherever they are. Returns ``(masks, threshold)``: a list of boolean masks in the order of
    ``weights`` and the largest magnitude that was removed (``0.0`` when nothing was).
    """
    arrays = [np.asarray(w.data if not isinstance(w, np.ndarray) else w) for w in weights]
    sparsity = _check_sparsity(sparsity, "global_magnitude_masks")
    if not arrays:
        return [], 0.0
    total = sum(a.size for a in arrays)
    k = _count(sparsity, total)
    ### BEGIN SOLUTION
    ### HINT: concatenate every |w| into one vector, remove its k smallest, split the mask back
    magnitudes = np.concatenate([np.abs(a).ravel() for a in arrays])
    keep = np.ones(total, dtype=bool)
    threshold = 0.0
    if k > 0:
        smallest = np.argpartition(magnitudes, k - 1)[:k]
        keep[smallest] = False
        threshold = float(magnitudes[smallest].max())
    masks, start = [], 0
    for a in arrays:
        masks.append(keep[start:start + a.size].reshape(a.shape))
        start += a.size
    return masks, threshold
    ### END SOLUTION


class PruningMasks:
    """Masks for some of a model's parameters, and the means to keep them applied.

    ``masks.apply()`` zeroes every masked weight in place (call it after each optimizer step
    when fine-tuning, or let :class:`MaskedOptimizer` / :class:`PruningCallback` do it).

    Args:
        params: ``{name: (parameter, keep_mask)}``.
        threshold: the global magnitude threshold that produced the masks, if any.
    """

    def __init__(self, params: Mapping[str, tuple], threshold: float | None = None) -> None:
        self.params: dict = {}
        for name, (param, mask) in params.items():
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != param.shape:
                raise ValueError(f"PruningMasks: mask for '{name}' has shape {mask.shape}, the "
                                 f"parameter has {param.shape}")
            self.params[name] = (param, mask)
        self.threshold = threshold

    def apply(self, grads: bool = False) -> None:
        """Zero the pruned weights in place (and their gradients too, with ``grads=True``).

        For every ``(param, keep_mask)``: ``param.data *= keep_mask`` in place (same array, so
        an optimizer holding it sees the zeros); with ``grads=True`` and a gradient present,
        ``param.grad.data *= keep_mask`` too.
        """
        for param, mask in self.params.values():
            ### BEGIN SOLUTION
            ### HINT: in place (out=param.data): the optimizer holds this very array; a bool mask is 0/1
            ### HINT: with grads=True do the same to param.grad.data — when there is a gradient
            np.multiply(param.data, mask, out=param.data, casting="unsafe")
            if grads and param.grad is not None:
                np.multiply(param.grad.data, mask, out=param.grad.data, casting="unsafe")
            ### END SOLUTION

    def masks(self) -> dict:
        """``{name: keep_mask}`` (e.g. to save with ``np.savez``)."""
        return {name: mask for name, (_, mask) in self.params.items()}

    @property
    def sparsity(self) -> float:
        """Fraction of masked-out entries over all masked parameters (what the masks ask for)."""
        total = sum(mask.size for _, mask in self.params.values())
        removed = sum(int(mask.size - np.count_nonzero(mask)) for _, mask in self.params.values())
        return removed / total if total else 0.0

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return f"PruningMasks({len(self)} parameters, sparsity={self.sparsity:.4f})"


def prune_magnitude(model: Module, sparsity: float | Mapping[str, float], scope: str = "global",
                    types: tuple = PRUNABLE_TYPES) -> PruningMasks:
    """Magnitude-prune ``model``'s Dense/Conv2d weights in place; returns the masks.

    Args:
        model: any Module.
        sparsity: the fraction of weights to remove — a number, or (with ``scope="layer"``) a
            dict ``{weight name: fraction}`` (weights not named are left alone).
        scope: ``"global"`` (one threshold across all layers) or ``"layer"`` (each layer loses
            the same fraction).
        types: the layer classes whose ``weight`` is pruned.

    Example:
        >>> masks = prune_magnitude(model, 0.7)             # 70 % of all weights, one threshold
        >>> opt = MaskedOptimizer(SGD(model.parameters(), lr=0.01), masks)  # fine-tune
    """
    weights = prunable_weights(model, types)
    if not weights:
        raise ValueError(f"prune_magnitude: {type(model).__name__} has no "
                         f"{'/'.join(t.__name__ for t in types)} weights to prune")
    threshold = None
    if scope == "global":
        if isinstance(sparsity, Mapping):
            raise TypeError("prune_magnitude: a per-weight sparsity dict needs scope='layer'")
        masks, threshold = global_magnitude_masks([w for _, w in weights], sparsity)
        chosen = {name: (w, m) for (name, w), m in zip(weights, masks)}
    elif scope == "layer":
        if isinstance(sparsity, Mapping):
            unknown = sorted(set(sparsity) - {name for name, _ in weights})
            if unknown:
                raise KeyError(f"prune_magnitude: no prunable weight named {unknown}; the model "
                               f"has {[name for name, _ in weights]}")
            chosen = {name: (w, magnitude_mask(w.data, sparsity[name]))
                      for name, w in weights if name in sparsity}
        else:
            chosen = {name: (w, magnitude_mask(w.data, sparsity)) for name, w in weights}
    else:
        raise ValueError(f"prune_magnitude: scope must be 'global' or 'layer', got {scope!r}")
    masks_obj = PruningMasks(chosen, threshold)
    masks_obj.apply()
    return masks_obj


class MaskedOptimizer:
    """Wrap an optimizer so pruned weights stay zero: mask the gradients, step, mask the weights.

    Everything else (``zero_grad``, ``param_groups``, ``state_dict``, schedulers built on the
    inner optimizer...) is the wrapped optimizer's.

    Args:
        optimizer: any optimizer with ``step()``.
        masks: the :class:`PruningMasks` to keep applied.
    """

    def __init__(self, optimizer: Any, masks: PruningMasks) -> None:
        self.optimizer = optimizer
        self.masks = masks

    def step(self, *args: Any, **kwargs: Any) -> Any:
        """One step of the wrapped optimizer, with the masks applied before and after."""
        self.masks.apply(grads=True)  # momentum/Adam state never sees a pruned weight's gradient
        out = self.optimizer.step(*args, **kwargs)
        self.masks.apply()  # weight decay or momentum could still have moved them
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["optimizer"], name)


class PruningCallback(Callback):
    """A Trainer callback that re-applies pruning masks after every optimizer step.

    Args:
        masks: the :class:`PruningMasks` to keep applied.
    """

    def __init__(self, masks: PruningMasks) -> None:
        self.masks = masks

    def on_train_begin(self, trainer: Any) -> None:
        self.masks.apply()

    def on_batch_end(self, trainer: Any, step: int, logs: dict) -> None:
        self.masks.apply()


@dataclass
class SparsityReport:
    """Zeros counted in a model's weights: per layer and in total.

    Attributes:
        layers: ``(name, shape, zeros, size)`` for each weight counted.
    """

    layers: list = field(default_factory=list)

    @property
    def zeros(self) -> int:
        """Zero entries over all counted weights."""
        return sum(row[2] for row in self.layers)

    @property
    def size(self) -> int:
        """Entries over all counted weights."""
        return sum(row[3] for row in self.layers)

    @property
    def sparsity(self) -> float:
        """zeros / size over all counted weights."""
        return self.zeros / self.size if self.size else 0.0

    def layer_sparsity(self) -> dict:
        """``{name: zeros / size}`` per weight."""
        return {name: zeros / size for name, _, zeros, size in self.layers}

    def __str__(self) -> str:
        width = max([len("total")] + [len(row[0]) for row in self.layers])
        lines = [f"{'weight':<{width}}  {'shape':<18} {'zeros':>10} {'size':>10} {'sparsity':>9}"]
        for name, shape, zeros, size in self.layers:
            lines.append(f"{name:<{width}}  {str(tuple(shape)):<18} {zeros:>10,} {size:>10,} "
                         f"{zeros / size:>9.2%}")
        lines.append(f"{'total':<{width}}  {'':<18} {self.zeros:>10,} {self.size:>10,} "
                     f"{self.sparsity:>9.2%}")
        return "\n".join(lines)


def sparsity_report(model: Module, all_parameters: bool = False) -> SparsityReport:
    """Count the exact zeros in ``model``'s Dense/Conv2d weights (or in every parameter).

    Args:
        model: any Module.
        all_parameters: count every parameter (biases, BN...), not only prunable weights.

    Returns:
        a :class:`SparsityReport` with one ``(name, shape, zeros, size)`` row per parameter,
        ``zeros`` being the number of entries exactly equal to 0.
    """
    if all_parameters:
        params = list(model.named_parameters())
    else:
        params = prunable_weights(model)
    report = SparsityReport()
    for name, p in params:
        ### BEGIN SOLUTION
        ### HINT: count what is really in the weights (np.count_nonzero), not what a mask intended
        zeros = int(p.data.size - np.count_nonzero(p.data))
        ### END SOLUTION
        report.layers.append((name, tuple(p.shape), zeros, int(p.data.size)))
    return report


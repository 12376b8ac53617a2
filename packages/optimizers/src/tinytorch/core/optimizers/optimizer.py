"""The ``Optimizer`` base class: parameter groups, ``zero_grad``, ``step`` and state dicts.

An optimizer owns a list of *parameter groups*. Each group is a dict holding its tensors
under ``"params"`` and its own hyper-parameters (``"lr"``, ``"momentum"``, ...), filled in
from the optimizer's defaults where the group does not say otherwise — PyTorch's format, so

    SGD([{"params": backbone, "lr": 1e-3}, {"params": head}], lr=1e-2, momentum=0.9)

trains the head ten times faster than the backbone. Learning-rate schedulers change
``group["lr"]`` between steps; ``step()`` reads the hyper-parameters afresh every time.

Per-parameter state (momentum buffers, Adam's moving averages) lives in ``self.state[p]``.

State dicts are *flat*: string keys, values that are numbers or numpy arrays, nothing
pickled, so ``np.savez(path, **opt.state_dict())`` writes a checkpoint and
``opt.load_state_dict(np.load(path))`` reads it back::

    param_groups.0.lr          0.01          one key per hyper-parameter of each group
    param_groups.0.betas       [0.9 0.999]   tuples are stored as arrays
    param_groups.0.params      [0 1 2]       which parameters (by position) the group holds
    state.1.exp_avg            array(...)    per-parameter state, by the same positions
    state.1.step               3
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from tinytorch.core.autograd import enable_grad
from tinytorch.core.tensor import Tensor

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a hyper-parameter without a default (PyTorch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def _plain(value: Any) -> Any:
    """A value read back from a state dict (or an .npz file) as the Python object it was."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value.item()
        if value.ndim == 1 and value.dtype.kind in "biuf":
            return tuple(v.item() for v in value)
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


class Optimizer:
    """Base class of every optimizer: holds the parameter groups and the per-parameter state.

    Subclasses pass their hyper-parameters' defaults, check them in ``_check_group`` and
    implement ``_update(p, g, state, group)``, which updates one parameter's array in place
    (``_step_group`` calls it for each parameter of a group that has a gradient).

    Args:
        params: an iterable of Tensors that require grad, or of dicts (parameter groups)
            each with a ``"params"`` entry and any hyper-parameters it overrides.
        defaults: every hyper-parameter of the optimizer with its default value.
    """

    def __init__(self, params: Iterable, defaults: dict) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, "
                "got a single Tensor (wrap it in a list)"
            )
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list = []
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters (e.g. a layer unfrozen during fine-tuning).

        Hyper-parameters the group leaves out take the optimizer's defaults.
        """
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{name}: a parameter group is a dict, got {type(group).__name__}")
        if "params" not in group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: parameter {i} of group {len(self.param_groups)} is a "
                    f"{type(p).__name__}, not a Tensor"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: parameter {i} is not a leaf tensor (it was computed from others); "
                    "optimize the tensors you created, or detach() this one"
                )
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: parameter {i} has dtype {p.dtype}; it must be floating")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{name}: a parameter appears twice (in one group or in two)")
        new = {"params": params}
        for key, value in group.items():
            if key != "params":
                new[key] = value
        for key, default in self.defaults.items():
            if key not in new:
                if default is required:
                    raise ValueError(f"{name}: parameter group has no '{key}' and there is no default")
                new[key] = default
        self._check_group(new)
        self.param_groups.append(new)

    def _check_group(self, group: dict) -> None:
        """Refuse invalid hyper-parameters, naming the optimizer, the parameter and its value."""
        if group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate lr={group['lr']} (must be >= 0)")

    def _invalid(self, what: str, value: Any, rule: str) -> ValueError:
        return ValueError(f"{type(self).__name__}: invalid {what}={value} ({rule})")

    def _check_nonnegative(self, group: dict, *names: str) -> None:
        """Refuse a negative value of any of the options ``names``."""
        for name in names:
            if group[name] < 0:
                raise self._invalid(name, group[name], "must be >= 0")

    def _check_betas(self, group: dict) -> None:
        """``group["betas"]`` as a tuple of two decay rates in [0, 1), or a ValueError."""
        betas = tuple(group["betas"])
        if len(betas) != 2:
            raise self._invalid("betas", betas, "need two values (beta1, beta2)")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise self._invalid(f"beta{i + 1} (betas[{i}])", beta, "must be in [0, 1)")
        group["betas"] = betas

    # ------------------------------------------------------------------ the loop's two calls
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient before the next backward pass.

        Args:
            set_to_none: set ``.grad`` to None (the default, as in PyTorch: the next backward
                allocates fresh arrays) or else fill the existing arrays with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place (``p.data`` keeps its array).

        Args:
            closure: optional function that re-evaluates the model and returns the loss
                (it runs with grad mode on); its result is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict) -> None:
        """Update every parameter of ``group`` that has a gradient, one ``_update`` each."""
        for p in group["params"]:
            if p.grad is not None:
                self._update(p.data, self._grad(p.grad, group), self._state(p), group)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One step of the array ``p`` (in place) given its gradient ``g``: each optimizer's
        own rule. ``state`` is ``p``'s dict (empty on the first step), ``group`` its options."""
        raise NotImplementedError

    @staticmethod
    def _grad(grad: Tensor, group: dict) -> np.ndarray:
        """The gradient an update uses: the array of ``grad`` (a parameter's ``.grad``), negated
        when the group has ``maximize=True`` (climb the objective instead of descending it, as
        in PyTorch)."""
        g = grad.data
        return -g if group.get("maximize", False) else g

    def _state(self, p: Tensor) -> dict:
        """The state dict of parameter ``p`` (created empty on first use)."""
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {}
        return st

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """A flat copy of the optimizer's state: string keys, numbers and numpy arrays.

        See the module docstring for the key layout; ``np.savez(path, **sd)`` stores it.
        """
        out: dict = {}
        index = 0
        for g, group in enumerate(self.param_groups):
            for key, value in group.items():
                if key == "params":
                    continue
                out[f"param_groups.{g}.{key}"] = (
                    np.asarray(value) if isinstance(value, (tuple, list)) else value
                )
            out[f"param_groups.{g}.params"] = np.arange(index, index + len(group["params"]))
            for p in group["params"]:
                for key, value in self.state.get(p, {}).items():
                    out[f"state.{index}.{key}"] = (
                        value.copy() if isinstance(value, np.ndarray) else value
                    )
                index += 1
        return out

    def load_state_dict(self, state_dict: Any) -> None:
        """Restore what :meth:`state_dict` returned (or an ``np.load`` of it), copying arrays.

        The optimizer must hold the same number of groups and parameters, of the same shapes.
        """
        name = type(self).__name__
        sd = {str(k): state_dict[k] for k in state_dict.keys()}
        params = [p for group in self.param_groups for p in group["params"]]
        n_groups = len({k.split(".")[1] for k in sd if k.startswith("param_groups.")})
        if n_groups != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state has {n_groups} parameter groups, this "
                f"optimizer has {len(self.param_groups)}"
            )
        index = 0
        for g, group in enumerate(self.param_groups):
            saved = np.asarray(sd.get(f"param_groups.{g}.params", []))
            if saved.size != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {g} holds {saved.size} parameters in the "
                    f"state but {len(group['params'])} here"
                )
            index += saved.size
        states: dict = {}
        for key, value in sd.items():
            parts = key.split(".", 2)
            if parts[0] == "param_groups" and parts[2] != "params":
                self.param_groups[int(parts[1])][parts[2]] = _plain(value)
            elif parts[0] == "state":
                i = int(parts[1])
                if not 0 <= i < len(params):
                    raise ValueError(f"{name}.load_state_dict: '{key}' names parameter {i}, "
                                     f"but there are {len(params)}")
                p = params[i]
                if isinstance(value, np.ndarray) and value.ndim > 0:
                    if value.shape != p.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: '{key}' has shape {value.shape} but "
                            f"parameter {i} has shape {p.shape}"
                        )
                    value = np.array(value, dtype=p.dtype)  # an owned copy in p's dtype
                else:
                    value = _plain(value)
                states.setdefault(p, {})[parts[2]] = value
        self.state = states

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for g, group in enumerate(self.param_groups):
            lines.append(f"  group {g}: {len(group['params'])} parameters")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines + [")"])

"""Architecture specs: a model's structure as plain JSON, so it can be rebuilt without pickle.

A registry stores two things per model version: the weights (numbers, in an ``.npz``) and the
*architecture* — which layers, in which order, with which settings. Pickling the model object
would store both, but unpickling runs code from the file. A spec is data only:

    >>> from tinytorch.core.layers import Dense
    >>> from tinytorch.core.activations import ReLU
    >>> from tinytorch.core.dense import Sequential
    >>> spec = model_to_spec(Sequential([Dense(4, 8), ReLU(), Dense(8, 3)]))
    >>> [layer["type"] for layer in spec["layers"]]
    ['Dense', 'ReLU', 'Dense']
    >>> model_from_spec(spec)
    Sequential(
      (0): Dense(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Dense(in_features=8, out_features=3, bias=True)
    )

Every layer type has two small functions — its settings as a dict, and a constructor call from
that dict. Sequential models (including ``MLP``, which is a Sequential) nest: a Sequential's
spec lists its children by name, so the rebuilt model's ``state_dict`` keys are the original's.
:func:`register_layer` adds a layer type of your own.
"""

from __future__ import annotations

from typing import Any, Callable

from tinytorch.core.activations import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten, Identity
from tinytorch.core.spatial import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,
                                    Conv2d, MaxPool2d)

__all__ = ["model_to_spec", "model_from_spec", "register_layer", "supported_layers", "SpecError",
           "SPEC_FORMAT"]

SPEC_FORMAT = 1


class SpecError(TypeError):
    """A model (or a spec) uses a layer type the spec format does not know."""


def _jsonable(value: Any) -> Any:
    """Tuples to lists, numpy scalars to Python numbers (JSON has neither)."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _pair(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# type name -> (class, settings of a layer, constructor from settings)
_LAYERS: dict[str, tuple[type, Callable[[Any], dict], Callable[[dict], Any]]] = {}


def register_layer(cls: type, get_config: Callable[[Any], dict],
                   from_config: Callable[[dict], Any], name: str | None = None) -> None:
    """Teach the spec format a layer type.

    Args:
        cls: the layer class (matched exactly, not by subclass).
        get_config: the layer's constructor settings as a JSON-able dict.
        from_config: a new layer from such a dict (its weights come from the state dict later).
        name: the type name written to the spec (default: the class name).
    """
    _LAYERS[name or cls.__name__] = (cls, get_config, from_config)


def supported_layers() -> list[str]:
    """The layer type names the spec format knows (Sequential included)."""
    return ["Sequential", *sorted(_LAYERS)]


register_layer(Dense, lambda m: {"in_features": m.in_features, "out_features": m.out_features,
                                 "bias": m.bias is not None},
               lambda c: Dense(c["in_features"], c["out_features"], bias=c["bias"]))
register_layer(Conv2d, lambda m: {"in_channels": m.in_channels, "out_channels": m.out_channels,
                                  "kernel_size": m.kernel_size, "stride": m.stride,
                                  "padding": m.padding, "dilation": m.dilation,
                                  "groups": m.groups, "bias": m.bias is not None},
               lambda c: Conv2d(c["in_channels"], c["out_channels"], _pair(c["kernel_size"]),
                                stride=_pair(c["stride"]), padding=_pair(c["padding"]),
                                dilation=_pair(c["dilation"]), groups=c["groups"],
                                bias=c["bias"]))
register_layer(MaxPool2d, lambda m: {"kernel_size": m.kernel_size, "stride": m.stride,
                                     "padding": m.padding, "dilation": m.dilation},
               lambda c: MaxPool2d(_pair(c["kernel_size"]), _pair(c["stride"]),
                                   _pair(c["padding"]), _pair(c["dilation"])))
register_layer(AvgPool2d, lambda m: {"kernel_size": m.kernel_size, "stride": m.stride,
                                     "padding": m.padding,
                                     "count_include_pad": m.count_include_pad},
               lambda c: AvgPool2d(_pair(c["kernel_size"]), _pair(c["stride"]),
                                   _pair(c["padding"]),
                                   count_include_pad=c["count_include_pad"]))
register_layer(AdaptiveAvgPool2d, lambda m: {"output_size": m.output_size},
               lambda c: AdaptiveAvgPool2d(_pair(c["output_size"])))
for _bn in (BatchNorm1d, BatchNorm2d):
    register_layer(_bn, lambda m: {"num_features": m.num_features, "eps": m.eps,
                                   "momentum": m.momentum, "affine": m.affine,
                                   "track_running_stats": m.track_running_stats},
                   (lambda cls: lambda c: cls(c["num_features"], eps=c["eps"],
                                              momentum=c["momentum"], affine=c["affine"],
                                              track_running_stats=c["track_running_stats"]))(_bn))
register_layer(Flatten, lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim},
               lambda c: Flatten(c["start_dim"], c["end_dim"]))
register_layer(Dropout, lambda m: {"p": m.p}, lambda c: Dropout(c["p"]))
register_layer(Identity, lambda m: {}, lambda c: Identity())
for _act in (ReLU, Sigmoid, Tanh):
    register_layer(_act, lambda m: {}, (lambda cls: lambda c: cls())(_act))
register_layer(LeakyReLU, lambda m: {"negative_slope": m.negative_slope},
               lambda c: LeakyReLU(c["negative_slope"]))
register_layer(GELU, lambda m: {"approximate": m.approximate},
               lambda c: GELU(c["approximate"]))
register_layer(Softmax, lambda m: {"dim": m.dim}, lambda c: Softmax(c["dim"]))
register_layer(LogSoftmax, lambda m: {"dim": m.dim}, lambda c: LogSoftmax(c["dim"]))


def _is_plain_sequential(layer: Any) -> bool:
    """A Sequential (or a subclass such as MLP) that computes what Sequential computes."""
    return isinstance(layer, Sequential) and type(layer).forward is Sequential.forward


def _layer_spec(layer: Any, path: str) -> dict:
    if _is_plain_sequential(layer):
        return {"type": "Sequential",
                "layers": [{"name": name, **_layer_spec(child, f"{path}.{name}" if path else name)}
                           for name, child in layer._modules.items()]}
    for type_name, (cls, get_config, _) in _LAYERS.items():
        if type(layer) is cls:
            return {"type": type_name,
                    "config": {k: _jsonable(v) for k, v in get_config(layer).items()}}
    where = f"layer '{path}'" if path else "the model"
    raise SpecError(f"model_to_spec: {where} is a {type(layer).__name__}, which the spec format "
                    f"does not know (known: {', '.join(supported_layers())}); teach it with "
                    "tinytorch.core.mlops.register_layer(cls, get_config, from_config)")


def model_to_spec(model: Any) -> dict:
    """The architecture of a Sequential model (CNN or MLP) as a JSON-able dict."""
    if not _is_plain_sequential(model):
        raise SpecError(f"model_to_spec: expected a Sequential model (e.g. Sequential([...]) or "
                        f"MLP(...)), got {type(model).__name__}")
    return {"format": SPEC_FORMAT, **_layer_spec(model, "")}


def _build(spec: Any, path: str) -> Any:
    if not isinstance(spec, dict) or "type" not in spec:
        raise SpecError(f"model_from_spec: entry {path or '(root)'} is not a layer spec "
                        f"(a dict with 'type'): {spec!r}")
    kind = spec["type"]
    if kind == "Sequential":
        from collections import OrderedDict
        children = OrderedDict()
        for i, child in enumerate(spec.get("layers", [])):
            name = str(child.get("name", i)) if isinstance(child, dict) else str(i)
            children[name] = _build(child, f"{path}.{name}" if path else name)
        return Sequential(children)
    if kind not in _LAYERS:
        raise SpecError(f"model_from_spec: layer {path or '(root)'} has unknown type {kind!r} "
                        f"(known: {', '.join(supported_layers())})")
    return _LAYERS[kind][2](dict(spec.get("config", {})))


def model_from_spec(spec: dict) -> Sequential:
    """A new model (fresh weights) with the architecture ``spec`` describes."""
    if not isinstance(spec, dict) or spec.get("format") != SPEC_FORMAT:
        found = spec.get("format") if isinstance(spec, dict) else type(spec).__name__
        raise SpecError(f"model_from_spec: unsupported spec format {found!r} "
                        f"(this version reads format {SPEC_FORMAT})")
    return _build(spec, "")

"""Export a Sequential CNN or MLP to ONNX, the exchange format other runtimes read.

    export_onnx(model, example_input, "model.onnx")
    # then, anywhere:  onnxruntime.InferenceSession("model.onnx").run(None, {"input": x})

ONNX describes a model as a graph of standard operators (``Conv``, ``Gemm``, ``Relu``...)
with the weights stored as initializers. The exporter walks the Sequential layer by layer,
runs ``example_input`` through it alongside (so every intermediate shape is known), and emits
the equivalent operators:

=========================  ================================================================
TinyTorch                  ONNX (opset 17)
=========================  ================================================================
Dense                      ``Gemm`` (2-D input, ``transB=1``) or ``MatMul`` + ``Add``
Conv2d                     ``Conv`` (strides, pads, dilations, group)
MaxPool2d / AvgPool2d      ``MaxPool`` / ``AveragePool`` (``count_include_pad``)
AdaptiveAvgPool2d          ``GlobalAveragePool`` for 1×1; ``AveragePool`` when the size divides
BatchNorm2d                ``BatchNormalization`` with the running statistics (eval mode)
BatchNorm1d                folded into ``Mul`` + ``Add`` (scale and shift per channel)
ReLU, Sigmoid, Tanh        ``Relu``, ``Sigmoid``, ``Tanh``
LeakyReLU                  ``LeakyRelu``
GELU                       ``Erf``-based (exact) or ``Tanh``-based formula (``Gelu`` is opset 20)
Softmax / LogSoftmax       ``Softmax`` / ``LogSoftmax`` on the same axis
Flatten                    ``Flatten`` (start_dim 1 to the end) or ``Reshape``
Dropout, Identity          nothing (inference is the identity)
=========================  ================================================================

The batch axis is symbolic (``"batch"``), so the file accepts any batch size. The ``onnx``
package is an optional extra: ``pip install 'tinytorch-mlops[onnx]'``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tinytorch.core.activations import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.autograd import no_grad
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten, Identity
from tinytorch.core.spatial import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,
                                    Conv2d, MaxPool2d)
from tinytorch.core.tensor import Tensor

__all__ = ["export_onnx", "OPSET"]

OPSET = 17


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError("export_onnx needs the onnx package, an optional extra of "
                          "tinytorch-mlops: pip install 'tinytorch-mlops[onnx]'") from None
    return onnx


class _Graph:
    """Nodes and initializers being collected, with fresh names."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, array: np.ndarray) -> str:
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list, hint: str, **attrs: Any) -> str:
        out = self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _f32(t: Any) -> np.ndarray:
    return np.asarray(getattr(t, "data", t), dtype=np.float32)


_SUPPORTED = (Dense, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d,
              ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax, Flatten, Dropout,
              Identity)


def _adaptive_size(layer: Any, shape: tuple) -> tuple[int, int]:
    size = layer.output_size
    size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
    return (shape[2] if size[0] is None else size[0]), (shape[3] if size[1] is None else size[1])


def _check(layer: Any, shape: tuple, path: str) -> None:
    """Refuse, naming the layer, what ONNX (or this exporter) cannot express."""
    kind = type(layer)
    if kind not in _SUPPORTED:
        raise TypeError(f"export_onnx: layer '{path}' is a {kind.__name__}, which the ONNX "
                        "exporter does not support (Dense, Conv2d, MaxPool2d, AvgPool2d, "
                        "AdaptiveAvgPool2d, BatchNorm1d/2d, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, "
                        "Softmax, LogSoftmax, Flatten, Dropout, Identity)")
    if kind is AdaptiveAvgPool2d:
        oh, ow = _adaptive_size(layer, shape)
        if (oh, ow) != (1, 1) and (shape[2] % oh or shape[3] % ow):
            raise ValueError(f"export_onnx: layer '{path}' AdaptiveAvgPool2d({layer.output_size}) "
                             f"on a {shape[2]}×{shape[3]} input has unequal windows, which ONNX "
                             "cannot express; only output sizes that divide the input are "
                             "exported")
    if kind in (BatchNorm1d, BatchNorm2d) and not layer.track_running_stats:
        raise ValueError(f"export_onnx: layer '{path}' ({kind.__name__} with "
                         "track_running_stats=False) normalises with each batch's own "
                         "statistics, which has no inference-time equivalent")
    if kind is Flatten and layer.start_dim % len(shape) == 0:
        raise ValueError(f"export_onnx: layer '{path}' Flatten(start_dim=0) merges the batch "
                         "axis, which a batch-size-independent graph cannot express")


def _emit(g: _Graph, layer: Any, x: str, shape: tuple, path: str) -> str:
    """Emit ONNX nodes computing ``layer`` on tensor ``x`` (of ``shape``); return the output."""
    kind = type(layer)
    if kind in (Dropout, Identity):
        return x
    if kind is Dense:
        bias = [] if layer.bias is None else [g.const(f"{path}.bias", _f32(layer.bias))]
        if len(shape) == 2:
            return g.node("Gemm", [x, g.const(f"{path}.weight", _f32(layer.weight)), *bias],
                          path, transB=1)
        out = g.node("MatMul", [x, g.const(f"{path}.weight_t", _f32(layer.weight).T.copy())], path)
        return g.node("Add", [out, *bias], path) if bias else out
    if kind is Conv2d:
        ph, pw = layer.padding
        inputs = [x, g.const(f"{path}.weight", _f32(layer.weight))]
        if layer.bias is not None:
            inputs.append(g.const(f"{path}.bias", _f32(layer.bias)))
        return g.node("Conv", inputs, path, kernel_shape=list(layer.kernel_size),
                      strides=list(layer.stride), pads=[ph, pw, ph, pw],
                      dilations=list(layer.dilation), group=layer.groups)
    if kind is MaxPool2d:
        ph, pw = layer.padding
        return g.node("MaxPool", [x], path, kernel_shape=list(layer.kernel_size),
                      strides=list(layer.stride), pads=[ph, pw, ph, pw],
                      dilations=list(layer.dilation))
    if kind is AvgPool2d:
        ph, pw = layer.padding
        return g.node("AveragePool", [x], path, kernel_shape=list(layer.kernel_size),
                      strides=list(layer.stride), pads=[ph, pw, ph, pw],
                      count_include_pad=int(layer.count_include_pad))
    if kind is AdaptiveAvgPool2d:
        oh, ow = _adaptive_size(layer, shape)
        if (oh, ow) == (1, 1):
            return g.node("GlobalAveragePool", [x], path)
        kh, kw = shape[2] // oh, shape[3] // ow
        return g.node("AveragePool", [x], path, kernel_shape=[kh, kw], strides=[kh, kw])
    if kind in (BatchNorm1d, BatchNorm2d):
        c = layer.num_features
        gamma = _f32(layer.weight) if layer.affine else np.ones(c, np.float32)
        beta = _f32(layer.bias) if layer.affine else np.zeros(c, np.float32)
        mean, var = _f32(layer.running_mean), _f32(layer.running_var)
        if kind is BatchNorm2d:
            return g.node("BatchNormalization",
                          [x, g.const(f"{path}.weight", gamma), g.const(f"{path}.bias", beta),
                           g.const(f"{path}.running_mean", mean),
                           g.const(f"{path}.running_var", var)], path, epsilon=layer.eps)
        scale = (gamma / np.sqrt(var.astype(np.float64) + layer.eps)).astype(np.float32)
        shift = (beta - mean * scale).astype(np.float32)
        extra = (1,) * (len(shape) - 2)  # (C,) for (N, C); (C, 1) for (N, C, L)
        out = g.node("Mul", [x, g.const(f"{path}.scale", scale.reshape(c, *extra))], path)
        return g.node("Add", [out, g.const(f"{path}.shift", shift.reshape(c, *extra))], path)
    if kind is ReLU:
        return g.node("Relu", [x], path)
    if kind is Sigmoid:
        return g.node("Sigmoid", [x], path)
    if kind is Tanh:
        return g.node("Tanh", [x], path)
    if kind is LeakyReLU:
        return g.node("LeakyRelu", [x], path, alpha=layer.negative_slope)
    if kind is GELU:
        half = g.const(f"{path}.half", np.array(0.5, np.float32))
        one = g.const(f"{path}.one", np.array(1.0, np.float32))
        if layer.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            cube = g.node("Mul", [x, g.node("Mul", [x, x], path)], path)
            inner = g.node("Add", [x, g.node("Mul", [cube, g.const(
                f"{path}.c", np.array(0.044715, np.float32))], path)], path)
            t = g.node("Tanh", [g.node("Mul", [inner, g.const(
                f"{path}.k", np.array(np.sqrt(2.0 / np.pi), np.float32))], path)], path)
        else:  # 0.5 x (1 + erf(x / sqrt 2))
            t = g.node("Erf", [g.node("Mul", [x, g.const(
                f"{path}.k", np.array(1.0 / np.sqrt(2.0), np.float32))], path)], path)
        return g.node("Mul", [g.node("Mul", [x, half], path), g.node("Add", [t, one], path)], path)
    if kind in (Softmax, LogSoftmax):
        return g.node(kind.__name__, [x], path, axis=int(layer.dim))
    if kind is Flatten:
        rank = len(shape)
        start = layer.start_dim % rank
        end = layer.end_dim % rank
        if start == 1 and end == rank - 1:
            return g.node("Flatten", [x], path, axis=1)
        target = [0] + list(shape[1:start]) + [-1] + list(shape[end + 1:])
        return g.node("Reshape", [x, g.const(f"{path}.shape", np.array(target, np.int64))], path)
    raise AssertionError(f"unhandled layer {kind.__name__}")  # pragma: no cover (see _check)


def _flat_layers(model: Any, prefix: str = "") -> list:
    if not (isinstance(model, Sequential) and type(model).forward is Sequential.forward):
        raise TypeError(f"export_onnx: expected a Sequential model (Sequential([...]) or MLP), "
                        f"got {type(model).__name__}")
    out = []
    for name, layer in model._modules.items():
        path = f"{prefix}{name}"
        if isinstance(layer, Sequential) and type(layer).forward is Sequential.forward:
            out += _flat_layers(layer, path + ".")
        else:
            out.append((path, layer))
    return out


def export_onnx(model: Any, example_input: Any, path: str | os.PathLike,
                input_name: str = "input", output_name: str = "output",
                opset: int = OPSET) -> str:
    """Write ``model`` (a Sequential CNN or MLP, used in eval mode) as an ONNX file.

    Args:
        model: the model; it is switched to eval mode (and back afterwards if it was training).
        example_input: one batch of inputs, to fix every shape but the batch axis.
        path: the ``.onnx`` file to write.
        input_name: the graph input's name.
        output_name: the graph output's name.
        opset: the ONNX operator set version (17 by default).

    Returns:
        the path written.
    """
    layers = _flat_layers(model)
    x = np.asarray(getattr(example_input, "data", example_input), dtype=np.float32)
    if x.ndim < 2:
        raise ValueError(f"export_onnx: example_input must be a batch (N, ...), got shape "
                         f"{x.shape}")
    was_training = bool(getattr(model, "training", False))
    model.eval()
    traced = []  # (path, layer, input shape): shapes first, so refusals need no onnx
    try:
        with no_grad():
            value = Tensor(x)
            for layer_path, layer in layers:
                _check(layer, tuple(value.shape), layer_path)
                traced.append((layer_path, layer, tuple(value.shape)))
                value = layer(value)
            shape = tuple(value.shape)
    finally:
        if was_training:
            model.train()
    onnx = _import_onnx()
    helper = onnx.helper
    g = _Graph(onnx)
    current = input_name
    for layer_path, layer, in_shape in traced:
        current = _emit(g, layer, current, in_shape, layer_path)
    g.nodes.append(helper.make_node("Identity", [current], [output_name], name=output_name))
    dims_in = ["batch", *x.shape[1:]]
    dims_out = ["batch", *shape[1:]]
    graph = helper.make_graph(
        g.nodes, "tinytorch_model",
        [helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, dims_in)],
        [helper.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, dims_out)],
        g.initializers)
    proto = helper.make_model(graph, producer_name="tinytorch-mlops",
                              opset_imports=[helper.make_opsetid("", int(opset))])
    proto.ir_version = min(proto.ir_version, 8)  # readable by onnxruntime releases since 1.14
    onnx.checker.check_model(proto)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(proto.SerializeToString())
    os.replace(tmp, path)
    return path

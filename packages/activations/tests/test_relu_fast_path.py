"""The ReLU layers run module 02's op in its fast form: same numbers, layout and graph; the
buffer reuse lives in ``tinytorch.core.tensor.fused``, not in the lesson's ``Tensor.relu``."""

import ast
import inspect
import textwrap

import numpy as np
import pytest

from tinytorch.core.activations import ReLU, relu
from tinytorch.core.tensor import Tensor, from_numpy
from tinytorch.core.tensor.math_ops import MathOps
from tinytorch.core.tensor.runtime import WORKSPACE


@pytest.fixture
def pool_everything():
    previous = WORKSPACE.min_bytes
    WORKSPACE.min_bytes = 0
    yield
    WORKSPACE.min_bytes = previous


def test_relu_layer_matches_the_lesson_op(pool_everything):
    rng = np.random.default_rng(0)
    nhwc = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    nhwc[0, 0, 0, :] = -0.0
    x = from_numpy(nhwc.transpose(0, 3, 1, 2))  # channels-last memory, NCHW shape
    lesson, layer = x.relu(), ReLU()(x)
    np.testing.assert_array_equal(layer.data, lesson.data)
    assert layer.data.strides == lesson.data.strides  # the same memory layout
    assert not np.signbit(layer.data).any()
    assert relu(Tensor([-3, 0, 4])).dtype == Tensor([-3, 0, 4]).relu().dtype
    assert relu(Tensor([-3, 0, 4])).tolist() == [0, 0, 4]


def test_relu_layer_reuses_a_free_buffer_and_never_a_held_one(pool_everything):
    a = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    first = relu(Tensor(a))
    kept = first.data.copy()
    second = relu(Tensor(-a))
    assert not np.shares_memory(first.data, second.data)  # first is still held
    np.testing.assert_array_equal(first.data, kept)
    address = second.data.__array_interface__["data"][0]
    del second
    third = relu(Tensor(a * 2))
    assert third.data.__array_interface__["data"][0] == address  # the free buffer came back
    np.testing.assert_array_equal(third.data, np.maximum(a * 2, 0))


def test_relu_lesson_code_is_the_maths_only():
    source = textwrap.dedent(inspect.getsource(MathOps.relu))
    names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Attribute)}
    assert "maximum" in attrs
    assert not {"WORKSPACE", "sys"} & names and "getrefcount" not in attrs
    assert "out" not in {k.arg for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
                         for k in n.keywords}

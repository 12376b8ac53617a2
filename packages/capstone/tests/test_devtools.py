"""Track 5: the autograd-graph visualiser, the training monitor, errors at the user's line."""

from __future__ import annotations

import re
import shutil
import sys

import numpy as np
import pytest

from tinytorch.capstone.devtools import (GraphvizUnavailable, TrainingMonitor, activation_stats,
                                         classify_gradient, is_framework_file, locate, op_counts,
                                         pinpoint, render, to_dot, user_frame, walk_graph)
from tinytorch.capstone.devtools.demo import deep_sigmoid_mlp, run_demo, scaled_mlp
from tinytorch.core.activations import ReLU
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import cross_entropy


# ---------------------------------------------------------------------------- the graph
def test_walk_graph_visits_each_tensor_once_and_every_edge():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    c = Tensor(np.full(3, 2.0, np.float32))
    y = x * x          # x used twice by one op
    z = (y + c).sum()
    tensors, edges = walk_graph(z)
    assert tensors[0] is z
    assert len(tensors) == len({id(t) for t in tensors}) == 5  # z, add, y, c, x
    assert edges.count((id(x), id(y))) == 2
    assert (id(c), id(z._node.inputs[0])) in edges
    assert len(edges) == 5  # sum<-add, add<-y, add<-c, y<-x twice
    assert walk_graph(x) == ([x], [])


def test_walk_graph_shares_subgraphs():
    x = Tensor(np.ones(2, np.float32), requires_grad=True)
    h = x.exp()
    out = (h + h * 2).sum()  # h feeds two ops: reached once, two arrows out of it
    tensors, edges = walk_graph(out)
    assert sum(t is h for t in tensors) == 1
    assert sum(1 for a, _ in edges if a == id(h)) == 2


def test_walk_graph_to_dot_nodes_edges_names():
    manual_seed(0)
    model = Sequential([Dense(4, 3), ReLU(), Dense(3, 2)])
    loss = cross_entropy(model(Tensor(np.ones((2, 4), np.float32))), np.array([0, 1]))
    dot = to_dot(loss, names=dict(model.named_parameters()))
    tensors, edges = walk_graph(loss)
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    assert len(re.findall(r"^\s+t\d+ \[", dot, re.M)) == len(tensors)
    assert len(re.findall(r"^\s+t\d+ -> t\d+;", dot, re.M)) == len(edges)
    # Dense records one fused op, x @ W.T + b (tinytorch.core.layers.fused)
    assert '"0.weight\\n(3, 4) float32"' in dot and "linear.fused" in dot
    assert dot.count("peripheries") == 1
    assert op_counts(loss)["linear.fused"] == 2


def test_render(tmp_path, monkeypatch):
    dot = "digraph { a -> b; }\n"
    if shutil.which("dot"):
        out = render(dot, str(tmp_path / "g.svg"))
        assert "<svg" in (tmp_path / "g.svg").read_text() and out.endswith("g.svg")
        with pytest.raises(RuntimeError, match="dot -Tsvg failed"):
            render("digraph {", str(tmp_path / "bad.svg"))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizUnavailable, match="graphviz"):
        render(dot, str(tmp_path / "g.png"))


# ---------------------------------------------------------------------------- the monitor
def test_monitor_activation_stats_and_classification():
    s = activation_stats(np.array([0.0, 0.0, 3.0, -1.0]))
    assert s == pytest.approx({"mean": 0.5, "std": np.std([0, 0, 3, -1]), "max_abs": 3.0,
                               "zero_fraction": 0.5})
    assert activation_stats(np.array([]))["zero_fraction"] == 0.0
    assert classify_gradient(1.0) == "ok"
    assert classify_gradient(1e-9) == "vanishing" and classify_gradient(1e5) == "exploding"
    assert classify_gradient(float("nan")) == "non-finite"
    assert classify_gradient(float("inf")) == "non-finite"
    assert classify_gradient(0.5, vanishing=1.0) == "vanishing"


def _monitored(model, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((16, 16), dtype=np.float32), rng.integers(0, 10, 16)
    monitor = TrainingMonitor(model)
    with monitor:
        cross_entropy(model(Tensor(x)), y).backward()
    return monitor


def test_monitor_healthy_vanishing_exploding():
    manual_seed(0)
    healthy = _monitored(Sequential([Dense(16, 32), ReLU(), Dense(32, 10)]))
    assert healthy.problems() == []
    assert [r.name for r in healthy.check()] == ["0", "2"]
    vanishing = _monitored(deep_sigmoid_mlp(depth=12))
    flagged = vanishing.problems()
    assert flagged and flagged[0].name == "0" and "vanishing" in flagged[0].flags[0]
    assert all("vanishing" in f for r in flagged for f in r.flags)
    exploding = _monitored(scaled_mlp(scale=30.0))
    assert any("exploding" in f for r in exploding.problems() for f in r.flags)
    assert "exploding gradient" in exploding.report()


def test_monitor_flags_a_dead_relu_and_detaches():
    manual_seed(0)
    model = Sequential([Dense(16, 32), ReLU(), Dense(32, 10)])
    model[0].bias.data[...] = -100.0  # every pre-activation negative: the ReLU never fires
    monitor = _monitored(model)
    rep = {r.name: r for r in monitor.check()}
    assert rep["2"].input["zero_fraction"] == 1.0
    assert any("dead ReLU" in f for f in rep["2"].flags)
    assert rep["2"].grad_norms["weight"] == 0.0
    assert not model[0]._forward_hooks  # hooks removed on exit


# ---------------------------------------------------------------------------- errors
USER_CODE = """\
def call_model(model, x):
    y = model(x)
    return y


def my_own_error():
    raise ValueError("the user's own bug")
"""


@pytest.fixture
def user_module(tmp_path):
    path = tmp_path / "user_train.py"
    path.write_text(USER_CODE)
    namespace: dict = {}
    exec(compile(USER_CODE, str(path), "exec"), namespace)
    return path, namespace


def test_framework_files():
    import tinytorch.core.layers.linear as linear
    assert is_framework_file(linear.__file__)
    assert not is_framework_file(__file__)  # tests are users of the framework
    assert not is_framework_file("/somewhere/else/train.py")


def test_pinpoint_names_the_users_line(user_module):
    path, ns = user_module
    model = Sequential([Dense(4, 2)])
    with pytest.raises(ValueError) as info:
        with pinpoint():
            ns["call_model"](model, Tensor(np.zeros((3, 5), np.float32)))
    text = str(info.value)
    assert text.startswith("Dense(4→2) expected last dimension 4")
    assert f"at your line {path}:2 in call_model: y = model(x)" in text
    assert info.value._tinytorch_user_frame == f"{path}:2 in call_model: y = model(x)"


def test_pinpoint_as_a_decorator_and_only_once(user_module):
    path, ns = user_module
    model = Sequential([Dense(4, 2)])

    @pinpoint()
    def outer():
        with pinpoint():
            return ns["call_model"](model, Tensor(np.zeros((3, 5), np.float32)))
    with pytest.raises(ValueError) as info:
        outer()
    assert str(info.value).count("at your line") == 1
    assert f"{path}:2" in str(info.value)


def test_pinpoint_leaves_user_errors_and_other_types_alone(user_module):
    _, ns = user_module
    with pytest.raises(ValueError) as info:
        with pinpoint():
            ns["my_own_error"]()
    assert str(info.value) == "the user's own bug"
    with pytest.raises(ValueError) as info:  # not a type it was asked to annotate
        with pinpoint(types=(TypeError,)):
            ns["call_model"](Sequential([Dense(4, 2)]), Tensor(np.zeros((3, 5), np.float32)))
    assert "at your line" not in str(info.value)


def test_pinpoint_user_frame_with_explicit_roots(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "inner.py").write_text("def fail():\n    raise ValueError('deep')\n")
    (lib / "outer.py").write_text("from inner import fail\ndef call():\n    fail()\n")
    app = tmp_path / "app.py"
    app.write_text("import outer\ndef main():\n    outer.call()\n")
    sys.path.insert(0, str(lib))
    sys.path.insert(0, str(tmp_path))
    try:
        for name in ("inner", "outer", "app"):
            sys.modules.pop(name, None)
        import app as app_module
        try:
            app_module.main()
        except ValueError as exc:
            frame = user_frame(exc.__traceback__, roots=[str(lib)])
            where = locate(exc, roots=[str(lib)])
    finally:
        sys.path.remove(str(lib))
        sys.path.remove(str(tmp_path))
        for name in ("inner", "outer", "app"):
            sys.modules.pop(name, None)
    assert frame.filename == str(app) and frame.lineno == 3
    assert where == f"{app}:3 in main: outer.call()"
    try:
        raise ValueError("here")
    except ValueError as exc:  # never entered the framework
        assert user_frame(exc.__traceback__, roots=[str(lib)]) is None


def test_the_demo(tmp_path):
    result = run_demo(str(tmp_path))
    assert result["monitor"]["healthy ReLU MLP"] == []
    assert result["monitor"]["12 sigmoid layers"] and result["monitor"]["weights ×30"]
    assert "at your line" not in result["error_plain"]
    assert "my_script.py:3 in train_step: logits = model(images)" in result["error_pinpointed"]
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")
    assert "## Training monitor" in (tmp_path / "report.md").read_text()

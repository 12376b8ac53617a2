"""The Profiler: hooks reach every layer, forward/backward times add up on a fake clock,
FLOPs/params/memory per layer, and profiling changes neither values nor gradients."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.core.autograd  # noqa: F401  (the backward engine)
from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.benchmarking import Profiler, build_tinytorch, get_model_spec, profile
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CrossEntropyLoss


def nested(clock, Work):
    """root: [0] Work(1, 10), [1] Sequential([0] Work(2, 20), [1] ReLU), [2] Work(4, 40)."""
    return Sequential([Work(clock, 1.0, 10.0),
                       Sequential([Work(clock, 2.0, 20.0), ReLU()]),
                       Work(clock, 4.0, 40.0)])


def rows_by_name(prof):
    return {row.name: row for row in prof.layers}


def step(model, x):
    out = model(Tensor(x))
    out.sum().backward()
    return out


def test_fake_clock_forward_and_backward_per_layer(clock, work):
    model = nested(clock, work)
    x = np.ones((2, 3), dtype=np.float32)
    with Profiler(model, clock=clock) as prof:
        step(model, x)
    rows = rows_by_name(prof)
    expected = {"": (7, 70), "0": (1, 10), "1": (2, 20), "1.0": (2, 20), "1.1": (0, 0),
                "2": (4, 40)}
    assert set(rows) == set(expected)
    for name, (fwd, bwd) in expected.items():
        assert rows[name].forward == fwd, name
        assert rows[name].backward == bwd, name
    assert rows["1.1"].type == "ReLU"
    assert rows["1.0"].depth == 2 and rows[""].depth == 0
    assert prof.totals["forward_s"] == 7 and prof.totals["backward_s"] == 70


def test_figures_are_per_step(clock, work):
    model = nested(clock, work)
    x = np.ones((2, 3), dtype=np.float32)
    with Profiler(model, clock=clock) as prof:
        for _ in range(3):
            step(model, x)
    assert prof.steps == 3 and prof.backward_steps == 3
    rows = rows_by_name(prof)
    assert rows["2"].forward == 4 and rows["2"].backward == 40
    assert rows[""].calls == 1


def test_reset_forgets_warmup(clock, work):
    model = nested(clock, work)
    x = np.ones((2, 3), dtype=np.float32)
    with Profiler(model, clock=clock) as prof:
        old = model(Tensor(x))
        prof.reset()
        step(model, x)
        old.sum().backward()  # a graph from before the reset: not counted
    rows = rows_by_name(prof)
    assert prof.steps == 1 and prof.backward_steps == 1
    assert rows[""].backward == 70


def test_retain_graph_counts_each_pass(clock, work):
    model = nested(clock, work)
    with Profiler(model, clock=clock) as prof:
        out = model(Tensor(np.ones((2, 3), dtype=np.float32)))
        out.sum().backward(retain_graph=True)
        out.sum().backward()
    rows = rows_by_name(prof)
    assert prof.backward_steps == 2
    assert rows["0"].backward == 10 and rows[""].backward == 70


def test_backward_after_exit_is_still_recorded(clock, work):
    model = nested(clock, work)
    with Profiler(model, clock=clock) as prof:
        out = model(Tensor(np.ones((2, 3), dtype=np.float32)))
    out.sum().backward()
    assert rows_by_name(prof)["2"].backward == 40


def test_inference_mode_has_no_backward(clock, work):
    model = nested(clock, work)
    with Profiler(model, clock=clock, backward=False) as prof:
        with no_grad():
            model(Tensor(np.ones((2, 3), dtype=np.float32)))
    rows = rows_by_name(prof)
    assert rows[""].forward == 7
    assert all(row.backward is None for row in rows.values())
    assert "--" in prof.summary()


def test_hooks_reach_activations_in_place_and_are_removed(clock, work):
    model = nested(clock, work)
    relu = model[1][1]
    with Profiler(model, clock=clock):
        assert model[1][1] is relu and model[1]._modules["1"] is relu  # nothing swapped in
        assert relu._forward_hooks and relu._forward_pre_hooks        # the activation is hooked
        assert all(m._forward_hooks and m._forward_pre_hooks for m in model.modules())
    assert model[1][1] is relu and repr(model) == repr(nested(clock, work))
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks


def test_shared_activation_is_one_row(clock, work):
    relu = ReLU()
    model = Sequential([Dense(3, 3), relu, Dense(3, 3), relu])
    with Profiler(model, clock=clock) as prof:
        step(model, np.ones((2, 3), dtype=np.float32))
    names = [row.name for row in prof.layers]
    assert names == ["", "0", "1", "2"]
    assert rows_by_name(prof)["1"].calls == 2
    assert rows_by_name(prof)["1"].flops == 2 * 6  # both calls, one FLOP per element each


def test_every_layer_of_a_cnn_gets_both_times():
    spec = get_model_spec("cnn-bn")
    model = build_tinytorch(spec)
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32), dtype=np.float32)
    y = np.array([0, 1, 2, 3])
    prof = profile(model, x, CrossEntropyLoss(), y, steps=1, warmup=0)
    rows = prof.layers
    assert len(rows) == 1 + len(spec.layers)
    assert [r.type for r in rows[1:]] == [s.kind.replace("Linear", "Dense") for s in spec.layers]
    for r in rows:
        assert r.forward >= 0 and r.backward is not None and r.backward >= 0, r.name
    root = rows[0]
    assert root.backward >= max(r.backward for r in rows[1:])  # inclusive of every child
    assert root.params == sum(r.params for r in rows[1:])


def test_cnn_flops_params_and_memory_by_hand():
    model = build_tinytorch(get_model_spec("cnn"))
    x = np.zeros((2, 3, 32, 32), dtype=np.float32)
    prof = profile(model, x, steps=1, warmup=0, backward=False)
    per_image = {
        "0": 32768 * 54 + 32768,        # conv 3->32, 3x3, pad 1: 32x32x32 outputs, 27 taps
        "1": 32768,                     # ReLU
        "2": 8192 * 3,                  # 2x2 max-pool: 3 comparisons per output
        "3": 16384 * 576 + 16384,       # conv 32->64: 64x16x16 outputs, 288 taps
        "4": 16384,
        "5": 4096 * 3,
        "6": 0,                         # flatten
        "7": 128 * 8192 + 128,          # dense 4096->128
        "8": 128,
        "9": 10 * 256 + 10,             # dense 128->10
    }
    rows = rows_by_name(prof)
    for name, flops in per_image.items():
        assert rows[name].flops == 2 * flops, name
    assert rows[""].flops == 2 * sum(per_image.values()) == 2 * 12_393_226
    assert rows["0"].params == 896 and rows["3"].params == 18_496 and rows["7"].params == 524_416
    assert rows[""].params == 545_098
    assert rows["0"].output_shape == (2, 32, 32, 32)
    assert rows["0"].output_bytes == 2 * 32 * 32 * 32 * 4
    leaves = sum(rows[str(i)].output_bytes for i in range(10))
    assert prof.totals["activation_bytes"] == leaves
    assert prof.totals["flops_per_sample"] == 12_393_226


def test_profiling_changes_neither_outputs_nor_gradients():
    spec = get_model_spec("cnn-bn")
    x = np.random.default_rng(1).standard_normal((4, 3, 32, 32), dtype=np.float32)
    y = np.array([3, 1, 4, 1])
    results = []
    for profiled in (False, True):
        model = build_tinytorch(spec, seed=7)
        if profiled:
            with Profiler(model):
                out = model(Tensor(x))
                loss = CrossEntropyLoss()(out, Tensor(y))
                loss.backward()
        else:
            out = model(Tensor(x))
            loss = CrossEntropyLoss()(out, Tensor(y))
            loss.backward()
        results.append((out.data.copy(), {k: p.grad.data.copy() for k, p in model.named_parameters()}))
    (out_a, grads_a), (out_b, grads_b) = results
    np.testing.assert_array_equal(out_a, out_b)
    assert grads_a.keys() == grads_b.keys()
    for k in grads_a:
        np.testing.assert_allclose(grads_a[k], grads_b[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_summary_and_unknown_types(clock, work):
    model = nested(clock, work)
    with Profiler(model, clock=clock) as prof:
        step(model, np.ones((2, 3), dtype=np.float32))
    text = prof.summary()
    lines = text.splitlines()
    assert lines[1].split()[:2] == ["Layer", "(type)"]
    assert any(line.lstrip("└ ").startswith("0: Work") for line in lines)
    assert "FLOPs not counted for: Work" in text
    assert "+?" in text  # the model's FLOPs are incomplete
    md = prof.to_markdown()
    assert md.splitlines()[0].startswith("| Layer (type) | Output shape | Params | FLOPs")
    d = prof.to_dict()
    assert d["kind"] == "profile" and len(d["layers"]) == 6
    assert d["totals"]["uncounted_types"] == ["Work"]


def test_misuse():
    with pytest.raises(TypeError):
        Profiler(lambda x: x)
    prof = Profiler(Sequential([Dense(2, 2)]))
    prof.attach()
    with pytest.raises(RuntimeError, match="already attached"):
        prof.attach()
    prof.detach()
    with pytest.raises(ValueError):
        profile(Sequential([Dense(2, 2)]), np.zeros((1, 2), np.float32), steps=0)

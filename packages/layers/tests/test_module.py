"""Module: registration by assignment, traversal, modes, hooks, repr, state_dict."""

import copy

import numpy as np
import pytest

from tinytorch.core.activations import Activation, ModuleBase, ReLU, Softmax, Tanh
from tinytorch.core.layers import (
    Dense,
    Dropout,
    IncompatibleKeys,
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    StateDictKeyError,
    StateDictShapeError,
)
from tinytorch.core.tensor import Tensor


class TwoLayer(Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Dense(4, 3)
        self.act = ReLU()
        self.fc2 = Dense(3, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Deep(Module):
    """Nesting three levels deep, with a ModuleList, a Dropout and a buffer."""

    def __init__(self):
        super().__init__()
        self.encoder = TwoLayer()
        self.blocks = ModuleList([Dense(2, 2), Tanh(), Dense(2, 2, bias=False)])
        self.drop = Dropout(0.5)
        self.scale = Parameter(np.ones(1, dtype=np.float32))
        self.register_buffer("steps", Tensor(np.zeros(1)))

    def forward(self, x):
        x = self.encoder(x)
        for b in self.blocks:
            x = b(x)
        return self.drop(x) * self.scale


DEEP_PARAMS = [
    ("scale", (1,)),
    ("encoder.fc1.weight", (3, 4)),
    ("encoder.fc1.bias", (3,)),
    ("encoder.fc2.weight", (2, 3)),
    ("encoder.fc2.bias", (2,)),
    ("blocks.0.weight", (2, 2)),
    ("blocks.0.bias", (2,)),
    ("blocks.2.weight", (2, 2)),
]


# ----------------------------------------------------------------------------- registration
def test_registration_of_parameters_modules_and_activations():
    m = TwoLayer()
    assert list(m._modules) == ["fc1", "act", "fc2"]
    assert list(m._parameters) == [] and list(m.fc1._parameters) == ["weight", "bias"]
    assert m.fc1.weight is m.fc1._parameters["weight"]
    assert isinstance(m.fc1.weight, Parameter) and m.fc1.weight.requires_grad
    assert m.act is m._modules["act"] and m.fc1 is m._modules["fc1"]


def test_traverse_named_parameters_have_dotted_names_in_definition_order():
    assert [n for n, _ in TwoLayer().named_parameters()] == ["fc1.weight", "fc1.bias",
                                                             "fc2.weight", "fc2.bias"]
    m = Deep()
    assert [(n, p.shape) for n, p in m.named_parameters()] == DEEP_PARAMS
    assert [p.shape for p in m.parameters()] == [s for _, s in DEEP_PARAMS]
    assert m.num_parameters() == sum(int(np.prod(s)) for _, s in DEEP_PARAMS)
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in m.encoder.named_parameters(prefix="enc")][:1] == ["enc.fc1.weight"]


def test_registration_skips_plain_values():
    class M(Module):
        def __init__(self):
            super().__init__()
            self.layers = [Dense(2, 2)]  # a plain list hides its layers (use ModuleList)
            self.t = Tensor([1.0])       # a plain Tensor is not a parameter
            self.n = 3

    m = M()
    assert not m._parameters and not m._modules and not m._buffers
    assert list(m.children()) == []
    assert m.n == 3 and isinstance(m.layers, list)


def test_traverse_finds_no_parameters_behind_plain_values():
    class M(Module):
        def __init__(self):
            super().__init__()
            self.layers = [Dense(2, 2)]
            self.t = Tensor([1.0])

    assert list(M().parameters()) == [] and [n for n, _ in M().named_modules()] == [""]


def test_registration_moves_on_reassignment_and_unregisters():
    m = TwoLayer()
    m.fc1 = Parameter(np.zeros(2))  # a module slot becomes a parameter
    assert "fc1" not in m._modules and "fc1" in m._parameters
    with pytest.raises(TypeError, match="parameter"):
        m.fc1 = 5                   # a parameter slot takes only a Parameter (or None)
    del m.fc1
    m.fc1 = 5                       # once deleted, the name is free for a plain value
    assert "fc1" not in m._parameters and m.fc1 == 5
    del m.fc2
    assert [n for n, _ in m.named_children()] == ["act"]
    with pytest.raises(AttributeError):
        m.fc2


def test_traverse_after_assigning_a_tensor_or_none_to_a_parameter():
    layer = Dense(2, 2)
    with pytest.raises(TypeError, match="weight"):
        layer.weight = Tensor(np.zeros((2, 2)))
    assert "weight" in layer._parameters
    layer.bias = None  # None keeps the name reserved, like bias=False
    assert layer.bias is None and "bias" in layer._parameters
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    layer.bias = Parameter(np.ones(2))
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    layer.weight = Parameter(np.zeros((2, 2)))  # replacing keeps the order
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert not layer.weight.data.any()


def test_traverse_buffers_are_state_but_not_parameters():
    m = Deep()
    assert [n for n, _ in m.named_buffers()] == ["steps"]
    assert "steps" in m.state_dict() and "steps" not in dict(m.named_parameters())
    m.steps = Tensor([5.0])  # reassigning a buffer keeps it a buffer
    assert m.state_dict()["steps"].tolist() == [5.0]
    m.register_buffer("cache", Tensor([1.0]), persistent=False)
    assert "cache" not in m.state_dict() and [n for n, _ in m.named_buffers()] == ["steps", "cache"]
    m.register_buffer("cache", Tensor([2.0]))  # registered again as persistent
    assert "cache" in m.state_dict()


def test_registration_before_init_and_bad_names():
    class Forgot(Module):
        def __init__(self):
            self.fc = Dense(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Forgot()
    m = Module()
    with pytest.raises(ValueError, match="'a.b'"):
        m.add_module("a.b", Dense(2, 2))
    with pytest.raises(TypeError):
        m.add_module("x", 3)
    with pytest.raises(TypeError):
        m.register_parameter("w", Tensor([1.0]))
    m.add_module("act", ReLU())
    assert list(m.children())[0].__class__ is ReLU


def test_traverse_shared_parameters_appear_once():
    m = Module()
    m.a = Dense(3, 3)
    m.b = Dense(3, 3)
    m.b.weight = m.a.weight
    assert [n for n, _ in m.named_parameters()] == ["a.weight", "a.bias", "b.bias"]
    m.c = m.a  # the same module under two names
    assert [n for n, _ in m.named_modules()] == ["", "a", "b"]
    assert [n for n, _ in m.named_modules(remove_duplicate=False)] == ["", "a", "b", "c"]


# ----------------------------------------------------------------------------- traversal
def test_traverse_children_and_modules():
    m = Deep()
    assert [n for n, _ in m.named_children()] == ["encoder", "blocks", "drop"]
    names = [n for n, _ in m.named_modules()]
    assert names == ["", "encoder", "encoder.fc1", "encoder.act", "encoder.fc2", "blocks",
                     "blocks.0", "blocks.1", "blocks.2", "drop"]
    assert next(iter(m.modules())) is m
    assert sum(isinstance(x, ReLU) for x in m.modules()) == 1


def test_traverse_apply_visits_children_first():
    order = []
    Deep().apply(lambda mod: order.append(type(mod).__name__))
    assert order[-1] == "Deep" and order.index("Dense") < order.index("TwoLayer")
    assert "Tanh" in order and "ReLU" in order


def test_traverse_zero_grad_and_requires_grad():
    m = TwoLayer()
    for p in m.parameters():
        p.grad = Tensor(np.ones(p.shape))
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    assert m.requires_grad_() is m and all(p.requires_grad for p in m.parameters())


def test_train_mode_and_eval_propagate_to_every_descendant():
    m = Deep()
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    assert not m.blocks[1].training and not m.encoder.act.training
    m.train()
    assert all(x.training for x in m.modules())
    m.blocks.eval()
    assert m.training and not m.blocks[0].training and m.encoder.training
    with pytest.raises(TypeError):
        m.train("no")


# ----------------------------------------------------------------------------- hooks
def test_forward_hooks_see_and_may_replace():
    layer = Dense(3, 2)
    seen = []
    remove = layer.register_forward_hook(lambda mod, inputs, out: seen.append((mod, inputs, out)))
    x = Tensor(np.ones((1, 3)))
    y = layer(x)
    assert seen[0][0] is layer and seen[0][1][0] is x and seen[0][2] is y
    remove()
    layer(x)
    assert len(seen) == 1
    remove = layer.register_forward_hook(lambda mod, inputs, out: out * 0)
    assert not layer(x).data.any()
    remove()
    remove = layer.register_forward_pre_hook(lambda mod, inputs: (inputs[0] * 0,))
    assert np.allclose(layer(x).data, layer.bias.data)
    remove()
    layer.register_forward_pre_hook(lambda mod, inputs: inputs[0] * 0)  # a bare value works too
    assert np.allclose(layer(x).data, layer.bias.data)


def test_hooks_on_children_run_inside_the_parent():
    m = TwoLayer()
    shapes = []
    m.fc1.register_forward_hook(lambda mod, i, o: shapes.append(o.shape))
    m(Tensor(np.zeros((5, 4))))
    assert shapes == [(5, 3)]


# ----------------------------------------------------------------------------- repr
def test_repr_like_pytorch():
    assert repr(TwoLayer()) == (
        "TwoLayer(\n"
        "  (fc1): Dense(in_features=4, out_features=3, bias=True)\n"
        "  (act): ReLU()\n"
        "  (fc2): Dense(in_features=3, out_features=2, bias=True)\n"
        ")"
    )
    assert repr(Deep()).split("\n")[:4] == [
        "Deep(",
        "  (encoder): TwoLayer(",
        "    (fc1): Dense(in_features=4, out_features=3, bias=True)",
        "    (act): ReLU()",
    ]
    assert "  (blocks): ModuleList(\n    (0): Dense" in repr(Deep())
    assert "    (1): Tanh()\n" in repr(Deep())
    assert repr(Module()) == "Module()"


def test_repr_with_settings_and_children():
    class Block(Module):
        def __init__(self):
            super().__init__()
            self.width = 7
            self.soft = Softmax(dim=1)

        def extra_repr(self):
            return f"width={self.width}"

    assert repr(Block()) == "Block(\n  width=7\n  (soft): Softmax(dim=1)\n)"


# ----------------------------------------------------------------------------- state_dict
def test_state_dict_keys_shapes_and_copies():
    m = Deep()
    sd = m.state_dict()
    # like PyTorch: each module's own parameters, then its buffers, then its children's
    assert list(sd) == ["scale", "steps"] + [n for n, _ in DEEP_PARAMS[1:]]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    assert sd["encoder.fc1.weight"].shape == (3, 4)
    sd["encoder.fc1.weight"][...] = 123  # a copy: the model is untouched
    assert not (m.encoder.fc1.weight.data == 123).any()
    kept = m.state_dict(keep_vars=True)
    assert kept["encoder.fc1.weight"] is m.encoder.fc1.weight
    assert list(m.encoder.state_dict(prefix="encoder."))[0] == "encoder.fc1.weight"


def test_load_state_dict_round_trip_in_place():
    a, b = Deep(), Deep()
    w = b.encoder.fc1.weight
    assert b.load_state_dict(a.state_dict()) == IncompatibleKeys([], [])
    assert b.encoder.fc1.weight is w  # loaded in place
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)))
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_accepts_tensors_and_npz(tmp_path):
    a, b = TwoLayer(), TwoLayer()
    b.load_state_dict({k: Tensor(v) for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(b.fc2.bias.data, a.fc2.bias.data)
    c = TwoLayer()
    np.savez(tmp_path / "ckpt.npz", **a.state_dict())
    with np.load(tmp_path / "ckpt.npz") as f:
        c.load_state_dict(f)
    np.testing.assert_array_equal(c.fc1.weight.data, a.fc1.weight.data)


def test_load_state_dict_missing_and_unexpected_keys():
    m = TwoLayer()
    sd = m.state_dict()
    del sd["fc2.bias"]
    sd["fc3.weight"] = np.zeros((1, 1))
    with pytest.raises(KeyError, match=r"missing keys \['fc2.bias'\].*unexpected keys \['fc3.weight'\]"):
        m.load_state_dict(sd)
    with pytest.raises(RuntimeError):  # PyTorch's exception type works too
        m.load_state_dict(sd)
    before = m.fc1.weight.data.copy()
    sd["fc1.weight"] = before + 1
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc2.bias"] and result.unexpected_keys == ["fc3.weight"]
    np.testing.assert_array_equal(m.fc1.weight.data, before + 1)


def test_load_state_dict_shape_mismatch_names_key_and_both_shapes():
    m = TwoLayer()
    sd = m.state_dict()
    sd["fc1.weight"] = np.zeros((4, 3))
    before = m.fc2.weight.data.copy()
    sd["fc2.weight"] = before + 1
    for strict in (True, False):
        with pytest.raises(ValueError, match=r"'fc1.weight'.*\(4, 3\).*\(3, 4\)"):
            m.load_state_dict(sd, strict=strict)
    # nothing was copied, not even the keys that fitted
    np.testing.assert_array_equal(m.fc2.weight.data, before)
    with pytest.raises(StateDictShapeError):
        m.load_state_dict(sd)
    assert issubclass(StateDictKeyError, KeyError) and issubclass(StateDictShapeError, RuntimeError)


def test_shared_module_is_saved_under_every_name():
    m = Module()
    m.a = Dense(2, 2)
    m.b = m.a
    assert list(m.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    m.load_state_dict(m.state_dict())


def test_deepcopy_keeps_the_structure_and_copies_the_weights():
    m = Deep()
    c = copy.deepcopy(m)
    assert c.encoder.fc1.weight is not m.encoder.fc1.weight
    assert c.encoder.fc1.weight is c.encoder.fc1._parameters["weight"]
    assert list(c.state_dict()) == list(m.state_dict())
    c.encoder.fc1.weight.data[...] = 0
    assert m.encoder.fc1.weight.data.any()


def test_module_dict_registers_under_keys():
    d = ModuleDict({"enc": Dense(3, 2), "act": ReLU()})
    d["dec"] = Dense(2, 3)
    assert list(d) == ["enc", "act", "dec"] and len(d) == 3 and "act" in d
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(d.pop("act"), ReLU) and list(d.keys()) == ["enc", "dec"]
    with pytest.raises(KeyError, match="nope"):
        d["nope"]


def test_cast_input_uses_the_first_parameter_then_a_float_buffer():
    class Scale(Module):
        def __init__(self, dtype):
            super().__init__()
            self.register_parameter("unused", None)
            self.scale = Parameter(np.ones(2))
            self.scale.data = self.scale.data.astype(dtype)

    x = Tensor([1, 2])
    assert Scale(np.float64).cast_input(x).dtype == np.float64
    assert Scale(np.float32).cast_input([1.5, 2.5]).tolist() == [1.5, 2.5]

    class Stats(Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", Tensor(np.array(0)))
            self.register_buffer("mean", Tensor(np.zeros(2), dtype=np.float64))

    assert Stats().cast_input(x).dtype == np.float64
    plain = Module()
    assert plain.cast_input(x) is x
    assert plain.cast_input(np.array([1.0, 2.0])).dtype == np.float32  # Tensor()'s default
    same = Tensor([1.0, 2.0])
    assert Scale(np.float32).cast_input(same) is same  # nothing to do: no copy


# ----------------------------------------------------------------------------- ModuleBase
def test_registration_takes_any_module_base_without_a_list_of_types():
    class Scale(ModuleBase):  # neither a Module nor an Activation: a layer all the same
        def forward(self, x):
            return x * 2.0

    m = TwoLayer()
    m.double_it = Scale()
    assert isinstance(Module(), ModuleBase) and isinstance(ReLU(), ModuleBase)
    assert not isinstance(ReLU(), Module) and issubclass(type(ReLU()), Activation)
    assert list(m._modules) == ["fc1", "act", "fc2", "double_it"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2", "double_it"]
    assert [n for n, _ in m.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert m.eval() is m and not m.double_it.training and not m.act.training
    visited = []
    m.apply(lambda mod: visited.append(type(mod).__name__))
    assert visited == ["Dense", "ReLU", "Dense", "Scale", "TwoLayer"]
    with pytest.raises(TypeError, match="needs a Module, got int"):
        m.add_module("x", 3)


def test_hooks_on_an_activation_inside_a_model():
    m = TwoLayer()
    seen = []
    remove_pre = m.act.register_forward_pre_hook(lambda mod, args: (args[0] * 0.0,))
    remove = m.act.register_forward_hook(lambda mod, args, out: seen.append(out.shape))
    x = Tensor(np.ones((5, 4), dtype=np.float32))
    out = m(x)
    assert seen == [(5, 3)]
    np.testing.assert_allclose(out.data, np.broadcast_to(m.fc2.bias.data, (5, 2)))  # act gave 0
    remove_pre(), remove()
    assert not m.act._forward_hooks and not m.act._forward_pre_hooks
    assert not ReLU()._forward_hooks  # hooks are per instance, not shared through the class
    m(x)
    assert seen == [(5, 3)]


def test_traverse_apply_runs_each_childs_subtree_in_order_then_the_parent():
    m = Module()
    m.enc = TwoLayer()
    m.head = Dense(2, 2)
    m.again = m.head  # the same child under two names: visited once, like PyTorch
    order = []
    m.apply(lambda mod: order.append(mod))
    assert order == [m.enc.fc1, m.enc.act, m.enc.fc2, m.enc, m.head, m]


def test_load_state_dict_lists_unexpected_keys_module_by_module():
    m = Module()
    m.enc = TwoLayer()
    state = {k: v for k, v in m.state_dict().items()}
    state.update({"enc.fc1.scale": np.ones(1), "zzz": np.ones(1), "enc.new.weight": np.ones(1)})
    result = m.load_state_dict(state, strict=False)
    # root first, then enc, then enc.fc1 (PyTorch's order); within a module, the state's order
    assert result == IncompatibleKeys([], ["zzz", "enc.new.weight", "enc.fc1.scale"])

"""Issue 23: the three fast-path switches (spatial's fused kernels, Dense's fused linear, fused
attention) are the runtime's Switch objects — one idiom — and each package's public functions
(set_…, …_enabled, the context manager) drive that one object."""

from __future__ import annotations

import pytest

from tinytorch.core import attention, layers, spatial
from tinytorch.core.tensor.runtime import Switch, switch, switches

CASES = [
    ("spatial.fused_kernels", spatial.set_fused_kernels, spatial.fused_kernels_enabled,
     spatial.fused_kernels),
    ("layers.fused_linear", layers.set_fused_linear, layers.fused_linear_enabled,
     layers.fused_linear),
    ("attention.fused", attention.set_fused_attention, attention.fused_attention_enabled,
     attention.fused_attention),
]


@pytest.mark.parametrize("name, set_, enabled, block", CASES, ids=[c[0] for c in CASES])
def test_each_packages_switch_is_the_runtimes(name, set_, enabled, block):
    s = switch(name)
    assert isinstance(s, Switch) and name in switches()
    before = s.enabled
    try:
        assert set_(not before) == before
        assert s.enabled is (not before) and enabled() is (not before)
        with block(before):
            assert s.enabled is before and enabled() is before
        assert s.enabled is (not before)
    finally:
        s.set(before)

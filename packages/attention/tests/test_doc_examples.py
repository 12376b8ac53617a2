"""The examples in the docstrings run and print what they claim.

They use ``np`` and ``Tensor`` without importing them (as the rest of the docs do), so both are
provided here.
"""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor

MODULES = ["", ".masks", ".functional", ".multihead", ".normalization", ".embedding", ".transformer", ".gpt", ".kvcache"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"tinytorch.core.attention{name}")
    result = doctest.testmod(module, extraglobs={"np": np, "Tensor": Tensor},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module.__name__} has no docstring example"
    assert result.failed == 0, f"{result.failed} docstring example(s) of {module.__name__} failed"

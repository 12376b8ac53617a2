"""The "PyTorch signatures, checked" page (docs/hooks/pytorch_names.py) keeps true on both sides.

TinyTorch's side is read at build time (the status of each row); here, every PyTorch name the
page lists must exist in PyTorch and take the keyword arguments the page says it takes, and the
status computed against the installed wheels must be that computed against the sources.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "docs" / "hooks"))
pytorch_names = importlib.import_module("pytorch_names")


def _torch_object(name: str):
    """``torch.a.b``: attributes from ``torch`` down (``torch.autograd.gradcheck`` is the
    function, not the module of that name), importing a submodule only when it is no attribute."""
    parts = name.split(".")
    obj = torch
    for i, part in enumerate(parts[1:], start=2):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        else:
            obj = importlib.import_module(".".join(parts[:i]))
    return obj


def _takes(obj, name: str, arg: str) -> bool:
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        params = inspect.signature(target).parameters
        if arg in params:
            return True
        if not any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params.values()):
            return False
    except (TypeError, ValueError):
        pass
    # a builtin, or (*args, **kwargs): the signature its docstring documents
    doc = (obj.__doc__ or "")
    function = getattr(torch, name.rsplit(".", 1)[1], None)  # Tensor.sum -> torch.sum
    doc += (function.__doc__ or "") if function is not None else ""
    return re.search(rf"\b{re.escape(arg)}\b", doc) is not None


@pytest.mark.parametrize("entry", pytorch_names.ENTRIES, ids=lambda e: e[1])
def test_pytorch_has_the_name_and_arguments_listed(entry):
    _, name, args, _, _ = entry
    obj = _torch_object(name)
    missing = [a for a in args if not _takes(obj, name, a)]
    assert not missing, f"{name} takes no {missing} in PyTorch {torch.__version__}"


def test_status_from_the_wheels_is_the_status_from_the_sources():
    installed = pytorch_names.check()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in sorted(REPO.glob("packages/*/src"))))
    res = subprocess.run([sys.executable, str(REPO / "docs" / "hooks" / "pytorch_names.py")],
                         capture_output=True, text=True, env=env, check=True)
    assert json.loads(res.stdout) == installed


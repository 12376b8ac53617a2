"""The module registry: course order, names, and resolving what a user types."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tinytorch.setup.registry import (
    MODULES,
    UnknownModuleError,
    canonical_name,
    module_for_distribution,
    resolve_module,
)
from tinytorch.setup.repo import find_repo_root


def test_seventeen_modules_in_course_order():
    assert [m.number for m in MODULES] == list(range(17))
    assert MODULES[0].folder == "introduction" and MODULES[-1].folder == "capstone"
    assert all(m.distribution == f"tinytorch-{m.folder}" for m in MODULES)
    assert len({m.import_name for m in MODULES}) == 17


@pytest.mark.parametrize("text", ["02", "2", 2, "tensor", "tinytorch-tensor", "TinyTorch_Tensor",
                                  "tinytorch.core.tensor", " tensor "])
def test_resolve_accepts_number_folder_distribution_import(text):
    module = resolve_module(text)
    assert module.folder == "tensor"
    assert module.import_dir == "tinytorch/core/tensor"
    assert module.tests_dir == "tinytorch/core/tensor/tests"
    assert module.label == "02 tensor"


@pytest.mark.parametrize("text", ["17", "99", "tensors", "tinytorch", "", "core.tensor"])
def test_resolve_rejects_unknown_names_listing_the_choices(text):
    with pytest.raises(UnknownModuleError) as info:
        resolve_module(text)
    assert "02/tensor" in str(info.value) and "16/capstone" in str(info.value)


def test_capstone_and_setup_are_outside_core():
    assert resolve_module("16").import_name == "tinytorch.capstone"
    assert resolve_module("setup").tests_dir == "tinytorch/setup/tests"


def test_distribution_lookup():
    assert canonical_name("Tinytorch_Dense.x") == "tinytorch-dense-x"
    assert module_for_distribution("TINYTORCH_DENSE").number == 5
    assert module_for_distribution("tinytorch") is None


def test_registry_matches_the_contributing_table():
    root = find_repo_root(Path(__file__).parent)
    if root is None or not (root / "CONTRIBUTING.md").is_file():
        pytest.skip("not running inside the repository checkout")
    rows = re.findall(r"^\| (\d\d) \| (\w+) \| (tinytorch-\w+) \| (tinytorch\.[\w.]+)",
                      (root / "CONTRIBUTING.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert [(int(n), f, d, i) for n, f, d, i in rows] == [
        (m.number, m.folder, m.distribution, m.import_name) for m in MODULES]

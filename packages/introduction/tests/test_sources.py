"""Reading the graph from a checkout's pyproject.toml files and from installed metadata."""

from __future__ import annotations

import sys

import pytest

from tinytorch.introduction import discover, find_repo, from_installed, from_repo

needs_tomllib = pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python >= 3.11")


@needs_tomllib
def test_from_repo_reads_every_pyproject(tmp_path, package, dist):
    package(tmp_path, "tensor", 2)
    package(tmp_path, "layers", 4, ("tensor",))
    package(tmp_path, "extra", None, ("layers", "tensor"))
    (tmp_path / "packages" / "notes").mkdir()  # a folder without pyproject.toml is no package
    site = tmp_path / "site"
    dist(site, "tinytorch-layers", "0.1.0+student")
    g = from_repo(tmp_path, path=[str(site)])
    assert [n.folder for n in g.ordered_nodes()] == ["tensor", "layers", "extra"]
    assert g.nodes["tinytorch-extra"].number is None
    assert g.nodes["tinytorch-layers"].is_student
    assert g.nodes["tinytorch-tensor"].installed_version is None
    assert g.dependencies("tinytorch-extra") == ["tinytorch-tensor", "tinytorch-layers"]
    assert "repository" in g.source


def test_from_installed_reads_requires_dist(tmp_path, dist):
    site = tmp_path / "site"
    dist(site, "tinytorch-tensor", "0.1.0", ("numpy>=1.24", 'pytest>=7; extra == "test"'),
         "TinyTorch module 02: tensors")
    dist(site, "tinytorch-layers", "0.1.0+student",
         ("numpy>=1.24", "tinytorch-tensor<0.2,>=0.1", 'tinytorch-kernels; extra == "fast"'),
         "TinyTorch module 04: layers")
    dist(site, "tinytorch-framework", "0.1.0", ("tinytorch-tensor", "tinytorch-layers"), "meta")
    dist(site, "tinytorch", "0.1.0", (), "the unrelated project of that name on PyPI")
    dist(site, "unrelated", "1.0", ("tinytorch-tensor",))
    g = from_installed([str(site)])
    assert sorted(g.nodes) == ["tinytorch-layers", "tinytorch-tensor"]  # no meta, no others
    layers = g.nodes["tinytorch-layers"]
    assert layers.number == 4 and layers.is_student and layers.requires == ("tinytorch-tensor",)
    assert g.topological_order() == ["tinytorch-tensor", "tinytorch-layers"]


@needs_tomllib
def test_an_editable_install_takes_its_number_from_its_pyproject(tmp_path, package, dist):
    folder = package(tmp_path / "repo", "tensor", 2)
    site = tmp_path / "site"
    dist(site, "tinytorch-tensor", "0.1.0", (), "no number in this summary", editable=folder)
    g = from_installed([str(site)])
    node = g.nodes["tinytorch-tensor"]
    assert node.number == 2 and node.path == folder.resolve()


@needs_tomllib
def test_discover_and_find_repo(tmp_path, package, monkeypatch):
    package(tmp_path, "tensor", 2)
    inner = tmp_path / "packages" / "tensor" / "src"
    inner.mkdir(parents=True)
    monkeypatch.delenv("TINYTORCH_REPO", raising=False)
    assert find_repo(inner) == tmp_path
    monkeypatch.setenv("TINYTORCH_REPO", str(tmp_path))
    g = discover("auto")
    assert list(g.nodes) == ["tinytorch-tensor"]
    monkeypatch.setenv("TINYTORCH_REPO", "none")
    assert find_repo(inner) is None
    with pytest.raises(FileNotFoundError, match="TINYTORCH_REPO"):
        discover("repo")
    with pytest.raises(ValueError):
        discover("somewhere")


def test_this_module_is_installed():
    g = from_installed()
    node = g.nodes["tinytorch-introduction"]
    assert node.number == 0
    assert node.requires == ()
    assert any(e.startswith("system.graph = ") for e in node.entry_points)

"""Fixtures: small fake checkouts and fake installed distributions, written to tmp_path."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tinytorch.introduction import ModuleGraph, ModuleNode


def make_node(folder: str, number: int | None, requires: tuple = (), **kw) -> ModuleNode:
    return ModuleNode(f"tinytorch-{folder}", number, kw.pop("version", "0.1.0"),
                      kw.pop("summary", f"TinyTorch module {number}: {folder}"),
                      tuple(f"tinytorch-{r}" for r in requires), **kw)


@pytest.fixture
def course() -> ModuleGraph:
    """A small course: tensor <- act <- layers <- net; tensor <- grad <- opt; net, opt <- train."""
    return ModuleGraph.from_nodes([
        make_node("setup", 1),
        make_node("tensor", 2),
        make_node("act", 3, ("tensor",)),
        make_node("layers", 4, ("tensor", "act")),
        make_node("net", 5, ("layers",)),
        make_node("grad", 6, ("tensor",)),
        make_node("opt", 7, ("grad",)),
        make_node("train", 8, ("net", "opt", "tensor", "layers")),
    ], "a test course")


def write_package(repo: Path, folder: str, number: int | None, deps: tuple = (),
                  files: dict | None = None, version: str = "0.1.0") -> Path:
    """packages/<folder>/pyproject.toml (+ files relative to the package folder)."""
    pkg = repo / "packages" / folder
    pkg.mkdir(parents=True, exist_ok=True)
    dep_lines = ", ".join(f'"tinytorch-{d}>=0.1,<0.2"' for d in deps)
    tool = f"\n[tool.tinytorch]\nmodule = {number}\n" if number is not None else ""
    (pkg / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "tinytorch-{folder}"
        version = "{version}"
        description = "TinyTorch module {number}: {folder}"
        dependencies = ["numpy>=1.24", {dep_lines}]

        [project.optional-dependencies]
        test = ["pytest>=7"]
        """) + tool)
    for rel, text in (files or {}).items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return pkg


def write_dist(site: Path, name: str, version: str, requires: tuple = (), summary: str = "",
               files: dict | None = None, editable: Path | None = None) -> Path:
    """A fake installed distribution: <site>/<name>-<version>.dist-info (+ recorded files)."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {summary}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    record = []
    for rel, text in (files or {}).items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        record.append(f"{rel},,")
    (info / "RECORD").write_text("".join(f"{r}\n" for r in record))
    if editable is not None:
        (info / "direct_url.json").write_text(json.dumps(
            {"url": editable.resolve().as_uri(), "dir_info": {"editable": True}}))
    return info


@pytest.fixture
def node():
    """make_node(folder, number, requires=(), **fields) -> ModuleNode."""
    return make_node


@pytest.fixture
def package():
    """write_package(repo, folder, number, deps=(), files=None, version=...) -> folder."""
    return write_package


@pytest.fixture
def dist():
    """write_dist(site, name, version, requires=(), summary='', files=None, editable=None)."""
    return write_dist

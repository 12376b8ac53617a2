"""Student workspaces: written from a reference folder or an installed wheel, installed, reset.

Installs go to throw-away sandbox environments (see conftest), so the environment running the
tests is never touched.
"""

from __future__ import annotations

import json
import pytest

from tinytorch.setup.dists import get_installed, is_student_version
from tinytorch.setup.metadata_toml import set_project_version, tomllib
from tinytorch.setup.process import TitoError
from tinytorch.setup.sources import layout_from_folder, layout_from_wheel_install
from tinytorch.setup.workspace import (
    REFERENCE_DIR,
    STATE_FILE,
    create_workspace,
    find_workspace,
    module_name_for,
    saved_reference,
    student_version,
)

PROBE = """
import importlib.metadata as md, json
import tinytorch.toy.ops as ops
try:
    result = ops.double(2)
except NotImplementedError as exc:
    result = "NotImplementedError: " + str(exc)
print(json.dumps({"double": result, "version": md.version("tinytorch-toy"),
                  "file": ops.__file__}))
"""


def probe(box):
    out = box.run("-c", PROBE)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_versions_and_module_names():
    assert student_version("0.1.0") == "0.1.0+student"
    assert student_version("0.2.1+local.3") == "0.2.1+student"
    assert is_student_version("0.1.0+student") and not is_student_version("0.1.0")
    assert not is_student_version("not a version")
    assert module_name_for("src/tinytorch/core/tensor/ops.py") == "tinytorch.core.tensor.ops"
    assert module_name_for("src/tinytorch/toy/__init__.py") == "tinytorch.toy"
    with pytest.raises(TitoError):
        student_version("banana")


def test_set_project_version_touches_only_the_project_table():
    text = '[project]\nname = "x"\nversion = "0.1.0"\n\n[tool.x]\nversion = "9"\n'
    out = set_project_version(text, "0.1.0+student")
    data = tomllib.loads(out)
    assert data["project"]["version"] == "0.1.0+student" and data["tool"]["x"]["version"] == "9"
    with pytest.raises(TitoError, match="no static version"):
        set_project_version('[project]\nname = "x"\ndynamic = ["version"]\n', "1")


def test_workspace_from_a_folder_is_stubbed_and_keeps_the_reference(toy_package, tmp_path):
    ws = create_workspace(layout_from_folder(toy_package), tmp_path / "ws")
    assert ws.version == "0.1.0+student"
    assert [(b.filename, b.qualname) for b in ws.blocks] == [
        ("src/tinytorch/toy/ops.py", "double"), ("src/tinytorch/toy/ops.py", "Scaler.__call__"),
        ("src/tinytorch/toy/ops.py", "triple")]
    ops = (ws.path / "src/tinytorch/toy/ops.py").read_text()
    assert "return 2 * x" not in ops and "### HINT: multiply by two" in ops
    assert 'raise NotImplementedError("tinytorch.toy.ops.double: implement this (see the hint' in ops
    compile(ops, "ops.py", "exec")
    assert (ws.path / "tests/test_toy.py").read_text() == (toy_package / "tests/test_toy.py").read_text()
    pyproject = tomllib.loads((ws.path / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == "0.1.0+student"
    assert pyproject["project"]["name"] == "tinytorch-toy"
    assert (ws.reference / "src/tinytorch/toy/ops.py").read_text() == \
        (toy_package / "src/tinytorch/toy/ops.py").read_text()
    state = json.loads((ws.path / STATE_FILE).read_text())
    assert state["distribution"] == "tinytorch-toy" and len(state["blocks"]) == 3
    assert saved_reference(ws.path).origin == "saved"


def test_existing_workspace_is_not_overwritten_without_force(toy_package, tmp_path):
    dest = tmp_path / "ws"
    create_workspace(layout_from_folder(toy_package), dest)
    (dest / "src/tinytorch/toy/ops.py").write_text("# my work\n")
    with pytest.raises(TitoError, match="already exists") as info:
        create_workspace(layout_from_folder(toy_package), dest)
    assert "--force" in info.value.hint
    assert (dest / "src/tinytorch/toy/ops.py").read_text() == "# my work\n"
    create_workspace(layout_from_folder(toy_package), dest, force=True)
    assert "raise NotImplementedError" in (dest / "src/tinytorch/toy/ops.py").read_text()


def test_malformed_reference_is_reported_with_file_and_line(make_toy, tmp_path):
    bad = make_toy("bad", **{"src/tinytorch/toy/bad.py": "def f():\n    ### BEGIN SOLUTION\n    return 1\n"})
    with pytest.raises(TitoError, match=r"src/tinytorch/toy/bad.py:2: .*without a matching"):
        create_workspace(layout_from_folder(bad), tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


@pytest.mark.slow  # pip-installs into sandbox environments
def test_round_trip_install_student_then_reset(toy_package, tmp_path, sandbox):
    ws = create_workspace(layout_from_folder(toy_package), tmp_path / "ws")
    sandbox.install(ws.path)
    student = probe(sandbox)
    assert student["version"] == "0.1.0+student"
    assert student["double"] == ("NotImplementedError: tinytorch.toy.ops.double: implement this "
                                 "(see the hint above)")
    assert student["file"].startswith(str(sandbox.site))
    assert (sandbox.site / "tinytorch/toy/tests/test_toy.py").is_file()  # the tests ship too
    installed = get_installed("tinytorch-toy", [str(sandbox.site)])
    assert installed.is_student and installed.kind == "student"
    assert installed.source_dir == ws.path  # how `tito export` finds the workspace again
    toy = type("M", (), {"folder": "toy", "distribution": "tinytorch-toy"})()
    assert find_workspace(toy, None, installed) == ws.path.resolve()
    sandbox.install(ws.path / REFERENCE_DIR)
    reference = probe(sandbox)
    assert reference["double"] == 4 and reference["version"] == "0.1.0"
    assert len(list(sandbox.site.glob("tinytorch_toy-*.dist-info"))) == 1


@pytest.mark.slow  # pip-installs into sandbox environments
def test_workspace_from_an_installed_wheel(toy_sandbox, toy_module, tmp_path, sandbox):
    installed = get_installed("tinytorch-toy", [str(toy_sandbox.site)])
    assert installed is not None and installed.kind == "reference"
    layout = layout_from_wheel_install(installed, toy_module)
    assert "src/tinytorch/toy/ops.py" in layout.files and "tests/test_toy.py" in layout.files
    assert not any("dist-info" in p for p in layout.paths())
    pyproject = tomllib.loads(layout.read_text("pyproject.toml"))
    assert pyproject["project"]["optional-dependencies"] == {"test": ["pytest>=7"]}
    assert pyproject["project"]["entry-points"]["tinytorch.tito"] == {"toy": "tinytorch.toy.cli:register"}
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"] == {
        "tests": "tinytorch/toy/tests"}
    ws = create_workspace(layout, tmp_path / "ws")
    sandbox.install(ws.path)
    assert probe(sandbox)["double"].startswith("NotImplementedError: tinytorch.toy.ops.double")
    student = get_installed("tinytorch-toy", [str(sandbox.site)])
    assert [ep.name for ep in student.dist.entry_points] == ["toy"]


def test_find_workspace_explains_where_it_looked(tmp_path, toy_module, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TitoError, match="no student workspace for tinytorch-toy") as info:
        find_workspace(toy_module, None, None)
    assert "tito module start toy" in info.value.hint

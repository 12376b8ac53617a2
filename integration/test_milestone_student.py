"""A milestone (and `tito train`) on a student's workspace reports the student's code as theirs.

The test does what a student does, in a throw-away virtual environment layered over this one
(so this environment is never modified): ``tito module start dense`` writes the workspace with
the solution blocks stubbed and installs it (editable, version ``+student``); the blocks are
then filled back in from the reference the workspace keeps (``.reference/``), as a student who
finished the module would have them; ``tito milestone run 1969 --quick`` then trains on that
code. The milestone must say that ``dense`` is the student's, pass, and record the run in
``milestones.json`` beside the workspace.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


class LayeredVenv:
    """A venv without pip whose ``.pth`` adds this interpreter's ``sys.path`` after its own
    site-packages: it sees every package installed here, and what it installs shadows them."""

    def __init__(self, root: Path) -> None:
        venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
        self.python = str(root / "bin" / "python")
        site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
        own = subprocess.run([self.python, "-I", "-S", "-c", "import sys; print(repr(sys.path))"],
                             capture_output=True, text=True, check=True).stdout
        stdlib = {os.path.realpath(p) for p in ast.literal_eval(own)}
        parents = [p for p in dict.fromkeys(sys.path)
                   if p and os.path.isdir(p) and os.path.realpath(p) not in stdlib]
        # sorts after an editable install's own .pth, so the workspace comes first
        (site / "zz_parent_env.pth").write_text(
            "".join(f"import site; site.addsitedir({p!r})\n" for p in parents))

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "TINYTORCH_MILESTONES")}
        env.update(TINYTORCH_REPO="", COLUMNS="200")
        return subprocess.run([self.python, *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=900)


def test_milestone_on_a_student_workspace_reports_student(tmp_path):
    box = LayeredVenv(tmp_path / "venv")
    home = tmp_path / "course"
    home.mkdir()
    workspace = home / "tinytorch-student" / "dense"
    started = box.run("-m", "tinytorch.setup", "module", "start", "dense", "--dir", str(workspace),
                      cwd=home)
    assert started.returncode == 0, started.stdout + started.stderr
    stubbed = (workspace / "src/tinytorch/core/dense/sequential.py").read_text()
    assert "NotImplementedError" in stubbed  # the student's copy, blocks cut out

    # the student finishes the module: every block filled back in from the saved reference
    shutil.copytree(workspace / ".reference" / "src", workspace / "src", dirs_exist_ok=True)

    ran = box.run("-m", "tinytorch.setup", "milestone", "run", "1969", "--quick", cwd=home)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    rows = {line.split()[0]: line.split()[1:] for line in ran.stdout.splitlines()
            if line.startswith("  ") and len(line.split()) >= 3}
    assert rows["dense"][:2] == ["student", "0.1.0+student"]
    assert rows["dense"][2] == str(workspace.resolve())
    assert rows["layers"][0] == "reference" and rows["tensor"][0] == "reference"
    assert "1969 xor: PASSED" in ran.stdout

    record = home / "tinytorch-student" / "milestones.json"  # beside the workspaces
    assert f"recorded in {record}" in ran.stdout
    entry = json.loads(record.read_text())["runs"][-1]
    assert entry["milestone"] == "1969-xor" and entry["passed"]
    assert entry["implementations"]["dense"]["kind"] == "student"
    assert entry["implementations"]["dense"]["version"] == "0.1.0+student"
    assert entry["versions"]["tinytorch-dense"] == "0.1.0+student"

    status = box.run("-m", "tinytorch.setup", "milestone", "status", cwd=home)
    assert status.returncode == 0 and "(your dense)" in status.stdout


def test_tito_train_runs_the_students_composite_convolution(tmp_path):
    """``tito train cifar10`` with the student's tinytorch-spatial: composite by default, and says so."""
    from tinytorch.core.dataloader import CIFAR10, DatasetNotFoundError

    try:
        root = str(CIFAR10(train=False).root)
    except DatasetNotFoundError as err:
        pytest.fail(f"the real CIFAR-10 is required; prepare it with `python .ci/tt.py cifar10`\n{err}")
    box = LayeredVenv(tmp_path / "venv")
    workspace = tmp_path / "tinytorch-student" / "spatial"
    started = box.run("-m", "tinytorch.setup", "module", "start", "spatial", "--dir", str(workspace),
                      cwd=tmp_path)
    assert started.returncode == 0, started.stdout + started.stderr
    shutil.copytree(workspace / ".reference" / "src", workspace / "src", dirs_exist_ok=True)
    common = ["-m", "tinytorch.setup", "train", "cifar10", "--data", root, "--epochs", "1",
              "--limit-train", "128", "--limit-test", "50", "--no-progress"]

    default = box.run(*common, "--out", str(tmp_path / "a"), cwd=tmp_path)
    assert default.returncode == 0, default.stdout + default.stderr
    assert "conv: your composite implementation (tinytorch-spatial 0.1.0+student, " \
           f"{workspace.resolve()})" in default.stdout
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["kernels"] == "composite"

    fused = box.run(*common, "--kernels", "fused", "--out", str(tmp_path / "b"), cwd=tmp_path)
    assert fused.returncode == 0, fused.stdout + fused.stderr
    assert "conv: the fused kernels (your composite code is not used" in fused.stdout
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["kernels"] == "fused"

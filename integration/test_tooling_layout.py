"""The repository's tooling (.ci/ttools) imports one way: each module only from those listed
before it in ORDER, so there is no import circle; and .ci/tt.py is only its launcher."""

import ast
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / ".ci" / "ttools"
ORDER = ["model", "contract", "build", "envs", "meta", "data", "report", "release", "cli"]


def _local_imports(module: str) -> set:
    tree = ast.parse((TOOLS / f"{module}.py").read_text(encoding="utf-8"))
    found = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1}
    found |= {n.module.split(".", 1)[1] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.level == 0 and (n.module or "").startswith("ttools.")}
    return found


def test_every_module_is_in_the_order():
    assert sorted(p.stem for p in TOOLS.glob("*.py") if p.stem != "__init__") == sorted(ORDER)


def test_imports_run_one_way():
    for i, module in enumerate(ORDER):
        later = _local_imports(module) - set(ORDER[:i])
        assert not later, f"ttools/{module}.py imports {sorted(later)}, which come after it in {ORDER}"


def test_tt_py_is_only_the_launcher():
    launcher = TOOLS.parent / "tt.py"
    assert len(launcher.read_text(encoding="utf-8").splitlines()) < 20
    assert not (TOOLS.parent / "tt_release.py").exists()

"""Every code example on the site runs, and the getting-started commands are the README's.

The site is docs/*.md plus one chapter per package (its README.md), so those are the pages read
here, and the top-level README.md as well. In each page, the ```python blocks run in order, in
one namespace — a page reads like one session, so a later block may use what an earlier one
defined — in a fresh interpreter, in an empty temporary directory, with every package installed
(this is the `integration` env: all wheels, torch as an oracle, CIFAR-10 prepared).

A block is left out only by an explicit marker on the line before its fence (an HTML comment,
invisible on GitHub, PyPI and the site), and the reason is shown in the test's output:

    <!-- docs-test: skip REASON -->            never run (e.g. needs the network, or minutes)
    <!-- docs-test: requires MODULE[, ...] -->  run only where MODULE imports (e.g. torch, onnx)

A sketch that uses names the reader's own program would define (`model`, `images`) runs with a
hidden prelude that defines small stand-ins, in a comment that ends on the line before its fence:

    <!-- docs-test: prelude
    model = Sequential(Dense(4, 2))
    -->

A block whose first line starts with `>>>` is a doctest transcript: its outputs are compared.

Blocks of other languages (```bash, ```console, ```toml) are not run here; the two commands of
the getting-started page are checked against the README and run by CI itself (see below), and
the ```console commands of docs/start-here.md (the student's path) run in a fresh virtual
environment built from the wheels, in the `lessons` env (integration/lessons/), where a block
may say the exit code its commands give:

    <!-- docs-test: expect-exit N REASON -->    (e.g. `tito test` before any exercise is written)

The API pages show the `>>>` examples of the docstrings too: those run as doctests, except the
few listed in KNOWN_NOT_RUNNABLE with why (a list that may only shrink).
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!--\s*docs-test:\s*(skip|requires|expect-exit)\b\s*(.*?)\s*-->")
PRELUDE = re.compile(r"<!--\s*docs-test:\s*prelude\s*\n(.*?)^\s*-->\s*$", re.S | re.M)
FENCE = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>```+|~~~+)[ \t]*(?P<info>[^\n`]*)$")


@dataclass
class Block:
    page: str
    index: int
    line: int  # 1-based line of the opening fence
    info: str
    code: str
    skip: str | None = None
    requires: list[str] = field(default_factory=list)
    prelude: str = ""

    @property
    def doctest(self) -> bool:
        return self.code.lstrip().startswith(">>>")


def pages() -> list[Path]:
    found = sorted((REPO / "docs").glob("*.md")) + sorted((REPO / "packages").glob("*/README.md"))
    return [p for p in found if "hooks" not in p.parts] + [REPO / "README.md"]


def blocks_of(path: Path) -> list[Block]:
    """Fenced blocks of a markdown file, with the docs-test marker on the line before each."""
    lines = path.read_text(encoding="utf-8").split("\n")
    rel = path.relative_to(REPO).as_posix()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start = m.group("fence"), m.group("info").strip(), i
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(m.group("indent")):])
            i += 1
        i += 1  # past the closing fence
        previous = lines[start - 1] if start > 0 else ""
        block = Block(rel, len(out), start + 1, info, "\n".join(body) + "\n")
        if previous.strip() == "-->":  # the end of a prelude comment
            before = "\n".join(lines[:start]) + "\n"
            opening = before.rfind("<!--")
            found = PRELUDE.match(before, opening) if opening >= 0 else None
            if found:
                block.prelude = found.group(1)
        marker = MARKER.search(previous)
        if marker:
            kind, arg = marker.groups()
            if kind == "skip":
                block.skip = arg or "marked skip"
            elif kind == "requires":
                block.requires = [x.strip() for x in arg.split(",") if x.strip()]
        out.append(block)
    return out


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks_of(path) if b.info.split()[:1] in (["python"], ["py"])]


PAGES = [p for p in pages() if python_blocks(p)]

RUNNER = r"""
import doctest, json, sys, traceback
blocks = json.load(sys.stdin)
namespace = {"__name__": "__docs__"}
for b in blocks:
    if b["run"]:
        name = f"{b['page']}:{b['line']} (block {b['index']})"
        try:
            if b["prelude"]:
                exec(compile(b["prelude"], name + " prelude", "exec"), namespace)
            if b["doctest"]:
                test = doctest.DocTestParser().get_doctest(b["code"], namespace, name, b["page"], b["line"])
                runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
                runner.run(test, clear_globs=False)
                if runner.failures:
                    raise AssertionError(f"{runner.failures} doctest example(s) failed (above)")
            else:
                exec(compile(b["code"], name, "exec"), namespace)
        except BaseException:
            print("DOCS-TEST-FAILED", json.dumps({"index": b["index"], "line": b["line"]}))
            traceback.print_exc()
            sys.exit(1)
    print("DOCS-TEST-RAN", b["index"], flush=True)
"""


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_python_examples_run(page: Path, tmp_path: Path):
    blocks = python_blocks(page)
    plan, skipped = [], []
    for b in blocks:
        missing = [m for m in b.requires if importlib.util.find_spec(m) is None]
        reason = b.skip or (f"needs {', '.join(missing)}" if missing else None)
        if reason:
            skipped.append(f"block {b.index} (line {b.line}): {reason}")
        plan.append({"page": b.page, "index": b.index, "line": b.line, "code": b.code, "run": reason is None,
                     "prelude": b.prelude, "doctest": b.doctest})
    if not any(p["run"] for p in plan):
        pytest.skip("; ".join(skipped))
    # a skipped block is still valid Python, unless it is marked skip (which may hold a fragment)
    for b in blocks:
        if b.skip is None and not b.doctest:
            compile(b.code, f"{b.page}:{b.line}", "exec")
    res = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(plan), capture_output=True,
                         text=True, cwd=tmp_path, timeout=900)
    assert res.returncode == 0, (f"{page.relative_to(REPO)}: an example failed\n{res.stdout[-3000:]}\n"
                                 f"{res.stderr[-6000:]}")
    ran = [int(x) for x in re.findall(r"^DOCS-TEST-RAN (\d+)$", res.stdout, flags=re.M)]
    assert ran == [b.index for b in blocks], res.stdout[-2000:]
    if skipped:  # report what did not run, without failing what did
        print("not run: " + "; ".join(skipped))


def test_markers_are_spelled_right():
    """A misspelt marker would silently run (or silently not skip) a block."""
    problems = []
    for page in pages():
        for n, line in enumerate(page.read_text(encoding="utf-8").split("\n"), 1):
            if ("docs-test" in line and "<!--" in line and not MARKER.search(line)
                    and not re.match(r"\s*<!--\s*docs-test:\s*prelude\s*$", line)):
                problems.append(f"{page.relative_to(REPO)}:{n}: {line.strip()}")
    assert not problems, "unrecognised docs-test markers:\n" + "\n".join(problems)


def test_examples_are_found():
    """The extraction itself: the README's import example and the tensor lesson are there."""
    readme = python_blocks(REPO / "README.md")
    assert any("from tinytorch.core.tensor import Tensor" in b.code for b in readme)
    assert len(python_blocks(REPO / "packages" / "tensor" / "README.md")) >= 3


# --------------------------------------------------------------------------------------------
# Getting started: the same two commands as the README, and the ones CI runs
# --------------------------------------------------------------------------------------------

def commands(path: Path) -> list[str]:
    """The commands of the first ```bash block (comments and blank lines dropped)."""
    for b in blocks_of(path):
        if b.info.split()[:1] == ["bash"]:
            return [line.split("#", 1)[0].strip() for line in b.code.split("\n")
                    if line.split("#", 1)[0].strip()]
    return []


def test_getting_started_commands_are_the_readme_commands():
    readme = commands(REPO / "README.md")
    assert readme == ["bash .ci/setup.sh", "bash .ci/test.sh"], readme
    assert commands(REPO / "docs" / "getting-started.md") == readme


def test_ci_runs_the_readme_commands():
    """.ci/run runs the test command, and (quickly) the setup command; tox's `getting-started` env
    is what runs the setup one (TINYTORCH_SETUP_QUICK=1: everything but the long main job)."""
    run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^[^#\n]*bash \.ci/test\.sh", run, flags=re.M), "CI no longer runs .ci/test.sh"
    tox = (REPO / "tox.ini").read_text(encoding="utf-8")
    section = re.search(r"(?ms)^\[testenv:getting-started\]\n(.*?)(?=^\[|\Z)", tox)
    assert section and "bash .ci/setup.sh" in section.group(1)
    assert "getting-started" in re.search(r"(?m)^env_list\s*=\s*(.*)$", tox).group(1)


# --------------------------------------------------------------------------------------------
# Docstring examples: the API pages show them (docs/hooks/griffe_doctest.py fences them)
# --------------------------------------------------------------------------------------------

# Docstrings whose >>> examples do not run as printed today, with why. Each is shown on the site
# as an example, so the list should only shrink: fix the docstring (add its imports, define its
# stand-ins, print what really comes out) and remove it from here; the test fails on an entry
# that passes again, so a fixed one cannot linger.
KNOWN_NOT_RUNNABLE = {
    "tinytorch.core.activations.functional.leaky_relu": "prints float32 -0.2 as -0.2 (it is -0.20000000298023224)",
    "tinytorch.core.attention": "module example without its imports (Tensor)",
    "tinytorch.core.spatial": "module example without its imports (Tensor)",
    "tinytorch.core.spatial.fused.config": "sketch on the reader's model",
    "tinytorch.core.compression": "sketch on the reader's model",
    "tinytorch.core.compression.pruning.prune_magnitude": "sketch on the reader's model and optimizer",
    "tinytorch.core.mlops": "sketch on the reader's model",
    "tinytorch.core.optimizers": "sketch on the reader's model",
    "tinytorch.core.optimizers.schedulers.LinearWarmup": "sketch on the reader's optimizer",
    "tinytorch.core.optimizers.sgd.SGD": "sketch on the reader's model",
    "tinytorch.core.training": "sketch on the reader's model and loaders",
    "tinytorch.core.training.trainer.Trainer": "sketch on the reader's model and loaders",
}


def _all_modules() -> list:
    import importlib
    import pkgutil

    core = importlib.import_module("tinytorch.core")
    roots = [f"tinytorch.core.{m.name}" for m in pkgutil.iter_modules(core.__path__)]
    for extra in ("tinytorch.setup", "tinytorch.introduction", "tinytorch.capstone"):
        if importlib.util.find_spec(extra) is not None:
            roots.append(extra)
    modules = []
    for root in sorted(roots):
        pkg = importlib.import_module(root)
        modules.append(pkg)
        for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), root + "."):
            if ".tests" in info.name or info.name.endswith("__main__"):
                continue
            modules.append(importlib.import_module(info.name))
    return modules


def test_docstring_examples_run(tmp_path, monkeypatch):
    import doctest
    import io

    monkeypatch.chdir(tmp_path)  # an example may write a file
    failing, ran, report = set(), 0, []
    for module in _all_modules():
        for test in doctest.DocTestFinder().find(module):
            if not test.examples:
                continue
            ran += 1
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            out = io.StringIO()
            runner.run(test, out=out.write)
            if runner.failures:
                failing.add(test.name)
                if test.name not in KNOWN_NOT_RUNNABLE:
                    report.append(out.getvalue()[-2500:])
    assert ran >= 50, f"only {ran} docstrings with examples found: is every package installed?"
    assert not report, "docstring examples that do not run as printed:\n" + "\n".join(report)
    fixed = sorted(set(KNOWN_NOT_RUNNABLE) - failing)
    assert not fixed, f"these now run: remove them from KNOWN_NOT_RUNNABLE: {fixed}"

"""Mutation testing of TinyTorch's core files: do the package tests notice a one-token change?

    python capstone/devtools/mutate.py [--files tensor/arithmetic.py ...] [--max-per-file 45]
                                       [--seed 21] [--workers 2] [--timeout 90]
                                       [--out capstone/devtools/results/mutation.json]

For each core file (tensor: arithmetic, reductions, shape ops; autograd: the derivatives and the
engine; optimizers: sgd, adam) the script parses the source with ``ast`` and lists every place
where one small change can be made:

* comparison operators flipped at the boundary or negated (``<`` → ``<=``, ``==`` → ``!=``,
  ``is`` → ``is not``, ``in`` → ``not in`` ...);
* arithmetic swapped (``+`` ↔ ``-``, ``*`` ↔ ``/``, ``**`` → ``*``, ``//`` → ``/``), also in
  augmented assignments (``+=`` ...);
* numeric constants changed (0 ↔ 1, any other n → n + 1), including keyword defaults and
  keyword arguments of calls (``copy=True``, ``eps=1e-8``);
* ``True`` ↔ ``False`` (defaults, flags);
* a unary minus or a ``not`` dropped;
* ``and`` ↔ ``or``.

Docstrings and other strings are never touched, nor type annotations. Each mutant is one change
of the *original* file. It is written into a private copy of the owning package's ``src`` tree
(one copy per worker, under a temp dir — the checkout is never modified), the copy is put first
on ``PYTHONPATH`` (a regular package found earlier on the path wins over the editable install),
and the owning package's tests run against it with ``-x -q -p no:cacheprovider`` and a
per-mutant timeout. The tests run are narrowed to the files that exercise the mutated file
(``TESTS`` below). A failing run or a timeout kills the mutant; a passing one lets it survive.

When a file has more mutation points than ``--max-per-file``, a deterministic sample (seeded
``random.Random``) is taken; the report says so. Mutants that cannot change behaviour
(equivalent mutants) are classified by hand in ``EQUIVALENT`` with the reason, and are
reported apart; the score is killed / (generated and run - equivalent).

Writes a JSON results file and prints a summary per file with every survivor (file:line,
the change).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

# package folder, path inside src/tinytorch/core/<package>/, tests to run (relative to tests/)
TARGETS: dict = {
    "tensor/arithmetic.py": ("tensor", ["test_arithmetic.py", "test_graph.py"]),
    "tensor/reductions.py": ("tensor", ["test_reductions.py"]),
    "tensor/shape_ops.py": ("tensor", ["test_shapes.py"]),
    "autograd/derivatives/elementwise.py": ("autograd", ["test_elementwise_grads.py"]),
    "autograd/derivatives/reductions.py": ("autograd", ["test_reduction_grads.py"]),
    "autograd/derivatives/shape.py": ("autograd", ["test_shape_grads.py"]),
    "autograd/derivatives/linalg.py": ("autograd", ["test_matmul_grads.py"]),
    "autograd/engine.py": ("autograd", ["test_engine.py", "test_function_and_gradcheck.py",
                                        "test_grad_mode.py"]),
    "optimizers/sgd.py": ("optimizers", ["test_update_rules.py", "test_optimizer_api.py",
                                         "test_convergence.py"]),
    "optimizers/adam.py": ("optimizers", ["test_update_rules.py", "test_optimizer_api.py",
                                          "test_convergence.py"]),
}

# Equivalent mutants, classified by hand: (file, line, change) -> why no test can notice.
_COPY = ("astype(..., copy=False) -> copy=True: the cast array is only read by a ufunc that "
         "allocates its result, so a copy changes memory traffic, never a value or an alias")
EQUIVALENT: dict = {
    ("tensor/arithmetic.py", 68, "False -> True"): _COPY + " (_binary)",
    ("tensor/arithmetic.py", 92, "False -> True"): _COPY + " (_compare)",
    ("tensor/arithmetic.py", 156, "False -> True"): _COPY + " (__pow__)",
    ("tensor/arithmetic.py", 207, "False -> True"): _COPY + " (matmul)",
    ("autograd/derivatives/elementwise.py", 90, "False -> True"): _COPY + " (pow, d/dbase)",
    ("autograd/derivatives/elementwise.py", 93, "False -> True"): _COPY + " (pow, d/dexp)",
    ("autograd/derivatives/elementwise.py", 169, "False -> True"): _COPY + " (erf)",
    ("autograd/derivatives/reductions.py", 71, "False -> True"): _COPY + " (max/min share)",
    ("autograd/derivatives/reductions.py", 114, "False -> True"): _COPY + " (std)",
    # _laid_out_like only decides whether reshape's gradient is copied into x's memory order
    # (a speed fix); the values are the same either way, and the workspace
    # buffer is reused only when nothing references it
    ("autograd/derivatives/shape.py", 40, "or -> and"): "layout only: a contiguous x of 2+ "
        "dims now reaches the order test, which finds g already in x's order (or copies it "
        "unchanged)",
    ("autograd/derivatives/shape.py", 40, "< -> <="): "layout only: a transposed 2-D x gets g "
        "in g's own order; same values",
    ("autograd/derivatives/shape.py", 40, "2 -> 3"): "layout only: as for < -> <=",
}

CMP_SWAP = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}
BIN_SWAP = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.Pow: ast.Mult, ast.FloorDiv: ast.Div,
}
SYMBOL = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.Add: "+",
    ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//",
    ast.And: "and", ast.Or: "or",
}


@dataclass
class Mutant:
    file: str          # key of TARGETS
    index: int         # position of the node in the walk of the parsed file
    slot: int          # which operator of a Compare (0 otherwise)
    line: int
    change: str
    status: str = ""   # killed | survived | timeout | equivalent
    before: str = ""   # the status against --before REV's tests
    seconds: float = 0.0
    detail: str = ""

    @property
    def key(self) -> tuple:
        return (self.file, self.line, self.change)


def _skip_ids(tree: ast.AST) -> set:
    """ids of nodes never mutated: docstrings, annotations, ``__all__``."""
    skip: set = set()

    def mark(n):
        for sub in ast.walk(n):
            skip.add(id(sub))

    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if n.returns is not None:
                mark(n.returns)
            for a in n.args.args + n.args.kwonlyargs + n.args.posonlyargs:
                if a.annotation is not None:
                    mark(a.annotation)
            for a in (n.args.vararg, n.args.kwarg):
                if a is not None and a.annotation is not None:
                    mark(a.annotation)
        elif isinstance(n, ast.AnnAssign):
            mark(n.annotation)
        elif isinstance(n, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets):
            mark(n)
        elif isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant):
            mark(n)  # docstrings and bare strings
    return skip


def _walk(tree: ast.AST) -> list:
    return list(ast.walk(tree))


def _points(node: ast.AST) -> list:
    """(slot, description) of every single change this node allows."""
    out = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            new = CMP_SWAP.get(type(op))
            if new:
                out.append((i, f"{SYMBOL[type(op)]} -> {SYMBOL[new]}"))
    elif isinstance(node, (ast.BinOp, ast.AugAssign)):
        new = BIN_SWAP.get(type(node.op))
        if new:
            aug = "=" if isinstance(node, ast.AugAssign) else ""
            out.append((0, f"{SYMBOL[type(node.op)]}{aug} -> {SYMBOL[new]}{aug}"))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        out.append((0, f"{SYMBOL[type(node.op)]} -> {SYMBOL[other]}"))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        out.append((0, "drop unary -" if isinstance(node.op, ast.USub) else "drop not"))
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            out.append((0, f"{v} -> {not v}"))
        elif isinstance(v, (int, float)):
            out.append((0, f"{v!r} -> {_new_number(v)!r}"))
    return out


def _new_number(v):
    if v == 0:
        return type(v)(1)
    if v == 1:
        return type(v)(0)
    return v + 1


class _Apply(ast.NodeTransformer):
    def __init__(self, index: int, slot: int, nodes: list) -> None:
        self.target = nodes[index]
        self.slot = slot

    def visit(self, node):
        if node is not self.target:
            return self.generic_visit(node)
        n = node
        if isinstance(n, ast.Compare):
            ops = list(n.ops)
            ops[self.slot] = CMP_SWAP[type(ops[self.slot])]()
            n.ops = ops
            return n
        if isinstance(n, (ast.BinOp, ast.AugAssign)):
            n.op = BIN_SWAP[type(n.op)]()
            return n
        if isinstance(n, ast.BoolOp):
            n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
            return n
        if isinstance(n, ast.UnaryOp):
            return n.operand
        if isinstance(n, ast.Constant):
            v = n.value
            return ast.copy_location(ast.Constant(not v if isinstance(v, bool) else _new_number(v)), n)
        raise AssertionError(n)


def source_path(file: str) -> Path:
    pkg = TARGETS[file][0]
    inner = file.split("/", 1)[1]
    return ROOT / "packages" / pkg / "src" / "tinytorch" / "core" / pkg / inner


def enumerate_mutants(file: str) -> list:
    tree = ast.parse(source_path(file).read_text())
    skip = _skip_ids(tree)
    out = []
    for index, node in enumerate(_walk(tree)):
        if id(node) in skip:
            continue
        for slot, change in _points(node):
            out.append(Mutant(file, index, slot, getattr(node, "lineno", 0), change))
    return out


def mutant_source(m: Mutant) -> str:
    tree = ast.parse(source_path(m.file).read_text())
    nodes = _walk(tree)
    tree = _Apply(m.index, m.slot, nodes).visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


class Worker:
    """A private copy of every package src tree the tests import from this checkout."""

    def __init__(self, base: Path, k: int, tests: Path, old_tests: Path | None = None) -> None:
        self.dir = base / f"w{k}"
        self.tests = tests
        self.old_tests = old_tests
        self.srcs = {}
        for pkg in sorted({p for p, _ in TARGETS.values()}):
            dst = self.dir / pkg
            shutil.copytree(ROOT / "packages" / pkg / "src", dst,
                            ignore=shutil.ignore_patterns("__pycache__"))
            self.srcs[pkg] = dst

    def run(self, m: Mutant | None, timeout: float, file: str | None = None) -> int:
        """Run ``m`` (or, with m None, the unmutated copy against ``file``'s tests)."""
        pkg, tests = TARGETS[m.file if m else file]
        inner = (m.file if m else file).split("/", 1)[1]
        target = self.srcs[pkg] / "tinytorch" / "core" / pkg / inner
        original = target.read_text()
        if m is None:
            target.write_text(ast.unparse(ast.parse(original)))  # the same round trip
            try:
                return subprocess.run(self._cmd(pkg, tests), cwd=self.dir, env=self._env(pkg),
                                      capture_output=True, timeout=timeout * 3).returncode
            finally:
                target.write_text(original)
        target.write_text(mutant_source(m))
        env = self._env(pkg)
        cmd = self._cmd(pkg, tests)
        t0 = time.monotonic()
        try:
            if self.old_tests is not None:
                old = self._cmd(pkg, tests, self.old_tests)
                try:
                    r = subprocess.run(old, cwd=self.dir, env=env, capture_output=True,
                                       text=True, timeout=timeout)
                    m.before = "survived" if r.returncode == 0 else "killed"
                except subprocess.TimeoutExpired:
                    m.before = "timeout"
                if m.before != "survived":  # the new tests include the old ones
                    m.status = m.before
                    m.seconds = round(time.monotonic() - t0, 2)
                    return 0
            r = subprocess.run(cmd, cwd=self.dir, env=env, capture_output=True, text=True,
                               timeout=timeout)
            m.status = "survived" if r.returncode == 0 else "killed"
            if r.returncode not in (0, 1):  # collection/import error: still noticed
                m.detail = f"pytest exit {r.returncode}"
            elif r.returncode == 1:
                failed = [ln for ln in r.stdout.splitlines() if ln.startswith("FAILED")]
                m.detail = failed[0][:200] if failed else ""
        except subprocess.TimeoutExpired:
            m.status = "timeout"
        finally:
            target.write_text(original)
        m.seconds = round(time.monotonic() - t0, 2)
        return 0

    def _env(self, pkg: str) -> dict:
        return dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                    PYTHONPATH=str(self.srcs[pkg]) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def _cmd(self, pkg: str, tests: list, where: Path | None = None) -> list:
        where = where or self.tests
        return [PY, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                "-c", str(ROOT / "pytest.ini"), "--rootdir", str(where),
                *[str(where / pkg / "tests" / t) for t in tests]]


def snapshot_tests(base: Path, rev: str | None) -> Path:
    """A frozen copy of the packages' tests: the working tree's (default) or those of ``rev``
    (``--tests-from HEAD`` measures the committed tests while new ones are being written).
    It lives in a temp dir; pytest is pointed at the repository's pytest.ini with ``-c``."""
    dst = Path(tempfile.mkdtemp(prefix="tt-mutate-tests-", dir=base))
    for pkg in sorted({p for p, _ in TARGETS.values()}):
        out = dst / pkg / "tests"
        if rev is None:
            shutil.copytree(ROOT / "packages" / pkg / "tests", out,
                            ignore=shutil.ignore_patterns("__pycache__"))
            continue
        out.mkdir(parents=True)
        names = subprocess.run(["git", "ls-tree", "--name-only", rev, f"packages/{pkg}/tests/"],
                               cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
        for name in names:
            blob = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True,
                                  capture_output=True).stdout
            (out / Path(name).name).write_bytes(blob)
    return dst


def check_copy_is_used(worker: Worker) -> None:
    """The copy must shadow the editable install, or every mutant would 'survive'."""
    for pkg, src in worker.srcs.items():
        env = dict(os.environ, PYTHONPATH=str(src))
        out = subprocess.run([PY, "-c", f"import tinytorch.core.{pkg} as m; print(m.__file__)"],
                             env=env, capture_output=True, text=True, cwd=worker.dir).stdout
        if not out.strip().startswith(str(src)):
            raise SystemExit(f"the copy of {pkg} is not imported first ({out.strip()!r})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", nargs="*", default=list(TARGETS))
    ap.add_argument("--max-per-file", type=int, default=45)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=90.0)
    ap.add_argument("--out", default=str(ROOT / "capstone/devtools/results/mutation.json"))
    ap.add_argument("--tests-from", default=None,
                    help="git revision whose tests to run (default: the working tree's)")
    ap.add_argument("--before", default=None, metavar="REV",
                    help="also measure the tests of git revision REV: each mutant runs against "
                         "REV's tests first and, only if it survives them, against the working "
                         "tree's (valid when the working tree only adds tests to REV's)")
    ap.add_argument("--rerun", default=None, metavar="RESULTS",
                    help="take the mutants of an earlier results file and run again only those "
                         "that survived (after adding tests); the others keep their status")
    ap.add_argument("--sites", nargs="*", default=None, metavar="FILE:LINE",
                    help="every mutant of these lines (no sampling), e.g. the sites of known gaps")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    generated, chosen = {}, []
    previous = None
    if args.rerun:
        previous = json.loads(Path(args.rerun).read_text())
        args.files = list(previous["files"])
        args.seed, args.max_per_file = previous["seed"], previous["max_per_file"]
        generated = {f: v["generated"] for f, v in previous["files"].items()}
        chosen = [Mutant(**m) for m in previous["mutants"]]
        for m in chosen:  # the source must be the one the mutants were made from
            if m.line and enumerate_mutants(m.file) and m.key not in {
                    x.key for x in enumerate_mutants(m.file)}:
                raise SystemExit(f"{m.file} changed since {args.rerun}: run afresh")
        args.before = None
    if args.sites:
        args.files = sorted({site.rsplit(":", 1)[0] for site in args.sites})
    for f in ([] if previous else args.files):
        ms = enumerate_mutants(f)
        generated[f] = len(ms)
        if args.sites:
            ms = [m for m in ms if f"{m.file}:{m.line}" in args.sites]
        elif len(ms) > args.max_per_file:
            ms = sorted(rng.sample(ms, args.max_per_file), key=lambda m: (m.line, m.index, m.slot))
        chosen.extend(ms)
    if args.list:
        for m in chosen:
            print(f"{m.file}:{m.line}  {m.change}")
        print(f"{sum(generated.values())} generated, {len(chosen)} sampled")
        return 0

    to_run = []
    for m in chosen:
        if m.key in EQUIVALENT:
            m.status, m.detail = "equivalent", EQUIVALENT[m.key]
        elif previous is None or m.status == "survived":
            to_run.append(m)

    t0 = time.monotonic()
    tests = snapshot_tests(Path(tempfile.gettempdir()), args.tests_from)
    old_tests = snapshot_tests(Path(tempfile.gettempdir()), args.before) if args.before else None
    with tempfile.TemporaryDirectory(prefix="tt-mutate-") as tmp:
        workers = [Worker(Path(tmp), k, tests, old_tests) for k in range(args.workers)]
        check_copy_is_used(workers[0])
        # the unmutated (round-tripped) copy must pass every test selection, or "killed" lies
        with cf.ThreadPoolExecutor(args.workers) as pool:
            codes = list(pool.map(lambda k: workers[k % len(workers)].run(
                None, args.timeout, args.files[k]), range(len(args.files))))
        for f, code in zip(args.files, codes):
            if code != 0:
                raise SystemExit(f"the tests of {f} fail on the unmutated copy: fix that first")
        free = list(workers)
        with cf.ThreadPoolExecutor(args.workers) as pool:
            import threading
            lock = threading.Lock()

            def job(m):
                with lock:
                    w = free.pop()
                try:
                    w.run(m, args.timeout)
                finally:
                    with lock:
                        free.append(w)
                return m

            for i, m in enumerate(pool.map(job, to_run), 1):
                if m.status != "killed" or m.before == "survived":
                    was = f" (before: {m.before})" if m.before else ""
                    print(f"[{i}/{len(to_run)}] {m.status:8s} {m.file}:{m.line}  {m.change}{was}",
                          flush=True)
    shutil.rmtree(tests, ignore_errors=True)
    if old_tests is not None:
        shutil.rmtree(old_tests, ignore_errors=True)
    wall = time.monotonic() - t0

    per_file = {}
    for f in args.files:
        ms = [m for m in chosen if m.file == f]
        c = {s: sum(m.status == s for m in ms) for s in ("killed", "timeout", "survived",
                                                          "equivalent")}
        per_file[f] = dict(generated=generated[f], sampled=len(ms), **c,
                           survivors=[f"{m.file}:{m.line}  {m.change}" for m in ms
                                      if m.status == "survived"])
    tot = {k: sum(v[k] for v in per_file.values())
           for k in ("generated", "sampled", "killed", "timeout", "survived", "equivalent")}
    relevant = tot["sampled"] - tot["equivalent"]
    rev = args.before or ((previous or {}).get("before") or {}).get("rev")
    before = None
    if rev:  # mutants classified equivalent since do not count against the old tests either
        b_surv = [m for m in chosen if m.before == "survived" and m.status != "equivalent"]
        before = dict(rev=rev, survived=len(b_surv),
                      killed=relevant - len(b_surv),
                      score=round((relevant - len(b_surv)) / relevant, 4) if relevant else 1.0,
                      survivors=[f"{m.file}:{m.line}  {m.change}" for m in b_surv])
    score = (tot["killed"] + tot["timeout"]) / relevant if relevant else 1.0
    load = os.getloadavg()
    result = dict(
        command=" ".join([Path(PY).name, "capstone/devtools/mutate.py", *(argv or sys.argv[1:])]),
        tests_from=args.tests_from or "working tree",
        seed=args.seed, max_per_file=args.max_per_file, workers=args.workers,
        timeout=args.timeout, wall_seconds=round(wall, 1),
        load_average_at_end=[round(x, 2) for x in load], python=platform.python_version(),
        totals=dict(tot, score=round(score, 4)), before=before, files=per_file,
        equivalent=[dict(site=f"{m.file}:{m.line}", change=m.change, reason=m.detail)
                    for m in chosen if m.status == "equivalent"],
        mutants=[asdict(m) for m in chosen],
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")

    print(f"\n{'file':40s} {'gen':>4s} {'run':>4s} {'kill':>4s} {'t/o':>4s} {'surv':>4s} {'eqv':>4s}")
    for f, v in per_file.items():
        print(f"{f:40s} {v['generated']:4d} {v['sampled']:4d} {v['killed']:4d} {v['timeout']:4d} "
              f"{v['survived']:4d} {v['equivalent']:4d}")
    print(f"{'total':40s} {tot['generated']:4d} {tot['sampled']:4d} {tot['killed']:4d} "
          f"{tot['timeout']:4d} {tot['survived']:4d} {tot['equivalent']:4d}")
    sampled_note = "" if tot["generated"] == tot["sampled"] else \
        f" (sampled {tot['sampled']} of {tot['generated']}, seed {args.seed})"
    print(f"killed {tot['killed'] + tot['timeout']} of {relevant} non-equivalent mutants: "
          f"{score:.1%}{sampled_note}; {wall:.0f} s; load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}")
    if previous:
        result["rerun_of"] = dict(file=args.rerun, command=previous["command"],
                                  wall_seconds=previous["wall_seconds"],
                                  load_average_at_end=previous["load_average_at_end"])
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    if before:
        print(f"with the tests of {before['rev'][:12]}: killed {before['killed']} of {relevant} "
              f"({before['score']:.1%}), {before['survived']} survived")
    survivors = [m for m in chosen if m.status == "survived"]
    if survivors:
        print("survivors:")
        for m in survivors:
            print(f"  {m.file}:{m.line}  {m.change}")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

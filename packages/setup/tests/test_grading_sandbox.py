"""``tito grade`` against hostile submissions: the sandbox, the tamper checks, the copy rules.

Each attack is a submission of the toy module that does its mischief when its code is imported
(as the reference tests import it) and leaves evidence in its own ``home/`` folder, which the
test reads after grading. Every test that needs bubblewrap runs where it is installed; CI sets
``TINYTORCH_REQUIRE_SANDBOX=1`` (and installs it), so there a missing sandbox is a failure, not
a skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from tinytorch.setup.grading import find_submissions, grade, write_gradebook
from tinytorch.setup.grading.sandbox import bwrap_command, find_bwrap, probe
from tinytorch.setup.sources import layout_from_folder

TESTS = '''\
from tinytorch.toy.ops import Scaler, double


def test_double():
    assert double(2) == 4


def test_double_negative():
    assert double(-3) == -6


def test_scaler():
    assert Scaler(3)(2) == 6
'''

OPS = '''\
def double(x):
    return 2 * x


class Scaler:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return self.k * x


def triple(x):
    return 3 * x
'''
STUB = OPS.replace("return 2 * x", "raise NotImplementedError('double')")

#: Code run at import by the attacking submissions: write evidence into the box's home/.
EVIDENCE = '''
import os as _os
from pathlib import Path as _Path

_HOME = _Path(_os.environ["HOME"])


def _note(name, text):
    with open(_HOME / name, "a") as f:
        f.write(text + "\\n")
'''

CONFTEST_HOOK = '''
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''

TAMPER_CONFTEST = EVIDENCE + f'''
_HOOK = {CONFTEST_HOOK!r}
_box = _Path(__file__).resolve().parents[3]  # box/src/tinytorch/toy/ops.py
_work = _Path.cwd().resolve().parent.parent
for _target in [_box / "tests" / "conftest.py", *_work.glob("*/box/tests/conftest.py"),
                _work / "_reference" / "box" / "tests" / "conftest.py"]:
    try:
        with open(_target, "a") as _f:
            _f.write(_HOOK)
        _note("tamper.txt", f"wrote {{_target}}")
    except OSError as _exc:
        _note("tamper.txt", f"refused {{_target}}: {{_exc.__class__.__name__}}")
''' + STUB

PATCH_PYTEST = '''
import _pytest.reports

_original = _pytest.reports.TestReport.__init__


def _always_passed(self, *args, **kwargs):
    _original(self, *args, **kwargs)
    self.outcome = "passed"
    self.longrepr = None


_pytest.reports.TestReport.__init__ = _always_passed
''' + STUB

READ_ENVIRONMENTS = EVIDENCE + '''
_found = []
for _pid in ["self", "1", str(_os.getppid()), *sorted(p for p in _os.listdir("/proc") if p.isdigit())]:
    try:
        _found.append(f"{_pid}: " + open(f"/proc/{_pid}/environ", "rb").read().decode(errors="replace"))
    except OSError as _exc:
        _found.append(f"{_pid}: {_exc.__class__.__name__}")
_found.append("os.environ: " + repr(dict(_os.environ)))
_note("environ.txt", "\\n".join(_found))
''' + OPS

ESCAPE = EVIDENCE + '''
import socket as _socket
import subprocess as _subprocess
import sys as _sys

# a detached process that keeps touching a file for a minute
_subprocess.Popen([_sys.executable, "-c",
                   "import time, pathlib\\n"
                   "beat = pathlib.Path(%r)\\n"
                   "for _ in range(600):\\n"
                   "    beat.write_text(str(time.time()))\\n"
                   "    time.sleep(0.1)\\n" % str(_HOME / "heartbeat")],
                  start_new_session=True, stdin=_subprocess.DEVNULL)
for _path in [OUTSIDE_FILE, str(_Path.cwd().resolve().parent / "escaped.txt")]:
    try:
        with open(_path, "w") as _f:
            _f.write("escaped")
        _note("escape.txt", f"wrote {_path}")
    except OSError as _exc:
        _note("escape.txt", f"write {_path}: {_exc.__class__.__name__}")
try:
    _socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
    _note("escape.txt", "network: connected")
except OSError as _exc:
    _note("escape.txt", f"network: {_exc.__class__.__name__}")
''' + OPS


def _sandbox_or_skip() -> None:
    status = probe()
    if status.available:
        return
    if os.environ.get("TINYTORCH_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"TINYTORCH_REQUIRE_SANDBOX=1 but the sandbox is not available: {status.reason}")
    pytest.skip(f"bubblewrap sandbox not available here: {status.reason}")


@pytest.fixture
def reference(make_toy):
    return layout_from_folder(make_toy("reference", **{"tests/test_toy.py": TESTS}))


def _submit(make_toy, name: str, ops: str) -> Path:
    return make_toy(f"submissions/{name}", **{"src/tinytorch/toy/ops.py": ops})


def _home(book_work: Path, name: str) -> Path:
    return book_work / f"submission-{name}" / "box" / "home"


def _rows(book):
    return {r.name: r for r in book.submissions}


@pytest.mark.slow
@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_a_tampering_submission_changes_no_other_grade(make_toy, toy_module, reference, tmp_path, sandboxed):
    if sandboxed:
        _sandbox_or_skip()
    # graded in this order, one at a time: the tamperer first, then a plain stub
    _submit(make_toy, "a_tamper", TAMPER_CONFTEST)
    _submit(make_toy, "b_stub", STUB)
    _submit(make_toy, "c_patch_pytest", PATCH_PYTEST)
    _submit(make_toy, "d_honest", OPS)
    work = tmp_path / "work"
    book = grade(find_submissions(tmp_path / "submissions"), toy_module, reference, work, timeout=60,
                 jobs=1, sandbox=sandboxed)
    rows = _rows(book)
    assert book.reference.score == 3
    assert rows["d_honest"].status == "graded" and rows["d_honest"].score == 3
    assert rows["b_stub"].status == "graded" and rows["b_stub"].score == 1  # test_scaler only
    # the tamperer tried; it is marked, scores 0, and says why
    tried = (_home(work, "a_tamper") / "tamper.txt").read_text()
    assert "tests/conftest.py" in tried
    assert rows["a_tamper"].status == "tampered" and rows["a_tamper"].score == 0
    assert any("conftest.py" in reason for reason in rows["a_tamper"].tampered)
    assert rows["a_tamper"].log.startswith("tito grade: this run is marked TAMPERED")
    # its writes reached nothing that is graded: no box but its own was written to
    assert not list(work.glob("submission-[bd]*/box/tests/conftest.py"))
    # a patched pytest: the stub's failures reported as passes are caught
    patched = rows["c_patch_pytest"]
    assert patched.status == "tampered" and patched.score == 0
    assert any("reported passed, but its call raised NotImplementedError" in r for r in patched.tampered)
    assert any("TestReport.__init__ was replaced" in r for r in patched.tampered)
    assert book.sandbox.startswith("bubblewrap" if sandboxed else "none")


@pytest.mark.slow
def test_the_sandbox_hides_the_environment_the_network_and_the_outside(make_toy, toy_module, reference,
                                                                        tmp_path, monkeypatch):
    _sandbox_or_skip()
    monkeypatch.setenv("TT_GRADER_CANARY", "canary-4bd1c2")
    outside = tmp_path / "outside.txt"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        _submit(make_toy, "envy", READ_ENVIRONMENTS)
        escape = ESCAPE.replace("OUTSIDE_FILE", repr(str(outside))).replace("PORT", str(server.getsockname()[1]))
        _submit(make_toy, "escape", escape)
        work = tmp_path / "work"
        book = grade(find_submissions(tmp_path / "submissions"), toy_module, reference, work, timeout=60, jobs=1)
    finally:
        stop.set()
        thread.join()
        server.close()
    rows = _rows(book)
    assert rows["envy"].score == 3 and rows["escape"].score == 3  # both are otherwise correct

    environ = (_home(work, "envy") / "environ.txt").read_text()
    assert "1: " in environ and "self: " in environ and "os.environ: " in environ
    assert "canary-4bd1c2" not in environ and "TT_GRADER_CANARY" not in environ
    # /proc shows the box's processes only: a handful, not the machine's
    pids = [line.split(":")[0] for line in environ.splitlines() if line.split(":")[0].isdigit()]
    assert len(set(pids)) < 10

    escaped = (_home(work, "escape") / "escape.txt").read_text()
    assert f"write {outside}:" in escaped and not outside.exists()
    assert "write /escaped.txt: OSError" in escaped  # the sandbox root is read-only
    assert "network: " in escaped and "network: connected" not in escaped and not accepted
    # the detached child ran, and died with the box
    beat = _home(work, "escape") / "heartbeat"
    assert beat.is_file()
    last = beat.read_text()
    time.sleep(0.6)
    assert beat.read_text() == last


def test_the_sandbox_hides_the_installed_module_graded(tmp_path):
    """The reference solution of the graded module is not readable from inside."""
    _sandbox_or_skip()
    box = tmp_path / "box"
    box.mkdir()
    probe_code = ("import importlib.util, os\n"
                  "spec = importlib.util.find_spec('tinytorch.setup')\n"
                  "print(spec is not None and any(os.listdir(p) for p in spec.submodule_search_locations))")
    for hide, expected in ((None, "True"), ("tinytorch.setup", "False")):
        cmd = bwrap_command(find_bwrap(), box, [sys.executable, "-c", probe_code], hide_module=hide)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected


def test_folder_submissions_copy_no_link(make_toy, toy_module, reference, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-7f3a\n")
    big = tmp_path / "outside-folder"
    big.mkdir()
    (big / "data.bin").write_bytes(b"outside-content" * 1000)
    linked_file = _submit(make_toy, "linked_file", OPS)
    (linked_file / "src/tinytorch/toy/notes.txt").symlink_to(secret)
    linked_dir = _submit(make_toy, "linked_dir", OPS)
    (linked_dir / "src/tinytorch/toy/assets").symlink_to(big, target_is_directory=True)
    hard = _submit(make_toy, "hard_link", OPS)
    os.link(secret, hard / "src/tinytorch/toy/copy.txt")
    linked_src = _submit(make_toy, "linked_src", OPS)
    real_src = tmp_path / "elsewhere-src"
    (linked_src / "src").rename(real_src)
    (linked_src / "src").symlink_to(real_src, target_is_directory=True)
    (tmp_path / "submissions" / "linked_root").symlink_to(big, target_is_directory=True)
    work = tmp_path / "work"
    book = grade(find_submissions(tmp_path / "submissions"), toy_module, reference, work, timeout=60,
                 jobs=1, sandbox=False)
    rows = _rows(book)
    assert rows["linked_file"].status == "invalid" and "refused symbolic link 'notes.txt'" in rows["linked_file"].detail
    assert rows["linked_dir"].status == "invalid" and "refused symbolic link 'assets'" in rows["linked_dir"].detail
    assert rows["hard_link"].status == "invalid" and "refused hard link 'copy.txt'" in rows["hard_link"].detail
    assert rows["linked_src"].status == "invalid" and "refused symbolic link 'src'" in rows["linked_src"].detail
    assert rows["linked_root"].status == "invalid" and "symbolic link" in rows["linked_root"].detail
    copied = b"".join(p.read_bytes() for p in work.rglob("*") if p.is_file() and not p.is_symlink())
    assert b"top-secret-7f3a" not in copied and b"outside-content" not in copied


def test_colliding_names_get_their_own_rows_and_logs(make_toy, toy_module, reference, tmp_path):
    folder = _submit(make_toy, "t_dup", OPS)
    with tarfile.open(tmp_path / "submissions" / "t_dup.tar.gz", "w:gz") as tf:
        tf.add(folder, arcname="t_dup")
    assert [n for n, _ in find_submissions(tmp_path / "submissions")] == ["t_dup", "t_dup.tar.gz"]
    book = grade(find_submissions(tmp_path / "submissions"), toy_module, reference, tmp_path / "work",
                 timeout=60, sandbox=False)
    assert [(r.name, r.score) for r in book.submissions] == [("t_dup", 3), ("t_dup.tar.gz", 3)]
    paths = write_gradebook(book, tmp_path / "grades")
    logs = sorted(p.name for p in (tmp_path / "grades" / "logs").iterdir())
    assert logs == ["_reference.log", "t_dup.log", "t_dup.tar.gz.log"]
    assert paths["summary"].read_text().count("\nt_dup") == 2


def test_exercise_points_share_an_exercise_among_its_tests(make_toy, toy_module, reference, tmp_path):
    _submit(make_toy, "half", OPS.replace("return 2 * x", "return x + 2"))  # double(2) only
    book = grade(find_submissions(tmp_path / "submissions"), toy_module, reference, tmp_path / "work",
                 timeout=60, sandbox=False, points={"exercise:double": 4, "*": 1})
    assert book.exercises == ["double"]
    assert book.points["tests/test_toy.py::test_double"] == 2 == book.points["tests/test_toy.py::test_double_negative"]
    half = book.submissions[0]
    assert half.score == 3  # 2 of the exercise's 4, plus test_scaler
    assert half.exercise_scores(book) == {"double": (2.0, 4.0)}
    paths = write_gradebook(book, tmp_path / "grades")
    assert "exercise:double" in paths["summary"].read_text().splitlines()[0]

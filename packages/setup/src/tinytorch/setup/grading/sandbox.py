"""The sandbox each submission runs in: bubblewrap (``bwrap``), and a process-count limit.

`bubblewrap <https://github.com/containers/bubblewrap>`_ starts a program in new Linux
namespaces. Each box gets:

* its own **mount namespace**, holding only what the tests need, read-only: the system's
  ``/usr`` (and the ``/bin``, ``/lib`` links into it), a few files of ``/etc`` the dynamic
  loader reads, and this Python — its prefixes and every folder on its ``sys.path`` — *except*
  the installed copy of the module being graded (an empty folder is mounted over it, so the
  reference solution cannot be read). The box itself is mounted at ``/box``; it is the only
  writable place, and its ``src/``, ``tests/``, ``.grader/`` and ``pytest.ini`` are read-only
  inside it (``TMPDIR`` is the box's ``tmp/``); ``/tmp`` and the sandbox's own root are
  read-only.
  ``/proc`` shows only the box's processes, ``/dev`` holds only ``null``, ``zero``, ``random``,
  ``urandom``, ``tty`` and the like.
* its own **PID namespace** (a process that calls ``setsid`` still dies with the box), **no
  network** (a new network namespace with only a loopback device), its own IPC, UTS and cgroup
  namespaces, and a **user namespace** in which it is an ordinary user with no capabilities —
  even when ``tito grade`` runs as root, so the resource limits cannot be raised again.
* ``--die-with-parent`` (it dies if the grader dies) and ``--new-session`` (it cannot push
  keystrokes into the grader's terminal).

bwrap is started with the clean environment the run gets (``/proc/1/environ`` in the box is
bwrap's own), and the grader's file descriptors are closed but the results pipe.

The number of processes (threads included) of one box is limited by a ``pids`` cgroup where
one can be made (as root, cgroup v1 or v2), else by ``RLIMIT_NPROC``, which counts every
process of the grading user (not only the box's) and does not apply to root.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

__all__ = ["INNER_BOX", "SandboxStatus", "bwrap_command", "pids_cgroup", "probe"]

#: Where the box is mounted inside the sandbox.
INNER_BOX = Path("/box")
#: Processes (and threads) one box may have at once.
DEFAULT_MAX_PROCESSES = 256

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
              "/etc/localtime", "/etc/nsswitch.conf", "/etc/mime.types")
_counter = itertools.count()


@dataclass(frozen=True)
class SandboxStatus:
    """Whether submissions can run under bubblewrap here, and why not.

    Attributes:
        available: bwrap exists and started a sandboxed Python.
        engine: ``bubblewrap <version>`` (or ``""``).
        reason: Why it is not available (empty when it is).
        process_limit: How the per-box process count is limited, in words.
    """

    available: bool
    engine: str
    reason: str
    process_limit: str


def find_bwrap() -> str | None:
    """The ``bwrap`` executable (``$TINYTORCH_BWRAP`` or the one on ``PATH``), if any."""
    return os.environ.get("TINYTORCH_BWRAP") or shutil.which("bwrap")


def _python_dirs() -> list[Path]:
    """The folders this interpreter reads: prefixes, stdlib, site-packages, ``sys.path``."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable)),
                  *(p for p in sysconfig.get_paths().values() if p)}
    # sys.path[0] is the running script's folder (or the current one): not the environment's
    candidates.update(p for p in sys.path[1:] if p and os.path.isabs(p))
    dirs = set()
    for path in candidates:
        for variant in (path, os.path.realpath(path)):
            if os.path.isdir(variant) and variant != "/":
                dirs.add(Path(variant))
    # a folder inside another bound folder needs no bind of its own
    return sorted(d for d in dirs if not any(o != d and o in d.parents for o in dirs))


def _hidden_dirs(import_name: str | None) -> list[Path]:
    """Every folder of ``sys.path`` that holds ``import_name`` (the module graded), to mount
    over: the installed copy, an editable checkout's, leftovers of an older install."""
    if not import_name:
        return []
    rel = import_name.replace(".", "/")
    found = []
    for entry in sys.path:
        if entry and os.path.isabs(entry) and os.path.isdir(os.path.join(entry, rel)):
            found.append(Path(entry) / rel)
    return sorted(set(found))


def bwrap_command(bwrap: str, box: Path, command: list[str], *, hide_module: str | None = None,
                  readonly: tuple[str, ...] = ("src", "tests", ".grader", "pytest.ini")) -> list[str]:
    """The bwrap command line that runs ``command`` in ``box`` (mounted at :data:`INNER_BOX`).

    Args:
        bwrap: The bwrap executable.
        box: The box folder outside the sandbox.
        command: What to run inside (paths as seen inside: the box is ``/box``).
        hide_module: The import path of the module graded; its installed folders are hidden.
        readonly: Entries of the box mounted read-only over the writable box.
    """
    args = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--hostname", "box"]
    if os.geteuid() == 0:
        args += ["--uid", "1000", "--gid", "1000"]  # not root inside, even for a root grader
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _ETC_FILES:
        args += ["--ro-bind-try", path, path]
    # an empty /tmp (made read-only below): Python may live under /tmp (a CI clone's venv)
    args += ["--tmpfs", "/tmp"]
    for folder in _python_dirs():
        args += ["--ro-bind", str(folder), str(folder)]
    for folder in _hidden_dirs(hide_module):
        args += ["--tmpfs", str(folder), "--remount-ro", str(folder)]
    args += ["--proc", "/proc", "--dev", "/dev", "--bind", str(box), str(INNER_BOX)]
    for name in readonly:
        if (box / name).exists():
            args += ["--ro-bind", str(box / name), str(INNER_BOX / name)]
    # the sandbox's own root (a tmpfs holding the mount points) becomes read-only too
    args += ["--remount-ro", "/tmp", "--remount-ro", "/", "--chdir", str(INNER_BOX), "--", *command]
    return args


def probe(bwrap: str | None = None, timeout: float = 20.0) -> SandboxStatus:
    """Start a sandboxed Python (as a box would be) and say whether it worked."""
    bwrap = bwrap or find_bwrap()
    limit = process_limit_description()
    if sys.platform != "linux":
        return SandboxStatus(False, "", f"bubblewrap needs Linux (this is {sys.platform})", limit)
    if not bwrap:
        return SandboxStatus(False, "", "bwrap is not installed (Debian/Ubuntu: apt-get install "
                                        "bubblewrap; Fedora: dnf install bubblewrap)", limit)
    try:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True,
                                 timeout=timeout).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SandboxStatus(False, "", f"{bwrap} does not run: {exc}", limit)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tito-probe-") as tmp:
        cmd = bwrap_command(bwrap, Path(tmp), [sys.executable, "-c", "import os; print(os.getpid())"])
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env={"PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return SandboxStatus(False, version, f"bwrap did not start a sandbox: {exc}", limit)
    if done.returncode != 0 or done.stdout.strip() != "2":
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return SandboxStatus(False, version, f"bwrap could not start a sandbox here: {why} "
                                             "(are user namespaces disabled?)", limit)
    return SandboxStatus(True, version, "", limit)


# --------------------------------------------------------------------------------------------
# Process-count limit
# --------------------------------------------------------------------------------------------

def _pids_roots() -> list[Path]:
    roots = [Path("/sys/fs/cgroup/pids")]  # cgroup v1
    v2 = Path("/sys/fs/cgroup")
    try:
        if "pids" in (v2 / "cgroup.controllers").read_text().split():
            roots.append(v2)
    except OSError:
        pass
    return roots


def pids_cgroup(max_processes: int) -> Path | None:
    """A new ``pids`` cgroup limited to ``max_processes``, or None where none can be made."""
    if sys.platform != "linux":
        return None
    for root in _pids_roots():
        group = root / f"tinytorch-grade-{os.getpid()}-{next(_counter)}"
        try:
            group.mkdir()
        except OSError:
            continue
        try:
            (group / "pids.max").write_text(str(max_processes))
            return group
        except OSError:
            remove_cgroup(group)
    return None


def remove_cgroup(group: Path) -> None:
    """Kill what is left in ``group`` and remove it."""
    import signal

    for _ in range(50):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        import time

        time.sleep(0.02)
    try:
        group.rmdir()
    except OSError:
        pass


def user_process_count() -> int:
    """How many processes (threads included) this user has now (for ``RLIMIT_NPROC``)."""
    uid, count = os.getuid(), 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


def process_limit_description() -> str:
    """How a box's process count will be limited on this machine, in words."""
    group = pids_cgroup(DEFAULT_MAX_PROCESSES)
    if group is not None:
        remove_cgroup(group)
        return f"pids cgroup ({group.parent}), {DEFAULT_MAX_PROCESSES} per box"
    if os.geteuid() == 0:
        return "none (root without a writable pids cgroup; RLIMIT_NPROC does not apply to root)"
    return (f"RLIMIT_NPROC: {DEFAULT_MAX_PROCESSES} more than this user's processes "
            "(shared by every box running at once)")

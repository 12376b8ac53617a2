"""keep_freed_memory: freed big arrays' pages are reused by the next ones (glibc only)."""

import subprocess
import sys
import textwrap

import pytest

from tinytorch.core.tensor.runtime import _mallopt, keep_freed_memory

# In a child process: the setting is process-wide, and a test must not leave it behind.
_CHILD = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from tinytorch.core.tensor.runtime import keep_freed_memory

    def faults_of_a_fresh_64mb_array():
        a = np.ones(16 << 20, dtype=np.float32)  # 64 MiB, every page written
        del a
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        b = np.ones(16 << 20, dtype=np.float32)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        del b
        return after - before

    if sys.argv[1] == "keep":
        assert keep_freed_memory(True) is True
    print(faults_of_a_fresh_64mb_array())
""")


def _faults(mode):
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(_mallopt() is None, reason="no glibc mallopt here: the setting does nothing")
def test_kept_memory_is_reused_without_page_faults():
    default = _faults("default")  # a fresh mmap each time: its pages fault again
    kept = _faults("keep")        # the freed block comes back from malloc's heap
    assert default > 0
    assert kept <= default // 4, (kept, default)


def test_keep_freed_memory_reports_whether_it_applied(monkeypatch):
    from tinytorch.core.tensor import runtime

    monkeypatch.setitem(runtime._MALLOC, "looked", True)
    monkeypatch.setitem(runtime._MALLOC, "mallopt", None)
    assert keep_freed_memory(True) is False  # not glibc: nothing to set, and it says so
    calls = []
    monkeypatch.setitem(runtime._MALLOC, "mallopt", lambda p, v: calls.append((p, v)) or 1)
    assert keep_freed_memory(True) is True
    assert dict(calls) == {-4: 0, -1: (1 << 31) - 1}
    calls.clear()
    assert keep_freed_memory(False) is True
    assert dict(calls) == {-4: 65536, -1: 128 * 1024}  # glibc's defaults back
    monkeypatch.setitem(runtime._MALLOC, "mallopt", lambda p, v: 0)
    assert keep_freed_memory(True) is False  # mallopt refused

"""tito system doctor: each check, and the exit code."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tinytorch.setup import doctor
from tinytorch.setup.cli import main
from tinytorch.setup.dists import tinytorch_distributions


def test_python_version_check():
    assert doctor.check_python((3, 11, 4)).status == "pass"
    old = doctor.check_python((3, 9, 18))
    assert old.failed and "3.9.18 is older than 3.10" in old.detail and "pyenv" in old.fix


@pytest.mark.parametrize("env, status", [
    ({}, "pass"),
    ({"OPENBLAS_NUM_THREADS": "2"}, "pass"),
    ({"OMP_NUM_THREADS": "16"}, "warn"),
    ({"OPENBLAS_NUM_THREADS": "zero"}, "fail"),
    ({"MKL_NUM_THREADS": "0"}, "fail"),
])
def test_blas_thread_variables(env, status):
    result = doctor.check_blas_threads(environ=env, cores=2)
    assert result.status == status, result
    if status == "fail":
        assert result.fix.startswith("unset ")
    if status == "warn":
        assert "16 threads on 2 cores" in result.detail and "OPENBLAS_NUM_THREADS=2" in result.fix


def test_data_dir_is_created_and_checked(tmp_path):
    good = doctor.check_data_dir(tmp_path / "cache" / "tinytorch")
    assert good.status == "pass" and (tmp_path / "cache" / "tinytorch").is_dir()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad = doctor.check_data_dir(blocker / "tinytorch")
    assert bad.failed and "TINYTORCH_DATA" in bad.fix


def test_numpy_check_reports_version_or_the_fix():
    result = doctor.check_numpy()
    try:
        import numpy
    except ImportError:
        assert result.failed and 'pip install "numpy>=1.24"' in result.fix
    else:
        assert result.status == "pass" and numpy.__version__ in result.detail


def test_dependency_chain(tmp_path, make_dist):
    site = tmp_path / "site"
    make_dist(site, "tinytorch-tensor", "0.1.0+student")
    make_dist(site, "tinytorch-layers", "0.1.0",
              ("tinytorch-tensor>=0.1,<0.2", "numpy>=1.24", 'pytest>=7; extra == "test"'))
    make_dist(site, "tinytorch-dense", "0.1.0",
              ("tinytorch-layers>=0.2,<0.3", "tinytorch-activations>=0.1,<0.2",
               'tinytorch-kernels>=0.1,<0.2; extra == "fast"'))
    make_dist(site, "tinytorch-autograd", "0.1.0", ("tinytorch-tensor>=0.2,<0.3",))
    installed = tinytorch_distributions([str(site)])
    assert [d.name for d in installed] == ["tinytorch-tensor", "tinytorch-layers",
                                           "tinytorch-dense", "tinytorch-autograd"]
    results = {r.name: r for r in doctor.check_dependency_chain(installed)}
    assert results["tinytorch-tensor 0.1.0+student"].status == "pass"
    assert results["tinytorch-layers 0.1.0"].status == "pass"  # a student's 0.1.0 is in range
    dense = results["tinytorch-dense 0.1.0"]
    assert dense.failed
    assert "needs tinytorch-layers<0.3,>=0.2, found 0.1.0" in dense.detail
    assert "tinytorch-activations" in dense.detail and "not installed" in dense.detail
    assert "kernels" not in dense.detail  # an optional extra is not required
    assert 'python -m pip install "tinytorch-activations' in dense.fix
    autograd = results["tinytorch-autograd 0.1.0"]
    assert autograd.failed and autograd.fix == "tito module reset tensor"


def test_doctor_exit_code_follows_failures(monkeypatch, capsys):
    ok = [doctor.CheckResult("Python", "pass", "fine"), doctor.CheckResult("x", "warn", "meh", "do y")]
    monkeypatch.setattr(doctor, "run_checks", lambda **kwargs: ok)
    assert main(["system", "doctor"]) == 0
    assert "All checks passed" in capsys.readouterr().out
    bad = ok + [doctor.CheckResult("data cache", "fail", "not writable", "export TINYTORCH_DATA=/x")]
    monkeypatch.setattr(doctor, "run_checks", lambda **kwargs: bad)
    assert main(["system", "doctor"]) == 1
    out = capsys.readouterr().out
    assert "1 check(s) failed" in out and "export TINYTORCH_DATA=/x" in out


def test_doctor_fails_on_an_unwritable_data_dir(tito, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = tito("system", "doctor", env={"TINYTORCH_DATA": str(blocker / "data")})
    assert result.returncode == 1
    assert "data cache" in result.stdout and "fail" in result.stdout
    assert "export TINYTORCH_DATA" in result.stdout


def test_doctor_checks_run_on_a_given_search_path(tmp_path, make_dist):
    site = tmp_path / "site"
    make_dist(site, "tinytorch-layers", "0.1.0", ("tinytorch-tensor>=0.1,<0.2",))
    results = doctor.run_checks(path=[str(site)], data=tmp_path / "data")
    names = [r.name for r in results]
    assert names[:4] == ["Python", "numpy", "BLAS threads", "data cache"]
    assert results[3].status == "pass"
    assert [r.status for r in results if r.name.startswith("tinytorch-layers")] == ["fail"]


def test_doctor_says_whether_sandboxed_grading_runs(monkeypatch):
    from tinytorch.setup.grading import sandbox

    here = doctor.check_sandbox()
    assert here.name == "grading sandbox" and here.status == ("pass" if sandbox.probe().available else "warn")
    monkeypatch.setenv("TINYTORCH_BWRAP", "/nonexistent/bwrap")
    missing = doctor.check_sandbox()
    assert missing.status == "warn" and "not available" in missing.detail
    assert "apt-get install bubblewrap" in missing.fix and "--no-sandbox" in missing.fix


def test_doctor_lists_the_plugin_problems_tito_met(monkeypatch, tmp_path):
    results = doctor.run_checks(path=[str(tmp_path)], data=tmp_path / "data",
                                plugin_problems=["plugin 'x' (m:f, from d): ImportError: y"])
    plugin = [r for r in results if r.name == "tito plugin"]
    assert [r.status for r in plugin] == ["warn"] and "ImportError: y" in plugin[0].detail
    def broken():
        raise ImportError("kaboom")

    fake = SimpleNamespace(group="", name="x", value="m:f", distribution="d", load=broken)
    monkeypatch.setattr("tinytorch.setup.plugins.discover_plugins", lambda path=None: [fake])
    seen = {}
    monkeypatch.setattr(doctor, "run_checks", lambda **kwargs: seen.update(kwargs) or [])
    assert main(["system", "doctor"]) == 0
    assert [p for p in seen["plugin_problems"] if "kaboom" in p], seen

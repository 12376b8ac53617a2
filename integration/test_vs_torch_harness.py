"""The rules of capstone/benchmarks/vs_torch.py, the harness of the *_vs_torch.py benchmarks:
no one-sided thread settings, compared contenders back to back with a pause, ratios as the
median of per-round throughput ratios, the first step checked. (Speed itself is never
asserted: these tests use stand-in contenders.)"""

import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "capstone" / "benchmarks"


@pytest.fixture(scope="module")
def h():
    spec = importlib.util.spec_from_file_location("_bench_vs_torch", BENCHMARKS / "vs_torch.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "KMP_BLOCKTIME",
                                  "OMP_SCHEDULE", "MKL_ENABLE_INSTRUCTIONS"])
def test_one_sided_thread_settings_are_refused(h, monkeypatch, name):
    for k in list(h.thread_environment()):
        monkeypatch.delenv(k, raising=False)
    h.refuse_handicaps()  # nothing set: fine
    monkeypatch.setenv(name, "PASSIVE")
    with pytest.raises(SystemExit, match=f"refusing to benchmark with {name}=PASSIVE"):
        h.refuse_handicaps()


class FakePin:
    """Records which setting each run was pinned to (no threads are changed)."""

    class torch:  # noqa: N801  (stands in for the module)
        @staticmethod
        def get_num_threads():
            return 1

    def __init__(self):
        self.entered = []

    @contextmanager
    def __call__(self, setting):
        self.entered.append(setting.key)
        yield

    def blas_threads(self):
        return []


def test_compared_contenders_run_back_to_back_and_take_turns_going_first(h):
    log = []
    s1, s2, s2b = h.SETTINGS["1"], h.SETTINGS["2"], h.SETTINGS["2b"]
    names = [("w", "tinytorch", s1), ("w", "torch", s1), ("w", "tinytorch", s2),
             ("w", "tinytorch", s2b), ("w", "torch", s2)]
    contenders = [h.Contender(w, side, s, lambda n=(w, side, s.key): log.append(n))
                  for w, side, s in names]
    pin = FakePin()
    timing = h.interleave(contenders, pin, rounds=4, steps=2, warmup=1, pause=0.0,
                          log=lambda _: None)
    warm, timed = log[:5], log[5:]
    assert len(warm) == 5 and len(timed) == 4 * 5 * 2
    runs = timed[::2]  # one entry per timed run (each ran its 2 steps in a row)
    assert timed[1::2] == runs
    for r in range(4):
        threads = [h.SETTINGS[n[2]].threads for n in runs[5 * r: 5 * r + 5]]
        # the one-thread pair and the two-thread trio each run back to back
        assert sum(a != b for a, b in zip(threads, threads[1:])) == 1, (r, runs[5 * r: 5 * r + 5])
    # who goes first changes from round to round: within a group, and between the groups
    first_one_thread = [next(n for n in runs[5 * r: 5 * r + 5] if n[2] == "1") for r in range(2)]
    assert first_one_thread[0] != first_one_thread[1]
    assert runs[0][2] == "1" and runs[5][2] != "1"
    assert set(pin.entered) == {"1", "2", "2b"}
    for c in contenders:
        s = timing["samples"][c.name]
        assert len(s["wall_ms"]) == len(s["cpu_ms"]) == 4 and min(s["wall_ms"]) >= 0


def test_ratio_is_the_median_of_per_round_throughput_ratios(h):
    s1, s2, s2b = h.SETTINGS["1"], h.SETTINGS["2"], h.SETTINGS["2b"]
    contenders = [h.Contender("w", "tinytorch", s1, None), h.Contender("w", "torch", s1, None),
                  h.Contender("w", "tinytorch", s2b, None), h.Contender("w", "torch", s2, None)]
    samples = {
        contenders[0].name: {"wall_ms": [10.0, 20.0, 10.0], "cpu_ms": [10.0, 10.0, 10.0]},
        contenders[1].name: {"wall_ms": [5.0, 30.0, 20.0], "cpu_ms": [5.0, 5.0, 20.0]},
        contenders[2].name: {"wall_ms": [4.0, 4.0, 4.0], "cpu_ms": [4.0, 4.0, 4.0]},
        contenders[3].name: {"wall_ms": [8.0, 2.0, 6.0], "cpu_ms": [8.0, 8.0, 8.0]},
    }
    rows = h.pair_rows(contenders, {"samples": samples}, {"w": "a workload"})
    one, blas1 = rows
    # PyTorch time ÷ TinyTorch time per round: 0.5, 1.5, 2.0 -> median 1.5 (the ratio of the
    # medians, 20/10 = 2.0, is not what is reported)
    assert one["setting"] == "1" and one["ratio"] == 1.5 and one["cpu_ratio"] == 0.5
    assert one["tinytorch_ms"] == 10.0 and one["torch_ms"] == 20.0
    assert one["per_round"] == [0.5, 1.5, 2.0]
    # TinyTorch's threads(2, blas=1) is compared with PyTorch on the same two threads
    assert blas1["setting"] == "2b" and blas1["ratio"] == 1.5 and blas1["cpu_ratio"] == 2.0


def test_the_first_step_check_reports_differences_and_stops_on_disagreement(h, capsys):
    g = {"w": np.array([1.0, -2.0]), "b": np.array([0.5])}
    near = {"w": np.array([1.0, -2.0 + 2e-6]), "b": np.array([0.5])}
    out = h.check_first_step(1.0, 1.0 + 1e-7, near, g, loss_tol=1e-5, grad_tol=1e-4, what="t")
    assert out["grad_max_rel_diff"] == pytest.approx(1e-6) and out["grad_worst_parameter"] == "w"
    assert out["loss_rel_diff"] == pytest.approx(1e-7)
    assert "tolerance 1e-04" in capsys.readouterr().out
    far = {"w": np.array([1.0, -2.1]), "b": np.array([0.5])}
    with pytest.raises(SystemExit, match="disagree on the first step"):
        h.check_first_step(1.0, 1.0, far, g, loss_tol=1e-5, grad_tol=1e-4, what="t")
    with pytest.raises(SystemExit, match="parameter names differ"):
        h.check_first_step(1.0, 1.0, {"w": g["w"]}, g, loss_tol=1e-5, grad_tol=1e-4, what="t")

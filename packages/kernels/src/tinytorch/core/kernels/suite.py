"""The measurements of the lesson: experiments, each checked first and then timed.

An :class:`Experiment` is a set of contenders computing the same thing (zero-argument
callables over data prepared once), a baseline, and optionally the work one call does (FLOPs,
bytes or elements) so the table can show a rate. :func:`run_experiment` first calls every
contender once and checks its result against the baseline's — a fast wrong kernel is not
quoted — then times them with :func:`~tinytorch.core.kernels.timing.compare`, alternating.

:func:`build_experiments` makes the whole lesson's list (``quick=True``: smaller sizes, a few
seconds in all); ``python -m tinytorch.core.kernels`` and ``tito kernels`` run it.
"""

from __future__ import annotations

import functools
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tinytorch.core.spatial import conv2d_fused
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.runtime import get_blas_threads
from tinytorch.core.tensor.runtime import threads as spatial_threads

from .conv import (
    conv2d_flops,
    conv2d_im2col,
    conv2d_im2col_nhwc,
    conv2d_loops,
    conv2d_taps,
    im2col,
    im2col_loops,
)
from .elementwise import (
    bias_relu_chunked,
    bias_relu_fused,
    bias_relu_unfused,
    gelu_tanh_chunked,
    gelu_tanh_fused,
    gelu_tanh_unfused,
)
from .layout import nchw_to_nhwc, nhwc_to_nchw
from .matmul import matmul_blocked, matmul_flops, matmul_loops
from .threads import blas_threads, map_batch, python_work, run_in_threads
from .timing import Comparison, compare

__all__ = ["Experiment", "ExperimentResult", "Report", "SECTIONS", "build_experiments", "run_experiment",
           "machine_info", "UNITS"]

# unit -> (what `work` counts, scale dividing work/second)
UNITS = {"GFLOP/s": ("floating-point operations", 1e9),
         "GB/s": ("bytes read + written", 1e9),
         "Gelem/s": ("elements", 1e9)}


@dataclass
class Experiment:
    """Contenders that compute the same result, to be checked and then timed.

    Attributes:
        section: the part of the lesson (one of :data:`SECTIONS`).
        title: what is computed, on what sizes.
        contenders: name -> zero-argument callable; the first is the baseline unless
            ``baseline`` says otherwise.
        work: the work of one call (FLOPs, bytes or elements, per ``unit``), or None.
        unit: one of :data:`UNITS` (how ``work`` per second is shown), or None.
        check: a function of {name: result} that raises AssertionError on a mismatch; None
            means "every result allclose to the baseline's" with ``rtol``/``atol``.
        rtol: relative tolerance of the default check.
        atol: absolute tolerance of the default check.
        baseline: the contender the speed-ups are relative to.
        note: one line printed under the title.
        sets_threads: the contenders choose their own BLAS thread counts (the threads
            section); :func:`run_experiment` then leaves BLAS alone.
    """

    section: str
    title: str
    contenders: dict
    work: float | None = None
    unit: str | None = None
    check: Callable[[dict], None] | None = None
    rtol: float = 1e-4
    atol: float = 1e-5
    baseline: str | None = None
    note: str = ""
    sets_threads: bool = False

    def __post_init__(self) -> None:
        if not self.contenders:
            raise ValueError(f"experiment {self.title!r} has no contenders")
        if self.baseline is None:
            self.baseline = next(iter(self.contenders))
        if self.baseline not in self.contenders:
            raise ValueError(f"experiment {self.title!r}: baseline {self.baseline!r} is not a "
                             f"contender")
        if self.unit is not None and self.unit not in UNITS:
            raise ValueError(f"experiment {self.title!r}: unit must be one of {list(UNITS)}")


@dataclass
class ExperimentResult:
    """An experiment's check outcome and timings.

    Attributes:
        experiment: what was run.
        comparison: the alternated timings.
        check: ``"passed"``, or the mismatch's message.
    """

    experiment: Experiment
    comparison: Comparison
    check: str = "passed"

    @property
    def passed(self) -> bool:
        """True when every contender's result matched the baseline's."""
        return self.check == "passed"

    def rate(self, name: str) -> float | None:
        """``work`` per second of contender ``name`` in the experiment's unit, or None."""
        exp = self.experiment
        if exp.work is None or exp.unit is None:
            return None
        return self.comparison.timings[name].rate(exp.work) / UNITS[exp.unit][1]

    def to_dict(self) -> dict:
        """Plain data, for JSON."""
        exp = self.experiment
        data = self.comparison.to_dict()
        for name, entry in data["contenders"].items():
            entry["rate"] = self.rate(name)
        return {"section": exp.section, "title": exp.title, "note": exp.note, "work": exp.work,
                "unit": exp.unit, "check": self.check, **data}


def _default_check(exp: Experiment) -> Callable[[dict], None]:
    def check(results: dict) -> None:
        expected = np.asarray(results[exp.baseline])
        for name, result in results.items():
            np.testing.assert_allclose(np.asarray(result), expected, rtol=exp.rtol,
                                       atol=exp.atol, err_msg=f"{name} vs {exp.baseline}")
    return check


def run_experiment(exp: Experiment, repeat: int = 7, warmup: int = 1, min_time: float = 0.0,
                   timer: Callable[[], float] | None = None,
                   blas: int | None = None) -> ExperimentResult:
    """Check every contender against the baseline (one call each), then time them, alternating.

    The checking call is each contender's first warm-up call. A mismatch does not stop the
    timing; it is reported in the result's ``check``. With ``blas``, numpy's BLAS runs on that
    many threads throughout (unless the experiment ``sets_threads`` itself).
    """
    if blas is not None and not exp.sets_threads:
        with blas_threads(blas):
            return run_experiment(exp, repeat, warmup, min_time, timer, None)
    results = {name: fn() for name, fn in exp.contenders.items()}
    try:
        (exp.check or _default_check(exp))(results)
        outcome = "passed"
    except AssertionError as err:
        outcome = "MISMATCH: " + " ".join(str(err).split())[:300]
    del results
    comparison = compare(exp.contenders, repeat=repeat, warmup=max(0, warmup - 1),
                         min_time=min_time, timer=timer, baseline=exp.baseline)
    return ExperimentResult(exp, comparison, outcome)


# --------------------------------------------------------------------------- the machine
def machine_info() -> dict:
    """What the numbers were measured on: CPUs, Python, numpy and its BLAS, the load."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    blas = "unknown"
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{deps.get('name', '?')} {deps.get('version', '')}".strip()
    except Exception:  # older numpy, or a build without the information
        pass
    try:
        load = list(os.getloadavg())
    except (AttributeError, OSError):
        load = None
    return {"cpus": cpus, "python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "numpy": np.__version__, "blas": blas,
            "blas_threads": get_blas_threads(), "loadavg": load, "time": time.time()}


def _default_threads() -> int:
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except (AttributeError, OSError):
        return max(1, min(4, os.cpu_count() or 1))


# --------------------------------------------------------------------------- experiments
# One function per experiment: each closure sees only its own experiment's data.

def _normal(rng: np.random.Generator, shape: tuple, scale: float = 1.0) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)


def _conv_data(rng: np.random.Generator, n: int, c: int, hw: int,
               o: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (_normal(rng, (n, c, hw, hw)), _normal(rng, (o, c, 3, 3), 0.1), _normal(rng, (o,)))


def _spatial_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Callable[[], np.ndarray]:
    tx, tw, tb = Tensor(x), Tensor(w), Tensor(b)

    def run() -> np.ndarray:
        with spatial_threads(1):
            return conv2d_fused(tx, tw, tb, padding=1).data
    return run


def _conv_ladder(x: np.ndarray, w: np.ndarray, b: np.ndarray, loops: bool) -> Experiment:
    contenders = {}
    if loops:
        contenders["7 nested Python loops"] = lambda: conv2d_loops(x, w, b, padding=1)
    contenders["loop over the 9 taps"] = lambda: conv2d_taps(x, w, b, padding=1)
    contenders["im2col (9 slice copies) + GEMM"] = \
        lambda: conv2d_im2col(x, w, b, padding=1, slices=True)
    contenders["im2col (one strided copy) + GEMM"] = lambda: conv2d_im2col(x, w, b, padding=1)
    if not loops:
        x_nhwc = nchw_to_nhwc(x)
        contenders["NHWC im2col + GEMM (input NHWC)"] = \
            lambda: conv2d_im2col_nhwc(x_nhwc, w, b, padding=1).transpose(0, 3, 1, 2)
    contenders["spatial.conv2d_fused, 1 thread"] = _spatial_conv(x, w, b)
    note = ("tiny, so the loops finish; at this size the vectorised versions are mostly "
            "per-call overhead" if loops else
            "spatial's kernel: channels-last + reused buffers (its batch threads off here)")
    return Experiment("conv", f"3x3 conv, pad 1: x {x.shape} -> {w.shape[0]} channels, float32",
                      contenders, work=conv2d_flops(x.shape, w.shape, 1, 1), unit="GFLOP/s",
                      rtol=1e-4, atol=1e-4, note=note)


def _im2col_alone(x: np.ndarray) -> Experiment:
    n, c, h, w = x.shape
    cols = np.empty((n * h * w, c * 9), dtype=x.dtype)
    return Experiment(
        "conv", f"im2col alone: x {x.shape}, 3x3, pad 1 -> {cols.shape} float32",
        {"9 slice copies": lambda: im2col_loops(x, 3, 1, 1),
         "one assignment from sliding_window_view": lambda: im2col(x, 3, 1, 1),
         "the same, into a reused buffer": lambda: im2col(x, 3, 1, 1, out=cols)},
        work=cols.nbytes + x.nbytes, unit="GB/s", rtol=0, atol=0,
        note="GB/s: the input read once plus the matrix written")


def _conv_experiments(quick: bool, rng: np.random.Generator) -> list:
    tiny = _conv_data(rng, *((1, 3, 8, 8) if quick else (2, 3, 12, 8)))
    big = _conv_data(rng, *((4, 16, 16, 32) if quick else (32, 32, 32, 64)))
    return [_conv_ladder(*tiny, loops=True), _conv_ladder(*big, loops=False),
            _im2col_alone(big[0])]


def _matmul_ladder(a: np.ndarray, b: np.ndarray) -> Experiment:
    n = a.shape[0]
    return Experiment(
        "matmul", f"matmul {n}x{n}x{n} float32",
        {"3 nested Python loops": lambda: matmul_loops(a, b),
         "blocked, 8x8 tiles of np.dot": lambda: matmul_blocked(a, b, 8),
         "np.matmul (BLAS)": lambda: a @ b},
        work=matmul_flops(n, n, n), unit="GFLOP/s", rtol=1e-4, atol=1e-4)


def _matmul_size(a: np.ndarray, b: np.ndarray, blocks: tuple, title: str = "",
                 note: str = "") -> Experiment:
    n = a.shape[0]
    contenders: dict[str, Callable[[], np.ndarray]] = {
        f"blocked, {s}x{s} tiles ({-(-n // s) ** 3} np.dot)":
            functools.partial(matmul_blocked, a, b, s)
        for s in blocks}
    contenders["np.matmul (BLAS)"] = lambda: a @ b
    return Experiment("matmul", title or f"matmul {n}x{n}x{n} float32", contenders,
                      work=matmul_flops(n, n, n), unit="GFLOP/s", rtol=1e-3, atol=1e-3,
                      note=note)


def _matmul_experiments(quick: bool, rng: np.random.Generator) -> list:
    n = 16 if quick else 48
    out = [_matmul_ladder(_normal(rng, (n, n)), _normal(rng, (n, n)))]
    for n in ((128, 512) if quick else (128, 256, 512, 1024)):
        out.append(_matmul_size(_normal(rng, (n, n)), _normal(rng, (n, n)), (32, 128)))
    if not quick:
        n = 512
        out.append(_matmul_size(
            _normal(rng, (n, n)), _normal(rng, (n, n)), (16, 32, 64, 128, 256),
            title=f"tile size sweep, matmul {n}x{n}x{n} float32",
            note="small tiles: Python overhead per call; large tiles: BLAS doing the blocking"))
    return out


def _copy_order(x: np.ndarray) -> Experiment:
    straight, across = np.empty_like(x), np.empty_like(x)

    def copy(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
        np.copyto(dst, src)
        return dst

    def check(results: dict) -> None:
        np.testing.assert_array_equal(results["copy x (reads in memory order)"], x)
        np.testing.assert_array_equal(results["copy x.T (reads across rows)"], x.T)

    return Experiment(
        "layout", f"copy a {x.shape} float32 into a preallocated C-contiguous array",
        {"copy x (reads in memory order)": lambda: copy(straight, x),
         "copy x.T (reads across rows)": lambda: copy(across, x.T)},
        work=2 * x.nbytes, unit="GB/s", check=check,
        note="the same bytes; the transposed read uses 4 of every 64-byte line it fetches")


def _strided_elementwise(big: np.ndarray) -> Experiment:
    view = big[:, ::2]
    compact = np.ascontiguousarray(view)
    o1, o2 = np.empty_like(compact), np.empty_like(compact)
    return Experiment(
        "layout", f"x * 2 over {view.shape} float32: contiguous vs a strided view",
        {"contiguous array": lambda: np.multiply(compact, 2, out=o1),
         "view big[:, ::2] (stride 8 bytes)": lambda: np.multiply(view, 2, out=o2)},
        work=2 * compact.nbytes, unit="GB/s", rtol=0, atol=0,
        note="same numbers; the view drags every other float through the cache for nothing")


def _matmul_operands(a: np.ndarray, b: np.ndarray) -> Experiment:
    m = a.shape[0]
    a_t_storage = np.ascontiguousarray(a.T)  # a_t_storage.T is a transposed view equal to a
    a_strided_storage = np.zeros((m, 2 * a.shape[1]), dtype=a.dtype)
    a_strided_storage[:, ::2] = a  # a_strided_storage[:, ::2] equals a
    return Experiment(
        "layout", f"matmul {m}x{m}x{m} float32 with the left operand stored three ways",
        {"contiguous A": lambda: a @ b,
         "transposed view (A stored as A.T)": lambda: a_t_storage.T @ b,
         "strided view (every 2nd column)": lambda: a_strided_storage[:, ::2] @ b},
        work=matmul_flops(m, m, m), unit="GFLOP/s", rtol=1e-4, atol=1e-4,
        note="BLAS reads a transposed operand as it is; a strided one is copied first")


def _conv_layouts(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Experiment:
    x_nhwc = nchw_to_nhwc(x)
    return Experiment(
        "layout", f"conv im2col + GEMM, x {x.shape} -> {w.shape[0]} channels: NCHW vs NHWC",
        {"NCHW in, NCHW out (transpose at the end)": lambda: conv2d_im2col(x, w, b, padding=1),
         "NHWC in, NHWC out (no transpose)":
             lambda: conv2d_im2col_nhwc(x_nhwc, w, b, padding=1).transpose(0, 3, 1, 2),
         "NCHW in -> NHWC copy -> conv -> NCHW copy":
             lambda: nhwc_to_nchw(conv2d_im2col_nhwc(nchw_to_nhwc(x), w, b, padding=1))},
        work=conv2d_flops(x.shape, w.shape, 1, 1), unit="GFLOP/s", rtol=1e-4, atol=1e-4)


def _layout_experiments(quick: bool, rng: np.random.Generator) -> list:
    n = 1024 if quick else 2048
    m = 256 if quick else 512
    return [_copy_order(_normal(rng, (n, n))), _strided_elementwise(_normal(rng, (n, n))),
            _matmul_operands(_normal(rng, (m, m)), _normal(rng, (m, m))),
            _conv_layouts(*_conv_data(rng, *((4, 16, 16, 32) if quick else (32, 32, 32, 64))))]


def _dtype_gemm(a64: np.ndarray, b64: np.ndarray) -> Experiment:
    n = a64.shape[0]
    a32, b32 = a64.astype(np.float32), b64.astype(np.float32)
    return Experiment(
        "dtype", f"matmul {n}x{n}x{n}: float64 vs float32",
        {"float64": lambda: a64 @ b64, "float32": lambda: a32 @ b32},
        work=matmul_flops(n, n, n), unit="GFLOP/s", rtol=1e-3, atol=1e-2,
        note="twice the numbers per AVX2 register and per cache line in float32")


def _dtype_add(x64: np.ndarray, y64: np.ndarray) -> Experiment:
    x32, y32 = x64.astype(np.float32), y64.astype(np.float32)
    o64, o32 = np.empty_like(x64), np.empty_like(x32)
    return Experiment(
        "dtype", f"x + y into a preallocated array, {x64.size:,} elements: float64 vs float32",
        {"float64": lambda: np.add(x64, y64, out=o64),
         "float32": lambda: np.add(x32, y32, out=o32)},
        work=x64.size, unit="Gelem/s", rtol=1e-6, atol=1e-6,
        note="memory-bound: half the bytes per element")


def _dtype_gelu(x64: np.ndarray) -> Experiment:
    x32 = x64.astype(np.float32)
    g64, g32 = np.empty_like(x64), np.empty_like(x32)
    return Experiment(
        "dtype", f"GELU (tanh, fused), {x64.size:,} elements: float64 vs float32",
        {"float64": lambda: gelu_tanh_fused(x64, g64),
         "float32": lambda: gelu_tanh_fused(x32, g32)},
        work=x64.size, unit="Gelem/s", rtol=1e-5, atol=1e-6)


def _dtype_experiments(quick: bool, rng: np.random.Generator) -> list:
    n = 512 if quick else 1024
    size = (1 << 20) if quick else (1 << 22)
    return [_dtype_gemm(rng.standard_normal((n, n)), rng.standard_normal((n, n))),
            _dtype_add(rng.standard_normal(size), rng.standard_normal(size)),
            _dtype_gelu(rng.standard_normal(size))]


def _blas_threads_gemm(a: np.ndarray, b: np.ndarray, many: int) -> Experiment:
    n = a.shape[0]

    def gemm(threads: int) -> np.ndarray:
        with blas_threads(threads):
            return a @ b

    return Experiment(
        "threads", f"matmul {n}x{n}x{n} float32: BLAS threads",
        {"BLAS 1 thread": lambda: gemm(1), f"BLAS {many} threads": lambda: gemm(many)},
        work=matmul_flops(n, n, n), unit="GFLOP/s", rtol=1e-4, atol=1e-3, sets_threads=True)


def _batch_threads(x: np.ndarray, w: np.ndarray, b: np.ndarray, many: int) -> Experiment:
    x_nhwc = nchw_to_nhwc(x)
    y = np.empty((x.shape[0], x.shape[2], x.shape[3], w.shape[0]), dtype=np.float32)

    def conv(part: np.ndarray) -> np.ndarray:
        return conv2d_im2col_nhwc(part, w, b, padding=1)

    def one_thread(blas: int) -> np.ndarray:
        with blas_threads(blas):
            return conv(x_nhwc)

    def split(parts: int) -> np.ndarray:
        with blas_threads(1):
            return map_batch(conv, x_nhwc, parts, out=y)

    return Experiment(
        "threads", f"conv forward (NHWC im2col + GEMM), batch {x_nhwc.shape}, "
                   f"{w.shape[0]} channels",
        {"1 Python thread, BLAS 1 thread": lambda: one_thread(1),
         f"1 Python thread, BLAS {many} threads": lambda: one_thread(many),
         f"batch split over {many} Python threads, BLAS 1": lambda: split(many)},
        work=conv2d_flops(x.shape, w.shape, 1, 1), unit="GFLOP/s", rtol=1e-4, atol=1e-4,
        note="numpy releases the GIL, so the parts of the batch really run at once",
        sets_threads=True)


def _gil(iterations: int, many: int) -> Experiment:
    return Experiment(
        "threads", f"pure-Python loop ({iterations:,} iterations), {many} jobs",
        {"one job after the other": lambda: [python_work(iterations) for _ in range(many)],
         f"{many} jobs in {many} threads":
             lambda: run_in_threads([lambda: python_work(iterations)] * many)},
        rtol=0, atol=0, note="the GIL: Python bytecode runs on one thread at a time",
        sets_threads=True)


def _thread_experiments(quick: bool, rng: np.random.Generator) -> list:
    many = _default_threads()
    out = [_blas_threads_gemm(_normal(rng, (n, n)), _normal(rng, (n, n)), many)
           for n in ((128, 512) if quick else (128, 1024))]
    out.append(_batch_threads(*_conv_data(rng, *((8, 16, 16, 32) if quick else (32, 32, 32, 64))),
                              many))
    out.append(_gil(20_000 if quick else 200_000, many))
    return out


def _fused_bias_relu(x: np.ndarray, b: np.ndarray) -> Experiment:
    reused, reused_chunked = np.empty_like(x), np.empty_like(x)
    return Experiment(
        "fused", f"bias + ReLU on {x.shape} float32 ({x.nbytes / (1 << 20):g} MiB)",
        {"np.maximum(x + b, 0)": lambda: bias_relu_unfused(x, b),
         "fused, new out": lambda: bias_relu_fused(x, b),
         "fused, reused out": lambda: bias_relu_fused(x, b, reused),
         "fused + chunked, reused out": lambda: bias_relu_chunked(x, b, reused_chunked)},
        work=2 * x.nbytes, unit="GB/s", rtol=0, atol=0,
        note="GB/s counts the least traffic possible (read x, write out) for every contender")


def _fused_gelu(x: np.ndarray) -> Experiment:
    reused, reused_chunked = np.empty_like(x), np.empty_like(x)
    return Experiment(
        "fused", f"GELU (tanh approximation) on {x.size:,} float32 "
                 f"({x.nbytes / (1 << 20):g} MiB)",
        {"one numpy expression": lambda: gelu_tanh_unfused(x),
         "fused, new out": lambda: gelu_tanh_fused(x),
         "fused, reused out": lambda: gelu_tanh_fused(x, reused),
         "fused + chunked (128 KiB), reused out": lambda: gelu_tanh_chunked(x, reused_chunked)},
        work=2 * x.nbytes, unit="GB/s", rtol=1e-5, atol=1e-6)


def _cube(x: np.ndarray) -> Experiment:
    return Experiment(
        "fused", f"x**3 vs x*x*x on {x.size:,} float32",
        {"x**3 (np.power)": lambda: x**3, "x * x * x": lambda: x * x * x},
        work=x.size, unit="Gelem/s", rtol=1e-5, atol=1e-6,
        note="why the fused GELU never calls power")


def _fused_experiments(quick: bool, rng: np.random.Generator) -> list:
    rows = 4096 if quick else 32768
    size = (1 << 20) if quick else (1 << 22)
    return [_fused_bias_relu(_normal(rng, (rows, 64)), _normal(rng, (64,))),
            _fused_gelu(_normal(rng, (size,))),
            _cube(_normal(rng, ((1 << 16) if quick else (1 << 18),)))]


SECTIONS = {
    "conv": ("naive loops -> vectorised -> im2col + GEMM", _conv_experiments),
    "matmul": ("Python loops, cache blocks of np.dot, and BLAS", _matmul_experiments),
    "layout": ("contiguity, strides, NCHW vs NHWC", _layout_experiments),
    "dtype": ("float64 vs float32", _dtype_experiments),
    "threads": ("BLAS threads and Python threads over a batch", _thread_experiments),
    "fused": ("fused elementwise ops: fewer passes over memory", _fused_experiments),
}


def build_experiments(quick: bool = False, sections: list | None = None,
                      seed: int = 0) -> list:
    """The lesson's experiments, in order (``sections``: a subset of :data:`SECTIONS`)."""
    chosen = list(SECTIONS) if not sections else list(sections)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    rng = np.random.default_rng(seed)
    experiments: list = []
    for name in SECTIONS:
        if name in chosen:
            experiments.extend(SECTIONS[name][1](quick, rng))
    return experiments


@dataclass
class Report:
    """Everything one run measured, with the machine it ran on."""

    machine: dict
    results: list = field(default_factory=list)
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain data, for JSON."""
        return {"machine": self.machine, "options": self.options,
                "experiments": [r.to_dict() for r in self.results]}

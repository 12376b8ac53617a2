"""TinyTorch next to PyTorch: the same model in both, checked equal, then timed side by side.

    from tinytorch.core.benchmarking import get_model_spec, compare_with_torch
    result = compare_with_torch(get_model_spec("cnn"), batch=64)
    print(result.to_markdown())

1. :func:`build_torch` builds the PyTorch twin of a :class:`~.models.ModelSpec`;
   :func:`copy_weights` copies TinyTorch's ``state_dict`` into it (the keys are the same).
2. :func:`verify_twins` checks, before anything is timed, that both give the same outputs
   (eval mode) and the same loss and parameter gradients (train mode) on one batch. A fast
   wrong model is not a result.
3. :func:`compare_with_torch` times, in alternated rounds, single-sample latency, batch
   throughput (forward) and a training step (forward + backward + SGD update), and reports
   each as an A/B comparison with a confidence interval (:mod:`.compare`).

PyTorch is never a dependency of this package: it is imported when one of these functions
runs, and a clear :class:`TorchNotInstalled` error says how to get it otherwise.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.dense import Sequential
from tinytorch.core.tensor import Tensor, from_numpy
from tinytorch.core.training import CrossEntropyLoss

from .compare import ab_compare
from .format import format_rate, markdown_table
from .models import TORCH_LAYER_NAMES, ModelSpec, build_tinytorch, sample_batch, tinytorch_train_step

__all__ = ["TorchNotInstalled", "import_torch", "build_torch", "copy_weights", "Verification",
           "verify_twins", "TorchComparison", "compare_with_torch"]

TORCH_HINT = ("pip install torch==2.13.0  (the CPU wheel; plain `pip install torch` may download "
              "a multi-GB CUDA build)")


class TorchNotInstalled(ImportError):
    """PyTorch is needed for a side-by-side comparison but is not installed."""


def import_torch() -> Any:
    """Import and return ``torch``, or raise :class:`TorchNotInstalled` with the install line.

    Imported by name at call time on purpose: torch is an optional comparison, never a
    declared dependency of a TinyTorch package (ARCHITECTURE.md).
    """
    try:
        return importlib.import_module("torch")
    except ImportError as err:
        raise TorchNotInstalled(
            "the comparison with PyTorch needs torch, which is not installed here: "
            + TORCH_HINT) from err


def build_torch(spec: ModelSpec, torch: Any = None) -> Any:
    """The ``torch.nn.Sequential`` twin of ``spec`` (children "0", "1", ... like TinyTorch's)."""
    torch = import_torch() if torch is None else torch
    layers = []
    for s in spec.layers:
        cls = getattr(torch.nn, TORCH_LAYER_NAMES.get(s.kind, s.kind))
        layers.append(cls(*s.args, **s.kwargs))
    return torch.nn.Sequential(*layers)


def copy_weights(model: Sequential, twin: Any, torch: Any = None) -> None:
    """Copy every parameter and buffer of the TinyTorch ``model`` into the PyTorch ``twin``.

    The state-dict keys and shapes match by construction; a strict load says so if not.
    """
    torch = import_torch() if torch is None else torch
    state = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in model.state_dict().items()}
    twin.load_state_dict(state, strict=True)


@dataclass(frozen=True)
class Verification:
    """How far apart the twins are on one batch (eval outputs; train loss and gradients).

    Attributes:
        output_diff: max |TinyTorch - PyTorch| over the eval-mode outputs, relative to the
            largest |output|.
        loss_diff: |difference| of the training losses, relative.
        grad_diff: max over parameters of max |difference| / max |PyTorch's gradient|.
        tolerance: the relative tolerance each is held to.
    """

    output_diff: float
    loss_diff: float
    grad_diff: float
    tolerance: float

    @property
    def passed(self) -> bool:
        """All three within the tolerance."""
        return max(self.output_diff, self.loss_diff, self.grad_diff) <= self.tolerance

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"output_diff": self.output_diff, "loss_diff": self.loss_diff,
                "grad_diff": self.grad_diff, "tolerance": self.tolerance, "passed": self.passed}

    def __str__(self) -> str:
        status = "match" if self.passed else "MISMATCH"
        return (f"{status}: outputs {self.output_diff:.1e}, loss {self.loss_diff:.1e}, "
                f"gradients {self.grad_diff:.1e} (relative; tolerance {self.tolerance:.0e})")


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(b))), 1e-12)
    return float(np.max(np.abs(a - b))) / scale


def verify_twins(model: Sequential, twin: Any, x: np.ndarray, y: np.ndarray,
                 tolerance: float = 1e-3, torch: Any = None) -> Verification:
    """Compare the twins on ``(x, y)``: eval outputs, then train-mode loss and gradients.

    Batch-norm running statistics move during the train-mode pass, in both models alike; the
    parameters are not updated and the gradients are cleared afterwards.
    """
    torch = import_torch() if torch is None else torch
    model.eval()
    twin.eval()
    with no_grad():
        ours = model(from_numpy(np.ascontiguousarray(x))).data
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    output_diff = _relative(ours, theirs)

    model.train()
    twin.train()
    for p in model.parameters():
        p.grad = None
    twin.zero_grad(set_to_none=True)
    loss = CrossEntropyLoss()(model(from_numpy(np.ascontiguousarray(x))), Tensor(y))
    loss.backward()
    tloss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    loss_diff = abs(float(loss.data) - float(tloss.detach())) / max(abs(float(tloss.detach())), 1e-12)
    theirs_grads = {k: p.grad.numpy() for k, p in twin.named_parameters()}
    # Relative to the largest gradient of the whole model, not of each parameter: a conv bias
    # followed by batch norm has an exact gradient of zero, so its float32 value is pure
    # rounding noise (~1e-9) and a per-parameter ratio would be meaningless.
    scale = max(max(float(np.max(np.abs(g))) for g in theirs_grads.values()), 1e-12)
    grad_diff = 0.0
    for k, p in model.named_parameters():
        grad_diff = max(grad_diff, float(np.max(np.abs(p.grad.data - theirs_grads[k]))) / scale)
    for p in model.parameters():
        p.grad = None
    twin.zero_grad(set_to_none=True)
    return Verification(output_diff, loss_diff, grad_diff, tolerance)


@dataclass(frozen=True)
class TorchComparison:
    """The twins verified, then timed per mode (each an A/B result: A = PyTorch, B = TinyTorch).

    Attributes:
        spec: the model compared.
        verification: the equality check done before timing.
        results: mode -> :class:`~.compare.ABResult` (modes: "latency", "throughput", "train").
        torch_version: ``torch.__version__``.
        torch_threads: ``torch.get_num_threads()`` during the timing.
        batch: the batch size of the throughput and training modes.
    """

    spec: ModelSpec
    verification: Verification
    results: dict
    torch_version: str
    torch_threads: int
    batch: int

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"kind": "torch_comparison", "model": self.spec.name, "batch": self.batch,
                "torch_version": self.torch_version, "torch_threads": self.torch_threads,
                "verification": self.verification.to_dict(),
                "results": {mode: r.to_dict() for mode, r in self.results.items()}}

    def to_markdown(self) -> str:
        """One table row per mode: both medians, throughputs, the ratio with its CI, verdict."""
        rows = []
        for mode, r in self.results.items():
            c = r.change
            rate_a, rate_b = r.rate(c.a), r.rate(c.b)
            rows.append([mode, f"{r.median(c.a) * 1e3:.3f}", f"{r.median(c.b) * 1e3:.3f}",
                         "--" if rate_a is None else format_rate(rate_a, "").strip(),
                         "--" if rate_b is None else format_rate(rate_b, "").strip(),
                         f"{c.ratio:.2f}x", f"[{1 + c.low:.2f}, {1 + c.high:.2f}]", c.verdict])
        head = ["mode", "PyTorch ms", "TinyTorch ms", "PyTorch samples/s", "TinyTorch samples/s",
                "TinyTorch/PyTorch time (per round)", "95% CI", "verdict (TinyTorch vs PyTorch)"]
        threads = f"{self.torch_threads} thread{'s' if self.torch_threads != 1 else ''}"
        return (f"TinyTorch vs PyTorch {self.torch_version} ({threads}), "
                f"model **{self.spec.name}** ({self.spec.description}); batch {self.batch} "
                f"for throughput and training, 1 for latency.\n\n"
                f"Checked before timing: {self.verification}. Medians over alternated rounds; "
                f"the time ratio is the geometric mean of the per-round ratios, with its "
                f"t-interval.\n\n"
                + markdown_table(head, rows, "lrrrrrrl") + "\n")


def compare_with_torch(spec: ModelSpec, batch: int = 64, modes: tuple = ("latency", "throughput", "train"),
                       rounds: int = 9, min_time: float = 0.05, threads: int | None = None,
                       seed: int = 0, level: float = 0.95, threshold: float = 0.02,
                       tolerance: float = 1e-3) -> TorchComparison:
    """Build ``spec`` in both frameworks, verify they agree, then time each mode side by side.

    Args:
        spec: the model.
        batch: batch size for "throughput" and "train" ("latency" uses one sample).
        modes: any of "latency", "throughput", "train".
        rounds: alternated rounds per mode.
        min_time: seconds one timed run lasts at least.
        threads: ``torch.set_num_threads`` during the timing (default: leave torch's setting);
            restored afterwards.
        seed: weights and data.
        level: confidence level.
        threshold: smallest relative difference called a regression/improvement.
        tolerance: relative tolerance of the verification.

    Raises:
        TorchNotInstalled: without torch.
        RuntimeError: when the twins disagree (nothing is timed then).
    """
    torch = import_torch()
    unknown = set(modes) - {"latency", "throughput", "train"}
    if unknown:
        raise ValueError(f"compare_with_torch: unknown modes {sorted(unknown)}")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        model = build_tinytorch(spec, seed)
        twin = build_torch(spec, torch)
        copy_weights(model, twin, torch)
        x, y = sample_batch(spec, batch, seed)
        check = verify_twins(model, twin, x, y, tolerance, torch)
        if not check.passed:
            raise RuntimeError(f"compare_with_torch: the TinyTorch and PyTorch models disagree "
                               f"({check}); nothing was timed")
        results = {}
        for mode in modes:
            contenders, work = _contenders(mode, model, twin, x, y, torch)
            title = {"latency": "latency, 1 sample (forward, no graph)",
                     "throughput": f"throughput, batch {batch} (forward, no graph)",
                     "train": f"training step, batch {batch} (forward + backward + SGD)"}[mode]
            results[mode] = ab_compare(contenders, title=title, rounds=rounds, min_time=min_time,
                                       level=level, threshold=threshold, work=work,
                                       metric=_METRICS[mode])
        return TorchComparison(spec, check, results, str(torch.__version__),
                               int(torch.get_num_threads()), batch)
    finally:
        torch.set_num_threads(previous_threads)


_METRICS = {"latency": "latency", "throughput": "time", "train": "step time"}


def _contenders(mode: str, model: Sequential, twin: Any, x: np.ndarray, y: np.ndarray,
                torch: Any) -> tuple:
    """({"PyTorch": fn, "TinyTorch": fn}, samples per call) for one mode."""
    if mode == "train":
        ours = tinytorch_train_step(model, x, y)
        twin.train()
        opt = torch.optim.SGD(twin.parameters(), lr=0.01)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def theirs() -> float:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(twin(tx), ty)
            loss.backward()
            opt.step()
            return float(loss.detach())
        return {"PyTorch": theirs, "TinyTorch": ours}, x.shape[0]
    data = x[:1] if mode == "latency" else x
    model.eval()
    twin.eval()
    inputs = from_numpy(np.ascontiguousarray(data))
    tx = torch.from_numpy(np.ascontiguousarray(data))

    def ours_forward() -> Any:
        with no_grad():
            return model(inputs)

    def theirs_forward() -> Any:
        with torch.inference_mode():
            return twin(tx)
    return {"PyTorch": theirs_forward, "TinyTorch": ours_forward}, data.shape[0]

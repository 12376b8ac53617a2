"""tinytorch.core.benchmarking — measure a model, and say what the numbers mean.

    >>> from tinytorch.core.benchmarking import Profiler
    >>> with Profiler(model) as prof:                       # doctest: +SKIP
    ...     loss_fn(model(x), y).backward()
    >>> print(prof.summary())                               # doctest: +SKIP

Every figure this module prints is measured on the machine it runs on; nothing is simulated.

* :mod:`.profiler` — :class:`Profiler`: per-layer forward and backward time (hooks and
  identity marker ops with registered derivatives), FLOPs, parameters, output memory;
* :mod:`.flops` — the FLOP formula of each layer type;
* :mod:`.scenarios` — MLPerf-style single-stream, offline and server (Poisson arrivals,
  open loop, queueing counted) scenarios, and repeated runs;
* :mod:`.stats` — percentiles, t and bootstrap confidence intervals, regression verdicts;
* :mod:`.compare` — A/B comparisons in alternated rounds;
* :mod:`.models` / :mod:`.torch_twin` — one model description built in TinyTorch and in
  PyTorch, weights copied, outputs verified, timed side by side;
* :mod:`.report` — Markdown, JSON and a plot; :mod:`.cli` — ``tito benchmark``.
"""

from .compare import VERSIONS, ABResult, ABSuite, ab_compare, compare_versions
from .flops import (ACTIVATION_FLOPS, activation_flops, adaptive_avg_pool2d_flops,
                    attention_flops, avg_pool2d_flops, conv2d_flops, count_parameters,
                    dense_flops, max_pool2d_flops, module_flops, norm_flops, register_flop_rule)
from .models import (MODELS, LayerSpec, ModelSpec, build_tinytorch, get_model_spec, layer,
                     sample_batch, tinytorch_train_step)
from .profiler import LAYER_INPUT_OP, LAYER_OUTPUT_OP, LayerProfile, Profiler, profile
from .report import PlotUnavailable, Report, machine_info
from .scenarios import (LatencyResult, Repeated, ServerResult, ThroughputResult, offline,
                        poisson_arrivals, repeat_runs, server, single_stream,
                        tinytorch_predictor)
from .stats import (VERDICTS, Change, Interval, bootstrap_interval, percentile, percentiles,
                    relative_change, t_cdf, t_interval, t_quantile, verdict)
from .torch_twin import (TorchComparison, TorchNotInstalled, Verification, build_torch,
                         compare_with_torch, copy_weights, import_torch, verify_twins)

__all__ = [
    # profiler and FLOPs
    "Profiler", "LayerProfile", "profile", "LAYER_INPUT_OP", "LAYER_OUTPUT_OP",
    "dense_flops", "conv2d_flops", "max_pool2d_flops", "avg_pool2d_flops",
    "adaptive_avg_pool2d_flops", "norm_flops", "activation_flops", "attention_flops",
    "ACTIVATION_FLOPS", "module_flops", "register_flop_rule", "count_parameters",
    # scenarios
    "tinytorch_predictor", "single_stream", "offline", "server", "poisson_arrivals",
    "repeat_runs", "LatencyResult", "ThroughputResult", "ServerResult", "Repeated",
    # statistics and comparisons
    "percentile", "percentiles", "t_cdf", "t_quantile", "t_interval", "bootstrap_interval",
    "Interval", "relative_change", "verdict", "Change", "VERDICTS", "ab_compare", "ABResult",
    "ABSuite", "compare_versions", "VERSIONS",
    # models, PyTorch
    "LayerSpec", "ModelSpec", "layer", "build_tinytorch", "MODELS", "get_model_spec",
    "sample_batch", "tinytorch_train_step",
    "import_torch", "build_torch", "copy_weights", "verify_twins", "compare_with_torch",
    "Verification", "TorchComparison", "TorchNotInstalled",
    # reports
    "Report", "machine_info", "PlotUnavailable",
]

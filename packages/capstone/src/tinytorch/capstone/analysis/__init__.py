"""Track 4 — benchmarking analysis: TinyTorch vs PyTorch, op by op (:mod:`.ops`) and model by
model, as a report with plots (:mod:`.report`), using the benchmarking module's A/B method."""

from .ops import OpCase, check_case, compare_models, compare_ops, op_cases, time_ratio
from .report import analysis_markdown, analysis_rows, plot_ratios, run_analysis

__all__ = ["OpCase", "op_cases", "check_case", "compare_ops", "compare_models", "time_ratio",
           "analysis_rows", "analysis_markdown", "plot_ratios", "run_analysis"]

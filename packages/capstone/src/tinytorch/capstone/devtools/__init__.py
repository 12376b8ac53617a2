"""Track 5 — developer tools: see the autograd graph (:mod:`.graphviz`), watch activations
and gradients layer by layer (:mod:`.monitor`), and get errors that point at your own line
(:mod:`.errors`)."""

from .errors import framework_roots, is_framework_file, locate, pinpoint, user_frame
from .graphviz import GraphvizUnavailable, op_counts, render, to_dot, walk_graph
from .monitor import LayerReport, TrainingMonitor, activation_stats, classify_gradient

__all__ = ["walk_graph", "to_dot", "op_counts", "render", "GraphvizUnavailable",
           "TrainingMonitor", "LayerReport", "activation_stats", "classify_gradient",
           "pinpoint", "locate", "user_frame", "is_framework_file", "framework_roots"]

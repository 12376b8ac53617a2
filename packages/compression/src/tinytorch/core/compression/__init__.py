"""tinytorch.core.compression — make a trained model smaller and cheaper.

    >>> from tinytorch.core.compression import prune_magnitude, quantize_model, DistillationLoss
    >>> masks = prune_magnitude(model, 0.7)                  # 70 % zeros, one global threshold
    >>> qmodel = quantize_model(model, calibration_loader)   # int8 weights, integer inference
    >>> qmodel.save("model_int8.npz")

Four techniques, each measured rather than simulated:

* :mod:`~tinytorch.core.compression.pruning` — unstructured magnitude pruning (per layer or
  global), masks that stay applied while fine-tuning, sparsity counted from the zeros.
* :mod:`~tinytorch.core.compression.structured` — remove whole neurons/channels so the
  arrays (and the FLOPs, counted) really shrink.
* :mod:`~tinytorch.core.compression.quantization` — post-training int8: per-channel weights,
  calibrated activations, exact integer matmuls, int8 ``.npz`` files.
* :mod:`~tinytorch.core.compression.distillation` — Hinton's loss and a student-training
  recipe.
"""

from .distillation import DistillationLoss, distill, distillation_loss, evaluate_accuracy
from .pruning import (MaskedOptimizer, PruningCallback, PruningMasks, SparsityReport,
                      global_magnitude_masks, magnitude_mask, prunable_weights, prune_magnitude,
                      sparsity_report)
from .quantization import (BACKENDS, FLOAT32_EXACT, INT32_MAX, QParams, QuantizedConv2d, QuantizedLinear,
                           QuantizedSequential, Observer, calibrate_qparams,
                           dequantize_per_channel, exact_chunks, float_state_nbytes,
                           fold_batchnorm, fold_batchnorms, fold_conv_bn, int_matmul, quantize_model,
                           quantize_per_channel, quantize_tensor, requantize)
from .structured import (FlopCount, count_flops, layer_flops, prune_structured, prune_units,
                         unit_importance)

__all__ = [
    # pruning
    "prunable_weights", "magnitude_mask", "global_magnitude_masks", "PruningMasks",
    "prune_magnitude", "MaskedOptimizer", "PruningCallback", "SparsityReport", "sparsity_report",
    # structured pruning
    "unit_importance", "prune_units", "prune_structured", "layer_flops", "count_flops",
    "FlopCount",
    # quantization
    "QParams", "quantize_per_channel", "dequantize_per_channel", "quantize_tensor",
    "calibrate_qparams", "Observer", "fold_batchnorm", "fold_conv_bn", "fold_batchnorms",
    "exact_chunks",
    "int_matmul", "requantize", "QuantizedLinear", "QuantizedConv2d", "QuantizedSequential",
    "quantize_model", "float_state_nbytes", "BACKENDS", "INT32_MAX", "FLOAT32_EXACT",
    # distillation
    "distillation_loss", "DistillationLoss", "distill", "evaluate_accuracy",
]

"""The "PyTorch signatures, checked" page: PyTorch names and arguments against TinyTorch's code.

Each entry names a PyTorch object, the arguments a PyTorch user passes to it, and where the
TinyTorch counterpart lives. Whether it is *supported*, *differs* (which arguments it lacks) or
is *missing* is not written here: ``check()`` imports TinyTorch and looks (``hasattr`` and
``inspect.signature``), every time the site is built, so the page cannot go stale.
``integration/test_pytorch_names.py`` checks the other side: every PyTorch name and argument
listed exists in PyTorch.

Run as a script (``python docs/hooks/pytorch_names.py``, with TinyTorch importable) it prints
the check as JSON; the site's hook runs it so, with every ``packages/*/src`` on the path.
"""
from __future__ import annotations

import importlib
import inspect
import json
import sys

# (section, PyTorch name, the arguments a user passes by keyword, TinyTorch module, TinyTorch
# name there; "Tensor.x" is a method). Arguments passed by position (the input, the shape) are
# not listed: their names do not matter to a caller.
T, ACT, LAY, DEN = "tinytorch.core.tensor", "tinytorch.core.activations", "tinytorch.core.layers", "tinytorch.core.dense"
SPA, ATT, DAT = "tinytorch.core.spatial", "tinytorch.core.attention", "tinytorch.core.dataloader"
AUT, OPT, TRN = "tinytorch.core.autograd", "tinytorch.core.optimizers", "tinytorch.core.training"

ENTRIES: list[tuple[str, str, tuple, str, str]] = [
    ("Tensor", "torch.Tensor.reshape", (), T, "Tensor.reshape"),
    ("Tensor", "torch.Tensor.view", (), T, "Tensor.view"),
    ("Tensor", "torch.Tensor.permute", (), T, "Tensor.permute"),
    ("Tensor", "torch.Tensor.transpose", (), T, "Tensor.transpose"),
    ("Tensor", "torch.Tensor.flatten", ("start_dim", "end_dim"), T, "Tensor.flatten"),
    ("Tensor", "torch.Tensor.squeeze", ("dim",), T, "Tensor.squeeze"),
    ("Tensor", "torch.Tensor.unsqueeze", ("dim",), T, "Tensor.unsqueeze"),
    ("Tensor", "torch.Tensor.expand", (), T, "Tensor.expand"),
    ("Tensor", "torch.Tensor.sum", ("dim", "keepdim", "dtype"), T, "Tensor.sum"),
    ("Tensor", "torch.Tensor.mean", ("dim", "keepdim", "dtype"), T, "Tensor.mean"),
    ("Tensor", "torch.Tensor.max", ("dim", "keepdim"), T, "Tensor.max"),
    ("Tensor", "torch.Tensor.min", ("dim", "keepdim"), T, "Tensor.min"),
    ("Tensor", "torch.Tensor.amax", ("dim", "keepdim"), T, "Tensor.amax"),
    ("Tensor", "torch.Tensor.var", ("dim", "keepdim", "correction", "unbiased"), T, "Tensor.var"),
    ("Tensor", "torch.Tensor.std", ("dim", "keepdim", "correction", "unbiased"), T, "Tensor.std"),
    ("Tensor", "torch.Tensor.prod", ("dim", "keepdim"), T, "Tensor.prod"),
    ("Tensor", "torch.Tensor.cumsum", ("dim",), T, "Tensor.cumsum"),
    ("Tensor", "torch.Tensor.logsumexp", ("dim", "keepdim"), T, "Tensor.logsumexp"),
    ("Tensor", "torch.Tensor.norm", ("p", "dim", "keepdim"), T, "Tensor.norm"),
    ("Tensor", "torch.Tensor.softmax", ("dim",), T, "Tensor.softmax"),
    ("Tensor", "torch.Tensor.sort", ("dim", "descending"), T, "Tensor.sort"),
    ("Tensor", "torch.Tensor.argsort", ("dim", "descending"), T, "Tensor.argsort"),
    ("Tensor", "torch.Tensor.topk", ("k", "dim", "largest", "sorted"), T, "Tensor.topk"),
    ("Tensor", "torch.Tensor.gather", (), T, "Tensor.gather"),
    ("Tensor", "torch.Tensor.scatter", (), T, "Tensor.scatter"),
    ("Tensor", "torch.Tensor.scatter_add", (), T, "Tensor.scatter_add"),
    ("Tensor", "torch.Tensor.index_select", (), T, "Tensor.index_select"),
    ("Tensor", "torch.Tensor.masked_fill", (), T, "Tensor.masked_fill"),
    ("Tensor", "torch.Tensor.flip", ("dims",), T, "Tensor.flip"),
    ("Tensor", "torch.Tensor.roll", ("shifts", "dims"), T, "Tensor.roll"),
    ("Tensor", "torch.Tensor.repeat", (), T, "Tensor.repeat"),
    ("Tensor", "torch.Tensor.tile", ("dims",), T, "Tensor.tile"),
    ("Tensor", "torch.Tensor.split", ("dim",), T, "Tensor.split"),
    ("Tensor", "torch.Tensor.chunk", ("chunks", "dim"), T, "Tensor.chunk"),
    ("Tensor", "torch.Tensor.unbind", ("dim",), T, "Tensor.unbind"),
    ("Tensor", "torch.Tensor.unfold", ("dimension", "size", "step"), T, "Tensor.unfold"),
    ("Tensor", "torch.Tensor.tril", ("diagonal",), T, "Tensor.tril"),
    ("Tensor", "torch.Tensor.triu", ("diagonal",), T, "Tensor.triu"),
    ("Tensor", "torch.Tensor.round", ("decimals",), T, "Tensor.round"),
    ("Tensor", "torch.Tensor.clamp", ("min", "max"), T, "Tensor.clamp"),
    ("Tensor", "torch.Tensor.add_", (), T, "Tensor.add_"),
    ("Tensor", "torch.Tensor.mul_", (), T, "Tensor.mul_"),
    ("Tensor", "torch.Tensor.zero_", (), T, "Tensor.zero_"),
    ("Tensor", "torch.Tensor.clamp_", ("min", "max"), T, "Tensor.clamp_"),
    ("Tensor", "torch.Tensor.register_hook", (), T, "Tensor.register_hook"),
    ("Tensor", "torch.Tensor.backward", ("gradient", "retain_graph", "create_graph"), T, "Tensor.backward"),
    ("Tensor", "torch.Tensor.to", ("dtype",), T, "Tensor.to"),
    ("Tensor", "torch.Tensor.detach", (), T, "Tensor.detach"),
    ("Functions", "torch.einsum", (), T, "einsum"),
    ("Functions", "torch.cat", ("dim",), T, "cat"),
    ("Functions", "torch.stack", ("dim",), T, "stack"),
    ("Functions", "torch.where", (), T, "where"),
    ("Functions", "torch.zeros", ("dtype", "requires_grad"), T, "zeros"),
    ("Functions", "torch.arange", ("dtype",), T, "arange"),
    ("Functions", "torch.randn", ("dtype", "generator", "requires_grad"), T, "randn"),
    ("Functions", "torch.manual_seed", (), T, "manual_seed"),
    ("Functions", "torch.from_numpy", (), T, "from_numpy"),
    ("Layers", "torch.nn.Linear", ("in_features", "out_features", "bias", "dtype"), LAY, "Linear"),
    ("Layers", "torch.nn.Conv1d", ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "padding_mode"), SPA, "Conv1d"),
    ("Layers", "torch.nn.Conv2d", ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "padding_mode"), SPA, "Conv2d"),
    ("Layers", "torch.nn.ConvTranspose2d", ("in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "groups", "bias", "dilation"), SPA, "ConvTranspose2d"),
    ("Layers", "torch.nn.MaxPool2d", ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"), SPA, "MaxPool2d"),
    ("Layers", "torch.nn.AvgPool2d", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"), SPA, "AvgPool2d"),
    ("Layers", "torch.nn.AdaptiveAvgPool2d", ("output_size",), SPA, "AdaptiveAvgPool2d"),
    ("Layers", "torch.nn.MaxUnpool2d", ("kernel_size", "stride", "padding"), SPA, "MaxUnpool2d"),
    ("Layers", "torch.nn.Upsample", ("size", "scale_factor", "mode", "align_corners"), SPA, "Upsample"),
    ("Layers", "torch.nn.BatchNorm2d", ("num_features", "eps", "momentum", "affine", "track_running_stats"), SPA, "BatchNorm2d"),
    ("Layers", "torch.nn.GroupNorm", ("num_groups", "num_channels", "eps", "affine"), SPA, "GroupNorm"),
    ("Layers", "torch.nn.LayerNorm", ("normalized_shape", "eps", "elementwise_affine", "bias"), ATT, "LayerNorm"),
    ("Layers", "torch.nn.Embedding", ("num_embeddings", "embedding_dim", "padding_idx", "max_norm"), ATT, "Embedding"),
    ("Layers", "torch.nn.MultiheadAttention", ("embed_dim", "num_heads", "dropout", "bias", "kdim", "vdim", "batch_first"), ATT, "MultiheadAttention"),
    ("Layers", "torch.nn.MultiheadAttention.forward", ("query", "key", "value", "key_padding_mask", "need_weights", "attn_mask", "average_attn_weights", "is_causal"), ATT, "MultiheadAttention.forward"),
    ("Layers", "torch.nn.Dropout", ("p",), LAY, "Dropout"),
    ("Layers", "torch.nn.Flatten", ("start_dim", "end_dim"), LAY, "Flatten"),
    ("Layers", "torch.nn.Identity", (), LAY, "Identity"),
    ("Layers", "torch.nn.Sequential", (), DEN, "Sequential"),
    ("Layers", "torch.nn.ModuleList", (), LAY, "ModuleList"),
    ("Layers", "torch.nn.ModuleDict", (), LAY, "ModuleDict"),
    ("Layers", "torch.nn.ParameterList", (), LAY, "ParameterList"),
    ("Module", "torch.nn.Module.to", ("dtype",), LAY, "Module.to"),
    ("Module", "torch.nn.Module.double", (), LAY, "Module.double"),
    ("Module", "torch.nn.Module.named_modules", ("prefix",), LAY, "Module.named_modules"),
    ("Module", "torch.nn.Module.apply", (), LAY, "Module.apply"),
    ("Module", "torch.nn.Module.register_buffer", ("persistent",), LAY, "Module.register_buffer"),
    ("Module", "torch.nn.Module.load_state_dict", ("strict",), LAY, "Module.load_state_dict"),
    ("Module", "torch.nn.Module.state_dict", (), LAY, "Module.state_dict"),
    ("Module", "torch.nn.Module.zero_grad", (), LAY, "Module.zero_grad"),
    ("Activations", "torch.nn.ReLU", (), ACT, "ReLU"),
    ("Activations", "torch.nn.LeakyReLU", ("negative_slope",), ACT, "LeakyReLU"),
    ("Activations", "torch.nn.ELU", ("alpha",), ACT, "ELU"),
    ("Activations", "torch.nn.GELU", ("approximate",), ACT, "GELU"),
    ("Activations", "torch.nn.SiLU", (), ACT, "SiLU"),
    ("Activations", "torch.nn.Mish", (), ACT, "Mish"),
    ("Activations", "torch.nn.Softplus", ("beta", "threshold"), ACT, "Softplus"),
    ("Activations", "torch.nn.Hardswish", (), ACT, "Hardswish"),
    ("Activations", "torch.nn.LogSigmoid", (), ACT, "LogSigmoid"),
    ("Activations", "torch.nn.Softmax", ("dim",), ACT, "Softmax"),
    ("Activations", "torch.nn.LogSoftmax", ("dim",), ACT, "LogSoftmax"),
    ("Losses", "torch.nn.CrossEntropyLoss", ("weight", "ignore_index", "reduction", "label_smoothing"), TRN, "CrossEntropyLoss"),
    ("Losses", "torch.nn.NLLLoss", ("weight", "ignore_index", "reduction"), TRN, "NLLLoss"),
    ("Losses", "torch.nn.BCELoss", ("weight", "reduction"), TRN, "BCELoss"),
    ("Losses", "torch.nn.BCEWithLogitsLoss", ("weight", "reduction", "pos_weight"), TRN, "BCEWithLogitsLoss"),
    ("Losses", "torch.nn.MSELoss", ("reduction",), TRN, "MSELoss"),
    ("Losses", "torch.nn.L1Loss", ("reduction",), TRN, "L1Loss"),
    ("Losses", "torch.nn.SmoothL1Loss", ("reduction", "beta"), TRN, "SmoothL1Loss"),
    ("Losses", "torch.nn.HuberLoss", ("reduction", "delta"), TRN, "HuberLoss"),
    ("Losses", "torch.nn.KLDivLoss", ("reduction", "log_target"), TRN, "KLDivLoss"),
    ("Optimizers", "torch.optim.SGD", ("params", "lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"), OPT, "SGD"),
    ("Optimizers", "torch.optim.Adam", ("params", "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"), OPT, "Adam"),
    ("Optimizers", "torch.optim.AdamW", ("params", "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"), OPT, "AdamW"),
    ("Optimizers", "torch.optim.RMSprop", ("params", "lr", "alpha", "eps", "weight_decay", "momentum", "centered"), OPT, "RMSprop"),
    ("Optimizers", "torch.optim.Adagrad", ("params", "lr", "lr_decay", "weight_decay", "eps"), OPT, "Adagrad"),
    ("Optimizers", "torch.optim.NAdam", ("params", "lr", "betas", "eps", "weight_decay", "momentum_decay"), OPT, "NAdam"),
    ("Optimizers", "torch.optim.RAdam", ("params", "lr", "betas", "eps", "weight_decay"), OPT, "RAdam"),
    ("Optimizers", "torch.optim.lr_scheduler.StepLR", ("optimizer", "step_size", "gamma"), OPT, "StepLR"),
    ("Optimizers", "torch.optim.lr_scheduler.CosineAnnealingLR", ("optimizer", "T_max", "eta_min"), OPT, "CosineAnnealingLR"),
    ("Optimizers", "torch.optim.lr_scheduler.OneCycleLR", ("optimizer", "max_lr", "total_steps", "pct_start"), OPT, "OneCycleLR"),
    ("Optimizers", "torch.optim.lr_scheduler.LambdaLR", ("optimizer", "lr_lambda"), OPT, "LambdaLR"),
    ("Optimizers", "torch.optim.lr_scheduler.LinearLR", ("optimizer", "start_factor", "end_factor", "total_iters"), OPT, "LinearLR"),
    ("Optimizers", "torch.optim.lr_scheduler.SequentialLR", ("optimizer", "schedulers", "milestones"), OPT, "SequentialLR"),
    ("Optimizers", "torch.optim.lr_scheduler.ReduceLROnPlateau", ("optimizer", "mode", "factor", "patience", "threshold", "cooldown", "min_lr"), OPT, "ReduceLROnPlateau"),
    ("Optimizers", "torch.nn.utils.clip_grad_norm_", ("parameters", "max_norm", "norm_type"), OPT, "clip_grad_norm_"),
    ("Autograd", "torch.no_grad", (), AUT, "no_grad"),
    ("Autograd", "torch.enable_grad", (), AUT, "enable_grad"),
    ("Autograd", "torch.autograd.grad", ("grad_outputs", "retain_graph", "create_graph", "allow_unused"), AUT, "grad"),
    ("Autograd", "torch.autograd.Function", (), AUT, "Function"),
    ("Autograd", "torch.autograd.gradcheck", ("eps", "atol", "rtol"), AUT, "gradcheck"),
    ("Functional", "torch.nn.functional.softmax", ("dim",), ACT, "softmax"),
    ("Functional", "torch.nn.functional.cross_entropy", ("weight", "ignore_index", "reduction", "label_smoothing"), TRN, "cross_entropy"),
    ("Functional", "torch.nn.functional.conv2d", ("bias", "stride", "padding", "dilation", "groups"), SPA, "conv2d"),
    ("Functional", "torch.nn.functional.max_pool2d", ("stride", "padding", "dilation", "ceil_mode", "return_indices"), SPA, "max_pool2d"),
    ("Functional", "torch.nn.functional.interpolate", ("size", "scale_factor", "mode", "align_corners"), SPA, "interpolate"),
    ("Functional", "torch.nn.functional.pad", ("mode", "value"), T, "pad"),
    ("Functional", "torch.nn.functional.scaled_dot_product_attention", ("attn_mask", "dropout_p", "is_causal", "scale"), ATT, "scaled_dot_product_attention"),
    ("Functional", "torch.nn.functional.layer_norm", ("weight", "bias", "eps"), ATT, "layer_norm"),
    ("Data", "torch.utils.data.DataLoader", ("batch_size", "shuffle", "drop_last", "collate_fn", "num_workers"), DAT, "DataLoader"),
    ("Data", "torch.utils.data.TensorDataset", (), DAT, "TensorDataset"),
    ("Data", "torch.utils.data.random_split", ("generator",), DAT, "random_split"),
    ("Data", "torch.utils.data.Subset", (), DAT, "Subset"),
]



def _resolve(module: str, name: str):
    try:
        obj = importlib.import_module(module)
    except ImportError:
        return None
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _accepts(obj) -> tuple[set[str], bool] | None:
    """(parameter names, takes **kwargs) of a callable or a class's constructor."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    kinds = {p.kind for p in sig.parameters.values()}
    return set(sig.parameters), inspect.Parameter.VAR_KEYWORD in kinds


def check(entries=ENTRIES) -> list[dict]:
    """One row per entry: status "supported", "differs" (with the missing arguments) or
    "missing", from the TinyTorch importable in this interpreter."""
    rows = []
    for section, torch_name, args, module, name in entries:
        obj = _resolve(module, name)
        row = {"section": section, "torch": torch_name, "args": list(args),
               "tinytorch": f"{module}.{name}", "missing_args": []}
        if obj is None:
            row["status"] = "missing"
        else:
            accepts = _accepts(obj)
            if accepts is not None:
                names, kwargs = accepts
                row["missing_args"] = [a for a in args if a not in names and not kwargs]
            row["status"] = "differs" if row["missing_args"] else "supported"
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    """The page: counts, then one table per section."""
    counts = {s: sum(r["status"] == s for r in rows) for s in ("supported", "differs", "missing")}
    out = ["# PyTorch signatures, checked", "",
           "The PyTorch names and keyword arguments a PyTorch user reaches for first, and whether",
           "TinyTorch's counterpart takes them — how behaviour differs is on",
           "[Coming from PyTorch](coming-from-pytorch.md). The status here is not written by hand:",
           "when this site was built, each TinyTorch",
           "counterpart was imported and its signature read (`docs/hooks/pytorch_names.py`), and a",
           "test checks every PyTorch name and argument below against PyTorch itself.",
           "**Differs** lists the keyword arguments TinyTorch's signature lacks; names TinyTorch accepts",
           "beyond PyTorch's (such as `axis=` beside `dim=`) are not shown. Behaviour is compared",
           "with PyTorch by the integration tests (values and gradients), not by this page.", "",
           f"**{counts['supported']} supported, {counts['differs']} differ, "
           f"{counts['missing']} missing** (of {len(rows)}).", ""]
    sections: list[str] = []
    for r in rows:
        if r["section"] not in sections:
            sections.append(r["section"])
    for section in sections:
        out += [f"## {section}", "", "| PyTorch | arguments | TinyTorch | status |",
                "|---|---|---|---|"]
        for r in (r for r in rows if r["section"] == section):
            args = ", ".join(f"`{a}`" for a in r["args"]) or "—"
            if r["status"] == "supported":
                status = "supported"
            elif r["status"] == "differs":
                status = "differs: no " + ", ".join(f"`{a}=`" for a in r["missing_args"])
            else:
                status = "**missing**"
            short = r["tinytorch"].removeprefix("tinytorch.core.")
            there = f"`{short}`" if r["status"] != "missing" else "—"
            out.append(f"| `{r['torch']}` | {args} | {there} | {status} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    json.dump(check(), sys.stdout)

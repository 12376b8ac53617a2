"""Measure compression on the CIFAR-10 CNN of the training module: size, accuracy, latency, FLOPs.

    python -m tinytorch.core.compression.report --checkpoint runs/cifar10/checkpoint.npz

Every number in the printed tables comes from running the code on this machine: files are
written and their sizes read back, accuracy is measured on all 10,000 test images, latency
is the median of repeated timed calls (float32 and int8 alternating, so that a machine whose
speed drifts affects both alike). Without ``--checkpoint`` (or if the file is missing) the
quick recipe of :func:`tinytorch.core.training.cifar10.train_cifar10` trains a model first.

Sections: int8 post-training quantization (min/max and percentile calibration), global
unstructured magnitude pruning at several sparsities with a short masked fine-tune,
structured channel pruning (FLOPs, parameters, latency, accuracy) and, with
``--distill-epochs``, a distilled half-width student against the same student trained alone.
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.tensor.runtime import threads
from tinytorch.core.training import CrossEntropyLoss, load_checkpoint
from tinytorch.core.training.cifar10 import cifar10_loaders, small_cnn, train_cifar10

from .distillation import distill, evaluate_accuracy
from .pruning import MaskedOptimizer, prune_magnitude, sparsity_report
from .quantization import float_state_nbytes, fold_batchnorms, quantize_model
from .structured import count_flops, prune_structured

__all__ = ["main", "machine_description", "median_latency", "LATENCY_SETTINGS"]

# (label, batch size, threads): None keeps the defaults (kernel threads = CPUs, BLAS's own
# threads); 1 runs everything on one thread, BLAS included. On a busy machine a tiny
# multi-threaded BLAS call can wait milliseconds for its second thread, so batch 1 is timed
# both ways.
LATENCY_SETTINGS = [("batch 1, 1 thread", 1, 1), ("batch 1, default threads", 1, None),
                    ("batch 256, default threads", 256, None)]


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
    else:
        with threads(n, blas=n):
            yield


def machine_description() -> str:
    """CPU model, cores, numpy version and the load average (these machines are shared)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average {:.1f}".format(os.getloadavg()[0])
    return f"{cpu}, {os.cpu_count()} CPUs, numpy {np.__version__}, Python {platform.python_version()}{load}"


def median_latency(contenders: dict, x: np.ndarray, rounds: int) -> dict:
    """Median seconds per call of each ``name -> fn(x)``, alternating the contenders each round."""
    times: dict = {name: [] for name in contenders}
    for fn in contenders.values():  # warm-up: buffers, caches
        fn(x)
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def _float_fn(model: Any) -> Callable:
    model.eval()

    def run(x: np.ndarray) -> np.ndarray:
        with no_grad():
            return model(Tensor(x)).data
    return run


def _file_size(save: Callable[[str], Any]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.npz")
        written = save(path) or path
        return os.path.getsize(written)


def _finetune(model: Any, train: Any, steps: int, lr: float, masks: Any = None) -> None:
    """``steps`` SGD steps (momentum 0.9, weight decay 5e-4), masks re-applied if given."""
    if steps <= 0:
        return
    sgd = SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    opt = MaskedOptimizer(sgd, masks) if masks is not None else sgd
    loss_fn = CrossEntropyLoss()
    model.train()
    done = 0
    while done < steps:
        for x, y in train:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done >= steps:
                break
    model.eval()


def _conv_shapes(model: Any) -> str:
    return ", ".join("×".join(map(str, l.weight.shape)) for l in model if isinstance(l, Conv2d))


def _table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KiB ({n:,} B)"


def main(argv: list | None = None) -> dict:
    """Run the measurements; print (and write) the markdown tables; return the numbers."""
    p = argparse.ArgumentParser(prog="python -m tinytorch.core.compression.report",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="runs/cifar10/checkpoint.npz",
                   help="a train_cifar10 checkpoint of the quick recipe's small CNN")
    p.add_argument("--root", default=None, help="CIFAR-10 folder (default: the data cache)")
    p.add_argument("--out", default="runs/compression", help="where report.md and report.json go")
    p.add_argument("--train-epochs", type=int, default=4, help="if no checkpoint: epochs to train")
    p.add_argument("--calibration-batches", type=int, default=8, help="batches of 128 to calibrate on")
    p.add_argument("--latency-rounds", type=int, default=15, help="timed calls per contender")
    p.add_argument("--sparsities", default="0.5,0.7,0.9", help="global magnitude pruning levels")
    p.add_argument("--finetune-steps", type=int, default=200, help="masked SGD steps after pruning")
    p.add_argument("--finetune-lr", type=float, default=0.01)
    p.add_argument("--channels", type=float, default=0.5, help="fraction of channels structured pruning removes")
    p.add_argument("--distill-epochs", type=int, default=0, help="0: skip distillation")
    p.add_argument("--limit-train", type=int, default=None,
                   help="use only the first N training images (quick smoke runs)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    started = time.perf_counter()
    manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    results: dict = {"date": _dt.datetime.now().isoformat(timespec="minutes"),
                     "machine": machine_description(), "args": vars(args)}
    print(f"# TinyTorch compression report\n\n{results['date']} — {results['machine']}\n", flush=True)

    # ------------------------------------------------------------------ the model and data
    if not os.path.exists(args.checkpoint):
        print(f"no checkpoint at {args.checkpoint}: training the quick recipe for "
              f"{args.train_epochs} epochs first", flush=True)
        summary = train_cifar10("quick", root=args.root, out_dir=os.path.dirname(args.checkpoint) or ".",
                                epochs=args.train_epochs, seed=args.seed, progress=False)
        args.checkpoint = summary["checkpoint"]
    model = small_cnn()
    model.load_state_dict(load_checkpoint(args.checkpoint)["model"])
    model.eval()
    train, test, _ = cifar10_loaders(args.root, batch_size=128, augment=True, seed=args.seed,
                                     limit_train=args.limit_train)
    calib, _, _ = cifar10_loaders(args.root, batch_size=128, augment=False, seed=args.seed,
                                  limit_train=args.limit_train)

    def acc(m: Any) -> float:
        return evaluate_accuracy(m, test)

    # ------------------------------------------------------------------ int8 quantization
    float_acc = acc(model)
    float_bytes = _file_size(lambda path: np.savez(path, **model.state_dict()))
    print(f"float32: test accuracy {float_acc:.2%}, file {float_bytes:,} B", flush=True)
    quant_rows: list[dict[str, Any]] = []
    qmodels = {}
    for method in ("minmax", "percentile"):
        t0 = time.perf_counter()
        q = quantize_model(model, calib, num_batches=args.calibration_batches, method=method,
                           percentile=99.99)
        convert = time.perf_counter() - t0
        q_acc = acc(q)
        q_bytes = _file_size(q.save)
        qmodels[method] = q
        quant_rows.append({"method": method, "accuracy": q_acc, "bytes": q_bytes,
                           "convert_s": convert})
        print(f"int8 ({method}): test accuracy {q_acc:.2%}, file {q_bytes:,} B", flush=True)
    best = max(quant_rows, key=lambda r: r["accuracy"])
    qmodel = qmodels[best["method"]]

    rng = np.random.default_rng(args.seed)
    folded = fold_batchnorms(model)
    latency = {}
    for label, batch, n_threads in LATENCY_SETTINGS:
        x = rng.normal(size=(batch, 3, 32, 32)).astype(np.float32)
        contenders = {"float32": _float_fn(model), "float32, BN folded": _float_fn(folded), "int8": qmodel}
        with _threads(n_threads):
            latency[label] = median_latency(contenders, x, args.latency_rounds)
        print(f"{label}: " + ", ".join(f"{k} {_ms(v)}" for k, v in latency[label].items()), flush=True)
    # the integer reference backend (numpy int32 matmul), fewer rounds: it is slow
    reference = copy.deepcopy(qmodel).set_backend("int32")
    int32_latency = {}
    for label, batch, n_threads in LATENCY_SETTINGS:
        x = rng.normal(size=(batch, 3, 32, 32)).astype(np.float32)
        with _threads(n_threads):
            int32_latency[label] = median_latency({"int32": reference}, x,
                                                  max(3, args.latency_rounds // 5))["int32"]
    agree = bool(np.array_equal(reference(x).data, qmodel(x).data))
    results["quantization"] = {"float_accuracy": float_acc, "float_bytes": float_bytes,
                               "int8": quant_rows, "latency": latency,
                               "int32_backend_latency": int32_latency,
                               "backends_bit_identical": agree}

    q_table = _table(
        ["", "float32", "int8 (" + best["method"] + " calibration)", "change"],
        [["file size (.npz)", _kb(float_bytes), _kb(best["bytes"]),
          f"{1 - best['bytes'] / float_bytes:.1%} smaller"],
         ["array bytes in the file (without zip/.npy headers and layout JSON)",
          f"{float_state_nbytes(model):,} B", f"{qmodel.nbytes():,} B",
          f"{1 - qmodel.nbytes() / float_state_nbytes(model):.1%} smaller"],
         ["test accuracy (10,000 images)", f"{float_acc:.2%}", f"{best['accuracy']:.2%}",
          f"{(best['accuracy'] - float_acc) * 100:+.2f} points"]])
    latency_table = _table(
        [f"median of {args.latency_rounds} calls", "float32", "float32, BN folded", "int8",
         "int8 / float32", "int8 / folded"],
        [[label, _ms(t["float32"]), _ms(t["float32, BN folded"]), _ms(t["int8"]),
          f"{t['int8'] / t['float32']:.2f}×", f"{t['int8'] / t['float32, BN folded']:.2f}×"]
         for label, t in latency.items()])
    calib_table = _table(["calibration", "test accuracy", "file size"],
                         [[r["method"], f"{r['accuracy']:.2%}", f"{r['bytes']:,} B"] for r in quant_rows])
    backend_table = _table(
        ["int8 matmul backend"] + [label for label, _, _ in LATENCY_SETTINGS],
        [["float32 BLAS on integer values, K split for exactness (default)"]
         + [_ms(latency[label]["int8"]) for label, _, _ in LATENCY_SETTINGS],
         ["numpy int32 @ int32 (reference)"] + [_ms(int32_latency[label]) for label, _, _ in LATENCY_SETTINGS]])

    # ------------------------------------------------------------------ unstructured pruning
    prune_rows: list[dict[str, Any]] = []
    for s in [float(v) for v in args.sparsities.split(",") if v.strip()]:
        pruned = copy.deepcopy(model)
        masks = prune_magnitude(pruned, s, scope="global")
        before = acc(pruned)
        _finetune(pruned, train, args.finetune_steps, args.finetune_lr, masks)
        report = sparsity_report(pruned)
        after = acc(pruned)
        prune_rows.append({"target": s, "measured_sparsity": report.sparsity,
                           "layers": report.layer_sparsity(), "accuracy_pruned": before,
                           "accuracy_finetuned": after, "threshold": masks.threshold})
        print(f"global magnitude {s:.0%}: measured {report.sparsity:.2%}, accuracy {before:.2%} -> "
              f"{after:.2%} after {args.finetune_steps} masked steps", flush=True)
    results["unstructured"] = prune_rows
    layer_names = list(prune_rows[0]["layers"]) if prune_rows else []
    unstructured_table = _table(
        ["global sparsity (measured)", "accuracy, pruned", f"accuracy, +{args.finetune_steps} masked fine-tune steps"]
        + [f"{n} zeros" for n in layer_names],
        [[f"{r['measured_sparsity']:.2%}", f"{r['accuracy_pruned']:.2%}", f"{r['accuracy_finetuned']:.2%}"]
         + [f"{r['layers'][n]:.1%}" for n in layer_names] for r in prune_rows])

    # ------------------------------------------------------------------ structured pruning
    slim = prune_structured(model, args.channels)
    flops_before, flops_after = count_flops(model, (3, 32, 32)), count_flops(slim, (3, 32, 32))
    slim_acc = acc(slim)
    _finetune(slim, train, args.finetune_steps, args.finetune_lr)
    slim_tuned = acc(slim)
    slim_latency = {}
    for label, batch, n_threads in LATENCY_SETTINGS:
        x = rng.normal(size=(batch, 3, 32, 32)).astype(np.float32)
        with _threads(n_threads):
            slim_latency[label] = median_latency({"original": _float_fn(model), "pruned": _float_fn(slim)},
                                                 x, args.latency_rounds)
    params_before = sum(v.size for v in model.state_dict().values())
    params_after = sum(v.size for v in slim.state_dict().values())
    results["structured"] = {"channels_removed": args.channels, "flops": [flops_before.total, flops_after.total],
                             "parameters": [params_before, params_after],
                             "accuracy": [float_acc, slim_acc, slim_tuned], "latency": slim_latency,
                             "shapes": _conv_shapes(slim)}
    print(f"structured {args.channels:.0%} of channels: FLOPs {flops_before.total:,} -> "
          f"{flops_after.total:,}, accuracy {slim_acc:.2%} -> {slim_tuned:.2%} after fine-tune", flush=True)
    structured_table = _table(
        ["", "original", f"{args.channels:.0%} of conv channels removed", "ratio"],
        [["FLOPs per image (Dense + Conv2d)", f"{flops_before.total / 1e6:.2f} M",
          f"{flops_after.total / 1e6:.2f} M", f"{flops_after.total / flops_before.total:.2f}×"],
         ["parameters + buffers", f"{params_before:,}", f"{params_after:,}", f"{params_after / params_before:.2f}×"],
         ["conv weights", _conv_shapes(model), _conv_shapes(slim), ""],
         ["test accuracy, pruned", f"{float_acc:.2%}", f"{slim_acc:.2%}", ""],
         [f"test accuracy, +{args.finetune_steps} fine-tune steps", f"{float_acc:.2%}", f"{slim_tuned:.2%}",
          f"{(slim_tuned - float_acc) * 100:+.2f} points"]]
        + [[f"latency, {label}", _ms(t["original"]), _ms(t["pruned"]),
            f"{t['pruned'] / t['original']:.2f}×"] for label, t in slim_latency.items()])

    # ------------------------------------------------------------------ distillation
    distill_table = ""
    if args.distill_epochs > 0:
        widths = (16, 32, 64)
        manual_seed(args.seed)
        alone = small_cnn(widths=widths)
        manual_seed(args.seed)
        student = small_cnn(widths=widths)
        steps = args.distill_epochs * len(train)
        # the same loop, optimizer and schedule; alpha = 0 leaves only the cross-entropy
        distill(model, alone, train, epochs=args.distill_epochs, alpha=0.0, lr=0.05, progress=True)
        distill(model, student, train, epochs=args.distill_epochs, temperature=4.0, alpha=0.9,
                lr=0.05, progress=True)
        alone_acc, student_acc = acc(alone), acc(student)
        results["distillation"] = {"student_widths": widths, "epochs": args.distill_epochs, "steps": steps,
                                   "alone": alone_acc, "distilled": student_acc,
                                   "student_parameters": alone.num_parameters(),
                                   "teacher_parameters": model.num_parameters()}
        distill_table = _table(
            ["model", "parameters", f"test accuracy after {args.distill_epochs} epoch(s)"],
            [["teacher small_cnn (32, 64, 128)", f"{model.num_parameters():,}", f"{float_acc:.2%}"],
             ["student (16, 32, 64), cross-entropy alone (α = 0)",
              f"{alone.num_parameters():,}", f"{alone_acc:.2%}"],
             ["student (16, 32, 64), distilled (T = 4, α = 0.9, one-cycle lr 0.05)",
              f"{student.num_parameters():,}", f"{student_acc:.2%}"]])

    results["seconds"] = time.perf_counter() - started
    text = "\n\n".join(part for part in [
        f"# TinyTorch compression report\n\n{results['date']} — {results['machine']}",
        f"Checkpoint: `{args.checkpoint}`",
        "## int8 post-training quantization\n\n" + q_table,
        latency_table, calib_table, backend_table + ("\n\nint32 and float32 backends give bit-identical outputs: "
                                      f"{agree}"),
        "## Global magnitude pruning\n\n" + unstructured_table,
        "## Structured channel pruning\n\n" + structured_table,
        ("## Knowledge distillation\n\n" + distill_table) if distill_table else "",
        f"Total time {results['seconds'] / 60:.1f} min.",
    ] if part)
    print("\n" + text, flush=True)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    return results


if __name__ == "__main__":
    main()

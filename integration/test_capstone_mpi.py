"""The capstone's systems track on a real distributed engine: MPI (Open MPI + mpi4py).

``mpiexec -n 2`` runs two processes of ``tinytorch.capstone.distributed.train``: rank 1 starts
from *different* weights, rank 0's are broadcast, each rank trains on its half of every global
batch and the gradients are all-reduced (weighted by each rank's share, i.e. averaged) before
every step. After a few steps both ranks must hold identical weights, and those must equal —
up to float32 rounding of the summation order — the weights of one process trained on the
same global batches. Needs ``mpiexec`` and ``mpi4py`` (the tox integration env installs both:
``python .ci/tt.py mpi``); skipped when they are absent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tinytorch.capstone.distributed import SingleProcess
from tinytorch.capstone.distributed.scaling import mpiexec_command, run_scaling
from tinytorch.capstone.distributed.train import train

if shutil.which("mpiexec") is None or importlib.util.find_spec("mpi4py") is None:
    pytest.skip("needs mpiexec and mpi4py (python .ci/tt.py mpi installs them)", allow_module_level=True)

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "TINYTORCH_NUM_THREADS": "1"}


def _mpi_run(tmp_path, ranks: int, args: list) -> tuple:
    prefix = tmp_path / "weights"
    out = tmp_path / "result.json"
    cmd = mpiexec_command(ranks, [*args, "--save-weights", str(prefix), "--out", str(out)],
                          python=sys.executable)
    res = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=900)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout}\n{res.stderr}"
    weights = [dict(np.load(f"{prefix}.rank{r}.npz")) for r in range(ranks)]
    return weights, json.loads(out.read_text())


def _compare(weights: list, result: dict, single: dict) -> None:
    reference = single.pop("model_obj").state_dict()
    assert result["ranks"] == 2 and result["communicator"].startswith("MPI")
    for name, value in reference.items():
        np.testing.assert_array_equal(weights[0][name], weights[1][name])  # the ranks agree exactly
        # one process on the same global batches: equal up to the order of float32 additions
        np.testing.assert_allclose(weights[0][name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(result["losses"], single["losses"], rtol=1e-5)


@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_two_mpi_ranks_match_one_process(tmp_path, model):
    args = ["--model", model, "--data", "synthetic", "--steps", "3", "--warmup", "1",
            "--global-batch", "16", "--lr", "0.05", "--seed", "3"]
    weights, result = _mpi_run(tmp_path, 2, args)
    single = train(SingleProcess(), model, "synthetic", steps=3, warmup=1, global_batch=16,
                   lr=0.05, seed=3)
    _compare(weights, result, single)


def test_two_mpi_ranks_match_one_process_on_cifar10(tmp_path):
    from tinytorch.core.dataloader import CIFAR10, DatasetNotFoundError
    try:
        CIFAR10(train=False)
    except DatasetNotFoundError:
        pytest.skip("CIFAR-10 is not prepared (python .ci/tt.py cifar10)")
    args = ["--model", "cnn", "--data", "cifar10", "--steps", "2", "--warmup", "0",
            "--global-batch", "32", "--limit-train", "2048"]
    weights, result = _mpi_run(tmp_path, 2, args)
    single = train(SingleProcess(), "cnn", "cifar10", steps=2, warmup=0, global_batch=32,
                   limit_train=2048)
    _compare(weights, result, single)


def test_scaling_harness_runs(tmp_path):
    result = run_scaling((1, 2), steps=2, warmup=1, global_batch=16, model="mlp", data="synthetic",
                         repeats=1, out_dir=str(tmp_path), progress=False)
    assert [row["ranks"] for row in result["scaling"]] == [1, 2]
    assert all(row["images_per_s"] > 0 for row in result["scaling"])  # no speed is asserted
    assert (tmp_path / "report.md").read_text().count("|") > 10

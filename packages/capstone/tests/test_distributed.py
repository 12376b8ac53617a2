"""Track 3: sharding, the collectives, the gradient all-reduce and data-parallel equivalence.

MPI itself runs in ``integration/test_capstone_mpi.py`` (mpiexec -n 2); here the ranks are
threads of one process (:class:`ThreadGroup`), which sum in rank order as MPI would.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.capstone.distributed import (DataParallel, SingleProcess, ThreadGroup,
                                            allreduce_gradients, average_buffers, broadcast_state,
                                            get_communicator, shard_slice)
from tinytorch.capstone.distributed.scaling import mpiexec_command, scaling_markdown, scaling_table
from tinytorch.capstone.distributed.train import global_batches, train
from tinytorch.core.benchmarking import build_tinytorch, get_model_spec
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import BatchNorm2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import cross_entropy


def test_data_parallel_shard_slice_examples():
    assert [shard_slice(10, r, 3) for r in range(3)] == [slice(0, 4), slice(4, 7), slice(7, 10)]
    assert [shard_slice(4, r, 2) for r in range(2)] == [slice(0, 2), slice(2, 4)]
    assert shard_slice(1, 1, 2) == slice(1, 1)  # an empty part
    with pytest.raises(ValueError):
        shard_slice(4, 2, 2)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(0, 200), size=st.integers(1, 9))
def test_data_parallel_shard_slice_covers_everything_once_and_is_balanced(n, size):
    parts = [shard_slice(n, r, size) for r in range(size)]
    assert parts[0].start == 0 and parts[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    lengths = [p.stop - p.start for p in parts]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)


def test_thread_group_collectives():
    def work(comm):
        buf = np.full(3, comm.rank + 1.0, dtype=np.float32)
        comm.allreduce_sum(buf)
        b = np.full(2, 10.0 * comm.rank)
        comm.broadcast(b, root=2)
        return buf.copy(), b.copy(), comm.allreduce_max(comm.rank * 1.5)
    results = ThreadGroup(3).run(work)
    for summed, bcast, top in results:
        np.testing.assert_array_equal(summed, [6, 6, 6])
        np.testing.assert_array_equal(bcast, [20, 20])
        assert top == 3.0
    with pytest.raises(ZeroDivisionError):
        ThreadGroup(2).run(lambda comm: 1 / 0 if comm.rank == 1 else comm.barrier())


def test_data_parallel_allreduce_gradients_weights_and_sums():
    def work(comm):
        a = Tensor(np.zeros((2, 2), np.float32), requires_grad=True)
        b = Tensor(np.zeros(3, np.float32), requires_grad=True)
        a.grad = Tensor(np.full((2, 2), comm.rank + 1.0, np.float32))
        b.grad = None if comm.rank == 0 else Tensor(np.array([3.0, 6.0, 9.0], np.float32))
        weight = [0.25, 0.75][comm.rank]
        allreduce_gradients([a, b], comm, weight)
        return a.grad.data.copy(), b.grad.data.copy()
    for ga, gb in ThreadGroup(2).run(work):
        np.testing.assert_allclose(ga, np.full((2, 2), 0.25 * 1 + 0.75 * 2))
        np.testing.assert_allclose(gb, [2.25, 4.5, 6.75])  # rank 0 had no gradient: zeros


def test_data_parallel_allreduce_default_weight_averages():
    def work(comm):
        p = Tensor(np.zeros(4, np.float32), requires_grad=True)
        p.grad = Tensor(np.arange(4, dtype=np.float32) * (comm.rank + 1))
        bucket = allreduce_gradients([p], comm)
        assert bucket.dtype == np.float32 and bucket.size == 4
        return p.grad.data.copy()
    for g in ThreadGroup(2).run(work):
        np.testing.assert_allclose(g, np.arange(4) * 1.5)


def test_broadcast_state_makes_the_copies_equal():
    # built before the threads start: the weights come from one global (seeded) generator
    models = [build_tinytorch(get_model_spec("mlp"), seed=r) for r in range(2)]
    reference = models[0].state_dict()
    assert not np.array_equal(models[1].state_dict()["0.weight"], reference["0.weight"])

    def work(comm):
        model = models[comm.rank]
        broadcast_state(model, comm)
        return model.state_dict()
    states = ThreadGroup(2).run(work)
    for state in states:
        for k, v in reference.items():
            np.testing.assert_array_equal(state[k], v)


def _single_process_weights(model_name: str, batches: list, lr: float = 0.05) -> dict:
    model = build_tinytorch(get_model_spec(model_name), seed=0)
    opt = SGD(model.parameters(), lr=lr, momentum=0.9)
    dp = DataParallel(model, opt, cross_entropy, SingleProcess())
    losses = [dp.step(x, y) for x, y in batches]
    return model.state_dict(), losses


@pytest.mark.parametrize("model_name,global_batch", [("mlp", 8), ("cnn", 6), ("mlp", 7)])
def test_data_parallel_allreduce_two_ranks_train_like_one_process_on_the_global_batch(model_name, global_batch):
    spec = get_model_spec(model_name)
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((global_batch, *spec.input_shape), dtype=np.float32),
                rng.integers(0, 10, global_batch)) for _ in range(3)]
    reference, ref_losses = _single_process_weights(model_name, batches)

    models = [build_tinytorch(spec, seed=10 + r) for r in range(2)]  # differ until the broadcast
    models[0].load_state_dict(build_tinytorch(spec, seed=0).state_dict())  # rank 0: the reference's

    def work(comm):
        model = models[comm.rank]
        dp = DataParallel(model, SGD(model.parameters(), lr=0.05, momentum=0.9), cross_entropy, comm)
        losses = [dp.step(Tensor(x), y) for x, y in batches]
        return model.state_dict(), losses
    (w0, l0), (w1, l1) = ThreadGroup(2).run(work)
    for k in reference:
        np.testing.assert_array_equal(w0[k], w1[k])  # the ranks agree exactly
        np.testing.assert_allclose(w0[k], reference[k], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(l0, ref_losses, rtol=1e-5)
    assert l0 == l1


def test_average_buffers():
    def work(comm):
        bn = BatchNorm2d(2)
        bn.running_mean.data[...] = comm.rank * 2.0
        average_buffers(bn, comm)
        return bn.running_mean.data.copy(), int(bn.num_batches_tracked.data)
    for mean, count in ThreadGroup(2).run(work):
        np.testing.assert_allclose(mean, [1.0, 1.0])
        assert count == 0  # integers are left alone


def test_data_parallel_shard_slice_global_batches_are_sharded_consistently(tiny_cifar):
    whole = list(global_batches("cifar10", 3, 8, 0, (3, 32, 32), 0, 1, tiny_cifar))
    halves = [list(global_batches("cifar10", 3, 8, 0, (3, 32, 32), r, 2, tiny_cifar)) for r in range(2)]
    for step in range(3):
        x = np.concatenate([halves[0][step][0].data, halves[1][step][0].data])
        y = np.concatenate([halves[0][step][1].data, halves[1][step][1].data])
        np.testing.assert_array_equal(np.sort(y), np.sort(whole[step][1].data))
        assert x.shape == (8, 3, 32, 32)
    syn = list(global_batches("synthetic", 2, 4, 1, (784,), 1, 2))
    assert syn[0][0].shape == (2, 784)
    with pytest.raises(ValueError):
        list(global_batches("imagenet", 1, 4, 0, (3,), 0, 1))


def test_train_single_process():
    result = train(SingleProcess(), "mlp", "synthetic", steps=3, warmup=1, global_batch=16)
    assert result["ranks"] == 1 and len(result["losses"]) == 4
    assert result["cpu_seconds"] > 0 and result["images_per_cpu_s"] > 0
    assert 0 <= result["comm_seconds"] <= result["seconds"]
    assert all(np.isfinite(result["losses"])) and result["images_per_s"] > 0
    assert get_communicator("single").size == 1
    with pytest.raises(ValueError):
        get_communicator("carrier pigeon")


def test_mpiexec_command(tmp_path, monkeypatch):
    fake = tmp_path / "mpiexec"
    fake.write_text("#!/bin/sh\necho 'mpiexec (OpenRTE) 4.1.4'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    cmd = mpiexec_command(2, ["--steps", "3"], python="py", mpiexec=str(fake))
    assert cmd[:3] == [str(fake), "-n", "2"]
    assert "--oversubscribe" in cmd and cmd[-5:] == ["py", "-m", "tinytorch.capstone.distributed.train",
                                                      "--steps", "3"]
    assert ("--allow-run-as-root" in cmd) == (os.geteuid() == 0)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="openmpi"):
        mpiexec_command(2, [])


def test_scaling_table_and_markdown():
    runs = [{"ranks": k, "images_per_s": ips, "images_per_cpu_s": cpu, "comm_seconds": comm,
             "seconds": 10.0, "load_before": [1.0, 1.0, 1.0]}
            for k, ips, cpu, comm in [(1, 100.0, 110.0, 0.1), (2, 150.0, 90.0, 1.0),
                                      (1, 80.0, 100.0, 0.1), (2, 190.0, 99.0, 1.2),
                                      (1, 90.0, 105.0, 0.1), (2, 170.0, 95.0, 2.0)]]
    table = scaling_table(runs, (1, 2))
    one, two = table
    assert one["speedup"] == 1.0 and one["median_images_per_s"] == 90.0
    assert two["images_per_s"] == 190.0 and two["speedup"] == pytest.approx(1.9)
    assert two["efficiency"] == pytest.approx(0.95)
    assert two["median_speedup"] == pytest.approx(170 / 90)
    assert two["cpu_efficiency"] == pytest.approx(0.9) and two["comm_fraction"] == pytest.approx(0.12)
    result = {"model": "cnn", "data": "cifar10", "global_batch": 128, "steps": 20,
              "threads_per_rank": 1, "cpus": 2, "repeats": 3, "runs": runs, "scaling": table}
    text = scaling_markdown(result)
    assert "| 2 | 190.0 | 170.0 | 150.0, 190.0, 170.0 | 1.90x / 1.89x | 95% / 94% | 99.0 | 90% | 12% |" in text

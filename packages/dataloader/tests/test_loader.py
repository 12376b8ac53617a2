"""DataLoader semantics: batch sizes, drop_last, reproducible shuffling, collate, fast path, prefetch."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.dataloader import (
    CIFAR10,
    Compose,
    DataLoader,
    Dataset,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    ToTensor,
    default_collate,
)
from tinytorch.core.tensor import Tensor


class Range(Dataset):
    """Sample i is (float vector [i, i], label i); no get_batch, so the per-sample path runs."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        self.calls += 1
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.array([i, i], dtype=np.float64), i


class PerSample(Dataset):
    """Hides a dataset's get_batch, forcing the loader to call ds[i] one at a time."""

    def __init__(self, ds) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        return self.ds[i]


def labels_of(loader) -> list:
    return [y.numpy().tolist() for _, y in loader]


# ------------------------------------------------------------------ sizes and order

@pytest.mark.parametrize("n,bs,drop,expected", [
    (10, 4, False, [4, 4, 2]),
    (10, 4, True, [4, 4]),
    (12, 4, False, [4, 4, 4]),
    (12, 4, True, [4, 4, 4]),
    (3, 5, False, [3]),
    (3, 5, True, []),
    (7, 1, False, [1] * 7),
])
def test_batch_plan_sizes_and_len(n, bs, drop, expected):
    for ds in (Range(n), TensorDataset(np.arange(n, dtype=np.float32), np.arange(n))):
        loader = DataLoader(ds, batch_size=bs, drop_last=drop)
        sizes = [len(y) for _, y in loader]
        assert sizes == expected
        assert len(loader) == len(expected)


def test_batch_plan_without_shuffle_keeps_dataset_order():
    loader = DataLoader(Range(10), batch_size=3)
    assert sum(labels_of(loader), []) == list(range(10))
    assert [b.tolist() for b in loader.batch_indices()] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


@given(n=st.integers(1, 60), bs=st.integers(1, 17), drop=st.booleans(), seed=st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_batch_plan_has_every_index_exactly_once_per_epoch(n, bs, drop, seed):
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=bs, shuffle=True, drop_last=drop, seed=seed)
    for _ in range(2):
        seen = np.concatenate([b[0].numpy() for b in loader] or [np.zeros(0, np.int64)])
        if drop:
            assert len(seen) == (n // bs) * bs
            assert len(np.unique(seen)) == len(seen)  # no repeats; the dropped ones are the tail
        else:
            assert sorted(seen.tolist()) == list(range(n))


def test_batch_plan_shuffle_is_reproducible_and_reshuffles_each_epoch():
    def epochs(seed, count=3):
        loader = DataLoader(Range(50), batch_size=8, shuffle=True, seed=seed)
        return [sum(labels_of(loader), []) for _ in range(count)]

    a, b = epochs(123), epochs(123)
    assert a == b  # same seed: the same sequence of epochs
    assert a[0] != a[1] and a[1] != a[2]  # each epoch is a fresh permutation
    assert sorted(a[0]) == list(range(50)) and a[0] != list(range(50))
    assert epochs(124)[0] != a[0]  # another seed, another order


def test_batch_plan_set_epoch_replays_a_given_epoch():
    loader = DataLoader(Range(30), batch_size=4, shuffle=True, seed=7)
    first = [labels_of(loader) for _ in range(3)]
    loader.set_epoch(1)
    assert labels_of(loader) == first[1]
    assert loader.epoch == 2


def test_batch_plan_seed_none_still_shuffles_differently_each_epoch():
    loader = DataLoader(Range(40), batch_size=40, shuffle=True)
    e0, e1 = labels_of(loader), labels_of(loader)
    assert sorted(e0[0]) == list(range(40)) and e0 != e1


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(Range(3), batch_size=0)
    with pytest.raises(ValueError, match="prefetch"):
        DataLoader(Range(3), prefetch=-1)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(Range(3), seed=-5)
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(object())


# ------------------------------------------------------------------ collate

def test_collate_stacks_images_and_labels_as_tensors():
    samples = [(np.full((3, 4, 4), i, dtype=np.float64), i) for i in range(5)]
    x, y = default_collate(samples)
    assert isinstance(x, Tensor) and isinstance(y, Tensor)
    assert x.shape == (5, 3, 4, 4) and x.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64
    assert y.numpy().tolist() == [0, 1, 2, 3, 4]
    assert x.numpy()[3].min() == 3 and x.numpy()[3].max() == 3


def test_collate_field_kinds():
    ints32 = [(np.int32(7), np.uint8(200), True, Tensor([1.0, 2.0]))] * 2
    a, b, c, d = default_collate(ints32)
    assert a.dtype == np.int64 and b.dtype == np.uint8 and c.dtype == np.bool_
    assert d.dtype == np.float32 and d.shape == (2, 2)
    single = default_collate([np.ones(3), np.zeros(3)])
    assert isinstance(single, Tensor) and single.shape == (2, 3)
    as_dict = default_collate([{"x": np.ones(2), "y": 1}, {"x": np.zeros(2), "y": 0}])
    assert as_dict["x"].shape == (2, 2) and as_dict["y"].numpy().tolist() == [1, 0]


def test_collate_errors_name_the_problem():
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.ones(3), np.ones(4)])
    with pytest.raises(ValueError, match="fields"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


def test_loader_batches_are_float32_images_and_int64_labels(cifar_root):
    ds = CIFAR10(cifar_root, train=True, transform=ToTensor())
    x, y = next(iter(DataLoader(ds, batch_size=8)))
    assert x.shape == (8, 3, 32, 32) and x.dtype == np.float32
    assert y.shape == (8,) and y.dtype == np.int64
    np.testing.assert_allclose(x.numpy(), ds.data[:8] / np.float32(255), rtol=1e-6)
    assert y.numpy().tolist() == ds.targets[:8].tolist()


# ------------------------------------------------------------------ the get_batch fast path

class Counting(TensorDataset):
    def __init__(self, *arrays):
        super().__init__(*arrays)
        self.batch_calls = 0

    def __getitem__(self, i):
        raise AssertionError("the loader should use get_batch, not ds[i]")

    def get_batch(self, indices):
        self.batch_calls += 1
        return super().get_batch(indices)


def test_fast_path_gathers_whole_batches():
    ds = Counting(np.arange(20, dtype=np.float32), np.arange(20))
    loader = DataLoader(ds, batch_size=6, shuffle=True, seed=0)
    assert loader.uses_fast_path
    ys = labels_of(loader)
    assert ds.batch_calls == 4 and sorted(sum(ys, [])) == list(range(20))
    # a custom collate_fn means samples are needed one by one
    assert not DataLoader(ds, collate_fn=default_collate).uses_fast_path


def test_fast_and_per_sample_paths_give_identical_batches(cifar_root):
    def pipeline():
        return Compose([RandomCrop(32, padding=4, seed=3), RandomHorizontalFlip(seed=4), ToTensor(),
                        Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))])

    fast_ds = CIFAR10(cifar_root, transform=pipeline())
    slow_ds = PerSample(CIFAR10(cifar_root, transform=pipeline()))
    fast = DataLoader(fast_ds, batch_size=7, shuffle=True, seed=11)
    slow = DataLoader(slow_ds, batch_size=7, shuffle=True, seed=11)
    assert fast.uses_fast_path and not slow.uses_fast_path
    for _ in range(2):
        for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
            np.testing.assert_array_equal(yf.numpy(), ys.numpy())
            np.testing.assert_allclose(xf.numpy(), xs.numpy(), rtol=1e-6, atol=1e-6)


def test_loader_transform_is_applied_to_whole_batches():
    images = np.arange(4 * 1 * 2 * 3, dtype=np.uint8).reshape(4, 1, 2, 3)
    loader = DataLoader(TensorDataset(images, np.arange(4)), batch_size=2,
                        transform=Compose([ToTensor(), RandomHorizontalFlip(p=1.0)]))
    x, y = next(iter(loader))
    assert x.dtype == np.float32 and x.shape == (2, 1, 2, 3)
    np.testing.assert_allclose(x.numpy(), images[:2, ..., ::-1] / np.float32(255), rtol=1e-6)
    assert y.numpy().tolist() == [0, 1]


# ------------------------------------------------------------------ prefetch thread

def prefetch_threads() -> list:
    return [t for t in threading.enumerate() if t.name == "tinytorch-prefetch" and t.is_alive()]


def test_prefetch_gives_identical_batches(cifar_root):
    def make(prefetch):
        aug = Compose([RandomCrop(32, padding=4, seed=1), RandomHorizontalFlip(seed=2), ToTensor()])
        return DataLoader(CIFAR10(cifar_root, transform=aug), batch_size=5, shuffle=True, seed=9,
                          prefetch=prefetch)

    plain, pre = make(0), make(3)
    for _ in range(3):
        a, b = list(plain), list(pre)
        assert len(a) == len(b) == len(plain)
        for (xa, ya), (xb, yb) in zip(a, b):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert not prefetch_threads()


class FailsAt(Range):
    def __getitem__(self, i):
        if i == 13:
            raise KeyError(f"corrupt sample {i}")
        return super().__getitem__(i)


@pytest.mark.parametrize("prefetch", [0, 1, 4])
def test_errors_in_the_dataset_reach_the_training_loop(prefetch):
    loader = DataLoader(FailsAt(40), batch_size=5, prefetch=prefetch)
    got = []
    with pytest.raises(KeyError, match="corrupt sample 13"):
        for _, y in loader:
            got.append(y.numpy().tolist())
    assert got == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]  # the batches before the bad one arrived
    gc.collect()
    assert not prefetch_threads()


def test_breaking_out_early_stops_the_thread():
    ds = Range(10_000)
    it = iter(DataLoader(ds, batch_size=10, prefetch=2))
    next(it)
    assert it.alive
    it.close()
    assert not it.alive
    calls = ds.calls
    time.sleep(0.2)
    assert ds.calls == calls  # nothing is fetched after close()

    for i, _ in enumerate(DataLoader(ds, batch_size=10, prefetch=2)):
        if i == 3:
            break
    gc.collect()  # the abandoned iterator is finalised, which closes it
    assert not prefetch_threads()


def test_prefetch_queue_is_bounded():
    ds = Range(1000)
    it = iter(DataLoader(ds, batch_size=1, prefetch=2))
    next(it)
    time.sleep(0.3)  # give the producer every chance to run ahead
    # one batch consumed, at most 2 waiting in the queue, 1 made and blocked on the full queue
    assert ds.calls <= 4
    it.close()

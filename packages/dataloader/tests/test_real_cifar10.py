"""The real CIFAR-10, when it is prepared in $TINYTORCH_DATA (CI always prepares it).

Prepare it once (about 30 s, needs Pillow):

    pip install pillow
    python ../shared/data/cifar10/make_cifar10.py $TINYTORCH_DATA      # from the repository root

When it is not prepared this test FAILS, saying how to prepare it, so a missing dataset can
never pass for a working loader. On a laptop without the data, opt out explicitly with
TINYTORCH_SKIP_REAL_DATA=1.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tinytorch.core.dataloader import (
    CIFAR10,
    CIFAR10_MEAN,
    CIFAR10_STD,
    Compose,
    DataLoader,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToTensor,
    data_root,
)

FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
         "test_batch", "batches.meta")


@pytest.fixture(scope="module")
def real_root():
    root = data_root()
    folder = root / "cifar-10-batches-py"
    missing = [f for f in FILES if not (folder / f).is_file()]
    if not missing:
        return root
    message = (
        f"the real CIFAR-10 is not prepared: {folder} lacks {', '.join(missing)}.\n"
        "Prepare it once (about 30 s; needs Pillow: pip install pillow), from the repository root:\n"
        f"    python ../shared/data/cifar10/make_cifar10.py {os.environ.get('TINYTORCH_DATA') or root}\n"
        "(i.e. python ../shared/data/cifar10/make_cifar10.py $TINYTORCH_DATA; CI does exactly that), or "
        "point TINYTORCH_DATA at a folder that holds cifar-10-batches-py/.\n"
        "No data on this machine? Set TINYTORCH_SKIP_REAL_DATA=1 to skip this test explicitly."
    )
    if os.environ.get("TINYTORCH_SKIP_REAL_DATA", "").strip() not in ("", "0"):
        pytest.skip("TINYTORCH_SKIP_REAL_DATA is set; " + message.splitlines()[0])
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def train(real_root):
    return CIFAR10(real_root, train=True)


def test_real_cifar10_sizes_classes_and_statistics(real_root, train):
    test = CIFAR10(real_root, train=False)
    assert train.data.shape == (50_000, 3, 32, 32) and train.data.dtype == np.uint8
    assert test.data.shape == (10_000, 3, 32, 32)
    assert np.bincount(train.targets, minlength=10).tolist() == [5_000] * 10
    assert np.bincount(test.targets, minlength=10).tolist() == [1_000] * 10
    assert train.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                             "horse", "ship", "truck"]
    # per-channel means over [0, 1] (in chunks: float64 accumulation without a 600 MB copy)
    sums = np.zeros(3)
    for start in range(0, 50_000, 10_000):
        sums += train.data[start:start + 10_000].sum(axis=(0, 2, 3), dtype=np.float64)
    means = sums / (50_000 * 32 * 32 * 255)
    np.testing.assert_allclose(means, [0.491, 0.482, 0.447], atol=0.002)
    # a real photo is not constant and images differ from each other
    assert train.data[0].std() > 5 and not np.array_equal(train.data[0], train.data[1])


def test_real_cifar10_one_augmented_epoch(train):
    train.transform = Compose([RandomCrop(32, padding=4, seed=0), RandomHorizontalFlip(seed=1),
                               ToTensor(), Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    try:
        loader = DataLoader(train, batch_size=500, shuffle=True, seed=0, prefetch=2)
        counts = np.zeros(10, np.int64)
        channel_sum = np.zeros(3)
        for x, y in loader:
            assert x.shape == (500, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
            counts += np.bincount(y.numpy(), minlength=10)
            channel_sum += x.numpy().mean(axis=(0, 2, 3))
        assert counts.tolist() == [5_000] * 10  # every image exactly once
        # normalised with the dataset's own statistics: channel means near 0 (padding pulls them
        # slightly below: the zero border is (0 - mean) / std after Normalize)
        means = channel_sum / len(loader)
        assert np.all(np.abs(means) < 0.35), means
    finally:
        train.transform = None

"""Alternating flips (each image mirrored in every other epoch) and reflect-padded shifts."""

import numpy as np
import pytest

from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.dataloader.alternating import (AlternatingFlipLoader, RandomTranslate,
                                                   alternating_flips)


def _dataset(n=40, w=5):
    rng = np.random.default_rng(0)
    return TensorDataset(rng.standard_normal((n, 2, 3, w)).astype(np.float32), np.arange(n))


def _epoch(loader):
    """{dataset index: image} for one epoch."""
    return {int(i): x for xb, yb in loader for x, i in zip(xb.data, yb.data)}


@pytest.mark.parametrize("prefetch", [0, 2])
def test_alternating_flips_show_every_image_both_ways_every_two_epochs(prefetch):
    ds = _dataset()
    loader = AlternatingFlipLoader(ds, flip_seed=3, batch_size=8, shuffle=True, seed=1,
                                   prefetch=prefetch)
    images = np.stack([np.asarray(ds[i][0]) for i in range(40)]).copy()
    epochs = [_epoch(loader) for _ in range(4)]
    coins = loader.base_flips
    assert 10 < coins.sum() < 30  # about half the images start mirrored
    for e, seen in enumerate(epochs):
        assert sorted(seen) == list(range(40))
        for i, x in seen.items():
            mirrored = coins[i] ^ (e % 2 == 1)
            want = images[i][..., ::-1] if mirrored else images[i]
            np.testing.assert_array_equal(x, want)
    for i in range(40):  # epochs 0 and 1: once each way; epochs 2, 3 repeat 0, 1
        np.testing.assert_array_equal(epochs[0][i][..., ::-1], epochs[1][i])
        np.testing.assert_array_equal(epochs[0][i], epochs[2][i])
    # the batches are the plain loader's, with the same seed, apart from the flips
    plain = DataLoader(ds, batch_size=8, shuffle=True, seed=1)
    for (a, ya), (b, yb) in zip(plain, AlternatingFlipLoader(ds, flip_seed=3, batch_size=8,
                                                              shuffle=True, seed=1)):
        np.testing.assert_array_equal(ya.data, yb.data)
    assert np.array_equal(images, np.stack([np.asarray(ds[i][0]) for i in range(40)]))  # untouched


def test_alternating_flips_rule():
    base = np.array([True, False, False, True])
    assert alternating_flips(base, np.array([0, 1, 3]), 0).tolist() == [True, False, True]
    assert alternating_flips(base, np.array([0, 1, 3]), 5).tolist() == [False, True, False]


def test_random_translate_reflects_the_border():
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5)
    t = RandomTranslate(5, padding=2, seed=0)
    padded = t._pad(x)
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (2, 2), (2, 2)), mode="reflect"))
    batch = np.stack([x] * 300)
    out = RandomTranslate(5, padding=2, seed=1).apply_batch(batch)
    # every output is a 5x5 window of the reflected image, shifted by -2..2 in each axis
    shifts = set()
    for img in out:
        hits = [(dy, dx) for dy in range(5) for dx in range(5)
                if np.array_equal(padded[:, dy:dy + 5, dx:dx + 5], img)]
        assert hits
        shifts.add(hits[0])
    assert len(shifts) == 25  # all 25 shifts occur
    # one sample at a time gives what the batch gives, draw for draw
    one = RandomTranslate(5, padding=2, seed=1)
    np.testing.assert_array_equal(np.stack([one(img) for img in batch[:20]]), out[:20])
    with pytest.raises(ValueError, match="padding 5 must be smaller than the image"):
        RandomTranslate(5, padding=5)(x)

"""DataLoader.state_dict / load_state_dict: a resumed loader replays shuffles and augmentations."""

import numpy as np

from tinytorch.core.dataloader import (Compose, DataLoader, RandomCrop, RandomHorizontalFlip,
                                       TensorDataset)


def _loader(seed=3):
    images = np.arange(40 * 1 * 6 * 6, dtype=np.float32).reshape(40, 1, 6, 6)
    ds = TensorDataset(images, np.arange(40))
    tf = Compose([RandomCrop(6, padding=2, seed=seed), RandomHorizontalFlip(seed=seed + 1)])
    return DataLoader(ds, batch_size=8, shuffle=True, seed=seed, transform=tf)


def _epoch(loader):
    return [(x.data.copy(), y.data.copy()) for x, y in loader]


def test_state_round_trip_replays_the_next_epoch():
    a = _loader()
    _epoch(a)  # epoch 0
    state = a.state_dict()
    expected = _epoch(a)  # epoch 1, from that state
    b = _loader()
    b.load_state_dict(state)
    got = _epoch(b)
    assert state["epoch"] == 1 and len(state["transforms"]) == 2
    for (xe, ye), (xg, yg) in zip(expected, got):
        np.testing.assert_array_equal(xe, xg)
        np.testing.assert_array_equal(ye, yg)


def test_fresh_loader_differs_from_resumed_one():
    a = _loader()
    _epoch(a)
    state = a.state_dict()
    resumed = _loader()
    resumed.load_state_dict(state)
    fresh = _loader()  # still at epoch 0: different shuffle and augmentation
    assert not all(np.array_equal(x1, x2) for (x1, _), (x2, _) in zip(_epoch(resumed), _epoch(fresh)))


def test_load_state_dict_checks_the_transform_count():
    state = _loader().state_dict()
    plain = DataLoader(TensorDataset(np.zeros((4, 2), np.float32)), batch_size=2)
    try:
        plain.load_state_dict(state)
    except ValueError as err:
        assert "random transforms" in str(err)
    else:
        raise AssertionError("expected a ValueError")

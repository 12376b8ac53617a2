"""Transforms: shapes, values, batch vs per-sample equivalence, crop and flip checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.dataloader import (
    Compose,
    Lambda,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToTensor,
    apply_batch,
)
from tinytorch.core.tensor import Tensor


def images(n=None, c=3, h=6, w=5, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    shape = (c, h, w) if n is None else (n, c, h, w)
    return rng.integers(0, 256, shape).astype(dtype)


def per_sample(transform, batch):
    outs = [transform(x) for x in batch]
    return np.stack([o.numpy() if isinstance(o, Tensor) else o for o in outs])


def arr(x):
    return x.numpy() if isinstance(x, Tensor) else x


# ------------------------------------------------------------------ ToTensor

def test_to_tensor_scales_uint8_and_moves_channels_first():
    hwc = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    out = ToTensor()(hwc)
    assert isinstance(out, Tensor) and out.dtype == np.float32 and out.shape == (3, 4, 5)
    for c in range(3):
        for y in range(4):
            for x in range(5):
                assert out.numpy()[c, y, x] == pytest.approx(hwc[y, x, c] / 255.0, rel=1e-6)
    assert out.numpy().min() >= 0 and out.numpy().max() <= 1


def test_to_tensor_accepts_chw_hw_and_explicit_layouts():
    chw = images()
    np.testing.assert_allclose(ToTensor()(chw).numpy(), chw / 255.0, rtol=1e-6)
    gray = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    out = ToTensor()(gray)
    assert out.shape == (1, 2, 2)
    np.testing.assert_allclose(out.numpy()[0], [[0, 1], [0.2, 0.4]], rtol=1e-6)
    # a 3x3x3 image is ambiguous; the layout argument decides
    cube = np.arange(27, dtype=np.uint8).reshape(3, 3, 3)
    np.testing.assert_allclose(ToTensor(layout="HWC")(cube).numpy(), cube.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(ToTensor(layout="CHW")(cube).numpy(), cube / 255.0, rtol=1e-6)
    floats = np.full((1, 2, 2), 3.5, dtype=np.float64)
    assert ToTensor()(floats).numpy().tolist() == [[[3.5, 3.5], [3.5, 3.5]]]  # floats are not rescaled
    with pytest.raises(ValueError, match="ToTensor"):
        ToTensor()(np.zeros(5, np.uint8))


def test_to_tensor_batch_layouts_match_per_sample():
    nhwc = np.random.default_rng(1).integers(0, 256, (4, 6, 5, 3)).astype(np.uint8)
    out = ToTensor().apply_batch(nhwc)
    assert out.shape == (4, 3, 6, 5) and out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), per_sample(ToTensor(), nhwc))
    nchw = images(4)
    np.testing.assert_array_equal(ToTensor().apply_batch(nchw).numpy(), per_sample(ToTensor(), nchw))
    nhw = nchw[:, 0]
    out = ToTensor().apply_batch(nhw)
    assert out.shape == (4, 1, 6, 5)
    np.testing.assert_allclose(out.numpy()[:, 0], nhw / 255.0, rtol=1e-6)


# ------------------------------------------------------------------ Normalize

def test_normalize_per_channel_by_hand():
    x = np.stack([np.full((2, 2), v, np.float32) for v in (0.5, 0.25, 1.0)])
    out = Normalize((0.5, 0.0, 0.5), (0.25, 0.5, 2.0))(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], 0.0)
    np.testing.assert_allclose(out[1], 0.5)
    np.testing.assert_allclose(out[2], 0.25)
    assert x[0, 0, 0] == 0.5  # the input is untouched


def test_normalize_tensor_in_tensor_out_and_batch_equivalence():
    x = ToTensor().apply_batch(images(5))
    norm = Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    out = norm.apply_batch(x)
    assert isinstance(out, Tensor) and out.shape == (5, 3, 6, 5) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), per_sample(norm, x.numpy()), rtol=1e-6, atol=1e-6)
    mean = np.array([0.4914, 0.4822, 0.4465]).reshape(1, 3, 1, 1)
    std = np.array([0.2470, 0.2435, 0.2616]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out.numpy(), (x.numpy() - mean) / std, rtol=1e-5, atol=1e-5)


def test_normalize_single_channel_and_errors():
    gray = np.full((4, 4), 0.75, np.float32)
    np.testing.assert_allclose(Normalize(0.25, 0.5)(gray), 1.0)
    np.testing.assert_allclose(Normalize((0.25,), (0.5,)).apply_batch(np.stack([gray, gray])), 1.0)
    with pytest.raises(ValueError, match="3 channel"):
        Normalize((0.1, 0.2), (1, 1))(np.zeros((3, 2, 2), np.float32))
    with pytest.raises(ValueError, match="positive"):
        Normalize((0.1,), (0.0,))
    with pytest.raises(TypeError, match="ToTensor"):
        Normalize((0.1,), (1.0,))(np.zeros((1, 2, 2), np.uint8))


# ------------------------------------------------------------------ RandomCrop

def expected_offsets(seed, ranges, n=None):
    rng = np.random.default_rng(seed)
    return rng.integers(0, ranges, size=2 if n is None else (n, 2))


def test_random_crop_by_hand():
    x = images(c=2, h=5, w=6, seed=3)
    crop = RandomCrop((4, 3), padding=2, fill=0, seed=42)
    out = crop(x)
    top, left = expected_offsets(42, (5 + 4 - 4 + 1, 6 + 4 - 3 + 1))
    padded = np.zeros((2, 9, 10), np.uint8)
    padded[:, 2:7, 2:8] = x
    np.testing.assert_array_equal(out, padded[:, top:top + 4, left:left + 3])
    assert out.dtype == np.uint8 and out.shape == (2, 4, 3)


def test_random_crop_is_some_window_of_the_padded_image():
    x = images(c=3, h=8, w=8, seed=5)
    padded = np.pad(x, ((0, 0), (3, 3), (3, 3)), constant_values=7)
    crop = RandomCrop(8, padding=3, fill=7, seed=0)
    seen = set()
    for _ in range(40):
        out = crop(x)
        hits = [(t, l) for t in range(7) for l in range(7)
                if np.array_equal(out, padded[:, t:t + 8, l:l + 8])]
        assert hits, "the crop is not a window of the padded image"
        seen.update(hits)
    assert len(seen) > 10  # the offsets really vary


def test_random_crop_without_padding_full_size_is_identity():
    x = images(seed=6)
    np.testing.assert_array_equal(RandomCrop((6, 5), seed=1)(x), x)
    np.testing.assert_array_equal(RandomCrop((6, 5), seed=1).apply_batch(images(3)), images(3))


def test_random_crop_batch_by_hand_and_equivalence():
    batch = images(6, c=3, h=7, w=7, seed=8)
    out = RandomCrop(5, padding=1, seed=21).apply_batch(batch)
    assert out.shape == (6, 3, 5, 5)
    offsets = expected_offsets(21, (7 + 2 - 5 + 1, 7 + 2 - 5 + 1), n=6)
    padded = np.pad(batch, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i, (t, l) in enumerate(offsets):
        np.testing.assert_array_equal(out[i], padded[i, :, t:t + 5, l:l + 5])
    np.testing.assert_array_equal(out, per_sample(RandomCrop(5, padding=1, seed=21), batch))


def test_random_crop_grayscale_batches_and_tensors():
    gray = images(4, h=6, w=6, seed=2)[:, 0]  # (N, H, W)
    out = RandomCrop(4, padding=2, seed=3).apply_batch(gray)
    assert out.shape == (4, 4, 4)
    np.testing.assert_array_equal(out, per_sample(RandomCrop(4, padding=2, seed=3), gray))
    t = ToTensor().apply_batch(images(2))
    out = RandomCrop(4, padding=1, seed=0).apply_batch(t)
    assert isinstance(out, Tensor) and out.shape == (2, 3, 4, 4) and out.dtype == np.float32
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop(10)(images())


# ------------------------------------------------------------------ RandomHorizontalFlip

def test_flip_by_hand():
    x = np.array([[[1, 2, 3], [4, 5, 6]]], dtype=np.uint8)  # (1, 2, 3)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), [[[3, 2, 1], [6, 5, 4]]])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x), x)
    batch = np.stack([x, x + 10])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0).apply_batch(batch), batch[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0).apply_batch(batch), batch)


def test_flip_batch_matches_per_sample_and_flips_about_half():
    batch = images(400, c=2, h=3, w=4, seed=9)
    out = RandomHorizontalFlip(p=0.5, seed=5).apply_batch(batch)
    np.testing.assert_array_equal(out, per_sample(RandomHorizontalFlip(p=0.5, seed=5), batch))
    flipped = np.array([np.array_equal(o, b[..., ::-1]) for o, b in zip(out, batch)])
    kept = np.array([np.array_equal(o, b) for o, b in zip(out, batch)])
    assert np.all(flipped | kept)
    expected = np.random.default_rng(5).random(400) < 0.5
    np.testing.assert_array_equal(flipped, expected)
    assert 150 < flipped.sum() < 250


def test_transforms_do_not_modify_their_input():
    batch = images(8, seed=4)
    before = batch.copy()
    Compose([RandomCrop(6, padding=2, seed=0), RandomHorizontalFlip(p=1.0, seed=0)]).apply_batch(batch)
    RandomHorizontalFlip(p=1.0)(batch[0])
    np.testing.assert_array_equal(batch, before)


# ------------------------------------------------------------------ Compose and friends

def test_compose_applies_in_order_on_samples_and_batches():
    t = Compose([Lambda(lambda x: x + 1), Lambda(lambda x: x * 10)])
    assert t(np.array([1, 2])).tolist() == [20, 30]
    assert t.apply_batch(np.array([[1], [2]])).tolist() == [[20], [30]]
    # a plain function inside Compose is applied sample by sample
    t2 = Compose([lambda x: x[::-1]])
    assert t2.apply_batch(np.array([[1, 2], [3, 4]])).tolist() == [[2, 1], [4, 3]]
    with pytest.raises(TypeError, match="not callable"):
        Compose([3])


def test_full_cifar_pipeline_batch_equals_per_sample():
    def pipe():
        return Compose([RandomCrop(32, padding=4, seed=10), RandomHorizontalFlip(seed=11), ToTensor(),
                        Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])
    batch = np.random.default_rng(0).integers(0, 256, (16, 3, 32, 32)).astype(np.uint8)
    out = pipe().apply_batch(batch)
    assert isinstance(out, Tensor) and out.shape == (16, 3, 32, 32) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), per_sample(pipe(), batch), rtol=1e-6, atol=1e-6)
    # reseeding restarts the stream
    p = pipe()
    first = arr(p.apply_batch(batch))
    p.transforms[0].reseed(10)
    p.transforms[1].reseed(11)
    np.testing.assert_array_equal(arr(p.apply_batch(batch)), first)


@given(n=st.integers(1, 6), c=st.sampled_from([1, 3]), h=st.integers(2, 9), w=st.integers(2, 9),
       pad=st.integers(0, 3), seed=st.integers(0, 10_000), p=st.floats(0, 1))
@settings(max_examples=60, deadline=None)
def test_batch_equals_per_sample_property(n, c, h, w, pad, seed, p):
    batch = np.random.default_rng(seed).integers(0, 256, (n, c, h, w)).astype(np.uint8)
    size = (max(1, h - 1), max(1, w - 2))
    for make in (lambda: RandomCrop(size, padding=pad, seed=seed),
                 lambda: RandomHorizontalFlip(p=p, seed=seed),
                 lambda: ToTensor(layout="CHW")):
        np.testing.assert_array_equal(arr(make().apply_batch(batch)), per_sample(make(), batch))


def test_apply_batch_helper_falls_back_to_a_loop():
    out = apply_batch(lambda x: x.sum(keepdims=True), np.arange(6).reshape(3, 2))
    assert out.tolist() == [[1], [5], [9]]

"""Normalisation and augmentation of image batches."""

import numpy as np
import pytest

from tinygrad_cnn.data import augment as A

X = np.random.default_rng(0).random((6, 3, 5, 7), dtype=np.float32)


def test_normalize_uses_each_channels_statistics():
    mean, std = A.channel_stats(X)
    assert mean.shape == std.shape == (3,) and mean.dtype == np.float32
    y = A.normalize(X, mean, std)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1, atol=1e-5)
    np.testing.assert_allclose(y[:, 1], (X[:, 1] - mean[1]) / std[1], rtol=1e-6)
    assert y.dtype == np.float32


@pytest.mark.parametrize(
    "mean, std, match",
    [([0.5], [1.0, 1.0, 1.0], "one value per channel"), ([0, 0, 0], [1, 0, 1], "std must be")],
)
def test_normalize_refuses_bad_statistics(mean, std, match):
    with pytest.raises(ValueError, match=f"normalize: .*{match}"):
        A.normalize(X, mean, std)


def test_random_crop_shifts_each_image_by_at_most_the_padding():
    rng = np.random.default_rng(1)
    x = np.arange(1, 1 + 4 * 1 * 6 * 6, dtype=np.float32).reshape(4, 1, 6, 6)
    y = A.random_crop(x, 2, rng)
    assert y.shape == x.shape
    for img, out in zip(x[:, 0], y[:, 0]):
        padded = np.pad(img, 2)
        hits = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if np.array_equal(padded[dy : dy + 6, dx : dx + 6], out)
        ]
        assert len(hits) == 1  # a window of the zero-padded image
    assert not all(np.array_equal(a, b) for a, b in zip(x, y))  # not all left in place


def test_hflip_mirrors_the_images_it_picks():
    y = A.hflip(X, np.random.default_rng(2), p=0.5)
    flipped = [np.array_equal(b, a[:, :, ::-1]) for a, b in zip(X, y)]
    kept = [np.array_equal(b, a) for a, b in zip(X, y)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    np.testing.assert_array_equal(A.hflip(X, np.random.default_rng(0), p=1.0), X[..., ::-1])
    np.testing.assert_array_equal(A.hflip(X, np.random.default_rng(0), p=0.0), X)


def test_augmentation_is_seeded_and_leaves_its_input_alone():
    before = X.copy()
    aug = A.Augment(padding=1, flip=True)
    a = aug(X, np.random.default_rng(5))
    b = aug(X, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(X, before)
    assert not np.array_equal(a, aug(X, np.random.default_rng(6)))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: A.random_crop(X[0], 1, np.random.default_rng()),
            ValueError,
            "random_crop: expected",
        ),
        (lambda: A.random_crop(X, -1, np.random.default_rng()), ValueError, "padding must be"),
        (lambda: A.random_crop(X, 1.5, np.random.default_rng()), ValueError, "padding must be"),
        (lambda: A.hflip(X, 0), TypeError, "hflip: rng must be a numpy.random.Generator"),
        (lambda: A.hflip(X, np.random.default_rng(), p=2), ValueError, "hflip: p"),
        (lambda: A.Augment(padding=-2), ValueError, "Augment: padding"),
    ],
)
def test_bad_arguments_are_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()

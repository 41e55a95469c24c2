"""Building blocks for op strategies: shapes, and float64 arrays kept away from kinks and ties.

An op's strategy draws an :class:`~tinygrad_cnn.testing.checks.OpCase`: its array inputs
(float64 for the differentiable ones) and keyword attributes, exactly as ``Op.forward`` receives
them. Strategies are valid by construction (shapes first, then everything derived from them);
those of non-smooth ops keep values away from kinks and ties, so finite differences mean
something. Needs ``hypothesis`` (the ``dev`` extra).
"""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def floats(shape, lo: float = -2.0, hi: float = 2.0):
    """float64 arrays of ``shape`` with values in ``[lo, hi]``."""
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False, width=64))


def away_from_zero(shape, lo: float = 0.1, hi: float = 2.0):
    """float64 arrays whose values have ``lo <= |x| <= hi``."""
    mag = st.floats(lo, hi, width=64)
    return hnp.arrays(np.float64, shape, elements=st.one_of(mag, mag.map(lambda x: -x)))


def on_grid(shape, offset: float = 0.0, step: float = 0.5, k: int = 6):
    """float64 arrays with values ``offset + step * j`` for integer ``|j| <= k``.

    Two grids with different offsets never meet, which keeps comparisons away from ties.
    """
    return hnp.arrays(
        np.float64, shape, elements=st.integers(-k, k).map(lambda j: offset + step * j)
    )


@st.composite
def distinct(draw, shape, step: float = 0.25):
    """float64 arrays of ``shape`` whose values are pairwise at least ``step`` apart."""
    n = int(np.prod(shape))
    perm = draw(st.permutations(range(n)))
    return (np.array(perm, dtype=np.float64).reshape(shape) - n / 2) * step


def broadcast_pair(min_dims: int = 0, max_dims: int = 3):
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=min_dims, max_dims=max_dims, max_side=4
    )


@st.composite
def axes(draw, ndim: int):
    """A normalized ``axis`` attribute: a sorted tuple of distinct dims (possibly all)."""
    if ndim == 0:
        return ()
    return tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1))))

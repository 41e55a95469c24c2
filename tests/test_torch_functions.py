"""PyTorch's pointwise, sorting, reduction and indexing functions (``sin``, ``sort``, ``topk``,
``cumsum``, ``prod``, ``flip``, ``tril``, ``index_select``, ``isclose``, ...), each written once
against ``m`` and compared with PyTorch: values, dtypes and gradients (the harness of
test_torch_api). The checks that need no torch are at the end."""

import numpy as np
import pytest

import tinygrad_cnn as tg

torch = pytest.importorskip("torch")
from tests.test_torch_api import _same  # noqa: E402

IDX = np.array([2, 0, 2], dtype=np.int64)

CASES = {
    "sin cos tan": (lambda m, x: (m.sin(x), x.cos(), m.tan(x * 0.5)), [(3, 4)]),
    "sinh cosh": (lambda m, x: (m.sinh(x), x.cosh()), [(3, 4)]),
    "log1p expm1": (lambda m, x: (m.log1p(x.abs()), x.expm1(), m.log1p(x * 1e-9)), [(3, 4)]),
    "log2 log10 exp2": (lambda m, x: (m.log2(x.abs() + 0.1), x.abs().log10(), m.exp2(x)), [(5,)]),
    "square rsqrt reciprocal": (
        lambda m, x: (m.square(x), m.rsqrt(x.abs() + 0.5), m.reciprocal(x.abs() + 0.5)),
        [(4,)],
    ),
    "floor ceil trunc round sign frac": (
        lambda m, x: (
            m.floor(x * 3),
            x.mul(3).ceil(),
            m.trunc(x * 3),
            (x * 3).round(),
            m.round(x, decimals=2),
            m.sign(x),
            m.frac(x * 3),
        ),
        [(4, 5)],
    ),  # fmt: skip
    "remainder fmod": (
        lambda m, a, b: (
            m.remainder(a * 5, b.abs() + 1),
            m.fmod(a * 5, b.abs() + 1),
            a.remainder(1.5),
        ),
        [(3, 4), (3, 4)],
    ),  # fmt: skip
    "div rounding_mode": (
        lambda m, a, b: (m.div(a * 5, b, rounding_mode="floor"), a.div(b, rounding_mode="trunc")),
        [(3, 4), (3, 4)],
    ),
    "lerp addcmul addcdiv": (
        lambda m, a, b, c: (
            m.lerp(a, b, 0.3),
            m.lerp(a, b, c),
            m.addcmul(a, b, c, value=0.5),
            a.addcdiv(b, c.abs() + 1, value=2),
        ),
        [(3,), (3,), (3,)],
    ),  # fmt: skip
    "logaddexp hypot": (lambda m, a, b: (m.logaddexp(a * 50, b), m.hypot(a, b)), [(4,), (4,)]),
    "clamp_min clamp_max": (lambda m, x: (m.clamp_min(x, 0.1), x.clamp_max(-0.2)), [(6,)]),
    "sort": (lambda m, x: m.sort(x, dim=1), [(3, 5)]),
    "sort descending dim 0": (lambda m, x: x.sort(0, descending=True), [(4, 3)]),
    "argsort msort": (
        lambda m, x: (m.argsort(x), x.argsort(dim=0, descending=True), m.msort(x)),
        [(3, 4)],
    ),
    "topk": (lambda m, x: m.topk(x, 2), [(3, 5)]),
    "topk smallest dim 0": (lambda m, x: x.topk(3, dim=0, largest=False), [(4, 2)]),
    "kthvalue": (
        lambda m, x: (*m.kthvalue(x, 2, 1), *x.kthvalue(3, dim=0, keepdim=True)),
        [(4, 5)],
    ),
    "median": (
        lambda m, x: (m.median(x), *x.median(dim=1), *m.median(x, 0, keepdim=True)),
        [(4, 5)],
    ),
    "cumsum": (lambda m, x: (m.cumsum(x, 1), x.cumsum(dim=0), x.cumsum(-1)), [(3, 4)]),
    "prod": (lambda m, x: (m.prod(x), x.prod(1), m.prod(x, 0, keepdim=True)), [(3, 4)]),
    "prod with zeros": (lambda m, x: (x * m.tensor([[0.0, 1, 1], [1, 0, 0]])).prod(1), [(2, 3)]),
    "nansum nanmean": (
        lambda m, x: (
            m.nansum(m.where(x > 0, x, m.tensor(float("nan")))),
            m.nanmean(m.where(x > 0, x, m.tensor(float("nan"))), dim=1),
        ),
        [(3, 4)],
    ),
    "var_mean std_mean": (
        lambda m, x: (*m.var_mean(x, 1), *m.std_mean(x, dim=0, correction=0)),
        [(3, 4)],
    ),
    "aminmax": (lambda m, x: (*m.aminmax(x), *x.aminmax(dim=1)), [(3, 4)]),
    "diff": (lambda m, x: (m.diff(x), x.diff(n=2, dim=0), m.diff(x, append=x[:, :1])), [(4, 5)]),
    "flip": (lambda m, x: (m.flip(x, (0, 2)), x.flip(1), m.fliplr(x[0]), m.flipud(x)), [(2, 3, 4)]),
    "roll": (lambda m, x: (m.roll(x, 1), x.roll((1, -2), (0, 1)), m.roll(x, 5, 1)), [(3, 4)]),
    "tril triu": (
        lambda m, x: (m.tril(x), x.triu(1), m.tril(x, -1), x.triu(diagonal=-2)),
        [(2, 4, 5)],
    ),
    "diag diagonal trace": (
        lambda m, x, v: (
            m.diag(x),
            x.diag(1),
            m.diag(v),
            m.diag(v, -2),
            m.diagonal(x, 1),
            m.trace(x),
        ),
        [(4, 5), (3,)],
    ),  # fmt: skip
    "diagonal dims": (lambda m, x: m.diagonal(x, -1, 0, 2), [(3, 2, 4)]),
    "narrow select unbind": (
        lambda m, x: (
            m.narrow(x, 1, 1, 2),
            x.narrow(-1, 0, 3),
            m.select(x, 0, -1),
            *m.unbind(x, 1),
        ),
        [(3, 4, 5)],
    ),
    "index_select": (
        lambda m, x: (m.index_select(x, 1, m.tensor(IDX)), x.index_select(0, m.tensor(IDX[:2]))),
        [(3, 4)],
    ),
    "masked_select": (lambda m, x: m.masked_select(x, x > 0), [(4, 5)]),
    "masked_select broadcast": (
        lambda m, x: x.masked_select(m.tensor([True, False, True])),
        [(2, 3)],
    ),
    "take take_along_dim": (
        lambda m, x: (
            m.take(x, m.tensor([[0, 5], [11, 3]])),
            m.take_along_dim(x, m.argsort(x, 1), 1),
        ),
        [(3, 4)],
    ),  # fmt: skip
    "movedim": (
        lambda m, x: (m.movedim(x, 0, -1), x.movedim((0, 1), (2, 0)), m.moveaxis(x, 1, 0)),
        [(2, 3, 4)],
    ),
    "tile": (lambda m, x: (m.tile(x, (2,)), x.tile((2, 1, 3))), [(2, 3)]),
    "repeat_interleave": (
        lambda m, x: (
            m.repeat_interleave(x, 2),
            x.repeat_interleave(3, dim=1),
            m.repeat_interleave(x, m.tensor([1, 0]), dim=0),
        ),
        [(2, 3)],
    ),  # fmt: skip
    "ravel unflatten": (lambda m, x: (m.ravel(x), x.unflatten(1, (2, -1))), [(3, 4)]),
    "tensor_split": (
        lambda m, x: (*m.tensor_split(x, 3, 1), *x.tensor_split((1, 4), dim=1)),
        [(2, 7)],
    ),
    "outer dot mv addmm dist": (
        lambda m, a, b, c: (
            m.outer(a, b),
            m.dot(a, b),
            m.mv(c, b),
            m.addmm(c, c, c.T[:, :3] * 0 + c[:3, :3].T, beta=0.5, alpha=2),
            m.dist(a, b),
            m.dist(a, b, 1),
        ),
        [(3,), (3,), (3, 3)],
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", CASES)
def test_same_as_pytorch(name):
    fn, shapes = CASES[name]
    _same(fn, shapes)


NO_GRAD = {
    "comparisons": lambda m, a, b: (
        m.eq(a, b),
        m.ne(a, 0),
        m.gt(a, b),
        m.ge(a, 0.1),
        m.lt(a, b),
        m.le(a, b),
        m.greater(a, b),
        m.less_equal(a, b),
        m.not_equal(a, b),
    ),  # fmt: skip
    "logical": lambda m, a, b: (
        m.logical_and(a > 0, b > 0),
        m.logical_or(a, b > 0),
        m.logical_xor(a > 0, b > 0),
        m.logical_not(a > 0),
    ),  # fmt: skip
    "predicates": lambda m, a, b: (
        m.isnan(a.log()),
        m.isinf(a / 0),
        m.isposinf(a / 0),
        m.isneginf(a / 0),
        m.isfinite(a.log()),
        m.signbit(a),
        m.isclose(a, a + 1e-7),
        m.isclose(a, b, 0.5, 0.5),
    ),  # fmt: skip
    "all any count_nonzero": lambda m, a, b: (
        m.all(a > -10),
        m.any(a > 10),
        (a > 0).all(1),
        m.any(a > 0, dim=0, keepdim=True),
        m.count_nonzero(a > 0),
        m.count_nonzero(a > 0, dim=1),
    ),  # fmt: skip
    "nonzero argwhere": lambda m, a, b: (
        m.nonzero(a > 0),
        m.argwhere(b > 0),
        *m.nonzero(a > 0, as_tuple=True),
    ),
    "unique": lambda m, a, b: (
        m.unique((a * 2).round()),
        *m.unique((b * 2).round(), return_inverse=True, return_counts=True),
    ),
    "bincount histc": lambda m, a, b: (
        m.bincount(m.tensor([0, 3, 3, 1])),
        m.bincount(m.tensor([0, 2]), weights=m.tensor([0.5, 1.5])),
        m.bincount(m.tensor([1]), minlength=4),
        m.histc(a, 4),
        m.histc(a, 5, -1, 1),
    ),  # fmt: skip
    "searchsorted bucketize": lambda m, a, b: (
        m.searchsorted(m.tensor([0.0, 1.0, 2.0]), m.tensor([0.5, 1.0, 3.0])),
        m.searchsorted(m.tensor([0.0, 1.0, 2.0]), m.tensor([1.0]), right=True),
        m.searchsorted(m.tensor([[0.0, 1.0], [2.0, 3.0]]), m.tensor([[0.5], [2.0]]), side="right"),
        m.bucketize(m.tensor([0.5, 1.0, 3.0]), m.tensor([0.0, 1.0, 2.0])),
        m.bucketize(m.tensor([1.0]), m.tensor([0.0, 1.0]), right=True, out_int32=True),
    ),  # fmt: skip
    "integer remainder and division": lambda m, a, b: (
        m.remainder(m.tensor([-7, 7, 5]), 3),
        m.fmod(m.tensor([-7, 7]), 3),
        m.floor_divide(m.tensor([-7, 7]), 2),
        m.div(m.tensor([-7, 7]), 2, rounding_mode="trunc"),
        m.div(m.tensor([-7, 7]), 2, rounding_mode="floor"),
        m.div(m.tensor([-7, 7]), 2),
        m.cumsum(m.tensor([1, 2, 3]), 0),
        m.prod(m.tensor([[1, 2], [3, 4]]), 1),
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", NO_GRAD)
def test_same_as_pytorch_without_gradients(name):
    with np.errstate(divide="ignore", invalid="ignore"):
        _same(NO_GRAD[name], [(3, 4), (3, 4)], grad=False)


def test_python_results_as_pytorch():
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    for m in (tg, torch):
        a = m.tensor(x)
        assert m.allclose(a, a + 1e-7) is True and m.allclose(a, a + 1) is False
        assert m.equal(a, a.clone()) is True and m.equal(a, a[:2]) is False
        assert a.allclose(a) and a.equal(a)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: tg.topk(tg.ones(3), 4), RuntimeError, r"topk: k \(4\) is out of range"),
        (lambda: tg.kthvalue(tg.ones(3), 0), RuntimeError, "kthvalue: k"),
        (
            lambda: tg.index_select(tg.ones(3), 0, tg.tensor([0.5])),
            TypeError,
            "index_select: index must be an integer",
        ),
        (
            lambda: tg.index_select(tg.ones(3), 0, tg.tensor([3])),
            IndexError,
            "index_select: index out of range",
        ),
        (
            lambda: tg.masked_select(tg.ones(3), tg.ones(3)),
            TypeError,
            "masked_select: mask must be a bool",
        ),
        (lambda: tg.flip(tg.ones(3), (0, 0)), RuntimeError, "flip: dims"),
        (lambda: tg.flip(tg.ones(3), 1), ValueError, "flip: axis 1 is out of range"),
        (lambda: tg.tril(tg.ones(3)), RuntimeError, "tril: input must have at least 2 dims"),
        (lambda: tg.dot(tg.ones(3), tg.ones(2)), RuntimeError, r"dot: expected two 1-D tensors"),
        (lambda: tg.narrow(tg.ones(3), 0, 2, 2), IndexError, "narrow: start 2 \\+ length 2"),
        (
            lambda: tg.bincount(tg.tensor([-1, 2])),
            RuntimeError,
            "bincount: input must be non-negative",
        ),
        (
            lambda: tg.remainder(tg.tensor([1]), tg.tensor([0])),
            RuntimeError,
            "remainder: integer division by zero",
        ),
        (
            lambda: tg.div(tg.ones(2), 2, rounding_mode="round"),
            ValueError,
            "div: rounding_mode must be one of",
        ),
        (lambda: tg.median(tg.ones(0)), RuntimeError, "median: cannot take the median of an empty"),
        (lambda: tg.roll(tg.ones(3, 2), (1, 2)), RuntimeError, "roll: without dims"),
        (lambda: tg.isclose(tg.ones(2), tg.ones(2), rtol=-1), ValueError, "isclose: rtol"),
    ],
)
def test_errors_name_the_function_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_rounding_has_zero_gradient_and_records():
    x = tg.tensor([0.3, 1.7, -2.5], requires_grad=True)
    tg.floor(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_sort_is_stable_and_its_gradient_goes_to_the_picked_elements():
    x = tg.tensor([2.0, 1.0, 2.0, 1.0], requires_grad=True)
    values, indices = tg.sort(x, descending=True)
    assert indices.tolist() == [0, 2, 1, 3]
    (values * tg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 3.0, 2.0, 4.0]


def test_cumsum_and_prod_second_derivatives():
    x = tg.tensor([[0.5, -1.5, 2.0]], dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(lambda t: tg.prod(t, 1), [x])
    assert tg.gradgradcheck(lambda t: tg.cumsum(t * t, 1), [x])
    assert tg.gradgradcheck(lambda t: tg.sin(t) * tg.cos(t), [x])

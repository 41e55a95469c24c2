"""Every branch of the conv and pool kernels, reached on purpose: the threaded copies (which
real runs take for buffers of 2 MB and more, and test arrays never reach by themselves), blocks of
one image split across threads and the whole batch in one block, both column layouts and both
input-gradient paths. The property checks run under each setting, and
threaded results equal single-threaded ones bit for bit. One setting poisons the memory
``workspace.empty`` hands out (NaN, or -1 for integers): a kernel that reads an element it never
wrote (counting on fresh memory being zero, as small allocations often are) fails there."""

import contextlib
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn import REGISTRY, tensor, testing
from tinygrad_cnn import functional as F
from tinygrad_cnn.ops import conv, workspace
from tinygrad_cnn.ops.geometry import Geometry
from tinygrad_cnn.testing.checks import OpCase
from tinygrad_cnn.testing.conv_pool import _axis_geometry, _conv_arrays, conv2d_weight_inputs

INF = float("inf")
# name -> what differs from DEFAULTS. BLOCK_BYTES 0 makes one block per image (test batches are
# small), so blocks go to the threads. The "auto" paths: conv2d by kernel rows where a test
# case has fewer output than input channels, the weight gradient per image on test kernels of
# up to 32 elements per group.
DEFAULTS = {
    "threads": 1,
    "min_bytes": 0,
    "MAX_WIDTH_WASTE": 0.5,
    "FORWARD_PATH": "auto",
    "INPUT_GRAD_PATH": "auto",
    "WEIGHT_GRAD_PATH": "auto",
    "GRADS_TOGETHER": True,
    "BLOCK_BYTES": 0,
    "poison": False,
}
SETTINGS = {
    "one thread": {},
    "two threads from 0 bytes": {"threads": 2},
    "three threads from 0 bytes": {"threads": 3},
    "the whole batch in one block": {"threads": 2, "BLOCK_BYTES": INF},
    "strided columns": {"MAX_WIDTH_WASTE": -1.0},
    "padded-width columns": {"MAX_WIDTH_WASTE": INF},
    "conv2d by kernel rows": {  # and its weight gradient where no window is per image
        "threads": 2,
        "FORWARD_PATH": "rows",
        "WEIGHT_GRAD_PATH": "block",
        "MAX_WIDTH_WASTE": INF,
    },
    "conv2d by columns": {"threads": 2, "FORWARD_PATH": "columns", "MAX_WIDTH_WASTE": INF},
    "input gradient by full correlation": {"threads": 2, "INPUT_GRAD_PATH": "full"},
    "input gradient by transpose and col2im": {"threads": 2, "INPUT_GRAD_PATH": "transpose"},
    "weight gradient per image": {"threads": 2, "WEIGHT_GRAD_PATH": "image"},
    "weight gradient one GEMM per block, whole batch": {
        "threads": 2,
        "FORWARD_PATH": "columns",
        "WEIGHT_GRAD_PATH": "block",
        "BLOCK_BYTES": INF,
    },
    "uninitialised memory poisoned": {"poison": True},
    "input and weight gradients in two sections": {"threads": 2, "GRADS_TOGETHER": False},
}
CONSTANTS = {  # the module each setting lives on
    "MAX_WIDTH_WASTE": conv,
    "FORWARD_PATH": conv,
    "INPUT_GRAD_PATH": conv,
    "WEIGHT_GRAD_PATH": conv,
    "GRADS_TOGETHER": conv,
    "BLOCK_BYTES": workspace,
    "MIN_BLOCKS": workspace,
}


def _poisoned(shape, dtype):
    out = np.empty(shape, dtype)
    out.fill(np.nan if out.dtype.kind in "fc" else -1)
    return out


OPS = ["conv2d", "conv_transpose2d", "conv2d_weight", "pool2d", "pool2d_spread", "pool2d_gather"]


@contextlib.contextmanager
def branch(setting):
    values = {**DEFAULTS, **SETTINGS[setting]}
    values["MIN_BLOCKS"] = 1 if values["BLOCK_BYTES"] == INF else 2
    saved = {name: getattr(module, name) for name, module in CONSTANTS.items()}
    saved_memory = workspace.empty, workspace.scratch
    for name, module in CONSTANTS.items():
        setattr(module, name, values[name])
    if values["poison"]:  # the kernels look both up on the module at each call
        workspace.empty = _poisoned
        workspace.scratch = lambda slot, shape, dtype: _poisoned(shape, dtype)
    try:
        with workspace.threads(values["threads"], values["min_bytes"]):
            yield
    finally:
        for name, value in saved.items():
            setattr(CONSTANTS[name], name, value)
        workspace.empty, workspace.scratch = saved_memory


# A third of the profile's examples per branch (10 in ci, 166 in thorough): 14 settings x 6 ops,
# on top of the plain property tests' full count for each op.
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("name", OPS)
@settings(max_examples=max(10, settings().max_examples // 3))
@given(data=st.data())
def test_the_property_checks_hold_on_every_branch(setting, name, data):
    op = REGISTRY[name]
    case = data.draw(testing.strategy_for(op), label="case")
    with branch(setting):  # check_op less the skip check, which does not depend on the branch
        testing.check_vjp(op, case)
        testing.check_adjoint(op, case)
        testing.check_invariants(op, case)


def _conv_pool_grads(x, w):
    xt, wt = tensor(x, requires_grad=True), tensor(w, requires_grad=True)
    y = F.max_pool2d(F.conv2d(xt, wt, padding=1), 2, ceil_mode=True)
    z = F.avg_pool2d(F.conv_transpose2d(y, wt, stride=2), 3, 1, 1)  # wt: (C_in 5, C_out 4)
    z.backward(np.random.default_rng(2).standard_normal(z.shape))
    return z.numpy(), xt.grad.numpy(), wt.grad.numpy()


@pytest.mark.parametrize("count", [2, 3, 5])
def test_threaded_results_equal_single_threaded_ones_bit_for_bit(count, monkeypatch):
    rng = np.random.default_rng(count)
    x, w = rng.standard_normal((3, 4, 9, 7)), rng.standard_normal((5, 4, 3, 3))
    # a block per image: conv's blocks are split too
    monkeypatch.setattr(workspace, "BLOCK_BYTES", 0)
    with workspace.threads(1, 0):
        single = _conv_pool_grads(x, w)
    splits = []
    original = workspace.parallel_ranges

    def counting(fn, n, nbytes):  # record that the threaded branch really ran
        splits.append(min(workspace._THREADS, n))
        return original(fn, n, nbytes)

    monkeypatch.setattr(workspace, "parallel_ranges", counting)  # conv and pool look it up
    with workspace.threads(count, 0):
        threaded = _conv_pool_grads(x, w)
    assert max(splits) >= 2
    for a, b in zip(single, threaded):
        np.testing.assert_array_equal(a, b)


# (x shape, weight shape, conv2d's arguments): both gradients by kernel rows, by columns, the
# input gradient by transpose and col2im (stride 2), the weight gradient per image, groups
GRAD_CASES = [
    ((5, 8, 9, 7), (4, 8, 5, 5), {"padding": 2}),
    ((5, 3, 9, 7), (6, 3, 3, 3), {"padding": 1}),
    ((5, 4, 9, 8), (6, 4, 3, 3), {"stride": 2, "padding": 1}),
    ((4, 2, 8, 8), (3, 2, 3, 3), {"padding": (1, 0), "dilation": (1, 2)}),
    ((4, 6, 8, 7), (4, 3, 3, 2), {"padding": 1, "groups": 2}),
]


def _grads(x, w, geo, groups, g):
    return conv.conv2d_grads(g, x, w, geo, groups, (True, True))


@pytest.mark.parametrize("x_shape, w_shape, kwargs", GRAD_CASES)
@pytest.mark.parametrize("block_bytes", [0, 1 << 20])
def test_both_gradients_in_one_section_equal_them_apart_bit_for_bit(
    x_shape, w_shape, kwargs, block_bytes, monkeypatch
):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    groups = kwargs.get("groups", 1)
    geo = Geometry.from_args(w_shape[2:], kwargs.get("stride", 1), kwargs.get("padding", 0),
                             kwargs.get("dilation", 1))  # fmt: skip
    g = rng.standard_normal((x_shape[0], w_shape[0], *geo.out_size(*x_shape[2:])))
    monkeypatch.setattr(workspace, "BLOCK_BYTES", block_bytes)
    sections = []
    original = workspace.over_blocks

    def counting(*args, **kwargs):
        sections.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(workspace, "over_blocks", counting)
    results = []
    for together in (True, False):
        monkeypatch.setattr(conv, "GRADS_TOGETHER", together)
        with workspace.threads(2, 0):
            results.append(_grads(x, w, geo, groups, g))
        results.append(len(sections))
        sections.clear()
    (gx, gw), one, (want_gx, want_gw), two = results
    assert (one, two) == (1, 2)
    np.testing.assert_array_equal(gx, want_gx)
    np.testing.assert_array_equal(gw, want_gw)


@pytest.mark.parametrize("together", [True, False])
def test_a_nan_in_the_weight_gradient_is_reported_in_one_section_too(together, monkeypatch):
    # an Inf pixel times a zero gradient: a real NaN, which the quiet first run hides and the
    # second reports as the caller's errstate says
    x = np.ones((3, 2, 6, 6))
    x[1, 0, 2, 2] = np.inf
    w, g = np.ones((2, 2, 3, 3)), np.zeros((3, 2, 6, 6))
    geo = Geometry.from_args(3, 1, 1)
    monkeypatch.setattr(conv, "GRADS_TOGETHER", together)
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        _grads(x, w, geo, 1, g)
    with np.errstate(invalid="ignore"):
        gx, gw = _grads(x, w, geo, 1, g)
    assert np.isnan(gw[:, 0]).all() and not gw[:, 1].any() and not gx.any()


def test_the_threads_setting_checks_its_arguments_and_restores_itself():
    before = workspace._THREADS, workspace.PARALLEL_MIN_BYTES
    with pytest.raises(ValueError, match="threads: count must be >= 1"):
        with workspace.threads(0):
            pass
    with workspace.threads(4, 0):
        assert (workspace._THREADS, workspace.PARALLEL_MIN_BYTES) == (4, 0)
    assert (workspace._THREADS, workspace.PARALLEL_MIN_BYTES) == before


# -- each setting reaches the branch it names (the checks above pass on either branch alone) --


def _spy(monkeypatch, name, log, module=conv):
    """Record each call of ``module.<name>`` (the kernels look their helpers up on the module)."""
    original = getattr(module, name)

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        log.append((name, args, out))
        return out

    monkeypatch.setattr(module, name, spy)


def _input_grad_path(monkeypatch, x_shape, w_shape, **kwargs):
    """The path conv2d's input gradient took: "full" or "transpose"."""
    log = []
    for name in ("flipped_kernel", "col2im"):
        _spy(monkeypatch, name, log)
    rng = np.random.default_rng(0)
    x = tensor(rng.standard_normal(x_shape), requires_grad=True)
    y = F.conv2d(x, tensor(rng.standard_normal(w_shape)), **kwargs)
    y.backward(np.ones(y.shape))
    names = {name for name, _, _ in log}  # col2im: once per block
    assert len(names) == 1, names
    return {"flipped_kernel": "full", "col2im": "transpose"}[names.pop()]


@pytest.mark.parametrize(
    "setting, x_shape, w_shape, kwargs, path",
    [
        ("one thread", (2, 3, 6, 5), (2, 3, 3, 3), {"padding": 1}, "full"),  # O < C
        ("one thread", (2, 3, 6, 5), (3, 3, 3, 3), {"padding": 1}, "full"),  # O = C
        ("one thread", (2, 3, 6, 5), (4, 3, 3, 3), {"padding": 1}, "full"),  # O > C
        ("one thread", (2, 3, 6, 5), (12, 3, 3, 3), {"padding": 1}, "full"),  # O = 4C
        ("one thread", (2, 3, 6, 5), (13, 3, 3, 3), {"padding": 1}, "full"),  # by kernel rows
        ("one thread", (2, 3, 6, 5), (18, 3, 3, 3), {"padding": 1}, "transpose"),  # O = 2*C*kW
        ("conv2d by columns", (2, 3, 6, 5), (13, 3, 3, 3), {"padding": 1}, "transpose"),
        ("one thread", (2, 3, 6, 1), (13, 3, 3, 3), {"padding": 1}, "transpose"),  # too narrow
        ("one thread", (2, 3, 6, 5), (2, 3, 3, 3), {"padding": 2}, "full"),  # padding = k - 1
        ("one thread", (2, 3, 6, 5), (2, 3, 3, 3), {"padding": (1, 3)}, "transpose"),  # > k - 1
        ("one thread", (2, 3, 6, 5), (2, 3, 3, 3), {"stride": (1, 2)}, "transpose"),
        ("one thread", (2, 3, 6, 5), (2, 3, 3, 3), {"stride": (2, 1)}, "transpose"),
        ("input gradient by full correlation", (2, 3, 6, 5), (13, 3, 3, 3), {}, "full"),
        (
            "input gradient by full correlation",
            (2, 3, 6, 5),
            (2, 3, 3, 3),
            {"stride": 2},
            "transpose",
        ),
        ("input gradient by transpose and col2im", (2, 3, 6, 5), (2, 3, 3, 3), {}, "transpose"),
    ],
)
def test_each_setting_takes_the_input_gradient_path_it_names(
    setting, x_shape, w_shape, kwargs, path, monkeypatch
):
    with branch(setting):
        assert _input_grad_path(monkeypatch, x_shape, w_shape, **kwargs) == path


@pytest.mark.parametrize(
    "setting, x_shape, w_shape, kwargs, rows",
    [
        ("one thread", (2, 16, 10, 10), (8, 16, 5, 5), {"padding": 2}, True),  # O*kW < C*kH
        ("one thread", (2, 8, 10, 10), (16, 8, 5, 5), {"padding": 2}, False),  # more out than in
        ("one thread", (2, 6, 7, 7), (6, 6, 3, 3), {"padding": 1}, False),  # as many
        # as many on a plane of Ho*S = 16*17 >= ROWS_MIN_COLUMNS, and on one of 15*16 below it
        ("one thread", (1, 2, 16, 16), (2, 2, 3, 3), {"padding": 1, "min_columns": 272}, True),
        ("one thread", (1, 2, 15, 15), (2, 2, 3, 3), {"padding": 1, "min_columns": 272}, False),
        ("one thread", (2, 6, 7, 7), (4, 6, 3, 1), {"padding": 1}, False),  # kernel width 1
        ("one thread", (2, 6, 7, 7), (4, 6, 3, 3), {"stride": (1, 2)}, False),
        ("one thread", (2, 6, 7, 7), (4, 6, 3, 3), {"dilation": (2, 1)}, False),
        ("one thread", (2, 6, 7, 7), (4, 3, 3, 3), {"groups": 2}, False),
        ("strided columns", (2, 16, 10, 10), (8, 16, 5, 5), {"padding": 2}, False),
        ("conv2d by kernel rows", (2, 8, 10, 10), (16, 8, 5, 5), {"padding": 2}, True),
        ("conv2d by columns", (2, 16, 10, 10), (8, 16, 5, 5), {"padding": 2}, False),
    ],
)
def test_each_setting_takes_the_forward_path_it_names(
    setting, x_shape, w_shape, kwargs, rows, monkeypatch
):
    log = []
    _spy(monkeypatch, "conv2d_rows_blocks", log)
    kwargs = dict(kwargs)  # the parametrized dict itself stays as it is
    monkeypatch.setattr(conv, "ROWS_MIN_COLUMNS", kwargs.pop("min_columns", 512))
    rng = np.random.default_rng(0)
    with branch(setting):
        F.conv2d(
            tensor(rng.standard_normal(x_shape)), tensor(rng.standard_normal(w_shape)), **kwargs
        )
    assert len(log) == rows


KERNEL_ROWS = ["conv2d_rows_blocks", "conv2d_weight_rows_blocks"]


@st.composite
def _stride_one_conv(draw):
    """conv2d cases the kernel-row path applies to (stride and dilation 1, one group, a kernel
    at least 2 wide), which the generic strategy draws about once in a hundred."""
    kh, _, _, pt, pb, h, _ = draw(_axis_geometry(max_stride=1, max_dilation=1))
    kw, _, _, pl, pr, w, _ = draw(_axis_geometry(max_stride=1, max_dilation=1))
    assume(kw > 1)
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    args = draw(_conv_arrays((n, c, h, w), (o, c, kh, kw), o))
    geo = Geometry.from_args((kh, kw), 1, (pt, pb, pl, pr))
    return OpCase(args, {"geometry": geo, "groups": 1})


@pytest.mark.parametrize("name", ["conv2d", "conv2d_weight"])
@settings(max_examples=max(10, settings().max_examples // 3))
@given(data=st.data())
def test_the_property_checks_hold_by_kernel_rows(name, data):
    op = REGISTRY[name]
    cases = _stride_one_conv()
    case = data.draw(cases if name == "conv2d" else conv2d_weight_inputs(cases), label="case")
    log = []
    with pytest.MonkeyPatch.context() as patch, branch("conv2d by kernel rows"):
        for kernel in KERNEL_ROWS:
            _spy(patch, kernel, log)
        testing.check_vjp(op, case)
        testing.check_adjoint(op, case)
        testing.check_invariants(op, case)
    # conv2d and its weight gradient (conv2d_weight's forward and its VJP's dY part) by rows
    assert {kernel for kernel, _, _ in log} == set(KERNEL_ROWS)


# (x shape, weight shape, padding, windows kept): the kernel-row kernels against the columns
ROW_CASES = [
    ((3, 16, 9, 7), (8, 16, 5, 5), (2, 2), None),
    ((3, 4, 9, 7), (5, 4, 5, 5), (2, 2), None),
    ((3, 5, 6, 9), (2, 5, 3, 4), (1, 3), None),  # a wide kernel, uneven padding
    ((2, 7, 8, 8), (3, 7, 2, 3), (0, 0), None),  # no padding
    ((2, 6, 9, 9), (4, 6, 3, 3), (1, 1), (7, 8)),  # only the first windows
]


@pytest.mark.parametrize("x_shape, w_shape, padding, out_hw", ROW_CASES)
@pytest.mark.parametrize("bias", [False, True])
def test_conv2d_by_kernel_rows_equals_conv2d_by_columns(x_shape, w_shape, padding, out_hw, bias):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(x_shape)
    x[0, 0, 3, 2] = np.inf  # an Inf reaches only the outputs whose windows hold it
    w, b = rng.standard_normal(w_shape), rng.standard_normal(w_shape[0]) if bias else None
    geo = Geometry.from_args(w_shape[2:], 1, padding)
    results = []
    for setting in ("conv2d by kernel rows", "conv2d by columns"):
        with branch(setting), np.errstate(invalid="ignore"):
            results.append(conv.conv2d(x, w, geo, 1, out_hw, b))
    rows, columns = results
    np.testing.assert_array_equal(np.isfinite(rows), np.isfinite(columns))
    finite = np.isfinite(columns)
    assert not finite.all() and finite.any()
    np.testing.assert_allclose(rows[finite], columns[finite], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, padding, dy_hw", ROW_CASES)
def test_the_weight_gradient_by_kernel_rows_equals_the_columns(
    x_shape, w_shape, padding, dy_hw, monkeypatch
):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape)
    geo = Geometry.from_args(w_shape[2:], 1, padding)
    dy = rng.standard_normal((x_shape[0], w_shape[0], *(dy_hw or geo.out_size(*x_shape[2:]))))
    results, log = [], []
    _spy(monkeypatch, "conv2d_weight_rows_blocks", log)
    for setting in ("conv2d by kernel rows", "weight gradient one GEMM per block, whole batch"):
        with branch(setting):
            results.append(conv.conv2d_weight(x, dy, geo, 1))
    x[0, 1, 2, 3] = np.inf  # a pixel times the rows' zero gradients: NaN, so by columns
    with branch("conv2d by kernel rows"), np.errstate(invalid="ignore"):
        with_inf = conv.conv2d_weight(x, dy, geo, 1)
    with branch("weight gradient one GEMM per block, whole batch"), np.errstate(invalid="ignore"):
        want = conv.conv2d_weight(x, dy, geo, 1)
    assert len(log) == 1  # the finite x only
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(with_inf, want, rtol=1e-12, atol=1e-12)  # NaN where it is NaN


@pytest.mark.parametrize(
    "setting, w_shape, groups, per_image",
    [
        ("one thread", (4, 1, 5, 5), 1, True),  # 25 elements per window
        ("one thread", (4, 3, 3, 3), 1, True),  # 27
        ("one thread", (4, 2, 4, 4), 1, True),  # 32: the largest per image
        ("one thread", (4, 4, 3, 3), 1, False),  # 36
        ("one thread", (4, 1, 5, 5), 2, True),  # 25 per group of the 50
        ("weight gradient per image", (4, 4, 3, 3), 1, True),
        ("weight gradient one GEMM per block, whole batch", (4, 1, 5, 5), 1, False),
    ],
)
def test_each_setting_takes_the_weight_gradient_path_it_names(
    setting, w_shape, groups, per_image, monkeypatch
):
    log = []
    _spy(monkeypatch, "weight_grad_per_image", log)
    rng = np.random.default_rng(0)
    c = w_shape[1] * groups
    w = tensor(rng.standard_normal(w_shape), requires_grad=True)
    with branch(setting):
        y = F.conv2d(tensor(rng.standard_normal((3, c, 6, 5))), w, padding=1, groups=groups)
        y.backward(np.ones(y.shape))
    assert [out for _, _, out in log] == [per_image]


@pytest.mark.parametrize(
    "w_shape, groups", [((4, 3, 3, 3), 1), ((6, 2, 3, 3), 3), ((5, 1, 5, 5), 1)]
)
def test_both_weight_gradient_paths_give_the_same_gradient(w_shape, groups):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, w_shape[1] * groups, 7, 6))
    w = rng.standard_normal(w_shape)
    grads = []
    for setting in ("weight gradient per image", "weight gradient one GEMM per block, whole batch"):
        wt = tensor(w, requires_grad=True)
        with branch(setting):
            y = F.conv2d(tensor(x), wt, padding=(1, 2), groups=groups)
            y.backward(np.cos(np.arange(y.numel()).reshape(y.shape)))
        grads.append(wt.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "transposed, kwargs",
    [
        (False, {}),
        (False, {"padding": (1, 2), "dilation": (2, 1)}),
        (True, {"padding": 1}),
        (True, {"dilation": 2, "output_padding": 1}),
        (True, {"output_padding": (0, 1), "dilation": (1, 2)}),
    ],
)
def test_the_full_correlation_computes_exactly_the_input_gradient_windows(
    transposed, kwargs, monkeypatch
):
    # padding dY by more would only compute windows the out_hw crop then throws away
    log = []
    _spy(monkeypatch, "conv2d_blocks", log)
    rng = np.random.default_rng(1)
    x = tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=not transposed)
    w = tensor(rng.standard_normal((3, 3, 3, 3)))
    with branch("input gradient by full correlation"):
        if transposed:  # conv_transpose2d's forward is conv2d's input gradient
            F.conv_transpose2d(x, w, **kwargs)
        else:
            y = F.conv2d(x, w, **kwargs)
            y.backward(np.ones(y.shape))
    (g, _, geo, _, out_hw), _ = log[-1][1], log[-1][2]
    assert (geo.sh, geo.sw) == (1, 1)
    assert geo.out_size(*g.shape[2:]) == out_hw


@pytest.mark.parametrize(
    "setting, w, width",
    [
        ("strided columns", 7, 7),
        ("padded-width columns", 7, 8),
        ("padded-width columns", 1, 2),
        ("one thread", 7, 8),  # 1 column of padding per row (shared by both sides) wastes 1/7
        ("one thread", 2, 3),  # 1/2: the most waste the padded width is used with
        ("one thread", 1, 1),  # 1/1
    ],
)
def test_each_setting_takes_the_column_layout_it_names(setting, w, width, monkeypatch):
    log = []
    _spy(monkeypatch, "windows", log)
    rng = np.random.default_rng(2)
    x = tensor(rng.standard_normal((2, 3, 6, w)))
    k = tensor(rng.standard_normal((4, 3, 3, 3)))
    with branch(setting):  # stride 1, padding 1: Wo = W, and W + 1 columns per padded row
        F.conv2d(x, k, padding=1)
    assert {(wo, wid) for _, _, (_, _, wo, wid, _) in log} == {(w, width)}


def test_the_weight_gradient_takes_the_strided_layout_in_every_setting(monkeypatch):
    log = []
    _spy(monkeypatch, "windows", log)
    rng = np.random.default_rng(2)
    x = tensor(rng.standard_normal((2, 3, 6, 7)))
    k = tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    with branch("padded-width columns"):
        y = F.conv2d(x, k, padding=1)
        log.clear()  # the forward's padded width
        y.backward(np.ones(y.shape))
    assert {(wo, wid) for _, _, (_, _, wo, wid, _) in log} == {(7, 7)}


@pytest.mark.parametrize(
    "block_bytes, min_blocks, counts",
    [
        (0, 2, {5}),  # one block per image
        (INF, 1, {1}),  # the whole batch in one block
        (INF, 2, {2}),  # at least MIN_BLOCKS: 3 + 2
        (3 * 27 * 6 * 7 * 8, 2, {2}),  # 3 images' columns per block: 3 + 2
        (4 * 27 * 6 * 7 * 8, 1, {2}),  # 4 + 1
    ],
)
def test_blocks_hold_as_many_images_as_block_bytes_allows(
    block_bytes, min_blocks, counts, monkeypatch
):
    seen = []
    original = workspace.parallel_blocks

    def counting(fn, count, nbytes):
        seen.append(count)
        return original(fn, count, nbytes)

    monkeypatch.setattr(workspace, "parallel_blocks", counting)
    monkeypatch.setattr(workspace, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(workspace, "MIN_BLOCKS", min_blocks)
    monkeypatch.setattr(conv, "MAX_WIDTH_WASTE", -1.0)  # Wo columns per row: 27 * 6 * 7 each
    x = tensor(np.random.default_rng(5).standard_normal((5, 3, 6, 7)))
    F.conv2d(x, tensor(np.ones((2, 3, 3, 3))), padding=1)
    assert set(seen) == counts


def test_conv2d_keeps_no_columns_for_its_backward():
    # the weight gradient makes its columns again, a block at a time: a graph holds no array
    # 9 times the input's size for each convolution in it
    rng = np.random.default_rng(6)
    x = tensor(rng.standard_normal((4, 3, 8, 8)), requires_grad=True)
    w = tensor(rng.standard_normal((5, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    kept = [v for v in vars(y.grad_fn).values() if isinstance(v, np.ndarray)]
    assert sum(a.nbytes for a in kept) <= x.numel() * 8 + w.numel() * 8


def _max_pool_grad_loops(x, g, k, s, p):
    """Max pooling's input gradient, one window at a time: g to each window's first maximum."""
    n, c, h, w = x.shape
    gx = np.zeros_like(x)
    for i, j in np.ndindex(*g.shape[2:]):
        rows = [r for r in range(i * s - p, i * s - p + k) if 0 <= r < h]
        cols = [q for q in range(j * s - p, j * s - p + k) if 0 <= q < w]
        first = x[:, :, rows][:, :, :, cols].reshape(n, c, -1).argmax(-1)
        for b, ch in np.ndindex(n, c):
            r, q = divmod(first[b, ch], len(cols))
            gx[b, ch, rows[r], cols[q]] += g[b, ch, i, j]
    return gx


@pytest.mark.parametrize(
    "hw, k, s, p, ceil, tiles",
    [
        ((4, 6), 2, 2, 0, False, True),  # 2 x 3 windows cover the input exactly
        ((6, 6), 3, 3, 0, False, True),
        ((4, 5), 2, 2, 0, False, False),  # the last column is in no window
        ((5, 4), 2, 2, 0, False, False),  # the last row
        ((5, 5), 2, 2, 0, True, True),  # ceil_mode: the overhanging windows cover it
        ((4, 6), 2, 2, 1, False, True),  # padded by 1: 3 x 4 windows cover the padded input
        ((4, 6), 2, 1, 0, False, False),  # overlapping windows add up
        ((6, 6), 2, 3, 0, False, False),  # gaps between windows
    ],
)
def test_max_pooling_skips_zero_filling_exactly_where_windows_tile_the_input(
    hw, k, s, p, ceil, tiles, monkeypatch
):
    rng = np.random.default_rng(4)
    x = rng.permutation(2 * 3 * hw[0] * hw[1]).reshape(2, 3, *hw).astype(float)  # no ties
    xt = tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, k, s, p, ceil_mode=ceil)
    g = rng.standard_normal(y.shape)
    zeroed = []
    _spy(monkeypatch, "zeros", zeroed, module=workspace)
    with branch("uninitialised memory poisoned"):  # an element never written would be NaN
        y.backward(g)
    assert (not zeroed) == tiles
    np.testing.assert_allclose(xt.grad.numpy(), _max_pool_grad_loops(x, g, k, s, p), rtol=1e-14)


# -- the strided views: inside their buffers, read-only where only read ----------------------

_byte_bounds = getattr(np.lib, "array_utils", np).byte_bounds  # NumPy 2 moved it


def _root(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


@pytest.mark.parametrize("setting", ["padded-width columns", "strided columns", "one thread"])
@pytest.mark.parametrize("name", ["conv2d", "conv_transpose2d", "conv2d_weight"])
@settings(max_examples=max(10, settings().max_examples // 3))
@given(data=st.data())
def test_every_strided_view_the_kernels_make_stays_inside_its_buffer(setting, name, data):
    # im2col's padded-width views read up to (kW - 1) * dW elements past the padded input, into
    # the tail pad_nchw adds for them; a view reaching past its buffer reads (or col2im writes)
    # memory that belongs to something else, which no value check is sure to notice
    op = REGISTRY[name]
    case = data.draw(testing.strategy_for(op), label="case")
    made = []

    def checked(base, shape, strides, writeable=True):
        view = as_strided(base, shape, strides, writeable=writeable)
        if view.size:
            (lo, hi), (root_lo, root_hi) = _byte_bounds(view), _byte_bounds(_root(base))
            assert root_lo <= lo and hi <= root_hi, (shape, strides)
        made.append((sys._getframe(1).f_code.co_name, view.flags.writeable))
        return view

    saved = conv.as_strided
    conv.as_strided = checked
    try:
        with branch(setting):
            xs = [tensor(a, requires_grad=True) for a in case.args]
            out = op.apply(*xs, **case.attrs)
            out.backward(np.ones(out.shape))
    finally:
        conv.as_strided = saved
    assert made
    # only read (the name may carry a suffix, as under mutation testing)
    assert not any(writeable for fn, writeable in made if "windows" in fn)

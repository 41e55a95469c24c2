"""The PyTorch-shaped API, against PyTorch itself: each case is one function written once against a
module ``m`` and run with ``m = torch`` and ``m = tinygrad_cnn`` on the same random float32
inputs; values, dtypes and gradients must agree. Skipped where torch is not installed; the
checks that need no torch (formulas, errors, promotion tables) are in the other test modules and
at the end of this one."""

import numpy as np
import pytest

import tinygrad_cnn as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _arrays(shapes):
    return [RNG.standard_normal(s).astype(np.float32) for s in shapes]


def _run(m, fn, arrays, grad):
    xs = [m.tensor(a, requires_grad=grad) for a in arrays]
    out = fn(m, *xs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if grad:
        total = None
        for k, o in enumerate(outs):
            if isinstance(o, (tg.Tensor, torch.Tensor)) and o.requires_grad:
                w = m.tensor(np.linspace(-1, 1, o.numel(), dtype=np.float32).reshape(o.shape))
                term = (o * w).sum() * (k + 1)
                total = term if total is None else total + term
        if total is not None:
            total.backward()
    return outs, [x.grad for x in xs]


def _same(fn, shapes, grad=True, rtol=1e-5, atol=1e-6):
    arrays = _arrays(shapes)
    ours, our_grads = _run(tg, fn, arrays, grad)
    theirs, their_grads = _run(torch, fn, arrays, grad)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, torch.Tensor):
            assert tuple(a.shape) == tuple(b.shape)
            assert str(a.dtype) == str(b.dtype).replace("torch.", ""), (a.dtype, b.dtype)
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=rtol, atol=atol)
        else:
            assert a == b
    for a, b in zip(our_grads, their_grads):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=atol)


CASES = {
    "transpose(0, 1)": (lambda m, x: x.transpose(0, 1), [(3, 4)]),
    "transpose(-1, 0) 3-D": (lambda m, x: m.transpose(x, -1, 0), [(2, 3, 4)]),
    "permute": (lambda m, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    "permute tuple": (lambda m, x: m.permute(x, (1, 2, 0)), [(2, 3, 4)]),
    ".T": (lambda m, x: x.T, [(3, 5)]),
    ".mT": (lambda m, x: x.mT, [(2, 3, 5)]),
    "t()": (lambda m, x: x.t(), [(3, 5)]),
    "var(1, True)": (lambda m, x: x.var(1, True), [(4, 5)]),
    "var unbiased=False": (lambda m, x: x.var(dim=0, unbiased=False, keepdim=True), [(4, 5)]),
    "var correction=0": (lambda m, x: m.var(x, dim=(0, 1), correction=0), [(3, 4)]),
    "std": (lambda m, x: x.std(dim=1), [(4, 6)]),
    "std all": (lambda m, x: x.std(), [(4, 6)]),
    "max(dim)": (lambda m, x: m.max(x, 1), [(4, 6)]),
    "max(dim, keepdim)": (lambda m, x: x.max(dim=0, keepdim=True), [(4, 6)]),
    "min(dim)": (lambda m, x: x.min(-1), [(3, 4, 5)]),
    "max()": (lambda m, x: x.max(), [(4, 6)]),
    "max(a, b)": (lambda m, a, b: m.max(a, b), [(3, 4), (3, 4)]),
    "amax": (lambda m, x: m.amax(x, dim=(0, 2)), [(2, 3, 4)]),
    "argmax": (lambda m, x: (x.argmax(), x.argmax(dim=1), m.argmin(x, 0, keepdim=True)), [(3, 5)]),
    "sum(dim, keepdim)": (lambda m, x: x.sum(dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    "sum(1)": (lambda m, x: m.sum(x, 1), [(2, 3, 4)]),
    "mean(dim=-1)": (lambda m, x: x.mean(dim=-1), [(2, 3, 4)]),
    "logsumexp": (lambda m, x: m.logsumexp(x, dim=1), [(3, 4)]),
    "norm": (lambda m, x: (x.norm(), x.norm(dim=1), x.norm(p=1, dim=0)), [(3, 4)]),
    "softmax": (lambda m, x: m.softmax(x, dim=1), [(3, 4)]),
    "log_softmax": (lambda m, x: x.log_softmax(dim=0), [(3, 4)]),
    "size": (lambda m, x: (tuple(x.size()), x.size(1), x.size(-1), x.numel(), x.dim()), [(2, 3)]),
    "view": (lambda m, x: x.view(-1, 4), [(2, 3, 4)]),
    "view_as": (lambda m, x, y: x.view_as(y), [(2, 6), (3, 4)]),
    "reshape tuple": (lambda m, x: m.reshape(x, (4, 6)), [(2, 3, 4)]),
    "flatten(1)": (lambda m, x: m.flatten(x, 1), [(2, 3, 4)]),
    "flatten(0, 1)": (lambda m, x: x.flatten(0, 1), [(2, 3, 4)]),
    "squeeze(dim)": (lambda m, x: x.squeeze(1), [(3, 1, 4)]),
    "unsqueeze": (lambda m, x: m.unsqueeze(x, -1), [(3, 4)]),
    "expand": (lambda m, x: x.expand(3, -1, 4), [(1, 2, 1)]),
    "expand_as": (lambda m, x, y: x.expand_as(y), [(1, 4), (3, 4)]),
    "repeat": (lambda m, x: x.repeat(2, 1, 3), [(2, 3)]),
    "chunk": (lambda m, x: m.chunk(x, 3, dim=1), [(2, 7)]),
    "split int": (lambda m, x: x.split(2), [(5, 3)]),
    "split list": (lambda m, x: m.split(x, [1, 3], dim=1), [(2, 4)]),
    "cat dim": (lambda m, a, b: m.cat([a, b], dim=1), [(2, 3), (2, 2)]),
    "stack dim": (lambda m, a, b: m.stack((a, b), dim=-1), [(2, 3), (2, 3)]),
    "gather": (lambda m, x: x.gather(1, m.tensor([[0, 2], [1, 1], [3, 0]])), [(3, 4)]),
    "masked_fill": (lambda m, x: x.masked_fill(x > 0, -1.5), [(3, 4)]),
    "where": (lambda m, x, y: m.where(x > y, x, y), [(3, 4), (3, 4)]),
    "Tensor.where": (lambda m, x, y: x.where(x > 0, y), [(3, 4), (3, 4)]),
    "clamp": (lambda m, x: (x.clamp(-0.5, 0.5), m.clamp(x, min=0.1)), [(3, 4)]),
    "clamp tensors": (lambda m, x, lo: x.clamp(min=lo), [(3, 4), (3, 4)]),
    "pow": (lambda m, x: (x.pow(2), x.abs().pow(0.5)), [(3, 4)]),
    "mm": (lambda m, a, b: a.mm(b), [(3, 4), (4, 2)]),
    "bmm": (lambda m, a, b: m.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    "matmul": (lambda m, a, b: m.matmul(a, b), [(2, 3, 4), (4,)]),
    "einsum": (lambda m, a, b, c: m.einsum("ij,jk,k->i", a, b, c), [(2, 3), (3, 4), (4,)]),
    "einsum implicit": (lambda m, a, b: m.einsum("bij,bjk", a, b), [(2, 3, 4), (2, 4, 5)]),
    "einsum list": (lambda m, a: m.einsum("ij->j", [a]), [(2, 3)]),
    "add alpha": (lambda m, a, b: (m.add(a, b, alpha=2), a.sub(b, alpha=0.5)), [(3,), (3,)]),
    "comparisons": (
        lambda m, a, b: (a.eq(b), a.ne(b), a.gt(b), a.lt(0), a.ge(b), a.le(b)),
        [(5,), (5,)],
    ),  # fmt: skip
    "float/double": (lambda m, x: (x.double(), x.double().float(), x.long(), x.bool()), [(4,)]),
    "to dtype": (lambda m, x: (x.to(m.float64), x.to("cpu"), x.to(x.double())), [(4,)]),
    "detach": (lambda m, x: x.detach() * 2 + x, [(4,)]),
    "new_*": (
        lambda m, x: (
            x.new_zeros(2, 3),
            x.new_ones((2,)),
            x.new_full((2,), 3.0),
            x.new_tensor([1, 2]),
            x.new_empty(1).shape,
        ),
        [(4,)],
    ),  # fmt: skip
    "square, reciprocal": (lambda m, x: (x.square(), (x.abs() + 1).reciprocal()), [(4,)]),
    "predicates": (
        lambda m, x: (
            m.is_tensor(x),
            m.numel(x),
            x.is_floating_point(),
            x.element_size(),
            x.ndimension(),
        ),
        [(2, 3)],
    ),  # fmt: skip
    "data": (lambda m, x: x.data.norm() + x.sum(), [(4,)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_same_values_dtypes_and_gradients_as_pytorch(name):
    fn, shapes = CASES[name]
    _same(fn, shapes)


def _residual(m, x, w):
    y = x * w
    y += x  # a residual connection, in place
    y = y.relu()
    loss = m.zeros(())
    loss += (y * y).sum()  # a loss accumulated in place
    loss += y.mean()
    return loss


def _setitem(m, x, v):
    y = x * 1.0
    y[0] = v
    y[1:, 2] = 0.5
    return y * x


def _in_place_chain(m, x, b):
    y = x.exp()
    z = y * 2
    z.add_(b, alpha=3)
    z.mul_(b)
    z.div_(2.0)
    z.sub_(x)
    z.clamp_(-5, 5)
    return z.masked_fill_(x > 1, 0.0)


@pytest.mark.parametrize("fn, shapes", [
    (_residual, [(3, 4), (3, 4)]),
    (_setitem, [(3, 4), (4,)]),
    (_in_place_chain, [(3, 4), (3, 4)]),
])  # fmt: skip
def test_in_place_ops_in_the_graph_differentiate_as_in_pytorch(fn, shapes):
    _same(fn, shapes)


def _mutated_saved_output(m, x):
    y = x.exp()  # exp saves its output
    y += 1
    return y


def _mutated_saved_input(m, x, w):
    y = x * 2
    z = y * w  # mul saves y
    y.mul_(3)
    return z


@pytest.mark.parametrize(
    "fn, shapes, op",
    [(_mutated_saved_output, [(3,)], "exp"), (_mutated_saved_input, [(3,), (3,)], "mul")],
)
def test_changing_a_value_a_vjp_needs_fails_at_backward_in_both(fn, shapes, op):
    arrays = _arrays(shapes)
    for m, match in (
        (torch, "modified by an inplace operation"),
        (tg, f"op '{op}'.*modified in place"),
    ):
        xs = [m.tensor(a, requires_grad=True) for a in arrays]
        out = fn(m, *xs)
        with pytest.raises(RuntimeError, match=match):
            out.sum().backward()


def test_a_leaf_that_requires_grad_cannot_change_in_place_in_either():
    for m in (torch, tg):
        w = m.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            w += 1
        with m.no_grad():
            w += 1  # the optimizer's way
        assert w.tolist() == [2.0, 2.0, 2.0]


PROMOTIONS = [
    ("int64 * 0.5", lambda m: m.tensor([1, 2]) * 0.5),
    ("int64 + 1", lambda m: m.tensor([1, 2]) + 1),
    ("bool + 1", lambda m: m.tensor([True, False]) + 1),
    ("bool * 1.5", lambda m: m.tensor([True, False]) * 1.5),
    ("int32 + int64", lambda m: m.tensor([1], dtype=m.int32) + m.tensor([1])),
    ("int64 + float32", lambda m: m.tensor([1]) + m.tensor([1.0])),
    ("float32 + 0-d float64", lambda m: m.tensor([1.0]) + m.tensor(2.0, dtype=m.float64)),
    ("int64 + 0-d float64", lambda m: m.tensor([1]) + m.tensor(2.0, dtype=m.float64)),
    ("float16 * 2.0", lambda m: m.tensor([1.0], dtype=m.float16) * 2.0),
    ("uint8 + int8", lambda m: m.tensor([1], dtype=m.uint8) + m.tensor([1], dtype=m.int8)),
    ("float64 ndarray", lambda m: m.tensor(np.zeros(2))),
    ("Tensor(float64 ndarray)", lambda m: m.Tensor(np.zeros(2))),
    ("Tensor(int list)", lambda m: m.Tensor([1, 2])),
    ("tensor(int list)", lambda m: m.tensor([1, 2])),
    ("tensor(bools)", lambda m: m.tensor([True])),
    (
        "mse_loss float32 vs int64",
        lambda m: (
            m.nn.functional.mse_loss(m.ones(2), m.tensor([1, 2]))
            if m is torch
            else tg.functional.mse_loss(tg.ones(2), tg.tensor([1, 2]))
        ),
    ),  # fmt: skip
    ("arange ints", lambda m: m.arange(5)),
    ("arange float", lambda m: m.arange(0, 1, 0.25)),
    ("full int", lambda m: m.full((2,), 7)),
    ("full float", lambda m: m.full((2,), 7.0)),
    ("zeros", lambda m: m.zeros(2, 3)),
    ("ones_like int", lambda m: m.ones_like(m.tensor([1, 2]))),
    ("linspace", lambda m: m.linspace(0, 1, 5)),
    ("eye", lambda m: m.eye(3, 2)),
    ("randint", lambda m: m.randint(0, 5, (3,))),
    ("sum of ints", lambda m: m.tensor([1, 2], dtype=m.int32).sum()),
    ("sum of bools", lambda m: m.tensor([True, True]).sum()),
    ("argmax", lambda m: m.tensor([1.0, 3.0]).argmax()),
]


@pytest.mark.parametrize("name", [name for name, _ in PROMOTIONS])
def test_dtypes_follow_pytorch(name):
    fn = dict(PROMOTIONS)[name]
    ours, theirs = fn(tg), fn(torch)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert tuple(ours.shape) == tuple(theirs.shape)
    if name not in ("randint",):
        np.testing.assert_allclose(ours.numpy().astype(float), theirs.numpy().astype(float))


def test_the_default_dtype_and_factories_of_the_same_seed():
    assert (
        tg.get_default_dtype() == tg.float32 and str(torch.get_default_dtype()) == "torch.float32"
    )
    tg.manual_seed(3)
    a = tg.randn(2, 3)
    tg.manual_seed(3)
    b = tg.randn((2, 3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == tg.float32 and tg.rand_like(a).shape == (2, 3)
    assert tg.randint_like(a, 4).dtype == tg.float32 and tg.randn_like(a).requires_grad is False


def _labels(m, *shape, classes=4, ignore=False):
    t = np.random.default_rng(1).integers(0, classes, shape)
    if ignore:
        t.flat[0] = -100
    return m.tensor(t)


def _probs(m, *shape):
    p = np.random.default_rng(2).random(shape).astype(np.float32)
    return m.tensor(p / p.sum(axis=1, keepdims=True))


F_CASES = {
    "cross_entropy": (lambda m, x: m.nn.functional.cross_entropy(x, _labels(m, 5)), [(5, 4)]),
    "cross_entropy sum": (lambda m, x: m.nn.functional.cross_entropy(x, _labels(m, 5),
                                                                     reduction="sum"), [(5, 4)]),
    "cross_entropy weight": (lambda m, x, w: m.nn.functional.cross_entropy(
        x, _labels(m, 5), weight=w.abs().detach()), [(5, 4), (4,)]),
    "cross_entropy ignore_index": (lambda m, x: m.nn.functional.cross_entropy(
        x, _labels(m, 5, ignore=True)), [(5, 4)]),
    "cross_entropy smoothing": (lambda m, x: m.nn.functional.cross_entropy(
        x, _labels(m, 5), label_smoothing=0.1), [(5, 4)]),
    "cross_entropy smoothing weight": (lambda m, x, w: m.nn.functional.cross_entropy(
        x, _labels(m, 5, ignore=True), weight=w.abs().detach(), label_smoothing=0.2),
        [(5, 4), (4,)]),
    "cross_entropy NCHW": (lambda m, x: m.nn.functional.cross_entropy(x, _labels(m, 2, 3, 3)),
                           [(2, 4, 3, 3)]),
    "cross_entropy probs": (lambda m, x: m.nn.functional.cross_entropy(x, _probs(m, 5, 4),
                                                                       label_smoothing=0.1),
                            [(5, 4)]),
    "nll_loss": (lambda m, x: m.nn.functional.nll_loss(x.log_softmax(1), _labels(m, 5)), [(5, 4)]),
    "nll_loss weight none": (lambda m, x, w: m.nn.functional.nll_loss(
        x, _labels(m, 5, ignore=True), weight=w.detach(), reduction="none"), [(5, 4), (4,)]),
    "l1_loss": (lambda m, a, b: m.nn.functional.l1_loss(a, b), [(3, 4), (3, 4)]),
    "smooth_l1_loss": (lambda m, a, b: m.nn.functional.smooth_l1_loss(a, b * 2, beta=0.5),
                       [(3, 4), (3, 4)]),
    "mse_loss": (lambda m, a, b: m.nn.functional.mse_loss(a, b, reduction="sum"), [(3, 4), (3, 4)]),
    "bce": (lambda m, a, b: m.nn.functional.binary_cross_entropy(a.sigmoid(), b.sigmoid()),
            [(3, 4), (3, 4)]),
    "bce with logits": (lambda m, a, b, w: m.nn.functional.binary_cross_entropy_with_logits(
        a * 3, b.sigmoid(), pos_weight=w.abs().detach()), [(3, 4), (3, 4), (4,)]),
    "dropout eval": (lambda m, x: m.nn.functional.dropout(x, 0.5, training=False), [(3, 4)]),
    "linear": (lambda m, x, w, b: m.nn.functional.linear(x, w, b), [(2, 3), (4, 3), (4,)]),
    "batch_norm train": (lambda m, x, w, b: m.nn.functional.batch_norm(
        x, m.zeros(3), m.ones(3), w, b, training=True), [(4, 3, 2, 2), (3,), (3,)]),
    "batch_norm eval": (lambda m, x: m.nn.functional.batch_norm(
        x, m.tensor([0.1, 0.2, 0.3]), m.tensor([1.0, 2.0, 0.5])), [(4, 3, 2)]),
    "layer_norm": (lambda m, x, w, b: m.nn.functional.layer_norm(x, (4,), w, b),
                   [(2, 3, 4), (4,), (4,)]),
    "group_norm": (lambda m, x, w, b: m.nn.functional.group_norm(x, 2, w, b),
                   [(2, 4, 3, 3), (4,), (4,)]),
    "gelu": (lambda m, x: m.nn.functional.gelu(x * 3), [(3, 4)]),
    "gelu tanh": (lambda m, x: m.nn.functional.gelu(x * 3, approximate="tanh"), [(3, 4)]),
    "elu": (lambda m, x: m.nn.functional.elu(x * 3, alpha=0.7), [(3, 4)]),
    "silu": (lambda m, x: m.nn.functional.silu(x * 3), [(3, 4)]),
    "softplus": (lambda m, x: m.nn.functional.softplus(x * 10, beta=2, threshold=5), [(3, 4)]),
    "one_hot": (lambda m, x: m.nn.functional.one_hot(_labels(m, 5), 6), [(1,)]),
    "normalize": (lambda m, x: m.nn.functional.normalize(x, dim=0), [(3, 4)]),
    "interpolate nearest": (lambda m, x: m.nn.functional.interpolate(x, scale_factor=2),
                            [(1, 2, 3, 3)]),
    "interpolate bilinear": (lambda m, x: m.nn.functional.interpolate(
        x, size=(5, 7), mode="bilinear", align_corners=False), [(1, 2, 3, 4)]),
    "interpolate bilinear corners": (lambda m, x: m.nn.functional.interpolate(
        x, size=(5, 7), mode="bilinear", align_corners=True), [(1, 2, 3, 4)]),
    "adaptive_max_pool2d": (lambda m, x: m.nn.functional.adaptive_max_pool2d(
        x, (2, 3), return_indices=True), [(2, 3, 5, 7)]),
    "max_pool2d indices": (lambda m, x: m.nn.functional.max_pool2d(
        x, 3, 2, 1, return_indices=True), [(2, 3, 7, 6)]),
    "pad reflect": (lambda m, x: m.nn.functional.pad(x, (2, 1, 1, 2), mode="reflect"),
                    [(1, 2, 4, 5)]),
    "pad replicate": (lambda m, x: m.nn.functional.pad(x, (1, 3), mode="replicate"), [(2, 3, 4)]),
    "pad circular": (lambda m, x: m.nn.functional.pad(x, (1, 2, 2, 0), mode="circular"),
                     [(1, 1, 3, 4)]),
    "conv1d": (lambda m, x, w, b: m.nn.functional.conv1d(x, w, b, stride=2, padding=1),
               [(2, 3, 9), (4, 3, 3), (4,)]),
    "relu inplace": (lambda m, x: m.nn.functional.relu(x * 1, inplace=False), [(3, 4)]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(F_CASES))
def test_nn_functional_matches_pytorch(name):
    fn, shapes = F_CASES[name]
    _same(fn, shapes, rtol=2e-5, atol=2e-6)


def test_autograd_functional_matches_pytorch():
    fns = [lambda x: x * x * x, lambda x, y: (x * y).sum().exp() * 0.1]
    inputs = [(_arrays([(3,)])), _arrays([(2,), (2,)])]
    for fn, arrays in zip(fns, inputs):
        ours = tg.autograd.functional.jacobian(fn, tuple(tg.tensor(a) for a in arrays))
        theirs = torch.autograd.functional.jacobian(fn, tuple(torch.tensor(a) for a in arrays))
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)
    scalar = lambda x: (x * x * x).sum() + (x[0] * x[1])  # noqa: E731
    x, v = _arrays([(3,), (3,)])
    for name in ("hessian",):
        a = getattr(tg.autograd.functional, name)(scalar, tg.tensor(x))
        b = getattr(torch.autograd.functional, name)(scalar, torch.tensor(x))
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)
    for name in ("hvp", "vhp", "vjp", "jvp"):
        f = scalar if name in ("hvp", "vhp") else (lambda x: x * x.sum())
        a = getattr(tg.autograd.functional, name)(f, tg.tensor(x), tg.tensor(v))
        b = getattr(torch.autograd.functional, name)(f, torch.tensor(x), torch.tensor(v))
        for p, q in zip(a, b):
            np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-5)


def test_a_custom_function_matches_pytorch_at_first_and_second_order():
    def define(m):
        class Cube(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.save_for_backward(x)
                ctx.k = k
                return x * x * x * k

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 3 * x * x * ctx.k, None

        return Cube

    x = _arrays([(4,)])[0]
    results = []
    for m in (tg, torch):
        t = m.tensor(x, requires_grad=True)
        y = define(m).apply(t, 2.0)
        (g,) = m.autograd.grad(y.sum(), t, create_graph=True)
        (gg,) = m.autograd.grad(g.sum(), t)
        results.append((y.detach().numpy(), g.detach().numpy(), gg.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_the_tensors_tutorial_runs_unchanged_with_either_library():
    # the PyTorch "tensors" tutorial's steps, written once
    def tutorial(torch):
        data = [[1, 2], [3, 4]]
        x_data = torch.tensor(data)
        x_np = torch.from_numpy(np.array(data))
        x_ones = torch.ones_like(x_data)
        x_rand = torch.rand_like(x_data, dtype=torch.float)
        shape = (2, 3)
        zeros = torch.zeros(shape)
        tensor = torch.ones(4, 4)
        tensor[:, 1] = 0
        t1 = torch.cat([tensor, tensor, tensor], dim=1)
        y1 = tensor @ tensor.T
        y2 = tensor.matmul(tensor.T)
        z1 = tensor * tensor
        agg = tensor.sum()
        agg_item = agg.item()
        tensor.add_(5)
        n = torch.ones(5).numpy()
        return (x_data.dtype == torch.int64, x_np.shape, x_ones.tolist(), x_rand.shape,
                zeros.shape, t1.shape, y1.tolist(), y2.tolist(), z1.tolist(), agg_item,
                tensor.tolist(), n.tolist(), tensor.shape[0], tensor.size(1))  # fmt: skip

    ours, theirs = tutorial(tg), tutorial(torch)
    for a, b in zip(ours, theirs):
        assert tuple(a) == tuple(b) if isinstance(a, tuple) else a == b


def test_the_autograd_tutorial_runs_unchanged_with_either_library():
    def tutorial(torch):
        torch.manual_seed(0)
        x = torch.ones(5)
        y = torch.zeros(3)
        w = torch.tensor(np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3),
                         requires_grad=True)  # fmt: skip
        b = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
        z = torch.matmul(x, w) + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
        assert z.grad_fn is not None and loss.requires_grad
        loss.backward()
        grads = (w.grad.numpy().copy(), b.grad.numpy().copy())
        with torch.no_grad():
            z2 = torch.matmul(x, w) + b
        z3 = (torch.matmul(x, w) + b).detach()
        inp = torch.eye(4, 5, requires_grad=True)
        out = (inp + 1).pow(2).t()
        out.backward(torch.ones_like(out), retain_graph=True)
        first = inp.grad.numpy().copy()
        out.backward(torch.ones_like(out))
        second = inp.grad.numpy().copy()
        inp.grad.zero_()
        out2 = (inp + 1).pow(2).t()
        out2.backward(torch.ones_like(out2))
        return grads, z2.requires_grad, z3.requires_grad, first, second, inp.grad.numpy()

    for a, b in zip(tutorial(tg), tutorial(torch)):
        if isinstance(a, tuple):
            for p, q in zip(a, b):
                np.testing.assert_allclose(p, q, rtol=1e-6)
        elif isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-6)
        else:
            assert a == b


def test_a_manual_training_loop_in_the_pytorch_style_gives_pytorchs_numbers():
    # a small CNN written with functional calls and explicit parameters, SGD by hand
    def train(torch):
        F = torch.nn.functional
        rng = np.random.default_rng(0)
        x = torch.tensor(rng.standard_normal((8, 1, 8, 8)).astype(np.float32))
        y = torch.tensor(rng.integers(0, 3, 8))
        w1 = torch.tensor(rng.standard_normal((4, 1, 3, 3)).astype(np.float32) * 0.3,
                          requires_grad=True)  # fmt: skip
        w2 = torch.tensor(rng.standard_normal((3, 64)).astype(np.float32) * 0.1,
                          requires_grad=True)  # fmt: skip
        losses = []
        for _ in range(3):
            h = F.max_pool2d(F.relu(F.conv2d(x, w1, padding=1)), 2)
            logits = F.linear(torch.flatten(h, 1), w2)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            with torch.no_grad():
                for p in (w1, w2):
                    p -= 0.1 * p.grad
                    p.grad.zero_()
            losses.append(loss.item())
        pred = logits.argmax(dim=1)
        return losses, pred.tolist(), (pred == y).sum().item()

    ours, theirs = train(tg), train(torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    assert ours[1:] == theirs[1:]


def test_a_custom_function_with_a_strategy_passes_the_property_kit():
    from hypothesis import given, settings

    from tinygrad_cnn import testing

    class Square(tg.autograd.Function):
        strategy = staticmethod(testing.unary_inputs)

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x

    @settings(max_examples=10, deadline=None)
    @given(case=testing.strategy_for(Square.op))
    def check(case):
        testing.check_op(Square.op, case)
        testing.check_double_vjp(Square.op, case)

    check()

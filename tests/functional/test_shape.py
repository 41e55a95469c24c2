"""The shape functions' values: reshape, permute, flatten, squeeze, expand, pad, stack, indexing."""

import numpy as np

from tinygrad_cnn import functional as F
from tinygrad_cnn import tensor


def test_shape_functions():
    x = tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(4, -1).shape == (4, 6)
    assert x.reshape((6, 4)).shape == (6, 4)
    assert x.permute(2, 0, 1).shape == (4, 2, 3)
    assert x.transpose(0, 2).shape == x.T.shape == (4, 3, 2)
    assert x.mT.shape == (2, 4, 3)
    assert x.swapaxes(0, 2).shape == (4, 3, 2)
    assert x.flatten().shape == (24,)
    assert x.flatten(1).shape == (2, 12)
    assert x[:, :1].squeeze(1).shape == (2, 4)
    assert x[:, :1].squeeze().shape == (2, 4)
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x[:1].expand(5, -1, -1).shape == (5, 3, 4)
    assert F.concatenate([x, x], axis=-1).shape == (2, 3, 8)
    assert F.stack([x, x], axis=1).shape == (2, 2, 3, 4)
    np.testing.assert_array_equal(x.pad((1, 2)).numpy()[0, 0], [0, 0, 1, 2, 3, 0, 0])
    assert x.pad((1, 1, 2, 2)).shape == (2, 7, 6)


def test_integer_array_indexing_accumulates_repeated_indices():
    x = tensor(np.arange(4.0), requires_grad=True)
    x[[0, 0, 3]].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 0.0, 1.0])


def test_boolean_mask_indexing():
    x = tensor(np.arange(4.0), requires_grad=True)
    x[x.numpy() > 1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 1.0, 1.0])


def test_pad_fills_with_the_value_given():
    y = F.pad(tensor(np.ones((2, 2))), (1, 0), value=-1.5)
    np.testing.assert_array_equal(y.numpy(), [[-1.5, 1.0, 1.0], [-1.5, 1.0, 1.0]])
    np.testing.assert_array_equal(F.pad(tensor(np.ones(1)), (0, 1)).numpy(), [1.0, 0.0])


def test_stack_and_concatenate_default_to_the_first_axis():
    a, b = np.ones((2, 3)), np.zeros((2, 3))
    assert F.stack([tensor(a), tensor(b)]).shape == (2, 2, 3)
    stacked = F.stack([tensor(a), tensor(b)], axis=2)
    np.testing.assert_array_equal(stacked.numpy(), np.stack([a, b], 2))

"""detect_anomaly: the first op whose output or VJP holds NaN/Inf, named with its module, the
caller's line and the inputs' ranges; off by default."""

import inspect

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import Tensor, nn, tensor


def model():
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_a_planted_nan_is_located_in_forward():
    x = tensor(np.array([[1.0, np.nan, 0.0]], np.float32))
    line = inspect.currentframe().f_lineno + 3
    with pytest.raises(RuntimeError) as e:
        with tg.detect_anomaly():
            model()(x)
    msg = str(e.value)
    assert "op 'matmul' produced NaN/Inf in its output" in msg
    assert "module: 0" in msg and f"test_anomaly.py:{line}" in msg
    assert "input 0 (1, 3): min 0, max 1, 1 NaN/Inf" in msg


def test_an_inf_in_a_vjp_is_located_in_backward_with_the_forward_line():
    w = Tensor([0.0, 4.0], requires_grad=True)

    @tg.detect_anomaly()
    def run():
        y = w.sqrt()  # fine forward; its VJP 1 / (2 sqrt(0)) is not
        y.sum().backward()

    line = inspect.getsourcelines(run)[1] + 2  # the decorator line comes first
    with np.errstate(divide="ignore"), pytest.raises(RuntimeError) as e:
        run()
    msg = str(e.value)
    assert "op 'sqrt' produced NaN/Inf in its VJP (input 0)" in msg
    assert f"test_anomaly.py:{line}" in msg and "gradient for input 0 (2,)" in msg


def test_off_by_default_and_after_the_block():
    x = tensor(np.array([[np.inf, 0.0, 0.0]], np.float32))
    with np.errstate(invalid="ignore"):
        out = model()(x)  # no error: anomaly mode is off
    assert not np.isfinite(out.numpy()).all()
    with pytest.raises(RuntimeError), tg.detect_anomaly():
        model()(x)
    from tinygrad_cnn import anomaly

    assert anomaly.active == 0 and not anomaly.is_anomaly_enabled()

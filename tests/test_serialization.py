"""save/load in PyTorch's format: both directions against real PyTorch where it is installed,
and against files PyTorch 2.13 wrote (checked in under tests/data) everywhere."""

import collections
import io
from pathlib import Path

import numpy as np
import pytest

import tinygrad_cnn as tg

DATA = Path(__file__).parent / "data"


def test_a_file_pytorch_wrote_loads_with_its_values_dtypes_and_containers():
    obj = tg.load(DATA / "torch_2_13_state.pt")
    state = obj["state"]
    assert isinstance(state, collections.OrderedDict) and list(state) == [
        "weight", "bias", "steps", "mask", "transposed"]  # fmt: skip
    np.testing.assert_array_equal(state["weight"].numpy(), np.arange(6.0).reshape(2, 3) / 4)
    assert state["weight"].dtype == tg.float32 and state["bias"].dtype == tg.float64
    assert state["steps"].shape == () and state["steps"].item() == 7
    assert state["mask"].tolist() == [True, False] and state["mask"].dtype == tg.bool
    np.testing.assert_array_equal(state["transposed"].numpy(), np.arange(6.0).reshape(2, 3).T)
    assert (obj["epoch"], obj["name"], obj["shape"], obj["history"]) == (
        3,
        "tiny",
        (2, 3),
        [0.5, 0.25],
    )


def test_a_file_that_would_run_code_is_refused_without_running_it(capsys):
    with pytest.raises(ValueError, match="refers to __builtin__.print, which is not a tensor"):
        tg.load(DATA / "torch_2_13_code.pt")
    assert capsys.readouterr().out == ""  # print never ran


def test_our_files_round_trip_and_a_model_moves_between_state_dicts(tmp_path):
    model = tg.nn.Sequential(tg.nn.Conv2d(1, 2, 3), tg.nn.BatchNorm2d(2))
    tg.save(model.state_dict(), tmp_path / "m.pt")
    back = tg.load(tmp_path / "m.pt")
    assert list(back) == list(model.state_dict()) and back["1.num_batches_tracked"].shape == ()
    twin = tg.nn.Sequential(tg.nn.Conv2d(1, 2, 3), tg.nn.BatchNorm2d(2))
    twin.load_state_dict(back)
    for (k, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    buf = io.BytesIO()
    tg.save({"x": [tg.ones(2), 3.5, None, "s"], "t": (1, 2)}, buf)
    got = tg.load(io.BytesIO(buf.getvalue()))
    assert got["x"][0].tolist() == [1.0, 1.0] and got["x"][1:] == [3.5, None, "s"]
    assert got["t"] == (1, 2)


@pytest.mark.parametrize(
    "obj, error, match",
    [
        ({"f": lambda: 0}, TypeError, "save: cannot save function"),
        (
            {"c": np.ones(2, np.complex64)},
            TypeError,
            "save: dtype complex64 has no PyTorch storage",
        ),
    ],
)
def test_what_cannot_be_saved_is_refused(obj, error, match):
    with pytest.raises(error, match=match):
        tg.save(obj, io.BytesIO())


def test_a_file_that_is_not_a_saved_state_is_a_clear_error(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="load: .*x.pt is not a PyTorch zip file"):
        tg.load(tmp_path / "x.pt")
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "missing.pt")


def test_both_directions_with_pytorch_itself(tmp_path):
    torch = pytest.importorskip("torch")
    ours = tg.nn.Sequential(tg.nn.Conv2d(1, 2, 3), tg.nn.BatchNorm2d(2), tg.nn.Flatten(),
                            tg.nn.Linear(32, 3))  # fmt: skip
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(32, 3))  # fmt: skip
    tg.save(ours.state_dict(), tmp_path / "ours.pt")
    theirs.load_state_dict(torch.load(tmp_path / "ours.pt", weights_only=True))
    x = np.random.default_rng(0).random((2, 1, 6, 6), dtype=np.float32)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    for p in theirs.parameters():
        torch.nn.init.normal_(p)
    torch.save(theirs.state_dict(), tmp_path / "theirs.pt")
    ours.load_state_dict(tg.load(tmp_path / "theirs.pt"))
    np.testing.assert_allclose(ours(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)  # fmt: skip

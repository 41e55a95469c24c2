"""training.fit: a library loop that trains, measures and calls back, and prints nothing."""

import numpy as np
import pytest

from tinygrad_cnn import functional as F
from tinygrad_cnn import manual_seed, nn, optim, tensor
from tinygrad_cnn.training import TrainingDiverged, accuracy, fit


def _problem(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def _model(seed=0):
    manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def test_fit_is_the_loop_a_user_would_write_by_hand(capsys):
    x, y = _problem()
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)]
    model, twin = _model(), _model()
    opt, opt2 = optim.SGD(model.parameters(), lr=0.1), optim.SGD(twin.parameters(), lr=0.1)
    history = fit(model, opt, batches, 3)
    losses = []
    for _ in range(3):
        total = 0.0
        for xb, yb in batches:
            loss = F.cross_entropy(twin(tensor(xb)), yb)
            opt2.zero_grad()
            loss.backward()
            opt2.step()
            total += loss.item() * len(yb)
        losses.append(total / 48)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    np.testing.assert_allclose([h["loss"] for h in history], losses, rtol=1e-6)
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert set(history[0]) == {"epoch", "loss", "train_accuracy", "seconds"}
    assert 0 <= history[-1]["train_accuracy"] <= 1
    assert capsys.readouterr() == ("", "")  # a library function: it prints nothing


def test_callbacks_see_each_step_and_each_epoch_and_may_add_to_the_record():
    x, y = _problem()
    model = _model()
    steps, epochs = [], []

    def on_epoch(record):
        record["test_accuracy"] = accuracy(model, x, y)
        epochs.append(record["epoch"])

    seen_epochs = []

    def data(epoch):  # a function of the epoch: e.g. seeding each epoch's order
        seen_epochs.append(epoch)
        order = np.random.default_rng(epoch).permutation(48)
        return [(x[order[i : i + 12]], y[order[i : i + 12]]) for i in range(0, 48, 12)]

    history = fit(
        model,
        optim.Adam(model.parameters(), lr=0.01),
        data,
        4,
        start_epoch=2,
        history=[{"epoch": 1}, {"epoch": 2}],
        on_step=lambda r: steps.append((r["epoch"], r["step"])),
        on_epoch=on_epoch,
    )
    assert seen_epochs == epochs == [3, 4]
    assert steps == [(e, s) for e in (3, 4) for s in (1, 2, 3, 4)]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert "test_accuracy" in history[-1]


def test_a_scheduler_steps_once_per_epoch():
    x, y = _problem()
    model = _model()
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    fit(model, opt, [(x, y)], 3, scheduler=sched)
    assert opt.param_groups[0]["lr"] == 0.125


def test_a_diverging_loss_stops_before_its_step_changes_anything():
    x, y = _problem()
    model = _model()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(TrainingDiverged, match="epoch 1, step 2") as e:
        fit(model, optim.SGD(model.parameters(), lr=0.1), [(x[:8], y[:8]), (bad, y)], 2)
    assert (e.value.epoch, e.value.step) == (1, 2)
    changed = [k for k, v in model.state_dict().items() if not np.array_equal(v, before[k])]
    assert changed  # the first step ran...
    model2 = _model()
    with pytest.raises(TrainingDiverged):
        fit(model2, optim.SGD(model2.parameters(), lr=0.1), [(bad, y)], 1)
    for k, v in model2.state_dict().items():  # ...the diverging one did not
        np.testing.assert_array_equal(v, before[k], err_msg=k)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, "fit: epochs must be a positive int, got 0"),
        ({"epochs": 2.0}, "fit: epochs must be a positive int, got 2.0"),
        ({"epochs": 2, "start_epoch": 3}, r"fit: start_epoch must be an int in \[0, 2\], got 3"),
        ({"epochs": 1, "data": []}, "fit: data gave no batches in epoch 1"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs, match):
    x, y = _problem()
    model = _model()
    args = {"data": [(x, y)], **kwargs}
    with pytest.raises(ValueError, match=match):
        fit(model, optim.SGD(model.parameters(), lr=0.1), args.pop("data"), **args)


def test_a_dataset_trains_on_its_training_split_and_reports_test_accuracy():
    from tinygrad_cnn import data

    x, y = _problem(64)
    ds = data.Dataset(x[:48], y[:48], x[48:], y[48:])
    runs = []
    for _ in range(2):
        model = _model()
        history = fit(model, optim.SGD(model.parameters(), lr=0.1), ds, 2, batch_size=16, seed=3)
        runs.append([h["loss"] for h in history])
        assert history[-1]["test_accuracy"] == accuracy(model, x[48:], y[48:])
    assert runs[0] == runs[1]  # each epoch's order comes from (seed, epoch)


def test_data_that_is_not_pairs_is_refused_clearly():
    x, y = _problem()
    model = _model()
    with pytest.raises(
        TypeError, match="fit: data must give \\(inputs, targets\\) pairs, got a tuple of 3"
    ):
        fit(model, optim.SGD(model.parameters(), lr=0.1), [(x, y, y)], 1)

"""utils.data: datasets, splits and the DataLoader, as PyTorch's (compared where torch is
installed; the behaviour checked on its own otherwise)."""

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)


class Squares(Dataset):
    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float32), "y": i * i, "name": f"s{i}"}

    def __len__(self):
        return 7


def test_batches_in_order_by_default_with_the_last_one_short_or_dropped():
    ds = TensorDataset(tg.arange(14.0).reshape(7, 2), tg.arange(7))
    batches = list(DataLoader(ds, batch_size=3))
    assert len(DataLoader(ds, batch_size=3)) == 3 and [len(y) for _, y in batches] == [3, 3, 1]
    assert batches[0][1].tolist() == [0, 1, 2] and batches[0][0].dtype == tg.float32
    assert batches[0][1].dtype == tg.int64
    dropped = DataLoader(ds, batch_size=3, drop_last=True)
    assert len(dropped) == 2 and [len(y) for _, y in dropped] == [3, 3]
    assert DataLoader(ds).batch_size == 1 and len(DataLoader(ds)) == 7
    assert DataLoader(ds, batch_size=2).dataset is ds


def test_shuffle_draws_a_new_order_each_epoch_from_the_generator():
    ds = TensorDataset(tg.arange(20))
    loader = DataLoader(ds, batch_size=20, shuffle=True, generator=np.random.default_rng(0))
    first, second = (next(iter(loader))[0].tolist() for _ in range(2))
    assert sorted(first) == list(range(20)) and first != second and first != list(range(20))
    again = DataLoader(ds, batch_size=20, shuffle=True, generator=np.random.default_rng(0))
    assert next(iter(again))[0].tolist() == first


def test_collate_stacks_fields_dicts_numbers_and_keeps_strings():
    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["y"].tolist() == [0, 1, 4]
    assert batch["y"].dtype == tg.int64 and batch["name"] == ["s0", "s1", "s2"]
    assert default_collate([(1.5, 2), (2.5, 3)])[0].dtype == tg.float32
    with pytest.raises(TypeError, match="default_collate: cannot batch samples of type object"):
        default_collate([object()])


def test_random_split_by_counts_and_fractions_and_subsets():
    ds = TensorDataset(tg.arange(10))
    a, b = random_split(ds, [7, 3], generator=np.random.default_rng(1))
    assert (len(a), len(b)) == (7, 3)
    taken = sorted([int(s[0].item()) for s in a] + [int(s[0].item()) for s in b])
    assert taken == list(range(10))
    parts = random_split(ds, [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [5, 3, 2]
    assert Subset(ds, [4, 1])[1][0].item() == 1 and len(Subset(ds, [4, 1])) == 2
    with pytest.raises(ValueError, match="random_split: lengths"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="TensorDataset: the tensors have different first sizes"):
        TensorDataset(tg.zeros(3), tg.zeros(4))
    with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive int"):
        DataLoader(ds, batch_size=0)


def test_the_same_batches_as_pytorchs_dataloader():
    torch = pytest.importorskip("torch")
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10)
    for kwargs in ({"batch_size": 4}, {"batch_size": 3, "drop_last": True}, {}):
        mine = DataLoader(TensorDataset(tg.tensor(x), tg.tensor(y)), **kwargs)
        loader = torch.utils.data.DataLoader
        other = loader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), **kwargs)
        ours = [(a.numpy(), b.numpy()) for a, b in mine]
        theirs = [(a.numpy(), b.numpy()) for a, b in other]
        assert len(ours) == len(theirs)
        for (a, b), (c, d) in zip(ours, theirs):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)
            assert a.dtype == c.dtype and b.dtype == d.dtype


def test_a_generator_of_its_own_makes_splits_and_shuffles_repeatable():
    ds = TensorDataset(tg.arange(20))

    def run():
        gen = tg.Generator().manual_seed(42)
        parts = random_split(ds, [0.75, 0.25], generator=gen)
        order = [
            b[0].tolist() for b in DataLoader(parts[0], batch_size=5, shuffle=True, generator=gen)
        ]
        return [list(p.indices) for p in parts], order

    assert run() == run()
    gen = tg.Generator().manual_seed(7)
    assert gen.initial_seed() == 7 and repr(gen) == "Generator(initial_seed=7)"
    assert sorted(tg.randperm(6, generator=gen).tolist()) == list(range(6))
    assert tg.randperm(3).dtype == tg.int64
    tg.manual_seed(5)
    assert tg.initial_seed() == 5
    with pytest.raises(TypeError, match="Generator.manual_seed: seed must be an int"):
        gen.manual_seed(1.5)
    with pytest.raises(TypeError, match="DataLoader: generator must be a Generator"):
        DataLoader(ds, generator=3)
    with pytest.raises(ValueError, match="randperm: n must be an int >= 0"):
        tg.randperm(-1)


def test_samplers_as_pytorch():
    ds = TensorDataset(tg.arange(10))
    assert list(SequentialSampler(ds)) == list(range(10))
    gen = tg.Generator().manual_seed(0)
    order = list(RandomSampler(ds, generator=gen))
    assert sorted(order) == list(range(10)) and len(RandomSampler(ds)) == 10
    drawn = list(RandomSampler(ds, replacement=True, num_samples=25, generator=gen))
    assert len(drawn) == 25 and set(drawn) <= set(range(10))
    counts = np.bincount(list(RandomSampler(ds, num_samples=13, generator=gen)), minlength=10)
    assert counts.sum() == 13 and counts.min() == 1  # every index, then 3 more
    assert sorted(SubsetRandomSampler([1, 5, 7], generator=gen)) == [1, 5, 7]
    heavy = list(WeightedRandomSampler([0.0, 0.0, 1.0], 5, generator=gen))
    assert heavy == [2] * 5
    batches = list(BatchSampler(SequentialSampler(range(7)), 3, drop_last=False))
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(BatchSampler(range(7), 3, drop_last=True)) == 2


def test_dataloader_takes_a_sampler_or_a_batch_sampler():
    ds = TensorDataset(tg.arange(10.0), tg.arange(10))
    by_sampler = [y.tolist() for _, y in DataLoader(ds, batch_size=4, sampler=[9, 8, 7, 6, 5])]
    assert by_sampler == [[9, 8, 7, 6], [5]]
    batches = [[0, 1], [5], [2, 3, 4]]
    assert [y.tolist() for _, y in DataLoader(ds, batch_sampler=batches)] == batches
    assert len(DataLoader(ds, batch_sampler=batches)) == 3
    with pytest.raises(ValueError, match="sampler and shuffle are mutually exclusive"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=batches)


def test_dataloader_batches_an_iterable_dataset_as_it_streams():
    class Squares(IterableDataset):
        def __iter__(self):
            return iter([(float(i), i * i) for i in range(5)])

    out = [(x.tolist(), y.tolist()) for x, y in DataLoader(Squares(), batch_size=2)]
    assert out == [([0.0, 1.0], [0, 1]), ([2.0, 3.0], [4, 9]), ([4.0], [16])]
    assert len(list(DataLoader(Squares(), batch_size=2, drop_last=True))) == 2
    with pytest.raises(ValueError, match="an IterableDataset takes no shuffle"):
        DataLoader(Squares(), shuffle=True)


def test_normal_and_bernoulli_sample_as_pytorch_shapes_them():
    gen = tg.Generator().manual_seed(0)
    x = tg.normal(2.0, 0.5, (4000,), generator=gen)
    assert x.shape == (4000,) and x.dtype == tg.float32
    assert abs(x.mean().item() - 2.0) < 0.05 and abs(x.std().item() - 0.5) < 0.05
    per_element = tg.normal(tg.zeros(2, 1), tg.ones(3), generator=gen)
    assert per_element.shape == (2, 3)
    coins = tg.bernoulli(tg.full((1000,), 0.25), generator=gen)
    assert coins.dtype == tg.float32 and set(coins.tolist()) <= {0.0, 1.0}
    assert 0.2 < coins.mean().item() < 0.3
    with pytest.raises(TypeError, match="normal: with numbers for mean and std, give a size"):
        tg.normal(0.0, 1.0)
    with pytest.raises(ValueError, match="normal: std"):
        tg.normal(0.0, -1.0, (2,))
    with pytest.raises(RuntimeError, match="bernoulli: probabilities must be in"):
        tg.bernoulli(tg.full((2,), 1.5))

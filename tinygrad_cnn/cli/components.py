"""What the ``train`` command's flags name: the dataset, the model, the optimizer, the
learning-rate schedule and the augmentation."""

from __future__ import annotations

from tinygrad_cnn import data, nn, optim
from tinygrad_cnn.cli.usage import UsageError
from tinygrad_cnn.data import augment as aug
from tinygrad_cnn.models import default_model, lenet5, resnet

DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3}
DEFAULT_WEIGHT_DECAY = {"sgd": 0.0, "adam": 0.0, "adamw": 0.01}  # PyTorch's defaults
LOADERS = {
    "mnist": data.load_mnist,
    "fashion-mnist": data.load_fashion_mnist,
    "cifar10": data.load_cifar10,
}


def load_dataset(name: str, path: str | None, download: bool = False) -> data.Dataset:
    """The dataset ``--dataset`` names; ``--data`` is its folder (default: under
    ``data_home()``), ``--download`` fetches what is missing there. CIFAR-10 comes normalised
    per channel with the training set's statistics."""
    if name == "digits":
        return data.load_digits()
    try:
        ds = LOADERS[name](path, download=download)
    except data.DownloadError:
        raise
    except (OSError, ValueError) as e:  # missing (the message names --download) or damaged
        raise UsageError(f"--dataset {name}: {e}") from None
    if name == "cifar10":
        mean, std = aug.channel_stats(ds.x_train)
        ds = data.Dataset(
            aug.normalize(ds.x_train, mean, std),
            ds.y_train,
            aug.normalize(ds.x_test, mean, std),
            ds.y_test,
        )
    return ds


def make_model(name: str, ds: data.Dataset) -> nn.Module:
    """``--model``: the default CNN, LeNet-5 or the small ResNet, sized for the dataset."""
    shape, classes = ds.x_train.shape[1:], ds.num_classes
    if name == "lenet5":
        return lenet5(shape, classes)
    if name == "resnet":
        return resnet(shape[0], classes)
    return default_model(shape, classes)


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0) -> optim.Optimizer:
    """``--optimizer``: SGD with momentum 0.9, Adam (L2 in the gradient) or AdamW (decoupled)."""
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose sgd, adam or adamw")


def make_scheduler(name: str, opt: optim.Optimizer, epochs: int):
    """``--scheduler``: none; step (x0.1 after each third of the epochs); cosine (to 0 at the
    last epoch)."""
    if name == "step":
        return optim.lr_scheduler.StepLR(opt, step_size=max(1, epochs // 3), gamma=0.1)
    if name == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    return None


def make_augment(config: dict, ds: data.Dataset) -> aug.Augment | None:
    """``--augment``: shifts of up to 1/8 of the image side (random crop with padding), and
    left-right flips for CIFAR-10 and Fashion-MNIST (never for digits, which flipping changes)."""
    if not config["augment"]:
        return None
    side = ds.x_train.shape[-1]
    return aug.Augment(
        padding=max(1, side // 8), flip=config["dataset"] in ("cifar10", "fashion-mnist")
    )

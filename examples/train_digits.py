"""Train the classic CNN on the embedded 8x8 digits with plain library calls (no CLI).

Run: python examples/train_digits.py [--epochs N]
"""

import argparse

import numpy as np

import tinygrad_cnn as tg
from tinygrad_cnn import data, nn, optim, tensor
from tinygrad_cnn import functional as F
from tinygrad_cnn.utils.data import DataLoader

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=20)
epochs = parser.parse_args().epochs

tg.manual_seed(0)
ds = data.load_digits()  # 1,797 images (1, 8, 8), 20% held out
model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (16, 4, 4)
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (32, 2, 2)
    nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
)  # fmt: skip
opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(1, epochs + 1):
    for x, y in DataLoader(ds.train, batch_size=32, shuffle=True):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with tg.no_grad():
        model.eval()
        pred = model(tensor(ds.x_test)).numpy().argmax(axis=1)
        model.train()
    print(
        f"epoch {epoch:2d}  loss {loss.item():.4f}  test accuracy {np.mean(pred == ds.y_test):.4f}"
    )

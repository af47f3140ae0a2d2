#!/usr/bin/python3
"""The five benchmark models of bench/README.md in PyTorch, timed the way lumen_bench times them.

Run with Debian's interpreter (python3-torch lives there): /usr/bin/python3 bench/torch_models.py --threads 2
Prints one JSON object per line: {"framework": "pytorch", "model", "kind": "train_step"|"predict",
"threads", "batch", "images_per_second"}. Training is forward + backward + Adam step on an in-memory batch,
channels_last, after warm-up; inference is model.eval() under torch.no_grad().
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Flowers(nn.Module):
    # 180x180x3: Rescaling, 3x [Conv2D(f,3,same,relu), MaxPooling2D], Dropout(0.2), Flatten, Dense(128,relu), Dense(5)
    input_hw, channels, batch, classes = (180, 180), 3, 32, 5

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.c3 = nn.Conv2d(32, 64, 3, padding=1)
        self.drop = nn.Dropout(0.2)
        self.d1 = nn.Linear(22 * 22 * 64, 128)
        self.d2 = nn.Linear(128, 5)

    def forward(self, x):
        x = x * (1.0 / 255)
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        x = self.drop(x)
        x = torch.flatten(x.permute(0, 2, 3, 1), 1)  # Keras flattens NHWC
        return self.d2(F.relu(self.d1(x)))


class CatsDogs(nn.Module):
    # 256x256x3: Conv2D(32,3,relu), MaxPooling2D, Flatten, Dense(128,relu), Dense(1,sigmoid)
    input_hw, channels, batch, classes = (256, 256), 3, 32, 1

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 32, 3)
        self.d1 = nn.Linear(127 * 127 * 32, 128)
        self.d2 = nn.Linear(128, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = torch.flatten(x.permute(0, 2, 3, 1), 1)
        return self.d2(F.relu(self.d1(x)))  # logits; BCE-with-logits is the fused sigmoid + BCE


class Caltech(nn.Module):
    # 150x150x3: Conv2D 16/32/64 (3, valid, relu) each + MaxPooling2D, Flatten, Dense(128,relu), Dense(1,sigmoid)
    input_hw, channels, batch, classes = (150, 150), 3, 32, 1

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3)
        self.c2 = nn.Conv2d(16, 32, 3)
        self.c3 = nn.Conv2d(32, 64, 3)
        self.d1 = nn.Linear(17 * 17 * 64, 128)
        self.d2 = nn.Linear(128, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        x = torch.flatten(x.permute(0, 2, 3, 1), 1)
        return self.d2(F.relu(self.d1(x)))


class CarBus(nn.Module):
    # 64x64x3: Conv2D(32,3,relu), MaxPooling2D, Conv2D(32,3,relu), MaxPooling2D, Flatten, Dense(128,relu), Dense(1,sigmoid)
    input_hw, channels, batch, classes = (64, 64), 3, 32, 1

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 32, 3)
        self.c2 = nn.Conv2d(32, 32, 3)
        self.d1 = nn.Linear(14 * 14 * 32, 128)
        self.d2 = nn.Linear(128, 1)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = torch.flatten(x.permute(0, 2, 3, 1), 1)
        return self.d2(F.relu(self.d1(x)))


class FashionMnist(nn.Module):
    # 28x28x1, batch 128: Conv2D(32,3,relu), MaxPool, Conv2D(64,3,relu), MaxPool, Flatten, Dropout(0.5), Dense(10, softmax)
    input_hw, channels, batch, classes = (28, 28), 1, 128, 10

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3)
        self.c2 = nn.Conv2d(32, 64, 3)
        self.drop = nn.Dropout(0.5)
        self.d1 = nn.Linear(5 * 5 * 64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = self.drop(torch.flatten(x.permute(0, 2, 3, 1), 1))
        return self.d1(x)  # logits; cross_entropy is the fused softmax + CE


MODELS = {"flowers": Flowers, "cats_dogs": CatsDogs, "caltech": Caltech, "car_bus": CarBus,
          "fashion_mnist": FashionMnist}


def time_loop(step, min_seconds, warmup):
    for _ in range(warmup):
        step()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and n >= 3:
            return n, elapsed


def bench(name, threads, min_seconds, warmup):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    cls = MODELS[name]
    model = cls().to(memory_format=torch.channels_last)
    h, w = cls.input_hw
    x = (torch.rand(cls.batch, cls.channels, h, w) * 255).contiguous(memory_format=torch.channels_last)
    if cls.classes == 1:
        y = torch.randint(0, 2, (cls.batch, 1)).float()
        loss_fn = F.binary_cross_entropy_with_logits
    else:
        y = torch.randint(0, cls.classes, (cls.batch,))
        loss_fn = F.cross_entropy
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    n, t = time_loop(train_step, min_seconds, warmup)
    results = [{"framework": "pytorch", "model": name, "kind": "train_step", "threads": threads,
                "batch": cls.batch, "images_per_second": n * cls.batch / t}]
    model.eval()
    with torch.no_grad():
        n, t = time_loop(lambda: model(x), min_seconds, warmup)
    results.append({"framework": "pytorch", "model": name, "kind": "predict", "threads": threads,
                    "batch": cls.batch, "images_per_second": n * cls.batch / t})
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--min-seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    for name in a.models.split(","):
        for r in bench(name, a.threads, a.min_seconds, a.warmup):
            print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()

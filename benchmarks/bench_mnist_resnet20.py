"""Benchmark: train ResNet-20 on MNIST on the CPU to >= 98 % test accuracy and report the time.

    .venv/bin/python benchmarks/bench_mnist_resnet20.py            # full run, saves the weights
    .venv/bin/python benchmarks/bench_mnist_resnet20.py --quick    # a short smoke run

The default run trains with Adam (lr 2e-3, cosine over epochs) for 3 epochs on a seeded
subset of 20 000 of the 60 000 training images at the native 28×28 (``--size 32`` for the
input of paper B's protocol: Conventions page, conventions-protocol-b), standardised with the MNIST mean/std, and tests on all 10 000 test images. It saves the weights and the preprocessing to
``data/models/resnet20_mnist.pt`` (git-ignored) for the notebooks. Prints one JSON line.
(Chosen so that it fits in ~30 min on 2 shared CPU cores.)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ibn.data import load_mnist  # noqa: E402
from ibn.data.images import MNIST_MEAN, MNIST_STD, to_float_images  # noqa: E402
from ibn.models import build  # noqa: E402
from ibn.train import evaluate, train  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2000 images, 1 epoch, 1000 test images")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--subset", type=int, default=20000, help="number of training images (0 = all 60 000)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--size", type=int, default=28,
                    help="input size (28 native; 32 in paper B's protocol, see the book's Conventions page)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "data" / "models" / "resnet20_mnist.pt"))
    ap.add_argument("--checkpoint-dir", default=None, help="resumable state (optional)")
    ap.add_argument("--no-save", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.quick:
        a.subset, a.epochs = 2000, 1
    subset = a.subset or None

    xtr, ytr = load_mnist("train")
    xte, yte = load_mnist("test")
    n_test = 1000 if a.quick else len(yte)
    prep = dict(size=a.size, mean=MNIST_MEAN, std=MNIST_STD)
    xtr, xte = to_float_images(xtr, **prep), to_float_images(xte[:n_test], **prep)
    yte = yte[:n_test]

    model = build("resnet20", in_channels=1, num_classes=10, seed=a.seed)
    t0 = time.perf_counter()
    hist = train(model, (xtr, ytr), epochs=a.epochs, batch_size=a.batch_size, optimizer="adam",
                 lr=a.lr, lr_schedule="cosine", subset=subset, seed=a.seed, device="cpu",
                 checkpoint_dir=a.checkpoint_dir, progress=True)
    t_train = time.perf_counter() - t0
    ev = evaluate(model, (xte, yte), batch_size=500, device="cpu")
    t_total = time.perf_counter() - t0
    result = {"benchmark": "mnist_resnet20", "quick": a.quick, "epochs": a.epochs,
              "n_train": hist.config["n_train"], "n_test": n_test, "batch_size": a.batch_size,
              "optimizer": "adam", "lr": a.lr, "lr_schedule": "cosine", "input_size": a.size,
              "threads": a.threads, "seed": a.seed, "test_acc": ev["acc"],
              "test_loss": ev["loss"], "train_time_s": round(t_train, 1),
              "total_time_s": round(t_total, 1), "reached_98": ev["acc"] >= 0.98,
              "torch": torch.__version__, "machine": platform.machine(),
              "epoch_records": hist.records}
    if not a.no_save and not a.quick:
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": "resnet20", "kwargs": {"in_channels": 1, "num_classes": 10},
                    "state_dict": model.state_dict(),
                    "preprocess": {"size": a.size, "mean": MNIST_MEAN, "std": MNIST_STD},
                    "result": {k: v for k, v in result.items() if k != "epoch_records"}}, out)
        result["saved"] = str(out)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()

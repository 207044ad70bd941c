"""Shared pieces of the ``ibn`` command line: settings, its error type, and the checks of
models, datasets, devices and checkpoints that ``extract`` and ``train`` both make."""

from __future__ import annotations

import argparse
import math
import threading
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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

#: seconds ``ibn extract --scheduler`` waits for the Dask scheduler to answer
SCHEDULER_TIMEOUT_S = 5.0

_UNEXPECTED_HINT = "rerun with --debug (or IBN_DEBUG=1) for the traceback"


class CLIError(Exception):
    """An error to report as one line on stderr with exit status 1."""


#: set while a command writes its output files; Ctrl-C then waits for the writes to finish
_writing = threading.Event()


# ---------------------------------------------------------------- checks shared by extract and train


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
    from .. import models

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


def _check_checkpoint_file(path: str, flag: str = "--checkpoint") -> None:
    p = Path(path).expanduser()
    if not p.exists():
        raise CLIError(f"{flag} {path}: no such file")
    if not p.is_file():
        raise CLIError(f"{flag} {path}: not a file")


def _dataset(dataset: str, split: str, seed: int, root: str | None, n: int | None = None) -> dict[str, Any]:
    """A split (its first ``n`` items, or all) as model inputs, and what a model and masker need.

    Returns ``kind`` ('tabular', 'image' or 'text'), ``x`` (float tensor, or a list of texts),
    ``y`` (int64 tensor), ``model_kw`` (for ``ibn.models.build``), ``size`` (the number of
    items in the whole split) and, for tables, ``x_train``. Images are scaled to [0, 1] and
    standardized; (Fashion-)MNIST is resized to 32x32.
    """
    import torch

    from .. import data

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
            x = data.to_float_images(imgs[:n], 32, *data.IMAGE_STATS[dataset])
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


def _load_checkpoint(model: Any, path: str, what: str, flag: str = "--checkpoint") -> None:
    """Load the state dict at ``path`` into ``model``; a one-line CLIError when the file is not a
    readable state dict or its keys or shapes do not fit ``model`` (``what`` names the model,
    ``flag`` the option that gave the file)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CLIError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from exc
    except Exception as exc:  # a damaged zip, a pickle of other objects, a truncated file
        raise CLIError(f"{flag} {path}: not a torch state dict ({_first_line(exc)})") from exc
    if isinstance(state, Mapping):
        for key in ("model_state_dict", "state_dict", "model"):
            if key in state and isinstance(state[key], Mapping):
                state = state[key]
                break
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CLIError(f"{flag} {path}: holds a {type(state).__name__}, not a state dict of tensors")
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
        raise CLIError(f"{flag} {path} does not fit {what} ({'; '.join(parts)}); "
                       "was it saved from another model or dataset?")
    model.load_state_dict(state)


# ---------------------------------------------------------------- a model of one's own

#: file endings that make a --model value a TorchScript file rather than a zoo name
TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts", ".jit", ".zip")


def _model_source(spec: str) -> str:
    """What a ``--model`` value names: ``"factory"`` (``module:factory`` or ``file.py:factory``),
    ``"torchscript"`` (a path: it has a ``/`` or ends in .pt, .pth, .ts, .jit or .zip) or ``"zoo"``
    (a name for ``ibn.models.build``)."""
    if ":" in spec:
        return "factory"
    if "/" in spec or "\\" in spec or spec.lower().endswith(TORCHSCRIPT_SUFFIXES):
        return "torchscript"
    return "zoo"


def _model_label(spec: str) -> str:
    """A short name for a --model value, for the default result name (letters, digits, _ . -)."""
    import re

    source = _model_source(spec)
    label = spec.rpartition(":")[2] if source == "factory" else (
        Path(spec).stem if source == "torchscript" else spec)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.") or "model"


def _load_torchscript(path: str) -> Any:
    """The TorchScript module saved at ``path`` (``torch.jit.save``), on the CPU; a one-line
    CLIError when the file is missing or is not TorchScript (naming a state dict as such)."""
    import torch

    p = Path(path).expanduser()
    if not p.exists():
        raise CLIError(f"--model {path}: no such file (a TorchScript file, a model name or module:factory)")
    if not p.is_file():
        raise CLIError(f"--model {path}: not a file")
    try:
        with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; asked for, it is fine
            warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated", category=DeprecationWarning)
            return torch.jit.load(str(p), map_location="cpu")
    except Exception as exc:  # a state dict, a pickled module, another file
        try:
            state = torch.load(p, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - only to name a state dict as such
            state = None
        if isinstance(state, Mapping) and state and all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CLIError(f"--model {path}: holds a state dict, not a TorchScript module; pass "
                           f"--model module:factory --weights {path}") from exc
        why = _first_line(exc).split(". ")[0]
        raise CLIError(f"--model {path}: not a TorchScript file (write one with torch.jit.save("
                       f"torch.jit.script(model), path)) ({why})") from exc


def _import_factory(spec: str) -> tuple[Callable[..., Any], str | None]:
    """The function named by ``module:factory`` (a dotted module, importable from the current
    directory too, or a ``.py`` file) and the path of its source file (None when unknown)."""
    import importlib
    import importlib.util
    import sys

    where, _, name = spec.rpartition(":")
    if not where or not name.isidentifier():
        raise CLIError(f"--model {spec}: expected module:factory, e.g. mypkg.nets:make_net or nets.py:make_net")
    try:
        if where.endswith(".py"):
            file = Path(where).expanduser()
            if not file.is_file():
                raise CLIError(f"--model {spec}: no such file {where}")
            loader_spec = importlib.util.spec_from_file_location(f"_ibn_user_model_{file.stem}", file)
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            added = "" not in sys.path and str(Path.cwd()) not in sys.path
            if added:  # as `python -m` would: modules in the current directory are importable
                sys.path.insert(0, str(Path.cwd()))
            try:
                module = importlib.import_module(where)
            finally:
                if added:
                    sys.path.remove(str(Path.cwd()))
    except CLIError:
        raise
    except Exception as exc:  # ImportError, SyntaxError, an error while the module runs
        raise CLIError(f"--model {spec}: cannot import {where} ({_first_line(exc)})") from exc
    fn = getattr(module, name, None)
    if fn is None:
        raise CLIError(f"--model {spec}: {where} has no attribute {name!r}")
    if not callable(fn):
        shown = repr(fn) if len(repr(fn)) <= 40 else f"a {type(fn).__name__}"
        raise CLIError(f"--model {spec}: {where}.{name} = {shown} is not a function")
    return fn, getattr(module, "__file__", None)


def _call_factory(fn: Callable[..., Any], spec: str, model_kw: Mapping[str, Any], seed: int) -> Any:
    """``fn(**kw)`` seeded with ``seed``, where kw are the dataset's model keywords
    (``in_features``/``in_channels``, ``num_classes``) that ``fn`` takes; it must return a
    torch.nn.Module."""
    import inspect

    import torch

    try:
        params = inspect.signature(fn).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
        kw = {k: v for k, v in model_kw.items() if takes_all or k in params}
    except (TypeError, ValueError):
        kw = {}
    torch.manual_seed(seed)
    try:
        model = fn(**kw)
    except Exception as exc:
        given = ", ".join(f"{k}={v}" for k, v in kw.items())
        raise CLIError(f"--model {spec}: the factory failed when called with ({given}) ({_first_line(exc)})") from exc
    if not isinstance(model, torch.nn.Module):
        raise CLIError(f"--model {spec}: the factory returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _probe(model: Any, spec_arg: str, data: Mapping[str, Any], dataset: str, device: str, labels: bool) -> None:
    """Run a model of one's own on the first input of an image or tabular set: a one-line CLIError
    when it fails or does not return class scores (1, C) (or C is too small for the labels)."""
    import torch

    x0 = torch.as_tensor(data["x"][:1]).to(device)
    try:
        with torch.inference_mode():
            out = model(x0)
    except Exception as exc:
        raise CLIError(f"--model {spec_arg}: fails on {dataset} inputs of shape {tuple(x0.shape)} "
                       f"({_first_line(exc)})") from exc
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 1:
        got = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
        raise CLIError(f"--model {spec_arg}: returns {got} for one {dataset} input; expected class scores (1, C)")
    top = int(torch.as_tensor(data["y"]).max()) if labels and len(data["y"]) else -1
    if top >= max(out.shape[1], 2):
        raise CLIError(f"--model {spec_arg}: gives {out.shape[1]} class score(s) but {dataset} has labels up to {top}")


def _build_model(models: Any, args: argparse.Namespace, model_kw: dict) -> Any:
    try:
        return models.build(args.model, seed=args.seed, **model_kw)
    except TypeError as exc:  # a model that takes other arguments than this kind of dataset gives
        raise CLIError(f"model {args.model!r} cannot be built for {args.dataset!r} ({exc})") from exc


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

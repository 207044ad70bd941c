"""The commands of the ``ibn`` command line: ``data``, ``results``, ``extract`` and ``train``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from ._common import (FORWARD_PASS_WARNING, IMAGE_CENTRAL, IMAGE_GRID, MAX_PLAYERS, SCHEDULER_TIMEOUT_S, CLIError,
                      _build_model, _call_factory, _check_checkpoint_file, _check_model, _dataset,
                      _dataset_kind, _device, _import_factory, _load_checkpoint, _load_torchscript,
                      _model_label, _model_source, _probe, _subset_value, _writing)

# ---------------------------------------------------------------- data


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    import time

    from .. import data

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
    from .. import data

    print(f"data root: {data.data_root(args.root)}")
    print(f"{'name':15s} {'state':9s} {'files':6s} {'size':>9s}  source")
    for name in data.SOURCES:
        s = data.status(name, args.root)
        print(f"{name:15s} {s['state']:9s} {s['files']:6s} {_human(s['bytes']):>9s}  {s['source']}")
    return 0


def _cmd_data_verify(args: argparse.Namespace) -> int:
    from .. import data

    names = list(data.SOURCES) if "all" in args.names else args.names
    for name in names:
        data.get_source(name)
    for name in names:
        path = data.verify(name, args.root, full=args.full)
        print(f"{name:15s} verified  {path}")
    return 0


# ---------------------------------------------------------------- results


def _cmd_results_list(args: argparse.Namespace) -> int:
    from ..results import list_results

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


# ---------------------------------------------------------------- extract


def _masker(kind: str, spec: dict, x: Any, model: Any, args: argparse.Namespace, i: int) -> Any:
    from .. import maskers
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
    from .._progress import tqdm

    from .. import results
    from ..data import sha256_file

    source = _model_source(args.model)
    flag, ck = ("--weights", args.weights) if args.weights is not None else ("--checkpoint", args.checkpoint)
    if args.weights is not None and args.checkpoint is not None:
        raise CLIError("give either --checkpoint or --weights (the same thing: a state dict), not both")
    if source == "torchscript" and (ck is not None or args.untrained):
        raise CLIError(f"--model {args.model} is a TorchScript file, which holds its weights; "
                       f"drop {flag + ' ' + ck if ck is not None else '--untrained'}")
    if source != "torchscript" and ck is None and not args.untrained:
        what = "--weights PATH (a state dict of the factory's model)" if source == "factory" else \
            "--checkpoint PATH (a state dict from `ibn train`)"
        raise CLIError(f"give {what}, or --untrained to use random weights")
    if ck is not None and args.untrained:
        raise CLIError(f"give either {flag} PATH or --untrained, not both")
    kind = _dataset_kind(args.dataset)
    if source == "zoo":
        _check_model(args.model, args.dataset, kind, "extract")
    from .. import models as zoo

    models = zoo if source == "zoo" else None
    device = _device(args.device)
    if ck is not None:
        _check_checkpoint_file(ck, flag)
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
        "checkpoint_sha256": sha256_file(ck) if ck else None,
        "target": args.target, "solver": args.solver,
    }
    own_model = None  # a model of one's own is loaded and tried on one input before any work
    if source == "torchscript":
        own_model = _load_torchscript(args.model)
        params["model_sha256"] = sha256_file(str(Path(args.model).expanduser()))
    elif source == "factory":
        factory, source_file = _import_factory(args.model)
        own_model = _call_factory(factory, args.model, spec["model_kw"], args.seed)
        if ck is not None:
            _load_checkpoint(own_model, ck, f"--model {args.model}", flag)
        params["model_source_sha256"] = sha256_file(source_file) if source_file else None
    if own_model is not None:
        own_model.to(device).eval()
        if kind != "text":
            _probe(own_model, args.model, spec, args.dataset, device, labels=args.target == "label")
    name = args.name or f"extract-{_model_label(args.model)}-{args.dataset}".lower().replace("_", "-")
    results.result_path(name, params, args.root)  # a bad --name fails before any work

    def compute() -> dict[str, Any]:
        if args.scheduler is None:
            return compute_on(None)
        from ..study import connect

        try:
            client, _ = connect(args.scheduler, timeout=SCHEDULER_TIMEOUT_S)
        except (ConnectionError, TypeError) as exc:
            raise CLIError(f"--scheduler {args.scheduler}: {exc}") from None
        try:
            return compute_on(client)
        finally:
            client.close()

    def compute_on(client: Any) -> dict[str, Any]:
        passes = 2**n_players * args.samples
        if passes > FORWARD_PASS_WARNING:
            print(f"ibn: warning: {args.samples} samples x 2**{n_players} coalitions = {passes:,} forward passes "
                  f"(masked inputs, {args.batch_size} per batch); this may take long", file=sys.stderr, flush=True)
        if own_model is not None:
            model = own_model
        else:
            model = _build_model(models, args, spec["model_kw"])
            if ck:
                _load_checkpoint(model, ck, f"model {args.model!r} for {args.dataset!r}", flag)
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
        targets = [y if args.target == "label" else None for _, y in pairs]
        settings = (args.batch_size, args.noise_bound, args.solver)
        if client is not None:  # one Dask task per sample, the model sent to each worker once
            from ..study import run_tasks

            if source == "factory":
                _by_value_if_local(own_model)
            sent = _cluster_model(model)
            jobs = [(sent, (_own(x), m, target, *settings, args.device))  # a row, not its whole batch
                    for (x, _), m, target in zip(pairs, maskers, targets)]
            parts = run_tasks(client, _remote_sample, jobs, progress=not args.quiet, desc="ibn-extract")
        else:
            parts = [_extract_sample(model, x, m, target, *settings, progress)
                     for (x, _), m, target in tqdm(list(zip(pairs, maskers, targets)), desc="samples",
                                                   disable=args.quiet)]
        for (x, y), masker, target, part in zip(pairs, maskers, targets, parts):
            for key in ("values", "and_effects", "or_effects", "objective"):
                out[key].append(part[key])
            if part["delta"] is not None:
                out.setdefault("delta", []).append(part["delta"])
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


def _extract_sample(model: Any, x: Any, masker: Any, target: int | None, batch_size: int, noise_bound: float,
                    solver: str, progress: bool | None) -> dict[str, Any]:
    """One sample of ``ibn extract``: its values and AND-OR effects, as stored."""
    import torch

    from .. import and_or, games

    v = games.all_values(model, x, masker, target=target, batch_size=batch_size,
                         progress=progress).values
    res = and_or.extract(v, noise_bound=noise_bound, solver=solver)
    delta = next((getattr(res, a) for a in ("delta", "noise") if getattr(res, a, None) is not None), None)
    return {"values": torch.as_tensor(v, dtype=torch.float64),
            "and_effects": torch.as_tensor(res.and_effects, dtype=torch.float64),
            "or_effects": torch.as_tensor(res.or_effects, dtype=torch.float64),
            "objective": float(res.objective),
            "delta": None if delta is None else torch.as_tensor(delta, dtype=torch.float64)}


def _remote_sample(model: Any, x: Any, masker: Any, target: int | None, batch_size: int, noise_bound: float,
                   solver: str, device: str | None) -> dict[str, Any]:
    """:func:`_extract_sample` in a Dask worker: the model on ``device`` (default: the worker's
    GPU if it has one, else its CPU), the tensors sent back on the CPU."""
    import torch

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(model, torch.nn.Module):
        model.to(dev)
    out = _extract_sample(model, x, masker, target, batch_size, noise_bound, solver, False)
    return {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in out.items()}


def _own(x: Any) -> Any:
    """A tensor that is a view of a batch as a tensor of its own (pickling a view sends its whole
    storage); anything else as it is."""
    return x.clone() if hasattr(x, "clone") and hasattr(x, "untyped_storage") else x


def _script_from_bytes(data: bytes) -> Any:
    """A TorchScript module from the bytes of ``torch.jit.save`` (built once in each worker)."""
    import io

    import torch

    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; asked for, it is fine
        warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated", category=DeprecationWarning)
        return torch.jit.load(io.BytesIO(data), map_location="cpu")


def _by_value_if_local(model: Any) -> None:
    """Send the class of a model of one's own by value when its module was imported from the
    current directory (a ``file.py:factory`` module is sent so already), for workers that cannot
    import it; an installed module is sent by name."""
    import cloudpickle

    module = sys.modules.get(type(model).__module__)
    file = getattr(module, "__file__", None)
    if module is None or file is None or not Path(file).resolve().is_relative_to(Path.cwd().resolve()):
        return
    if "site-packages" in Path(file).resolve().parts or module.__name__.partition(".")[0] == "ibn":
        return
    cloudpickle.register_pickle_by_value(module)


def _cluster_model(model: Any) -> Any:
    """What to send to the workers for ``model``: the module itself, moved to the CPU (each
    worker puts it on its own device), or, for TorchScript (which does not pickle), a
    :class:`ibn.study.ModelFactory` of its bytes (loaded once in each worker)."""
    import hashlib
    import io

    import torch

    from ..study import ModelFactory

    if isinstance(model, torch.jit.ScriptModule):
        buf = io.BytesIO()
        torch.jit.save(model, buf)
        data = buf.getvalue()
        return ModelFactory(_script_from_bytes, data, key=hashlib.sha256(data).hexdigest()[:16])
    return model.cpu() if isinstance(model, torch.nn.Module) else model


# ---------------------------------------------------------------- train


def _cmd_train(args: argparse.Namespace) -> int:
    import json

    import torch

    from .. import model_store, results

    kind = _dataset_kind(args.dataset)
    _check_model(args.model, args.dataset, kind, "train")
    from .. import models, train
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
    name = f"cli-{args.model}-{args.dataset}"

    def fit(model: Any, train_dir: Path) -> dict[str, Any]:
        hist = train.train(
            model, (tr["x"], tr["y"]), test_set=None if te is None else (te["x"], te["y"]), epochs=args.epochs,
            batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
            weight_decay=args.weight_decay, lr_schedule=args.lr_schedule, label_noise=args.label_noise,
            num_classes=tr["model_kw"]["num_classes"], subset=subset, seed=args.seed, device=device,
            checkpoint_dir=args.checkpoint_dir or train_dir, progress=not args.quiet,
        )
        return {"records": hist.records, "flipped": hist.flipped, "subset": hist.subset}

    _writing.set()  # the model store writes atomically: an interrupt leaves nothing half-written
    model, info = model_store.cached_model(name, params, lambda: _build_model(models, args, tr["model_kw"]),
                                           fit, root=args.root)
    _writing.clear()
    stored = model_store.model_dir(name, params, args.root) / "model.pt"
    out = stored
    if args.out is not None:  # also a plain state dict where the user asked, its provenance beside it
        out = Path(args.out).expanduser()
        meta = {"provenance": json.loads(stored.with_suffix(".json").read_text())["provenance"],
                "records": info["records"], "flipped": info["flipped"], "subset": info["subset"]}
        text = json.dumps(meta, indent=1, default=str) + "\n"
        out.parent.mkdir(parents=True, exist_ok=True)
        _writing.set()
        results.write_atomically([(out.with_suffix(".json"), lambda p: p.write_text(text)),
                                  (out, lambda p: torch.save(model.state_dict(), p))])
        _writing.clear()
    hist_records = info["records"]
    last = hist_records[-1] if hist_records else {}
    summary = " ".join(f"{k}={last[k]:.4g}" for k in ("train_loss", "train_acc", "test_loss", "test_acc") if k in last)
    print(f"trained {args.model} on {args.dataset}/{args.train_split}: {summary} -> {out}")
    return 0

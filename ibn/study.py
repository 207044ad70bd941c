r"""Studies that outgrow one machine: every (model, sample) pair as a task on a Dask cluster.

- :func:`study`: every model of a dict on every sample, on a cluster (``client=``) or in this
  process; with ``cache_dir`` each finished (model, sample) result is written to its own file as
  it arrives, so that a study that stopped (a crash, a lost worker, Ctrl-C) goes on where it
  stopped when it is run again.
- :func:`explain_on_cluster`: what ``ibn.explain(..., client=...)`` runs.
- :class:`ModelFactory`: a model built where it runs, once per worker process.
- :func:`connect`, :func:`run_tasks`: the plumbing, shared with ``ibn extract --scheduler``.

One task per (model, sample): the sample's target class (when none is given, the class the model
predicts), its :math:`2^n` values (:func:`ibn.games.all_values`) and the AND-OR extraction of
that sample alone (:func:`ibn.and_or.extract`; Conventions page, eq-sparsest). A task sends back the
sample's :class:`~ibn.and_or.AndOrResult` (effects, :math:`\gamma`, :math:`\delta`, objective,
bounds), not its :math:`2^n` values, unless they are asked for (``return_values=True``;
``multiorder=True`` needs them too: the multi-order interactions are computed here, on the whole
batch, as ``ibn.explain`` does).

Same results: the exact solvers' effects do not depend on the batch a sample comes in (a
sample's vertex, bit for bit, alone or in any batch; ``tests/test_engine.py``), so a sample
extracted alone on a worker equals the same sample of ``ibn.explain``'s one batched call, given
the same values. The values are the model's outputs: on a CPU, torch computes them the same way
given the same number of threads, and every worker runs on one thread (below), so run the
serial side on one thread too (``OMP_NUM_THREADS=1``) to compare bit for bit.
``noise_scale="mean"`` (a bound from the whole batch) is refused on a cluster.

Models on workers: a model object is sent to every worker once (``client.scatter(model,
broadcast=True)``) and released at the end; a :class:`ModelFactory` travels with its tasks (keep
it small: a function and a path) and each worker process builds it once and keeps it (the last
few models used). Classes and functions must be importable on the workers (cloudpickle sends
those of a script or notebook by value).

Threads: each task runs on one torch and one BLAS thread per worker thread
(:func:`ibn._threads.limit_process` in a worker process), so that ``dask worker --nthreads T``
uses T cores and workers beside each other do not oversubscribe them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import socket
import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from . import games
from ._checks import check_number
from ._threads import limit_process, one_thread
from .and_or import extract as _extract
from .and_or.result import AndOrResult
from ._batch import given_targets, targets_for
from .explanation import _RESULT_TENSORS, Explanation, _check_model, _prepare, load
from .maskers import player_names
from .results import write_atomically

__all__ = ["study", "StudyResult", "ModelFactory", "explain_on_cluster", "connect", "run_tasks",
           "DEFAULT_RETRIES", "CONNECT_TIMEOUT_S"]

#: how often a failed task is run again, by default
DEFAULT_RETRIES = 2
#: seconds :func:`connect` waits for a scheduler
CONNECT_TIMEOUT_S = 10.0
#: models a worker process keeps built from factories (the least recently used is dropped)
_MAX_BUILT = 4


# ---------------------------------------------------------------- models on workers


def _digest(data: bytes, k: int = 16) -> str:
    return hashlib.sha256(data).hexdigest()[:k]


class ModelFactory:
    """A model built where it runs: ``fn(*args, **kwargs)``, called at most once per process for
    its ``key`` (a worker keeps the last few it built), and put in eval mode when it returns a
    torch module.

    For a model that is large, that cannot be pickled (TorchScript), or that each worker should
    load from its own disk or onto its own GPU: ``ModelFactory(torch.jit.load, "/shared/m.pt")``.
    ``fn`` and its arguments travel with every task: keep them small (paths, names, seeds).
    ``key`` names the model in the workers' caches (default: a hash of the pickled ``fn`` and
    arguments); two factories with one key are taken for the same model.

    Args:
        fn: the function that builds the model (importable on the workers).
        *args: its positional arguments.
        key: the model's name in the workers' caches; None = a hash of ``fn`` and its
            arguments (a random key when they cannot be pickled).
        **kwargs: its keyword arguments.

    Raises:
        TypeError: ``fn`` is not callable, or ``key`` is not a non-empty string.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, key: str | None = None,
                 **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"ModelFactory needs a function that builds the model, got "
                            f"{type(fn).__name__}")
        if key is not None and (not isinstance(key, str) or not key):
            raise TypeError(f"key must be a non-empty string, got {key!r}")
        self.fn, self.args, self.kwargs = fn, args, kwargs
        if key is None:
            import cloudpickle

            try:
                key = _digest(cloudpickle.dumps((fn, args, kwargs)))
            except Exception:  # noqa: BLE001 - unpicklable: a key of its own (tasks will say why)
                key = uuid.uuid4().hex[:16]
        self.key = key

    def build(self) -> Any:
        """The model, built here (``fn(*args, **kwargs)``; eval mode for a torch module).

        Returns:
            what ``fn`` returns, a torch module switched to eval mode.
        """
        model = self.fn(*self.args, **self.kwargs)
        if isinstance(model, torch.nn.Module):
            model.eval()
        return model

    def __repr__(self) -> str:
        return f"ModelFactory({getattr(self.fn, '__qualname__', self.fn)}, key={self.key!r})"


_built: OrderedDict[str, Any] = OrderedDict()
_built_lock = threading.Lock()


def _resolve(model: Any) -> Any:
    """The model itself, or the one this process built from the factory (built on first use)."""
    if not isinstance(model, ModelFactory):
        return model
    with _built_lock:
        if model.key in _built:
            _built.move_to_end(model.key)
        else:
            _built[model.key] = model.build()
            while len(_built) > _MAX_BUILT:
                _built.popitem(last=False)
        return _built[model.key]


def _task(fn: Callable[..., Any], model: Any, home: tuple[str, int], *args: Any) -> Any:
    """``fn(model, *args)`` in a Dask worker: one torch and one BLAS thread for the rest of a worker
    process's life; only for the task in a worker thread of the client's own process."""
    if home != (socket.gethostname(), os.getpid()):
        limit_process()
        return fn(_resolve(model), *args)
    with one_thread():
        return fn(_resolve(model), *args)


# ---------------------------------------------------------------- the cluster


def connect(client: Any, timeout: float = CONNECT_TIMEOUT_S) -> tuple[Any, bool]:
    """A Dask client for ``client``: itself when it is one, else a new one of the scheduler at
    that address.

    Args:
        client: a ``dask.distributed.Client``, or a scheduler address such as
            ``"tcp://host:8786"``.
        timeout: the seconds to wait for the scheduler (default :data:`CONNECT_TIMEOUT_S`).

    Returns:
        ``(client, owned)``: ``client`` itself when it is a ``dask.distributed.Client``
        (``owned`` False), else a new Client of the scheduler at the address (``owned`` True:
        the caller closes it).

    Raises:
        ConnectionError: one line, when no scheduler answers at the address within ``timeout``
            seconds.
        TypeError: ``client`` is neither.
    """
    from distributed import Client

    if isinstance(client, Client):
        return client, False
    if not isinstance(client, str) or not client.strip():
        raise TypeError(f"client must be a dask.distributed.Client or a scheduler address such as "
                        f"'tcp://host:8786', got {client!r}")
    address = client.strip()
    made: dict[str, Any] = {}

    def make() -> None:  # in a thread: a peer that accepts and never answers would hang here
        new = Client.__new__(Client)
        try:
            _probe(address, timeout)  # a refused connection fails at once, not after the timeout
            new.__init__(address, timeout=timeout, set_as_default=False)
            made["client"] = new
        except BaseException as exc:  # noqa: BLE001 - reported below
            if getattr(new, "status", None) not in (None, "closed"):
                new.status = "closed"  # it closed itself; its __del__ would wait for its loop
            made["error"] = exc

    thread = threading.Thread(target=make, name="ibn-connect", daemon=True)
    thread.start()
    thread.join(timeout + 2.0)
    exc = made.get("error")
    if "client" in made:
        return made["client"], True
    if exc is not None and not isinstance(exc, (OSError, TimeoutError, ValueError)):
        raise exc
    why = (str(exc).strip().splitlines() or [type(exc).__name__])[0] if exc is not None else \
        "it accepted the connection and did not answer"
    raise ConnectionError(f"cannot connect to a Dask scheduler at {address} within {timeout:g} s "
                          f"({why})")


def _probe(address: str, timeout: float) -> None:
    """Open and close a TCP connection to a ``tcp://`` or ``tls://`` address (others: nothing)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, loc = parse_address(address)
    if scheme in ("tcp", "tls"):
        socket.create_connection(parse_host_port(loc), timeout=timeout).close()


def run_tasks(client: Any, fn: Callable[..., Any], jobs: Sequence[tuple[Any, tuple]], *,
              retries: int = DEFAULT_RETRIES, on_result: Callable[[int, Any], None] | None = None,
              fail_fast: bool = True, progress: bool = False, desc: str = "ibn") -> list[Any]:
    """``fn(model, *args)`` for every ``(model, args)`` of ``jobs``, each as one Dask task on
    ``client`` (``fn`` a top-level function, importable on the workers); the results in the
    order of ``jobs``.

    A model is sent to every worker once (``client.scatter(model, broadcast=True)``; a
    :class:`ModelFactory` is built once per worker instead) and released at the end. A task that
    raises runs again, up to ``retries`` times (Dask's ``retries``). ``on_result(i, value)`` is
    called here as each task finishes. A task that still fails: with ``fail_fast`` the others are
    cancelled and its error raised; otherwise the others finish first (``on_result`` is called
    for them) and the first error is raised then, with a note of how many tasks failed.

    Args:
        client: a ``dask.distributed.Client``.
        fn: ``fn(model, *args)``, a top-level function importable on the workers.
        jobs: ``(model, args)`` pairs, one task each; ``model`` is an object (sent once per
            distinct object) or a :class:`ModelFactory`.
        retries: how often a failed task runs again (default :data:`DEFAULT_RETRIES`).
        on_result: ``on_result(i, value)``, called in this process as task ``i`` finishes;
            None = nothing.
        fail_fast: cancel the other tasks at the first task that still fails (default True).
        progress: a progress bar over the tasks.
        desc: the bar's label and the prefix of the Dask task keys (default ``"ibn"``).

    Returns:
        the tasks' results, in the order of ``jobs``.

    Raises:
        ValueError: ``retries`` is not a non-negative integer.
        Exception: the error of a task that still fails after its retries.
    """
    from distributed import as_completed

    from ._progress import tqdm

    check_number("retries", retries, low=0, integer=True)
    home = (socket.gethostname(), os.getpid())
    tag = uuid.uuid4().hex[:8]
    refs: dict[int, Any] = {}
    scattered: list[Any] = []
    futures: list[Any] = []
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress, leave=False)
    try:
        for i, (model, args) in enumerate(jobs):
            if not isinstance(model, ModelFactory):
                if id(model) not in refs:
                    refs[id(model)] = client.scatter(model, broadcast=True, hash=False)
                    scattered.append(refs[id(model)])
                model = refs[id(model)]
            futures.append(client.submit(_task, fn, model, home, *args, key=f"{desc}-{i}-{tag}",
                                         pure=False, retries=retries))
        where = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(futures)
        errors: list[BaseException] = []
        for fut in as_completed(futures, loop=client.loop):
            bar.update()
            if fut.status != "finished":
                exc = (fut.exception().with_traceback(fut.traceback()) if fut.status == "error"
                       else RuntimeError(f"Dask task {fut.key} ended {fut.status}"))
                if fail_fast:
                    raise exc
                errors.append(exc)
                continue
            i = where[fut.key]
            out[i] = fut.result()
            fut.release()  # the workers may forget it now
            if on_result is not None:
                on_result(i, out[i])
        if errors:
            errors[0].add_note(f"ibn: {len(errors)} of {len(jobs)} task(s) failed, each tried "
                               f"{retries + 1} time(s)")
            raise errors[0]
        return out
    finally:
        bar.close()
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
        for f in futures + scattered:
            f.release()


def _run_here(jobs: Sequence[tuple[Any, tuple]], fn: Callable[..., Any], retries: int,
              on_result: Callable[[int, Any], None], progress: bool) -> None:
    """:func:`run_tasks` in this process, one job after the other (factories built once)."""
    from ._progress import tqdm

    check_number("retries", retries, low=0, integer=True)
    built: dict[str, Any] = {}
    for i, (model, args) in enumerate(tqdm(jobs, desc="ibn-study", disable=not progress,
                                           leave=False)):
        if isinstance(model, ModelFactory):
            if model.key not in built:
                built[model.key] = model.build()
            model = built[model.key]
        for attempt in range(retries + 1):
            try:
                value = fn(model, *args)
                break
            except Exception:
                if attempt == retries:
                    raise
        on_result(i, value)


# ---------------------------------------------------------------- one sample


def _explain_one(model: Any, x: Any, masker: Any, target: int | None, settings: dict,
                 options: dict) -> dict:
    """One sample, as ``ibn.explain`` computes it: its target class, its values, its AND-OR
    effects (extracted alone, a batch of one). Returns plain data on the CPU."""
    dev = settings["device"]
    t = targets_for(model, [x], [masker], target, dev)
    ti = int(t[0])
    v = games.all_values(model, x, masker, target=None if ti < 0 else ti,
                         reward=settings["reward"], batch_size=settings["batch_size"],
                         device=dev, max_players=settings["max_players"], progress=False)
    res = _extract(v.values.unsqueeze(0), **options)
    if not settings["values"]:
        res = replace(res, values=None)
    return {"result": res.to_dict(), "target": ti}


def _settings(n: int, reward: Callable, batch_size: int | None, device: Any, max_players: int,
              values: bool, options: Mapping[str, Any], b: int) -> tuple[dict, list[dict]]:
    """What every task shares, and each sample's options for ``extract``; bad options are
    refused here (on a game of one player), before any task runs."""
    opts = {k: v for k, v in options.items() if k not in ("progress", "n_jobs")}
    if opts.get("noise_scale") == "mean" and opts.get("zeta") is None:
        raise ValueError("noise_scale='mean' bounds the noise by the mean over the whole batch, "
                         "and a study extracts each sample alone, in its own task; use "
                         "noise_scale='sample' or an absolute zeta")
    per = [dict(opts) for _ in range(b)]
    zeta = opts.get("zeta")
    if zeta is not None and not isinstance(zeta, (int, float)):
        z = torch.as_tensor(zeta)
        if z.numel() not in (1, b):
            raise ValueError(f"zeta must be a number or give one bound per input ({b}), got "
                             f"shape {tuple(z.shape)}")
        flat = z.reshape(-1)
        for i, o in enumerate(per):
            o["zeta"] = flat[i if z.numel() == b else 0].clone()
    probe = dict(per[0]) if per else dict(opts)
    if probe.get("solver") == "sgd":
        probe["steps"] = 1
    _extract(torch.zeros(1, 2, dtype=torch.float64), **probe)
    shared = {"reward": reward, "batch_size": batch_size, "device": device,
              "max_players": max_players, "values": values, "n": n}
    return shared, per


def _own(x: Any) -> Any:
    """A sample of a batch (a view) as a tensor of its own: pickling a view sends its whole
    batch's storage with every task."""
    return x.clone() if isinstance(x, torch.Tensor) else x


def _one_sample(part: dict, players: list[str]) -> Explanation:
    return Explanation(AndOrResult.from_dict(part["result"]), [list(players)],
                       torch.tensor([part["target"]], dtype=torch.int64))


def _concat(parts: Sequence[Explanation], *, single: bool) -> Explanation:
    """One batch Explanation of the one-sample ones, in order."""
    r0 = parts[0].result
    tensors = {}
    for name in _RESULT_TENSORS:
        got = [getattr(p.result, name) for p in parts]
        tensors[name] = None if any(g is None for g in got) else torch.cat(got)
    result = AndOrResult(**tensors, noise_bound=r0.noise_bound, solver=r0.solver, n=r0.n,
                         info=[i for p in parts for i in p.result.info])
    mo = [p.multiorder for p in parts]
    return Explanation(result, [pl for p in parts for pl in p.players],
                       torch.cat([p.targets for p in parts]),
                       None if any(m is None for m in mo) else torch.cat(mo), single=single)


def _finish(expl: Explanation, *, multiorder: bool, return_values: bool) -> Explanation:
    """The multi-order interactions of the whole batch (as ``ibn.explain`` computes them), and
    the values dropped unless asked for."""
    if multiorder:
        from .multiorder import exact

        expl.multiorder = exact(expl.result.values)
    if not return_values and expl.result.values is not None:
        expl.result = replace(expl.result, values=None)
    return expl


def explain_on_cluster(client: Any, model: Any, xs: Sequence[Any], maskers: Sequence[Any],
                       given: torch.Tensor | None, *, multiorder: bool, reward: Callable,
                       batch_size: int | None, device: Any, max_players: int, progress: bool,
                       return_values: bool, retries: int,
                       options: Mapping[str, Any]) -> Explanation:
    """``ibn.explain`` with a client: one Dask task per sample (see the module's docstring).
    The arguments are those :func:`ibn.explain` has checked.

    Args:
        client: a ``dask.distributed.Client`` or a scheduler address (a Client is then opened
            and closed).
        model: the model, a callable the maskers run, or a :class:`ModelFactory`.
        xs: the inputs, one per sample.
        maskers: one masker per input, all with the same ``n_players``.
        given: the target class per input, int64 ``(B,)``, or None = the class the model
            predicts on each unmasked input.
        multiorder: also compute the multi-order interactions of the whole batch here
            (Conventions page, eq-multiorder); the values are then sent back.
        reward: the reward function, as in :func:`ibn.games.all_values`.
        batch_size: masked inputs per forward pass (None = all at once).
        device: where the model runs on a worker (None = the device of its parameters).
        max_players: the largest number of players allowed.
        progress: a progress bar over the tasks.
        return_values: keep the values :math:`v(x_T)` in ``result.values``.
        retries: how often a failed task runs again.
        options: the options of :func:`ibn.and_or.extract` (``noise_scale="mean"`` is
            refused).

    Returns:
        a batch :class:`~ibn.explanation.Explanation` (tensors on the CPU) named by the
        maskers' players.

    Raises:
        ValueError: bad extraction options.
        ConnectionError: no scheduler answers at the address.
        Exception: a task's own error when it still fails after its retries.
    """
    n = int(maskers[0].n_players)
    shared, per = _settings(n, reward, batch_size, device, max_players,
                            return_values or multiorder, options, len(xs))
    jobs = [(model, (_own(x), m, None if given is None else int(given[i]), shared, per[i]))
            for i, (x, m) in enumerate(zip(xs, maskers))]
    client, owned = connect(client)
    try:
        parts = run_tasks(client, _explain_one, jobs, retries=retries, progress=progress,
                          desc="ibn-explain")
    finally:
        if owned:
            client.close()
    expl = _concat([_one_sample(p, player_names(m)) for p, m in zip(parts, maskers)],
                   single=False)
    return _finish(expl, multiorder=multiorder, return_values=return_values)


# ---------------------------------------------------------------- the study


class StudyResult(dict):
    """``{model name: Explanation}`` of :func:`study` (the samples in the order given), with
    ``computed`` and ``loaded``: the (model name, sample index) pairs computed by this call and
    those read from the cache folder.

    Args:
        explanations: ``{model name: Explanation}``, the dict's contents.
        computed: the ``(model name, sample index)`` pairs computed by the call.
        loaded: the pairs read from the cache folder.
    """

    def __init__(self, explanations: Mapping[str, Explanation], computed: list[tuple[str, int]],
                 loaded: list[tuple[str, int]]) -> None:
        super().__init__(explanations)
        self.computed = computed
        self.loaded = loaded


def _input_bytes(x: Any) -> bytes:
    if isinstance(x, torch.Tensor) or hasattr(x, "__array__"):
        t = torch.as_tensor(x).detach().cpu().contiguous()
        return f"{t.dtype}{tuple(t.shape)}".encode() + t.numpy().tobytes()
    if isinstance(x, str) or x is None:
        return repr(x).encode()
    try:
        return pickle.dumps(x)
    except Exception:  # noqa: BLE001
        return repr(x).encode()


def _masker_id(masker: Any) -> str:
    try:
        return json.dumps(masker.describe(), sort_keys=True, default=repr)
    except Exception:  # noqa: BLE001 - a masker of one's own without describe()
        return f"{type(masker).__module__}.{type(masker).__qualname__}:{masker.n_players}"


def _sample_key(x: Any, masker: Any, target: int | None, names: Sequence[str] | None,
                shared: dict, options: dict) -> str:
    """A digest of what a sample's result depends on besides the model: the input, masker,
    target, names, reward, batch size, device and extraction options."""
    reward = shared["reward"]
    meta = {"masker": _masker_id(masker), "target": target, "names": names,
            "reward": f"{getattr(reward, '__module__', '')}.{getattr(reward, '__qualname__', reward)}",
            "batch_size": shared["batch_size"], "device": str(shared["device"]),
            "options": {k: (v.tolist() if isinstance(v, torch.Tensor) else v)
                        for k, v in sorted(options.items())}}
    text = json.dumps(meta, sort_keys=True, default=repr).encode()
    return _digest(_input_bytes(x) + b"\0" + text)


def _folder(name: str) -> str:
    """A folder name for a model name: itself when it is plain, else a cleaned name and a hash."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}", name):
        return name
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:60] or "model"
    return f"{clean}-{_digest(name.encode(), 8)}"


def _load_cached(path: Path, n: int, need_values: bool) -> Explanation | None:
    if not path.is_file():
        return None
    try:
        expl = load(path)
    except (ValueError, OSError, RuntimeError, KeyError) as exc:
        warnings.warn(f"ibn.study: {path} is unreadable ({exc}); computing it again")
        return None
    if len(expl) != 1 or expl.n != n or (need_values and expl.result.values is None):
        return None
    return expl


def study(models: Mapping[str, Any], inputs: Any, masker: Any, targets: Any = None, *,
          client: Any = None, cache_dir: str | os.PathLike[str] | None = None,
          retries: int = DEFAULT_RETRIES, return_values: bool = False, multiorder: bool = False,
          names: Sequence[str] | None = None, reward: Callable = games.log_odds,
          batch_size: int | None = 256, device: Any = None, max_players: int = 20,
          progress: bool = False, **options: Any) -> StudyResult:
    """The AND-OR interactions of every model on every input: ``ibn.explain`` for each model,
    as one task per (model, sample) on a Dask cluster, restartable.

    Args:
        models: ``{name: model}``, each a torch model (sent to every worker once), a callable
            the masker runs, or a :class:`ModelFactory` (built once per worker).
        inputs: one input or a batch, as in :func:`ibn.explain`.
        masker: an ibn masker, or one per input, as in :func:`ibn.explain`.
        targets: the class whose log-odds is the reward: an int, one per input, or None (the
            class each model predicts), as in :func:`ibn.explain`.
        client: a ``dask.distributed.Client``, a scheduler address (a Client is opened and
            closed), or None: every task in this process, one after the other.
        cache_dir: a folder; each finished (model, sample) result is written there as it arrives
            (``<cache_dir>/<model name>/<sample>-<digest>.pt``, an :meth:`Explanation.save`
            file, written atomically), and a pair whose file is there is read instead of
            computed. The digest covers the input, masker, target and settings, not the model's
            weights: give a changed model another name or another folder.
        retries: how often a failed task runs again (default 2).
        return_values: keep the values :math:`v(x_T)` (sent back from the workers, and
            written to the cache); default False: ``result.values`` is None.
        multiorder: also compute the multi-order interactions :math:`I^{(m)}(i, j)`
            (Conventions page, eq-multiorder), as in :func:`ibn.explain`.
        names: the players' names (n strings), instead of those the masker gives.
        reward: the reward function, as in :func:`ibn.games.all_values` (default
            :func:`ibn.games.log_odds`).
        batch_size: masked inputs per forward pass (default 256; None = all at once).
        device: where the models run (default: the device of their parameters, else CPU).
        max_players: the largest number of players allowed (default 20).
        progress: a progress bar over the tasks.
        **options: for :func:`ibn.and_or.extract`, as in :func:`ibn.explain`
            (``noise_scale="mean"`` is refused).

    Returns:
        a :class:`StudyResult`: ``{name: Explanation}`` (one sample when one input was given),
        with the pairs ``computed`` by this call and ``loaded`` from ``cache_dir``.

    Raises:
        ValueError, TypeError: a bad argument; a task's own error when it still fails after its
        retries (after the other tasks finished and were written to ``cache_dir``).
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError(f"models must be a non-empty dict {{name: model}}, got {models!r}")
    for name, model in models.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"models: names must be non-empty strings, got {name!r}")
        _check_model(model)
    xs, single, maskers, n = _prepare(inputs, masker, multiorder=multiorder, names=names,
                                      progress=progress, batch_size=batch_size,
                                      return_values=return_values)
    given = given_targets(targets, len(xs))
    tgt = [None if given is None else int(given[i]) for i in range(len(xs))]
    need_values = return_values or multiorder
    shared, per = _settings(n, reward, batch_size, device, max_players, need_values, options,
                            len(xs))
    players = [list(names) if names is not None else player_names(m) for m in maskers]

    done: dict[tuple[str, int], Explanation] = {}
    paths: dict[tuple[str, int], Path] = {}
    loaded: list[tuple[str, int]] = []
    if cache_dir is not None:
        root = Path(cache_dir).expanduser()
        folders = [_folder(name) for name in models]
        if len(set(folders)) != len(folders):
            raise ValueError(f"models: two names give one cache folder: {list(models)}")
        keys = [_sample_key(x, m, t, names, shared, o) for x, m, t, o in zip(xs, maskers, tgt, per)]
        for name, folder in zip(models, folders):
            for i, key in enumerate(keys):
                paths[(name, i)] = root / folder / f"{i:06d}-{key}.pt"
                cached = _load_cached(paths[(name, i)], n, need_values)
                if cached is not None:
                    done[(name, i)] = cached
                    loaded.append((name, i))
    todo = [(name, i) for name in models for i in range(len(xs)) if (name, i) not in done]
    computed: list[tuple[str, int]] = []

    def finished(k: int, part: dict) -> None:
        pair = todo[k]
        expl = _one_sample(part, players[pair[1]])
        if pair in paths:
            paths[pair].parent.mkdir(parents=True, exist_ok=True)
            write_atomically([(paths[pair], expl.save)])
        done[pair] = expl
        computed.append(pair)

    jobs = [(models[name], (_own(xs[i]) if client is not None else xs[i], maskers[i], tgt[i],
                            shared, per[i])) for name, i in todo]
    if jobs and client is None:
        _run_here(jobs, _explain_one, retries, finished, progress)
    elif jobs:
        client, owned = connect(client)
        try:
            run_tasks(client, _explain_one, jobs, retries=retries, on_result=finished,
                      fail_fast=False, progress=progress, desc="ibn-study")
        except Exception as exc:
            if cache_dir is not None:
                exc.add_note(f"ibn: {len(computed)} (model, sample) result(s) of this run are in "
                             f"{cache_dir}; run the study again to go on from there")
            raise
        finally:
            if owned:
                client.close()

    out = {}
    for name in models:
        expl = _concat([done[(name, i)] for i in range(len(xs))], single=single)
        out[name] = _finish(expl, multiorder=multiorder, return_values=return_values)
    return StudyResult(out, computed, loaded)

"""Studies on a Dask cluster (:mod:`ibn.study`): ``ibn.explain(..., client=...)``, ``study`` with
retries and a restartable cache, ``ibn extract --scheduler``; every result bit for bit the serial
one. One LocalCluster of two single-threaded worker processes serves the whole module."""

from __future__ import annotations

import logging
import os
import socket

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import ibn
from ibn import results
from ibn.maskers import PatchMasker
from ibn.study import ModelFactory, connect, run_tasks, study

distributed = pytest.importorskip("distributed")

MARK = 1234.5  # a pixel value that the Poisoned model refuses


class TinyCNN(nn.Module):
    def __init__(self, seed: int = 0, classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(16, classes)
        self.eval()

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.conv(x)), 2).flatten(1))


def make_cnn(seed: int, log: str | None = None) -> TinyCNN:
    """A factory that notes the process it runs in."""
    if log is not None:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
    return TinyCNN(seed)


class FailsOnce(TinyCNN):
    """Its first forward pass anywhere raises (a flag file says it happened)."""

    def __init__(self, flag: str, seed: int = 0) -> None:
        super().__init__(seed)
        self.flag = flag

    def forward(self, x):
        if not os.path.exists(self.flag):
            open(self.flag, "w").close()
            raise RuntimeError("worker lost its device (simulated)")
        return super().forward(x)


class Poisoned(TinyCNN):
    """Raises on any input that holds the MARK pixel."""

    def forward(self, x):
        if (x == MARK).any():
            raise RuntimeError("poisoned sample (simulated)")
        return super().forward(x)


def _threads(model) -> tuple[int, int]:
    from threadpoolctl import threadpool_info

    return torch.get_num_threads(), max([p["num_threads"] for p in threadpool_info()] or [1])


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        with Client(cluster, set_as_default=False) as c:
            yield c


@pytest.fixture(scope="module")
def images():
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    x[3, :, 0, 0] = MARK  # only Poisoned minds it
    return x


def _masker(n: int = 6) -> PatchMasker:
    return PatchMasker(grid=4, n_players=n, central=4, seed=0)


def _equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal entry for entry (NaN equal to NaN: the SGD solver's lower bound)."""
    return a.shape == b.shape and a.dtype == b.dtype and bool(
        ((a == b) | (a.isnan() & b.isnan())).all())


def assert_same(a, b, *, values: bool = True) -> None:
    """Two Explanations equal bit for bit (the solvers' timings in ``info`` aside)."""
    for name in ("and_effects", "or_effects", "gamma", "delta", "objective", "zeta", "lower_bound"):
        assert _equal(getattr(a.result, name), getattr(b.result, name)), name
    assert (a.result.noise_bound, a.result.solver, a.n, a.single) == \
        (b.result.noise_bound, b.result.solver, b.n, b.single)
    assert torch.equal(a.targets, b.targets) and a.players == b.players
    if values:
        assert torch.equal(a.result.values, b.result.values)
    if a.multiorder is not None or b.multiorder is not None:
        assert torch.equal(a.multiorder, b.multiorder)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- without a cluster


def test_model_factory_key_and_build():
    a, b = ModelFactory(make_cnn, 1), ModelFactory(make_cnn, 1)
    assert a.key == b.key != ModelFactory(make_cnn, 2).key
    assert ModelFactory(make_cnn, 1, key="mine").key == "mine"
    model = a.build()
    assert isinstance(model, TinyCNN) and not model.training
    with pytest.raises(TypeError, match="builds the model"):
        ModelFactory("not a function")


def test_bad_arguments_fail_before_any_task(images):
    dead = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ValueError, match="noise_scale='mean'"):
        ibn.explain(TinyCNN(), images, _masker(), client=dead, noise_scale="mean")
    with pytest.raises(ValueError, match="solver"):
        ibn.explain(TinyCNN(), images, _masker(), client=dead, solver="nope")
    with pytest.raises(ConnectionError, match="cannot connect to a Dask scheduler"):
        ibn.explain(TinyCNN(), images, _masker(), client=dead)
    with pytest.raises(TypeError, match="scheduler address"):
        connect(42)


def test_study_in_this_process_is_cached(images, tmp_path):
    model, masker = TinyCNN(), _masker()
    first = study({"m": model}, images, masker, cache_dir=tmp_path, return_values=True)
    assert len(first.computed) == 4 and not first.loaded
    assert len(list((tmp_path / "m").glob("*.pt"))) == 4
    assert_same(first["m"], ibn.explain(model, images, masker))
    again = study({"m": ModelFactory(make_cnn, 0)}, images, masker, cache_dir=tmp_path)
    assert not again.computed and len(again.loaded) == 4
    assert_same(again["m"], first["m"], values=False)
    assert again["m"].result.values is None


# ---------------------------------------------------------------- on the cluster


def test_workers_run_on_one_thread(client):
    jobs = [(ModelFactory(dict, key="nothing"), ()) for _ in range(4)]
    assert run_tasks(client, _threads, jobs, retries=0) == [(1, 1)] * 4


def test_explain_with_a_client_is_the_serial_explain(client, images):
    model, masker = TinyCNN(), _masker(8)
    serial = ibn.explain(model, images, masker)
    on = ibn.explain(model, images, masker, client=client, return_values=True)
    assert_same(on, serial)
    # a scheduler address: a client of its own; given targets, a noise bound, multiorder; the
    # values are not sent back (the multi-order interactions are computed here, as serially)
    kw = dict(targets=[2, 0, 1, 2], noise_bound=0.1, multiorder=True)
    serial = ibn.explain(model, images, masker, **kw)
    on = ibn.explain(model, images, masker, client=client.scheduler.address, **kw)
    assert on.result.values is None and on.multiorder is not None
    assert_same(on, serial, values=False)
    # one input
    assert_same(ibn.explain(model, images[1], masker, client=client, return_values=True),
                ibn.explain(model, images[1], masker))


def test_study_of_two_models_is_the_serial_explain(client, images, tmp_path):
    log = tmp_path / "built.txt"
    masker = _masker()
    models = {"cnn": TinyCNN(0), "factory": ModelFactory(make_cnn, 1, str(log))}
    out = study(models, images, masker, client=client, return_values=True)
    assert sorted(out) == ["cnn", "factory"] and len(out.computed) == 8
    assert_same(out["cnn"], ibn.explain(TinyCNN(0), images, masker))
    assert_same(out["factory"], ibn.explain(TinyCNN(1), images, masker))
    pids = log.read_text().split()  # built once in each worker that ran its tasks, never here
    assert 1 <= len(pids) <= 2 and len(set(pids)) == len(pids) and str(os.getpid()) not in pids


def test_a_failed_task_is_retried(client, images, tmp_path):
    masker = _masker()
    flag = tmp_path / "failed-once"
    out = study({"m": FailsOnce(str(flag))}, images, masker, client=client, retries=2)
    assert flag.exists()
    assert_same(out["m"], ibn.explain(TinyCNN(0), images, masker), values=False)
    with pytest.raises(RuntimeError, match="simulated"):
        study({"m": FailsOnce(str(tmp_path / "fails-again"))}, images, masker, client=client,
              retries=0)


def test_an_interrupted_study_goes_on_where_it_stopped(client, images, tmp_path):
    masker, cache = _masker(), tmp_path / "cache"
    good = {"a": TinyCNN(0), "b": TinyCNN(1)}
    half = study(good, images[:2], masker, client=client, cache_dir=cache)
    assert len(half.computed) == 4 and not half.loaded
    # sample 3 fails for model a, even after a retry: the study raises after the other tasks
    # finished, and those are in the cache
    with pytest.raises(RuntimeError, match="poisoned") as err:
        study({"a": Poisoned(0), "b": TinyCNN(1)}, images, masker, client=client,
              cache_dir=cache, retries=1)
    assert any("run the study again" in note for note in err.value.__notes__)
    assert len(list(cache.glob("*/*.pt"))) == 7
    done = study(good, images, masker, client=client, cache_dir=cache)
    assert done.computed == [("a", 3)] and len(done.loaded) == 7
    for name, model in good.items():
        assert_same(done[name], ibn.explain(model, images, masker), values=False)


# ---------------------------------------------------------------- ibn extract --scheduler


def _extract(root, *more) -> list[str]:
    return ["extract", "--model", "mlp5", "--dataset", "wine", "--untrained", "--samples", "3",
            "--players", "4", "--noise-bound", "0.05", "-q", "--name", "wine", "--root", str(root),
            "--create-root", *more]


def test_cli_scheduler_stores_the_same_result(client, tmp_path, capsys):
    from ibn.cli import main

    assert main(_extract(tmp_path / "here")) == 0
    assert main(_extract(tmp_path / "there", "--scheduler", client.scheduler.address)) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split(" -> ")[0] for ln in out] == ["wine: 3 samples x 16 coalitions"] * 2
    (here,), (there,) = results.list_results(tmp_path / "here"), results.list_results(tmp_path / "there")
    assert here["params"] == there["params"]
    a = results.load_result("wine", here["params"], root=tmp_path / "here")
    b = results.load_result("wine", there["params"], root=tmp_path / "there")
    assert sorted(a) == sorted(b)
    for key in a:
        assert torch.equal(a[key], b[key]) if isinstance(a[key], torch.Tensor) else a[key] == b[key]


def test_cli_unreachable_scheduler_is_one_line(tmp_path, capsys):
    from ibn.cli import main

    dead = f"tcp://127.0.0.1:{_free_port()}"
    assert main(_extract(tmp_path, "--scheduler", dead)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("ibn")]
    assert line.startswith(f"ibn: error: --scheduler {dead}: cannot connect to a Dask scheduler")

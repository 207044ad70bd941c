r"""Paper B Appendix J: does penalising non-generalizable interactions help? (Conventions page,
conventions-generalizable and eq-penalty; the penalty is
:class:`ibn.train.NonGeneralizablePenalty`).

Protocol (the same code runs every scale):

* **Data**: MNIST or Fashion-MNIST at 32×32 (:func:`ibn.data.load_images`). The training split
  is cut (seeded) into a **validation** split (trains the ``k_pen`` baselines of the penalty,
  App. J), a **reference** split (trains the ``k_eval`` baselines that *measure*
  generalizability, :math:`\hat\rho_S` of Conventions page, eq-rho-hat — independent of the
  penalty's baselines) and the **pool** the target models learn from: ``n_full`` images of it
  ("full"; None = all of it) or ``n_scarce`` ("scarce"), a seeded subset per seed. Accuracy is
  measured on the whole test split.
* **Model**: :class:`ibn.models.SmallCNN` (``width``).
* **Players**: ``n_players`` cells of the 8×8 grid of the feature map after the second ReLU,
  drawn once (seed 0) from the central 6×6 block, the same for every image, masked to 0 (paper
  B App. K's players, :class:`ibn.maskers.FeatureMapMasker`). Reward: log-odds of the true
  label (Conventions page, eq-reward).
* **Training**: Adam, cross-entropy, with or without
  :math:`\lambda \sum_S |I^{\text{non}}_S|` on ``per_batch`` samples per batch (Conventions
  page, eq-penalty; :class:`ibn.train.NonGeneralizablePenalty`), the same seed, subset and
  batch order for both.
* **Measures**: test accuracy; on ``n_eval`` test samples (never seen by any model) the
  generalizable share :math:`\sum |A_{\text{gen}}| / \sum |A|` (Conventions page, eq-gen-non:
  salient interactions, :math:`\tau = 0.02 \cdot \mathbb{E}_x |v(x_N) - v(x_\emptyset)|`,
  :math:`\hat\rho_S` against the reference baselines), the total strength :math:`\sum |A|` and
  per-order curves; on ``n_eval`` training samples the L1 of the interactions that the
  *penalty's* baselines call non-generalizable (what the penalty minimises).

Each run (setting, seed, :math:`\lambda`) is cached with :func:`ibn.results.cached` under
``data/results/BJ_penalty_<dataset>/``; the baseline models are kept by the model store
(:func:`ibn.model_store.cached_model`).
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ibn import distributions as dist
from ibn import results
from ibn.data import load_images
from ibn.explanation import explain
from ibn.maskers import FeatureMapMasker
from ibn.model_store import cached_model
from ibn.models import SmallCNN
from ibn.train import NonGeneralizablePenalty, evaluate, train
from papers.specs import PenaltySpec

__all__ = ["PRESETS", "Splits", "load_splits", "build_model", "masker_for", "train_baseline",
           "run_key", "run_one", "run_all", "summarize", "verdicts", "mean_sd", "lam_label"]

#: the settings per scale (:class:`papers.specs.PenaltySpec`).
PRESETS: dict[str, PenaltySpec] = {
    "smoke": PenaltySpec(dataset="mnist", n_val=300, n_ref=300, n_full=600, n_scarce=100,
                         seeds=(1,), settings=("scarce",), lams=(1.0,), per_batch=8,
                         batch_size={"full": 64, "scarce": 32}, epochs={"full": 2, "scarce": 10},
                         baseline_epochs=5, baseline_batch_size=64, width=8, lr=3e-3,
                         n_eval=4, k_pen=1, k_eval=1, n_players=8),
    # book: paper B App. J's design (>= 8 penalised samples per batch, 3 penalty baselines, a
    # λ grid, 5 seeds, a full and a 200-image pool) on a CNN the 2 CPU cores can train with
    # the penalty: n = 8 players (the exact LP per penalised sample and step costs about 12x
    # more at n = 10), a 6 000-image "full" pool in batches of 128 (376 penalised steps per run);
    # the λ grid from a probe with seed 0 on the scarce pool (λ = 0.3 ... 10)
    "book": PenaltySpec(dataset="mnist", n_val=5000, n_ref=5000, n_full=6000, n_scarce=200,
                        seeds=(1, 2, 3, 4, 5), settings=("full", "scarce"), lams=(0.3, 1.0, 3.0),
                        per_batch=8, batch_size={"full": 128, "scarce": 32},
                        epochs={"full": 8, "scarce": 40}, baseline_epochs=10,
                        baseline_batch_size=64, width=16, lr=3e-3, n_eval=50, k_pen=3, k_eval=3,
                        n_players=8),
    # paper: App. K's n = 10 players and the whole pool (the project's reference does not give
    # App. J's own settings); the exact LP of each penalised sample runs on the CPU whatever the
    # device (about 0.7 s per sample and step at n = 10 on one core), so this preset is long
    "paper": PenaltySpec(dataset="mnist", n_val=5000, n_ref=5000, n_full=None, n_scarce=200,
                         seeds=tuple(range(1, 11)), settings=("full", "scarce"),
                         lams=(0.1, 0.3, 1.0, 3.0), per_batch=8,
                         batch_size={"full": 128, "scarce": 32}, epochs={"full": 20, "scarce": 80},
                         baseline_epochs=20, baseline_batch_size=64, width=16, lr=3e-3,
                         n_eval=50, k_pen=3, k_eval=3, n_players=10),
}

#: baseline effects on pool samples, shared by the penalised runs with the same baselines.
_PEN_CACHE: dict[str, dict] = {}


class Splits:
    r"""Images :math:`(N, 1, 32, 32)` and labels of the pool, validation, reference and test
    splits.

    Each split is an attribute (``pool``, ``val``, ``ref``, ``test``) holding an
    ``(images, labels)`` pair of tensors.

    Args:
        parts: the four splits by name: ``{"pool": (x, y), "val": (x, y), "ref": (x, y),
            "test": (x, y)}``.
    """

    def __init__(self, parts: Mapping[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.pool, self.val, self.ref, self.test = (parts[k] for k in ("pool", "val", "ref", "test"))


@functools.lru_cache(maxsize=4)
def load_splits(dataset: str = "mnist", n_val: int = 5000, n_ref: int = 5000,
                seed: int = 0) -> Splits:
    r"""Seeded pool / validation / reference splits of the training split, and the test split
    (see the module docstring); cached per process.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"`` (:func:`ibn.data.load_images`, 32×32).
        n_val: the size of the validation split (trains the penalty's baselines).
        n_ref: the size of the reference split (trains the measuring baselines).
        seed: the seed of the permutation that cuts the training split (default 0).

    Returns:
        The :class:`Splits`; the pool is what the training split leaves.

    Raises:
        ValueError: another data set, or ``n_val + n_ref`` that leaves no training pool.
    """
    if dataset not in ("mnist", "fashion-mnist"):
        raise ValueError(f"dataset must be 'mnist' or 'fashion-mnist', got {dataset!r}")
    x, y = load_images(dataset, "train")
    perm = torch.as_tensor(np.random.default_rng(seed).permutation(len(y)))
    if n_val + n_ref >= len(perm):
        raise ValueError(f"n_val + n_ref = {n_val + n_ref} leaves no training pool")
    val, ref, pool = perm[:n_val], perm[n_val:n_val + n_ref], perm[n_val + n_ref:]
    return Splits({"val": (x[val], y[val]), "ref": (x[ref], y[ref]), "pool": (x[pool], y[pool]),
                   "test": load_images(dataset, "test")})


def build_model(p: Mapping[str, Any], seed: int) -> nn.Module:
    r""":class:`ibn.models.SmallCNN` (grey images, 10 classes), initial weights from ``seed``.

    Args:
        p: the preset (a :class:`papers.specs.PenaltySpec` from :data:`PRESETS` or a mapping of
            its settings); ``width`` is read.
        seed: the seed of the initial weights (the global random state is left as it was).

    Returns:
        The untrained network.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SmallCNN(width=p["width"], in_channels=1)


def masker_for(p: Mapping[str, Any]) -> FeatureMapMasker:
    r"""The players: ``n_players`` cells of the feature map after the second ReLU (8×8 grid,
    drawn with seed 0 from the central 6×6 block, masked to 0), the same for every image.

    Args:
        p: the preset (or a mapping of its settings); ``n_players`` is read.

    Returns:
        A :class:`~ibn.maskers.FeatureMapMasker`.
    """
    return FeatureMapMasker(n_players=p["n_players"], seed=0, batch_size=1024)


def _split_key(p: Mapping[str, Any]) -> dict[str, Any]:
    """The cache-key part shared by every result (``scale`` is recorded for provenance)."""
    return {"scale": p.get("scale"), **{k: p[k] for k in ("dataset", "n_val", "n_ref")}}


def _n_train(p: Mapping[str, Any], setting: str) -> int | None:
    """The pool size of a setting (None = the whole pool)."""
    return p["n_scarce"] if setting == "scarce" else p.get("n_full")


def _model_key(p: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of the architecture and the players (part of every cache key)."""
    return {"model": "small_cnn", "width": p["width"], "n_players": p["n_players"]}


def _baseline_key(p: Mapping[str, Any]) -> dict[str, Any]:
    """What a baseline's weights depend on besides its split and seed."""
    return {**_split_key(p), "model": "small_cnn", "width": p["width"],
            "epochs": p["baseline_epochs"], "lr": p["lr"], "batch_size": p["baseline_batch_size"]}


def train_baseline(p: Mapping[str, Any], split: str, seed: int) -> nn.Module:
    r"""A baseline CNN trained on the validation split (penalty) or the reference split (measure),
    kept by the model store (:func:`ibn.model_store.cached_model`).

    Adam at ``p["lr"]`` for ``baseline_epochs`` epochs in batches of ``baseline_batch_size``.

    Args:
        p: the preset (a :class:`papers.specs.PenaltySpec` from :data:`PRESETS` or a mapping of
            its settings); ``dataset``, ``n_val``, ``n_ref``, ``width``, ``lr``,
            ``baseline_epochs`` and ``baseline_batch_size`` are read.
        split: ``"val"`` (a penalty baseline) or ``"ref"`` (a measuring baseline).
        seed: the seed of the initial weights and the batch order (the runs use 1000 + j for the
            penalty's baselines, 2000 + j for the measuring ones).

    Returns:
        The trained network.
    """
    key = {**_baseline_key(p), "split": split, "seed": seed}
    splits = load_splits(p["dataset"], p["n_val"], p["n_ref"])

    def fit(net: nn.Module, train_dir: Any) -> dict[str, Any]:
        train(net, getattr(splits, split), epochs=p["baseline_epochs"],
              batch_size=p["baseline_batch_size"], optimizer="adam", lr=p["lr"], seed=seed,
              checkpoint_dir=train_dir, progress=False)
        return {"test_acc": evaluate(net, splits.test)["acc"]}

    net, _ = cached_model(f"BJ-penalty-baseline-{p['dataset']}", key,
                          lambda: build_model(p, seed), fit)
    return net


@functools.lru_cache(maxsize=8)
def _reference_effects(key: str, p_items: tuple, split: str, idx: tuple[int, ...]
                       ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    p = dict(p_items)
    splits = load_splits(p["dataset"], p["n_val"], p["n_ref"])
    x, y = getattr(splits, split)
    sel = torch.as_tensor(idx)
    nets = ([train_baseline(p, "ref", 2000 + j) for j in range(p["k_eval"])] if key == "eval"
            else [train_baseline(p, "val", 1000 + j) for j in range(p["k_pen"])])
    out = [explain(b, x[sel], masker_for(p), targets=y[sel]) for b in nets]
    return [(e.result.and_effects, e.result.or_effects) for e in out]


def _split_strengths(model: nn.Module, masker: Any, x: torch.Tensor, y: torch.Tensor,
                     idx: tuple[int, ...], reference: tuple) -> tuple[Any, Any, Any, torch.Tensor]:
    """(total, generalizable, non-generalizable) strengths of ``model`` on samples ``idx`` of
    (x, y), judged against the cached reference effects ``reference`` (arguments of
    :func:`_reference_effects` but the indices), and the salience threshold τ used."""
    mine = explain(model, x[list(idx)], masker, targets=y[list(idx)]).result
    base = _reference_effects(*reference, idx)
    tau = dist.tau_from_values(mine.values)
    return (*dist.generalizable_strengths(mine.and_effects, mine.or_effects, base, tau), tau)


def _measure(model: nn.Module, p: Mapping[str, Any], splits: Splits, train_idx: torch.Tensor
             ) -> dict[str, Any]:
    """Generalizable share on held-out test samples and the penalty's non-gen L1 on training
    samples (see the module docstring)."""
    masker = masker_for(p)
    items = tuple(sorted((k, v) for k, v in p.items() if isinstance(v, (int, float, str))))
    out: dict[str, Any] = {}
    tot, gen, non, tau = _split_strengths(model, masker, *splits.test, tuple(range(p["n_eval"])),
                                          ("eval", items, "test"))
    s_tot, s_gen = float(tot.total().sum()), float(gen.total().sum())
    out.update(heldout_share=s_gen / s_tot if s_tot > 0 else float("nan"),
               heldout_strength=s_tot, heldout_non_strength=s_tot - s_gen,
               heldout_tau=float(tau), curve_total=torch.stack([tot.plus, tot.minus]),
               curve_gen=torch.stack([gen.plus, gen.minus]),
               curve_non=torch.stack([non.plus, non.minus]))
    # training samples of this model, against the penalty's baseline (what the penalty sees)
    pidx = tuple(int(i) for i in train_idx[: p["n_eval"]])
    t2, g2, _, _ = _split_strengths(model, masker, *splits.pool, pidx, ("pen", items, "pool"))
    s2, g2s = float(t2.total().sum()), float(g2.total().sum())
    out.update(train_share_pen=g2s / s2 if s2 > 0 else float("nan"), train_strength=s2,
               train_non_strength_pen=s2 - g2s)
    return out


def run_key(p: Mapping[str, Any], setting: str, seed: int, lam: float) -> dict[str, Any]:
    r"""The cache params of :func:`run_one` (also for ``show_provenance``).

    Args:
        p: the preset (a :class:`papers.specs.PenaltySpec` from :data:`PRESETS` or a mapping of
            its settings).
        setting: ``"full"`` (``n_full`` samples of the pool, None = all of it) or ``"scarce"``
            (``n_scarce`` samples of it).
        seed: the seed of the target's weights, subset and batch order.
        lam: the penalty weight :math:`\lambda` (0: plain cross-entropy).

    Returns:
        A dict of the settings that name the run (``per_batch`` is 0 when ``lam`` = 0; ``k_pen``
        stays, since the training share is measured against the penalty's baselines;
        ``n_train``, the pool size of the setting, None = the whole pool).

    Raises:
        ValueError: an unknown ``setting``.
    """
    if setting not in ("full", "scarce"):
        raise ValueError(f"setting must be 'full' or 'scarce', got {setting!r}")
    return {**_split_key(p), "setting": setting, "seed": seed, "lam": float(lam),
            "per_batch": p["per_batch"] if lam > 0 else 0, "k_pen": p["k_pen"],
            "n_train": _n_train(p, setting), **_model_key(p),
            "epochs": p["epochs"][setting], "batch_size": p["batch_size"][setting],
            **{k: p[k] for k in ("baseline_epochs", "baseline_batch_size", "lr",
                                 "n_eval", "k_eval")}}


def run_one(p: Mapping[str, Any], setting: str, seed: int, lam: float,
            recompute: bool = False) -> dict[str, Any]:
    r"""Train one target model and measure it (cached under ``BJ_penalty_<dataset>``).

    The target trains with Adam on a seeded subset of the pool (``n_full`` or ``n_scarce``
    images) with
    cross-entropy plus, when ``lam`` > 0, the penalty :math:`\lambda \sum_S |I^{\text{non}}_S|`
    against ``k_pen`` baselines trained on the validation split (Conventions page, eq-penalty).

    Args:
        p: the preset (a :class:`papers.specs.PenaltySpec` from :data:`PRESETS` or a mapping of
            its settings).
        setting: ``"full"`` or ``"scarce"``.
        seed: the seed of the target's weights, subset and batch order.
        lam: the penalty weight :math:`\lambda`; 0 trains with plain cross-entropy.
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).

    Returns:
        A dict: ``setting``, ``seed``, ``lam``, ``test_acc``, ``train_acc`` (on the samples it
        trained on), ``test_acc_curve`` and ``extra_curve`` (per epoch; the penalty term),
        ``train_time_s``; on held-out test samples ``heldout_share``, ``heldout_strength``,
        ``heldout_non_strength``, ``heldout_tau`` and the curves ``curve_total``, ``curve_gen``,
        ``curve_non`` (:math:`A^{(m),+}` and :math:`A^{(m),-}` stacked, :math:`(2, n+1)`); on
        training samples, against the penalty's baselines, ``train_share_pen``,
        ``train_strength`` and ``train_non_strength_pen``.

    Raises:
        ValueError: an unknown ``setting``.
    """
    key = run_key(p, setting, seed, lam)

    def compute() -> dict[str, Any]:
        splits = load_splits(p["dataset"], p["n_val"], p["n_ref"])
        net = build_model(p, seed)
        extra = None
        if lam > 0:
            bases = [train_baseline(p, "val", 1000 + j) for j in range(p["k_pen"])]
            cache = _PEN_CACHE.setdefault(
                repr(sorted({**_baseline_key(p), "n_players": p["n_players"],
                             "k_pen": p["k_pen"]}.items())), {})
            extra = NonGeneralizablePenalty(bases, masker_for(p), lam=lam,
                                            per_batch=p["per_batch"], cache=cache)
        t0 = time.perf_counter()
        hist = train(net, splits.pool, test_set=splits.test, epochs=p["epochs"][setting],
                     batch_size=p["batch_size"][setting], optimizer="adam", lr=p["lr"], seed=seed,
                     subset=_n_train(p, setting), extra_loss=extra,
                     progress=False)
        train_s = time.perf_counter() - t0
        net.eval()
        sub = torch.as_tensor(hist.subset) if hist.subset is not None else torch.arange(
            len(splits.pool[1]))
        rec = hist.records
        return {"setting": setting, "seed": seed, "lam": float(lam),
                "test_acc": evaluate(net, splits.test)["acc"],
                "train_acc": evaluate(net, (splits.pool[0][sub], splits.pool[1][sub]))["acc"],
                "test_acc_curve": torch.tensor([r["test_acc"] for r in rec]),
                "extra_curve": torch.tensor([r.get("train_extra_loss", 0.0) for r in rec]),
                "train_time_s": train_s, **_measure(net, p, splits, sub)}

    return results.cached(f"BJ_penalty_{p['dataset']}", key, compute, recompute=recompute)


def run_all(p: Mapping[str, Any], progress: bool = False) -> list[dict[str, Any]]:
    r"""Every (setting, seed, :math:`\lambda \in \{0\} \cup` ``lams``) run of the preset ``p``
    (:func:`run_one`).

    Args:
        p: the preset (a :class:`papers.specs.PenaltySpec` from :data:`PRESETS` or a mapping of
            its settings); ``settings``, ``seeds`` and ``lams`` are iterated.
        progress: print one line per run (its test accuracy and seconds); default False.

    Returns:
        The results of :func:`run_one`, in the order setting, seed, :math:`\lambda`.
    """
    out = []
    for setting in p["settings"]:
        for seed in p["seeds"]:
            for lam in [0.0, *p["lams"]]:
                t0 = time.perf_counter()
                out.append(run_one(p, setting, seed, lam))
                if progress:
                    print(f"{setting} seed {seed} λ={lam:g}: acc {out[-1]['test_acc']:.4f} "
                          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def lam_label(lam: float) -> str:
    r"""The book's label of a run's :math:`\lambda`: ``"plain"`` for 0, else ``"λ=<lam>"``.

    Args:
        lam: the penalty weight.

    Returns:
        The label.
    """
    return "plain" if lam == 0 else f"λ={lam:g}"


def mean_sd(x: Sequence[float]) -> tuple[float, float]:
    r"""Mean and sample standard deviation of some numbers.

    Args:
        x: the numbers (at least one).

    Returns:
        ``(mean, sd)``, the sd with ``ddof=1`` (0 for a single value).
    """
    a = np.asarray(x, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


#: the metrics of a run that :func:`summarize` averages over seeds.
METRICS = ("test_acc", "train_acc", "heldout_share", "heldout_strength", "heldout_non_strength",
           "train_share_pen", "train_non_strength_pen")


def summarize(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    r"""One row per (setting, :math:`\lambda`): mean and sd over seeds of every metric of
    :data:`METRICS`, plus the paired difference to :math:`\lambda = 0` (same seed) of accuracy
    and held-out share.

    Args:
        runs: results of :func:`run_one` (e.g. :func:`run_all`).

    Returns:
        A list of dicts sorted by setting and :math:`\lambda`: ``setting``, ``lam``, ``seeds``,
        each metric ``m`` and ``m_sd``, and ``d_test_acc``, ``d_heldout_share`` with their
        ``_sd`` (NaN when no :math:`\lambda = 0` run shares a seed).
    """
    rows = []
    keys = sorted({(r["setting"], float(r["lam"])) for r in runs}, key=lambda k: (k[0], k[1]))
    for setting, lam in keys:
        sel = sorted((r for r in runs if r["setting"] == setting and float(r["lam"]) == lam),
                     key=lambda r: r["seed"])
        plain = {r["seed"]: r for r in runs if r["setting"] == setting and float(r["lam"]) == 0}
        row: dict[str, Any] = {"setting": setting, "lam": lam, "seeds": len(sel)}
        for m in METRICS:
            row[m], row[f"{m}_sd"] = mean_sd([float(r[m]) for r in sel])
        for m in ("test_acc", "heldout_share"):
            d = [float(r[m]) - float(plain[r["seed"]][m]) for r in sel if r["seed"] in plain]
            row[f"d_{m}"], row[f"d_{m}_sd"] = mean_sd(d) if d else (math.nan, math.nan)
        rows.append(row)
    return rows


def verdicts(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    r"""Per (setting, :math:`\lambda > 0`): does the penalty raise test accuracy / the held-out
    generalizable share beyond the seed spread?

    Rule: mean(pen) − mean(plain) > sd(pen) + sd(plain) (the mean ± sd intervals do not
    overlap).

    Args:
        rows: the rows of :func:`summarize`; every setting needs its :math:`\lambda = 0` row.

    Returns:
        One dict per penalised row: ``setting``, ``lam``, ``seeds`` (the fewer of the two), and
        for ``test_acc`` and ``heldout_share`` the difference ``"<m>: pen − plain"``, the spread
        ``"<m>: sd(pen) + sd(plain)"`` and the verdict ``"<m> improved"``.

    Raises:
        StopIteration: a setting without a :math:`\lambda = 0` row.
    """
    out = []
    for r in rows:
        if r["lam"] == 0:
            continue
        base = next(b for b in rows if b["setting"] == r["setting"] and b["lam"] == 0)
        v: dict[str, Any] = {"setting": r["setting"], "lam": r["lam"],
                             "seeds": min(r["seeds"], base["seeds"])}
        for m in ("test_acc", "heldout_share"):
            diff = r[m] - base[m]
            spread = r[f"{m}_sd"] + base[f"{m}_sd"]
            v[f"{m}: pen − plain"] = diff
            v[f"{m}: sd(pen) + sd(plain)"] = spread
            v[f"{m} improved"] = bool(diff > spread)
        out.append(v)
    return out

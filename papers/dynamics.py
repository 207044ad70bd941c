r"""Paper B Fig. 3 and Fig. 9: interactions through training, and Theorem 3.1 across checkpoints.

:func:`run_dynamics` trains one *target* model (a small subset of the MNIST training split, 1 %
label noise, Adam; Conventions page, conventions-protocol-b) and keeps its weights at chosen
epochs, through the normal-learning phase and into the over-fitting phase. At every checkpoint it
records the values :math:`v(x_T)` of all :math:`2^n` coalitions of the same training samples and
players (feature-map patches, zero baseline, reward the log-odds of the true label, Conventions
page, eq-reward; as :mod:`papers.generalizable`), and the AND-OR effects (exact LP, Conventions
page, eq-sparsest). The :math:`k` *baseline* models trained on the test split are those of
:func:`papers.generalizable.train_model` (shared weights with Fig. 2).

Analysis (cheap, not cached):

* :func:`checkpoint_curves` — :math:`A^{(m),\pm}` total / generalizable / non-generalizable per
  checkpoint (Conventions page, eq-gen-non), normalised by
  :math:`Z = \mathbb{E}_x \sum_{S \text{ salient},\, |S|=1} |I_S|` of that checkpoint
  (Conventions page, eq-normaliser; paper B K.3);
* :func:`phase_boundary` — the end of the normal-learning phase: the epoch of minimal test loss
  (after it the train/test loss gap opens);
* :func:`disentangle_checkpoints` — decay + spindle fits (paper B eq. 10; Conventions page,
  conventions-distributions) of each checkpoint with :math:`I^*` = the final checkpoint's
  interactions; ``spindle_share`` = Σ|spindle| / Σ(|decay| + |spindle|);
* :func:`theorem_predictions` — Fig. 9: for each checkpoint, the best :math:`\delta` (and scale
  :math:`\gamma`) such that :math:`A_{\text{decay}}(M(\delta) I^*)` matches the measured curve
  (Conventions page, eq-decay), with the relative error, against the :math:`\delta \to 0`
  prediction (:math:`I^*` itself, only rescaled) as a reference;
* :func:`rises_after` and :func:`spearman` — whether a per-checkpoint number rises after the
  phase boundary.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from ibn._progress import tqdm
from ibn import distributions as dist
from ibn import games as ibn_games
from ibn import results
from ibn.and_or import extract
from ibn.distributions import Strengths
from papers import generalizable as G
from papers.specs import DynamicsSpec, Training
from ibn.maskers import FeatureMapMasker
from ibn.model_store import cached_model, checkpoint
from ibn.models import build
from ibn.train import evaluate, train

__all__ = ["run_dynamics", "dynamics_name", "checkpoint_curves", "phase_boundary", "disentangle_checkpoints",
           "theorem_predictions", "fit_decay_to_curve", "rises_after", "spearman", "PRESETS"]

_BASE = {"lr": 2e-3, "batch_size": 50, "label_noise": 0.0}
#: Settings of Fig. 3 / Fig. 9 per scale (:class:`papers.specs.DynamicsSpec`; shared by
#: ``B3_dynamics`` and ``B9_theorem``, so that both read the same cached result). Small batches
#: give many steps per epoch, so the batch-norm running statistics of early checkpoints are
#: already meaningful in eval mode. The baselines are trained by
#: :func:`papers.generalizable.train_model` like Fig. 2's (weights are shared with
#: ``B2_distributions`` only where the settings coincide).
PRESETS: dict[str, DynamicsSpec] = {
    "smoke": DynamicsSpec(n_players=5, n_samples=2, n_eval=200, k=1, checkpoints=(1, 2, 4),
                          target=Training(n_train=64, epochs=4, lr=1e-3, batch_size=8,
                                          label_noise=0.01),
                          baseline=Training(n_train=128, epochs=2, **_BASE)),
    # book: paper B's n, samples and k; VGG-11 without BatchNorm, whose test loss turns up
    # once it starts to fit the flipped labels (a BatchNorm ResNet-20 on such subsets kept its
    # test loss flat for 40-60 epochs); 2 000 training images, so that 2 cores finish it
    "book": DynamicsSpec(n_players=10, n_samples=50, n_eval=1000, k=3,
                         checkpoints=(1, 3, 6, 10, 15, 20, 26, 32, 38, 44),
                         target=Training(n_train=2000, epochs=44, lr=1e-4, batch_size=50,
                                         label_noise=0.01),
                         baseline=Training(n_train=3000, epochs=8, lr=1e-4, batch_size=50),
                         model="vgg11_plain"),
    "paper": DynamicsSpec(n_players=10, n_samples=50, n_eval=10000, k=3,
                          checkpoints=(1, 2, 3, 5, 8, 12, 20, 30, 50, 75, 100),
                          target=Training(n_train=60000, epochs=100, lr=1e-4, batch_size=50,
                                          label_noise=0.01),
                          baseline=Training(n_train=10000, epochs=30, lr=1e-4, batch_size=50),
                          model="vgg11_plain"),
}


def run_dynamics(params: Mapping[str, Any], *, recompute: bool = False,
                 progress: bool = False) -> dict[str, Any]:
    r"""Train with checkpoints, record games and AND-OR effects per checkpoint (cached).

    The target trains on a seeded subset of the training split with label noise; at each
    checkpoint the values of all coalitions of the same ``n_samples`` training samples (clean
    labels, classified correctly by the final model) are recorded, with the baselines' values on
    the same samples and players, and all are decomposed together (:func:`ibn.and_or.extract`,
    ``solver="lp"``, noise bound 0.02; Conventions page, eq-sparsest, eq-noise-bound). The
    result is cached under the name :func:`dynamics_name`.

    Args:
        params: the settings (a preset of :data:`PRESETS` plus the setup): ``model``,
            ``dataset`` (``"mnist"``), ``seed``, ``n_players``, ``n_samples``, ``n_eval`` (test
            images for the loss curve), ``k`` (baselines), ``checkpoints`` (epochs; the last must
            be the last epoch), ``target`` (``n_train``, ``epochs``, ``lr``, ``batch_size``,
            ``label_noise``), ``baseline`` (as :func:`papers.generalizable.train_model`),
            ``scale`` (recorded only).
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).
        progress: a progress bar over the checkpoints while their games are played (not part of
            the cache key).

    Returns:
        A dict: ``epochs`` (per-epoch history), ``train_loss``/``test_loss``/``train_acc``/
        ``test_acc`` per epoch, ``ckpt_epochs``, ``ckpt_train_loss``/``ckpt_test_loss`` (eval mode;
        the training loss on the noisy labels), ``values`` :math:`(C, N, 2^n)`,
        ``and``/``or`` :math:`(C, N, 2^n)`, ``baseline_and``/``baseline_or`` :math:`(k, N, 2^n)`
        (the baselines' effects; their games are not kept), ``extractor``, ``indices``,
        ``labels``, ``players`` (the feature-map cells of each sample) and ``n_flipped``
        (training labels flipped by the noise).

    Raises:
        ValueError: the last checkpoint is not the last epoch.
    """
    p = dict(params)
    return results.cached(dynamics_name(p), p,
                          lambda: _compute(p, progress=progress), recompute=recompute)


def dynamics_name(params: Mapping[str, Any]) -> str:
    r"""The cache name of :func:`run_dynamics`: ``B3_dynamics_<model>_<dataset>``.

    Args:
        params: the settings of :func:`run_dynamics` (only ``model`` and ``dataset`` are read).

    Returns:
        The name, e.g. ``"B3_dynamics_vgg11_plain_mnist"``.
    """
    return f"B3_dynamics_{G.setup_slug(params)}"


def _compute(p: dict[str, Any], *, progress: bool = False) -> dict[str, Any]:
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    tp = p["target"]
    x_tr, y_tr = G.load_images(p["dataset"], "train")
    x_te, y_te = G.load_images(p["dataset"], "test")
    test = (x_te[:p["n_eval"]], y_te[:p["n_eval"]])
    ckpts = sorted(set(int(e) for e in p["checkpoints"]))
    if ckpts[-1] != tp["epochs"]:
        raise ValueError(f"the last checkpoint must be the last epoch {tp['epochs']}, got {ckpts}")
    def fit(net: torch.nn.Module, train_dir) -> dict[str, Any]:
        hist = train(net, (x_tr, y_tr), test_set=test, epochs=tp["epochs"],
                     batch_size=tp["batch_size"], optimizer="adam", lr=tp["lr"],
                     label_noise=tp["label_noise"], num_classes=10, subset=tp["n_train"],
                     seed=p["seed"], device=dev, checkpoint_dir=train_dir, checkpoint_at=ckpts,
                     progress=False)
        return {"subset": hist.subset, "flipped": hist.flipped, "records": hist.records}

    name = f"dynamics-{p['model']}-{p['dataset']}"
    net, info = cached_model(name, p, lambda: build(p["model"], seed=p["seed"], in_channels=1),
                             fit)
    subset = torch.as_tensor(info["subset"])
    flipped = set(int(i) for i in info["flipped"])
    # the noisy training labels, exactly as the loop built them (same seed)
    from ibn.train import flip_labels

    y_sub = y_tr[subset]
    y_noisy, _ = flip_labels(y_sub, tp["label_noise"], 10, p["seed"]) if tp["label_noise"] > 0 \
        else (y_sub, None)
    bases = [G.train_model(p["model"], p["dataset"], split="test", seed=p["seed"] + 1 + j,
                           device=dev, **p["baseline"])[0] for j in range(p["k"])]
    states = [checkpoint(name, p, e) for e in ckpts]
    net.to(dev)
    # samples: training samples with clean labels that the FINAL model classifies correctly
    clean = torch.as_tensor([int(subset[i]) for i in range(len(subset)) if i not in flipped])
    pred = G._predict(net, x_tr[clean])
    pool = clean[pred == y_tr[clean]].numpy()
    rng = np.random.default_rng(p["seed"])
    idx = np.sort(rng.choice(pool, size=min(p["n_samples"], len(pool)), replace=False))
    maskers = [FeatureMapMasker(grid=8, central=6, n_players=p["n_players"],
                                seed=p["seed"] * 100_003 + int(i)) for i in idx]

    def games_of(model: torch.nn.Module) -> torch.Tensor:
        return torch.stack([ibn_games.all_values(model, x_tr[i], m, target=int(y_tr[i]),
                                                 progress=False) for i, m in zip(idx, maskers)])

    vals, ck_train, ck_test = [], [], []
    for e, st in tqdm(list(zip(ckpts, states)), desc="checkpoints", disable=not progress):
        net.load_state_dict(st)
        net.eval()
        vals.append(games_of(net))
        ck_train.append(evaluate(net, (x_tr[subset], y_noisy), device=dev)["loss"])
        ck_test.append(evaluate(net, test, device=dev)["loss"])
    vals_t = torch.stack(vals)
    bvals = torch.stack([games_of(b) for b in bases])
    both = torch.cat([vals_t, bvals])  # (C + k, N, 2^n)
    eff = extract(both.to(torch.float64), noise_bound=0.02, solver="lp")
    C = len(ckpts)
    rec = info["records"]
    return {
        "epochs": [r["epoch"] for r in rec],
        "train_loss": [r["train_loss"] for r in rec], "test_loss": [r["test_loss"] for r in rec],
        "train_acc": [r["train_acc"] for r in rec], "test_acc": [r["test_acc"] for r in rec],
        "ckpt_epochs": ckpts, "ckpt_train_loss": ck_train, "ckpt_test_loss": ck_test,
        "values": vals_t, "and": eff.and_effects[:C], "or": eff.or_effects[:C],
        "baseline_and": eff.and_effects[C:],
        "baseline_or": eff.or_effects[C:], "extractor": "ibn.and_or.extract(solver='lp')",
        "indices": idx, "labels": y_tr[idx], "players": [m.players for m in maskers],
        "n_flipped": len(flipped),
    }


def checkpoint_curves(res: Mapping[str, Any], k: int | None = None, normalise: bool = True
                      ) -> dict[str, list[Strengths]]:
    r"""Per checkpoint: the sample-averaged strengths :math:`A^{(m),\pm}` (``total``),
    :math:`A^{(m),\pm}_{\text{gen}}` (``gen``) and :math:`A^{(m),\pm}_{\text{non}}` (``non``)
    (Conventions page, eq-gen-non).

    The salience threshold is :math:`\tau = 0.02 \cdot \mathbb{E}_x |v(x_N) - v(x_\emptyset)|`
    of that checkpoint (Conventions page, eq-salient), used for the baselines' :math:`\rho_S` too
    (Conventions page, eq-rho).

    Args:
        res: a result of :func:`run_dynamics`.
        k: the number of baselines used (the first ``k``); None uses all of them.
        normalise: divide every curve by :math:`Z` of that checkpoint (Conventions page,
            eq-normaliser; paper B K.3); default True.

    Returns:
        A dict of lists over the checkpoints: ``total``, ``gen``, ``non`` (:class:`Strengths`),
        ``Z`` (the normalisers; 1.0 without ``normalise`` or when :math:`Z = 0`) and ``tau``.
    """
    kk = res["baseline_and"].shape[0] if k is None else k
    base = [(res["baseline_and"][j], res["baseline_or"][j]) for j in range(kk)]
    out: dict[str, list] = {"total": [], "gen": [], "non": [], "Z": [], "tau": []}
    for c in range(len(res["ckpt_epochs"])):
        a, o = res["and"][c], res["or"][c]
        tau = dist.tau_from_values(res["values"][c])
        tot, gen, non = dist.generalizable_strengths(a, o, base, tau, average=True)
        z = float(dist.normalizer(a, o, tau)) if normalise else 1.0
        z = z if z > 0 else 1.0
        for key, s in (("total", tot), ("gen", gen), ("non", non)):
            out[key].append(s.scaled(z) if normalise else s)
        out["Z"].append(z)
        out["tau"].append(float(tau))
    return out


def phase_boundary(epochs: Sequence[int], test_loss: Sequence[float], smooth: int = 1) -> int:
    r"""End of the normal-learning phase: the (first) epoch of minimal test loss.

    Args:
        epochs: the epochs, one per loss value.
        test_loss: the test loss at those epochs.
        smooth: the width of a centred moving average (shrunk at the ends) applied to the test
            loss first, so that one noisy epoch does not move the boundary; 1 (default) = none.

    Returns:
        The epoch of the (smoothed) minimum.

    Raises:
        ValueError: empty or unequal-length inputs, or ``smooth`` < 1.
    """
    if len(epochs) != len(test_loss) or not len(epochs):
        raise ValueError("epochs and test_loss must be non-empty and of the same length")
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1, got {smooth}")
    t = np.asarray(test_loss, dtype=float)
    h = smooth // 2
    sm = np.array([t[max(0, i - h):i + h + 1].mean() for i in range(len(t))])
    return int(epochs[int(np.argmin(sm))])


def _share(part: Strengths, whole: Strengths) -> float:
    den = float(whole.total()[1:].sum())
    return float(part.total()[1:].sum()) / den if den > 0 else float("nan")


def disentangle_checkpoints(curves: Mapping[str, list], and_star: torch.Tensor,
                            or_star: torch.Tensor) -> list[dict[str, Any]]:
    r"""The disentangling fit (paper B eq. 10; Conventions page, conventions-distributions) of each
    checkpoint's total curve, with :math:`I^*` the final checkpoint's effects.

    Args:
        curves: the output of :func:`checkpoint_curves` (``total``, ``gen``, ``non`` lists).
        and_star: the AND effects :math:`I^{*,\mathrm{AND}}` of the final checkpoint,
            :math:`(N, 2^n)` (``res["and"][-1]`` of :func:`run_dynamics`).
        or_star: its OR effects :math:`I^{*,\mathrm{OR}}`, of the same shape.

    Returns:
        One dict per checkpoint: ``alpha``, ``beta``, ``delta``, ``gamma``, ``r2`` and ``ok`` of
        the fit; ``spindle_share`` = Σ|spindle| / (Σ|decay| + Σ|spindle|) (fit-based, orders
        :math:`\ge 1`); ``non_share`` = Σ|A_non| / Σ|A| (baseline-based); and ``fit``, the
        :class:`~ibn.distributions.DisentangleResult`.
    """
    rows = []
    for tot, gen, non in zip(curves["total"], curves["gen"], curves["non"]):
        fit = dist.disentangle(tot, and_star, or_star, on_failure="ignore")
        theory_total = float(fit.decay.total()[1:].sum() + fit.spindle.total()[1:].sum())
        rows.append({"alpha": fit.alpha, "beta": fit.beta, "delta": fit.delta, "gamma": fit.gamma,
                     "r2": fit.r2, "ok": fit.ok,
                     "spindle_share": float(fit.spindle.total()[1:].sum()) / theory_total
                     if theory_total > 0 else float("nan"),
                     "non_share": _share(non, tot), "fit": fit})
    return rows


def fit_decay_to_curve(measured: Strengths, model: dist.DecayModel,
                       log10_delta_bounds: tuple[float, float] | None = None, grid: int = 60
                       ) -> dict[str, float]:
    r"""The Theorem 3.1 prediction closest to a measured curve (Conventions page, eq-decay).

    Minimises over :math:`\delta` and :math:`\gamma \ge 0`
    :math:`\sum_{m \ge 1} \sum_\pm \bigl(A^{(m),\pm} - \gamma A^{(m),\pm}_{\text{decay}}(\delta)
    \bigr)^2`. :math:`\gamma` is the closed-form non-negative least-squares scale; :math:`\log_{10}
    \delta` is searched on a grid over the identifiable box :math:`[n \log_{10} \lambda_1 - 1,\
    n \log_{10} \lambda_0 + 1]` (:math:`\lambda_0 > \lambda_1` the eigenvalues
    ``ibn.distributions.EIGENVALUES``) and refined by bounded Brent.

    Args:
        measured: the measured curve (:class:`Strengths` over orders :math:`0, \dots, n`).
        model: the decay of the reference interactions :math:`I^*`
            (:class:`ibn.distributions.DecayModel`).
        log10_delta_bounds: ``(lo, hi)`` bounds of :math:`\log_{10} \delta` instead of the
            identifiable box, or None.
        grid: the number of grid points of the search (default 60).

    Returns:
        A dict: ``delta``, ``log10_delta``, ``gamma``, ``rel_err``
        :math:`= \lVert A - A_{\text{pred}} \rVert / \lVert A \rVert` (orders :math:`1, \dots, n`,
        both signs), ``pred`` (the prediction, a :class:`Strengths` with order 0 set to 0) and
        ``at_bound`` (whether the optimum lies at an end of the box).

    Raises:
        ValueError: the measured curve is all zero.
    """
    n = measured.n
    lam0, lam1 = (float(v) for v in dist.EIGENVALUES)
    lo, hi = log10_delta_bounds or (n * math.log10(lam1) - 1.0, n * math.log10(lam0) + 1.0)
    y = torch.cat((measured.plus[1:], measured.minus[1:])).double().cpu().numpy()
    yy = float(y @ y)
    if yy == 0:
        raise ValueError("measured curve is all zero")

    def col(ld: float) -> np.ndarray:
        s = model.strengths(10.0 ** ld)
        return torch.cat((s.plus[1:], s.minus[1:])).cpu().numpy()

    def ssr(ld: float) -> tuple[float, float]:
        d = col(ld)
        dd, dy = float(d @ d), float(d @ y)
        g = max(dy / dd, 0.0) if dd > 0 else 0.0
        return float(((y - g * d) ** 2).sum()), g

    lds = np.linspace(lo, hi, grid)
    vals = np.array([ssr(ld)[0] for ld in lds])
    i = int(np.argmin(vals))
    res = minimize_scalar(lambda ld: ssr(ld)[0], bounds=(lds[max(i - 1, 0)], lds[min(i + 1, grid - 1)]),
                          method="bounded", options={"xatol": 1e-6})
    ld = float(res.x) if res.fun < vals[i] else float(lds[i])
    f, g = ssr(ld)
    s = model.strengths(10.0 ** ld, gamma=g)
    pred = Strengths(s.plus.clone(), s.minus.clone())
    pred.plus[0] = pred.minus[0] = 0.0
    return {"delta": 10.0 ** ld, "log10_delta": ld, "gamma": g,
            "rel_err": math.sqrt(f / yy), "pred": pred,
            "at_bound": bool(min(ld - lo, hi - ld) < 1e-3 * (hi - lo))}


def theorem_predictions(curves: Mapping[str, list], and_star: torch.Tensor, or_star: torch.Tensor
                        ) -> list[dict[str, Any]]:
    r"""Fig. 9: per checkpoint, the Theorem 3.1 fit and the :math:`\delta \to 0` reference.

    The fit is :func:`fit_decay_to_curve` on the checkpoint's total (normalised) curve; the
    reference is the same fit with :math:`\delta` pinned near 0, i.e. :math:`\gamma \cdot A(I^*)`
    with all interactions (Conventions page, eq-decay).

    Args:
        curves: the output of :func:`checkpoint_curves` (its ``total`` list is used).
        and_star: the AND effects of the final checkpoint, :math:`(N, 2^n)`.
        or_star: its OR effects, of the same shape.

    Returns:
        One dict per checkpoint: the keys of :func:`fit_decay_to_curve`, plus
        ``rel_err_identity`` and ``pred_identity`` (the reference's relative error and curve).
    """
    model = dist.DecayModel(and_star, or_star)
    n = curves["total"][0].n
    tiny = (n * math.log10(float(dist.EIGENVALUES[1])) - 6.0,) * 2
    rows = []
    for tot in curves["total"]:
        fit = fit_decay_to_curve(tot, model)
        ref = fit_decay_to_curve(tot, model, log10_delta_bounds=(tiny[0], tiny[0] + 1e-9), grid=2)
        rows.append({**fit, "rel_err_identity": ref["rel_err"], "pred_identity": ref["pred"]})
    return rows


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    r"""Spearman rank correlation of two sequences (average ranks for ties).

    Args:
        x: the first sequence of numbers.
        y: the second, of the same length.

    Returns:
        The correlation; NaN with fewer than 3 points or a constant sequence.

    Raises:
        ValueError: ``x`` and ``y`` differ in length.
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(a) != len(b):
        raise ValueError("x and y must have the same length")
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def rises_after(values: Sequence[float], epochs: Sequence[int], boundary: int
                ) -> dict[str, float]:
    r"""Whether a per-checkpoint number rises after the phase boundary.

    Args:
        values: one number per checkpoint (e.g. ``non_share`` of
            :func:`disentangle_checkpoints`).
        epochs: the checkpoints' epochs, the same length as ``values``.
        boundary: the last epoch of the normal-learning phase (:func:`phase_boundary`).

    Returns:
        A dict: ``before`` (mean of ``values`` at checkpoints ≤ ``boundary``, normal learning),
        ``after`` (mean after it, over-fitting; NaN for an empty side), ``rise`` = after − before,
        and ``spearman_epoch``, the rank correlation of ``values`` with the epoch (NaN with fewer
        than 3 checkpoints or constant values).
    """
    v = np.asarray(values, dtype=float)
    e = np.asarray(epochs)
    before, after = v[e <= boundary], v[e > boundary]
    mb = float(before.mean()) if before.size else float("nan")
    ma = float(after.mean()) if after.size else float("nan")
    rank_v = np.argsort(np.argsort(v))
    rank_e = np.argsort(np.argsort(e))
    rho = float(np.corrcoef(rank_v, rank_e)[0, 1]) if len(v) > 2 and v.std() > 0 else float("nan")
    return {"before": mb, "after": ma, "rise": ma - mb, "spearman_epoch": rho}

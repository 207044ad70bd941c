"""Paper B Fig. 3 and Fig. 9: interactions through training, and Theorem 3.1 across checkpoints.

:func:`run_dynamics` trains one *target* model (a small subset of the MNIST training split, 1 %
label noise, Adam; Conventions page, conventions-protocol-b) and keeps its weights at chosen epochs,
through the normal-learning phase and into the over-fitting phase. At every checkpoint it records
the values v(x_T) of all 2^n coalitions of the same training samples and players (feature-map
patches, zero baseline, reward = log-odds of the true label; as
:mod:`papers.generalizable`), and the AND-OR effects (exact LP, Conventions page,
eq-sparsest). The k *baseline* models trained on the test split are those of
:func:`papers.generalizable.train_model` (shared weights with Fig. 2).

Analysis (cheap, not cached):

* :func:`checkpoint_curves` — A^(m),± total / generalizable / non-generalizable per checkpoint
  (Conventions page, eq-gen-non), normalised by Z = E_x Σ_{salient, |S|=1} |I_S| of that checkpoint
  (paper B K.3);
* :func:`phase_boundary` — the end of the normal-learning phase: the epoch of minimal test loss
  (after it the train/test loss gap opens);
* :func:`disentangle_checkpoints` — decay + spindle fits (eq. 10) of each checkpoint with I* =
  the final checkpoint's interactions; ``spindle_share`` = Σ|spindle| / Σ(|decay| + |spindle|);
* :func:`theorem_predictions` — Fig. 9: for each checkpoint, the best δ (and scale γ) such that
  A_decay(M(δ) I*) matches the measured curve, with the relative error, against the δ → 0
  prediction (I* itself, only rescaled) as a reference.
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
    "book": DynamicsSpec(n_players=8, n_samples=6, n_eval=500, k=3,
                         checkpoints=(1, 2, 3, 5, 8, 12, 17, 23, 30),
                         target=Training(n_train=300, epochs=30, lr=1e-3, batch_size=15,
                                         label_noise=0.01),
                         baseline=Training(n_train=400, epochs=6, **_BASE)),
    "paper": DynamicsSpec(n_players=10, n_samples=50, n_eval=10000, k=3,
                          checkpoints=(1, 2, 3, 5, 8, 12, 20, 30, 50, 75, 100),
                          target=Training(n_train=2000, epochs=100, lr=1e-3, batch_size=50,
                                          label_noise=0.01),
                          baseline=Training(n_train=10000, epochs=30, **_BASE)),
}


def run_dynamics(params: Mapping[str, Any], *, recompute: bool = False,
                 progress: bool = False) -> dict[str, Any]:
    """Train with checkpoints, record games and AND-OR effects per checkpoint (cached).

    ``params``: ``model``, ``dataset`` (``"mnist"``), ``seed``, ``n_players``, ``n_samples``,
    ``n_eval`` (test images for the loss curve), ``k`` (baselines), ``checkpoints`` (epochs),
    ``target`` (``n_train``, ``epochs``, ``lr``, ``batch_size``, ``label_noise``), ``baseline``
    (as :func:`papers.generalizable.train_model`), ``scale`` (recorded only).
    Result keys: ``epochs`` (per-epoch history), ``train_loss``/``test_loss``/``train_acc``/
    ``test_acc`` per epoch, ``ckpt_epochs``, ``ckpt_train_loss``/``ckpt_test_loss`` (eval mode),
    ``values`` (C, N, 2^n), ``and``/``or`` (C, N, 2^n), ``baseline_values``/``baseline_and``/
    ``baseline_or`` (k, N, 2^n), ``indices``, ``labels``, ``players``. ``progress``: a
    progress bar over the checkpoints while their games are played (not part of the cache key).
    """
    p = dict(params)
    return results.cached(dynamics_name(p), p,
                          lambda: _compute(p, progress=progress), recompute=recompute)


def dynamics_name(params: Mapping[str, Any]) -> str:
    """The cache name of :func:`run_dynamics`: ``B3_dynamics_<model>_<dataset>``."""
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
        "baseline_values": bvals, "baseline_and": eff.and_effects[C:],
        "baseline_or": eff.or_effects[C:], "extractor": "ibn.and_or.extract(solver='lp')",
        "indices": idx, "labels": y_tr[idx], "players": [m.players for m in maskers],
        "n_flipped": len(flipped),
    }


def checkpoint_curves(res: Mapping[str, Any], k: int | None = None, normalise: bool = True
                      ) -> dict[str, list[Strengths]]:
    """Per checkpoint: sample-averaged A (``total``), A_gen (``gen``), A_non (``non``)
    (Conventions page, eq-gen-non).

    τ = 0.02·E_x|v(x_N) − v(x_∅)| of that checkpoint (used for the baselines' ρ too). With
    ``normalise`` every curve is divided by Z of that checkpoint (paper B K.3); ``Z`` lists them.
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
    """End of the normal-learning phase: the (first) epoch of minimal test loss.

    With ``smooth`` > 1 the test loss is first averaged over a centred window of that many
    epochs (shrunk at the ends), so that one noisy epoch does not move the boundary.
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
    """Eq. 10 per checkpoint (I* = the final checkpoint's effects): parameters, R², shares.

    ``non_share`` = Σ|A_non| / Σ|A| (baseline-based); ``spindle_share`` = Σ|spindle| /
    (Σ|decay| + Σ|spindle|) (fit-based); ``fit`` holds the :class:`DisentangleResult`.
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
    """min over δ, γ ≥ 0 of Σ_m Σ_± (A^(m),± − γ A_decay^(m),±(δ))² (Theorem 3.1 prediction).

    γ is the closed-form non-negative least-squares scale; log10 δ is searched on a grid over the
    identifiable box [n·log10 λ_1 − 1, n·log10 λ_0 + 1] and refined by bounded Brent. Returns
    ``delta``, ``gamma``, ``rel_err`` = ‖A − A_pred‖ / ‖A‖ (orders 1..n, both signs) and the
    prediction as ``pred`` (a :class:`Strengths`).
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
    """Fig. 9: per checkpoint, the Theorem 3.1 fit (:func:`fit_decay_to_curve` on the total
    normalised curve) and the δ → 0 reference (γ·A(I*) with all interactions, rel. error)."""
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
    """Spearman rank correlation of two sequences (average ranks for ties); NaN if constant."""
    from scipy.stats import spearmanr

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(a) != len(b):
        raise ValueError("x and y must have the same length")
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def rises_after(values: Sequence[float], epochs: Sequence[int], boundary: int
                ) -> dict[str, float]:
    """Mean of ``values`` at checkpoints ≤ ``boundary`` (normal learning) and after it
    (over-fitting), their difference, and the Spearman correlation with the epoch."""
    v = np.asarray(values, dtype=float)
    e = np.asarray(epochs)
    before, after = v[e <= boundary], v[e > boundary]
    mb = float(before.mean()) if before.size else float("nan")
    ma = float(after.mean()) if after.size else float("nan")
    rank_v = np.argsort(np.argsort(v))
    rank_e = np.argsort(np.argsort(e))
    rho = float(np.corrcoef(rank_v, rank_e)[0, 1]) if len(v) > 2 and v.std() > 0 else float("nan")
    return {"before": mb, "after": ma, "rise": ma - mb, "spearman_epoch": rho}

r"""Paper B Figs. 5, 7, 13: interactions that newly emerge under noise (paper B eq. 19;
Conventions page, eq-emerged).

A trained target model of :mod:`papers.generalizable` (its samples, players and :math:`k`
baselines, from :func:`~papers.generalizable.run_games`) is perturbed in two ways:

* **parameter noise**: :math:`\mathcal{N}(0, \sigma^2)` added to every parameter
  (:func:`perturb_parameters`; BatchNorm running statistics are buffers, not parameters, and
  stay), several seeded draws per :math:`\sigma`; draw :math:`d` uses the same standard-normal
  direction at every :math:`\sigma` (common random numbers), so a sweep scales one perturbation;
* **FGSM** on the input: :math:`x + \epsilon \cdot \operatorname{sign}(\nabla_x v(x))` with
  :math:`v` the log-odds of the true label (Conventions page, eq-fgsm; :func:`fgsm`,
  ``direction=+1``). That step *raises* :math:`v`; the usual adversarial step lowers it
  (``direction=-1``, kind ``"fgsm_attack"``), run as well.

At every level the values :math:`v(x_T)` of all :math:`2^n` coalitions are recomputed on the
same samples with the same players (feature-map patches), the AND-OR interactions extracted
with :func:`ibn.and_or.extract` (exact, default solver; Conventions page, eq-sparsest), and
:func:`run_noise` caches them. The analysis (:func:`level_rows`) gives per level:
:math:`\Delta I = I - I_{\text{noise}}`, :math:`\Delta A^{(m),\pm}` (Conventions page,
eq-emerged; :func:`ibn.distributions.emerged_strengths`), a spindle fit of :math:`\Delta A`
(:func:`fit_spindle`, paper B eq. 7; Conventions page, eq-spindle), the relative change of the
generalizable curve :math:`A_{\text{gen}}` (:math:`k` baselines' :math:`\hat\rho_S`,
Conventions page, eq-rho and eq-gen-non) and of the decay part of the paper B eq. 10 fit
(Conventions page, conventions-distributions), and the noisy model's accuracy.
:func:`spindle_verdict` and :func:`stays_put_verdict` turn the rows into the chapter's claims.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from torch import nn

from ibn import distributions as dist
from ibn import results
from ibn.and_or import extract
from ibn.distributions import Strengths
from papers import generalizable as G
from papers.specs import NoiseSpec
from ibn.games import all_values
from ibn.train.robustness import fgsm
from ibn.maskers import FeatureMapMasker

__all__ = ["KINDS", "PRESETS", "perturb_parameters", "fgsm", "game_values", "accuracy",
           "noise_key", "noise_name", "run_noise", "noise_levels", "SpindleFit", "fit_spindle", "relative_change", "level_rows",
           "spindle_verdict", "stays_put_verdict", "R2_MIN", "GEN_TOL", "MILD_DROP"]

#: the noise kinds: parameter noise, FGSM as in paper B (Conventions page, eq-fgsm; + sign), the
#: adversarial FGSM (− sign).
KINDS = ("params", "fgsm", "fgsm_attack")
#: a level counts as spindle-shaped when the spindle fit of ΔA reaches this R² (and ΔA peaks
#: inside; :func:`spindle_verdict`).
R2_MIN = 0.8
#: the generalizable curve "stays put" when its relative change is at most this.
GEN_TOL = 0.25
#: "mild" levels: the accuracy drops by at most this from the clean model's.
MILD_DROP = 0.10

#: noise settings per scale (:class:`papers.specs.NoiseSpec`); the games' settings are
#: ``generalizable.PRESETS[scale]`` (one cache with B2/B4). ``setups``: (model, dataset) pairs,
#: the first one repeated with every target seed of ``seeds`` (as in B2); ``noise_seed`` seeds
#: the parameter draws.
PRESETS: dict[str, NoiseSpec] = {
    "smoke": NoiseSpec(sigmas=(0.0, 0.01, 0.03), draws=2, epsilons=(0.0, 0.1, 0.3),
                       setups=(("resnet20", "mnist"),), seeds=(0,), noise_seed=0, n_eval=200),
    "book": NoiseSpec(sigmas=(0.0, 0.002, 0.005, 0.01, 0.02), draws=4,
                      epsilons=(0.0, 0.01, 0.03, 0.1, 0.3), setups=G.ALL_SETUPS[:2],
                      seeds=(0, 1), noise_seed=0, n_eval=500),
    "paper": NoiseSpec(sigmas=(0.0, 0.002, 0.005, 0.01, 0.02, 0.05), draws=10,
                       epsilons=(0.0, 0.01, 0.03, 0.1, 0.3), setups=G.ALL_SETUPS,
                       seeds=(0, 1, 2), noise_seed=0, n_eval=2000),
}


# ---------------------------------------------------------------- the two perturbations


def perturb_parameters(model: nn.Module, sigma: float, seed: int) -> nn.Module:
    r"""A copy of ``model`` with :math:`\mathcal{N}(0, \sigma^2)` added to every parameter (the
    parameter noise of paper B eq. 19).

    The noise is drawn on the CPU from ``torch.Generator().manual_seed(seed)`` in the order of
    ``model.parameters()``, so it is reproducible and, for one seed, the same direction at every
    :math:`\sigma`. ``model`` itself is not modified; buffers (e.g. BatchNorm running
    statistics) are copied unchanged.

    Args:
        model: the trained network.
        sigma: the standard deviation :math:`\sigma \ge 0` of the noise; 0 returns an exact copy.
        seed: the seed of the standard-normal draw.

    Returns:
        The perturbed copy, on the devices and dtypes of ``model``'s parameters.

    Raises:
        ValueError: ``sigma`` is negative or not finite.
    """
    if not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
    noisy = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for p in noisy.parameters():
            z = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if sigma > 0:
                p.add_((sigma * z).to(device=p.device, dtype=p.dtype))
    return noisy


def game_values(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                players: Sequence[Sequence[int]]) -> torch.Tensor:
    r"""The values :math:`v(x_T)` of all :math:`2^n` coalitions per sample.

    Player :math:`j` of image :math:`i` is the feature-map cell ``players[i][j]`` of a
    :class:`~ibn.maskers.FeatureMapMasker` (zero baseline); the reward is the log-odds of
    ``labels[i]`` (Conventions page, eq-reward and conventions-protocol-b).

    Args:
        model: the classifier (logits).
        images: the images :math:`(N, C, H, W)`.
        labels: their target labels :math:`(N,)`.
        players: per image, the :math:`n` feature-map cells that are its players.

    Returns:
        A float64 tensor :math:`(N, 2^n)`, bit :math:`i` of the index = player :math:`i`
        (Conventions page, eq-mask).
    """
    return torch.stack([all_values(model, images[i], FeatureMapMasker(cells=list(players[i])),
                                   target=int(labels[i]), progress=False)
                        for i in range(len(images))])


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epsilon: float = 0.0,
             direction: int = 1, batch: int = 250) -> float:
    r"""Accuracy of ``model`` on ``(x, y)``, each image FGSM-perturbed first when ``epsilon`` > 0.

    Args:
        model: the classifier (logits); its inputs are moved to its device.
        x: the images :math:`(N, C, H, W)`.
        y: their labels :math:`(N,)`.
        epsilon: the FGSM step :math:`\epsilon` (Conventions page, eq-fgsm); 0 (default) = clean.
        direction: the sign of the FGSM step: +1 (default, raises the log-odds of the label, as
            paper B) or −1 (the adversarial step).
        batch: images per batch (default 250).

    Returns:
        The share of correctly classified images (0 for an empty set).
    """
    dev = next(model.parameters()).device
    correct = 0
    for i in range(0, len(y), batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        xb = fgsm(model, xb, yb, epsilon, direction=direction) if epsilon > 0 else xb
        with torch.inference_mode():
            correct += int((model(xb.to(dev)).argmax(1).cpu() == yb).sum())
    return correct / max(len(y), 1)


# ---------------------------------------------------------------- the cached experiment


def noise_key(games: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    r"""The cache params of :func:`run_noise` (also for ``show_provenance``).

    Args:
        games: the params of the games (:func:`papers.generalizable.run_games`), stored whole.
        settings: the noise settings (a :class:`papers.specs.NoiseSpec` or a mapping) with
            ``sigmas``, ``draws``, ``epsilons``, ``noise_seed``, ``n_eval``.

    Returns:
        A dict: ``games``, those five settings, ``solver``, ``noise_bound`` and ``scale`` (the
        games' scale label).
    """
    keys = ("sigmas", "draws", "epsilons", "noise_seed", "n_eval")
    return {"games": dict(games), **{k: settings[k] for k in keys}, "solver": "auto",
            "noise_bound": 0.02, "scale": games.get("scale")}


def noise_name(games: Mapping[str, Any]) -> str:
    r"""The cache name of :func:`run_noise`: ``B5_noise_<model>_<dataset>``.

    Args:
        games: the params of the games (only ``model`` and ``dataset`` are read).

    Returns:
        The name, e.g. ``"B5_noise_resnet20_mnist"``.
    """
    return f"B5_noise_{G.setup_slug(games)}"


def run_noise(games: Mapping[str, Any], settings: Mapping[str, Any], *,
              recompute: bool = False) -> dict[str, Any]:
    r"""Interactions of the target of ``games`` under every noise level of ``settings`` (cached as
    ``B5_noise_<model>_<dataset>``).

    The target and its samples, players and baselines are those of
    :func:`papers.generalizable.run_games`; the levels are measured by :func:`noise_levels`, with
    accuracies on the first ``n_eval`` test images.

    Args:
        games: a :func:`papers.generalizable.run_games` params dict.
        settings: the noise settings (a :class:`papers.specs.NoiseSpec` or a mapping) with
            ``sigmas``, ``draws``, ``epsilons``, ``noise_seed``, ``n_eval``.
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).

    Returns:
        A dict: ``clean_and``/``clean_or`` :math:`(N, 2^n)`, ``clean_gap`` :math:`(N,)`
        :math:`= v(x_N) - v(x_\emptyset)`, ``baseline_and``/``baseline_or``
        :math:`(k, N, 2^n)`, ``values_check`` (max :math:`|` recomputed − cached clean values
        :math:`|`), ``clean_acc``; per kind of :data:`KINDS`: ``<kind>_levels`` :math:`(L,)`,
        ``<kind>_and``/``<kind>_or`` :math:`(L, D, N, 2^n)`, ``<kind>_gap`` :math:`(L, D, N)`,
        ``<kind>_acc`` :math:`(L, D)` (:math:`D` = ``draws`` for ``params``, 1 for FGSM).
    """
    return results.cached(noise_name(games), noise_key(games, settings), lambda: _compute(dict(games), dict(settings)),
                          recompute=recompute)


def _compute(p: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    g = G.run_games(p)
    dev = "cuda" if torch.cuda.is_available() else None  # the paper scale is meant for a GPU
    target, _ = G.train_model(p["model"], p["dataset"], split="train", seed=p["seed"], device=dev,
                              **p["target"])
    x_tr, _ = G.load_images(p["dataset"], "train")
    x_te, y_te = G.load_images(p["dataset"], "test")
    idx = torch.as_tensor(np.asarray(g["indices"]))
    return noise_levels(target, x_tr[idx], torch.as_tensor(g["labels"]), g["players"],
                        clean_values=g["values"], baseline_values=g["baseline_values"],
                        eval_set=(x_te[: s["n_eval"]], y_te[: s["n_eval"]]), settings=s)


def noise_levels(target: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 players: Sequence[Sequence[int]], *, clean_values: torch.Tensor,
                 baseline_values: torch.Tensor, eval_set: tuple[torch.Tensor, torch.Tensor],
                 settings: Mapping[str, Any], progress: bool = False) -> dict[str, Any]:
    r"""The interactions of ``target`` clean and at every noise level: :func:`noise_values`,
    then :func:`noise_effects`.

    Args:
        target: the trained target model.
        x: the samples' images :math:`(N, C, H, W)`.
        y: their labels :math:`(N,)`.
        players: per sample, its :math:`n` feature-map cells.
        clean_values: the clean games' values :math:`(N, 2^n)` as cached, checked against a
            recomputation (``values_check``).
        baseline_values: the baselines' values :math:`(k, N, 2^n)` on the same samples and
            players.
        eval_set: ``(images, labels)`` on which the accuracies are measured.
        settings: ``sigmas``, ``draws``, ``epsilons``, ``noise_seed``.
        progress: a progress bar over the noisy games (default False).

    Returns:
        The dict of :func:`run_noise`.
    """
    raw = noise_values(target, x, y, players, eval_set=eval_set, settings=settings,
                       progress=progress)
    return noise_effects(raw, clean_values=clean_values, baseline_values=baseline_values)


def noise_values(target: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 players: Sequence[Sequence[int]], *, eval_set: tuple[torch.Tensor, torch.Tensor],
                 settings: Mapping[str, Any], progress: bool = False) -> dict[str, Any]:
    r"""The games of ``target`` clean and at every noise level, and its accuracies: everything of
    :func:`noise_levels` that needs the model.

    Parameter noise: ``draws`` draws per :math:`\sigma` of ``sigmas``, draw :math:`d` seeded
    ``noise_seed * 1000 + d`` (:func:`perturb_parameters`); FGSM with each :math:`\epsilon` of
    ``epsilons``, in both directions (kinds ``"fgsm"`` and ``"fgsm_attack"``).

    Args:
        target: the trained target model.
        x: the samples' images :math:`(N, C, H, W)`.
        y: their labels :math:`(N,)`.
        players: per sample, its :math:`n` feature-map cells.
        eval_set: ``(images, labels)`` on which the accuracies are measured.
        settings: ``sigmas``, ``draws``, ``epsilons``, ``noise_seed``.
        progress: a progress bar over the noisy games (default False).

    Returns:
        ``clean_values`` :math:`(N, 2^n)`, ``clean_acc``; per kind of :data:`KINDS`:
        ``<kind>_levels`` :math:`(L,)`, ``<kind>_values`` :math:`(L, D, N, 2^n)` and
        ``<kind>_acc`` :math:`(L, D)` (:math:`D` = ``draws`` for ``params``, 1 for FGSM).
    """
    from ibn._progress import tqdm

    s = settings
    xe, ye = eval_set
    out: dict[str, Any] = {"clean_values": game_values(target, x, y, players),
                           "clean_acc": accuracy(target, xe, ye)}

    def store(kind: str, levels: Sequence[float], per_level: list[list[torch.Tensor]],
              acc: list[list[float]]) -> None:
        out[f"{kind}_levels"] = torch.tensor(levels, dtype=torch.float64)
        out[f"{kind}_values"] = torch.stack([torch.stack(d) for d in per_level])  # (L, D, N, 2^n)
        out[f"{kind}_acc"] = torch.tensor(acc, dtype=torch.float64)

    bar = tqdm(total=len(s["sigmas"]) * s["draws"] + 2 * len(s["epsilons"]), desc="noise levels",
               disable=not progress, leave=False)
    vals, acc = [], []
    for sigma in s["sigmas"]:
        nets = [perturb_parameters(target, float(sigma), s["noise_seed"] * 1000 + d)
                for d in range(s["draws"])]
        level = []
        for net in nets:
            level.append(game_values(net, x, y, players))
            bar.update()
        vals.append(level)
        acc.append([accuracy(n, xe, ye) for n in nets])
    store("params", s["sigmas"], vals, acc)
    for kind, sign in (("fgsm", 1), ("fgsm_attack", -1)):
        vals, acc = [], []
        for eps in s["epsilons"]:
            xa = fgsm(target, x, y, float(eps), direction=sign)
            vals.append([game_values(target, xa, y, players)])
            acc.append([accuracy(target, xe, ye, epsilon=float(eps), direction=sign)])
            bar.update()
        store(kind, s["epsilons"], vals, acc)
    bar.close()
    return out


def noise_effects(raw: Mapping[str, Any], *, clean_values: torch.Tensor,
                  baseline_values: torch.Tensor) -> dict[str, Any]:
    """The interactions of :func:`noise_values`' games: every game decomposed by
    :func:`ibn.and_or.extract` with noise bound 0.02 (needs no model).

    Args:
        raw: a :func:`noise_values` dict.
        clean_values: the clean games' values :math:`(N, 2^n)` as cached, checked against
            ``raw``'s recomputation (``values_check``).
        baseline_values: the baselines' values :math:`(k, N, 2^n)` on the same samples and
            players.

    Returns:
        The dict of :func:`run_noise`.
    """
    clean_v = torch.as_tensor(raw["clean_values"])
    out: dict[str, Any] = {"values_check": float((clean_v - clean_values).abs().max())}
    clean = extract(clean_v.double(), noise_bound=0.02)
    out["clean_and"], out["clean_or"] = clean.and_effects, clean.or_effects
    out["clean_gap"] = clean_v[:, -1] - clean_v[:, 0]
    base = extract(torch.as_tensor(baseline_values).double(), noise_bound=0.02)
    out["baseline_and"], out["baseline_or"] = base.and_effects, base.or_effects
    out["clean_acc"] = raw["clean_acc"]
    for kind in KINDS:
        vals = torch.as_tensor(raw[f"{kind}_values"])
        eff = extract(vals.double(), noise_bound=0.02)
        out[f"{kind}_levels"] = raw[f"{kind}_levels"]
        out[f"{kind}_and"], out[f"{kind}_or"] = eff.and_effects, eff.or_effects
        out[f"{kind}_gap"] = vals[..., -1] - vals[..., 0]
        out[f"{kind}_acc"] = raw[f"{kind}_acc"]
    return out


# ---------------------------------------------------------------- analysis


@dataclass(frozen=True)
class SpindleFit:
    r"""A spindle :math:`\pm\beta \binom{\alpha n}{m}` fitted to both signs of a curve (paper B
    eq. 7; Conventions page, eq-spindle), as returned by :func:`fit_spindle`.

    Its fields:

    - ``alpha``: the fitted :math:`\alpha`;
    - ``beta``: the fitted scale :math:`\beta \ge 0`;
    - ``r2``: :math:`1 - \mathrm{SSR}/\mathrm{SST}`, SST per sign around its mean over
      :math:`m = 1, \dots, n` (as in :func:`ibn.distributions.disentangle`); NaN for an
      all-zero curve;
    - ``curve``: the fitted spindle (:class:`Strengths`).
    """

    alpha: float
    beta: float
    r2: float  # 1 − SSR/SST, SST per sign around its mean over m = 1..n (as in disentangle)
    curve: Strengths


def fit_spindle(s: Strengths, alpha_bounds: tuple[float, float] = (0.05, 1.5),
                grid: int = 60) -> SpindleFit:
    r"""The least-squares spindle :math:`A^{(m),+} = \beta \binom{\alpha n}{m}`,
    :math:`A^{(m),-} = -\beta \binom{\alpha n}{m}`, :math:`m = 1, \dots, n` (paper B eq. 7;
    Conventions page, eq-spindle).

    For a fixed :math:`\alpha`, :math:`\beta \ge 0` is the closed-form least-squares value;
    :math:`\alpha` is found on a grid over ``alpha_bounds`` refined by bounded Brent.

    Args:
        s: one curve, a :class:`Strengths` over orders :math:`0, \dots, n` with
            :math:`A^{(m),-} \le 0` (pass :math:`\Delta A` of Conventions page, eq-emerged, as
            ``Strengths(ΔA⁺, −ΔA⁻)``); order 0 is ignored.
        alpha_bounds: ``(lo, hi)``, the range of :math:`\alpha` searched (default (0.05, 1.5)).
        grid: the number of grid points over ``alpha_bounds`` (default 60).

    Returns:
        A :class:`SpindleFit`; an all-zero curve gives :math:`\beta = 0` and :math:`R^2` = NaN.
    """
    n = s.n
    y = torch.cat((s.plus[1:], s.minus[1:])).double().numpy()
    sst = float(((y[:n] - y[:n].mean()) ** 2).sum() + ((y[n:] - y[n:].mean()) ** 2).sum())

    def col(a: float) -> np.ndarray:
        c = dist.spindle_curve(n, a).numpy()[1:]
        return np.concatenate((c, -c))

    def ssr(a: float) -> tuple[float, float]:
        c = col(a)
        cc = float(c @ c)
        b = max(float(c @ y) / cc, 0.0) if cc > 0 else 0.0
        return float(((y - b * c) ** 2).sum()), b

    alphas = np.linspace(*alpha_bounds, grid)
    vals = [ssr(a)[0] for a in alphas]
    i = int(np.argmin(vals))
    res = minimize_scalar(lambda a: ssr(a)[0], method="bounded", options={"xatol": 1e-8},
                          bounds=(alphas[max(i - 1, 0)], alphas[min(i + 1, grid - 1)]))
    alpha = float(res.x) if res.fun < vals[i] else float(alphas[i])
    err, beta = ssr(alpha)
    r2 = 1.0 - err / sst if sst > 0 else float("nan")
    return SpindleFit(alpha, beta, r2, dist.spindle_strengths(n, alpha, beta))


def relative_change(new: Strengths, old: Strengths) -> float:
    r"""The relative change
    :math:`\sum_m \sum_\pm |A_{\text{new}} - A_{\text{old}}| / \sum_m \sum_\pm |A_{\text{old}}|`
    of two averaged curves.

    Args:
        new: the curve under noise (:class:`Strengths`).
        old: the reference (clean) curve, of the same shape.

    Returns:
        The relative change; NaN when ``old`` is all zero.
    """
    num = float((new.plus - old.plus).abs().sum() + (new.minus - old.minus).abs().sum())
    den = float(old.total().sum())
    return num / den if den > 0 else float("nan")


def _flat(a: torch.Tensor) -> torch.Tensor:
    return a.reshape(-1, a.shape[-1])


def level_rows(res: Mapping[str, Any], k: int, kind: str, *, fit_decay: bool = True,
               salient_only: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    r"""One row of numbers per noise level of ``kind``, and the curves behind them.

    :math:`\tau = 0.02 \cdot \mathbb{E}_x |v(x_N) - v(x_\emptyset)|` of the clean model serves
    every level (salience of :math:`I`, of :math:`I_{\text{noise}}` and of :math:`\Delta I`;
    Conventions page, eq-salient).

    Args:
        res: a result of :func:`run_noise`.
        k: the number of baselines that judge generalizability (the first ``k``).
        kind: the noise kind, one of :data:`KINDS`.
        fit_decay: also fit the paper B eq. 10 decay + spindle (:math:`I^*` = the clean
            interactions) at every level (default True).
        salient_only: count only the salient :math:`\Delta I_S` in :math:`\Delta A` (default
            True); False lets every :math:`\Delta I_S`, :math:`S \neq \emptyset`, enter.

    Returns:
        ``(rows, curves)``. Row keys: ``level``, ``draws``, ``acc`` (mean over draws), ``dA``
        (:math:`\sum (\Delta A^{+} + \Delta A^{-})`), ``peak`` and ``mean_order`` of
        :math:`\Delta A`, ``alpha``/``beta``/``r2`` of :func:`fit_spindle` on :math:`\Delta A`,
        ``cancel`` (:math:`|\sum \Delta A^{+} - \sum \Delta A^{-}| / \sum (\Delta A^{+} +
        \Delta A^{-})`), ``r_gen`` / ``r_non`` / ``r_total`` (relative change of
        :math:`A_{\text{gen}}` / :math:`A_{\text{non}}` / :math:`A`, :func:`relative_change`)
        and, with ``fit_decay``, ``r_decay`` (the relative change of the fit's decay part) and
        ``spindle_share`` (that fit's :func:`papers.generalizable.spindle_share`). The curves
        dict holds ``dA`` (list of :class:`Strengths`, Conventions page, eq-emerged), ``fit``
        (list of :class:`SpindleFit`), ``gen`` (:math:`A_{\text{gen}}` curves, clean first) and
        ``decay`` (fitted decay curves, clean first; None without ``fit_decay``).
    """
    tau = float(res["clean_gap"].abs().mean() * 0.02)
    ca, co = res["clean_and"], res["clean_or"]
    base = [(res["baseline_and"][j], res["baseline_or"][j]) for j in range(k)]
    tot0, gen0, non0 = (s.mean() for s in dist.generalizable_strengths(ca, co, base, tau, average=False))
    fit0 = dist.disentangle(tot0, ca, co, on_failure="ignore") if fit_decay else None
    rows, curves = [], {"dA": [], "fit": [], "gen": [gen0], "decay": [fit0.decay if fit0 else None]}
    for li, level in enumerate(res[f"{kind}_levels"].tolist()):
        na, no = res[f"{kind}_and"][li], res[f"{kind}_or"][li]  # (D, N, 2^n)
        d = na.shape[0]
        cab, cob = ca.expand_as(na), co.expand_as(no)
        da = dist.emerged_strengths(_flat(cab), _flat(cob), _flat(na), _flat(no),
                                    tau=tau if salient_only else None)
        bases = [(b[0].expand_as(na), b[1].expand_as(no)) for b in base]
        tot, gen, non = (s.mean() for s in dist.generalizable_strengths(na, no, bases, tau, average=False))
        signed = Strengths(da.plus, -da.minus)
        fit = fit_spindle(signed)
        w = da.total()
        mass = float(w.sum())
        row = {"level": level, "draws": d, "acc": float(res[f"{kind}_acc"][li].mean()),
               "dA": mass, "peak": int(dist.peak_order(signed)) if mass > 0 else -1,
               "mean_order": float(dist.mean_order(signed)) if mass > 0 else float("nan"),
               "alpha": fit.alpha, "beta": fit.beta, "r2": fit.r2,
               "cancel": abs(float(da.plus.sum() - da.minus.sum())) / mass if mass > 0 else float("nan"),
               "r_gen": relative_change(gen, gen0), "r_non": relative_change(non, non0),
               "r_total": relative_change(tot, tot0)}
        if fit_decay:
            fitn = dist.disentangle(tot, ca, co, on_failure="ignore")
            row["r_decay"] = relative_change(fitn.decay, fit0.decay)
            row["spindle_share"] = G.spindle_share(fitn)
            curves["decay"].append(fitn.decay)
        curves["dA"].append(da)
        curves["fit"].append(fit)
        curves["gen"].append(gen)
        rows.append(row)
    return rows, curves


def spindle_verdict(rows: Sequence[Mapping[str, Any]], n: int) -> tuple[bool, list[bool]]:
    r"""Whether :math:`\Delta A` is spindle-shaped at every noise level > 0.

    A level passes when :math:`\Delta A` is not zero, the spindle fit has :math:`R^2 \ge`
    :data:`R2_MIN` and :math:`\Delta A` peaks at an interior order :math:`2 \le m \le n-1`.

    Args:
        rows: the rows of :func:`level_rows`.
        n: the number of players.

    Returns:
        ``(all levels > 0 pass, per-level flags)``; False when there is no level > 0.
    """
    flags = [bool(r["dA"] > 0 and r["r2"] >= R2_MIN and 2 <= r["peak"] <= n - 1)
             for r in rows if r["level"] > 0]
    return bool(flags) and all(flags), flags


def stays_put_verdict(rows: Sequence[Mapping[str, Any]], clean_acc: float
                      ) -> tuple[bool, list[bool], list[bool]]:
    r"""Whether the generalizable curve stays put under mild noise.

    Per level > 0, the generalizable curve stays put when ``r_gen`` ≤ :data:`GEN_TOL` and
    ``r_gen`` < ``r_non`` (it moves less than the non-generalizable part). The claim is judged on
    the *mild* levels, whose accuracy is at least the clean one minus :data:`MILD_DROP`.

    Args:
        rows: the rows of :func:`level_rows`.
        clean_acc: the clean model's accuracy (``clean_acc`` of :func:`run_noise`).

    Returns:
        ``(all mild levels pass, per-level flags, per-level mildness)``, over the levels > 0;
        False when no level is mild.
    """
    pos = [r for r in rows if r["level"] > 0]
    flags = [bool(r["r_gen"] <= GEN_TOL and r["r_gen"] < r["r_non"]) for r in pos]
    mild = [bool(r["acc"] >= clean_acc - MILD_DROP) for r in pos]
    judged = [f for f, m in zip(flags, mild) if m]
    return bool(judged) and all(judged), flags, mild

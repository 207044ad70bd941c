r"""Paper B's Figs. 4, 5, 7 and 8 judged at the protocol: rules fixed in code, positive controls
through the same pipeline, and the verdict records (:mod:`papers.verdicts`).

The rules (Conventions page, conventions-distributions), each on one setup:

* **Fig. 4, the fit disentangles** (:func:`judge_fig4`): eq. 10 (Conventions page,
  eq-disentangle) fitted with the constrained box (:math:`\alpha n \ge 2`,
  :math:`\delta \ge 10^{-4}`) to the sample-averaged :math:`A` reaches :math:`R^2 \ge 0.8`, and
  its parts land on the right sides: :math:`J(A_{\mathrm{gen}}, A_{\mathrm{decay}}) >
  J(A_{\mathrm{gen}}, A_{\mathrm{spindle}})`, :math:`J(A_{\mathrm{non}}, A_{\mathrm{spindle}})
  > J(A_{\mathrm{non}}, A_{\mathrm{decay}})` (:math:`J` the Jaccard similarity of two curves,
  one term of Conventions page, eq-jaccard), and SIM exceeds the SIM with decay and spindle
  swapped. The free fit and the best SIM any decay and spindle curves reach on these data
  (:func:`best_similarity`) are reported beside it.
* **Fig. 5, noise feeds the spindle** (:func:`judge_fig5`): on the *mild* parameter-noise levels
  (accuracy within :data:`papers.noise.MILD_DROP` of the clean model's) the spindle share of the
  eq. 10 fit rises with :math:`\sigma` (Spearman :math:`\rho \ge 0.8` over :math:`\sigma = 0`
  and the mild levels, and the largest mild level's share above the clean one's) while the
  decay part stays (relative change :math:`\le` :data:`papers.noise.GEN_TOL` at every mild
  level).
* **Fig. 7, what noise adds is a spindle** (:func:`judge_fig7`):
  :func:`papers.noise.spindle_verdict` on the mild levels of each kind of noise (parameter
  noise, FGSM): the spindle fit of :math:`\Delta A` (eq. 19; Conventions page, eq-emerged) has
  :math:`R^2 \ge 0.8` and :math:`\Delta A` peaks at :math:`2 \le m \le n - 1`.
* **Fig. 8, misclassified samples** (:func:`judge_fig8`), with one :math:`\tau` for both
  groups: the per-sample non-generalizable share is larger for misclassified samples, and the
  per-sample generalizable strength :math:`\sum_m \sum_\pm |A^{(m),\pm}_{\mathrm{gen}}|`
  smaller, each by a one-sided Mann–Whitney test at :math:`p <` :data:`P_MAX`. A difference in
  the claimed direction (by the medians) that misses :math:`p < 0.05` decides nothing (the
  spread covers both outcomes): the record is then inconclusive, not "not reproduced".

Controls: for Fig. 4 a measured curve made of the theory's own parts (:func:`fig4_control`: a
decay of the setup's :math:`I^*` plus a spindle, each with half the strength); for Figs. 5 and
7 i.i.d. noise of growing size added to the values of planted games
(:func:`value_noise_control`; small levels for Fig. 5, where the decay part survives by
construction, larger ones for Fig. 7); for Fig. 8 two groups of planted games, one with a
weaker shared part and a stronger own part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from scipy.stats import mannwhitneyu, spearmanr

from ibn import distributions as dist
from ibn.and_or import extract
from ibn.distributions import Strengths
from ibn.distributions.disentangle import delta_box
from papers import generalizable as G
from papers import noise as Nz

__all__ = ["CONSTRAINED", "judge_fig4", "judge_fig4_curves", "fig4_control", "best_similarity", "judge_fig5", "judge_fig7",
           "judge_fig8", "value_noise_control", "fig8_control", "records", "CLAIMS", "P_MAX",
           "CONTROL_LEVELS", "CONTROL_KINDS", "judge_setup", "controls", "setup_records"]

#: the constrained eq. 10 box: α·n ≥ 2 (a spindle over at least two orders), δ ≥ 1e-4.
CONSTRAINED = {"min_alpha_n": 2.0, "min_log10_delta": -4.0}
#: the significance level of Fig. 8's one-sided tests.
P_MAX = 0.05


def _fit(total: Strengths, and_star: torch.Tensor, or_star: torch.Tensor, constrained: bool
         ) -> dist.DisentangleResult:
    n = total.n
    kw: dict[str, Any] = {}
    if constrained:
        lo, hi = delta_box(n)
        kw = {"alpha_bounds": (CONSTRAINED["min_alpha_n"] / n, 1.5),
              "log10_delta_bounds": (max(lo, CONSTRAINED["min_log10_delta"]), hi)}
    return G.fit_theory(total, and_star, or_star, **kw)


def best_similarity(gen: Strengths, non: Strengths, and_star: torch.Tensor,
                    or_star: torch.Tensor, *, grid: int = 40) -> float:
    r"""The largest SIM (eq. 11; Conventions page, eq-jaccard) that any decay curve
    :math:`\gamma A_{\mathrm{decay}}(\delta)` (Theorem 3.1 on :math:`I^*`; Conventions page,
    eq-decay-curve) and spindle :math:`\beta A_{\mathrm{spindle}}(\alpha)` (Conventions page,
    eq-spindle) reach against these :math:`A_{\mathrm{gen}}` and :math:`A_{\mathrm{non}}`: the
    ceiling the two families allow on the data.

    The search is a grid: ``grid`` values of :math:`\log_{10} \delta` over the identifiable box
    (:func:`ibn.distributions.disentangle.delta_box`), ``grid`` values of :math:`\alpha` in
    :math:`[0.05, 1.5]`, and for each curve 121 log-spaced scales from :math:`10^{-3}` to
    :math:`10^3` times the scale that gives it the data's total strength.

    Args:
        gen: :math:`A_{\mathrm{gen}}`, per sample ``(N, n+1)`` (averaged over the samples
            here) or one curve ``(n+1,)``.
        non: :math:`A_{\mathrm{non}}`, of the same form.
        and_star: the AND effects of :math:`I^*`, ``(N, 2^n)`` (per sample) or ``(2^n,)``.
        or_star: the OR effects of :math:`I^*`, of the shape of ``and_star``.
        grid: the number of grid points over :math:`\delta` and over :math:`\alpha`
            (default 40).

    Returns:
        The largest SIM found, in :math:`[0, 1]`.
    """
    g, nn_ = gen.mean(), non.mean()
    n = g.n
    model = dist.DecayModel(and_star, or_star)
    lo, hi = delta_box(n)

    def parts(s: Strengths) -> np.ndarray:
        return torch.cat((s.plus[1:], s.minus[1:].abs())).double().numpy()

    yg, yn = parts(g), parts(nn_)
    scales = np.geomspace(1e-3, 1e3, 121)

    def minmax(y: np.ndarray, shapes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        c = np.stack(shapes)  # (S, 2n), then every scale: (S·L, 2n)
        c = (c[:, None, :] * scales[None, :, None] * (y.sum() / c.sum(-1))[:, None, None]
             ).reshape(-1, c.shape[-1])
        return np.minimum(c, y).sum(-1), np.maximum(c, y).sum(-1)

    decays = [parts(model.strengths(10.0 ** ld)) for ld in np.linspace(lo, hi, grid)]
    spindles = [parts(dist.spindle_strengths(n, a)) for a in np.linspace(0.05, 1.5, grid)]
    mn_g, mx_g = minmax(yg, [d for d in decays if d.sum() > 0])
    mn_n, mx_n = minmax(yn, [s for s in spindles if s.sum() > 0])
    return float(((mn_g[:, None] + mn_n[None, :]) / (mx_g[:, None] + mx_n[None, :])).max())


def judge_fig4(res: Mapping[str, Any]) -> dict[str, Any]:
    r"""The Fig. 4 rule on one setup's result (:func:`judge_fig4_curves` with all its
    baselines).

    Args:
        res: the games plus effects of one setup, in the keys of
            :func:`papers.generalizable.interactions`; its ``and`` and ``or`` are :math:`I^*`.

    Returns:
        The dict of :func:`judge_fig4_curves`.
    """
    return judge_fig4_curves(*G.split_strengths(res), res["and"], res["or"])


def judge_fig4_curves(total: Strengths, gen: Strengths, non: Strengths, and_star: torch.Tensor,
                      or_star: torch.Tensor) -> dict[str, Any]:
    r"""The Fig. 4 rule on measured curves with :math:`I^*` (see the module).

    Args:
        total: the measured :math:`A`, per sample ``(N, n+1)`` or averaged ``(n+1,)``.
        gen: :math:`A_{\mathrm{gen}}`, of the same form.
        non: :math:`A_{\mathrm{non}}`, of the same form.
        and_star: the AND effects of :math:`I^*` (the theory's final interactions), ``(N, 2^n)``
            or ``(2^n,)``.
        or_star: the OR effects of :math:`I^*`, of the shape of ``and_star``.

    Returns:
        A dict: ``curves`` (``(total, gen, non)``); ``constrained`` and ``free``, each with
        ``fit`` (the :class:`~ibn.distributions.disentangle.DisentangleResult` of eq. 10 on the
        averaged :math:`A`, in the box :data:`CONSTRAINED` or the default one) and the keys of
        :func:`papers.generalizable.cross_similarity`; ``best_sim``
        (:func:`best_similarity`); ``passed`` (every check of the constrained fit holds) and
        ``why`` (each check with its numbers).
    """
    out: dict[str, Any] = {"curves": (total, gen, non)}
    for name in ("constrained", "free"):
        fit = _fit(total.mean(), and_star, or_star, name == "constrained")
        out[name] = {"fit": fit, **G.cross_similarity(gen, non, fit)}
    c = out["constrained"]
    checks = {f"R² {c['fit'].r2:.2f} >= 0.8": c["fit"].r2 >= 0.8,
              f"gen~decay {c['gen_vs_decay']:.2f} > gen~spindle {c['gen_vs_spindle']:.2f}":
                  c["gen_vs_decay"] > c["gen_vs_spindle"],
              f"non~spindle {c['non_vs_spindle']:.2f} > non~decay {c['non_vs_decay']:.2f}":
                  c["non_vs_spindle"] > c["non_vs_decay"],
              f"SIM {c['sim']:.2f} > swapped {c['sim_swapped']:.2f}": c["sim"] > c["sim_swapped"]}
    out["best_sim"] = best_similarity(gen, non, and_star, or_star)
    out["passed"] = all(checks.values())
    out["why"] = "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items())
    return out


def fig4_control(res: Mapping[str, Any], *, log10_delta: float | None = None,
                 alpha: float = 0.5) -> dict[str, Any]:
    r"""The Fig. 4 control, a measured curve generated by the theory's own formulas:
    :math:`A_{\mathrm{gen}} = A_{\mathrm{decay}}(\delta_0)` of :math:`I^*` (Theorem 3.1 on the
    result's ``and``/``or``; Conventions page, eq-decay-curve),
    :math:`A_{\mathrm{non}} = \beta A_{\mathrm{spindle}}(\alpha_0)` (Conventions page,
    eq-spindle) with :math:`\beta` chosen for the same total strength, and
    :math:`A = A_{\mathrm{gen}} + A_{\mathrm{non}}`; judged by :func:`judge_fig4_curves` with the
    same :math:`I^*`.

    Args:
        res: a setup's games plus effects; its ``and`` and ``or`` ``(N, 2^n)`` are
            :math:`I^*`.
        log10_delta: :math:`\log_{10} \delta_0` of the planted decay (None: the middle of the
            constrained box, from :math:`\max(\mathrm{low}, -4)` to the box's high end).
        alpha: :math:`\alpha_0` of the planted spindle (default 0.5).

    Returns:
        The dict of :func:`judge_fig4_curves`, plus ``planted``: ``log10_delta``, ``alpha`` and
        ``beta``.
    """
    n = int(round(np.log2(res["and"].shape[-1])))
    lo, hi = delta_box(n)
    ld = 0.5 * (max(lo, CONSTRAINED["min_log10_delta"]) + hi) if log10_delta is None else log10_delta
    gen = dist.DecayModel(res["and"], res["or"]).strengths(10.0 ** ld)
    gen = Strengths(gen.plus.clone(), gen.minus.clone())
    gen.plus[0] = gen.minus[0] = 0.0
    sp = dist.spindle_curve(n, alpha)
    sp[0] = 0.0
    beta = float(gen.total().sum()) / float(2 * sp.sum())
    non = Strengths(beta * sp, -beta * sp)
    out = judge_fig4_curves(gen + non, gen, non, res["and"], res["or"])
    out["planted"] = {"log10_delta": ld, "alpha": alpha, "beta": beta}
    return out


def _mild(rows: Sequence[Mapping[str, Any]], clean_acc: float) -> list[Mapping[str, Any]]:
    return [r for r in rows if r["acc"] >= clean_acc - Nz.MILD_DROP]


def judge_fig5(noise_res: Mapping[str, Any]) -> dict[str, Any]:
    r"""The Fig. 5 rule (see the module) on one setup's parameter noise, with all its
    baselines.

    A level is mild when its accuracy is at least the clean accuracy less
    :data:`papers.noise.MILD_DROP`. The checks: Spearman :math:`\rho(\sigma, \text{spindle
    share}) \ge 0.8` over the mild levels (NaN, so not passed, with fewer than 3 mild levels or a
    constant share); the share at the largest mild level above the share at the first (clean)
    one; the decay part's largest relative change over the mild levels :math:`\sigma > 0` at
    most :data:`papers.noise.GEN_TOL`.

    Args:
        noise_res: the setup's :func:`papers.protocol_b.noise` result (the keys of
            :func:`papers.noise.run_noise`: ``clean_and``, ``clean_or``, ``clean_gap``,
            ``clean_acc``, ``baseline_and``, ``baseline_or`` and the ``params_*`` levels).

    Returns:
        A dict: ``rows`` and ``curves`` (:func:`papers.noise.level_rows` of kind ``params``),
        ``mild`` (the mild levels :math:`\sigma`), ``passed`` and ``why``.
    """
    k = noise_res["baseline_and"].shape[0]
    rows, curves = Nz.level_rows(noise_res, k, "params")
    mild = _mild(rows, noise_res["clean_acc"])
    share = [r["spindle_share"] for r in mild]
    rho = (float(spearmanr([r["level"] for r in mild], share)[0])
           if len(mild) > 2 and np.ptp(share) > 0 else float("nan"))
    decay_moves = max((r["r_decay"] for r in mild if r["level"] > 0), default=float("nan"))
    checks = {f"Spearman(σ, spindle share) {rho:.2f} >= 0.8": rho >= 0.8,
              f"share at σ = {mild[-1]['level']:g} {share[-1]:.3f} > clean {share[0]:.3f}":
                  share[-1] > share[0],
              f"decay part moves <= {decay_moves:.2f} <= {Nz.GEN_TOL}": decay_moves <= Nz.GEN_TOL}
    return {"rows": rows, "curves": curves, "mild": [r["level"] for r in mild],
            "passed": all(checks.values()),
            "why": "; ".join(f"{key}: {'yes' if v else 'NO'}" for key, v in checks.items())}


def judge_fig7(noise_res: Mapping[str, Any], kinds: Sequence[str] = ("params", "fgsm")
               ) -> dict[str, Any]:
    r"""The Fig. 7 rule on one setup's noise result, per kind of noise:
    :func:`papers.noise.spindle_verdict` on the mild levels above 0 (accuracy at least the clean
    one less :data:`papers.noise.MILD_DROP`).

    Args:
        noise_res: the setup's noise result (the keys of :func:`papers.noise.run_noise`; all its
            baselines are used).
        kinds: the kinds of noise judged (default parameter noise and FGSM); a kind without
            levels in ``noise_res`` is skipped.

    Returns:
        A dict with, per kind judged, ``rows`` and ``curves`` (:func:`papers.noise.level_rows`
        without the decay fit), ``passed`` and ``why``; and overall ``passed`` (every kind
        judged passes; true when none is) and ``why``.
    """
    k = noise_res["baseline_and"].shape[0]
    n = int(round(np.log2(noise_res["clean_and"].shape[-1])))
    out: dict[str, Any] = {}
    for kind in kinds:
        if f"{kind}_levels" not in noise_res:
            continue
        rows, curves = Nz.level_rows(noise_res, k, kind, fit_decay=False)
        mild = [r for r in _mild(rows, noise_res["clean_acc"]) if r["level"] > 0]
        ok, flags = Nz.spindle_verdict(mild, n)
        out[kind] = {"rows": rows, "curves": curves, "passed": ok,
                     "why": f"{kind}: {sum(flags)} of {len(flags)} mild levels spindle-shaped ("
                            + ", ".join(f"{r['level']:g}: R² {r['r2']:.2f}, peak {r['peak']}"
                                        for r in mild) + ")"}
    out["passed"] = all(v["passed"] for v in out.values())
    out["why"] = "; ".join(v["why"] for key, v in out.items() if key != "passed")
    return out


def judge_fig8(correct: Mapping[str, Any], wrong: Mapping[str, Any]) -> dict[str, Any]:
    r"""The Fig. 8 rule on correctly classified and misclassified samples.

    One threshold :math:`\tau = 0.02 \cdot \mathbb{E}_x |v(x_N) - v(x_\emptyset)|` over both
    groups (Conventions page, eq-salient) serves both. Per sample: the non-generalizable share
    (:func:`papers.generalizable.per_sample_share`) and the generalizable strength
    :math:`\sum_m \sum_\pm |A^{(m),\pm}_{\mathrm{gen}}|`, compared by one-sided Mann–Whitney tests
    (share greater, strength smaller for the misclassified samples).

    Args:
        correct: the games plus effects of the correctly classified samples (``values``,
            ``and``, ``or``, ``baseline_and``, ``baseline_or``, as
            :func:`papers.generalizable.interactions`).
        wrong: the same for the misclassified samples.

    Returns:
        A dict: ``groups`` (``"correct"`` and ``"misclassified"``, each with ``curves``
        ``(A, A_gen, A_non)``, ``non_share`` and ``gen_strength``, arrays over its samples);
        ``n`` (the two group sizes); ``non_share`` and ``gen_strength``: ``(passed, why)``,
        passed when :math:`p <` :data:`P_MAX`; ``decided``: per test, False when the
        difference is in the claimed direction (by the medians) but not significant.
    """
    tau = dist.tau_from_values(torch.cat([correct["values"], wrong["values"]]))
    groups = {}
    for name, r in (("correct", correct), ("misclassified", wrong)):
        tot, gen, non = G.split_strengths(r, tau=tau)
        groups[name] = {"curves": (tot, gen, non),
                        "non_share": G.per_sample_share(non, tot).numpy(),
                        "gen_strength": gen.total()[:, 1:].sum(-1).numpy()}
    c, w = groups["correct"], groups["misclassified"]
    p_share = float(mannwhitneyu(w["non_share"], c["non_share"], alternative="greater",
                                 nan_policy="omit").pvalue)
    p_gen = float(mannwhitneyu(w["gen_strength"], c["gen_strength"], alternative="less").pvalue)
    share = (f"non share {np.nanmean(w['non_share']):.3f} (misclassified) vs "
             f"{np.nanmean(c['non_share']):.3f} (correct), p = {p_share:.2g}")
    gen = (f"Σ|A_gen| {w['gen_strength'].mean():.3g} vs {c['gen_strength'].mean():.3g}, "
           f"p = {p_gen:.2g}")
    # undecided: not significant, yet in the claimed direction (the spread covers both outcomes)
    share_way = bool(np.nanmedian(w["non_share"]) > np.nanmedian(c["non_share"]))
    gen_way = bool(np.median(w["gen_strength"]) < np.median(c["gen_strength"]))
    return {"groups": groups, "n": (len(c["non_share"]), len(w["non_share"])),
            "non_share": (p_share < P_MAX, share),
            "gen_strength": (p_gen < P_MAX, gen),
            "decided": {"non_share": p_share < P_MAX or not share_way,
                        "gen_strength": p_gen < P_MAX or not gen_way}}


#: the value-noise levels of the controls (× E|v(x_N) − v(x_∅)|): small ones for Fig. 5 (the
#: decay part survives them by construction), larger ones for Fig. 7 (a spindle of ΔA).
CONTROL_LEVELS = {"fig5": (0.0, 0.005, 0.01, 0.015, 0.02), "fig7": (0.0, 0.04, 0.06, 0.08, 0.1)}


def value_noise_control(n: int = 10, n_samples: int = 20, k: int = 5, *,
                        levels: Sequence[float] = CONTROL_LEVELS["fig5"], seed: int = 0
                        ) -> dict[str, Any]:
    r"""The Figs. 5 and 7 control: planted games (:func:`papers.claims_b.planted_games`) whose
    target values get i.i.d. :math:`\mathcal{N}\bigl(0, (\ell \cdot \mathbb{E}_x |v(x_N) -
    v(x_\emptyset)|)^2\bigr)` noise per level :math:`\ell`, through the same extraction
    (:func:`ibn.and_or.extract`, noise bound 0.02).

    Args:
        n: the number of players (default 10).
        n_samples: the number of samples N (default 20).
        k: the number of baselines (default 5).
        levels: the levels :math:`\ell`, multiples of the mean total change of reward (default
            :data:`CONTROL_LEVELS` ``["fig5"]``).
        seed: the seed of the games and of the noise (default 0).

    Returns:
        A result with the keys of :func:`papers.noise.run_noise` for kind ``params``, one draw
        per level and accuracy 1 everywhere: ``clean_and``, ``clean_or`` ``(N, 2^n)``,
        ``clean_gap`` ``(N,)``, ``clean_acc``, ``baseline_and``, ``baseline_or``
        ``(k, N, 2^n)``, ``params_levels`` ``(L,)``, ``params_and``, ``params_or``
        ``(L, 1, N, 2^n)`` and ``params_acc`` ``(L, 1)``.
    """
    from papers.claims_b import planted_games

    g = planted_games(n, n_samples, k, seed=seed)
    v = g["values"]
    gap = float((v[:, -1] - v[:, 0]).abs().mean())
    gen = torch.Generator().manual_seed(seed)
    noisy = torch.stack([v + lvl * gap * torch.randn(v.shape, generator=gen, dtype=v.dtype)
                         for lvl in levels])[:, None]  # (L, 1, N, 2^n)
    clean = extract(v, noise_bound=0.02)
    base = extract(g["baseline_values"], noise_bound=0.02)
    eff = extract(noisy, noise_bound=0.02)
    return {"clean_and": clean.and_effects, "clean_or": clean.or_effects,
            "clean_gap": v[:, -1] - v[:, 0], "clean_acc": 1.0,
            "baseline_and": base.and_effects, "baseline_or": base.or_effects,
            "params_levels": torch.tensor(list(levels), dtype=torch.float64),
            "params_and": eff.and_effects, "params_or": eff.or_effects,
            "params_acc": torch.ones(len(levels), 1, dtype=torch.float64)}


def fig8_control(n: int = 10, n_samples: int = 20, k: int = 5, seed: int = 0
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two groups of planted games for the Fig. 8 control: the "correct" group as
    :func:`papers.claims_b.planted_games`, the "misclassified" one (seeded ``seed + 1``) with
    its shared (decay) part halved and its own (spindle) part doubled; both with their exact
    effects (:func:`papers.claims_b.with_exact_effects`).

    Args:
        n: the number of players (default 10).
        n_samples: the number of samples per group (default 20).
        k: the number of baselines (default 5).
        seed: the seed of the "correct" group (default 0).

    Returns:
        ``(correct, wrong)``, the inputs of :func:`judge_fig8`.
    """
    from papers.claims_b import planted_games, with_exact_effects

    correct = with_exact_effects(planted_games(n, n_samples, k, seed=seed))
    wrong = with_exact_effects(planted_games(n, n_samples, k, seed=seed + 1, shared_scale=0.5,
                                             own_scale=2.0))
    return correct, wrong


#: the claims of this module: id -> (figure, statement).
CLAIMS = {
    "B.fig4.sim": ("Fig. 4", "Fitting a decay distribution (Theorem 3.1) plus a spindle (eq. 7) "
                   "to a network's interactions disentangles them: the decay part matches the "
                   "generalizable interactions and the spindle the non-generalizable ones."),
    "B.fig5.noise_spindle": ("Fig. 5", "Under parameter noise the fitted spindle part grows with "
                             "the noise while the decay part stays."),
    "B.fig7.emerged_spindle": ("Fig. 7", "The interactions that newly emerge under noise "
                               "(parameter noise or FGSM) form a spindle over the orders."),
    "B.fig8.non_share": ("Fig. 8", "Misclassified samples carry a larger share of "
                         "non-generalizable interactions than correctly classified ones."),
    "B.fig8.gen_strength": ("Fig. 8", "Misclassified samples carry weaker generalizable "
                            "interactions than correctly classified ones."),
}


def records(present: Mapping[str, Mapping[str, tuple[bool, str]]],
            controls: Mapping[str, tuple[bool, str, str]], setups: Mapping[str, Mapping[str, Any]],
            *, scale: str, chapter: str, planned: Sequence[str] = (),
            notes: Mapping[str, str] | None = None,
            undecided: Mapping[str, Sequence[str]] | None = None) -> list:
    """One :class:`papers.verdicts.Verdict` per claim of :data:`CLAIMS` that ``present``
    holds, in the order of :data:`CLAIMS`.

    The run has power only when the scale is not ``smoke``, every setup is at the paper's
    protocol (:func:`papers.claims_b.powered`) and no setup is undecided for the claim.

    Args:
        present: per claim, per setup name, ``(passed, why)``.
        controls: per claim, ``(detected, kind, why)`` of its positive control.
        setups: per setup name, its record entry.
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        chapter: the chapter that writes the records.
        planned: the setup names the scale plans (those missing from ``setups`` are named in
            ``why``).
        notes: per claim, a note appended to ``why`` (for example the lab SGD's outcome).
        undecided: per claim, the setups whose absence the test could not decide (the claim is
            then inconclusive rather than not reproduced).

    Returns:
        The records.
    """
    from papers.claims_b import powered
    from papers.verdicts import Control, Verdict, categorize

    missing = [p for p in planned if p not in setups]
    out = []
    for claim, (figure, statement) in CLAIMS.items():
        if claim not in present:
            continue
        by_setup = present[claim]
        names = list(by_setup)
        ok_ctl, kind, ctl_why = controls[claim]
        control = Control(kind, "detected" if ok_ctl else "missed", ctl_why)
        at_protocol = scale != "smoke" and all(powered(setups[s]) for s in names)
        is_powered = at_protocol and not (undecided or {}).get(claim)
        flags = [bool(by_setup[s][0]) for s in names]
        why = ("; ".join(f"{s}: {by_setup[s][1]}" for s in names)
               + (f"; {notes[claim]}" if notes and claim in notes else "")
               + (f"; the difference is in the claimed direction but not significant in "
                  f"{', '.join(undecided[claim])}" if undecided and undecided.get(claim) else "")
               + ("" if ok_ctl else "; the control was missed")
               + (f"; {len(missing)} planned setup{'s' if len(missing) > 1 else ''} not run yet"
                  if missing else "")
               + ("" if at_protocol else "; not every setup is at the paper's protocol"))
        out.append(Verdict(claim=claim, paper="B", figure=figure, statement=statement,
                           verdict=categorize(flags, control, powered=is_powered), why=why,
                           scale=scale, setups=[dict(setups[s]) for s in names], control=control,
                           chapter=chapter))
    return out


def judge_setup(setup) -> dict[str, Any]:
    """Every rule of this module on one setup, for the exact optimum (``"exact"``) and the
    lab's SGD (``"sgd"``; Figs. 4 and 8 only).

    Args:
        setup: a :class:`papers.protocol_b.SetupB`; its results come from
            :func:`papers.protocol_b.effects`, :func:`papers.protocol_b.misclassified` and
            :func:`papers.protocol_b.noise` (cached).

    Returns:
        ``{"exact": {...}, "sgd": {...}, "record": ...}``: per solver ``fig4``
        (:func:`judge_fig4`) and ``fig8`` (:func:`judge_fig8`); for ``"exact"`` also ``fig5``,
        ``fig7``, ``fig4_control`` (:func:`fig4_control`) and ``clean_acc``; ``record`` is the
        setup's record entry (:func:`papers.protocol_b.setup_record` plus the Fig. 8 samples
        and the noise settings).
    """
    from papers import protocol_b as PB

    out: dict[str, Any] = {}
    for solver in PB.SOLVERS:
        res = PB.effects(setup, solver)
        wrong = PB.misclassified(setup, solver)
        correct = PB.correct_group(res, wrong["correct_positions"])
        out[solver] = {"fig4": judge_fig4(res), "fig8": judge_fig8(correct, wrong)}
        if solver == "exact":
            nz = PB.noise(setup)
            out[solver].update(fig5=judge_fig5(nz), fig7=judge_fig7(nz),
                               fig4_control=fig4_control(res), clean_acc=nz["clean_acc"])
            out["record"] = {**PB.setup_record(setup, res),
                             "fig8_samples": f"{len(wrong['indices'])} misclassified + "
                                             f"{len(correct['indices'])} correct test samples",
                             "noise": {k: PB.NOISE_B[setup.scale][k]
                                       for k in ("sigmas", "draws", "epsilons")}}
    return out


def controls(scale: str) -> dict[str, Any]:
    """The planted controls of Figs. 5, 7 and 8.

    Args:
        scale: ``"smoke"`` (4 samples; 6 per Fig. 8 group), ``"book"`` or ``"paper"`` (20
            samples).

    Returns:
        ``{"fig5": ..., "fig7": ...}``: :func:`judge_fig5` and :func:`judge_fig7` (parameter
        kind) of :func:`value_noise_control` at the levels of :data:`CONTROL_LEVELS`; and
        ``"fig8"``: :func:`judge_fig8` of :func:`fig8_control`.
    """
    n = 4 if scale == "smoke" else 20
    return {"fig5": judge_fig5(value_noise_control(n_samples=n)),
            "fig7": judge_fig7(value_noise_control(n_samples=n, levels=CONTROL_LEVELS["fig7"]),
                               kinds=("params",)),
            "fig8": judge_fig8(*fig8_control(n_samples=max(n, 6)))}


#: what each claim's control plants.
CONTROL_KINDS = {
    "B.fig4.sim": "a measured curve made of the theory's own parts: a decay (Theorem 3.1 on the "
                  "setup's I*, δ mid-box) plus a spindle (α = 0.5) of the same strength",
    "B.fig5.noise_spindle": "planted games (a decay part shared with the baselines, a spindle "
                            "part each model draws on its own) with i.i.d. value noise of sd "
                            "0.005-0.02 x E|v(x_N) - v(x_0)|",
    "B.fig7.emerged_spindle": "the same planted games with i.i.d. value noise of sd 0.04-0.1 x "
                              "E|v(x_N) - v(x_0)|",
    "B.fig8.non_share": "two groups of planted games, the second with its shared part halved and "
                        "its own part doubled",
    "B.fig8.gen_strength": "two groups of planted games, the second with its shared part halved "
                           "and its own part doubled",
}


def setup_records(judged: Mapping[str, Mapping[str, Any]], ctl: Mapping[str, Any], *, scale: str,
                  chapter: str, planned: Sequence[str] = ()) -> list:
    """The verdict records of this module's claims; the lab SGD's outcome is named in ``why``.

    Args:
        judged: :func:`judge_setup` per setup name (the first setup's ``fig4_control`` serves
            as the Fig. 4 control).
        ctl: :func:`controls` of the scale.
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        chapter: the chapter that writes the records.
        planned: the setup names the scale plans (those not in ``judged`` are named in
            ``why``).

    Returns:
        The records of :func:`records`, one per claim of :data:`CLAIMS`.
    """
    def pick(j: Mapping[str, Any], claim: str) -> tuple[bool, str]:
        if claim == "B.fig4.sim":
            f = j["fig4"]
            return f["passed"], (f"{f['why']} (free fit: SIM {f['free']['sim']:.2f}, R² "
                                 f"{f['free']['fit'].r2:.2f}; best SIM {f['best_sim']:.2f})")
        if claim.startswith("B.fig8"):
            return j["fig8"][claim.split(".")[-1]]
        key = "fig5" if claim.startswith("B.fig5") else "fig7"
        return j[key]["passed"], j[key]["why"]

    present, notes = {}, {}
    for claim in CLAIMS:
        present[claim] = {s: pick(j["exact"], claim) for s, j in judged.items()}
        if claim.startswith(("B.fig4", "B.fig8")):
            sgd = [pick(j["sgd"], claim)[0] for j in judged.values()]
            notes[claim] = f"lab SGD: {sum(sgd)} of {len(sgd)} setups pass"
        else:
            notes[claim] = "exact optimum only (the lab SGD was not run on the noisy games)"
    first = next(iter(judged.values()))["exact"]["fig4_control"]

    def ctl_of(claim: str) -> tuple[bool, str, str]:
        if claim == "B.fig4.sim":
            return first["passed"], CONTROL_KINDS[claim], first["why"]
        if claim.startswith("B.fig8"):
            ok, why = ctl["fig8"][claim.split(".")[-1]]
            return ok, CONTROL_KINDS[claim], why
        c = ctl["fig5" if claim.startswith("B.fig5") else "fig7"]
        return c["passed"], CONTROL_KINDS[claim], c["why"]

    undecided = {f"B.fig8.{part}": [s for s, j in judged.items()
                                     if not j["exact"]["fig8"]["decided"][part]]
                 for part in ("non_share", "gen_strength")}
    return records(present, {c: ctl_of(c) for c in CLAIMS},
                   {s: j["record"] for s, j in judged.items()}, scale=scale, chapter=chapter,
                   planned=planned, notes=notes, undecided=undecided)

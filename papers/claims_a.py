r"""Paper A's claims of the chapters A2–A4 judged by rules fixed in code, positive controls run
through the same pipelines, and the verdict records (:mod:`papers.verdicts`).

The chapters run far from paper A's protocol (Conventions page, conventions-protocol-a): small
MLPs on 12 features of scikit-learn tables, Adam, a few samples and seeds. So every record is
categorised with ``powered=False``: an absent effect is "inconclusive", never "not reproduced".

Order ratios are :math:`r = m/(n-2)` (Conventions page, conventions-multiorder); :math:`g_S` is
the gradient :math:`\nabla_\theta \Delta v(i, j, S)` of one context :math:`S` (Conventions
page, eq-delta-v).

**A2 · cause** (Conventions page, eq-learning-signal), on the per-order gradient statistics of
:func:`papers.bottleneck.gradient_statistics` at each kept epoch (a model passes when every
kept epoch passes):

* contextual variability (:func:`variability_rule`): the ratio
  :math:`\lVert \operatorname{mean}_S g_S \rVert / \operatorname{RMS}_S \lVert g_S \rVert` is
  U-shaped over the orders by :func:`papers.bottleneck.shape_summary`;
* independence (:func:`independence_rule`): the mean correlation :math:`\rho` of two contexts'
  gradients over :math:`0.3 \le r \le 0.7` is below :data:`INDEPENDENCE_TOL` in absolute
  value;
* closed form (:func:`closed_form_rule`): the learning signal
  :math:`R^{(m)} \lVert \nabla_\theta I^{(m)} \rVert` is smallest in the middle band
  :math:`0.3 \le r \le 0.7`, where the closed form has its minimum;
* effective :math:`n'` (:func:`n_prime_rule`): the fitted :math:`n'` is at most :math:`n - 1`.

Control: :class:`PlantedGradientModel`, a model with one weight per coalition (its coalition
gradients are orthogonal, so the contexts' gradients are independent by construction; reading
only 8 of the 12 players it has fewer effective players).

**A3 · modulation** (Conventions page, eq-steering-delta-u), on the exact :math:`J^{(m)}` of
each model (Conventions page, eq-relative-strength): :func:`moves_rule` (the chapter's test:
centre :math:`\bar r` up for the high-order preset, down for the low-order one,
:math:`J_{\mathrm{mid}}` up for the mid-order boost, each against the normal model) and
:func:`second_peak_rule` (an interior peak of :func:`papers.bottleneck.interior_peaks` that the
normal model lacks). Control: :func:`planted_modulation`, games whose :math:`J^{(m)}` is moved
the preset's way by construction.

**A4 · consequences**: the low-order against the high-order models, per quantity
(:func:`low_vs_high`): the paper's direction by more than the seed noise (one pooled sd,
:data:`NOISE_SD`). Control: :func:`planted_consequence_models`, a linear classifier against the
same classifier plus a memorising term and a large weight along the data's least-variance
direction, through the same evaluation (:func:`consequence_metrics`) and rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ibn.train import PRESETS
from papers import bottleneck as bn
from papers.bottleneck_runs import N_FEATURES, order_centre, order_of

if TYPE_CHECKING:
    import pandas as pd

    from papers.verdicts import Verdict

__all__ = [
    "MID_BAND", "INDEPENDENCE_TOL", "N_FIT_MAX", "variability_rule", "independence_rule",
    "closed_form_rule", "n_prime_rule", "CAUSE_CLAIMS", "PlantedGradientModel",
    "planted_gradient_stats", "cause_controls", "cause_judgements", "cause_records",
    "INTENDED", "profile_row", "moves_rule", "second_peak_rule", "planted_profile_values",
    "planted_modulation", "modulation_records", "NOISE_SD", "CONSEQUENCE_CLAIMS",
    "consequence_table", "MIN_STEER", "order_centres", "steering_gap", "low_vs_high", "direction_table", "consequence_metrics",
    "planted_consequence_models", "consequence_controls", "consequence_records",
    "STRUCTURAL_CLAIM", "structural_record",
]

#: the middle band of order ratios :math:`r = m/(n-2)` (the bands of the chapters' tables).
MID_BAND = (0.3, 0.7)
#: :math:`|\operatorname{mean} \rho|` over the middle band below which contexts' gradients
#: count as nearly uncorrelated.
INDEPENDENCE_TOL = 0.05
#: the largest :math:`n'` the chapter's fit of the closed form tries.
N_FIT_MAX = 60.0


def _mid(ratios: Sequence[float] | np.ndarray) -> np.ndarray:
    r = np.asarray(ratios, dtype=np.float64)
    return (r >= MID_BAND[0] - 1e-9) & (r <= MID_BAND[1] + 1e-9)


def _span(values: Sequence[float], fmt: str = ".2f") -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}"


def _why(core: str, verdict: str, scope: str, decide: str) -> str:
    """One sentence: the deciding numbers, the departure from the paper, and (when
    inconclusive) what would decide it."""
    tail = f"; {scope}" + (f"; {decide}" if verdict == "inconclusive" else "")
    return core + tail


# ---------------------------------------------------------------------------------------------
# A2 · Cause
# ---------------------------------------------------------------------------------------------


def variability_rule(st: Mapping[str, Any]) -> tuple[bool, float, str]:
    r"""Contextual variability: the ratio
    :math:`\lVert \operatorname{mean}_S g_S \rVert / \operatorname{RMS}_S \lVert g_S \rVert`
    (``st["indep"]``, 1 where a single context exists) is "U-shaped" by
    :func:`papers.bottleneck.shape_summary` (the middle band at least 20 % below both ends).

    Args:
        st: the per-order gradient statistics of one model at one kept epoch
            (:func:`papers.bottleneck.gradient_statistics`); the rule reads ``ratios`` (the order
            ratios :math:`r = m/(n-2)`) and ``indep`` (the ratio above, per order).

    Returns:
        ``(passed, value, why)``: whether the ratio is U-shaped over the orders, its mean over the
        middle band :math:`0.3 \le r \le 0.7`, and one sentence with the means over
        :math:`r \le 0.1`, the middle band and :math:`r \ge 0.9` and the shape.

    Raises:
        ValueError: as :func:`papers.bottleneck.shape_summary`: ``ratios`` and ``indep`` differ in
            shape, or a band holds no ratio.
    """
    s = bn.shape_summary(st["ratios"], st["indep"])
    ok = s["verdict"] == "U-shaped"
    return ok, float(s["J_mid"]), (f"‖mean‖/RMS {s['J_low']:.2f} (r ≤ 0.1), {s['J_mid']:.2f} "
                                   f"(0.3 ≤ r ≤ 0.7), {s['J_high']:.2f} (r ≥ 0.9): {s['verdict']}")


def independence_rule(st: Mapping[str, Any]) -> tuple[bool, float, str]:
    r"""Independence of the contexts' gradients: :math:`|\operatorname{mean} \rho|` over the middle
    band below :data:`INDEPENDENCE_TOL` (:math:`\rho` = the mean correlation of two contexts'
    gradients, 0 for independent zero-mean gradients).

    Args:
        st: the per-order gradient statistics of one model at one kept epoch
            (:func:`papers.bottleneck.gradient_statistics`); the rule reads ``ratios`` (the order
            ratios :math:`r = m/(n-2)`) and ``rho`` (:math:`\rho` per order, NaN where an order has
            a single context; NaN entries are left out of the mean).

    Returns:
        ``(passed, value, why)``: whether :math:`|\operatorname{mean} \rho|` over
        :math:`0.3 \le r \le 0.7` is below :data:`INDEPENDENCE_TOL`, that mean :math:`\rho` (NaN
        when the band holds no finite :math:`\rho`, which fails the rule), and one sentence with
        it.
    """
    rho = float(np.nanmean(np.asarray(st["rho"], dtype=np.float64)[_mid(st["ratios"])]))
    ok = abs(rho) < INDEPENDENCE_TOL
    return ok, rho, (f"mean ρ over {MID_BAND[0]} ≤ r ≤ {MID_BAND[1]} = {rho:.3f} "
                     f"({'below' if ok else 'not below'} {INDEPENDENCE_TOL})")


def closed_form_rule(st: Mapping[str, Any]) -> tuple[bool, float, str]:
    r"""The learning signal :math:`R^{(m)} \sqrt{\mathbb{E} \lVert \nabla_\theta I^{(m)} \rVert^2}`
    (``st["signal"]``) is smallest in the middle band :math:`0.3 \le r \le 0.7`, as the closed
    form at ``st["n"]`` (Conventions page, eq-learning-signal).

    Args:
        st: the per-order gradient statistics of one model at one kept epoch
            (:func:`papers.bottleneck.gradient_statistics`); the rule reads ``ratios`` (the order
            ratios :math:`r = m/(n-2)`), ``signal`` (the measured learning signal per order) and
            ``n`` (the number of players).

    Returns:
        ``(passed, value, why)``: whether the smallest signal lies in the middle band, the ratio
        :math:`r` of the smallest signal, and one sentence with it and the ratio where the closed
        form at :math:`n` is smallest.

    Raises:
        ValueError: :math:`n \le 2` (:func:`papers.bottleneck.predicted_signal`) or an empty
            ``signal``.
    """
    r = np.asarray(st["ratios"], dtype=np.float64)
    k = int(np.argmin(st["signal"]))
    kp = int(np.argmin(bn.predicted_signal(st["n"], r)))
    ok = bool(_mid(r)[k])
    return ok, float(r[k]), (f"signal smallest at r = {r[k]:.2f} (closed form at n = {st['n']}: "
                             f"r = {r[kp]:.2f})")


def n_prime_rule(st: Mapping[str, Any]) -> tuple[bool, float, str]:
    r"""The closed form fitted to the signal (:func:`papers.bottleneck.fit_effective_n`, :math:`n'`
    up to :data:`N_FIT_MAX`; Conventions page, eq-learning-signal) needs fewer players than the
    true :math:`n`: :math:`n' \le n - 1`.

    Args:
        st: the per-order gradient statistics of one model at one kept epoch
            (:func:`papers.bottleneck.gradient_statistics`); the rule reads ``ratios`` (the order
            ratios :math:`r = m/(n-2)`), ``signal`` (the measured learning signal per order) and
            ``n`` (the number of players).

    Returns:
        ``(passed, value, why)``: whether :math:`n' \le n - 1`, the fitted :math:`n'`, and one
        sentence with :math:`n'`, :math:`n` and the fit's log-RMSE.

    Raises:
        ValueError: fewer than two positive values in ``signal``
            (:func:`papers.bottleneck.fit_effective_n`).
    """
    fit = bn.fit_effective_n(st["ratios"], st["signal"], n_max=N_FIT_MAX)
    ok = fit["n_eff"] <= st["n"] - 1
    return ok, float(fit["n_eff"]), (f"n' = {fit['n_eff']:.1f} (n = {st['n']}, log-RMSE "
                                     f"{fit['rmse_log']:.2f})")


#: the A2 claims: key -> (claim id, statement, rule, control case).
CAUSE_CLAIMS: dict[str, tuple[str, str, Any, str]] = {
    "contextual_variability": (
        "A.cause.contextual_variability",
        "Middle orders have the most contexts and their contexts' gradients cancel most: the "
        "norm of the mean gradient of Δv(i, j, S) over the contexts, relative to one context's, "
        "is smallest at the middle orders.", variability_rule, "independent"),
    "independence": (
        "A.cause.independence",
        "The gradients of Δv(i, j, S) for different contexts S are roughly independent (mean "
        "correlation near 0), the assumption behind the 1/√C(n−2, m) law.",
        independence_rule, "independent"),
    "closed_form": (
        "A.cause.closed_form",
        "The net learning signal of order m, R^(m)‖∇θ I^(m)(i, j)‖, is weakest at the middle "
        "orders, as the closed form (n−m−1)/(n(n−1)√C(n−2, m)) predicts.",
        closed_form_rule, "independent"),
    "n_prime": (
        "A.cause.n_prime",
        "The closed form describes the measured learning signal with an effective number of "
        "players n' smaller than the true n.", n_prime_rule, "subset"),
}

_CAUSE_VALUE = {"contextual_variability": ("mid-band ‖mean‖/RMS", ".2f"),
                "independence": ("mid-band mean ρ", ".3f"),
                "closed_form": ("r of the smallest signal", ".1f"),
                "n_prime": ("fitted n'", ".1f")}

_CAUSE_CONTROLS = {
    "independent": "a planted model with one weight per coalition, v(x_T) = w_T, so the 2^n "
                   "coalition gradients are orthogonal and the contexts' gradients independent "
                   "by construction, through the same gradient statistics and rule",
    "subset": "the same planted model reading only 8 of the 12 players, v(x_T) = w_(T∩A) with "
              "|A| = 8 (fewer effective players by construction), through the same statistics, "
              "fit and rule",
}


class PlantedGradientModel(nn.Module):
    r"""A two-class model whose reward is one weight per coalition.

    The logits are :math:`W \varphi(T)`, with :math:`\varphi` the one-hot code of
    :math:`T \cap A` (:math:`A` = ``relevant``), or of :math:`|T \cap A|` when ``by_size``;
    :math:`T` is read from which features differ from the baseline 0. Its coalition gradients
    :math:`\nabla_W v(x_T)` are orthogonal for different :math:`T \cap A` (the contexts' gradients
    are independent by construction, the case the closed form of Conventions page,
    eq-learning-signal assumes); with ``by_size`` every context of an order has the same gradient
    (:math:`\rho = 1`). All parameters sit in one ``nn.Linear`` (the exact Gram of
    :func:`papers.bottleneck.gradient_gram` applies).

    Args:
        n: the number of players (input features); player :math:`i` is present when feature
            :math:`i` is non-zero.
        relevant: the players :math:`A` the model reads (default: all :math:`n`); the others do
            not change its output.
        by_size: code only the number :math:`|T \cap A|` of present relevant players
            (:math:`|A| + 1` weights per class) instead of the coalition :math:`T \cap A`
            (:math:`2^{|A|}` weights per class).
        seed: the seed of the weights, drawn from a standard normal.
    """

    def __init__(self, n: int, *, relevant: Iterable[int] | None = None, by_size: bool = False,
                 seed: int = 0) -> None:
        super().__init__()
        self.relevant = list(range(n)) if relevant is None else [int(i) for i in relevant]
        self.by_size = bool(by_size)
        dim = len(self.relevant) + 1 if by_size else 1 << len(self.relevant)
        self.out = nn.Linear(dim, 2, bias=False)
        with torch.no_grad():
            self.out.weight.copy_(torch.randn(2, dim, generator=torch.Generator().manual_seed(seed)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r"""The logits of a batch of inputs.

        Args:
            x: the inputs ``(B, n)``; the coalition :math:`T` of a row is the set of its
                non-zero features.

        Returns:
            The logits ``(B, 2)``, :math:`W \varphi(T)` per row.
        """
        bits = (x[:, self.relevant] != 0).long()
        idx = bits.sum(1) if self.by_size else (bits << torch.arange(bits.shape[1])).sum(1)
        phi = nn.functional.one_hot(idx, self.out.in_features).to(self.out.weight.dtype)
        return self.out(phi)


def planted_gradient_stats(n: int = N_FEATURES, *, relevant: Iterable[int] | None = None,
                           by_size: bool = False, seed: int = 0) -> dict[str, Any]:
    r""":func:`papers.bottleneck.gradient_statistics` (the chapter's pipeline, float32 Gram
    products) of a :class:`PlantedGradientModel` on one sample with every feature 1, baseline
    0, reward the log-odds of class 0.

    Args:
        n: the number of players (default :data:`papers.bottleneck_runs.N_FEATURES`, 12).
        relevant: the players the model reads (default: all), as in
            :class:`PlantedGradientModel`.
        by_size: code the number of present relevant players instead of the coalition, as in
            :class:`PlantedGradientModel`.
        seed: the seed of the model's weights.

    Returns:
        The dict of :func:`papers.bottleneck.gradient_statistics` (per order: ``ratios``,
        ``indep``, ``rho``, ``signal`` and the others; ``n``), the input of the A2 rules.
    """
    from ibn.maskers import TabularMasker

    model = PlantedGradientModel(n, relevant=relevant, by_size=by_size, seed=seed)
    return bn.gradient_statistics(model, torch.ones(1, n), torch.zeros(1, dtype=torch.long),
                                  TabularMasker(torch.zeros(n)), matmul_dtype=torch.float32)


def cause_controls(n: int = N_FEATURES) -> dict[str, dict[str, Any]]:
    r"""The A2 controls' statistics (:func:`planted_gradient_stats`).

    Args:
        n: the number of players (default :data:`papers.bottleneck_runs.N_FEATURES`, 12).

    Returns:
        ``{"independent": ..., "subset": ...}``: the statistics of the planted model with every
        player relevant (independent contexts) and with the first :math:`2n/3` of the :math:`n`
        players relevant (fewer effective players; 8 at :math:`n = 12`).
    """
    return {"independent": planted_gradient_stats(n),
            "subset": planted_gradient_stats(n, relevant=range(2 * n // 3))}


def _cause_snapshots(results: Mapping[tuple[str, str], tuple[Mapping[str, Any], Mapping[str, Any]]]
                     ) -> list[tuple[str, str, str, Mapping[str, Any]]]:
    return [(d, m, e, st) for (d, m), (_, res) in results.items() for e, st in res["stats"].items()]


def cause_judgements(results: Mapping[tuple[str, str], tuple[Mapping[str, Any], Mapping[str, Any]]],
                     controls: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    r"""Each A2 rule on each (model, kept epoch) of ``results`` and on its control.

    Args:
        results: ``{(dataset, model): (params, result)}`` with the result of
            :func:`papers.bottleneck_runs.a2_gradients` (its ``stats``: the gradient statistics
            per kept epoch).
        controls: the controls' statistics, :func:`cause_controls` (keys ``"independent"`` and
            ``"subset"``).

    Returns:
        A DataFrame with one row per rule and case (each claim's control first, then every model
        and kept epoch): ``claim``, ``case``, ``passes`` and ``why``.

    Raises:
        ValueError: as the rules (:func:`variability_rule`, :func:`closed_form_rule`,
            :func:`n_prime_rule`).
    """
    import pandas as pd

    rows = []
    for key, (claim, _, rule, case) in CAUSE_CLAIMS.items():
        ok, _, why = rule(controls[case])
        rows.append({"claim": claim, "case": f"control: {case}", "passes": ok, "why": why})
        for d, m, e, st in _cause_snapshots(results):
            ok, _, why = rule(st)
            rows.append({"claim": claim, "case": f"{m.upper()} {d}, epoch {e}", "passes": ok,
                         "why": why})
    return pd.DataFrame(rows)


def cause_records(results: Mapping[tuple[str, str], tuple[Mapping[str, Any], Mapping[str, Any]]],
                  controls: Mapping[str, Mapping[str, Any]], *, scale: str,
                  chapter: str) -> list[Verdict]:
    r"""The A2 records, one per :data:`CAUSE_CLAIMS` entry. A model is a setup; it shows the
    effect when its rule passes at every kept epoch.

    Args:
        results: ``{(dataset, model): (params, result)}`` with the params and result of
            :func:`papers.bottleneck_runs.a2_gradients` (params: ``epochs``, ``lr``; result:
            ``stats`` per kept epoch, ``sample_index``, ``test_acc``).
        controls: the controls' statistics, :func:`cause_controls`.
        scale: the scale of the chapter's run (``"smoke"``, ``"book"`` or ``"paper"``), for the
            record.
        chapter: the chapter's source, for the record.

    Returns:
        The :class:`papers.verdicts.Verdict` records in the order of :data:`CAUSE_CLAIMS`.

    Raises:
        ValueError: as the rules (:func:`variability_rule`, :func:`closed_form_rule`,
            :func:`n_prime_rule`).
    """
    from papers.verdicts import Control, Verdict, categorize

    setups, present_by_claim = [], {k: [] for k in CAUSE_CLAIMS}
    values = {k: [] for k in CAUSE_CLAIMS}
    snaps = 0
    for (d, m), (params, res) in results.items():
        stats = list(res["stats"].values())
        snaps += len(stats)
        setups.append({"model": m, "dataset": d, "n_players": int(stats[0]["n"]),
                       "n_samples": int(len(res["sample_index"])),
                       "target_test_acc": round(float(res["test_acc"][-1]), 4),
                       "epochs": int(params["epochs"]),
                       "snapshots": [int(e) for e in res["stats"]],
                       "pairs": int(stats[0]["n"] * (stats[0]["n"] - 1) // 2),
                       "contexts": "all", "optimizer": "adam", "lr": params["lr"]})
        for key, (_, _, rule, _) in CAUSE_CLAIMS.items():
            judged = [rule(st) for st in stats]
            present_by_claim[key].append(all(ok for ok, _, _ in judged))
            values[key].append([(ok, v) for ok, v, _ in judged])
    scope = ("exact (all pairs, all contexts) on MLPs over 12 features of scikit-learn tables, "
             "not paper A's image networks at n = 256")
    decide = "the same statistics on paper A's networks would decide it"
    out = []
    for key, (claim, statement, rule, case) in CAUSE_CLAIMS.items():
        ok_c, _, why_c = rule(controls[case])
        control = Control(_CAUSE_CONTROLS[case], "detected" if ok_c else "missed", why_c)
        present = present_by_claim[key]
        verdict = categorize(present, control, powered=False)
        flat = [x for per in values[key] for x in per]
        label, fmt = _CAUSE_VALUE[key]
        core = (f"{label} {_span([v for _, v in flat], fmt)} over {snaps} snapshots "
                f"(model × kept epoch), {sum(ok for ok, _ in flat)} of {snaps} pass the rule "
                f"({_rule_text(key)})")
        if key == "n_prime":
            rmse = [bn.fit_effective_n(st["ratios"], st["signal"], n_max=N_FIT_MAX)["rmse_log"]
                    for _, _, _, st in _cause_snapshots(results)]
            core += f", log-RMSE of the fit {_span(rmse)}"
        out.append(Verdict(claim=claim, paper="A", figure="§4", statement=statement,
                           verdict=verdict, why=_why(core, verdict, scope, decide), scale=scale,
                           setups=setups, control=control, chapter=chapter))
    return out


def _rule_text(key: str) -> str:
    return {"contextual_variability": "U-shaped: middle band ≥ 20 % below both ends",
            "independence": f"|ρ| below {INDEPENDENCE_TOL}",
            "closed_form": f"smallest in {MID_BAND[0]} ≤ r ≤ {MID_BAND[1]}; the closed form's "
                           "minimum lies there",
            "n_prime": "n' ≤ n − 1"}[key]


# ---------------------------------------------------------------------------------------------
# A3 · Modulation
# ---------------------------------------------------------------------------------------------

#: what each preset must do to :math:`J^{(m)}`, against the normal model: (quantity, sign,
#: words).
INTENDED: dict[str, tuple[str, int, str]] = {
    "high": ("centre", 1, "centre r̄ moved up"),
    "low": ("centre", -1, "centre r̄ moved down"),
    "mid": ("J_mid", 1, "J_mid raised"),
}


def profile_row(res: Mapping[str, Any]) -> dict[str, Any]:
    r"""The numbers of a :math:`J^{(m)}` curve the A3 rules read (Conventions page,
    eq-relative-strength).

    Args:
        res: the curve: ``ratios`` (the order ratios :math:`r = m/(n-2)`) and ``J`` (the relative
            strength :math:`J^{(m)}` at them), e.g. the result of
            :func:`papers.bottleneck_runs.a3_modulation` or of
            :func:`papers.bottleneck.exact_profile`.

    Returns:
        A dict: ``J_low``, ``J_mid``, ``J_high`` and ``shape`` (the band means and the verdict of
        :func:`papers.bottleneck.shape_summary`), ``centre`` (the centre :math:`\bar r` of
        :func:`papers.bottleneck_runs.order_centre`) and ``peaks`` (the ratios of the interior
        peaks of :func:`papers.bottleneck.interior_peaks`).

    Raises:
        ValueError: as :func:`papers.bottleneck.shape_summary`: ``ratios`` and ``J`` differ in
            shape, or a band holds no ratio.
    """
    r, J = np.asarray(res["ratios"], dtype=np.float64), np.asarray(res["J"], dtype=np.float64)
    s = bn.shape_summary(r, J)
    return {"J_low": s["J_low"], "J_mid": s["J_mid"], "J_high": s["J_high"],
            "centre": order_centre(r, J), "shape": s["verdict"],
            "peaks": [p["ratio"] for p in bn.interior_peaks(r, J)]}


def moves_rule(preset: str, row: Mapping[str, Any], normal: Mapping[str, Any]
               ) -> tuple[bool, str]:
    r"""The chapter's test of a preset's model against the normal model's: :data:`INTENDED`
    (centre :math:`\bar r` up for "high", down for "low", :math:`J_{\mathrm{mid}}` up for "mid").

    Args:
        preset: the preset, a key of :data:`INTENDED` (``"low"``, ``"mid"`` or ``"high"``).
        row: the preset's model's :func:`profile_row`.
        normal: the normal model's :func:`profile_row`.

    Returns:
        ``(passed, why)``: whether the preset's quantity of :data:`INTENDED` moved the intended
        way (strictly), and one sentence with the normal model's value, the preset's value and
        the verdict.

    Raises:
        KeyError: ``preset`` is not a key of :data:`INTENDED`.
    """
    key, sign, words = INTENDED[preset]
    ok = sign * (row[key] - normal[key]) > 0
    return ok, f"{key} {normal[key]:.3f} → {row[key]:.3f} ({words}: {'yes' if ok else 'NO'})"


def second_peak_rule(rows: Mapping[float, Mapping[str, Any]], normal: Mapping[str, Any]
                     ) -> tuple[bool, str]:
    r"""A second peak: the normal model's curve has no interior peak
    (:func:`papers.bottleneck.interior_peaks`) and the preset's curve has one at some
    :math:`\lambda`.

    Args:
        rows: ``{λ: row}``, the preset's model's :func:`profile_row` at each weight
            :math:`\lambda` of the steering term (a key may also be a string naming the case, e.g.
            ``"planted"`` for the control).
        normal: the normal model's :func:`profile_row`.

    Returns:
        ``(passed, why)``: whether the normal curve has no interior peak and the preset's curve
        has one at some :math:`\lambda`, and one sentence with the peaks' ratios per
        :math:`\lambda`, how many of the curves have one, and the normal model's peaks.
    """
    with_peak = {lam: row["peaks"] for lam, row in rows.items() if row["peaks"]}
    ok = not normal["peaks"] and bool(with_peak)
    normal_txt = ("normal model: none" if not normal["peaks"] else
                  "normal model: at r = " + ", ".join(f"{p:.2f}" for p in normal["peaks"]))
    found = ("; ".join(f"{_lam(lam)}: r = {', '.join(f'{p:.2f}' for p in pk)}"
                       for lam, pk in with_peak.items()) or "none")
    return ok, f"interior peaks: {found} ({len(with_peak)} of {len(rows)}); {normal_txt}"


def _lam(key: float | str) -> str:
    return key if isinstance(key, str) else f"λ = {key:g}"


def planted_profile_values(D: Sequence[float], *, noise: float = 0.02, n_games: int = 3,
                           seed: int = 0) -> torch.Tensor:
    r"""The values of games whose every pair has :math:`I^{(m)}(i, j) = D(m)`,
    :math:`m = 0, \dots, n-2` (Conventions page, eq-multiorder), plus context noise.

    The values are :math:`v(S) = F(|S|) + \mathrm{noise} \cdot e_3(u_S)`, with :math:`F` the
    function of the coalition's size whose second difference is :math:`D`
    (:math:`F(0) = F(1) = 0`, :math:`F(m+2) - 2F(m+1) + F(m) = D(m)`) and :math:`e_3` the third
    elementary symmetric polynomial of per-player :math:`u_k \sim \mathcal{N}(0, 1)` over the
    players of :math:`S` (the construction of :func:`papers.protocol_a.planted_u_game` with any
    profile).

    Args:
        D: the profile :math:`D(m)` for :math:`m = 0, \dots, n-2`; :math:`n` = ``len(D) + 1``
            players.
        noise: the weight of the context noise :math:`e_3(u_S)` (default 0.02; 0: no noise).
        n_games: the number of games, each with its own draw of :math:`u`.
        seed: the seed of the draws of :math:`u`.

    Returns:
        A float64 tensor ``(n_games, 2**n)``: each game's values, coalitions in the order of
        :func:`ibn.transforms.all_masks`.
    """
    from ibn.transforms import all_masks

    D_t = torch.as_tensor(np.asarray(D, dtype=np.float64))
    n = len(D_t) + 1
    F = torch.zeros(n + 1, dtype=torch.float64)
    for m in range(n - 1):
        F[m + 2] = 2 * F[m + 1] - F[m] + D_t[m]
    w = all_masks(n).double()
    size = w.sum(1).long()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_games):
        u = torch.as_tensor(rng.standard_normal(n))
        p1, p2, p3 = w @ u, w @ u ** 2, w @ u ** 3
        out.append(F[size] + noise * (p1 ** 3 - 3 * p1 * p2 + 2 * p3) / 6)
    return torch.stack(out)


def planted_modulation(presets: Iterable[str] = ("low", "mid", "high"), *, n: int = N_FEATURES,
                       factor: float = 0.5, n_games: int = 3, seed: int = 0
                       ) -> dict[str, dict[str, Any]]:
    r"""The A3 control: exact profiles (:func:`papers.bottleneck.exact_profile`) of planted games
    (:func:`planted_profile_values`) for a "normal" model and one model per preset.

    The normal model has the falling profile :math:`D(r) = (1 - r)^2 + 0.3`; per preset
    ``(mode, r1, r2)`` of :data:`ibn.train.PRESETS`, the same profile with the orders
    :math:`r \in [r_1, r_2]` multiplied by :math:`1 + \mathrm{factor}` (boost) or
    :math:`1 - \mathrm{factor}` (suppress): the preset's effect by construction (``factor=0``:
    none). Conventions page, eq-steering-boost and eq-steering-suppress give the losses whose
    effect this plants.

    Args:
        presets: the presets of :data:`ibn.train.PRESETS` to plant (default all three).
        n: the number of players of the games (default
            :data:`papers.bottleneck_runs.N_FEATURES`, 12).
        factor: the relative change of the preset's orders (default 0.5: the chapter's control
            scales them by 1.5 or 0.5).
        n_games: the number of games per model (:func:`planted_profile_values`).
        seed: the seed of the games' context noise (the same for every model).

    Returns:
        ``{"normal": profile, preset: profile, ...}``: the dicts of
        :func:`papers.bottleneck.exact_profile` (``ratios``, ``J`` and the others).

    Raises:
        KeyError: a preset that is not in :data:`ibn.train.PRESETS`.
    """
    r = np.arange(n - 1, dtype=np.float64) / (n - 2)
    base = (1 - r) ** 2 + 0.3
    out = {"normal": bn.exact_profile(planted_profile_values(base, n_games=n_games, seed=seed))}
    for preset in presets:
        mode, r1, r2 = PRESETS[preset]
        band = (r >= r1 - 1e-9) & (r <= r2 + 1e-9)
        D = base * np.where(band, 1 + factor if mode == "boost" else 1 - factor, 1.0)
        out[preset] = bn.exact_profile(planted_profile_values(D, n_games=n_games, seed=seed))
    return out


def modulation_records(results: Mapping[tuple[str, str, float],
                                        tuple[Mapping[str, Any], Mapping[str, Any]]],
                       controls: Mapping[str, Mapping[str, Any]], *, scale: str,
                       chapter: str) -> list[Verdict]:
    r"""The A3 records: ``A.modulation.losses_move_profile`` (a setup is a preset on a dataset; it
    shows the effect when :func:`moves_rule` passes at every :math:`\lambda`) and
    ``A.modulation.second_peak`` (the boost presets; :func:`second_peak_rule`).

    Args:
        results: ``{(setup, preset, λ): (params, result)}`` with the params and result of
            :func:`papers.bottleneck_runs.a3_modulation`, preset ``"normal"`` at
            :math:`\lambda = 0` for every setup, where ``setup`` names a dataset and a training
            recipe (the dataset's name alone for Adam).
        controls: the control's profiles, :func:`planted_modulation`.
        scale: the scale of the chapter's run (``"smoke"``, ``"book"`` or ``"paper"``), for the
            record.
        chapter: the chapter's source, for the record.

    Returns:
        Two :class:`papers.verdicts.Verdict` records: ``A.modulation.losses_move_profile`` and
        ``A.modulation.second_peak``.

    Raises:
        KeyError: a setup without its normal model at :math:`\lambda = 0`, or a preset missing
            from ``controls``.
    """
    from papers.verdicts import Control, Verdict, categorize

    rows = {k: profile_row(res) for k, (_, res) in results.items()}
    datasets = list(dict.fromkeys(d for d, _, _ in results))
    presets = list(dict.fromkeys(p for _, p, _ in results if p != "normal"))
    ctl_rows = {k: profile_row(v) for k, v in controls.items()}
    ctl_kind = ("planted games whose every pair has I^(m)(i, j) = D(m) plus context noise: a "
                "falling D for the normal model and, per preset, the same D with the preset's "
                "orders [r1, r2] scaled by 1.5 (boost) or 0.5 (suppress), through the same exact "
                "profile and rule")

    def setup(d: str, preset: str) -> dict[str, Any]:
        keys = [k for k in results if k[0] == d and k[1] == preset]
        params = results[keys[0]][0]
        return {"model": params["model"], "dataset": params["dataset"], "setup": d,
                "n_players": len(params["features"]),
                "n_samples": int(min(results[k][1]["n_samples"] for k in keys)),
                "preset": preset, "steer": list(PRESETS[preset]),
                "lams": [float(k[2]) for k in keys],
                "target_test_acc": [round(float(results[k][1]["test_acc"]), 4) for k in keys],
                "normal_test_acc": round(float(results[(d, "normal", 0.0)][1]["test_acc"]), 4),
                "epochs": int(params["epochs"]), "seed": int(params["seed"]),
                "optimizer": params["optimizer"], "recipe": params.get("recipe", "adam")}

    scope = ("MLP-5 on 12 features of scikit-learn tables, one seed, exact J^(m) on the "
             "correctly classified test samples, not paper A's networks")
    decide = "more seeds and paper A's models would decide it"

    # losses move the profile
    ctl_checks = [moves_rule(p, ctl_rows[p], ctl_rows["normal"]) for p in presets]
    control = Control(ctl_kind, "detected" if all(ok for ok, _ in ctl_checks) else "missed",
                      "; ".join(f"{p}: {w}" for p, (_, w) in zip(presets, ctl_checks)))
    present, parts, setups = [], [], []
    for d in datasets:
        for p in presets:
            lams = [k[2] for k in results if k[0] == d and k[1] == p]
            judged = [moves_rule(p, rows[(d, p, lam)], rows[(d, "normal", 0.0)])[0] for lam in lams]
            present.append(all(judged))
            setups.append(setup(d, p))
            key = INTENDED[p][0]
            parts.append(f"{p} on {d} ({INTENDED[p][2]}) at {sum(judged)} of {len(judged)} λ: "
                         f"{key} {rows[(d, 'normal', 0.0)][key]:.3f} → "
                         f"{_span([rows[(d, p, lam)][key] for lam in lams], '.3f')}")
    verdict = categorize(present, control, powered=False)
    core = (f"{sum(present)} of {len(present)} presets move J^(m) the intended way at every λ "
            f"({'; '.join(parts)})")
    out = [Verdict(claim="A.modulation.losses_move_profile", paper="A", figure="eq. 14",
                   statement="Paper A's order-steering losses move J^(m) the intended way: the "
                             "high-order preset shifts its weight to higher orders, the "
                             "low-order preset to lower orders, and the mid-order boost raises "
                             "the middle band, against a normal model.",
                   verdict=verdict, why=_why(core, verdict, scope, decide), scale=scale,
                   setups=setups, control=control, chapter=chapter)]

    # second peak: the boost presets
    boost = [p for p in presets if PRESETS[p][0] == "boost"]
    ctl_checks = [second_peak_rule({"planted": ctl_rows[b]}, ctl_rows["normal"]) for b in boost]
    control = Control(ctl_kind, "detected" if ctl_checks and all(ok for ok, _ in ctl_checks)
                      else "missed", "; ".join(f"{b}: {w}" for b, (_, w) in zip(boost, ctl_checks))
                      or "no boost preset at this scale")
    present, parts, setups = [], [], []
    for d in datasets:
        for p in boost:
            lams = [k[2] for k in results if k[0] == d and k[1] == p]
            ok, why = second_peak_rule({lam: rows[(d, p, lam)] for lam in lams},
                                       rows[(d, "normal", 0.0)])
            present.append(ok)
            setups.append(setup(d, p))
            parts.append(f"{p} on {d}: {why}")
    verdict = categorize(present, control, powered=False)
    core = (f"{sum(present)} of {len(present)} boost presets show one"
            + (f" ({'; '.join(parts)})" if parts else " (no boost preset at this scale)"))
    out.append(Verdict(claim="A.modulation.second_peak", paper="A", figure="eq. 14",
                       statement="Boosting the middle orders makes a second, interior peak "
                                 "appear in J^(m), which the normal model does not have.",
                       verdict=verdict, why=_why(core, verdict, scope, decide), scale=scale,
                       setups=setups, control=control, chapter=chapter))
    return out


# ---------------------------------------------------------------------------------------------
# A4 · Consequences
# ---------------------------------------------------------------------------------------------

#: a low − high difference counts when it exceeds this many pooled seed sds.
NOISE_SD = 1.0

#: the consequence the book cannot test (no protocol): claim id, paper section, statement.
STRUCTURAL_CLAIM = ("A.consequence.structural", "§6 (structural modelling)",
                    "High-order models capture the structure of their inputs better than "
                    "low-order ones (the abstract's 'structural modeling capability').")

#: the A4 claims: (claim id, figure, statement, quantities or prefixes "fgsm@", which model the
#: paper expects to be better: "low" or "high").
CONSEQUENCE_CLAIMS: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    ("A.consequence.generalization_gap", "§6 (train/test loss gap, VGG-16 on CIFAR-10)",
     "Low-order models generalise better than high-order ones: a smaller gap between test and "
     "training loss and accuracy.", ("loss gap", "acc gap"), "low"),
    ("A.consequence.fitting", "§6",
     "High-order models fit the training data better than low-order ones (lower training "
     "loss, higher training accuracy).", ("train loss", "train acc"), "high"),
    ("A.consequence.adversarial_robustness", "§6 (PGD accuracy, MLP-8 on Census)",
     "Low-order models are more robust to adversarial attacks (FGSM, PGD) than high-order ones.",
     ("fgsm@", "pgd@"), "low"),
    ("A.consequence.noise_robustness", "§6",
     "Low-order models keep more accuracy under Gaussian input noise than high-order ones.",
     ("noise@",), "low"),
    ("A.consequence.masking", "§6",
     "Low-order models keep more accuracy than high-order ones when input variables are masked "
     "at random.", ("mask@",), "low"),
)


def consequence_table(results: Mapping[tuple[str, int], tuple[Any, Mapping[str, Any]]]
                      ) -> pd.DataFrame:
    r"""One row per (model kind, seed) of ``results``: losses, accuracies, the gaps test − train
    loss and train − test accuracy, and the accuracies under attacks and corruptions (not the
    clean one).

    Args:
        results: ``{(kind, seed): (params, result)}`` with the result of
            :func:`papers.bottleneck_runs.a4_consequences` or of :func:`consequence_metrics`
            (``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``, ``robustness``).

    Returns:
        A DataFrame with the columns ``model`` (the kind), ``seed``, ``train loss``,
        ``test loss``, ``loss gap``, ``train acc``, ``test acc``, ``acc gap`` and the keys of
        :func:`papers.bottleneck.robustness` but ``clean`` (``fgsm@ε``, ``pgd@ε``, ``noise@σ``,
        ``mask@f``).
    """
    import pandas as pd

    rows = []
    for (kind, s), (_, res) in results.items():
        rec = {"model": kind, "seed": s, "train loss": res["train_loss"],
               "test loss": res["test_loss"], "loss gap": res["test_loss"] - res["train_loss"],
               "train acc": res["train_acc"], "test acc": res["test_acc"],
               "acc gap": res["train_acc"] - res["test_acc"]}
        rec.update({k: v for k, v in res["robustness"].items() if k != "clean"})
        rows.append(rec)
    return pd.DataFrame(rows)


#: the precondition of a consequence comparison: the high-order models' mean order centre
#: :math:`\bar r` exceeds the low-order models' by at least this (a fifth of the order range),
#: else the two kinds do not differ in what they encode and their quantities are shown, not
#: counted.
MIN_STEER = 0.2


def order_centres(results: Mapping[tuple[str, int], tuple[Any, Mapping[str, Any]]]
                  ) -> dict[str, list[float]]:
    r"""The order centre :math:`\bar r` (:func:`papers.bottleneck_runs.order_centre`) of every run
    of ``results``, by kind.

    Args:
        results: ``{(kind, seed): (params, result)}``, each result with ``ratios`` and ``J`` (the
            :math:`J^{(m)}` curve), e.g. of :func:`papers.bottleneck_runs.a4_consequences`.

    Returns:
        ``{kind: [r̄, ...]}``: the centres of the kind's runs, in the order of ``results``.
    """
    from papers.bottleneck_runs import order_centre

    out: dict[str, list[float]] = {}
    for (kind, _), (_, r) in results.items():
        out.setdefault(kind, []).append(order_centre(np.asarray(r["ratios"]), np.asarray(r["J"])))
    return out


def steering_gap(results: Mapping[tuple[str, int], tuple[Any, Mapping[str, Any]]]) -> float:
    r"""The mean order centre :math:`\bar r` (:func:`order_centres`) of the high-order models minus
    that of the low-order models, over the seeds of ``results``.

    Args:
        results: ``{(kind, seed): (params, result)}``, each result with ``ratios`` and ``J``, as
            in :func:`order_centres`.

    Returns:
        The gap as a float; NaN without both kinds ``"low"`` and ``"high"``.
    """
    centre = order_centres(results)
    if not centre.get("low") or not centre.get("high"):
        return float("nan")
    return float(np.mean(centre["high"]) - np.mean(centre["low"]))


def _higher_is_better(col: str) -> bool:
    return ("acc" in col and "gap" not in col) or "@" in col


def low_vs_high(per_seed: pd.DataFrame) -> pd.DataFrame:
    r"""The chapter's low- against high-order comparison of :func:`consequence_table`.

    Per quantity: the seed means, low − high, its size in pooled seed sds
    :math:`\sqrt{(s_{\mathrm{low}}^2 + s_{\mathrm{high}}^2)/2}` (NaN with one seed) and whether the
    low-order model is better (higher accuracy, lower loss or gap).

    Args:
        per_seed: the table of :func:`consequence_table` (one row per kind and seed).

    Returns:
        A DataFrame with one row per quantity: ``quantity``, ``low``, ``high``, ``low − high``,
        ``in pooled sd`` and ``low-order model better``. Empty (with those columns) without both
        kinds ``"low"`` and ``"high"``.
    """
    import pandas as pd

    metrics = [c for c in per_seed.columns if c not in ("model", "seed")]
    if not {"low", "high"} <= set(per_seed["model"]):
        return pd.DataFrame(columns=["quantity", "low", "high", "low − high", "in pooled sd",
                                     "low-order model better"])
    mean = per_seed.groupby("model", sort=False)[metrics].mean()
    sd = per_seed.groupby("model", sort=False)[metrics].std()
    rows = []
    for col in metrics:
        diff = mean.loc["low", col] - mean.loc["high", col]
        pooled = np.sqrt((sd.loc["low", col] ** 2 + sd.loc["high", col] ** 2) / 2)
        better = diff > 0 if _higher_is_better(col) else diff < 0
        rows.append({"quantity": col, "low": mean.loc["low", col], "high": mean.loc["high", col],
                     "low − high": diff, "in pooled sd": diff / pooled if pooled > 0 else np.nan,
                     "low-order model better": bool(better)})
    return pd.DataFrame(rows)


def _part_holds(row: Mapping[str, Any], expected: str) -> bool:
    """The paper's direction by more than :data:`NOISE_SD` pooled sds."""
    z = row["in pooled sd"]
    if not np.isfinite(z) or abs(z) <= NOISE_SD:
        return False
    return bool(row["low-order model better"]) == (expected == "low")


def _parts(table: pd.DataFrame, quantities: Sequence[str]) -> list[dict[str, Any]]:
    return [row for row in table.to_dict("records")
            if any(row["quantity"] == q or (q.endswith("@") and row["quantity"].startswith(q))
                   for q in quantities)]


def direction_table(per_seed: pd.DataFrame, pgd: Sequence[float], fgsm: Sequence[float],
                    *, many_seeds: bool) -> pd.DataFrame:
    r"""The chapter's comparison of the full order of the kinds' means with paper A's order, per
    quantity the paper reports (loss and accuracy gap, training loss, PGD and FGSM accuracy),
    with the means (± sd with ``many_seeds``) and the reference.

    Args:
        per_seed: the table of :func:`consequence_table` (one row per kind and seed).
        pgd: the PGD radii :math:`\varepsilon` of the chapter's settings (the columns
            ``pgd@ε``).
        fgsm: the FGSM radii :math:`\varepsilon` of the chapter's settings (the columns
            ``fgsm@ε``).
        many_seeds: show each mean with its seed sd.

    Returns:
        A DataFrame with one row per comparison: ``quantity``, ``paper's order``, ``order here``
        (the kinds present, sorted by their means), ``agrees``, ``means`` and ``reference`` (the
        paper's numbers). A comparison with fewer than two of its kinds present is left out.

    Raises:
        KeyError: a radius of ``pgd`` or ``fgsm`` without its column in ``per_seed``.
    """
    import pandas as pd

    metrics = [c for c in per_seed.columns if c not in ("model", "seed")]
    mean = per_seed.groupby("model", sort=False)[metrics].mean()
    sd = per_seed.groupby("model", sort=False)[metrics].std()
    checks = [("loss gap", ["low", "normal", "high"], False,
               "VGG-16 CIFAR-10 gap 0.396 / 0.507 / 0.614 (low < normal < high)"),
              ("acc gap", ["low", "normal", "high"], False, "same direction as the loss gap"),
              # Table 3 gives the normal and the high-order model the same training loss, so only
              # the low-order model's place is the paper's order
              ("train loss", ["low", "normal"], True,
               "Table 3: the low-order model fits worst (normal and high-order: the same loss)"),
              ("train loss", ["low", "high"], True, "the same (low-order model worst)")]
    checks += [(f"pgd@{e:g}", ["low", "normal", "mid", "high"], True,
                "MLP-8 Census PGD 44.65 / 39.33 / 18.10 / 2.02 (low > normal > mid > high)")
               for e in pgd]
    checks += [(f"fgsm@{e:g}", ["low", "normal", "mid", "high"], True,
                "expected like PGD: low most robust") for e in fgsm]
    rows = []
    for col, expected, descending, note in checks:
        present = [k for k in expected if k in mean.index]
        if len(present) < 2:
            continue
        got = order_of(mean[col], present, descending)
        rows.append({"quantity": col, "paper's order": (" > " if descending else " < ").join(present),
                     "order here": (" > " if descending else " < ").join(got),
                     "agrees": got == present,
                     "means": ", ".join(f"{k} {mean.loc[k, col]:.3f}±{sd.loc[k, col]:.3f}"
                                        if many_seeds else f"{k} {mean.loc[k, col]:.3f}"
                                        for k in present), "reference": note})
    return pd.DataFrame(rows)


def consequence_metrics(model: nn.Module, tab: Any, settings: Mapping[str, Any],
                        seed: int) -> dict[str, Any]:
    r"""The evaluation of :func:`papers.bottleneck_runs.a4_consequences` on a given model:
    training and test loss and accuracy (eval mode) and :func:`papers.bottleneck.robustness`
    on the test split with the chapter's ``settings`` (``fgsm``, ``pgd``, ``sigma``, ``mask``;
    PGD 20 steps; players the 12 features at baseline 0).

    Args:
        model: the two-class model to evaluate.
        tab: the table (:func:`ibn.data.load_tabular` on its 12 first features,
            :func:`papers.bottleneck.select_features`) with ``x_train``, ``y_train``, ``x_test``
            and ``y_test``.
        settings: the chapter's preset (:class:`papers.specs.ConsequencesSpec` or a mapping)
            with the attack and corruption levels ``fgsm``, ``pgd``, ``sigma`` and ``mask``.
        seed: the seed of PGD's random start, the Gaussian noise and the masks.

    Returns:
        A dict: ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` and ``robustness``
        (the flat dict of :func:`papers.bottleneck.robustness`).
    """
    from ibn.maskers import TabularMasker
    from ibn.train import evaluate

    tr = evaluate(model, (tab.x_train, tab.y_train))
    te = evaluate(model, (tab.x_test, tab.y_test))
    rob = bn.robustness(model, tab.x_test, tab.y_test, TabularMasker(torch.zeros(N_FEATURES)),
                        eps=settings["fgsm"], pgd_eps=settings["pgd"], pgd_steps=20,
                        sigma=settings["sigma"], mask_fraction=settings["mask"], seed=seed)
    return {"train_loss": tr["loss"], "train_acc": tr["acc"], "test_loss": te["loss"],
            "test_acc": te["acc"], "robustness": rob}


class _PlantedClassifier(nn.Module):
    """Two-class logits (−z/2, z/2) with z = w·x + b + k·(u·x) + a·Σ_t ±exp(−‖x − x_t‖²/2h²)
    over memorised points x_t (sign + for class 1)."""

    def __init__(self, w: torch.Tensor, b: float, *, u: torch.Tensor | None = None,
                 k: float = 0.0, memo: tuple[torch.Tensor, torch.Tensor] | None = None,
                 h: float = 0.3, a: float = 0.0) -> None:
        super().__init__()
        d = len(w)
        self.lin = nn.Linear(d, 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.as_tensor(w, dtype=torch.float32)[None])
            self.lin.bias.fill_(float(b))
        self.register_buffer("u", torch.zeros(d) if u is None else torch.as_tensor(u).float())
        self.register_buffer("mx", torch.zeros(0, d) if memo is None else memo[0].float())
        self.register_buffer("my", torch.zeros(0) if memo is None else 2.0 * memo[1].float() - 1)
        self.k, self.h, self.a = float(k), float(h), float(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.lin(x)[:, 0] + self.k * (x @ self.u)
        if self.a and len(self.mx):
            z = z + self.a * torch.exp(-torch.cdist(x, self.mx) ** 2 / (2 * self.h ** 2)) @ self.my
        return torch.stack([-z / 2, z / 2], 1)


def planted_consequence_models(tab: Any, seed: int, *, k: float = 50.0, a: float = 10.0,
                               h: float = 0.3) -> tuple[nn.Module, nn.Module]:
    r"""The A4 control's pair on a two-class table ``tab``.

    "low" is a ridge linear classifier fit to a bootstrap sample (``seed``) of the training
    split, with logits :math:`(-z/2, z/2)`, :math:`z = w \cdot x + b`; "high" is the same plus a
    term that memorises every training point (RBF bumps of width ``h``, weight ``a``: a lower
    training loss and a larger gap by construction) and a weight ``k`` along the training
    data's least-variance direction :math:`u` (little change on the data, large under
    perturbations: less robust by construction):
    :math:`z = w \cdot x + b + k\, (u \cdot x) + a \sum_t \pm \exp(-\lVert x - x_t \rVert^2 / 2h^2)`
    over the training points :math:`x_t` (sign + for class 1).

    Args:
        tab: the two-class table with ``x_train`` and ``y_train`` (e.g. the chapter's 12
            features of :func:`ibn.data.load_tabular`).
        seed: the seed of the bootstrap sample.
        k: the weight along the least-variance direction (default 50).
        a: the weight of the memorising bumps (default 10).
        h: the width of the bumps (default 0.3).

    Returns:
        ``(low, high)``: the two models, in eval mode.
    """
    X = tab.x_train.double()
    y = tab.y_train
    idx = torch.as_tensor(np.random.default_rng(seed).choice(len(y), len(y)))
    A = torch.cat([X[idx], torch.ones(len(idx), 1, dtype=torch.float64)], 1)
    t = 2.0 * y[idx].double() - 1
    sol = torch.linalg.solve(A.T @ A + torch.eye(A.shape[1], dtype=torch.float64), A.T @ t)
    w, b = 3 * sol[:-1], 3 * float(sol[-1])
    u = torch.linalg.eigh(torch.cov(X.T))[1][:, 0]
    low = _PlantedClassifier(w, b)
    high = _PlantedClassifier(w, b, u=u, k=k, memo=(tab.x_train, tab.y_train), h=h, a=a)
    return low.eval(), high.eval()


def consequence_controls(settings: Mapping[str, Any], seeds: Sequence[int] = (0, 1, 2)
                         ) -> pd.DataFrame:
    r""":func:`consequence_table` of :func:`planted_consequence_models` on the chapter's table
    (``settings["dataset"]``, the 12 first features, split seed 0) over ``seeds``, evaluated
    by :func:`consequence_metrics`.

    Args:
        settings: the chapter's preset (:class:`papers.specs.ConsequencesSpec` or a mapping)
            with ``dataset`` and the attack and corruption levels ``fgsm``, ``pgd``, ``sigma``
            and ``mask``.
        seeds: the seeds of the bootstrap samples and of the evaluation (default 0, 1, 2).

    Returns:
        The table of :func:`consequence_table` with the kinds ``"low"`` and ``"high"``, one row
        per kind and seed.
    """
    from ibn.data import load_tabular

    tab = bn.select_features(load_tabular(settings["dataset"], seed=0), list(range(N_FEATURES)))
    results = {}
    for s in seeds:
        low, high = planted_consequence_models(tab, s)
        for kind, model in (("low", low), ("high", high)):
            results[(kind, s)] = ({}, consequence_metrics(model, tab, settings, s))
    return consequence_table(results)


def consequence_records(per_seed: pd.DataFrame, control_table: pd.DataFrame,
                        settings: Mapping[str, Any], *, scale: str, chapter: str,
                        reference: pd.DataFrame | None = None,
                        steering: Mapping[str, float] | None = None) -> list[Verdict]:
    r"""The A4 records, one per :data:`CONSEQUENCE_CLAIMS` entry.

    The parts of a claim are its quantities (e.g. PGD at each :math:`\varepsilon`); a part shows
    the effect when the expected model is better by more than :data:`NOISE_SD` pooled seed sds
    in :func:`low_vs_high`. The paper's full order (:func:`direction_table`) is named in
    ``why``.

    Args:
        per_seed: the chapter's :func:`consequence_table`.
        control_table: the control's table, :func:`consequence_controls`.
        settings: the chapter's preset (:class:`papers.specs.ConsequencesSpec` or a mapping) with
            ``dataset``, ``model``, ``kinds``, ``lam``, ``seeds``, ``epochs``, ``fgsm`` and
            ``pgd``.
        scale: the scale of the chapter's run (``"smoke"``, ``"book"`` or ``"paper"``), for the
            record.
        chapter: the chapter's source, for the record.
        reference: the same table for the models trained with paper A's reference recipe
            (:func:`papers.bottleneck.fit_tabular`), a second setup whose quantities are parts of
            each claim beside the Adam models'.
        steering: ``{"adam": gap, "reference": gap}`` of :func:`steering_gap`; a setup whose gap
            is below :data:`MIN_STEER` did not steer the orders, and its quantities are named in
            ``why`` but not counted (a setup without a gap counts).

    Returns:
        The :class:`papers.verdicts.Verdict` records in the order of :data:`CONSEQUENCE_CLAIMS`.
    """
    from ibn.data import load_tabular
    from papers.verdicts import Control, Verdict, categorize

    table, ctl = low_vs_high(per_seed), low_vs_high(control_table)
    direction = direction_table(per_seed, settings["pgd"], settings["fgsm"], many_seeds=True)
    tab = bn.select_features(load_tabular(settings["dataset"], seed=0), list(range(N_FEATURES)))
    recipes = {"adam": per_seed} | ({"reference": reference} if reference is not None else {})
    gap = {recipe: float((steering or {}).get(recipe, np.nan)) for recipe in recipes}
    steered = {recipe: bool(np.isnan(g) or g >= MIN_STEER) for recipe, g in gap.items()}
    setups = []
    for recipe, runs in recipes.items():
        test_acc = runs.groupby("model", sort=False)["test acc"].mean()
        setups.append({"model": settings["model"], "dataset": settings["dataset"],
                       "n_players": N_FEATURES, "n_samples": int(len(tab.y_test)),
                       "n_train": int(len(bn.fitted_part(tab, seed=0, recipe=recipe))),
                       "target_test_acc": {k: round(float(v), 4) for k, v in test_acc.items()},
                       "kinds": list(settings["kinds"]), "lam": settings["lam"],
                       "seeds": list(settings["seeds"]), "epochs": settings["epochs"],
                       "optimizer": "adam" if recipe == "adam"
                       else bn.REFERENCE_TABULAR["optimizer"],
                       "recipe": recipe if recipe == "adam" else dict(bn.REFERENCE_TABULAR),
                       **({} if np.isnan(gap[recipe]) else
                          {"steering_gap": round(gap[recipe], 4)})})
    ref_table = low_vs_high(reference) if reference is not None else None
    scope = (f"{settings['model'].upper()} on 12 features of {settings['dataset']} "
             f"(paper A's Census and CIFAR-10 are not available offline), "
             f"{len(settings['seeds'])} seed{'s' if len(settings['seeds']) > 1 else ''}, "
             f"λ = {settings['lam']:g}")
    decide = "more seeds and paper A's data sets would decide it"
    ctl_kind = ("a ridge linear classifier ('low') against the same classifier plus a term "
                "memorising the training points and a large weight along the training data's "
                "least-variance direction ('high'), 3 bootstrap seeds, through the same "
                "evaluation, attacks, corruptions and rule")
    out = []
    for claim, figure, statement, quantities, expected in CONSEQUENCE_CLAIMS:
        ctl_parts = _parts(ctl, quantities)
        ctl_ok = bool(ctl_parts) and all(_part_holds(p, expected) for p in ctl_parts)
        control = Control(ctl_kind, "detected" if ctl_ok else "missed",
                          "; ".join(f"{p['quantity']}: low − high {p['low − high']:+.3f} "
                                    f"({p['in pooled sd']:+.1f} sd)" for p in ctl_parts)
                          or "no low/high comparison")
        parts = _parts(table, quantities)
        present = [_part_holds(p, expected) for p in parts]
        ref_parts = _parts(ref_table, quantities) if ref_table is not None else []
        ref_present = [_part_holds(p, expected) for p in ref_parts]
        counted = (present if steered["adam"] else []) + \
            (ref_present if steered.get("reference") else [])
        verdict = categorize(counted, control, powered=False)
        if parts and not steered["adam"]:
            core = (f"the presets did not steer the orders (high − low centre "
                    f"{gap['adam']:.2f} < {MIN_STEER:g}); ")
        else:
            core = ""
        if parts:
            core += (f"{sum(present)} of {len(parts)} quantities favour the {expected}-order "
                    f"model by more than {NOISE_SD:g} pooled sd (low − high: "
                    + ", ".join(f"{p['quantity']} {p['low − high']:+.3f} "
                                f"({p['in pooled sd']:+.1f} sd)" for p in parts) + ")")
        else:
            core += f"no low- and high-order models at this scale (kinds: {', '.join(settings['kinds'])})"
        orders = _parts(direction, quantities) if len(direction) else []
        if orders:
            core += (f"; the paper's order of the kinds run holds for "
                     f"{sum(bool(o['agrees']) for o in orders)} of {len(orders)}")
        if ref_parts and not steered["reference"]:
            core += ("; with the reference recipe the presets did not steer the orders (high − "
                     f"low centre {gap['reference']:.2f} < {MIN_STEER:g}), so its quantities are "
                     f"not counted ({sum(ref_present)} of {len(ref_parts)} in the paper's "
                     "direction)")
        elif ref_parts:
            core += (f"; with the reference recipe {sum(ref_present)} of {len(ref_parts)} "
                     "(low − high: " + ", ".join(f"{p['quantity']} {p['low − high']:+.3f} "
                                                 f"({p['in pooled sd']:+.1f} sd)"
                                                 for p in ref_parts) + ")")
        out.append(Verdict(claim=claim, paper="A", figure=figure, statement=statement,
                           verdict=verdict, why=_why(core, verdict, scope, decide), scale=scale,
                           setups=setups, control=control, chapter=chapter))
    return out


def structural_record(*, scale: str, chapter: str) -> Verdict:
    r"""The record of :data:`STRUCTURAL_CLAIM`, a consequence the book does not test: paper A's
    experiment for it (task, perturbation, metric) is not available here, so there is no rule
    and no control, and the verdict is inconclusive with what would decide it.

    Args:
        scale: the scale of the chapter's run (``"smoke"``, ``"book"`` or ``"paper"``), for the
            record.
        chapter: the chapter's source, for the record.

    Returns:
        The :class:`papers.verdicts.Verdict` record (verdict ``"inconclusive"``, control
        ``"none"``).
    """
    from papers.verdicts import Control, Verdict, categorize

    claim, figure, statement = STRUCTURAL_CLAIM
    untested = Control("none: no test of this claim was run", "none",
                       "without the paper's task and metric there is no rule to control")
    return Verdict(claim=claim, paper="A", figure=figure, statement=statement,
                   verdict=categorize([], untested, powered=False),
                   why=("not tested: paper A's experiment for structural modelling (its task, "
                        "perturbation and metric) is not available offline, only the abstract's "
                        "sentence, and the reference code has no such test; that protocol run "
                        "on order-steered image models would decide it"),
                   scale=scale, setups=[], control=untested, chapter=chapter)

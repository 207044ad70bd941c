r"""Paper A's cause (chapter A2): the rules on the per-order gradient statistics, their
planted control and the records (see :mod:`papers.claims_a`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from papers import bottleneck as bn
from papers.bottleneck_runs import N_FEATURES
from papers.claims_a._common import INDEPENDENCE_TOL, MID_BAND, N_FIT_MAX, _mid, _span, _why

if TYPE_CHECKING:
    import pandas as pd

    from papers.verdicts import Verdict

__all__ = ["variability_rule", "independence_rule", "closed_form_rule", "n_prime_rule",
           "CAUSE_CLAIMS", "PlantedGradientModel", "planted_gradient_stats", "cause_controls",
           "cause_judgements", "cause_records"]


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

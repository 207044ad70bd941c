r"""Paper B's Fig. 2 claims judged at the protocol: rules fixed in code, a planted positive
control through the same pipeline, and the verdict records (:mod:`papers.verdicts`).

The rules (Conventions page, conventions-distributions), on the sample-averaged curves
:math:`A^{(m),\pm}_{\mathrm{gen}}` and :math:`A^{(m),\pm}_{\mathrm{non}}` of the target's
salient AND-OR interactions split by the k baselines (Conventions page, eq-gen-non):

* **decay** (generalizable part): :func:`papers.generalizable.decay_verdict`: its peak order is
  at most :math:`\max(2, n/4)` and its strength-weighted mean order is below :math:`n/2` and
  below the non-generalizable one.
* **spindle** (non-generalizable part, as the paper words it): its peak :math:`m^*` is
  interior (:math:`3 \le m^* \le n - 2`), its strength at the lowest (:math:`m = 1`) and the
  highest (:math:`m = n`) order is at most half the peak's, and its :math:`\pm` cancellation is
  stronger than the generalizable part's.
* **convergence by k = 3**: the non-generalizable share with k = 3 baselines is within 10 % of
  the share with k = 5 (relative).

The control (:func:`planted_games`) is a set of games built from AND effects with a decay part
shared by the target and every baseline and a spindle part of ± effects at the middle orders
that each model draws on its own: the rules must fire on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ibn import distributions as dist
from ibn.and_or import extract
from ibn.transforms import orders, zeta
from papers.generalizable import decay_verdict, shape_summary, split_strengths
from papers.reference import ACCURACY_FLOOR

__all__ = ["spindle_rule", "convergence_rule", "judge_fig2", "planted_games", "with_exact_effects",
           "CONVERGENCE_RTOL"]

#: the relative change of the non-generalizable share from k = 3 to k = 5 called "converged".
CONVERGENCE_RTOL = 0.10


def spindle_rule(non: dist.Strengths, summary: Mapping[str, float]) -> tuple[bool, str]:
    r"""The spindle rule on the sample-averaged non-generalizable curve.

    With :math:`w(m) = A^{(m),+}_{\mathrm{non}} - A^{(m),-}_{\mathrm{non}}` (the strength of
    both signs, averaged over the samples) and its peak :math:`m^* = \arg\max_m w(m)`: the peak
    is interior, :math:`3 \le m^* \le n - 2`; the ends are low, :math:`w(1) \le w(m^*)/2` and
    :math:`w(n) \le w(m^*)/2`; and the non-generalizable curve cancels more than the
    generalizable one (``summary["cancel_non"] < summary["cancel_gen"]``, the ratios of
    :func:`papers.generalizable.cancellation_total`).

    Args:
        non: the per-sample non-generalizable curves :math:`A^{(m),\pm}_{\mathrm{non}}`,
            ``(N, n+1)`` (:func:`papers.generalizable.split_strengths`).
        summary: :func:`papers.generalizable.shape_summary` of the same setup (its
            ``cancel_non`` and ``cancel_gen`` are read).

    Returns:
        ``(passed, why)``: whether every check holds, and each check with its numbers and
        ``yes`` or ``NO``.
    """
    mean = non.mean()
    total = (mean.plus - mean.minus)[1:]  # orders 1..n
    n = len(total)
    peak = int(torch.argmax(total)) + 1
    half = 0.5 * float(total.max())
    checks = {
        f"3 <= peak {peak} <= {n - 2}": 3 <= peak <= n - 2,
        f"A_non(1) {float(total[0]):.3g} <= peak/2 {half:.3g}": float(total[0]) <= half,
        f"A_non(n) {float(total[-1]):.3g} <= peak/2": float(total[-1]) <= half,
        f"cancel_non {summary['cancel_non']:.2f} < cancel_gen {summary['cancel_gen']:.2f}":
            summary["cancel_non"] < summary["cancel_gen"],
    }
    return all(checks.values()), "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items())


def convergence_rule(shares: Mapping[int, float]) -> tuple[bool, str]:
    r"""Convergence by k = 3: the non-generalizable share with 3 baselines is within
    :data:`CONVERGENCE_RTOL` of the share with 5, :math:`|s_3 - s_5| / s_5 \le 0.1`.

    Args:
        shares: per number of baselines k, the non-generalizable share of the sample-averaged
            curves, :math:`s_k = \sum_m \sum_\pm |A^{(m),\pm}_{\mathrm{non}}| / \sum_m \sum_\pm
            |A^{(m),\pm}|`; must hold k = 3 and k = 5 (k = 1 is reported when present).

    Returns:
        ``(passed, why)``; a share of 0 at k = 5 counts as an infinite change (not passed).

    Raises:
        KeyError: ``shares`` lacks k = 3 or k = 5.
    """
    s3, s5 = shares[3], shares[5]
    change = abs(s3 - s5) / s5 if s5 > 0 else float("inf")
    ok = change <= CONVERGENCE_RTOL
    return ok, f"share k=1/3/5 {shares.get(1, float('nan')):.3f}/{s3:.3f}/{s5:.3f}; " \
               f"|k3 - k5|/k5 = {change:.2f} ({'<=' if ok else '>'} {CONVERGENCE_RTOL})"


def judge_fig2(res: Mapping[str, Any]) -> dict[str, Any]:
    r"""The three Fig. 2 rules on one setup's result.

    Args:
        res: the games plus effects of one setup, in the keys of
            :func:`papers.generalizable.interactions`: ``values``, ``and``, ``or``
            ``(N, 2^n)`` and ``baseline_and``, ``baseline_or`` ``(k, N, 2^n)``.

    Returns:
        A dict: ``summary`` (:func:`papers.generalizable.shape_summary` with all k baselines),
        ``shares`` (the non-generalizable share per k in 1, 3, 5, for each k up to the number of
        baselines), ``curves`` (the per-sample :math:`A`, :math:`A_{\mathrm{gen}}`,
        :math:`A_{\mathrm{non}}` with all baselines) and, per claim, ``decay``, ``spindle`` and
        ``convergence``: ``(passed, why)`` (convergence is not passed, with the reason, with
        fewer than 5 baselines).
    """
    k_all = res["baseline_and"].shape[0]
    total, gen, non = split_strengths(res)
    summary = shape_summary(total, gen, non)
    shares = {}
    for k in (1, 3, 5):
        if k <= k_all:
            t, _, nn_ = (total, gen, non) if k == k_all else split_strengths(res, k)
            shares[k] = float(nn_.mean().total().sum() / t.mean().total().sum())
    out = {"summary": summary, "shares": shares, "curves": (total, gen, non),
           "decay": decay_verdict(summary), "spindle": spindle_rule(non, summary)}
    out["convergence"] = convergence_rule(shares) if {3, 5} <= set(shares) else \
        (False, f"needs 5 baselines, got {k_all}")
    return out


def planted_games(n: int = 10, n_samples: int = 20, k: int = 5, *, seed: int = 0,
                  baseline_spindle: str = "own", shared_scale: float = 1.0,
                  own_scale: float = 1.0) -> dict[str, torch.Tensor]:
    r"""Games with a known decay part and a known spindle part (the Fig. 2 control).

    Per sample, a **shared** set of AND effects (orders 1, 2, 3 with counts 6, 4, 2, magnitudes
    uniform in [0.5, 1.5], positive with probability 0.8) enters the target and all k
    baselines; each model also draws its **own** spindle set (effects of magnitude uniform in
    [0.2, 0.6], either sign equally likely, at the orders :math:`h-2, \dots, h+2` with
    :math:`h = \lfloor n/2 \rfloor` and counts 2, 4, 6, 4, 2; orders outside :math:`1..n` are
    left out), which no other model shares. The values are the zeta transform of the effects,
    :math:`v(x_T) = \sum_{S \subseteq T} I_S` (the inverse of Conventions page, eq-harsanyi).

    Args:
        n: the number of players (default 10).
        n_samples: the number of samples N, one game per sample and model (default 20).
        k: the number of baselines (default 5).
        seed: the seed of every draw (default 0).
        baseline_spindle: ``"own"`` (default): each baseline draws its own spindle part;
            ``"common"``: the k baselines of a sample share one spindle part (not the
            target's), so the non-generalizable share cannot change with k.
        shared_scale: the factor on the shared part's magnitudes, in the target and the
            baselines (default 1).
        own_scale: the factor on the target's own spindle part (the baselines' own parts are
            not scaled; default 1).

    Returns:
        ``values`` ``(N, 2^n)`` (the target's games) and ``baseline_values``
        ``(k, N, 2^n)``, float64.

    Raises:
        ValueError: ``baseline_spindle`` is neither ``"own"`` nor ``"common"``.
    """
    rng = np.random.default_rng(seed)
    m_of = orders(n).numpy()
    by_order = {m: np.flatnonzero(m_of == m) for m in range(n + 1)}
    mid = n // 2
    spindle_counts = {mid - 2: 2, mid - 1: 4, mid: 6, mid + 1: 4, mid + 2: 2}

    def draw(counts: Mapping[int, int], lo: float, hi: float, p_plus: float) -> torch.Tensor:
        e = torch.zeros(2 ** n, dtype=torch.float64)
        for m, c in counts.items():
            if 1 <= m <= n and c:
                idx = rng.choice(by_order[m], size=min(c, len(by_order[m])), replace=False)
                sign = np.where(rng.random(len(idx)) < p_plus, 1.0, -1.0)
                e[idx] = torch.as_tensor(sign * rng.uniform(lo, hi, len(idx)))
        return e

    if baseline_spindle not in ("own", "common"):
        raise ValueError(f"baseline_spindle must be 'own' or 'common', got {baseline_spindle!r}")
    vals, bvals = [], []
    for _ in range(n_samples):
        shared = shared_scale * draw({1: 6, 2: 4, 3: 2}, 0.5, 1.5, 0.8)
        vals.append(zeta(shared + own_scale * draw(spindle_counts, 0.2, 0.6, 0.5)))
        common = draw(spindle_counts, 0.2, 0.6, 0.5)
        bvals.append(torch.stack([zeta(shared + (common if baseline_spindle == "common" else
                                                 draw(spindle_counts, 0.2, 0.6, 0.5)))
                                  for _ in range(k)]))
    return {"values": torch.stack(vals), "baseline_values": torch.stack(bvals, 1)}


def with_exact_effects(g: Mapping[str, torch.Tensor], **options: Any) -> dict[str, Any]:
    """Games plus the AND-OR effects of every game, in the keys :func:`judge_fig2` reads.

    The effects are the sparsest decomposition (:func:`ibn.and_or.extract`, Conventions page,
    eq-sparsest) with ``noise_bound=0.02`` (Conventions page, eq-noise-bound).

    Args:
        g: games with ``values`` ``(N, 2^n)`` and ``baseline_values`` ``(k, N, 2^n)``
            (:func:`planted_games`).
        **options: further keyword arguments of :func:`ibn.and_or.extract` (e.g. ``solver``).

    Returns:
        ``g`` plus ``and``, ``or`` ``(N, 2^n)`` and ``baseline_and``, ``baseline_or``
        ``(k, N, 2^n)``.
    """
    both = torch.cat([g["values"][None], g["baseline_values"]])
    res = extract(both.reshape(-1, both.shape[-1]), noise_bound=0.02, **options)
    a, o = res.and_effects.reshape(both.shape), res.or_effects.reshape(both.shape)
    return {**g, "and": a[0], "or": o[0], "baseline_and": a[1:], "baseline_or": o[1:]}


#: the Fig. 2 claims: id, statement.
FIG2_CLAIMS = {
    "decay": ("B.fig2.decay", "The generalizable interactions of a trained classifier "
              "concentrate on low orders, their strength decaying with the order."),
    "spindle": ("B.fig2.spindle", "The non-generalizable interactions form a spindle over the "
                "orders (an interior peak, little strength at the lowest and highest orders) "
                "with positive and negative effects that cancel."),
    "convergence": ("B.fig2.convergence", "The split into generalizable and non-generalizable "
                    "interactions has converged with k = 3 baselines (k = 5 changes little)."),
}


def powered(setup_record: Mapping[str, Any]) -> bool:
    r"""Whether a setup is at the paper's protocol: :math:`n = 10` players, at least 50
    samples, at least 5 baselines and the target at its accuracy floor
    (:data:`papers.reference.ACCURACY_FLOOR`).

    Args:
        setup_record: the setup's record entry: ``n_players``, ``n_samples``, ``dataset`` and,
            where known, ``k`` and ``target_test_acc`` (missing: not at the protocol).

    Returns:
        True when the setup is at the protocol.

    Raises:
        KeyError: a setup that passes the other checks on a dataset without a floor.
    """
    return (setup_record["n_players"] == 10 and setup_record["n_samples"] >= 50
            and setup_record.get("k", 0) >= 5
            and setup_record.get("target_test_acc", 0.0) >= ACCURACY_FLOOR[setup_record["dataset"]])


def fig2_records(judged: Mapping[tuple[str, str], Mapping[str, Any]],
                 setups: Mapping[str, Mapping[str, Any]], controls: Mapping[str, Mapping[str, Any]],
                 *, scale: str, chapter: str, planned: Sequence[str] = ()) -> list:
    """One :class:`papers.verdicts.Verdict` per Fig. 2 claim.

    The verdict is the exact optimum's; the lab SGD's outcome is named in ``why``, and so are
    the planned setups that were not run. The run has power (:func:`powered`) only when the
    scale is not ``smoke`` and every setup is at the protocol.

    Args:
        judged: :func:`judge_fig2` per ``(setup name, solver)``, solver ``"exact"`` (needed for
            every setup) or ``"sgd"`` (optional).
        setups: per setup name, its record entry (:meth:`papers.protocol_b.SetupB.record` plus
            the accuracies).
        controls: :func:`judge_fig2` of the planted games: ``"mixture"`` (own spindles, for
            the decay and spindle claims) and ``"common"`` (one spindle part common to the
            baselines, for the convergence claim).
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        chapter: the chapter that writes the records.
        planned: the setup names the scale plans (those missing from ``setups`` are named in
            ``why``).

    Returns:
        The records, in the order of ``FIG2_CLAIMS``.
    """
    from papers.verdicts import Control, Verdict, categorize

    names = list(setups)
    is_powered = scale != "smoke" and all(powered(setups[s]) for s in names)
    missing = [p for p in planned if p not in setups]
    out = []
    for key, (claim, statement) in FIG2_CLAIMS.items():
        ctl_case = controls["common" if key == "convergence" else "mixture"]
        ok, ctl_why = ctl_case[key]
        kind = ("games of planted AND effects: a decay part shared by the target and the "
                "baselines, a spindle part each model draws on its own" if key != "convergence"
                else "planted games whose 5 baselines share one spindle part (not the "
                     "target's): the share cannot change with k")
        control = Control(kind, "detected" if ok else "missed", ctl_why)
        present = [bool(judged[(s, "exact")][key][0]) for s in names]
        sgd = [bool(judged[(s, "sgd")][key][0]) for s in names if (s, "sgd") in judged]
        verdict = categorize(present, control, powered=is_powered)
        failed = [s for s, ok_ in zip(names, present) if not ok_]
        why = (f"exact optimum: {sum(present)} of {len(present)} setups pass"
               + (f" (not: {', '.join(failed)})" if failed else "")
               + (f"; lab SGD: {sum(sgd)} of {len(sgd)}" if sgd else "")
               + ("" if ok else "; the control was missed")
               + (f"; {len(missing)} planned setup{'s' if len(missing) > 1 else ''} not run yet"
                  if missing else "")
               + ("" if is_powered else "; not every setup is at the paper's protocol"))
        out.append(Verdict(claim=claim, paper="B", figure="Fig. 2", statement=statement,
                           verdict=verdict, why=why, scale=scale,
                           setups=[dict(setups[s]) for s in names], control=control,
                           chapter=chapter))
    return out

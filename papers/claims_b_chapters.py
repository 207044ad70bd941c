r"""Paper B's Figs. 3, 9 and 6 and Appendix J judged by the rules their chapters apply
(``B3_dynamics``, ``B6_llm_logic``, ``BJ_penalty``), positive controls through the same code,
and the verdict records (:mod:`papers.verdicts`).

The rules, unchanged from the chapters (Conventions page, conventions-distributions):

* **Over-fitting, the precondition of Figs. 3 and 9** (:func:`overfitting`): the dynamics
  experiments must reach a real over-fitting phase, the test loss turning up while the training
  loss falls (Conventions page, conventions-protocol-b). The end of the normal-learning phase is
  the epoch of minimal test loss over a centred window of 3 epochs
  (:func:`papers.dynamics.phase_boundary`); the phase occurred when a checkpoint lies after that
  epoch and the training loss (same window) is lower at the last epoch than at the boundary.
* **Fig. 3, normal-learning phase** (:func:`judge_phase1`): at every checkpoint up to the
  boundary the generalizable interactions are decay-shaped, by the Fig. 2 rule
  :func:`papers.generalizable.decay_verdict` (peak order :math:`\le \max(2, n/4)`,
  strength-weighted mean order below :math:`n/2` and below the non-generalizable one).
* **Fig. 3, over-fitting phase** (:func:`judge_phase2`): the non-generalizable share
  :math:`\sum |A_{\mathrm{non}}| / \sum |A|` is larger, on average, at the checkpoints after the
  boundary than at those up to it and positively rank-correlated (Spearman) with the loss gap
  test − train over the checkpoints, and what :math:`A_{\mathrm{non}}` gains from the
  boundary's checkpoint to the last is spindle-shaped as Fig. 2's rule words it
  (:func:`emerged_non`: its strength :math:`|\Delta A^{+}| + |\Delta A^{-}|` peaks at an order
  :math:`3 \le m \le n - 2`, with at most half the peak at :math:`m = 1` and at :math:`m = n`;
  the :math:`R^2` of eq. 7's spindle fit is reported). The eq. 10 fit's spindle share is
  reported beside it, not judged: with :math:`I^*` taken from the last checkpoint,
  :math:`M(\delta) I^*` already holds the spindle the network added, so that share cannot grow
  by construction (the planted control showed it falling).
* **Fig. 9, Theorem 3.1 across checkpoints** (:func:`judge_fig9`): over the checkpoints before
  the last (:math:`I^*` = the last one's interactions), the fitted
  :math:`\gamma A_{\mathrm{decay}}(M(\delta) I^*)` (Conventions page, eq-decay,
  eq-decay-curve) has a median relative error :math:`\le 0.3`, beats the :math:`\delta \to 0`
  reference (:math:`I^*` only rescaled) at more than half of them, and the fitted
  :math:`\log_{10} \delta` falls with the epoch (Spearman :math:`< 0`).
* **Fig. 6, a sparse AND-OR logical model** (:func:`judge_fig6`), per prompt: universal matching
  (:math:`\max_T |h(x_T) - (v(x_T) - \delta_T)|` on freshly re-evaluated coalitions within the
  re-run noise plus :math:`10^{-6} \max(|v(x_N)|, 1)`) and the k most salient interactions
  reach :math:`R^2 \ge 0.9` over all :math:`2^n` coalitions with k at most 10 % of the
  :math:`2(2^n - 1)` possible ones.
* **Appendix J, the penalty raises test accuracy** (:func:`papers.penalty.verdicts`), per
  setting: mean(penalty) − mean(plain) > sd(penalty) + sd(plain) over the seeds (Conventions
  page, eq-penalty).

Controls: Fig. 3 — planted checkpoint games (:func:`planted_dynamics`: a decay part shared with
the baselines throughout, a spindle part each model draws on its own that grows after a planted
turn of the test loss) through the whole analysis; Fig. 9 — curves that are the theory's own
prediction :math:`\gamma A_{\mathrm{decay}}(M(\delta_c) I^*)` for a :math:`\delta_c` falling
with the epoch, with the run's :math:`I^*` (:func:`fig9_control`); Fig. 6 — a planted sparse
AND-OR game (:func:`planted_logic_run`) through the same extraction and rule; Appendix J — the
same rule on a known accuracy gain of the same runs, the plain network trained on the full pool
against the scarce one (:func:`appj_control`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ibn import distributions as dist
from ibn import transforms as tf
from papers._setup import model_label
from papers import dynamics as D
from papers.generalizable import decay_verdict

__all__ = ["SMOOTH", "FIG9_MAX_ERR", "overfitting", "judge_phase1", "emerged_non", "judge_phase2",
           "judge_fig9", "judge_dynamics", "planted_dynamics", "fig9_control",
           "dynamics_controls", "dynamics_setup", "dynamics_records", "DYNAMICS_CLAIMS",
           "PAPER_DYNAMICS", "R2_MIN", "SPARSE_SHARE", "judge_fig6", "planted_logic_run",
           "fig6_control", "fig6_setup", "fig6_records", "FIG6_CLAIM", "appj_control",
           "appj_records", "APPJ_CLAIM"]

#: the centred window (epochs) over which the test and training losses are averaged.
SMOOTH = 3
#: Fig. 9: the largest median relative error of the Theorem 3.1 prediction called a match.
FIG9_MAX_ERR = 0.3


def _smoothed(values: Sequence[float], smooth: int = SMOOTH) -> np.ndarray:
    t = np.asarray(values, dtype=float)
    h = smooth // 2
    return np.array([t[max(0, i - h):i + h + 1].mean() for i in range(len(t))])


def overfitting(res: Mapping[str, Any], boundary: int, smooth: int = SMOOTH) -> tuple[bool, str]:
    """Whether the run reached a real over-fitting phase (the precondition of Figs. 3 and 9): a
    checkpoint after the ``boundary`` epoch, and the training loss (averaged over a centred
    window of ``smooth`` epochs) lower at the last epoch than at the boundary.

    Args:
        res: a :func:`papers.dynamics.run_dynamics` result (or :func:`planted_dynamics`):
            ``epochs``, ``train_loss`` and ``test_loss`` (per epoch) and ``ckpt_epochs``.
        boundary: the end of the normal-learning phase, an epoch of ``res["epochs"]``
            (:func:`papers.dynamics.phase_boundary`).
        smooth: the width of the centred window, in epochs (default :data:`SMOOTH`).

    Returns:
        ``(occurred, why)``.

    Raises:
        ValueError: ``boundary`` is not one of ``res["epochs"]``.
    """
    epochs = list(res["epochs"])
    after = [e for e in res["ckpt_epochs"] if e > boundary]
    train = _smoothed(res["train_loss"], smooth)
    test = _smoothed(res["test_loss"], smooth)
    i_b, i_e = epochs.index(boundary), len(epochs) - 1
    falls = bool(train[i_e] < train[i_b])
    if not after:
        return False, (f"the test loss (mean over {smooth} epochs) is lowest at epoch {boundary}, "
                       f"no checkpoint after it: it never turns up before the last epoch "
                       f"{epochs[i_e]}")
    why = (f"test loss (mean over {smooth} epochs) lowest at epoch {boundary} ({test[i_b]:.3g}), "
           f"{test[i_e]:.3g} at the last epoch {epochs[i_e]}, while the training loss "
           f"{'falls' if falls else 'rises as well'} ({train[i_b]:.3g} -> {train[i_e]:.3g}); "
           f"{len(after)} checkpoint{'s' if len(after) != 1 else ''} after the boundary")
    return falls, why


def judge_phase1(curves: Mapping[str, list], epochs: Sequence[int], boundary: int
                 ) -> dict[str, Any]:
    r"""The normal-learning rule: :func:`papers.generalizable.decay_verdict` on the averaged
    :math:`A_{\mathrm{gen}}` and :math:`A_{\mathrm{non}}` of every checkpoint up to the boundary.

    Args:
        curves: :func:`papers.dynamics.checkpoint_curves` of the run (its ``gen`` and ``non``
            lists, one averaged curve per checkpoint, are read).
        epochs: the checkpoints' epochs, in the order of ``curves``.
        boundary: the end of the normal-learning phase (an epoch).

    Returns:
        A dict: ``passed`` (every checkpoint up to ``boundary`` passes; None without such a
        checkpoint), ``why`` and ``rows`` (per such checkpoint: ``epoch``, ``passed``, ``why``,
        ``n``, ``peak_gen``, ``mean_order_gen`` and ``mean_order_non``).
    """
    rows = []
    for e, gen, non in zip(epochs, curves["gen"], curves["non"]):
        if e > boundary:
            continue
        summary = {"n": gen.n, "peak_gen": int(dist.peak_order(gen)),
                   "mean_order_gen": float(dist.mean_order(gen)),
                   "mean_order_non": float(dist.mean_order(non))}
        ok, why = decay_verdict(summary)
        rows.append({"epoch": int(e), "passed": bool(ok), "why": why, **summary})
    if not rows:
        return {"passed": None, "why": f"no checkpoint up to the boundary epoch {boundary}",
                "rows": rows}
    failed = [r for r in rows if not r["passed"]]
    why = (f"decay-shaped A_gen at {len(rows) - len(failed)} of {len(rows)} checkpoints up to "
           f"epoch {boundary}" + (f" (epoch {failed[0]['epoch']}: {failed[0]['why']})" if failed
                                  else f" (epoch {rows[-1]['epoch']}: {rows[-1]['why']})"))
    return {"passed": not failed, "why": why, "rows": rows}


def emerged_non(non: Sequence[dist.Strengths], epochs: Sequence[int], boundary: int
                ) -> dict[str, Any] | None:
    r"""What :math:`A_{\mathrm{non}}` gains from the last checkpoint up to the boundary,
    :math:`b`, to the last checkpoint, :math:`e`, and whether the gain is spindle-shaped as
    Fig. 2's rule words it.

    The gain is :math:`\Delta A^{(m),\pm} = A^{(m),\pm}_{\mathrm{non}}(e) -
    A^{(m),\pm}_{\mathrm{non}}(b)` (:math:`\Delta A^{+} \ge 0` where positive strength grows,
    :math:`\Delta A^{-} \le 0` where negative strength grows), its strength
    :math:`w(m) = \max(\Delta A^{(m),+}, 0) - \min(\Delta A^{(m),-}, 0)`. It is spindle-shaped
    when :math:`w` is not all zero, its peak :math:`m^*` lies in :math:`3 \le m^* \le n - 2`, and
    :math:`w(1)` and :math:`w(n)` are at most :math:`w(m^*)/2`.

    Args:
        non: the averaged :math:`A_{\mathrm{non}}` per checkpoint, ``(n+1,)`` each
            (:func:`papers.dynamics.checkpoint_curves`' ``non``).
        epochs: the checkpoints' epochs, in the order of ``non``.
        boundary: the end of the normal-learning phase (an epoch).

    Returns:
        None without a checkpoint on each side of the boundary; else a dict: ``from`` and
        ``to`` (the epochs :math:`b` and :math:`e`), ``curve`` (the gain, a
        :class:`~ibn.distributions.Strengths`), ``fit`` (its eq. 7 spindle fit,
        :func:`papers.noise.fit_spindle`; Conventions page, eq-spindle), ``peak`` (:math:`m^*`;
        -1 when there is no gain), ``r2`` (the fit's :math:`R^2`), ``ends``
        (:math:`(w(1), w(n))`) and ``passed``.
    """
    from papers import noise as Nz

    before = [i for i, e in enumerate(epochs) if e <= boundary]
    if not before or epochs[-1] <= boundary:
        return None
    a, b = non[before[-1]], non[-1]
    grown = dist.Strengths(b.plus - a.plus, b.minus - a.minus)
    fit = Nz.fit_spindle(grown)
    n = grown.n
    w = (grown.plus.clamp(min=0) - grown.minus.clamp(max=0))[1:]  # orders 1..n
    mass = float(w.sum())
    peak = int(torch.argmax(w)) + 1 if mass > 0 else -1
    half = 0.5 * float(w.max())
    ok = bool(mass > 0 and 3 <= peak <= n - 2 and float(w[0]) <= half and float(w[-1]) <= half)
    return {"from": int(epochs[before[-1]]), "to": int(epochs[-1]), "curve": grown, "fit": fit,
            "peak": peak, "r2": float(fit.r2), "ends": (float(w[0]), float(w[-1])),
            "passed": ok}


def judge_phase2(non_share: Sequence[float], spindle_share: Sequence[float],
                 gap: Sequence[float], epochs: Sequence[int], boundary: int,
                 non: Sequence[dist.Strengths] | None = None) -> dict[str, Any]:
    r"""The over-fitting rule of ``B3_dynamics`` (see the module) on per-checkpoint numbers and
    the :math:`A_{\mathrm{non}}` curves.

    Args:
        non_share: per checkpoint, the non-generalizable share
            :math:`\sum |A_{\mathrm{non}}| / \sum |A|`
            (:func:`papers.dynamics.disentangle_checkpoints`' ``non_share``).
        spindle_share: per checkpoint, the eq. 10 fit's spindle share (reported, not judged).
        gap: per checkpoint, the test loss less the training loss.
        epochs: the checkpoints' epochs, in the same order.
        boundary: the end of the normal-learning phase (an epoch).
        non: the averaged :math:`A_{\mathrm{non}}` per checkpoint, for :func:`emerged_non`
            (None: no shape check, and ``passed`` is None).

    Returns:
        A dict: ``passed`` (the share rises after the boundary, its Spearman correlation with
        ``gap`` is positive and :func:`emerged_non` passes; None without checkpoints on both
        sides of the boundary or without ``non``), ``why``, ``non`` and ``spindle``
        (:func:`papers.dynamics.rises_after` of the two shares), ``rho_non`` and
        ``rho_spindle`` (their Spearman correlations with ``gap``) and ``emerged``
        (:func:`emerged_non`, or None).
    """
    share = D.rises_after(non_share, epochs, boundary)
    spin = D.rises_after(spindle_share, epochs, boundary)
    rho_non, rho_spin = D.spearman(non_share, gap), D.spearman(spindle_share, gap)
    grown = emerged_non(non, epochs, boundary) if non is not None else None
    both_sides = bool(np.isfinite(share["rise"]) and grown is not None)
    shape = (f"A_non gained from epoch {grown['from']} to {grown['to']}: peak at m = "
             f"{grown['peak']}, ends {grown['ends'][0]:.3g} / {grown['ends'][1]:.3g} "
             f"({'spindle' if grown['passed'] else 'no spindle'}; eq. 7 fit R² {grown['r2']:.2f})"
             if grown is not None else "no checkpoint on each side of the boundary")
    why = (f"non-generalizable share {share['before']:.3f} -> {share['after']:.3f} "
           f"(Spearman with the gap {rho_non:+.2f}); {shape}; reported, not judged: eq. 10 "
           f"spindle share {spin['before']:.3f} -> {spin['after']:.3f} ({rho_spin:+.2f})")
    passed = (bool(share["rise"] > 0 and rho_non > 0 and grown["passed"])
              if both_sides else None)
    return {"passed": passed, "why": why, "non": share, "spindle": spin, "rho_non": rho_non,
            "rho_spindle": rho_spin, "emerged": grown}


def judge_fig9(preds: Sequence[Mapping[str, Any]], epochs: Sequence[int]) -> dict[str, Any]:
    r"""The Fig. 9 rule (see the module) on the Theorem 3.1 predictions per checkpoint.

    Args:
        preds: :func:`papers.dynamics.theorem_predictions` per checkpoint (``rel_err``,
            ``rel_err_identity``, ``log10_delta``, ``at_bound``); the last checkpoint gives
            :math:`I^*`.
        epochs: the checkpoints' epochs, in the order of ``preds``.

    Returns:
        A dict: ``passed`` (:math:`M(\delta) I^*` has a lower relative error than the
        :math:`\delta \to 0` reference at more than half of the earlier checkpoints, the
        Spearman correlation of :math:`\log_{10} \delta` with the epoch over all checkpoints is
        negative and the median relative error is at most :data:`FIG9_MAX_ERR`; None without an
        earlier checkpoint), ``why``, ``better`` (how many earlier checkpoints beat the
        reference), ``earlier`` (how many there are), ``median_err``, ``median_ref`` and
        ``trend`` (that Spearman correlation).
    """
    earlier = list(preds)[:-1]
    err = np.array([p["rel_err"] for p in earlier])
    ref = np.array([p["rel_err_identity"] for p in earlier])
    better = int((err < ref - 1e-9).sum())
    trend = D.rises_after([p["log10_delta"] for p in preds], epochs,
                          int(epochs[0]))["spearman_epoch"]
    median_err = float(np.median(err)) if len(err) else float("nan")
    median_ref = float(np.median(ref)) if len(ref) else float("nan")
    at_bound = sum(bool(p["at_bound"]) for p in preds)
    passed = (bool(better > len(earlier) / 2 and trend < 0 and median_err <= FIG9_MAX_ERR)
              if earlier else None)
    why = (f"M(δ) I* beats the δ → 0 reference at {better} of {len(earlier)} earlier "
           f"checkpoints; median relative error {median_err:.3f} (reference {median_ref:.3f}); "
           f"Spearman(log10 δ, epoch) {trend:+.2f}; δ at its box bound at {at_bound} of "
           f"{len(preds)}")
    return {"passed": passed, "why": why, "better": better, "earlier": len(earlier),
            "median_err": median_err, "median_ref": median_ref, "trend": trend}


def judge_dynamics(res: Mapping[str, Any], k: int | None = None, *, fig9: bool = True
                   ) -> dict[str, Any]:
    r"""Every Fig. 3 / Fig. 9 step of ``B3_dynamics`` on one training run.

    Args:
        res: a :func:`papers.dynamics.run_dynamics` result (or :func:`planted_dynamics`):
            per epoch ``epochs``, ``train_loss``, ``test_loss``; per checkpoint ``ckpt_epochs``,
            ``ckpt_train_loss``, ``ckpt_test_loss``, ``values``, ``and``, ``or``; and the
            baselines' ``baseline_and``, ``baseline_or`` ``(k, N, 2^n)``.
        k: the number of baselines used (None: all of them).
        fig9: also compute the Theorem 3.1 predictions and judge Fig. 9 (default True).

    Returns:
        A dict: ``epochs`` (the checkpoints'), ``boundary``
        (:func:`papers.dynamics.phase_boundary` over :data:`SMOOTH` epochs), ``gap`` (test less
        training loss per checkpoint), ``curves`` (:func:`papers.dynamics.checkpoint_curves`),
        ``fits`` (:func:`papers.dynamics.disentangle_checkpoints`, :math:`I^*` = the last
        checkpoint's effects), ``overfitting`` (:func:`overfitting`), ``phase1``
        (:func:`judge_phase1`), ``phase2`` (:func:`judge_phase2`) and, with ``fig9``, ``preds``
        (:func:`papers.dynamics.theorem_predictions`) and ``fig9`` (:func:`judge_fig9`).
    """
    epochs = [int(e) for e in res["ckpt_epochs"]]
    boundary = D.phase_boundary(res["epochs"], res["test_loss"], smooth=SMOOTH)
    gap = (np.asarray(res["ckpt_test_loss"]) - np.asarray(res["ckpt_train_loss"])).tolist()
    curves = D.checkpoint_curves(res, k)
    and_star, or_star = res["and"][-1], res["or"][-1]
    fits = D.disentangle_checkpoints(curves, and_star, or_star)
    out: dict[str, Any] = {"epochs": epochs, "boundary": boundary, "gap": gap, "curves": curves,
                           "fits": fits, "overfitting": overfitting(res, boundary),
                           "phase1": judge_phase1(curves, epochs, boundary),
                           "phase2": judge_phase2([f["non_share"] for f in fits],
                                                  [f["spindle_share"] for f in fits], gap, epochs,
                                                  boundary, curves["non"])}
    if fig9:
        out["preds"] = D.theorem_predictions(curves, and_star, or_star)
        out["fig9"] = judge_fig9(out["preds"], epochs)
    return out


def planted_dynamics(n: int = 8, n_samples: int = 4, k: int = 3, *, n_epochs: int = 8,
                     boundary: int = 4, own: float = 0.3, growth: float = 0.5, seed: int = 0
                     ) -> dict[str, Any]:
    r"""The Fig. 3 control: a training run whose two phases are planted, in the keys of
    :func:`papers.dynamics.run_dynamics` (a checkpoint at every epoch).

    The games of :func:`papers.claims_b.planted_games` (per sample a decay part of orders 1–3
    shared by the target and the k baselines, and a spindle part of middle orders each model
    draws on its own; the same draws at every epoch) with the target's own part scaled by
    ``own`` up to the ``boundary`` epoch and by
    :math:`\mathrm{own} \cdot (1 + \mathrm{growth} \cdot (e - \mathrm{boundary}))` at an epoch
    :math:`e` after it. The test loss, :math:`0.3 + 0.1 |e - \mathrm{boundary}|`, falls to the
    boundary and rises after it, while the training loss, :math:`0.5^e`, keeps falling. The
    AND-OR effects are the exact optimum (:func:`ibn.and_or.extract`, ``solver="lp"``, noise
    bound 0.02), as in :func:`papers.dynamics.run_dynamics`.

    Args:
        n: the number of players (default 8).
        n_samples: the number of samples N (default 4).
        k: the number of baselines (default 3).
        n_epochs: the number of epochs, each a checkpoint (default 8).
        boundary: the epoch at which the planted test loss turns up (default 4).
        own: the scale of the target's own (spindle) part up to the boundary (default 0.3).
        growth: the relative growth of that scale per epoch after the boundary (default 0.5).
        seed: the seed of the games (default 0).

    Returns:
        A dict: ``epochs``, ``train_loss``, ``test_loss``, ``ckpt_epochs``,
        ``ckpt_train_loss``, ``ckpt_test_loss`` (per epoch); ``values``, ``and``, ``or``
        ``(C, N, 2^n)`` (C checkpoints); ``baseline_and``, ``baseline_or``
        ``(k, N, 2^n)``; and ``planted`` (``boundary`` and the ``own_scale`` per epoch).
    """
    from ibn.and_or import extract
    from papers.claims_b import planted_games

    epochs = list(range(1, n_epochs + 1))
    scales = [own * (1.0 + growth * max(0, e - boundary)) for e in epochs]
    games = [planted_games(n, n_samples, k, seed=seed, own_scale=s) for s in scales]
    vals = torch.stack([g["values"] for g in games])  # (C, N, 2^n)
    bvals = games[0]["baseline_values"]  # (k, N, 2^n): the same draws in every call
    both = torch.cat([vals, bvals]).to(torch.float64)
    eff = extract(both.reshape(-1, both.shape[-1]), noise_bound=0.02, solver="lp")
    a = eff.and_effects.reshape(both.shape)
    o = eff.or_effects.reshape(both.shape)
    test = [0.3 + 0.1 * abs(e - boundary) for e in epochs]
    train = [0.5 ** e for e in epochs]
    c = len(epochs)
    return {"epochs": epochs, "train_loss": train, "test_loss": test, "ckpt_epochs": epochs,
            "ckpt_train_loss": train, "ckpt_test_loss": test, "values": vals, "and": a[:c],
            "or": o[:c], "baseline_and": a[c:], "baseline_or": o[c:],
            "planted": {"boundary": boundary, "own_scale": scales}}


def fig9_control(and_star: torch.Tensor, or_star: torch.Tensor, epochs: Sequence[int]
                 ) -> dict[str, Any]:
    r"""The Fig. 9 control: at each of ``epochs`` the measured curve is the theory's own
    prediction :math:`A_{\mathrm{decay}}(M(\delta_e) I^*)` (eq. 9; Conventions page, eq-decay,
    eq-decay-curve), with :math:`\log_{10} \delta_e` falling linearly over the middle half of
    the identifiable box (:func:`ibn.distributions.disentangle.delta_box`) from the first epoch
    to the last; judged by :func:`judge_fig9` after :func:`papers.dynamics.theorem_predictions`.

    Args:
        and_star: the AND effects of :math:`I^*` (the run's last checkpoint), ``(N, 2^n)``.
        or_star: the OR effects of :math:`I^*`, of the same shape.
        epochs: the checkpoints' epochs.

    Returns:
        The dict of :func:`judge_fig9`, plus ``planted_log10_delta`` (the planted
        :math:`\log_{10} \delta_e`) and ``preds`` (the predictions judged).
    """
    from ibn.distributions.disentangle import delta_box

    n = tf.n_players(and_star.shape[-1])
    lo, hi = delta_box(n)
    span = hi - lo
    lds = np.linspace(hi - 0.25 * span, lo + 0.25 * span, len(epochs))
    model = dist.DecayModel(and_star, or_star)
    total = []
    for ld in lds:
        s = model.strengths(10.0 ** float(ld))
        s = dist.Strengths(s.plus.clone(), s.minus.clone())
        s.plus[0] = s.minus[0] = 0.0
        total.append(s)
    preds = D.theorem_predictions({"total": total}, and_star, or_star)
    return {**judge_fig9(preds, epochs), "planted_log10_delta": lds.tolist(), "preds": preds}


def dynamics_controls(n: int, and_star: torch.Tensor, or_star: torch.Tensor,
                      epochs: Sequence[int]) -> dict[str, Any]:
    r"""The controls of Figs. 3 and 9.

    Args:
        n: the number of players of the planted run.
        and_star: the AND effects of the run's :math:`I^*` (its last checkpoint),
            ``(N, 2^n)``.
        or_star: the OR effects of :math:`I^*`, of the same shape.
        epochs: the run's checkpoint epochs.

    Returns:
        ``{"fig3": ..., "fig9": ...}``: :func:`judge_dynamics` of :func:`planted_dynamics` with
        ``n`` players (without Fig. 9), and :func:`fig9_control` with the run's :math:`I^*` and
        epochs.
    """
    return {"fig3": judge_dynamics(planted_dynamics(n=n), fig9=False),
            "fig9": fig9_control(and_star, or_star, epochs)}


#: the claims of Figs. 3 and 9: id -> (figure, statement).
DYNAMICS_CLAIMS = {
    "B.fig3.phase1": ("Fig. 3", "In the normal-learning phase (train and test losses falling) "
                      "the network mainly encodes generalizable interactions of low orders: "
                      "their distribution decays with the order."),
    "B.fig3.phase2": ("Fig. 3", "Once the network over-fits (the test loss turning up while the "
                      "training loss falls), it adds non-generalizable, spindle-shaped "
                      "interactions: their share grows with the train/test loss gap."),
    "B.fig9.theorem": ("Fig. 9", "Theorem 3.1 predicts the interactions of earlier checkpoints "
                       "from the final model's: M(δ) I* matches them, with a noise level δ that "
                       "falls through training."),
}

#: paper B's protocol for the dynamics (Conventions page, conventions-protocol-b).
PAPER_DYNAMICS = {"n_players": 10, "n_samples": 50, "k": 3}


def dynamics_setup(run_params: Mapping[str, Any], res: Mapping[str, Any], boundary: int
                   ) -> dict[str, Any]:
    """The record entry of one :func:`papers.dynamics.run_dynamics` run.

    Args:
        run_params: the run's params (those of :func:`papers.dynamics.run_dynamics`; ``model``,
            ``dataset``, ``n_players``, ``k``, ``n_eval`` and ``target``'s ``n_train``,
            ``epochs``, ``label_noise`` and ``lr`` are read).
        res: the run's result (``indices``, ``test_acc`` per epoch and ``ckpt_epochs`` are
            read).
        boundary: the end of the normal-learning phase (an epoch).

    Returns:
        A dict with ``model``, ``dataset``, ``n_players``, ``n_samples``, ``samples``, ``k``,
        ``n_train``, ``epochs``, ``label_noise``, ``optimizer``, ``target_test_acc`` (at the
        last epoch), ``n_test_eval``, ``checkpoints`` and ``boundary_epoch``.
    """
    tp = run_params["target"]
    return {"model": run_params["model"], "dataset": run_params["dataset"],
            "n_players": int(run_params["n_players"]), "n_samples": len(res["indices"]),
            "samples": "training samples with clean labels the final model classifies correctly",
            "k": int(run_params["k"]), "n_train": int(tp["n_train"]), "epochs": int(tp["epochs"]),
            "label_noise": float(tp["label_noise"]), "optimizer": f"Adam, lr {tp['lr']:g}",
            "target_test_acc": round(float(res["test_acc"][-1]), 4),
            "n_test_eval": int(run_params["n_eval"]),
            "checkpoints": [int(e) for e in res["ckpt_epochs"]], "boundary_epoch": int(boundary)}


def _departures(setup: Mapping[str, Any]) -> str:
    differ = [f"{name} = {setup[key]} (paper {PAPER_DYNAMICS[key]})"
              for key, name in (("n_players", "n"), ("n_samples", "samples"), ("k", "k"))
              if setup[key] != PAPER_DYNAMICS[key]]
    return ("one run, " + ", ".join(differ + [f"{model_label(setup['model'])} on "
                                             f"{setup['n_train']:,} "
                                             f"training images (paper: the full MNIST split) "
                                             f"for {setup['epochs']} epochs"]))


def dynamics_records(judged: Mapping[str, Any], ctl: Mapping[str, Any],
                     setup: Mapping[str, Any], *, scale: str, chapter: str) -> list:
    """The records of :data:`DYNAMICS_CLAIMS`.

    Phase 2 and Fig. 9 need the over-fitting phase (:func:`overfitting`); without it, or
    without checkpoints on the sides a rule compares, the claim is inconclusive and ``why`` says
    so. The run is never at the paper's protocol (``powered=False``).

    Args:
        judged: :func:`judge_dynamics` of the run.
        ctl: :func:`dynamics_controls`.
        setup: :func:`dynamics_setup` of the run.
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        chapter: the chapter that writes the records.

    Returns:
        One :class:`papers.verdicts.Verdict` per claim, in the order of
        :data:`DYNAMICS_CLAIMS`.
    """
    from papers.verdicts import Control, Verdict, categorize

    over, over_why = judged["overfitting"]
    kinds = {
        "B.fig3.phase1": "planted checkpoint games (n = {n}, 4 samples, 3 baselines, 8 epochs): "
                         "a decay part of orders 1-3 shared with the baselines, a spindle part "
                         "each model draws on its own, grown after the test loss turns up at "
                         "epoch 4",
        "B.fig3.phase2": "the same planted checkpoint games: the target's own spindle part grows "
                         "by half its size per epoch after the test loss turns up at epoch 4",
        "B.fig9.theorem": "curves that are Theorem 3.1's own prediction A_decay(M(δ) I*) with "
                          "the run's I*, log10 δ falling linearly over the middle half of the "
                          "identifiable box through the checkpoints",
    }
    n_ctl = ctl["fig3"]["curves"]["total"][0].n
    results = {"B.fig3.phase1": (judged["phase1"], ctl["fig3"]["phase1"], False),
               "B.fig3.phase2": (judged["phase2"], ctl["fig3"]["phase2"], True),
               "B.fig9.theorem": (judged["fig9"], ctl["fig9"], True)}
    out = []
    for claim, (figure, statement) in DYNAMICS_CLAIMS.items():
        j, c, needs_overfitting = results[claim]
        control = Control(kinds[claim].format(n=n_ctl),
                          "detected" if c["passed"] else "missed", c["why"])
        parts = []
        if needs_overfitting and not over:
            present: list[bool] = []
            parts.append(f"precondition not met, the run never over-fits ({over_why}); the "
                         f"rule's numbers anyway: {j['why']}; a run whose training loss keeps "
                         f"falling while the test loss turns up would decide it")
        elif j["passed"] is None:
            present = []
            parts.append(f"the rule cannot be applied: {j['why']}")
        else:
            present = [bool(j["passed"])]
            parts.append(j["why"])
        if claim == "B.fig3.phase1":
            shares = [f["non_share"] for f, e in zip(judged["fits"], judged["epochs"])
                      if e <= judged["boundary"]]
            if shares:
                parts.append(f"non-generalizable share {min(shares):.2f}-{max(shares):.2f}")
        if not c["passed"]:
            parts.append("the control was missed")
        parts.append(_departures(setup))
        out.append(Verdict(claim=claim, paper="B", figure=figure, statement=statement,
                           verdict=categorize(present, control, powered=False),
                           why="; ".join(parts), scale=scale, setups=[dict(setup)],
                           control=control, chapter=chapter))
    return out


# ---------------------------------------------------------------- Fig. 6: the LM's logical model

#: Fig. 6: the R² the k most salient interactions must reach ...
R2_MIN = 0.9
#: ... with k at most this share of the 2(2^n − 1) possible interactions.
SPARSE_SHARE = 0.1


def judge_fig6(run: Mapping[str, Any]) -> dict[str, Any]:
    r"""The Fig. 6 rule of ``B6_llm_logic`` on one prompt: universal matching up to the re-run
    noise, and the smallest k whose top-k patterns reach :math:`R^2 \ge` :data:`R2_MIN` at most
    :data:`SPARSE_SHARE` of the :math:`2(2^n - 1)` possible ones.

    Args:
        run: a :func:`papers.llm.run_prompt` result (or :func:`planted_logic_run`): ``values``
            ``(2^n,)``, ``and_effects``, ``or_effects``, ``delta``, ``noise_bound``,
            ``check_masks`` and ``check_values``.

    Returns:
        A dict: ``matched`` (the matching error :math:`\max_T |h(x_T) - (v(x_T) - \delta_T)|`
        is at most the re-run noise plus :math:`10^{-6} \max(|v(x_N)|, 1)`), ``k90`` (the
        smallest k, or None when no k reaches it), ``k90_and`` (the same count for the AND-only
        (Harsanyi) explanation, Conventions page, eq-harsanyi), ``possible``
        (:math:`2(2^n - 1)`), ``sparse``, ``passed`` (matched and sparse), ``why`` and the keys
        of :func:`papers.llm.matching_report`.
    """
    from papers import llm as L

    rep = L.matching_report(run)
    v = torch.as_tensor(run["values"], dtype=torch.float64)
    scale_v = max(abs(float(v[-1])), 1.0)
    matched = bool(rep["err_v_minus_delta"] <= rep["rerun_noise"] + 1e-6 * scale_v)
    total = 2 * (v.shape[-1] - 1)
    k90 = L.k_for_r2(v, run["and_effects"], run["or_effects"], R2_MIN)
    k90_and = L.k_for_r2(v, tf.mobius(v), torch.zeros_like(v), R2_MIN)
    sparse = k90 is not None and k90 <= SPARSE_SHARE * total
    why = (f"matching error {rep['err_v_minus_delta']:.2g} (re-run noise "
           f"{rep['rerun_noise']:.2g}); k for R² >= {R2_MIN:g}: {k90} of {total} "
           f"(<= {SPARSE_SHARE:.0%}: {'yes' if sparse else 'NO'}; AND only: {k90_and})")
    return {"matched": matched, "k90": k90, "k90_and": k90_and, "possible": total,
            "sparse": bool(sparse), "passed": bool(matched and sparse), "why": why, **rep}


def planted_logic_run(n: int = 8, *, n_and: int = 3, n_or: int = 3, noise: float = 0.005,
                      n_check: int = 48, dense: bool = False, seed: int = 0) -> dict[str, Any]:
    r"""The Fig. 6 control: a game that is a sparse AND-OR logical model by construction, in the
    keys :func:`judge_fig6` reads.

    A bias (uniform in :math:`[-2, 2]`) plus ``n_and`` AND and ``n_or`` OR interactions (orders
    1–3, :math:`|I_S|` uniform in :math:`[1, 3]`, random signs) give :math:`v(x_T)` for every
    coalition, plus i.i.d. :math:`\mathcal{N}\bigl(0, (\mathrm{noise} \cdot |v(x_N) -
    v(x_\emptyset)|)^2\bigr)`. The effects are the sparsest AND-OR decomposition
    (:func:`ibn.and_or.extract`, :math:`\zeta = 0.02 \cdot |v(x_N) - v(x_\emptyset)|`;
    Conventions page, eq-sparsest, eq-noise-bound), as in :func:`papers.llm.run_prompt`; the
    "re-run" on ``n_check`` random coalitions reads the same values (no re-run noise).

    Args:
        n: the number of players (default 8).
        n_and: the number of AND interactions planted (default 3).
        n_or: the number of OR interactions planted (default 3).
        noise: the sd of the value noise, relative to :math:`|v(x_N) - v(x_\emptyset)|`
            (default 0.005).
        n_check: the number of random coalitions of the matching check (default 48).
        dense: draw every :math:`v(x_T)` i.i.d. :math:`\mathcal{N}(0, 1)` instead (no sparse
            model; default False).
        seed: the seed of the game and of the check's coalitions (default 0).

    Returns:
        A dict: ``values`` ``(2^n,)``, ``and_effects``, ``or_effects``, ``delta``
        ``(2^n,)``, ``noise_bound`` (0.02), ``check_masks`` ``(n_check, n)`` (bool) and
        ``check_values`` ``(n_check,)``.
    """
    from ibn.and_or import extract
    from papers import llm as L

    rng = np.random.default_rng(seed)
    size = 1 << n
    if dense:
        v = torch.as_tensor(rng.standard_normal(size))
    else:
        m_of = tf.orders(n).numpy()
        pool = np.flatnonzero((m_of >= 1) & (m_of <= 3))
        a = torch.zeros(size, dtype=torch.float64)
        o = torch.zeros(size, dtype=torch.float64)
        a[0] = float(rng.uniform(-2, 2))
        for eff, count in ((a, n_and), (o, n_or)):
            idx = rng.choice(pool, size=count, replace=False)
            eff[idx] = torch.as_tensor(rng.choice([-1.0, 1.0], count) * rng.uniform(1, 3, count))
        v = L.predict(a, o, tf.all_masks(n))
        v = v + noise * float(abs(v[-1] - v[0])) * torch.as_tensor(rng.standard_normal(size))
    eff = extract(v, noise_bound=0.02)
    masks = L.random_masks(n, n_check, seed=seed)
    return {"values": v, "and_effects": eff.and_effects, "or_effects": eff.or_effects,
            "delta": eff.delta, "noise_bound": 0.02, "check_masks": masks,
            "check_values": v[tf.masks_to_index(masks)]}


def fig6_control(n: int) -> dict[str, Any]:
    """The Fig. 6 control: :func:`judge_fig6` on :func:`planted_logic_run`.

    Args:
        n: the number of players (that of the prompts).

    Returns:
        The dict of :func:`judge_fig6`.
    """
    return judge_fig6(planted_logic_run(n))


FIG6_CLAIM = ("B.fig6.logic_model", "Fig. 6",
              "A language model's output on every masked version of a prompt is matched by a "
              "sparse AND-OR logical model: a bias plus a few salient AND and OR interactions "
              "between the prompt's words.")


def fig6_setup(name: str, spec: Mapping[str, Any], run: Mapping[str, Any], *, n_players: int,
               n_check: int) -> dict[str, Any]:
    """The record entry of one prompt: one prompt is one setup of one sample.

    Args:
        name: the prompt's name.
        spec: the prompt, as :func:`papers.llm.run_prompt` takes it (its ``target`` is read).
        run: its :func:`papers.llm.run_prompt` result (``p_target`` and ``players`` are
            read).
        n_players: the number of players (words).
        n_check: the number of random coalitions re-evaluated for the matching check.

    Returns:
        A dict with ``model``, ``dataset``, ``n_players``, ``n_samples`` (1), ``target``,
        ``p_target``, ``players``, ``masking`` and ``n_check``.
    """
    return {"model": "SmolLM2-135M-Instruct", "dataset": f"prompt: {name}",
            "n_players": int(n_players), "n_samples": 1, "target": spec["target"],
            "p_target": round(float(run["p_target"]), 4), "players": list(run["players"]),
            "masking": "word removal", "n_check": int(n_check)}


def fig6_records(judged: Mapping[str, Mapping[str, Any]], ctl: Mapping[str, Any],
                 setups: Mapping[str, Mapping[str, Any]], *, scale: str, chapter: str) -> list:
    """The Fig. 6 record. SmolLM2 and the project's prompts are not the paper's protocol
    (``powered=False``).

    Args:
        judged: :func:`judge_fig6` per prompt name.
        ctl: :func:`fig6_control`.
        setups: per prompt name, its record entry (:func:`fig6_setup`).
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        chapter: the chapter that writes the record.

    Returns:
        A list of one :class:`papers.verdicts.Verdict`.
    """
    from papers.verdicts import Control, Verdict, categorize

    claim, figure, statement = FIG6_CLAIM
    names = list(judged)
    control = Control("a planted sparse logical model (a bias, 3 AND and 3 OR interactions of "
                      "orders 1-3, |I| in [1, 3]) plus i.i.d. value noise of sd 0.005 x "
                      "|v(x_N) - v(x_0)|, same extraction and rule, n = "
                      f"{setups[names[0]]['n_players']}",
                      "detected" if ctl["passed"] else "missed", ctl["why"])
    present = [bool(judged[s]["passed"]) for s in names]
    n = setups[names[0]]["n_players"]
    why = (f"{sum(present)} of {len(present)} prompts pass: "
           + "; ".join(f"{s}: {judged[s]['why']}" for s in names)
           + ("" if ctl["passed"] else "; the control was missed")
           + f"; far from the paper: SmolLM2-135M (paper: larger LLMs), prompts of the paper's "
             f"kind but not its own, n = {n}, one prompt per setup")
    return [Verdict(claim=claim, paper="B", figure=figure, statement=statement,
                    verdict=categorize(present, control, powered=False), why=why, scale=scale,
                    setups=[dict(setups[s]) for s in names], control=control, chapter=chapter)]


# ------------------------------------------------------------ Appendix J: the penalty's accuracy

APPJ_CLAIM = ("B.appJ.penalty", "App. J",
              "Training with a penalty on the non-generalizable interactions (those a baseline "
              "trained on held-out data does not share) raises the network's test accuracy.")


def appj_control(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    r"""The App. J control: :func:`papers.penalty.verdicts`'s accuracy rule on a known accuracy
    gain of the same runs, the plain networks (:math:`\lambda = 0`) trained on the full pool
    against those trained on the scarce one (same seeds).

    Args:
        rows: :func:`papers.penalty.summarize` of the runs.

    Returns:
        A dict: ``passed`` (the gain exceeds the sum of the two sds; None when the runs lack
        the plain run of one of the two settings) and ``why``.
    """
    from papers import penalty as P

    plain = {r["setting"]: r for r in rows if r["lam"] == 0}
    if not {"full", "scarce"} <= set(plain):
        return {"passed": None, "why": "needs plain runs of both the full and the scarce setting "
                                       f"(have: {', '.join(sorted(plain)) or 'none'})"}
    ctl_rows = [{**plain["scarce"], "setting": "control", "lam": 0.0},
                {**plain["full"], "setting": "control", "lam": 1.0}]
    v = P.verdicts(ctl_rows)[0]
    diff, spread = v["test_acc: pen − plain"], v["test_acc: sd(pen) + sd(plain)"]
    return {"passed": bool(v["test_acc improved"]),
            "why": f"full pool {plain['full']['test_acc']:.4f} vs scarce pool "
                   f"{plain['scarce']['test_acc']:.4f} ({v['seeds']} seed"
                   f"{'s' if v['seeds'] != 1 else ''}): gain {diff:+.4f} "
                   f"{'>' if v['test_acc improved'] else '<='} sd sum {spread:.4f}"}


def appj_records(rows: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
                 n_pool: Mapping[str, int], *, scale: str, chapter: str) -> list:
    r"""The App. J record: one setup per (setting, :math:`\lambda > 0`), where the claim is
    present when :func:`papers.penalty.verdicts` finds the accuracy improved (Conventions page,
    eq-penalty). The held-out generalizable share is named in ``why``. Not the paper's own
    experiment (``powered=False``).

    Args:
        rows: :func:`papers.penalty.summarize` of the runs.
        params: the penalty settings (a :data:`papers.penalty.PRESETS` entry as a mapping;
            ``dataset``, ``width``, ``n_players``, ``n_eval``, ``epochs`` per setting,
            ``per_batch``, ``k_pen`` and ``seeds`` are read).
        n_pool: per setting, the number of training images.
        scale: ``"smoke"``, ``"book"`` or ``"paper"``.
        chapter: the chapter that writes the record.

    Returns:
        A list of one :class:`papers.verdicts.Verdict` (control: :func:`appj_control`).
    """
    from papers import penalty as P
    from papers.verdicts import Control, Verdict, categorize

    claim, figure, statement = APPJ_CLAIM
    ctl = appj_control(rows)
    control = Control("a known accuracy gain through the same runs and rule: the plain network "
                      "trained on the full pool against the one trained on the scarce pool",
                      "none" if ctl["passed"] is None else
                      "detected" if ctl["passed"] else "missed", ctl["why"])
    plain = {r["setting"]: r for r in rows if r["lam"] == 0}
    setups, present, parts = [], [], []
    for v in P.verdicts(rows):
        s, lam = v["setting"], v["lam"]
        setups.append({"model": f"small CNN (width {params['width']})",
                       "dataset": params["dataset"], "n_players": int(params["n_players"]),
                       "n_samples": int(params["n_eval"]),
                       "setting": s, "n_train": int(n_pool[s]), "epochs": int(params["epochs"][s]),
                       "lam": float(lam), "seeds": int(v["seeds"]),
                       "penalised_per_batch": int(params["per_batch"]),
                       "penalty_baselines": int(params["k_pen"]),
                       "target_test_acc": round(float(plain[s]["test_acc"]), 4)})
        present.append(bool(v["test_acc improved"]))
        parts.append(f"{s} (λ = {lam:g}, {v['seeds']} seed{'s' if v['seeds'] != 1 else ''}): "
                     f"accuracy "
                     f"{v['test_acc: pen − plain']:+.4f} vs sd sum "
                     f"{v['test_acc: sd(pen) + sd(plain)']:.4f} "
                     f"({'improved' if v['test_acc improved'] else 'not improved'}); held-out "
                     f"generalizable share {v['heldout_share: pen − plain']:+.3f} vs sd sum "
                     f"{v['heldout_share: sd(pen) + sd(plain)']:.3f} "
                     f"({'raised' if v['heldout_share improved'] else 'not raised'})")
    why = ("; ".join(parts)
           + ("" if control.outcome == "detected" else
              f"; no detected control ({control.outcome}: {ctl['why']})")
           + f"; not paper B's experiment: a small CNN on {params['dataset']}, "
             f"n = {params['n_players']} feature-map players, "
             f"seeds {', '.join(str(s) for s in params['seeds'])}")
    verdict = categorize(present, control, powered=False)
    if verdict == "inconclusive":
        why += ("; what would decide it: paper B's own networks and data (VGG-11 on CIFAR-10, "
                "ResNet-18 on 200 images), which this machine cannot train, or at least the "
                "`paper` preset (n = 10 players, the whole pool, 10 seeds) on a GPU")
    return [Verdict(claim=claim, paper="B", figure=figure, statement=statement,
                    verdict=verdict, why=why, scale=scale,
                    setups=setups, control=control, chapter=chapter)]

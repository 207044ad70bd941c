"""The reference lab procedure: SGD with momentum on (γ, δ), batched through the butterflies.

A re-implementation of ``_train_p_q`` in the public code of the SJTU XAI lab:
github.com/sjtu-xai-lab/generalizable-interaction at commit e954ff2 (2024-03-10),
``harsanyi/and_or_harsanyi_utils.py`` lines 117-164, called by ``AndOrHarsanyiSparsifier.sparsify``
in ``harsanyi/and_or_harsanyi.py`` (lines 236-242) with the bound of ``_init_q_bound`` (lines
189-195). The same routine is in sjtu-xai-lab/interaction-concept,
``src/harsanyi/and_or_harsanyi_utils.py``. What it does, step for step as the lab code:

* parameters p (our γ) and q (our −δ: the lab writes u^AND = ½(v + q) + p, u^OR = ½(v + q) − p)
  start at zero on every coalition (lab lines 135-136);
* ``torch.optim.SGD(momentum=0.9)`` (line 137; dampening 0, no Nesterov: the first step's buffer
  is the gradient itself), the learning rate of step ``it`` set to
  ``np.logspace(log10(lr), log10(lr) − 1, niter)[it]`` (lines 132-133, 155): log-decayed from lr
  to lr/10;
* each iteration first clips q to [−qbound, qbound] (line 145), qbound = qthres·|v(x_N) −
  v(x_∅)| (``qstd="vN-v0"``, ``and_or_harsanyi.py`` lines 191-195), then computes
  I^AND = M u^AND and I^OR = M_or u^OR and the loss Σ_S |I^AND_S| + Σ_S |I^OR_S| (lines 146-150),
  and takes a step except after the last iteration (``if it + 1 < niter``, line 153);
* the empty coalition is kept as in the lab: γ_∅ is a parameter, and the loss counts the lab's
  terms at ∅, |I^AND_∅| = |u^AND_∅| and |u^OR_∅| (row ∅ of the lab's OR matrix,
  ``get_reward2Ior_mat`` lines 49-50, is the identity); u^OR_∅ also enters I^OR_N (the term
  T = N of I^OR_S = −Σ_{T⊆S} (−1)^{|S|−|T|} u^OR_{N∖T});
* the result is the effects of the last (clipped) iterate (``_calculate_interaction``,
  ``and_or_harsanyi.py`` lines 268-271).

The gradient (the lab uses autograd) is written out: with s^AND = sign(I^AND),
s^OR = sign(I^OR) (sign(0) = 0, torch's subgradient of |·|), ∂L/∂u^AND = Mᵀ s^AND,
∂L/∂u^OR = M_orᵀ s^OR + sign(u^OR_∅)·e_∅, ∂L/∂γ = ∂L/∂u^AND − ∂L/∂u^OR,
∂L/∂δ = −½(∂L/∂u^AND + ∂L/∂u^OR).

Differences from the lab code:

* δ_∅ = 0 is pinned (this project's convention; the lab lets q_∅ move within ±qbound). γ_∅ is
  free, as in the lab. With δ_∅ pinned the iterates are those of the lab code with q_∅ held at
  0 (equal to round-off); the lab's free q_∅ is a second degree of freedom at ∅ (it moves
  u^AND_∅ and u^OR_∅ together, hence every I^AND_S by (−1)^{|S|}·½q_∅ and I^OR_N), so the two
  runs differ in objective, by up to about 0.5 % on planted games of 6 to 8 players.
  ``pin_delta_empty=False`` lets δ_∅ move as the lab's q_∅ and reproduces the lab's iterates,
  at the price of a bias v(x_∅) − δ_∅;
* the lab returns I^AND_∅ = u^AND_∅ and I^OR_∅ = u^OR_∅, whose sum is the bias; here u^OR_∅ is
  folded into the bias, I^AND_∅ = u^AND_∅ + u^OR_∅ = v(x_∅) − δ_∅ (= v(x_∅) with δ_∅ pinned),
  and I^OR_∅ = 0, so universal matching h(x_T) = I^AND_∅ + Σ_{∅≠S⊆T} I^AND_S +
  Σ_{S∩T≠∅} I^OR_S = v(x_T) − δ_T holds for every T. The returned γ is the iterate plus the
  constant u^OR_∅ (so γ_∅ = ½(v(x_∅) − δ_∅)): a constant added to γ changes only I^AND_∅ and
  u^OR_∅, so u^AND = ½(v − δ) + γ and u^OR = ½(v − δ) − γ of the returned γ give the returned
  effects, with u^OR_∅ = 0;
* bit i of a coalition index is player i (the lab's ``generate_all_masks`` puts player k at bit
  n−1−k); values are float64 (the lab's matrices are float32);
* the 2^n × 2^n matrix products are O(n·2^n) butterflies (:mod:`ibn.transforms`);
* a batch is trained at once, one independent problem per sample, as the lab's per-sample loop.

``LAB_PRESETS`` holds the lab's settings by code version (see its entries).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from .. import transforms as tf

__all__ = ["sgd_decompose", "resolve_options", "LAB_PRESETS", "DEFAULTS"]

#: Defaults of :func:`sgd_decompose` when neither an argument nor a preset gives a value.
DEFAULTS = {"steps": 20_000, "lr": 1e-6, "momentum": 0.9, "pin_delta_empty": True}

LAB_PRESETS: dict[str, dict] = {
    "e954ff2": dict(lr=1e-7, momentum=0.9, steps=20_000, noise_bound=0.02, noise_scale="sample",
                    pin_delta_empty=False),
    "newer": dict(lr=1e-6, momentum=0.999, steps=50_000, noise_bound=0.05, noise_scale="mean",
                  pin_delta_empty=False),
}
"""The lab's settings by code version: ``steps``, ``lr``, ``momentum`` for :func:`sgd_decompose`,
``pin_delta_empty=False`` (the lab's q_∅ moves, so a preset reproduces the lab's iterates to
round-off) and ``noise_bound``, ``noise_scale`` for the bound ζ (``noise_scale="sample"``: ζ =
noise_bound·|v(x_N) − v(x_∅)| of each sample; ``"mean"``: the mean of |v(x_N) − v(x_∅)| over the
samples).

``"e954ff2"``: github.com/sjtu-xai-lab/generalizable-interaction at commit
e954ff2e7cb805ec9dcf1297f1bb59fdffb1dd81, the code of ``_train_p_q`` followed here.

* lr 1e-7: ``eval_interaction_text.py`` line 155,
  ``parser.add_argument("--sparsify-lr", default=1e-7, type=float, ...)``;
* steps 20 000: ``eval_interaction_text.py`` line 157,
  ``parser.add_argument("--sparsify-niter", default=20000, type=int, help="... Commonly used:
  20000, 50000")``;
* momentum 0.9: ``harsanyi/and_or_harsanyi_utils.py`` line 137,
  ``optimizer = optim.SGD([p, q], lr=0.0, momentum=0.9)``;
* noise_bound 0.02: ``eval_interaction_text.py`` line 146 (``--sparsify-qthres``, default 0.02);
* noise_scale "sample": ``eval_interaction_text.py`` line 152 (``--sparsify-qstd``, default
  "vN-v0") and ``harsanyi/and_or_harsanyi.py`` lines 191-195,
  ``standard = self.calculator.v_N - self.calculator.v_empty``,
  ``self.standard = torch.abs(standard)``, ``self.q_bound = self.qthres * self.standard``, per
  sample.

``"newer"``: the settings stated for the lab's newer scripts; public code was found for part of
them only.

* steps 50 000 and lr 1e-6: sjtu-xai-lab/interaction-sparsity at commit 18d9e1c,
  ``scripts/bash_interaction_LLM.sh`` lines 5-7 (``--lr=1e-6 --epochs=50000 --mode="pq"``). The
  routine those scripts call (``interaction/harsanyi/calculate.py``) is not in that repository,
  and its ``--qthres`` default is 0.04 (``demo/sparsify_opt_train.py`` line 23);
* momentum 0.999, noise_bound 0.05 and noise_scale "mean": not found in the public lab
  repositories (generalizable-interaction, interaction-concept, interaction-sparsity, aog).
"""


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return int(steps)


def _check_lr(lr) -> float:
    if (isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr)
            or not lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    return float(lr)


def _check_momentum(momentum) -> float:
    if (isinstance(momentum, bool) or not isinstance(momentum, numbers.Real)
            or not 0.0 <= momentum < 1.0):
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    return float(momentum)


def resolve_options(preset: str | None = None, *, steps=None, lr=None, momentum=None,
                    pin_delta_empty=None) -> dict:
    """The validated (steps, lr, momentum, pin_delta_empty) of a run: an explicit argument wins,
    then the
    preset's value (``LAB_PRESETS[preset]``), then :data:`DEFAULTS`. Also returns the preset's
    ``noise_bound`` and ``noise_scale`` (None without a preset), for the caller that computes ζ.
    Raises a one-line ValueError naming the bad option and its allowed values."""
    if preset is None:
        base: dict = {}
    elif isinstance(preset, str) and preset in LAB_PRESETS:
        base = LAB_PRESETS[preset]
    else:
        raise ValueError(f"preset must be one of {', '.join(map(repr, LAB_PRESETS))} or None, "
                         f"got {preset!r}")
    pick = {"steps": steps, "lr": lr, "momentum": momentum, "pin_delta_empty": pin_delta_empty}
    out = {k: (pick[k] if pick[k] is not None else base.get(k, DEFAULTS[k])) for k in DEFAULTS}
    if not isinstance(out["pin_delta_empty"], bool):
        raise ValueError(f"pin_delta_empty must be True or False, got {out['pin_delta_empty']!r}")
    return {
        "pin_delta_empty": out["pin_delta_empty"],
        "steps": _check_steps(out["steps"]),
        "lr": _check_lr(out["lr"]),
        "momentum": _check_momentum(out["momentum"]),
        "noise_bound": base.get("noise_bound"),
        "noise_scale": base.get("noise_scale"),
    }


def _or_mobius_transpose(s: torch.Tensor) -> torch.Tensor:
    """Transpose of :func:`ibn.transforms.or_mobius`: ∂(Σ_{S≠∅} s_S·I^OR_S)/∂u for
    I^OR = or_mobius(u) (``s[..., 0]`` is not used; entry 0 of the result is the derivative
    through I^OR_N, −s_N)."""
    s = s.clone()
    s[..., 0] = 0.0
    return -torch.flip(tf.mobius_transpose(s), dims=(-1,))


def sgd_decompose(values: torch.Tensor, zeta: torch.Tensor, *, steps: int | None = None,
                  lr: float | None = None, momentum: float | None = None,
                  preset: str | None = None, pin_delta_empty: bool | None = None,
                  progress: bool = False):
    """Run the lab's SGD (``_train_p_q``, see the module docstring) on a batch of games.

    ``values``: float64 (B, 2^n), bit i = player i; ``zeta``: (B,) bounds on |δ| (the lab's
    qbound). ``steps`` (the lab's niter: iterations, of which the last takes no step), ``lr``
    (the first learning rate; it decays log-linearly to lr/10) and ``momentum``: an explicit
    value wins over ``preset`` (a key of :data:`LAB_PRESETS`), which wins over :data:`DEFAULTS`
    (20 000, 1e-6, 0.9). The preset's noise_bound/noise_scale are not used here (ζ is given).
    ``pin_delta_empty``: True (the default without a preset: this project's convention) holds
    δ_∅ = 0; False (the presets' value) lets δ_∅ move within ±ζ as the lab's q_∅ does, which
    reproduces the lab's iterates exactly (to round-off) but gives a bias v(x_∅) − δ_∅ instead
    of v(x_∅).

    Returns (and_effects, or_effects, gamma, delta), each (B, 2^n): the effects of the last
    iterate with and_effects[:, 0] = u^AND_∅ + u^OR_∅ = v(x_∅) − δ_∅ (u^OR_∅ folded into the
    bias; = v(x_∅) when δ_∅ is pinned) and or_effects[:, 0] = 0; gamma shifted accordingly
    (γ_∅ = ½(v(x_∅) − δ_∅)); delta with |δ| ≤ ζ. Universal matching holds for every T:
    I^AND_∅ + Σ_{∅≠S⊆T} I^AND_S + Σ_{S∩T≠∅} I^OR_S = v(x_T) − δ_T.
    """
    opts = resolve_options(preset, steps=steps, lr=lr, momentum=momentum,
                           pin_delta_empty=pin_delta_empty)
    steps, lr, momentum = opts["steps"], opts["lr"], opts["momentum"]
    pin_delta_empty = opts["pin_delta_empty"]
    v = tf.as_values(values)
    if v.ndim != 2:
        raise ValueError(f"values must have shape (batch, 2**n), got {tuple(v.shape)}")
    tf.n_players(v.shape[-1])
    zeta = tf.as_values(zeta, name="zeta").to(v.device)
    if zeta.shape != v.shape[:1]:
        raise ValueError(f"zeta must have shape ({v.shape[0]},), got {tuple(zeta.shape)}")
    bound = zeta[:, None].expand_as(v)
    gamma = torch.zeros_like(v)  # lab: p = 0
    delta = torch.zeros_like(v)  # lab: q = 0
    buf_g = torch.zeros_like(v)
    buf_d = torch.zeros_like(v)
    etas = np.logspace(math.log10(lr), math.log10(lr) - 1, steps)
    iterator = range(steps)
    if progress:
        from .._progress import tqdm

        iterator = tqdm(iterator, desc="and_or sgd", leave=False)
    for it in iterator:
        delta = torch.maximum(torch.minimum(delta, bound), -bound)
        half = 0.5 * (v - delta)
        u_and = half + gamma
        u_or = half - gamma
        i_and = tf.mobius(u_and)
        i_or = tf.or_mobius(u_or)
        if it + 1 >= steps:
            break
        g_uand = tf.mobius_transpose(torch.sign(i_and))  # I^AND_∅ = u^AND_∅ included
        g_uor = _or_mobius_transpose(torch.sign(i_or))
        g_uor[:, 0] += torch.sign(u_or[:, 0])  # the lab's |I^OR_∅| = |u^OR_∅|
        grad_g = g_uand - g_uor
        grad_d = -0.5 * (g_uand + g_uor)
        if pin_delta_empty:
            grad_d[:, 0] = 0.0  # δ_∅ = 0 pinned
        if it == 0:
            buf_g.copy_(grad_g)
            buf_d.copy_(grad_d)
        else:
            buf_g.mul_(momentum).add_(grad_g)
            buf_d.mul_(momentum).add_(grad_d)
        eta = float(etas[it])
        gamma.add_(buf_g, alpha=-eta)
        delta.add_(buf_d, alpha=-eta)
    u_or_empty = u_or[:, :1]
    i_and[:, 0] = v[:, 0] - delta[:, 0]  # = u^AND_∅ + u^OR_∅ (exactly v(x_∅) when pinned)
    i_or[:, 0] = 0.0
    return i_and, i_or, gamma + u_or_empty, delta

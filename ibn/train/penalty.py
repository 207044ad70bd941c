r"""Paper B Appendix J: penalise non-generalizable interactions during training (Conventions page,
eq-penalty): :math:`L = \mathrm{CE}(f(x), y) + \lambda \sum_S \lvert I_S^{\mathrm{non}}\rvert`.

The term, for the :math:`P` penalised samples of a batch (the first ``per_batch`` of the shuffled
batch), each with label :math:`y` and the :math:`n` players of a masker (Conventions page,
conventions-notation):

1. :math:`v(x_T) = \log \frac{p(y \mid x_T)}{1 - p(y \mid x_T)}` for all :math:`2^n` coalitions
   :math:`T` (one batch of :math:`2^n` masked inputs through the model being trained, float64,
   **with gradients**; paper B eq. 1; Conventions page, eq-reward).
2. :math:`(\gamma, \delta)` = the sparsest AND-OR decomposition of the **detached** values
   (:func:`ibn.and_or.extract`, paper B eq. 14-17; Conventions page, eq-sparsest), held constant.
   With them the effects are linear in :math:`v` (:func:`effects_at`):
   :math:`I^{\mathrm{AND}} = \mathrm{mobius}(\tfrac12 (v - \delta) + \gamma)` and
   :math:`I^{\mathrm{OR}} = \mathrm{or\_mobius}(\tfrac12 (v - \delta) - \gamma)`, equal to the
   extracted effects at the current weights.
3. Non-generalizable (Conventions page, eq-rho-hat): :math:`S \neq \emptyset` salient for the
   trained model (:math:`\lvert I_S\rvert > \tau`; Conventions page, eq-salient) and not matched
   by any baseline DNN (trained on a held-out validation split): :math:`\hat\rho_S = 0`, where
   :math:`\rho_S = \mathbb{1}(\lvert I_S^{\mathrm{base}}\rvert > \tau \text{ and }
   I_S I_S^{\mathrm{base}} > 0)` (Conventions page, eq-rho), AND and OR separately
   (:func:`ibn.distributions.transfer_any`). :math:`\tau` = ``noise_bound_tau`` ·
   :math:`\lvert v(x_N) - v(x_\emptyset)\rvert` of the trained model per sample (the lab code's
   per-sample threshold), or a fixed ``tau``.
4. :math:`L_{\mathrm{pen}} = \frac{\lambda}{P} \sum_x \big[\sum_{S\ \mathrm{non,\ AND}}
   \lvert I^{\mathrm{AND}}_S(x)\rvert + \sum_{S\ \mathrm{non,\ OR}}
   \lvert I^{\mathrm{OR}}_S(x)\rvert\big]`.

**Detached**: :math:`\gamma`, :math:`\delta`, :math:`\tau`, the selection of
non-generalizable :math:`S` and the baseline effects; the gradient flows through :math:`v` only,
i.e. :math:`\partial L_{\mathrm{pen}} / \partial v = \frac{\lambda}{P}
\big[\tfrac12 M^\top s_{\mathrm{AND}} - \tfrac12 \mathrm{flip}(M^\top s_{\mathrm{OR}})\big]`
with :math:`s` the signs of the selected effects (:math:`M` the Möbius matrix). Holding the
decomposition fixed is the Danskin (envelope) choice for the full L1 objective (up to
:math:`\zeta`'s own dependence on :math:`v`); for the partial sum over non-generalizable
:math:`S` it is a modelling choice, stated here.

**Cost** per penalised sample and step: :math:`2^n` forward passes (one batch) and their
backward, plus one exact LP of the sparsest decomposition. The baseline effects of a training
sample (:math:`2^n` forwards and one LP per baseline) are computed once and cached by the
sample's index into the training set (the loop passes ``indices=``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from .. import transforms as tf
from ..distributions import salient, transfer_any
from ..games import log_odds

__all__ = ["effects_at", "sample_values", "decompose", "nongeneralizable_masks",
           "masked_l1", "NonGeneralizablePenalty"]

Effects = tuple[torch.Tensor, torch.Tensor]


def effects_at(values: torch.Tensor, gamma: torch.Tensor, delta: torch.Tensor) -> Effects:
    r"""The AND and OR effects of given :math:`(\gamma, \delta)` (paper B eq. 14-16;
    Conventions page, eq-and-or-split, eq-harsanyi, eq-or):

    .. math::

       I^{\mathrm{AND}} = \mathrm{mobius}\bigl(\tfrac12 (v - \delta) + \gamma\bigr), \qquad
       I^{\mathrm{OR}} = \mathrm{or\_mobius}\bigl(\tfrac12 (v - \delta) - \gamma\bigr),

    linear and differentiable in ``values``.

    Args:
        values: :math:`v(x_T)` for every coalition, shape (..., :math:`2^n`), indexed by
            bitmask (Conventions page, eq-mask).
        gamma: :math:`\gamma`, same shape (or broadcastable); used as given (detach it to hold
            the decomposition fixed).
        delta: :math:`\delta`, same shape (or broadcastable); used as given.

    Returns:
        ``(and_effects, or_effects)``, each of shape (..., :math:`2^n`), float64.
    """
    half = 0.5 * (tf.as_values(values) - tf.as_values(delta, name="delta"))
    g = tf.as_values(gamma, name="gamma")
    return tf.mobius(half + g), tf.or_mobius(half - g)


def sample_values(model: nn.Module, x: Any, y: int | torch.Tensor, masker: Any) -> torch.Tensor:
    r""":math:`v(x_T)` for every coalition :math:`T` (bit :math:`i` = player :math:`i`;
    Conventions page, eq-mask), the reward being the log-odds of class ``y`` (Conventions page,
    eq-reward), **with gradients** (unlike :func:`ibn.games.all_values`, which runs under
    inference mode).

    Args:
        model: the classifier, returning logits.
        x: one input without batch dimension (e.g. an image (C, H, W) or a row (d,)).
        y: the target class :math:`y^*` (an int or a 0-d tensor).
        masker: the players: ``masker(model, x, masks)`` returns the logits of the
            :math:`2^n` masked inputs (``ibn.maskers``), and ``masker.n_players`` is :math:`n`.

    Returns:
        The values, float64, shape (:math:`2^n`,).
    """
    masks = tf.all_masks(masker.n_players)
    return log_odds(masker(model, x, masks), torch.as_tensor(y).reshape(()))


def decompose(values: torch.Tensor, noise_bound: float = 0.02, solver: str = "auto"
              ) -> tuple[torch.Tensor, torch.Tensor, Effects]:
    r"""The sparsest AND-OR decomposition of the detached ``values`` by
    :func:`ibn.and_or.extract` (Conventions page, eq-sparsest).

    Args:
        values: :math:`v(x_T)`, shape (..., :math:`2^n`); detached before the solve.
        noise_bound: :math:`r` of the noise bound
            :math:`\zeta = r \cdot |v(x_N) - v(x_\emptyset)|` per sample (Conventions page,
            eq-noise-bound; default 0.02).
        solver: the solver of :func:`ibn.and_or.extract`: ``"auto"``, ``"fast"``, ``"lp"`` or
            ``"sgd"``.

    Returns:
        ``(gamma, delta, (and_effects, or_effects))``, each of shape (..., :math:`2^n`).
    """
    from ..and_or import extract

    res = extract(values.detach(), noise_bound=noise_bound, solver=solver)
    return res.gamma, res.delta, (res.and_effects, res.or_effects)


def nongeneralizable_masks(effects: Effects, baselines: Sequence[Effects], tau: Any) -> Effects:
    r"""Bool masks of the non-generalizable interactions: the salient ones
    (:math:`|I_S| > \tau`, :math:`S \neq \emptyset`; Conventions page, eq-salient) that no
    baseline matches (:math:`\hat\rho_S = 0`; Conventions page, eq-rho, eq-rho-hat), AND and OR
    separately. Everything is detached.

    Args:
        effects: the target model's ``(and_effects, or_effects)``, each (..., :math:`2^n`).
        baselines: one ``(and_effects, or_effects)`` pair per baseline DNN, each of the same
            shape as ``effects``; empty = every salient interaction is non-generalizable.
        tau: the salience threshold :math:`\tau`: a scalar or one value per sample (shape
            (...)).

    Returns:
        ``(non_and, non_or)``, bool tensors of the shape of ``effects``.
    """
    out = []
    for j, e in enumerate(effects):
        e = e.detach()
        sal = salient(e, tau)
        if baselines:
            sal = sal & ~transfer_any(e, [b[j].detach() for b in baselines], tau)
        out.append(sal)
    return out[0], out[1]


def masked_l1(effects: Effects, masks: Effects) -> torch.Tensor:
    r"""The L1 norm of the selected effects,
    :math:`\sum_S m^{\mathrm{AND}}_S |I^{\mathrm{AND}}_S| + m^{\mathrm{OR}}_S |I^{\mathrm{OR}}_S|`
    over the last dimension.

    Args:
        effects: ``(and_effects, or_effects)``, each (..., :math:`2^n`); gradients flow
            through them.
        masks: ``(mask_and, mask_or)``, bool (or 0/1) tensors of the same shape, e.g. from
            :func:`nongeneralizable_masks`.

    Returns:
        The sums, shape (...).
    """
    return sum((e.abs() * m.to(e.dtype)).sum(-1) for e, m in zip(effects, masks))


class NonGeneralizablePenalty:
    r"""The term :math:`\lambda \sum_S \lvert I_S^{\mathrm{non}}\rvert` of paper B App. J
    (Conventions page, eq-penalty) as an ``extra_loss`` for :func:`ibn.train.train` (see the
    module docstring for the equation, what is detached and the cost).

    Calling it as ``penalty(model, x, y, logits=None, indices=None)`` returns the scalar
    :math:`\frac{\lambda}{P} \sum_x \sum_S \lvert I_S^{\mathrm{non}}(x)\rvert` over the
    first :math:`P` samples of the batch ``x`` (B, ...) with labels ``y`` (B,), in the dtype of
    ``logits`` (float32 without them); ``indices`` (B,), the samples' indices into the training
    set, key the cache of baseline effects (the training loop passes them, since the class sets
    ``needs_indices = True``).

    Args:
        baselines: the baseline DNN(s) trained on a held-out validation split (frozen; their
            effects are computed without gradients); an empty sequence = every salient
            interaction is penalised.
        masker: the players (``ibn.maskers``: ``TabularMasker``, ``PatchMasker``, ...), the
            same for every sample; ``masker(model, x, masks)`` on one input.
        lam: :math:`\lambda \ge 0` (default 0.01).
        per_batch: :math:`P \ge 1`, how many samples of each batch are penalised (the first
            :math:`P` of the shuffled batch; the cost is :math:`P \cdot 2^n` forwards and
            :math:`P` LPs per step).
        noise_bound: :math:`r` of :math:`\zeta = r \cdot |v(x_N) - v(x_\emptyset)|` for the
            decomposition (Conventions page, eq-noise-bound; default 0.02).
        tau: a fixed salience threshold :math:`\tau`; None = ``noise_bound_tau`` ·
            :math:`|v(x_N) - v(x_\emptyset)|` of the model being trained, per sample.
        noise_bound_tau: the factor of the per-sample threshold when ``tau`` is None (default
            0.02; Conventions page, eq-salient).
        solver: the solver of :func:`ibn.and_or.extract` (``"auto"``, ``"fast"``, ``"lp"`` or
            ``"sgd"``).
        cache: a dict index → baseline effects, shareable between runs with the same baselines,
            masker and training set; None = a new, empty dict.

    Raises:
        ValueError: ``per_batch`` < 1 or ``lam`` < 0.

    After each call ``last`` holds the detached penalty (the mean L1 before :math:`\lambda`,
    ``"l1"``), the number of penalised samples (``"samples"``) and the number of
    non-generalizable interactions penalised (``"count"``).
    """

    needs_indices = True

    def __init__(self, baselines: nn.Module | Sequence[nn.Module], masker: Any, lam: float = 0.01,
                 per_batch: int = 2, noise_bound: float = 0.02, tau: float | None = None,
                 noise_bound_tau: float = 0.02, solver: str = "auto",
                 cache: dict[int, list[Effects]] | None = None) -> None:
        self.baselines = [baselines] if isinstance(baselines, nn.Module) else list(baselines)
        if per_batch < 1:
            raise ValueError(f"per_batch must be >= 1, got {per_batch}")
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        self.masker, self.lam, self.per_batch = masker, float(lam), int(per_batch)
        self.noise_bound, self.tau, self.noise_bound_tau = noise_bound, tau, noise_bound_tau
        self.solver = solver
        self.cache: dict[int, list[Effects]] = {} if cache is None else cache
        self.last: dict[str, float] = {}

    def baseline_effects(self, x: Any, y: int, index: int | None = None) -> list[Effects]:
        """The baselines' AND and OR effects on one sample, computed without gradients.

        Args:
            x: one input without batch dimension.
            y: its label, the target class of the reward.
            index: the sample's index into the training set, the cache key; None = neither
                read nor write the cache.

        Returns:
            One ``(and_effects, or_effects)`` pair per baseline, each (:math:`2^n`,); empty
            without baselines.
        """
        if index is not None and index in self.cache:
            return self.cache[index]
        if not self.baselines:
            return []
        with torch.no_grad():
            vals = torch.stack([sample_values(b, x, y, self.masker) for b in self.baselines])
        eff = decompose(vals, self.noise_bound, self.solver)[2]
        out = [(eff[0][j], eff[1][j]) for j in range(len(self.baselines))]
        if index is not None:
            self.cache[index] = out
        return out

    def terms(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
              indices: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        r""":math:`\sum_S \lvert I_S^{\mathrm{non}}\rvert` per penalised sample, with
        gradients, and the detached parts used, for tests and diagnostics.

        Args:
            model: the model being trained.
            x: the batch (B, ...); its first :math:`P` = ``min(per_batch, B)`` samples are
                penalised.
            y: the labels (B,).
            indices: the samples' indices into the training set (B,), keys of the baseline
                cache; None = no caching.

        Returns:
            ``(l1, parts)``: ``l1`` of shape (P,), and a dict with ``values`` (P, :math:`2^n`),
            ``gamma``, ``delta``, ``effects`` (the extracted AND and OR effects), ``masks`` (the
            non-generalizable selections) and ``tau``.
        """
        p = min(self.per_batch, len(y))
        vals = torch.stack([sample_values(model, x[i], int(y[i]), self.masker) for i in range(p)])
        gamma, delta, eff = decompose(vals, self.noise_bound, self.solver)
        tau = (torch.as_tensor(self.tau, dtype=torch.float64) if self.tau is not None else
               self.noise_bound_tau * (vals[:, -1] - vals[:, 0]).detach().abs())
        bases = [self.baseline_effects(x[i], int(y[i]), None if indices is None
                                       else int(indices[i])) for i in range(p)]
        if self.baselines:
            base_pairs = [(torch.stack([b[j][0] for b in bases]),
                           torch.stack([b[j][1] for b in bases])) for j in range(len(self.baselines))]
        else:
            base_pairs = []
        masks = nongeneralizable_masks(eff, base_pairs, tau)
        l1 = masked_l1(effects_at(vals, gamma, delta), masks)
        return l1, {"values": vals.detach(), "gamma": gamma, "delta": delta, "masks": masks,
                    "tau": tau, "effects": eff}

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 logits: torch.Tensor | None = None,
                 indices: torch.Tensor | None = None) -> torch.Tensor:
        l1, parts = self.terms(model, x, y, indices)
        self.last = {"l1": float(l1.detach().mean()), "samples": int(len(l1)),
                     "count": int(sum(m.sum() for m in parts["masks"]))}
        return (self.lam * l1.mean()).to(torch.float32 if logits is None else logits.dtype)

    def describe(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (recorded in the training configuration)."""
        m = self.masker
        return {"loss": "nongeneralizable_penalty", "lam": self.lam, "per_batch": self.per_batch,
                "noise_bound": self.noise_bound, "tau": self.tau,
                "noise_bound_tau": self.noise_bound_tau, "k_baselines": len(self.baselines),
                "players": m.describe() if hasattr(m, "describe") else repr(m)}

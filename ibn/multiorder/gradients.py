r"""Contextual variability measured: the Gram matrix of the parameter gradients of the rewards of
all :math:`2^n` coalitions, and from it the per-order statistics of the per-context gradients
:math:`g_S = \nabla_\theta \Delta v(i, j, S)` (Conventions page, eq-delta-v and
eq-learning-signal; section conventions-multiorder).

- :func:`masked_inputs`: the masked inputs :math:`x_T` of one input for a list of masks.
- :func:`gradient_gram`: the Gram matrix :math:`K` of the gradients of all :math:`2^n` rewards.
- :func:`context_gradient_stats`: per order :math:`m` and pair, the norm of the averaged gradient
  :math:`\nabla_\theta I^{(m)}(i, j)` and the mean norm of one context's gradient, from :math:`K`.
- :func:`gradient_statistics`: the same averaged over samples and pairs, beside the prediction
  of independent contexts (Conventions page, eq-learning-signal).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from ..games import log_odds
from ..maskers import PatchMasker, TabularMasker
from ..transforms import n_players
from .profiles import _pairs_tensor
from .theory import efficiency_weights, n_contexts, order_ratios, predicted_signal

__all__ = ["masked_inputs", "gradient_gram", "context_gradient_stats", "gradient_statistics"]


def masked_inputs(masker: Any, x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    r"""The :math:`k` masked inputs :math:`x_T` of one input (Conventions page, eq-mask and
    conventions-notation), as the masker would feed them to the model.

    Args:
        masker: a :class:`~ibn.maskers.TabularMasker` (masked features take its ``baseline``)
            or a :class:`~ibn.maskers.PatchMasker` (masked cells take its ``baseline``).
        x: one input without a batch dimension: a row ``(d,)`` for a TabularMasker, an image
            ``(C, H, W)`` for a PatchMasker.
        masks: bool ``(k, n)``, one coalition :math:`T` per row, column :math:`i` = player
            :math:`i` (True = kept).

    Returns:
        the masked inputs ``(k, *x.shape)``, row :math:`r` the input :math:`x_T` of mask row
        :math:`r`, in the dtype of ``x``.

    Raises:
        TypeError: ``masker`` is neither a TabularMasker nor a PatchMasker.
    """
    masks = torch.as_tensor(masks).bool()
    xb = torch.as_tensor(x).unsqueeze(0)
    if isinstance(masker, PatchMasker):
        return masker.mask_inputs(xb.expand(masks.shape[0], *xb.shape[1:]), masks)
    if isinstance(masker, TabularMasker):
        d = masker.baseline.shape[0]
        keep = torch.ones(masks.shape[0], d, dtype=torch.bool)
        keep[:, masker.players] = masks
        return torch.where(keep, xb, masker.baseline.to(xb.dtype))
    raise TypeError(f"masked_inputs supports TabularMasker and PatchMasker, got {type(masker).__name__}")


def _linear_only(model: nn.Module) -> bool:
    lin = {id(p) for m in model.modules() if isinstance(m, nn.Linear) for p in m.parameters()}
    return all(id(p) in lin for p in model.parameters() if p.requires_grad)


def _gram_linear(model: nn.Module, inputs: torch.Tensor, target: int,
                 matmul_dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """K = Σ_layers (ΔΔᵀ)∘(AAᵀ + 1) for models whose parameters all sit in nn.Linear layers:
    the per-example gradient of W is δ aᵀ, so ⟨∇W_T, ∇W_T'⟩ = (δ_T·δ_T')(a_T·a_T')."""
    acts: dict[nn.Module, torch.Tensor] = {}
    grads: dict[nn.Module, torch.Tensor] = {}
    handles = []

    def fwd(mod, inp, out):
        acts[mod] = inp[0].detach()
        out.register_hook(lambda g, mod=mod: grads.__setitem__(mod, g.detach()))

    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for m in linears:
        handles.append(m.register_forward_hook(fwd))
    try:
        with torch.enable_grad():
            out = model(inputs)
            v = log_odds(out, target)
            v.sum().backward()
    finally:
        for h in handles:
            h.remove()
        model.zero_grad(set_to_none=True)
    k = inputs.shape[0]
    K = torch.zeros(k, k, dtype=torch.float64)
    for m in linears:
        a, d = acts[m], grads[m]
        if a.ndim != 2 or d.ndim != 2:
            raise ValueError("the linear-layer Gram needs 2-D activations (one row per input)")
        d, a = d.to(matmul_dtype), a.to(matmul_dtype)
        dd = (d @ d.T).to(torch.float64)
        if m.weight.requires_grad:
            K += dd * (a @ a.T).to(torch.float64)
        if m.bias is not None and m.bias.requires_grad:
            K += dd
    return K


def _gram_explicit(model: nn.Module, inputs: torch.Tensor, target: int,
                   chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """K = G Gᵀ with G (k, p) the explicit per-example gradients (torch.func.vmap(grad))."""
    from torch.func import functional_call, grad, vmap

    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    buffers = {k: b for k, b in model.named_buffers()}

    def f(p, xi):
        out = functional_call(model, {**p, **buffers}, (xi.unsqueeze(0),))
        return log_odds(out, target)[0]

    rows = []
    g = vmap(grad(f), in_dims=(None, 0))
    for s in range(0, inputs.shape[0], chunk):
        gs = g(params, inputs[s:s + chunk])
        rows.append(torch.cat([gs[k].reshape(gs[k].shape[0], -1) for k in params], 1))
    G = torch.cat(rows).to(torch.float64)
    return G @ G.T, G


def gradient_gram(model: nn.Module, x: torch.Tensor, y: int, masker: Any, *,
                  method: str = "auto", dtype: torch.dtype = torch.float64,
                  matmul_dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The Gram matrix of the parameter gradients of the rewards of all :math:`2^n` coalitions,

    .. math::

        K[T, T'] = \bigl\langle \nabla_\theta v(x_T),\ \nabla_\theta v(x_{T'}) \bigr\rangle ,

    for all coalitions :math:`T, T'` indexed by bitmask (bit :math:`i` = player :math:`i`;
    Conventions page, eq-mask), with :math:`v` the log-odds of class ``y`` (Conventions page,
    eq-reward) and :math:`\theta` all trainable parameters of the model.

    The model is copied, cast to ``dtype``, moved to the CPU and put in eval mode; the original
    is untouched.

    Args:
        model: the torch model whose parameter gradients are taken.
        x: one input without a batch dimension (a row ``(d,)`` or an image ``(C, H, W)``, as
            ``masker`` expects).
        y: the class whose log-odds is the reward :math:`v`.
        masker: a :class:`~ibn.maskers.TabularMasker` or :class:`~ibn.maskers.PatchMasker`
            with :math:`n` players (see :func:`masked_inputs`).
        method: ``"linear"`` (the per-example gradient trick; every trainable parameter must
            sit in an ``nn.Linear`` layer), ``"explicit"`` (``torch.func`` per-example
            gradients, any model) or ``"auto"`` (the default: linear when possible, else
            explicit).
        dtype: the dtype the model copy and the masked inputs are cast to (default float64).
        matmul_dtype: the precision of the :math:`(2^n \times \text{width})` Gram products of
            the linear method, which are then summed in float64 (float32 halves the time at
            :math:`n = 12` and changes :math:`K` by about :math:`10^{-7}` relative); ignored by
            the explicit method.

    Returns:
        :math:`K`, a float64 tensor ``(2**n, 2**n)`` on the CPU.

    Raises:
        ValueError: ``method`` is not one of the three; ``method="linear"`` for a model with a
            trainable parameter outside ``nn.Linear``; a linear layer sees inputs that are not
            2-D (one row per masked input).
    """
    from ibn.transforms import all_masks

    n = masker.n_players
    net = copy.deepcopy(model).to("cpu", dtype).eval()
    inputs = masked_inputs(masker, torch.as_tensor(x).to("cpu", dtype), all_masks(n)).to(dtype)
    if method == "auto":
        method = "linear" if _linear_only(net) else "explicit"
    if method == "linear":
        if not _linear_only(net):
            raise ValueError("method='linear' needs every trainable parameter in an nn.Linear")
        return _gram_linear(net, inputs, int(y), matmul_dtype)
    if method == "explicit":
        return _gram_explicit(net, inputs, int(y))[0]
    raise ValueError(f"method must be 'auto', 'linear' or 'explicit', got {method!r}")


def _context_index(n: int, i: int, j: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All contexts S ⊆ N\\{i,j} as bitmasks (2^(n−2),) and their sizes."""
    others = [k for k in range(n) if k not in (i, j)]
    sub = torch.arange(1 << (n - 2))
    bits = (sub.unsqueeze(-1) >> torch.arange(n - 2)) & 1
    w = torch.tensor([1 << k for k in others], dtype=torch.long)
    return (bits * w).sum(-1), bits.sum(-1)


def context_gradient_stats(K: torch.Tensor, *, pairs=None) -> dict[str, np.ndarray]:
    r"""Per-order statistics of the per-context gradients
    :math:`g_S = \nabla_\theta \Delta v(i, j, S)` (Conventions page, eq-delta-v) from the Gram
    matrix of :func:`gradient_gram`, for every pair :math:`i < j` or the given ``pairs``.

    With :math:`C_m = \binom{n-2}{m}` the number of contexts :math:`S \subseteq N \setminus
    \{i, j\}` of size :math:`m`, the mean of :math:`g_S` over them is the gradient of the
    order-:math:`m` interaction :math:`I^{(m)}(i, j)` (Conventions page, eq-multiorder). All
    norms come from :math:`K` alone: no gradient is formed.

    Args:
        K: the Gram matrix ``(2**n, 2**n)`` of the rewards' gradients, coalitions indexed by
            bitmask (Conventions page, eq-mask); converted to float64.
        pairs: the player pairs :math:`(i, j)`, :math:`i \neq j`, as an array-like ``(P, 2)``;
            None (the default) = all :math:`P = n(n-1)/2` pairs :math:`i < j` in row-major
            order.

    Returns:
        a dict of numpy arrays; the first three are ``(n - 1, P)``, row :math:`m` = order
        :math:`m = 0, \dots, n-2`, column :math:`p` = pair :math:`p`:

        - ``mean_sq``: :math:`\lVert \operatorname{mean}_S g_S \rVert^2 =
          \lVert \nabla_\theta I^{(m)}(i, j) \rVert^2` (the mean over all :math:`C_m`
          contexts);
        - ``ctx_sq``: :math:`\operatorname{mean}_S \lVert g_S \rVert^2`, the mean squared norm
          of one context's gradient;
        - ``var``: ``ctx_sq - mean_sq`` :math:`= \operatorname{mean}_S \lVert g_S -
          \bar g \rVert^2` (the trace of the covariance of the gradients over the contexts);
        - ``pairs``: the pairs ``(P, 2)``, int64;
        - ``contexts``: :math:`C_m` for :math:`m = 0, \dots, n-2`, ``(n - 1,)``.

    Raises:
        ValueError: ``K`` is not square ``(2**n, 2**n)``; a pair names a player outside
            :math:`0, \dots, n-1` or the same player twice.
    """
    K = torch.as_tensor(K, dtype=torch.float64)
    n = n_players(K.shape[-1])
    if K.shape != (1 << n, 1 << n):
        raise ValueError(f"K must be square (2^n, 2^n), got {tuple(K.shape)}")
    P = (torch.triu_indices(n, n, offset=1).T if pairs is None else _pairs_tensor(pairs, n))
    # Pair p, context S (|S| = m) and corner a ∈ {S∪{i,j}, S∪{i}, S∪{j}, S} give the mask
    # Q_a(S) with sign s_a = (+, −, −, +): g_S = Σ_a s_a ∇v(Q_a(S)), and the coefficients of
    # I^(m)(i,j) = mean_S Δv over the values are c[Q_a(S)] = s_a / C(n−2, m). Each mask occurs
    # once per pair, so the coefficient matrix (rows (m, p)) has P·2^n non-zeros:
    # ‖∇ I^(m)(i,j)‖² = cᵀ K c (sparse product), ‖g_S‖² = Σ_ab s_a s_b K[Q_a(S), Q_b(S)].
    C = torch.as_tensor(n_contexts(n))
    signs = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    rows, cols, vals = [], [], []
    ctx_sq = torch.empty(n - 1, len(P), dtype=torch.float64)
    for p, (i, j) in enumerate(P.tolist()):
        T0, size = _context_index(n, i, j)
        Q = torch.stack([T0 | (1 << i) | (1 << j), T0 | (1 << i), T0 | (1 << j), T0])
        norm2 = torch.zeros(len(T0), dtype=torch.float64)
        for a in range(4):
            for b in range(4):
                norm2 += signs[a] * signs[b] * K[Q[a], Q[b]]
        ctx_sq[:, p] = torch.bincount(size, weights=norm2, minlength=n - 1) / C
        rows.append((size * len(P) + p).repeat(4))
        cols.append(Q.reshape(-1))
        vals.append((signs[:, None] / C[size][None, :]).reshape(-1))
    coef = torch.sparse_coo_tensor(torch.stack([torch.cat(rows), torch.cat(cols)]),
                                   torch.cat(vals), ((n - 1) * len(P), 1 << n),
                                   check_invariants=True).coalesce()
    KC = torch.sparse.mm(coef, K)  # ((n−1)·P, 2^n): row (m, p) = cᵀ K
    mean_sq = (KC * coef.to_dense()).sum(1).reshape(n - 1, len(P))
    return {"mean_sq": mean_sq.numpy(), "ctx_sq": ctx_sq.numpy(),
            "var": (ctx_sq - mean_sq).numpy(), "pairs": P.numpy(), "contexts": n_contexts(n)}


def gradient_statistics(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, masker: Any, *,
                        method: str = "auto", pairs=None,
                        matmul_dtype: torch.dtype = torch.float64) -> dict[str, Any]:
    r""":func:`context_gradient_stats` averaged over samples and pairs, per order :math:`m`:
    the measured counterpart of the learning signal of contextual variability (Conventions
    page, eq-efficiency and eq-learning-signal).

    For each sample the Gram matrix of :func:`gradient_gram` is formed and its statistics are
    averaged over the pairs, then over the samples. With :math:`C = C_m = \binom{n-2}{m}` the
    number of contexts of order :math:`m`, independent zero-mean per-context gradients would
    give :math:`\rho = 0` and ``indep`` :math:`= 1 / \sqrt{C}`.

    Args:
        model: the torch model (copied for each sample; see :func:`gradient_gram`).
        xs: the inputs, an iterable of ``N`` single inputs (e.g. a tensor ``(N, d)`` or
            ``(N, C, H, W)``).
        ys: the ``N`` classes whose log-odds are the rewards, one per input.
        masker: a :class:`~ibn.maskers.TabularMasker` or :class:`~ibn.maskers.PatchMasker`
            with :math:`n` players.
        method: how the gradients are formed, as in :func:`gradient_gram` (``"auto"``,
            ``"linear"`` or ``"explicit"``).
        pairs: the player pairs ``(P, 2)`` as in :func:`context_gradient_stats`; None = all
            pairs :math:`i < j`.
        matmul_dtype: the precision of the linear method's Gram products, as in
            :func:`gradient_gram`.

    Returns:
        a dict; arrays over the orders :math:`m = 0, \dots, n-2` unless said otherwise:

        - ``mean_sq``: :math:`\mathbb{E} \lVert \nabla_\theta I^{(m)}(i, j) \rVert^2`;
        - ``ctx_sq``: :math:`\mathbb{E} \lVert g_S \rVert^2`;
        - ``var``: :math:`\mathbb{E} \operatorname{mean}_S \lVert g_S - \bar g \rVert^2`;
        - ``snr``: ``mean_sq / var``;
        - ``rho``: the mean pairwise correlation of the :math:`C` contexts' gradients,
          :math:`(C \cdot \mathrm{mean\_sq} / \mathrm{ctx\_sq} - 1) / (C - 1)` (0 for independent
          zero-mean gradients; NaN where :math:`C = 1`);
        - ``indep``: :math:`\sqrt{\mathrm{mean\_sq} / \mathrm{ctx\_sq}}`, beside ``indep_pred``
          :math:`= 1 / \sqrt{C}`;
        - ``signal``: :math:`R^{(m)} \sqrt{\mathrm{mean\_sq}}` normalised to 1 at :math:`m = 0`
          (:math:`R^{(m)}` of Conventions page, eq-efficiency), beside ``predicted``, the
          closed form of Conventions page, eq-learning-signal at :math:`n`;
        - ``orders`` (:math:`m`), ``ratios`` (:math:`r = m / (n-2)`), ``contexts``
          (:math:`C_m`) and ``n`` (an int);
        - ``per_sample_mean_sq``, ``per_sample_ctx_sq``: ``(N, n - 1)``, each sample's values
          averaged over the pairs.

    Raises:
        ValueError, TypeError: as :func:`gradient_gram` and :func:`context_gradient_stats`.
    """
    per_mean, per_ctx = [], []
    for x, y in zip(xs, ys):
        K = gradient_gram(model, x, int(y), masker, method=method, matmul_dtype=matmul_dtype)
        st = context_gradient_stats(K, pairs=pairs)
        per_mean.append(st["mean_sq"].mean(1))
        per_ctx.append(st["ctx_sq"].mean(1))
    pm, pc = np.array(per_mean), np.array(per_ctx)
    n = masker.n_players
    C = n_contexts(n)
    mean_sq, ctx_sq = pm.mean(0), pc.mean(0)
    var = ctx_sq - mean_sq
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(C > 1, (C * mean_sq / ctx_sq - 1) / (C - 1), np.nan)
        snr = mean_sq / var
    R = efficiency_weights(n)
    sig = R * np.sqrt(mean_sq)
    orders = np.arange(n - 1)
    ratios = order_ratios(orders, n)
    return {"orders": orders, "ratios": ratios, "contexts": C, "n": n, "mean_sq": mean_sq,
            "ctx_sq": ctx_sq, "var": var, "snr": snr, "rho": rho,
            "indep": np.sqrt(mean_sq / ctx_sq), "indep_pred": 1 / np.sqrt(C),
            "signal": sig / sig[0], "predicted": predicted_signal(n, ratios),
            "per_sample_mean_sq": pm, "per_sample_ctx_sq": pc}

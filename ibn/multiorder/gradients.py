"""Contextual variability measured: the Gram matrix of the parameter gradients of the rewards of
all 2^n coalitions, and from it the per-order statistics of the per-context gradients
g_S = ∇_θ Δv(i, j, S) (Conventions page, eq-learning-signal)."""

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
    """The k masked inputs x_T (k, ...) of one input ``x`` (no batch dim) for a
    :class:`~ibn.maskers.TabularMasker` or :class:`~ibn.maskers.PatchMasker`."""
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
    """K[T, T'] = ⟨∇_θ v(x_T), ∇_θ v(x_T')⟩ for all 2^n coalitions T, T' (bit i = player i),
    v = log-odds of class ``y``, θ = all trainable parameters. (2^n, 2^n) float64.

    ``method``: "linear" (per-example gradient trick; all parameters in ``nn.Linear`` layers),
    "explicit" (``torch.func`` per-example gradients, any model), "auto" (linear when possible).
    The model is copied, cast to ``dtype`` and put in eval mode; the original is untouched.
    ``matmul_dtype`` (linear method): precision of the (2^n × width) Gram products, summed in
    float64 (float32 halves the time at n = 12 and changes K by ~1e-7 relative)."""
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
    """Per-order statistics of the per-context gradients g_S = ∇_θ Δv(i,j,S) from a Gram
    matrix K (2^n, 2^n) of :func:`gradient_gram`, for every pair i < j (or the given ``pairs``).

    Returns (each (n−1, P), order m = row):
    - ``mean_sq``: ‖mean_S g_S‖² = ‖∇_θ I^(m)(i,j)‖² (the mean over all C(n−2, m) contexts);
    - ``ctx_sq``: mean_S ‖g_S‖² (the mean squared norm of one context's gradient);
    - ``var``: ctx_sq − mean_sq = mean_S ‖g_S − mean‖² (trace of the covariance over contexts);
    and ``pairs`` (P, 2), ``contexts`` (n−1,) = C(n−2, m)."""
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
    """:func:`context_gradient_stats` averaged over samples (and pairs), per order m.

    Returns numpy arrays over m = 0..n−2: ``mean_sq`` = E‖∇_θ I^(m)(i,j)‖², ``ctx_sq`` =
    E‖g_S‖², ``var`` = E mean_S‖g_S − ḡ‖², ``snr`` = mean_sq / var, ``rho`` = the mean
    pairwise correlation of the C contexts' gradients, (C·mean_sq/ctx_sq − 1)/(C − 1) (0 for
    independent zero-mean gradients; NaN where C = 1), ``indep`` = √(mean_sq/ctx_sq) beside
    ``indep_pred`` = 1/√C (what independent zero-mean gradients would give), ``signal`` =
    R^(m)·√mean_sq normalised at m = 0 beside ``predicted`` (the closed form at n), plus
    ``orders``, ``ratios``, ``contexts``, ``n`` and the per-sample ``per_sample_mean_sq`` /
    ``per_sample_ctx_sq`` (N, n−1) (averaged over pairs)."""
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

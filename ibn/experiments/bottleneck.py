"""Paper A: the interaction bottleneck (Conventions page, conventions-multiorder) — shared logic of
the notebooks A1–A4.

Everything here works on a trained model, its inputs and a masker (players = features or
input patches), through :mod:`ibn.games` and :mod:`ibn.multiorder`:

- **Order profiles** (A1). :func:`game_values` records the 2^n values v(x_T) of each sample
  (reward: log-odds of the true label, Conventions page, eq-reward); :func:`exact_profile` turns
  them into the per-sample strengths S^(m)(x) and the relative strength J^(m) exactly;
  :func:`sampled_profile` follows the reference sampling protocol for large n (grid-neighbour
  pairs, random contexts, |·| after averaging), and :func:`sampled_from_values` runs the very
  same protocol on recorded values (a table lookup instead of forward passes), so that exact
  and sampled estimates can be compared on the same model and players.
  :func:`shape_summary` gives the numbers behind a "U-shaped or not" verdict;
  :func:`interior_peaks` finds peaks between the ends (A3's "second peak").
- **Contextual variability** (A2). :func:`gradient_gram` computes K[T, T'] = ⟨∇_θ v(x_T),
  ∇_θ v(x_T')⟩ over all 2^n coalitions (per-example gradient trick for ``nn.Linear`` layers,
  or explicit per-example gradients with ``torch.func``); :func:`context_gradient_stats` turns
  it into the per-order statistics of the per-context gradients g_S = ∇_θ Δv(i,j,S): the
  squared norm of their mean over the C(n−2, m) contexts (= ‖∇_θ I^(m)(i,j)‖²), their mean
  squared norm, variance, signal-to-noise ratio and mean pairwise correlation.
  :func:`efficiency_weights` are the R^(m) = (n−1−m)/(n(n−1)) of the decomposition
  v(N) = v(∅) + Σ_i μ_i + Σ_{i≠j} Σ_m R^(m) I^(m)(i,j); :func:`predicted_signal` is the closed
  form (n−m−1)/(n(n−1)·√C(n−2, m)) normalised at m = 0 (real n allowed) and
  :func:`fit_effective_n` fits its n'.
- **Order-steered models and their consequences** (A3, A4). :func:`steering_loss` builds the
  λ-term of a preset or of explicit (mode, r1, r2) (Conventions page, eq-steering-delta-u;
  :mod:`ibn.train.losses`);
  :func:`train_snapshots` trains with :func:`ibn.train.train` keeping the weights of chosen
  epochs; :func:`fgsm`, :func:`pgd`, :func:`gaussian_noise`, :func:`random_mask` and
  :func:`robustness` measure accuracy under attack and corruption.
- **Trained image CNNs** (A1). :func:`train_image_model` trains a CNN of :mod:`ibn.models` on
  (Fashion-)MNIST with :func:`ibn.train.train` once, keeping the weights of chosen epochs under
  ``data/models/A1/`` (git-ignored, keyed by the hash of the settings, resumable); a second call
  only loads. :func:`load_snapshot` rebuilds the model of one kept epoch.

Order ratios are r = m/(n−2) ∈ [0, 1] (the reference protocol's m = int((n−2)·r)).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import multiorder as mo
from ..games import all_values, log_odds
from ..maskers import PatchMasker, TabularMasker
from ..transforms import masks_to_index, n_players

__all__ = [
    "order_ratios", "efficiency_weights", "n_contexts", "predicted_signal", "fit_effective_n",
    "shape_summary", "interior_peaks", "pick_samples", "game_values", "exact_profile",
    "sampled_from_values", "sampled_profile", "masked_inputs", "gradient_gram",
    "context_gradient_stats", "gradient_statistics", "steering_loss", "train_snapshots",
    "accuracy", "fgsm", "pgd", "gaussian_noise", "random_mask", "robustness",
    "select_features", "image_data", "train_image_model", "load_snapshot",
]


# ---------------------------------------------------------------------------------------------
# Orders, closed forms, shapes
# ---------------------------------------------------------------------------------------------


def order_ratios(orders: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """r = m/(n−2) of each order m (the x-axis of every J^(m) plot)."""
    if n < 3:
        raise ValueError(f"order ratios need n ≥ 3 players, got {n}")
    return np.asarray(orders, dtype=np.float64) / (n - 2)


def efficiency_weights(n: int) -> np.ndarray:
    """R^(m) = (n−1−m)/(n(n−1)), m = 0..n−2: v(N) − v(∅) − Σ_i (v({i}) − v(∅)) =
    Σ_{i≠j} Σ_m R^(m) I^(m)(i, j) (sum over ordered pairs; Deng et al. 2022, eq. 3)."""
    m = np.arange(n - 1, dtype=np.float64)
    return (n - 1 - m) / (n * (n - 1))


def n_contexts(n: int) -> np.ndarray:
    """C(n−2, m), the number of contexts S ⊆ N\\{i,j} of each order m = 0..n−2."""
    return np.array([math.comb(n - 2, m) for m in range(n - 1)], dtype=np.float64)


def _log_comb(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    from scipy.special import gammaln

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)


def predicted_signal(n: float, ratios: Sequence[float] | np.ndarray) -> np.ndarray:
    """The net learning signal of order m = r·(n−2) predicted by contextual variability
    (Conventions page, eq-learning-signal): (n−m−1)/(n(n−1)·√C(n−2, m)), normalised to 1 at m = 0,
    i.e. (n−m−1)/((n−1)·√C(n−2, m)). ``n`` may be real (binomials through the gamma function), so
    that an effective n' can be fitted."""
    n = float(n)
    if n <= 2:
        raise ValueError(f"n must exceed 2, got {n}")
    r = np.asarray(ratios, dtype=np.float64)
    m = r * (n - 2)
    return (n - m - 1) / (n - 1) * np.exp(-0.5 * _log_comb(n - 2, m))


def fit_effective_n(ratios: Sequence[float], measured: Sequence[float], *, n_min: float = 2.05,
                    n_max: float = 200.0, grid: int = 4000) -> dict[str, Any]:
    """Fit n' in :func:`predicted_signal` to a measured signal (normalised at r = 0) by least
    squares on the log scale over a log-spaced grid of n' in [n_min, n_max].

    Returns ``{"n_eff", "rmse_log", "curve"}`` (``curve`` = the prediction at ``ratios``)."""
    r = np.asarray(ratios, dtype=np.float64)
    y = np.asarray(measured, dtype=np.float64)
    ok = np.isfinite(y) & (y > 0)
    if ok.sum() < 2:
        raise ValueError("need at least two positive measured values to fit n'")
    cands = np.geomspace(n_min, n_max, grid)
    errs = np.array([np.mean((np.log(predicted_signal(c, r[ok])) - np.log(y[ok])) ** 2)
                     for c in cands])
    best = float(cands[int(np.argmin(errs))])
    return {"n_eff": best, "rmse_log": float(np.sqrt(errs.min())),
            "curve": predicted_signal(best, r)}


def _band(ratios: np.ndarray, J: np.ndarray, lo: float, hi: float) -> float:
    sel = (ratios >= lo - 1e-9) & (ratios <= hi + 1e-9)
    if not sel.any():
        raise ValueError(f"no order ratio in [{lo}, {hi}]: ratios are {ratios.tolist()}")
    return float(np.mean(J[sel]))


def shape_summary(ratios: Sequence[float], J: Sequence[float], *, low: float = 0.1,
                  high: float = 0.9, mid: tuple[float, float] = (0.3, 0.7),
                  margin: float = 0.8) -> dict[str, Any]:
    """The numbers behind a U-shape verdict of a J^(m) curve.

    J_low = mean J over r ≤ ``low``, J_high over r ≥ ``high``, J_mid over ``mid``. An end counts
    as *above* the middle when J_mid < ``margin``·J_end (default: the middle at least 20 %
    lower). Verdict: "U-shaped" (both ends above), "falling" (only the low end above), "rising"
    (only the high end), "mid peak" (the middle above both ends by the same margin), else "flat".
    """
    r, J = np.asarray(ratios, dtype=np.float64), np.asarray(J, dtype=np.float64)
    if r.shape != J.shape:
        raise ValueError(f"ratios {r.shape} and J {J.shape} differ in shape")
    j_low, j_high, j_mid = _band(r, J, 0.0, low), _band(r, J, high, 1.0), _band(r, J, *mid)
    low_above, high_above = j_mid < margin * j_low, j_mid < margin * j_high
    if low_above and high_above:
        verdict = "U-shaped"
    elif low_above:
        verdict = "falling"
    elif high_above:
        verdict = "rising"
    elif margin * j_mid > j_low and margin * j_mid > j_high:
        verdict = "mid peak"
    else:
        verdict = "flat"
    return {"J_low": j_low, "J_mid": j_mid, "J_high": j_high,
            "mid_over_low": j_mid / j_low if j_low else float("nan"),
            "mid_over_high": j_mid / j_high if j_high else float("nan"),
            "verdict": verdict}


def interior_peaks(ratios: Sequence[float], J: Sequence[float], *,
                   min_prominence: float = 0.1) -> list[dict[str, float]]:
    """Interior local maxima of a curve (not at the first or last order) whose prominence —
    the height above the higher of the lowest points on either side before a higher value —
    is at least ``min_prominence`` × the curve's mean. Used to detect A3's second peak."""
    r, J = np.asarray(ratios, dtype=np.float64), np.asarray(J, dtype=np.float64)
    scale = float(np.mean(np.abs(J))) or 1.0
    out = []
    for k in range(1, len(J) - 1):
        if not (J[k] > J[k - 1] and J[k] >= J[k + 1]):
            continue
        left = J[:k][::-1]
        lmin = J[k]
        for v in left:
            if v > J[k]:
                break
            lmin = min(lmin, v)
        rmin = J[k]
        for v in J[k + 1:]:
            if v > J[k]:
                break
            rmin = min(rmin, v)
        prom = J[k] - max(lmin, rmin)
        if prom >= min_prominence * scale:
            out.append({"ratio": float(r[k]), "index": k, "J": float(J[k]),
                        "prominence": float(prom)})
    return out


# ---------------------------------------------------------------------------------------------
# Samples and order profiles
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    was = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        return torch.cat([model(x[s:s + batch_size].to(dev)).argmax(1).cpu()
                          for s in range(0, len(x), batch_size)])
    finally:
        model.train(was)


def pick_samples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, per_class: int,
                 seed: int = 0, correct: bool = True, batch_size: int = 512) -> torch.Tensor:
    """Indices of up to ``per_class`` samples of each class, drawn with ``default_rng(seed)``
    among the samples the model classifies correctly (``correct=True``, the reference protocol:
    5 per class) or among all. Sorted by class, then index."""
    y = torch.as_tensor(y).long()
    ok = _predict(model, x, batch_size) == y if correct else torch.ones_like(y, dtype=torch.bool)
    rng = np.random.default_rng(seed)
    picked = []
    for c in torch.unique(y).tolist():
        cand = torch.nonzero((y == c) & ok).flatten().numpy()
        if len(cand):
            picked.extend(sorted(rng.choice(cand, size=min(per_class, len(cand)),
                                            replace=False).tolist()))
    return torch.as_tensor(picked, dtype=torch.long)


def game_values(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, masker: Any, *,
                batch_size: int = 1024, max_players: int = 16) -> torch.Tensor:
    """v(x_T) for all 2^n coalitions of each sample: (N, 2^n) float64, reward = log-odds of the
    true label ``ys[k]`` (Conventions page, eq-reward), bit i = player i. The model is put in eval
    mode."""
    model.eval()
    out = [all_values(model, x, masker, target=int(y), batch_size=batch_size,
                      max_players=max_players, progress=False) for x, y in zip(xs, ys)]
    return torch.stack(out) if out else torch.zeros(0, 1 << masker.n_players, dtype=torch.float64)


def _pairs_tensor(pairs, n: int) -> torch.Tensor:
    P = torch.as_tensor(np.asarray(pairs), dtype=torch.long).reshape(-1, 2)
    if ((P < 0) | (P >= n)).any() or (P[:, 0] == P[:, 1]).any():
        raise ValueError("pairs must be distinct players in 0..n−1")
    return P


def exact_profile(values: torch.Tensor, *, pairs=None) -> dict[str, Any]:
    """Exact multi-order strengths from recorded values (N, 2^n)
    (Conventions page, eq-strength, eq-relative-strength).

    Returns a dict of numpy arrays: ``orders`` (m = 0..n−2), ``ratios`` (m/(n−2)), ``strength``
    (N, n−1) = S^(m)(x) = mean over pairs of |I^(m)(i,j|x)| (all pairs i < j, or the given
    ``pairs``), ``J`` (n−1) the relative strength, ``n``."""
    v = torch.as_tensor(values, dtype=torch.float64)
    if v.ndim == 1:
        v = v.unsqueeze(0)
    n = n_players(v.shape[-1])
    inter = mo.exact(v)  # (N, n−1, n, n)
    if pairs is None:
        S = mo.strength(inter)
    else:
        P = _pairs_tensor(pairs, n)
        S = inter[..., P[:, 0], P[:, 1]].abs().mean(-1)
    orders = np.arange(n - 1)
    return {"orders": orders, "ratios": order_ratios(orders, n), "strength": S.numpy(),
            "J": mo.relative_strength(S).numpy(), "n": n}


def _lookup(values_row: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    def evaluate(masks: torch.Tensor) -> torch.Tensor:
        return values_row[masks_to_index(masks)]

    return evaluate


def _sampled(evaluators: Iterable[Callable], n: int, *, grid, pairs, n_pairs: int, radius: int,
             contexts: int, ratios: Sequence[float], orders, seed: int,
             unique: bool = True) -> dict[str, Any]:
    res = []
    for k, ev in enumerate(evaluators):
        res.append(mo.sample(ev, n, pairs=pairs, grid=grid, n_pairs=n_pairs, radius=radius,
                             contexts=contexts, ratios=ratios, orders=orders, seed=seed + k,
                             unique=unique, progress=False))
    if not res:
        raise ValueError("no samples")
    ms = res[0].orders.numpy()
    S = torch.stack([r.strength for r in res])
    return {"orders": ms, "ratios": order_ratios(ms, n), "strength": S.numpy(),
            "J": mo.relative_strength(S).numpy(), "n": n, "contexts": contexts,
            "pairs": torch.stack([r.pairs for r in res]).numpy(),
            "mean": torch.stack([r.mean for r in res]).numpy(),
            "sem": torch.stack([r.sem for r in res]).numpy()}


def sampled_from_values(values: torch.Tensor, *, grid: tuple[int, int] | None = None,
                        pairs=None, n_pairs: int = 200, radius: int = 2, contexts: int = 100,
                        ratios: Sequence[float] = mo.REFERENCE_RATIOS, orders=None,
                        seed: int = 0) -> dict[str, Any]:
    """The reference sampling protocol (:func:`ibn.multiorder.sample`) run on recorded values
    (N, 2^n): the model's outputs are looked up instead of recomputed, so the estimate is what
    sampling would give on the same model and players. Sample k uses seed ``seed + k``.

    Returns ``orders``, ``ratios``, ``strength`` (N, K) = mean over sampled pairs of |mean over
    contexts|, ``J``, ``pairs`` (N, P, 2), ``mean`` and ``sem`` (N, P, K), ``contexts``, ``n``."""
    v = torch.as_tensor(values, dtype=torch.float64)
    if v.ndim == 1:
        v = v.unsqueeze(0)
    n = n_players(v.shape[-1])
    return _sampled((_lookup(row) for row in v), n, grid=grid, pairs=pairs, n_pairs=n_pairs,
                    radius=radius, contexts=contexts, ratios=ratios, orders=orders, seed=seed,
                    unique=False)


def sampled_profile(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, masker: Any, *,
                    grid: tuple[int, int] | None = None, pairs=None, n_pairs: int = 200,
                    radius: int = 2, contexts: int = 100,
                    ratios: Sequence[float] = mo.REFERENCE_RATIOS, orders=None, seed: int = 0,
                    batch_size: int = 1024) -> dict[str, Any]:
    """The reference sampling protocol on a model (Conventions page, eq-reference-orders): for each
    sample, ``n_pairs`` pairs (j among the grid neighbours of i when ``grid`` is given),
    ``contexts`` random contexts per pair and order, |·| after averaging. Reward: log-odds of the
    true label. Output as :func:`sampled_from_values`."""
    from ..games import evaluate

    model.eval()
    n = masker.n_players

    def evaluators():
        for x, y in zip(xs, ys):
            yield (lambda m, x=x, y=int(y): evaluate(model, x, masker, m, target=y,
                                                     batch_size=batch_size, progress=False))

    return _sampled(evaluators(), n, grid=grid, pairs=pairs, n_pairs=n_pairs, radius=radius,
                    contexts=contexts, ratios=ratios, orders=orders, seed=seed)


# ---------------------------------------------------------------------------------------------
# Contextual variability: per-context gradients of Δv(i, j, S)
# ---------------------------------------------------------------------------------------------


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
    from ..transforms import all_masks

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


# ---------------------------------------------------------------------------------------------
# Training order-steered models
# ---------------------------------------------------------------------------------------------


def steering_loss(kind: str | tuple[str, float, float] | None, lam: float, masker: Any):
    """The order-steering λ-term (Conventions page, eq-steering-delta-u) for ``kind`` =
    "normal"/None (no term, returns None), a preset name ("low", "mid", "high") or an explicit
    (mode, r1, r2); players = ``masker``."""
    from ..train import OrderSteeringLoss

    if kind is None or kind == "normal" or lam == 0:
        return None
    if isinstance(kind, str):
        return OrderSteeringLoss.preset(kind, lam=lam, masker_or_baseline=masker)
    mode, r1, r2 = kind
    return OrderSteeringLoss(r1, r2, mode, lam, masker_or_baseline=masker)


def train_snapshots(model: nn.Module, train_set, *, snapshot_epochs: Iterable[int] = (),
                    **train_kw) -> tuple[Any, dict[int, dict[str, torch.Tensor]]]:
    """:func:`ibn.train.train` keeping copies of the weights after the epochs in
    ``snapshot_epochs`` (0 = before training). Returns (History, {epoch: state_dict})."""
    from ..train import train

    keep = set(int(e) for e in snapshot_epochs)
    snaps: dict[int, dict[str, torch.Tensor]] = {}

    def state():
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    if 0 in keep:
        snaps[0] = state()
    user_cb = train_kw.pop("callback", None)

    def cb(epoch, hist):
        if epoch in keep:
            snaps[epoch] = state()
        if user_cb is not None:
            user_cb(epoch, hist)

    train_kw.setdefault("progress", False)
    hist = train(model, train_set, callback=cb, **train_kw)
    return hist, snaps


# ---------------------------------------------------------------------------------------------
# Accuracy under attacks and corruptions
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Top-1 accuracy (eval mode)."""
    return float((_predict(model, x, batch_size) == torch.as_tensor(y)).float().mean())


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    return g


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """FGSM (L∞): x + ε·sign(∇_x CE(f(x), y)) (eval mode)."""
    was = model.training
    model.eval()
    try:
        return (x + eps * _input_grad(model, x, y).sign()).detach()
    finally:
        model.train(was)


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, steps: int = 20,
        alpha: float | None = None, random_start: bool = True, seed: int = 0) -> torch.Tensor:
    """L∞ PGD on the cross-entropy (Madry et al.): ``steps`` signed-gradient steps of size
    ``alpha`` (default 2.5·ε/steps), projected onto the ε-ball around x, from a uniform random
    start (seeded). No clipping to a data range (inputs are standardised)."""
    was = model.training
    model.eval()
    alpha = 2.5 * eps / steps if alpha is None else alpha
    try:
        g = torch.Generator().manual_seed(seed)
        delta = ((torch.rand(x.shape, generator=g) * 2 - 1) * eps).to(x) if random_start else \
            torch.zeros_like(x)
        for _ in range(steps):
            grad = _input_grad(model, x + delta, y)
            delta = (delta + alpha * grad.sign()).clamp(-eps, eps)
        return (x + delta).detach()
    finally:
        model.train(was)


def gaussian_noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """x + N(0, σ²) (seeded)."""
    g = torch.Generator().manual_seed(seed)
    return x + sigma * torch.randn(x.shape, generator=g).to(x)


def random_mask(x: torch.Tensor, fraction: float, masker: Any, seed: int = 0) -> torch.Tensor:
    """Each sample with round(fraction·n) random players of ``masker`` set to its baseline."""
    g = torch.Generator().manual_seed(seed)
    n = masker.n_players
    k = int(round(fraction * n))
    rank = torch.argsort(torch.argsort(torch.rand(len(x), n, generator=g), 1), 1)
    keep = rank >= k
    out = []
    for s in range(len(x)):
        out.append(masked_inputs(masker, x[s], keep[s:s + 1])[0])
    return torch.stack(out)


def robustness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, masker: Any, *,
               eps: Sequence[float] = (), pgd_eps: Sequence[float] = (), pgd_steps: int = 20,
               sigma: Sequence[float] = (), mask_fraction: Sequence[float] = (),
               seed: int = 0) -> dict[str, Any]:
    """Accuracy on clean inputs and under FGSM (``eps``), PGD (``pgd_eps``), Gaussian input
    noise (``sigma``) and random masking of players (``mask_fraction``). Returns a flat dict:
    ``clean``, ``fgsm@ε``, ``pgd@ε``, ``noise@σ``, ``mask@f``."""
    out: dict[str, Any] = {"clean": accuracy(model, x, y)}
    for e in eps:
        out[f"fgsm@{e:g}"] = accuracy(model, fgsm(model, x, y, e), y)
    for e in pgd_eps:
        out[f"pgd@{e:g}"] = accuracy(model, pgd(model, x, y, e, steps=pgd_steps, seed=seed), y)
    for s in sigma:
        out[f"noise@{s:g}"] = accuracy(model, gaussian_noise(x, s, seed), y)
    for f in mask_fraction:
        out[f"mask@{f:g}"] = accuracy(model, random_mask(x, f, masker, seed), y)
    return out


# ---------------------------------------------------------------------------------------------
# Data helpers
# ---------------------------------------------------------------------------------------------


def select_features(tab: Any, features: Sequence[int]) -> Any:
    """A copy of an :class:`ibn.data.Tabular` split keeping only ``features`` (columns)."""
    import dataclasses

    f = list(features)
    return dataclasses.replace(tab, x_train=tab.x_train[:, f].contiguous(),
                               x_test=tab.x_test[:, f].contiguous(),
                               feature_names=[tab.feature_names[k] for k in f],
                               mean=tab.mean[f], std=tab.std[f])


def train_tabular(dataset: str, model_name: str, *, features: Sequence[int], epochs: int,
                  snapshots: Iterable[int], seed: int) -> tuple[Any, nn.Module, Any, dict]:
    """The tabular setting of paper A's discovery and cause experiments: ``features`` (columns)
    of scikit-learn's ``dataset`` (seeded split), ``model_name`` (e.g. MLP-5) built with
    ``seed`` and trained on the CPU with Adam (learning rate 1e-3, batch 32), its weights kept
    after the epochs in ``snapshots`` (:func:`train_snapshots`; 0 = initialisation).

    Returns (Tabular split, trained model, History, {epoch: state_dict}).
    """
    from ..data import load_tabular
    from ..models import build

    tab = select_features(load_tabular(dataset, seed=seed), features)
    model = build(model_name, in_features=len(list(features)), num_classes=tab.n_classes,
                  seed=seed)
    hist, snaps = train_snapshots(
        model, (tab.x_train, tab.y_train), test_set=(tab.x_test, tab.y_test), epochs=epochs,
        batch_size=32, optimizer="adam", lr=1e-3, seed=seed, snapshot_epochs=snapshots,
        device="cpu")
    return tab, model, hist, snaps


def image_data(name: str, *, size: int = 28, n_train: int | None = None,
               n_test: int | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """(Fashion-)MNIST as float images (N, 1, size, size), standardised with the mean and std
    of the (sub-sampled) training images; ``n_train`` / ``n_test`` draw seeded subsets.
    Returns ``x_train``, ``y_train``, ``x_test``, ``y_test``, ``mean``, ``std``."""
    from ..data import load_fashion_mnist, load_mnist, to_float_images

    loader = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}.get(name)
    if loader is None:
        raise ValueError(f"name must be 'mnist' or 'fashion-mnist', got {name!r}")
    rng = np.random.default_rng(seed)
    out = {}
    for split, k in (("train", n_train), ("test", n_test)):
        x, y = loader(split)
        if k is not None and k < len(y):
            idx = torch.as_tensor(np.sort(rng.choice(len(y), size=k, replace=False)))
            x, y = x[idx], y[idx]
        out[f"x_{split}"], out[f"y_{split}"] = to_float_images(x, size), y
    mean, std = float(out["x_train"].mean()), float(out["x_train"].std())
    for split in ("train", "test"):
        out[f"x_{split}"] = (out[f"x_{split}"] - mean) / std
    out["mean"], out["std"] = torch.tensor(mean), torch.tensor(std)
    return out


# ---------------------------------------------------------------------------------------------
# Trained image CNNs, cached on disk
# ---------------------------------------------------------------------------------------------


def _image_model_dir(spec: Mapping[str, Any], models_dir: Any = None) -> Any:
    from pathlib import Path

    from ..data.fetch import data_root
    from ..results import params_hash

    root = Path(models_dir) if models_dir is not None else data_root() / "models" / "A1"
    return root / f"{spec['model']}-{spec['dataset']}-{params_hash(dict(spec))}"


def train_image_model(model: str, dataset: str, *, size: int = 28, n_train: int | None = None,
                      n_test: int | None = None, epochs: int = 1, checkpoint_epochs:
                      Sequence[int] = (), checkpoint_steps: Sequence[int] = (),
                      lr: float = 1e-3, lr_schedule: str = "constant", batch_size: int = 128,
                      seed: int = 0, models_dir: Any = None,
                      device: str = "cpu") -> dict[str, Any]:
    """Train ``model`` (a name of :func:`ibn.models.build`, 1 input channel, 10 classes) on
    :func:`image_data` (``dataset``, ``size`` px, seeded subsets of ``n_train`` / ``n_test``
    images) with Adam (``lr``, batch ``batch_size``, per-epoch ``lr_schedule`` of
    :func:`ibn.train.train`: "constant", "cosine" or "logspace" = lr → lr/10 over the epochs),
    or load the cached run.

    The run lives in ``<models_dir>/<model>-<dataset>-<hash of the settings>/`` (default
    ``data/models/A1``): ``epoch_XXXX.pt`` for each epoch of ``checkpoint_epochs`` (0 = the
    initial weights) and the final epoch, ``step_XXXXXXX.pt`` for each global step of
    ``checkpoint_steps``, ``state.pt`` (resumable, :func:`ibn.train.train`)
    and ``info.json``. Returns ``{"model"`` (final weights, eval mode), ``"data"``
    (:func:`image_data`), ``"spec"``, ``"records"`` (per-epoch train/test loss and accuracy),
    ``"train_time_s"`` (of the run that trained it), ``"dir"``, ``"epochs"`` (kept epochs),
    ``"steps"`` (kept steps), ``"steps_per_epoch"``}``."""
    import json
    import os
    import time

    from ..models import build
    from ..train import train

    spec = {"model": model, "dataset": dataset, "size": int(size), "n_train": n_train,
            "n_test": n_test, "epochs": int(epochs), "lr": float(lr),
            "batch_size": int(batch_size), "seed": int(seed), "optimizer": "adam",
            "checkpoint_steps": sorted(int(k) for k in checkpoint_steps)}
    if lr_schedule != "constant":  # keeps the hash of earlier constant-rate runs
        spec["lr_schedule"] = lr_schedule
    keep = sorted(set(int(e) for e in checkpoint_epochs) | {int(epochs)})
    if any(not 0 <= e <= epochs for e in keep):
        raise ValueError(f"checkpoint epochs must lie in 0..{epochs}, got {list(checkpoint_epochs)}")
    folder = _image_model_dir(spec, models_dir)
    data = image_data(dataset, size=size, n_train=n_train, n_test=n_test, seed=seed)
    net = build(model, in_channels=1, num_classes=10, seed=seed)
    info_file = folder / "info.json"
    missing = [e for e in keep if not (folder / f"epoch_{e:04d}.pt").is_file()] + [
        k for k in spec["checkpoint_steps"] if not (folder / f"step_{k:07d}.pt").is_file()]
    if info_file.is_file() and not missing:
        info = json.loads(info_file.read_text())
    else:
        t0 = time.time()
        hist = train(net, (data["x_train"], data["y_train"]),
                     test_set=(data["x_test"], data["y_test"]), epochs=epochs,
                     batch_size=batch_size, optimizer="adam", lr=lr, lr_schedule=lr_schedule,
                     seed=seed, device=device,
                     checkpoint_dir=folder, checkpoint_at=keep,
                     checkpoint_steps=spec["checkpoint_steps"], progress=False)
        info = {"spec": spec, "records": hist.records, "train_time_s": time.time() - t0,
                "torch_threads": torch.get_num_threads(), "kept_epochs": keep}
        tmp = info_file.with_name("info.json.tmp")
        tmp.write_text(json.dumps(info, indent=1))
        os.replace(tmp, info_file)
    net.load_state_dict(torch.load(folder / f"epoch_{epochs:04d}.pt", map_location="cpu",
                                   weights_only=True)["model"])
    net.to("cpu").eval()
    return {"model": net, "data": data, "spec": spec, "records": info["records"],
            "train_time_s": info["train_time_s"], "dir": folder, "epochs": keep,
            "steps": spec["checkpoint_steps"],
            "steps_per_epoch": math.ceil(len(data["y_train"]) / batch_size)}


def load_snapshot(run: Mapping[str, Any], epoch: int | None = None, *,
                  step: int | None = None) -> nn.Module:
    """The model of a :func:`train_image_model` run after ``epoch`` (one of ``run["epochs"]``)
    or after global ``step`` (one of ``run["steps"]``), in eval mode on the CPU."""
    from ..models import build

    if (epoch is None) == (step is None):
        raise ValueError("give exactly one of epoch and step")
    if epoch is not None and epoch not in run["epochs"]:
        raise ValueError(f"epoch {epoch} was not kept; kept: {run['epochs']}")
    if step is not None and step not in run["steps"]:
        raise ValueError(f"step {step} was not kept; kept: {run['steps']}")
    name = f"epoch_{epoch:04d}.pt" if epoch is not None else f"step_{step:07d}.pt"
    net = build(run["spec"]["model"], in_channels=1, num_classes=10, seed=run["spec"]["seed"])
    net.load_state_dict(torch.load(run["dir"] / name, map_location="cpu",
                                   weights_only=True)["model"])
    return net.eval()


# ---------------------------------------------------------------------------------------------
# A1 order profiles of trained image CNNs and text classifiers (cached by the notebook)
# ---------------------------------------------------------------------------------------------


def _agreement_arrays(values: torch.Tensor, *, grid, n_pairs: int, contexts: int,
                      seed: int) -> dict[str, np.ndarray]:
    """The sampled protocol on recorded values (:func:`sampled_from_values`) beside the exact
    I^(m)(i, j) of the same sampled pairs and orders: ``agree_exact`` (N, P, K) and
    ``agree_orders``, ``agree_strength``, ``agree_mean``, ``agree_sem``, ``agree_pairs``."""
    samp = sampled_from_values(values, grid=grid, n_pairs=n_pairs, contexts=contexts, seed=seed)
    inter = mo.exact(values).numpy()
    k = np.arange(values.shape[0])[:, None, None]
    pr = samp["pairs"]
    out = {"agree_exact": inter[k, samp["orders"][None, None, :], pr[..., 0:1], pr[..., 1:2]]}
    for key in ("orders", "strength", "mean", "sem", "pairs"):
        out[f"agree_{key}"] = samp[key]
    return out


def cnn_profiles(p: Mapping[str, Any], *, models_dir: Any = None) -> dict[str, Any]:
    """Exact and sampled J^(m) of one CNN on (Fashion-)MNIST over its training (A1).

    ``p``: ``model``, ``dataset``, ``size``, ``n_train``, ``n_test``, ``epochs``, ``snapshots``
    (kept epochs), ``snapshot_steps`` (kept global steps), ``lr``, ``lr_schedule`` (optional,
    default "constant"), ``batch_size``, ``seed`` (training, :func:`train_image_model`);
    ``exact_grid`` (gh, gw) with gh·gw ≤ 16 and ``n_exact`` images (exact values at every kept
    epoch, :func:`exact_profile`); ``agree_pairs`` / ``agree_contexts`` (the sampled protocol
    on the final exact values, :func:`sampled_from_values`); ``grid`` (g: g×g patches),
    ``n_sampled`` images, ``pairs``, ``contexts`` (the reference protocol on the final model,
    :func:`sampled_profile`). Images: correctly classified test images, one per class
    (:func:`pick_samples`), the first ``n_exact`` / ``n_sampled`` classes. Baseline 0 = the
    mean pixel after standardisation. ``models_dir``: where the trained weights live (default
    ``data/models/A1``)."""
    import time

    timing: dict[str, float] = {}
    run = train_image_model(p["model"], p["dataset"], size=p["size"], n_train=p["n_train"],
                            n_test=p["n_test"], epochs=p["epochs"],
                            checkpoint_epochs=p["snapshots"],
                            checkpoint_steps=p["snapshot_steps"], lr=p["lr"],
                            lr_schedule=p.get("lr_schedule", "constant"),
                            batch_size=p["batch_size"], seed=p["seed"],
                            models_dir=models_dir)
    timing["train_s"] = run["train_time_s"]
    model, data = run["model"], run["data"]
    idx = pick_samples(model, data["x_test"], data["y_test"], per_class=1, seed=p["seed"])
    xs, ys = data["x_test"][idx], data["y_test"][idx]
    gh, gw = p["exact_grid"]
    masker = PatchMasker(grid=(gh, gw), baseline=0.0, batch_size=1024)
    ne = p["n_exact"]
    out: dict[str, Any] = {
        "epochs": np.array(sorted(set(p["snapshots"]) | {p["epochs"]})),
        "sample_index": idx.numpy(), "labels": ys.numpy(),
        "train_loss": np.array([r["train_loss"] for r in run["records"]]),
        "train_acc": np.array([r["train_acc"] for r in run["records"]]),
        "test_acc": np.array([r["test_acc"] for r in run["records"]])}
    t = time.perf_counter()
    # kept weights in training order: (epoch as a real number, loader)
    snaps = [(k / run["steps_per_epoch"], {"step": k}) for k in run["steps"]]
    snaps += [(float(e), {"epoch": int(e)}) for e in out["epochs"]]
    snaps.sort(key=lambda s: s[0])
    strengths = []
    for _, which in snaps:
        values = game_values(load_snapshot(run, **which), xs[:ne], ys[:ne], masker)
        strengths.append(exact_profile(values)["strength"])
    out["snapshot_epoch"] = np.array([e for e, _ in snaps])  # real-valued epoch of each row
    out["strength"] = np.stack(strengths)  # (snapshots, images, n−1)
    timing["exact_s"] = time.perf_counter() - t
    out.update(_agreement_arrays(values, grid=(gh, gw), n_pairs=p["agree_pairs"],
                                 contexts=p["agree_contexts"], seed=p["seed"]))
    t = time.perf_counter()
    g, ns = p["grid"], p["n_sampled"]
    fine = PatchMasker(grid=(g, g), baseline=0.0, batch_size=1024)
    big = sampled_profile(model, xs[:ns], ys[:ns], fine, grid=(g, g), n_pairs=p["pairs"],
                          contexts=p["contexts"], seed=p["seed"])
    timing["sampled_s"] = time.perf_counter() - t
    for key in ("orders", "ratios", "strength", "sem", "mean"):
        out[f"fine_{key}"] = big[key]
    out["timing"] = timing
    return out


def text_profiles(p: Mapping[str, Any], *, models_dir: Any = None) -> dict[str, Any]:
    """Exact J^(m) of a text classifier on Rotten Tomatoes test sentences (A1).

    ``p``: ``model`` ("minilm" | "bert_medium"), ``n_train``, ``epochs``, ``lr`` (None = the
    default), ``seed`` (:func:`ibn.experiments.text_models.train_text_classifier` on the train
    split); ``n_test`` (accuracy on the first ``n_test`` test sentences); ``n_players`` meaningful words per sentence, ``n_sentences``, ``max_tokens``: the
    sentences are the first test sentences with at least ``n_players`` meaningful words and at
    most ``max_tokens`` tokens — the same for every model, whether the model classifies them
    correctly or not (``correct`` records it); ``agree_pairs`` / ``agree_contexts`` as in
    :func:`cnn_profiles`. Reward: log-odds of the true label. ``models_dir``: where the weights
    live (default ``data/models/text``)."""
    import time

    from . import text_models as tm

    t = time.perf_counter()
    net = tm.train_text_classifier(p["model"], "train", n_train=p["n_train"],
                                   epochs=p["epochs"], seed=p["seed"], lr=p["lr"],
                                   models_dir=models_dir)
    info = net.training_info
    acc = tm.text_accuracy(net, "test", p["n_test"])
    texts, labels = tm.load_sentences("test")
    chosen: list[int] = []
    for k, text in enumerate(texts):
        try:
            masker = tm.token_masker(net, text, p["n_players"], p["seed"])
        except ValueError:
            continue
        if masker.n_players == p["n_players"] and len(masker.input_ids) <= p["max_tokens"]:
            chosen.append(k)
        if len(chosen) == p["n_sentences"]:
            break
    t_train = time.perf_counter() - t
    t = time.perf_counter()
    values = torch.stack([tm.text_values(net, texts[k], labels[k], p["n_players"], p["seed"])
                          for k in chosen])
    n = p["n_players"]
    full = values[:, (1 << n) - 1]
    out: dict[str, Any] = {
        "sentence_index": np.array(chosen), "labels": np.array([labels[k] for k in chosen]),
        "words": [[pl["word"] for pl in tm.token_masker(net, texts[k], n, p["seed"]).players]
                  for k in chosen],
        "correct": (full > 0).numpy(), "test_acc": acc, "train_acc": info["train_acc"],
        "train_time_s": info["train_time_s"], "strength": exact_profile(values)["strength"]}
    out.update(_agreement_arrays(values, grid=None, n_pairs=p["agree_pairs"],
                                 contexts=p["agree_contexts"], seed=p["seed"]))
    out["timing"] = {"load_and_test_s": t_train, "exact_s": time.perf_counter() - t}
    return out

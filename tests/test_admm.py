"""The batched ADMM estimate (ibn.and_or.admm) and the method choice of the fast solver built on it.

Oracles: the butterflies of ibn.transforms for the Kronecker products, the normal equations for
the eigenbasis solve, the exact LP for the estimate's objective, and the LP again for the result
of every method the fast solver can choose.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ibn import transforms as tf
from ibn.and_or import extract
from ibn.and_or.admm import _Z1, _kron_diagonal, admm_estimate
from ibn.and_or import _highs
from ibn.and_or.fast import (Hint, choose_method, ipm_fraction, solve_fast,
                             support_hints)
from ibn.and_or.lp import solve_lp
from ibn.and_or.synthetic import mlp_game, planted_game

Z1 = torch.tensor(_Z1, dtype=torch.float64)


@pytest.mark.parametrize("n", [1, 2, 5, 6, 7, 11])
def test_kron_apply_equals_the_butterflies(n):
    x = torch.randn(3, 1 << n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    torch.testing.assert_close(tf.kron_apply(x, Z1), tf.zeta(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(tf.kron_apply(x, Z1.T), tf.zeta_transpose(x), rtol=1e-12,
                               atol=1e-12)


def test_stacked_kron_apply_applies_each_factor_to_its_slice():
    n = 7
    x = torch.randn(2, 3, 1 << n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    blocks = tf.kron_blocks(torch.stack([Z1, Z1.T]), n)
    out = tf.kron_apply(x, blocks=blocks)
    torch.testing.assert_close(out[0], tf.zeta(x[0]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out[1], tf.zeta_transpose(x[1]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [3, 8])
def test_eigenbasis_solve_inverts_identity_plus_gram(n):
    """Q^{⊗n} diag(1/(1+λ)) Q^{⊗n}ᵀ b solves (I + ZᵀZ) x = b."""
    lam1, q1 = torch.linalg.eigh(Z1.T @ Z1)
    b = torch.randn(2, 1 << n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = tf.kron_apply(tf.kron_apply(b, q1.T) / (1 + _kron_diagonal(lam1, n)), q1)
    torch.testing.assert_close(x + tf.zeta_transpose(tf.zeta(x)), b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["planted", "mlp"])
def test_estimate_objective_approaches_the_lp_optimum(kind):
    n = 8
    v = planted_game(n, batch=3, seed=1).values if kind == "planted" else mlp_game(n, batch=3,
                                                                                 seed=1)
    r = v - v[:, :1]
    zeta = 0.02 * (v[:, -1] - v[:, 0]).abs()
    est = admm_estimate(r, zeta, iterations=1000)
    for b in range(3):
        lp = solve_lp(r[b].numpy(), float(zeta[b]), n)["objective"]
        assert est.objective[b].item() == pytest.approx(lp, rel=2e-3)
        assert est.max_violation[b].item() < 1e-2 * r[b].abs().max().item()  # nearly feasible


def test_support_hint_separates_sparse_from_dense_games():
    """Planted games have a few dozen effects at the optimum, random-MLP games hundreds."""
    n = 10
    m1 = (1 << n) - 1
    planted = planted_game(n, batch=2, seed=0).values
    dense = mlp_game(n, batch=2, seed=0)
    for v, dense_expected in ((planted, False), (dense, True)):
        hints = support_hints((v - v[:, :1]).numpy(),
                              (0.02 * (v[:, -1] - v[:, 0]).abs()).numpy(), n)
        for h in hints:
            assert (h.support > 0.3 * m1 if dense_expected else h.support < 0.1 * m1), h.support


def test_seed_rows_are_active_at_the_lp_optimum():
    """The rows with the largest estimated dual weight are far more often rows with |δ_T| = ζ at
    the LP optimum (the rows its dual lives on) than rows taken at random (planted games: 36–63 %
    of the seeds vs 3–6 % of all rows; MLP games: 87–99 % vs 23–40 %)."""
    n = 10
    for v in (planted_game(n, batch=2, seed=3).values, mlp_game(n, batch=2, seed=3)):
        r = (v - v[:, :1]).numpy()
        z = (0.02 * (v[:, -1] - v[:, 0]).abs()).numpy()
        for b, h in enumerate(support_hints(r, z, n)):
            assert 0 < h.rows.size <= h.support and np.unique(h.rows).size == h.rows.size
            assert h.rows.min() >= 1 and h.rows.max() < 1 << n
            assert h.delta_signs.shape == h.rows.shape and set(h.delta_signs) <= {-1.0, 1.0}
            delta = solve_lp(r[b], float(z[b]), n)["delta"]
            active = np.abs(np.abs(delta) - z[b]) <= 1e-9 * z[b]
            active[0] = False
            assert active[h.rows].mean() > min(0.3 + active.mean(), 2 * active.mean() + 0.2)


def test_choose_method_threshold():
    m1 = (1 << 10) - 1
    assert choose_method(None, 10) == "simplex"
    assert choose_method(int(ipm_fraction(10) * m1) + 1, 10) == "ipm"
    assert choose_method(int(ipm_fraction(10) * m1) - 1, 10) == "simplex"
    assert choose_method(int(0.5 * ((1 << 12) - 1)), 12) == "ipm"  # earlier crossover at n = 12
    assert choose_method(10, 10, fraction=0.001) == "ipm"
    assert ipm_fraction(8) == ipm_fraction(10) and ipm_fraction(14) == ipm_fraction(12)
    assert choose_method(int(0.7 * m1), 10) == "ipm"
    assert support_hints(np.zeros((2, 64)), np.zeros(2), 6) == [None, None]


@pytest.mark.parametrize("hint,method", [(0, "rowgen"), (10**6, "ipm")])
def test_every_method_reaches_the_lp_optimum(hint, method):
    n = 8
    v = mlp_game(n, batch=1, seed=4)[0].numpy()
    r = v - v[0]
    zeta = 0.02 * abs(v[-1] - v[0])
    out = solve_fast(r, zeta, n, hint=Hint(hint, np.arange(1, 1 << n, 7)))
    assert out["method"] == method and out["support_hint"] == hint
    lp = solve_lp(r, zeta, n)
    assert out["objective"] == pytest.approx(lp["objective"], rel=1e-8)
    assert out["lower_bound"] == pytest.approx(lp["objective"], rel=1e-7)


def test_extract_auto_records_the_hint_and_matches_simplex():
    v = mlp_game(10, batch=2, seed=2)
    auto = extract(v, n_jobs=1)
    simplex = extract(v, n_jobs=1, dense_method="simplex")
    torch.testing.assert_close(auto.objective, simplex.objective, rtol=1e-8, atol=0)
    assert all(isinstance(i["support_hint"], int) for i in auto.info)
    assert all(i["support_hint"] is None for i in simplex.info)


def test_hints_in_chunks_equal_one_batch(monkeypatch):
    import ibn.and_or.fast as fast

    v = mlp_game(10, batch=3, seed=3)
    r = (v - v[:, :1]).numpy()
    z = (0.02 * (v[:, -1] - v[:, 0]).abs()).numpy()
    whole = support_hints(r, z, 10)
    monkeypatch.setattr(fast, "HINT_CHUNK_ENTRIES", 1 << 10)  # one sample per chunk
    for h1, h2 in zip(support_hints(r, z, 10), whole, strict=True):
        assert h1.support == h2.support
        assert len(np.intersect1d(h1.rows, h2.rows)) >= 0.95 * len(h2.rows)  # float32 ties


def test_float32_iterations_give_the_same_estimate():
    v = mlp_game(8, batch=3, seed=5)
    r = v - v[:, :1]
    zeta = 0.02 * (v[:, -1] - v[:, 0]).abs()
    e64 = admm_estimate(r, zeta, iterations=300)
    e32 = admm_estimate(r, zeta, iterations=300, dtype=torch.float32)
    assert e32.and_eff.dtype == torch.float64 and e32.dual.dtype == torch.float64
    assert (e64.support - e32.support).abs().max() <= 2
    torch.testing.assert_close(e32.dual, e64.dual, rtol=0, atol=1e-3 * e64.dual.abs().max().item())
    torch.testing.assert_close(e32.objective, e64.objective, rtol=1e-3, atol=0)


@pytest.mark.parametrize("kind", ["planted", "mlp"])
@pytest.mark.parametrize("columns", ["none", "few", "wrong"])
@pytest.mark.parametrize("dense_fraction", [0.45, 0.05, 2.0])
def test_row_and_column_generation_reaches_the_lp_optimum(kind, columns, dense_fraction):
    """Whatever columns a hint proposes (none, a few, or the wrong ones), pricing the others
    with Φᵀy brings in what the optimum needs; the same when the working set turns dense."""
    n = 8
    m = 1 << n
    v = (planted_game(n, batch=1, seed=6).values if kind == "planted"
         else mlp_game(n, batch=1, seed=6))[0].numpy()
    r = v - v[0]
    zeta = 0.02 * abs(v[-1] - v[0])
    lp = solve_lp(r, zeta, n)
    empty = np.zeros(0, dtype=np.int64)
    support = np.flatnonzero(np.abs(lp["and_eff"][1:]) > 1e-9) + 1
    cols = {"none": (empty, empty), "few": (support[:3], empty),
            "wrong": (np.setdiff1d(np.arange(1, m), support)[:40], np.arange(3, m, 5))}[columns]
    hint = Hint(len(support), np.arange(1, m, 11), *cols)
    out = solve_fast(r, zeta, n, hint=hint, dense_method="simplex", dense_fraction=dense_fraction)
    assert out["method"] == "rowgen"
    assert out["objective"] == pytest.approx(lp["objective"], rel=1e-9)
    assert out["lower_bound"] == pytest.approx(lp["objective"], rel=1e-8)
    delta = out["delta"]
    assert np.abs(delta).max() <= zeta * (1 + 1e-12)


def _planted10(seed=0):
    v = planted_game(10, batch=1, seed=seed).values
    r = (v - v[:, :1]).numpy()
    z = (0.02 * (v[:, -1] - v[:, 0]).abs()).numpy()
    return r, z


def test_column_generation_ends_with_few_columns_at_the_lp_optimum():
    """On a sparse n = 10 game the seeded working sets stay small (no dense switch), so the
    optimum is reached with most columns never in the LP: only the pricing brought in what the
    optimum needs."""
    r, z = _planted10()
    hint = support_hints(r, z, 10)[0]
    out = solve_fast(r[0], float(z[0]), 10, hint=hint)
    lp = solve_lp(r[0], float(z[0]), 10)
    assert out["method"] == "rowgen"
    assert out["rows"] < 0.45 * 1023 and out["columns"] < 0.5 * (2 * 1023 - 10)
    assert out["objective"] == pytest.approx(lp["objective"], rel=1e-9)
    assert out["lower_bound"] == pytest.approx(lp["objective"], rel=1e-8)


def test_certificate_catches_a_pricing_that_misses_columns(monkeypatch):
    """If the pricing saw no violated column (simulated: Φᵀy = 0), the final dual check still
    finds |Φᵀy| > 1 and the solver re-solves with every column: the result stays optimal."""
    import ibn.and_or.fast as fast

    r, z = _planted10(1)
    hint = support_hints(r, z, 10)[0]
    lp = solve_lp(r[0], float(z[0]), 10)
    monkeypatch.setattr(fast, "phi_t", lambda y: (np.zeros_like(y), np.zeros_like(y)))
    few = Hint(hint.support, hint.rows, hint.and_cols[:5], hint.or_cols[:5])
    out = solve_fast(r[0], float(z[0]), 10, hint=few, dense_fraction=2.0)  # no dense switch
    assert out["columns"] == 2 * 1023 - 10
    assert out["objective"] == pytest.approx(lp["objective"], rel=1e-9)
    assert out["lower_bound"] == pytest.approx(lp["objective"], rel=1e-8)


def test_hint_rows_may_hold_the_empty_coalition_and_repeats():
    n = 6
    v = mlp_game(n, batch=1, seed=8)[0].numpy()
    v = v + 5.0  # v_∅ ≠ 0: a row for ∅ would make the restricted LP infeasible
    r = v - v[0]
    r[0] = 5.0  # entry 0 is documented as ignored
    zeta = 0.02 * abs(v[-1] - v[0])
    hint = Hint(3, np.array([0, 3, 3, 5, 5]), np.array([0, 3, 3]), np.array([0, 1, 6, 6]))
    out = solve_fast(r, zeta, n, hint=hint, dense_method="simplex")
    lp = solve_lp(r, zeta, n)
    assert out["method"] == "rowgen"
    assert out["objective"] == pytest.approx(lp["objective"], rel=1e-9)


def _oracle_hint(n: int, seed: int):
    """A game and the hint an oracle would give: the LP optimum's effects with their values, its
    active rows (|δ_T| = ζ) and their δ signs."""
    v = mlp_game(n, batch=1, seed=seed)[0].numpy()
    r = v - v[0]
    zeta = 0.02 * abs(v[-1] - v[0])
    lp = solve_lp(r, zeta, n)
    a, o, d = lp["and_eff"].copy(), lp["or_eff"].copy(), lp["delta"]
    a[0] = o[0] = 0.0
    big = 1e-9 * max(np.abs(a).max(), np.abs(o).max())
    ca, co = np.flatnonzero(np.abs(a) > big), np.flatnonzero(np.abs(o) > big)
    rows = np.flatnonzero(np.abs(np.abs(d) - zeta) <= 1e-9 * zeta)
    rows = rows[rows > 0]
    assert rows.size == ca.size + co.size  # a nondegenerate vertex: as many active rows as effects
    return r, zeta, lp, Hint(rows.size, rows, ca, co, a[ca], o[co], np.sign(d[rows]))


def test_start_basis_from_the_optimum_needs_no_pivot():
    """Started from the basis of the LP's own optimum (effects basic with their signs, active
    rows at the bound their δ gives), the simplex has nothing to do: the first solve takes 0
    iterations and pricing and row checks accept it. With the δ signs flipped the same start is
    wrong and needs pivots, and still ends at the optimum."""
    n = 8
    r, zeta, lp, hint = _oracle_hint(n, seed=5)
    out = solve_fast(r, zeta, n, hint=hint, dense_method="simplex")
    assert out["iterations"] == 0 and out["rounds"] == 1
    assert out["objective"] == pytest.approx(lp["objective"], rel=1e-9)
    flipped = Hint(hint.support, hint.rows, hint.and_cols, hint.or_cols, hint.and_vals,
                   hint.or_vals, -hint.delta_signs)
    out = solve_fast(r, zeta, n, hint=flipped, dense_method="simplex")
    assert out["iterations"] > 0
    assert out["objective"] == pytest.approx(lp["objective"], rel=1e-9)
    assert out["lower_bound"] == pytest.approx(lp["objective"], rel=1e-8)


@pytest.mark.parametrize("case", ["shuffled", "singular", "counts", "repeats"])
def test_a_wrong_start_basis_still_reaches_the_optimum(case):
    """Predicted effects on the wrong columns (a singular or inconsistent basis, which HiGHS
    repairs), more effects than rows (the start keeps as many of each), or repeated and
    out-of-range coalitions given as lists (skipped) cost pivots only: HiGHS takes every one of
    these starts."""
    n = 8
    r, zeta, lp, h = _oracle_hint(n, seed=6)
    rng = np.random.default_rng(0)
    if case == "shuffled":
        hint = Hint(h.support, h.rows, h.and_cols, h.or_cols, rng.permutation(h.and_vals),
                    rng.permutation(h.or_vals), rng.permutation(h.delta_signs))
    elif case == "singular":  # the same AND column twice and OR singletons (= AND singletons)
        cols = np.concatenate([h.and_cols[:3], h.and_cols[:3]])
        hint = Hint(h.support, h.rows[:9], cols, np.array([1, 2, 4]), np.ones(6), -np.ones(3),
                    h.delta_signs[:9])
    elif case == "counts":
        hint = Hint(h.support, h.rows[:5], h.and_cols, h.or_cols, h.and_vals, h.or_vals,
                    h.delta_signs[:5])
    else:
        rows = [int(h.rows[0])] * 3 + [0, 1 << n, -1] + h.rows.tolist()
        signs = [1.0] * 6 + h.delta_signs.tolist()
        hint = Hint(h.support, rows, h.and_cols.tolist() + [1 << n], h.or_cols.tolist() + [-3],
                    h.and_vals.tolist() + [1.0], h.or_vals.tolist() + [1.0], signs)
    out = solve_fast(r, zeta, n, hint=hint, dense_method="simplex")
    assert out["start_basis"]
    assert out["objective"] == pytest.approx(lp["objective"], rel=1e-9)
    assert out["lower_bound"] == pytest.approx(lp["objective"], rel=1e-8)


def test_highs_rejects_a_basis_with_the_wrong_count():
    lp = _highs.Highs()
    lp.add_cols([1.0, 1.0], [0.0, 0.0], [np.inf, np.inf], [0, 0], [], [])  # min x0 + x1
    lp.add_rows([1.0], [2.0], [0], [0, 1], [1.0, 1.0])  # s.t. 1 ≤ x0 + x1 ≤ 2
    assert (lp.n_rows, lp.n_cols) == (1, 2)
    with pytest.raises(RuntimeError, match="rejected the basis"):
        lp.set_basis(np.array([1, 1]), np.array([1]))  # three basics for one row
    lp.set_basis(np.array([0, 1]), np.array([0]))  # x1 basic, the row at its lower bound: optimal
    assert lp.run() == "Optimal" and lp.iterations == 0
    assert lp.solution()[0].tolist() == [0.0, 1.0]  # the slack start would not give x1


def test_a_hint_without_values_starts_from_the_slack_basis():
    n = 8
    r, zeta, lp, h = _oracle_hint(n, seed=5)
    for partial in (Hint(h.support, h.rows, h.and_cols, h.or_cols, h.and_vals, h.or_vals),
                    Hint(h.support, h.rows, h.and_cols, h.or_cols, h.and_vals, None,
                         h.delta_signs)):
        out = solve_fast(r, zeta, n, hint=partial, dense_method="simplex")
        assert not out["start_basis"] and out["iterations"] > 0
        assert out["objective"] == pytest.approx(lp["objective"], rel=1e-9)


def test_a_solution_failing_the_final_checks_goes_to_the_whole_lp(monkeypatch):
    """If the certificate of the final working-set solution were off (simulated: a dual bound
    of half the objective), the solver does not return it but solves the whole LP."""
    import ibn.and_or.fast as fast

    n = 8
    r, zeta, lp, h = _oracle_hint(n, seed=5)
    real = fast.dual_bound
    monkeypatch.setattr(fast, "dual_bound", lambda y, rs, zs: (0.5 * real(y, rs, zs)[0],
                                                                real(y, rs, zs)[1]))
    out = solve_fast(r, zeta, n, hint=h, dense_method="simplex")
    assert out["method"] == "sparse-lp" and out["restricted_status"] == "failed check"
    assert out["objective"] == pytest.approx(lp["objective"], rel=1e-9)

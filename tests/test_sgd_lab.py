"""ibn's "sgd" solver against a transcription of the lab's ``_train_p_q`` (tests/_lab_sgd.py:
sjtu-xai-lab/generalizable-interaction @ e954ff2, ``harsanyi/and_or_harsanyi_utils.py``, with its
dense matrices and autograd, bit order converted)."""

from __future__ import annotations

import math

import pytest
import torch

from _lab_sgd import lab_objective, lab_train_p_q  # tests/ is on sys.path under pytest
from ibn import transforms as tf
from ibn.and_or.sgd import DEFAULTS, LAB_PRESETS, resolve_options, sgd_decompose
from ibn.and_or.synthetic import planted_game

# Objective gap |ibn − lab| / lab of the default (δ_∅ pinned) against the unmodified lab code
# (q_∅ free) allowed on the games below: the lab's q_∅ is a degree of freedom this project pins.
PINNED_GAP = 0.01


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _game(n, seed, iid=0.0, batch=1):
    """A planted game (effects in [1, 3], bounded noise), plus i.i.d. Gaussian noise of standard
    deviation ``iid`` on every value; ζ = 0.02·|v_N − v_∅| per sample (the lab's qbound)."""
    v = planted_game(n, batch=batch, seed=seed).values.clone()
    if iid:
        g = torch.Generator().manual_seed(1000 + seed)
        v += iid * torch.randn(v.shape, generator=g, dtype=torch.float64)
    zeta = 0.02 * (v[:, -1] - v[:, 0]).abs()
    return v, zeta


def _objective(a, o):
    return a[..., 1:].abs().sum(-1) + o[..., 1:].abs().sum(-1)


def _max_effect_diff(a, o, lab):
    return max(float((a[1:] - lab["and_effects"][1:]).abs().max()),
               float((o[1:] - lab["or_effects"][1:]).abs().max()))


def _scale(lab):
    return max(float(lab["and_effects"][1:].abs().max()), float(lab["or_effects"][1:].abs().max()))


# ------------------------------------------------------------- exact agreement with the lab
@pytest.mark.parametrize("n,seed,iid,lr,momentum", [
    (6, 0, 0.0, 1e-5, 0.9),
    (7, 1, 0.1, 1e-6, 0.9),
    (8, 2, 0.0, 1e-5, 0.999),
])
def test_pinned_equals_lab_with_q_empty_held_at_zero(n, seed, iid, lr, momentum):
    """Default (δ_∅ = 0): the lab code's iterates with q_∅ held at 0, to round-off; the
    analytic gradient is the lab's autograd."""
    v, zeta = _game(n, seed, iid)
    steps = 400
    a, o, gamma, delta = sgd_decompose(v, zeta, steps=steps, lr=lr, momentum=momentum)
    lab = lab_train_p_q(v[0], float(zeta[0]), lr=lr, niter=steps, momentum=momentum,
                        pin_q_empty=True)
    scale = _scale(lab)
    assert _max_effect_diff(a[0], o[0], lab) <= 1e-10 * scale
    assert torch.allclose(delta[0], -lab["q"], atol=1e-12)
    assert float(delta[0, 0]) == 0.0
    # the bias: the lab's I^AND_∅ + I^OR_∅ = u^AND_∅ + u^OR_∅ = v_∅
    assert float(a[0, 0]) == float(v[0, 0])
    assert abs(float(lab["and_effects"][0] + lab["or_effects"][0] - v[0, 0])) <= 1e-10 * scale
    assert float(o[0, 0]) == 0.0
    # γ is the lab's p shifted by the constant u^OR_∅ (= the lab's I^OR_∅)
    assert torch.allclose(gamma[0], lab["p"] + lab["or_effects"][0], atol=1e-10 * scale)


@pytest.mark.parametrize("n,seed,iid,lr", [(6, 3, 0.0, 1e-5), (8, 4, 0.1, 1e-6)])
def test_free_empty_delta_equals_lab(n, seed, iid, lr):
    """pin_delta_empty=False: the unmodified lab code (q_∅ free within ±qbound)."""
    v, zeta = _game(n, seed, iid)
    steps = 400
    a, o, gamma, delta = sgd_decompose(v, zeta, steps=steps, lr=lr, pin_delta_empty=False)
    lab = lab_train_p_q(v[0], float(zeta[0]), lr=lr, niter=steps)
    scale = _scale(lab)
    assert _max_effect_diff(a[0], o[0], lab) <= 1e-10 * scale
    assert torch.allclose(delta[0], -lab["q"], atol=1e-12)
    assert abs(float(a[0, 0] - lab["and_effects"][0] - lab["or_effects"][0])) <= 1e-10 * scale
    lab_obj = float(lab_objective(lab["and_effects"], lab["or_effects"]))
    assert abs(float(_objective(a[0], o[0])) - lab_obj) <= 1e-10 * lab_obj


# --------------------------------------------- default (δ_∅ pinned) against the lab's own code
@pytest.mark.parametrize("lr", [1e-6, 1e-5])
@pytest.mark.parametrize("n,seed,iid", [(6, 0, 0.0), (7, 1, 0.0), (8, 2, 0.1)])
def test_pinned_objective_close_to_lab(n, seed, iid, lr):
    v, zeta = _game(n, seed, iid)
    steps = 2000
    a, o, _, _ = sgd_decompose(v, zeta, steps=steps, lr=lr)
    lab = lab_train_p_q(v[0], float(zeta[0]), lr=lr, niter=steps)
    lab_obj = float(lab_objective(lab["and_effects"], lab["or_effects"]))
    gap = abs(float(_objective(a[0], o[0])) - lab_obj) / lab_obj
    assert gap <= PINNED_GAP
    assert _max_effect_diff(a[0], o[0], lab) <= 0.1 * _scale(lab)


def test_lab_preset_at_its_own_step_count():
    """The e954ff2 preset (lr 1e-7, momentum 0.9, 20 000 steps, δ_∅ free) on one planted n = 5
    game equals the lab code; with δ_∅ pinned (this project's convention) it is close to it."""
    v, zeta = _game(5, 0)
    preset = LAB_PRESETS["e954ff2"]
    lab = lab_train_p_q(v[0], float(zeta[0]), lr=preset["lr"], niter=preset["steps"],
                        momentum=preset["momentum"])
    lab_obj = float(lab_objective(lab["and_effects"], lab["or_effects"]))
    a, o, _, delta = sgd_decompose(v, zeta, preset="e954ff2")
    assert _max_effect_diff(a[0], o[0], lab) <= 1e-9 * _scale(lab)
    assert abs(float(_objective(a[0], o[0])) - lab_obj) <= 1e-9 * lab_obj
    a, o, _, delta = sgd_decompose(v, zeta, preset="e954ff2", pin_delta_empty=True)
    assert abs(float(_objective(a[0], o[0])) - lab_obj) <= PINNED_GAP * lab_obj
    assert float(delta[0, 0]) == 0.0


# ----------------------------------------------------------------------- universal matching
@pytest.mark.parametrize("pin", [True, False])
def test_universal_matching(pin):
    v, zeta = _game(7, 5, iid=0.1, batch=3)
    a, o, gamma, delta = sgd_decompose(v, zeta, steps=300, lr=1e-5, pin_delta_empty=pin)
    # h(x_T) = I^AND_∅ + Σ_{∅≠S⊆T} I^AND_S + Σ_{S∩T≠∅} I^OR_S = v(x_T) − δ_T for every T
    a_nobias = a.clone()
    a_nobias[:, 0] = 0.0
    h = tf.zeta(a_nobias) + a[:, :1] + tf.or_zeta(o)
    assert float((h - (v - delta)).abs().max()) <= 1e-13 * float(v.abs().max())
    assert bool((o[:, 0] == 0).all())
    assert bool((delta.abs() <= zeta[:, None]).all())
    if pin:
        assert bool((delta[:, 0] == 0).all()) and bool((a[:, 0] == v[:, 0]).all())
    # the returned γ gives the returned effects (u^OR_∅ = 0)
    half = 0.5 * (v - delta)
    assert torch.allclose(tf.mobius(half + gamma), a, atol=1e-12)
    assert torch.allclose(tf.or_mobius(half - gamma), o, atol=1e-12)
    assert float((half - gamma)[:, 0].abs().max()) <= 1e-14 * float(v.abs().max())
    # a batch is independent problems, one per sample
    one = sgd_decompose(v[1:2], zeta[1:2], steps=300, lr=1e-5, pin_delta_empty=pin)
    assert torch.allclose(one[0], a[1:2], atol=1e-12) and torch.allclose(one[1], o[1:2], atol=1e-12)


# -------------------------------------------------------------------------- presets, options
def test_presets():
    assert LAB_PRESETS["e954ff2"] == dict(lr=1e-7, momentum=0.9, steps=20_000, noise_bound=0.02,
                                          noise_scale="sample", pin_delta_empty=False)
    assert LAB_PRESETS["newer"] == dict(lr=1e-6, momentum=0.999, steps=50_000, noise_bound=0.05,
                                        noise_scale="mean", pin_delta_empty=False)
    assert DEFAULTS == {"steps": 20_000, "lr": 1e-6, "momentum": 0.9, "pin_delta_empty": True}
    assert resolve_options() == dict(DEFAULTS, noise_bound=None, noise_scale=None)
    assert resolve_options("e954ff2") == LAB_PRESETS["e954ff2"]
    assert resolve_options("newer", lr=1e-5, steps=10) == dict(LAB_PRESETS["newer"], lr=1e-5,
                                                               steps=10)
    assert resolve_options("newer", pin_delta_empty=True)["pin_delta_empty"] is True
    assert resolve_options(momentum=0.0)["momentum"] == 0.0
    v, zeta = _game(5, 0)
    got = sgd_decompose(v, zeta, preset="e954ff2", steps=30)
    want = sgd_decompose(v, zeta, steps=30, lr=1e-7, momentum=0.9, pin_delta_empty=False)
    assert all(torch.equal(x, y) for x, y in zip(got, want))
    got = sgd_decompose(v, zeta, preset="newer", steps=30, lr=1e-5)
    want = sgd_decompose(v, zeta, steps=30, lr=1e-5, momentum=0.999, pin_delta_empty=False)
    assert all(torch.equal(x, y) for x, y in zip(got, want))


def test_extract_passes_the_lab_settings_through():
    """extract(solver="sgd", preset=...) takes the preset's bound, steps, lr, momentum and free
    δ_∅ (explicit options win) and records them in ``info``."""
    from ibn.and_or import extract

    v, _ = _game(5, 0, batch=2)
    r = extract(v, solver="sgd", preset="newer", steps=20)
    spread = (v[:, -1] - v[:, 0]).abs()
    assert torch.allclose(r.zeta, 0.05 * spread.mean().expand(2))
    assert r.info[0] == dict(steps=20, lr=1e-6, momentum=0.999, pin_delta_empty=False,
                             preset="newer")
    want = sgd_decompose(v, r.zeta, preset="newer", steps=20)
    assert torch.equal(r.and_effects, want[0]) and torch.equal(r.delta, want[3])
    r = extract(v, solver="sgd", steps=20, noise_bound=0.1)
    assert torch.allclose(r.zeta, 0.1 * spread)
    assert r.info[0]["pin_delta_empty"] is True and float(r.delta[:, 0].abs().max()) == 0.0


@pytest.mark.parametrize("kwargs,name", [
    ({"steps": 0}, "steps"), ({"steps": -3}, "steps"), ({"steps": 2.5}, "steps"),
    ({"steps": True}, "steps"), ({"steps": "10"}, "steps"),
    ({"lr": 0.0}, "lr"), ({"lr": -1e-6}, "lr"), ({"lr": math.inf}, "lr"), ({"lr": math.nan}, "lr"),
    ({"lr": "1e-6"}, "lr"),
    ({"momentum": -0.1}, "momentum"), ({"momentum": 1.0}, "momentum"),
    ({"momentum": math.nan}, "momentum"),
    ({"preset": "lab"}, "preset"), ({"preset": 1}, "preset"),
    ({"pin_delta_empty": "yes"}, "pin_delta_empty"),
])
def test_bad_options_raise(kwargs, name):
    v, zeta = _game(4, 0)
    with pytest.raises(ValueError, match=f"^{name} must be") as err:
        sgd_decompose(v, zeta, **kwargs)
    assert "\n" not in str(err.value)

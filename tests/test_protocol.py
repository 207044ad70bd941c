"""The protocol layer: the reference-recipe model store, paper B's protocol games and the
verdict records (tiny synthetic images stand in for MNIST)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

import papers.protocol_b as PB
import papers.reference as R
from papers import verdicts as V
from ibn.model_store import model_dir
from ibn.transforms import mobius, orders
from _oracles import square_images  # tests/ is on sys.path under pytest


_tiny = functools.lru_cache(maxsize=None)(square_images(400, 160))


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("IBN_DATA", str(tmp_path))
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    monkeypatch.setattr(R, "load_images", _tiny)
    monkeypatch.setattr(PB, "load_images", _tiny)
    recipe = R.Recipe(epochs=2, batch_size=32, n_val=80, lr=0.02)
    monkeypatch.setitem(R.RECIPES, "smoke", {(d, r): recipe for d in ("mnist", "fashion-mnist")
                                             for r in ("target", "baseline")})
    return tmp_path


def test_recipe_and_spec_keys_are_plain_and_stable():
    spec = R.ModelSpec("resnet20", "fashion_mnist", "target", 0, R.Recipe(epochs=3))
    assert spec.dataset == "fashion-mnist"
    assert json.loads(json.dumps(spec.key())) == spec.key()
    assert spec.key() == R.ModelSpec("resnet20", "fashion-mnist", "target", 0, R.Recipe(epochs=3)).key()
    assert spec.key() != R.ModelSpec("resnet20", "fashion-mnist", "target", 1, R.Recipe(epochs=3)).key()
    with pytest.raises(ValueError, match="role"):
        R.ModelSpec("resnet20", "mnist", "teacher", 0, R.Recipe(epochs=1))
    with pytest.raises(ValueError, match="dataset"):
        R.ModelSpec("resnet20", "cifar100", "target", 0, R.Recipe(epochs=1))


def test_recipe_of_an_architecture_overrides_its_dataset():
    assert R.recipe("book", "fashion-mnist", "target", "alexnet").epochs == 25
    for model in ("resnet20", "vgg11"):  # their stored targets keep their keys
        assert R.recipe("book", "fashion-mnist", "target", model) == R.Recipe(epochs=10)
    assert R.recipe("book", "fashion-mnist", "baseline", "alexnet") == R.Recipe(epochs=15)
    assert PA.SetupA("alexnet", "fashion-mnist", "book").target().recipe.epochs == 25
    assert [s.recipe.epochs for s in R.protocol_models("book")
            if (s.model, s.dataset, s.role) == ("alexnet", "fashion-mnist", "target")] == [25]
    with pytest.raises(KeyError):
        R.recipe("book", "cifar-10", "target", "alexnet")


def test_departures_name_this_run_and_the_reference():
    setups = PA.chosen_setups("book", "alexnet:mnist,resnet20:fashion-mnist")
    assert PA.departures(setups) == (
        "10 images (1 per class) with 50 pairs × 50 contexts per order at the kept epoch, where "
        "the reference takes 50 images, 200 pairs and 100 contexts; models trained for 8 to 10 "
        "epochs of the reference recipe instead of 200 (to ≥ 99 % on MNIST, ≥ 90 % on "
        "Fashion-MNIST).")


def test_protocol_models_order_and_counts():
    specs = R.protocol_models("book", k=5)
    names = [(s.model, s.dataset, s.role) for s in specs]
    assert names[0] == ("resnet20", "mnist", "target")
    assert sum(s.role == "baseline" for s in specs) == 2 * 2 * 5  # 2 models x 2 datasets x k
    assert not any(s.model == "alexnet" and s.role == "baseline" for s in specs)
    assert {s.recipe.epochs for s in specs if s.dataset == "mnist" and s.role == "target"} == {8}


def test_random_crop_shifts_within_padding_and_is_seeded():
    x = torch.arange(2 * 36, dtype=torch.float32).reshape(2, 1, 6, 6)
    crop = R.random_crop(2, fill=-1.0)
    a = crop(x, torch.Generator().manual_seed(3))
    b = crop(x, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, b)
    padded = torch.nn.functional.pad(x, (2,) * 4, value=-1.0)
    for i in range(2):  # every output is some window of the padded image
        wins = [padded[i, :, r:r + 6, c:c + 6] for r in range(5) for c in range(5)]
        assert any(torch.equal(a[i], w) for w in wins)
    assert torch.equal(R.random_crop(0, 0.0)(x, torch.Generator()), x)


def test_target_keeps_its_best_validation_epoch_and_is_trained_once(tiny, monkeypatch):
    spec = R.ModelSpec("resnet20", "mnist", "target", 0, R.RECIPES["smoke"][("mnist", "target")])
    net, info = R.train_reference(spec)
    accs = [h["test_acc"] for h in info["history"]]
    assert info["best_epoch"] == int(np.argmax(accs)) + 1
    assert info["n_train"] == 400 - 80  # the training split less the validation images
    best = R.reference_checkpoint(spec, info["best_epoch"])
    assert all(torch.equal(best[k], v) for k, v in net.state_dict().items())
    steps = sorted(p.name for p in (model_dir(spec.name, spec.key()) / "train").glob("step_*.pt"))
    assert steps == [f"step_{info['early_step']:07d}.pt"]

    def boom(*a, **k):
        raise AssertionError("trained twice")

    monkeypatch.setattr(R, "train", boom)
    R._trained.cache_clear()  # load from the store, not from this process's memory
    net2, info2 = R.train_reference(spec)
    assert info2["best_epoch"] == info["best_epoch"]
    assert all(torch.equal(net2.state_dict()[k], v) for k, v in net.state_dict().items())


def test_baseline_trains_on_the_test_split(tiny):
    spec = R.ModelSpec("resnet20", "mnist", "baseline", 1, R.RECIPES["smoke"][("mnist", "baseline")])
    _, info = R.train_reference(spec)
    assert info["n_train"] == 160


def test_protocol_b_games_effects_and_gate(tiny):
    setup = PB.SetupB("resnet20", "mnist", "smoke")
    g = PB.games(setup)
    n, N, k = setup.n_players, setup.n_samples, setup.k
    assert g["values"].shape == (N, 2 ** n) and g["baseline_values"].shape == (k, N, 2 ** n)
    assert g["values"].dtype == torch.float64 and g["layer"] == "layer1"
    assert len(set(np.asarray(g["indices"]).tolist())) == N
    # the models played one at a time (each model's stage) give what playing them together gives
    nets = [R.train_reference(spec)[0] for spec in [setup.target(), *setup.baselines()]]
    x, y = _tiny("mnist", "test")
    v, players, _ = PB._play(setup, nets, x, y, np.asarray(g["indices"]))
    assert torch.equal(v[0], g["values"]) and torch.equal(v[1:], g["baseline_values"])
    assert players == g["players"]
    e = PB.effects(setup, "exact")
    # the effects explain every game up to the bounded error (universal matching, eq-and-or)
    from ibn.transforms import or_zeta, zeta

    for vals, a, o in ((g["values"], e["and"], e["or"]), (g["baseline_values"][0],
                                                          e["baseline_and"][0], e["baseline_or"][0])):
        full = (vals[..., -1:] - vals[..., :1]).abs()
        err = (vals - zeta(a) - or_zeta(o)).abs()
        assert bool((err <= 0.02 * full + 1e-6).all())
    gate = PB.gate(e)
    assert 0 <= gate["exact"] <= 1 and 0 <= gate["harsanyi"] <= 1


def test_upper_share_closed_form():
    n = 4
    eff = torch.zeros(2 ** n, dtype=torch.float64)
    m = orders(n)
    eff[m == 1] = 1.0   # 4 effects at order 1
    eff[m == 3] = -2.0  # 4 effects at order 3
    eff[0] = 100.0      # the empty set does not count
    assert PB.upper_share(eff) == pytest.approx(8 / 12)
    assert PB.upper_share(eff, torch.zeros(2 ** n)) == pytest.approx(8 / 12)
    v = torch.zeros(2 ** n, dtype=torch.float64)
    v[-1] = 1.0  # the pure AND of all players: all its Harsanyi strength at order n
    assert PB.upper_share(mobius(v)) == pytest.approx(1.0)


def test_categorize_follows_the_rules():
    hit, miss = V.Control("planted", "detected", "x"), V.Control("planted", "missed", "x")
    assert V.categorize([True, True], hit, powered=True) == "reproduced"
    assert V.categorize([True, False], hit, powered=True) == "partly reproduced"
    assert V.categorize([False, False], hit, powered=True) == "not reproduced"
    assert V.categorize([False, False], hit, powered=False) == "inconclusive"
    assert V.categorize([True, True], miss, powered=True) == "inconclusive"


def _record(**kw):
    base = dict(claim="B.fig2.decay", paper="B", figure="Fig. 2", statement="s", verdict="reproduced",
                why="w", scale="smoke", chapter="notebooks/B2_distributions.py",
                setups=[{"model": "resnet20", "dataset": "mnist", "n_players": 10, "n_samples": 50}],
                control=V.Control("planted", "detected", "c"))
    base.update(kw)
    return V.Verdict(**base)


def test_verdict_records_validate_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="verdict must be one of"):
        _record(verdict="mostly")
    with pytest.raises(ValueError, match="needs a control"):
        _record(verdict="not reproduced", control=V.Control("planted", "missed", "c"))
    with pytest.raises(ValueError, match="lacks"):
        _record(setups=[{"model": "resnet20"}])
    with pytest.raises(ValueError, match="start with"):
        _record(claim="A.fig2")
    recs = [_record(), _record(claim="B.fig2.spindle", verdict="inconclusive")]
    path = V.write(recs, root=tmp_path)
    assert path == tmp_path / "verdicts" / "smoke" / "B2_distributions.json"
    back = V.load_all("smoke", root=tmp_path)
    assert [r.claim for r in back] == ["B.fig2.decay", "B.fig2.spindle"]
    assert back[0].to_dict() | {"provenance": {}} == recs[0].to_dict() | {"provenance": {}}
    assert "commit" in back[0].provenance["git"]
    assert V.write([_record(scale="book")], root=tmp_path) == tmp_path / "verdicts" / "B2_distributions.json"


# ---------------------------------------------------------------- Fig. 2 rules and controls

import papers.claims_b as C  # noqa: E402
from ibn.distributions import Strengths  # noqa: E402


def _curve(values):
    t = torch.as_tensor([0.0] + list(values), dtype=torch.float64)
    return Strengths(plus=t / 2, minus=-t / 2)


def test_spindle_rule_needs_an_interior_peak_and_small_ends():
    summary = {"cancel_non": 0.1, "cancel_gen": 0.5}
    assert C.spindle_rule(_curve([0.1, 0.3, 0.8, 1.0, 0.7, 0.3, 0.1, 0, 0, 0]), summary)[0]
    assert not C.spindle_rule(_curve([1.0, 0.6, 0.3, 0.1, 0, 0, 0, 0, 0, 0]), summary)[0]  # decay
    assert not C.spindle_rule(_curve([0.6, 0.3, 0.8, 1.0, 0.7, 0.3, 0.1, 0, 0, 0]), summary)[0]
    assert not C.spindle_rule(_curve([0.1, 0.3, 0.8, 1.0, 0.7, 0.3, 0.1, 0, 0, 0.9]), summary)[0]
    assert not C.spindle_rule(_curve([0.1, 0.3, 0.8, 1.0, 0.7, 0.3, 0.1, 0, 0, 0]),
                              {"cancel_non": 0.6, "cancel_gen": 0.5})[0]


def test_convergence_rule():
    assert C.convergence_rule({1: 0.5, 3: 0.36, 5: 0.35})[0]
    assert not C.convergence_rule({1: 0.5, 3: 0.40, 5: 0.35})[0]


@pytest.mark.parametrize("case, fires", [("own", {"decay": True, "spindle": True}),
                                         ("common", {"convergence": True})])
def test_fig2_rules_detect_their_planted_controls(case, fires):
    j = C.judge_fig2(C.with_exact_effects(C.planted_games(10, 12, 5, seed=1, baseline_spindle=case)))
    for key, expected in fires.items():
        assert j[key][0] == expected, (key, j[key][1])


def test_fig2_records_categories():
    ok = {k: (True, "") for k in C.FIG2_CLAIMS}
    bad = {k: (False, "") for k in C.FIG2_CLAIMS}
    setup = {"model": "resnet20", "dataset": "mnist", "n_players": 10, "n_samples": 50, "k": 5,
             "target_test_acc": 0.992}
    weak = {**setup, "target_test_acc": 0.95}
    judged = {("a", "exact"): ok, ("a", "sgd"): bad, ("b", "exact"): bad, ("b", "sgd"): bad}
    recs = C.fig2_records(judged, {"a": setup, "b": setup}, {"mixture": ok, "common": ok},
                          scale="book", chapter="notebooks/B1_protocol.py")
    assert {r.verdict for r in recs} == {"partly reproduced"}
    assert "lab SGD: 0 of 2" in recs[0].why
    only_b = {("b", "exact"): bad}
    assert C.fig2_records(only_b, {"b": setup}, {"mixture": ok, "common": ok}, scale="book",
                          chapter="x.py")[0].verdict == "not reproduced"
    assert C.fig2_records(only_b, {"b": weak}, {"mixture": ok, "common": ok}, scale="book",
                          chapter="x.py")[0].verdict == "inconclusive"
    assert C.fig2_records(only_b, {"b": setup}, {"mixture": bad, "common": bad}, scale="book",
                          chapter="x.py")[0].verdict == "inconclusive"


# ---------------------------------------------------------------- paper A's protocol

import papers.protocol_a as PA  # noqa: E402
from ibn import multiorder as mo  # noqa: E402


def test_u_rule_on_shapes():
    r = np.asarray(mo.REFERENCE_RATIOS)
    u = 1 + 4 * (r - 0.5) ** 2
    floor = np.full_like(r, 0.01)
    assert PA.u_rule(r, u, floor)[0]
    assert not PA.u_rule(r, 2 - r, floor)[0]          # falling: no high end
    assert not PA.u_rule(r, 1 + r, floor)[0]          # rising: no low end
    assert not PA.u_rule(r, u, np.full_like(r, 5.0))[0]  # the middle is below the noise floor


def test_planted_u_game_has_the_closed_form_profile():
    n = 10
    ev = PA.planted_u_game(n, noise=0.0)
    from ibn.transforms import all_masks

    I = mo.exact(ev(all_masks(n).bool())[None])[0]  # (orders, n, n)
    r = torch.arange(n - 1, dtype=torch.float64) / (n - 2)
    expected = (1 - r) ** 4 + r ** 4
    off = ~torch.eye(n, dtype=torch.bool)
    assert torch.allclose(I[:, off], expected[:, None].expand(-1, int(off.sum())), atol=1e-9)


def test_the_control_is_detected_by_the_sampler_and_rule():
    setup = PA.SetupA("resnet20", "mnist", "smoke")
    ctl = PA.control_profile(setup, n_games=2)
    assert PA.u_rule(ctl["ratios"], ctl["strength"], ctl["floor"])[0]


def test_pick_images_takes_the_first_correct_per_class(tiny, monkeypatch):
    """A model wrong on the first image of each class and right elsewhere."""
    monkeypatch.setattr(PA, "load_images", _tiny)
    x, y = _tiny("mnist", "train")
    first = {c: int(torch.nonzero(y == c)[0]) for c in range(3)}

    class Model(torch.nn.Module):
        def forward(self, xb):
            labels = torch.as_tensor([int(y[(x == xi).flatten(1).all(1)][0]) for xi in xb])
            wrong = torch.as_tensor([any(torch.equal(xi, x[i]) for i in first.values()) for xi in xb])
            out = torch.nn.functional.one_hot((labels + wrong.long()) % 10, 10).float()
            return out

    idx = PA.pick_images(Model(), "mnist", 1, 3)
    expected = [int(torch.nonzero(y == c)[1]) for c in range(3)]
    assert sorted(idx.tolist()) == sorted(expected)


def test_protocol_a_profiles_at_every_stage(tiny, monkeypatch):
    monkeypatch.setattr(PA, "load_images", _tiny)
    monkeypatch.setitem(PA.SCALES_A, "smoke", {"grid": 4, "per_class": 1, "classes": 2,
                                                "final": (3, 3), "other": (2, 2)})
    setup = PA.SetupA("resnet20", "mnist", "smoke")
    profs = {(setup.name, st): PA.profile(setup, st) for st in PA.STAGES}
    for p in profs.values():
        assert 1 <= p["strength"].shape[0] <= 2 and p["strength"].shape[1] == 13
        assert p["floor"].shape == (13,)
    assert not np.allclose(profs[(setup.name, "init")]["strength"], profs[(setup.name, "final")]["strength"])
    init, _ = PA._stage_model(setup, "init")  # the seeded build equals training's epoch 0
    kept = R.reference_checkpoint(setup.target(), 0)
    assert all(torch.equal(v, kept[k]) for k, v in init.state_dict().items())
    recs = PA.discovery_records(profs, [setup], PA.control_profile(setup, 1), scale="smoke",
                                chapter="notebooks/A1_protocol.py")
    assert [r.claim for r in recs] == ["A.discovery.u_shape", "A.discovery.early"]
    assert recs[0].setups[0]["n_players"] == 16
    recs = PA.discovery_records(profs, [setup], PA.control_profile(setup, 1), scale="smoke",
                                chapter="notebooks/A1_protocol.py",
                                flat_control=PA.control_profile(setup, 1, power=1))
    assert recs[-1].claim == "A.discovery.learned" and recs[-1].control.outcome == "detected"


def test_learned_rule_tells_a_planted_dip_from_one_already_there():
    setup = PA.SetupA("resnet20", "mnist", "smoke")
    u, flat = PA.control_profile(setup, 2), PA.control_profile(setup, 2, power=1)
    assert PA.dip_depth(u) < 0.5 < 0.8 < PA.dip_depth(flat)
    assert PA.learned_rule(flat, u)[0]
    assert not PA.learned_rule(u, u)[0]       # the same dip before and after: not learned
    assert not PA.learned_rule(u, flat)[0]    # training removed it


# ---------------------------------------------------------------- paper B's Figs. 4, 5, 7, 8

from papers import claims_b_figs as F  # noqa: E402


def test_fig4_rule_detects_the_theorys_own_mixture_and_not_its_swap():
    res = C.with_exact_effects(C.planted_games(10, 8, 2, seed=2))
    ctl = F.fig4_control(res)
    assert ctl["passed"], ctl["why"]
    assert ctl["constrained"]["sim"] > 0.95 and ctl["best_sim"] > 0.95
    total, gen, non = ctl["curves"]
    swapped = F.judge_fig4_curves(total, non, gen, res["and"], res["or"])
    assert not swapped["passed"]


def test_fig8_rule_detects_its_planted_groups_and_not_equal_ones():
    correct, wrong = F.fig8_control(n=8, n_samples=10, k=2)
    j = F.judge_fig8(correct, wrong)
    assert j["non_share"][0] and j["gen_strength"][0], (j["non_share"], j["gen_strength"])
    same = F.judge_fig8(correct, correct)
    assert not same["non_share"][0] and not same["gen_strength"][0]
    assert j["decided"] == {"non_share": True, "gen_strength": True}
    swapped = F.judge_fig8(wrong, correct)  # the opposite direction: absent, and decided
    assert not swapped["non_share"][0] and swapped["decided"]["non_share"]


def test_fig5_and_fig7_rules_on_value_noise_and_on_no_noise():
    clean = F.value_noise_control(n=8, n_samples=8, k=2, levels=(0.0, 0.0, 0.0))
    assert not F.judge_fig5(clean)["passed"]
    assert not F.judge_fig7(clean, kinds=("params",))["passed"]
    noisy = F.value_noise_control(n=8, n_samples=8, k=2, levels=(0.0, 0.06, 0.08, 0.1))
    j7 = F.judge_fig7(noisy, kinds=("params",))
    assert j7["passed"], j7["why"]


def test_fig_records_and_the_misclassified_group(tiny):
    setup = PB.SetupB("resnet20", "mnist", "smoke")
    wrong = PB.misclassified(setup, "exact")
    assert len(wrong["indices"]) == min(PB.N_MISCLASSIFIED["smoke"], wrong["n_wrong"])
    assert wrong["values"].shape[0] == len(wrong["indices"])
    assert wrong["baseline_and"].shape[:2] == (setup.k, len(wrong["indices"]))
    e = PB.effects(setup, "exact")
    assert len(wrong["correct_positions"]) <= PB.N_MISCLASSIFIED["smoke"]
    group = PB.correct_group(e, torch.tensor([2, 0]))
    assert group["values"].shape[0] == 2 and group["players"][0] == e["players"][2]
    assert torch.equal(group["baseline_or"][:, 1], e["baseline_or"][:, 0])
    assert torch.equal(group["and"][0], e["and"][2])
    ok = {s: (True, "fine") for s in ("a",)}
    setup_rec = {"model": "resnet20", "dataset": "mnist", "n_players": 10, "n_samples": 50,
                 "k": 5, "target_test_acc": 0.992}
    recs = F.records({c: ok for c in F.CLAIMS}, {c: (True, "kind", "why") for c in F.CLAIMS},
                     {"a": setup_rec}, scale="book", chapter="x.py")
    assert [r.claim for r in recs] == list(F.CLAIMS) and {r.verdict for r in recs} == {"reproduced"}
    no = {s: (False, "absent") for s in ("a",)}
    recs = F.records({c: no for c in F.CLAIMS}, {c: (True, "kind", "why") for c in F.CLAIMS},
                     {"a": setup_rec}, scale="book", chapter="x.py",
                     undecided={"B.fig8.non_share": ["a"]})
    verdicts = {r.claim: r.verdict for r in recs}
    assert verdicts["B.fig8.non_share"] == "inconclusive"
    assert verdicts["B.fig8.gen_strength"] == "not reproduced"


def test_a_steered_spec_keeps_plain_keys_and_names_its_preset():
    plain = R.ModelSpec("resnet20", "mnist", "target", 0, R.Recipe(epochs=3))
    assert "steer" not in plain.key() and plain.name == "reference-resnet20-mnist-target"
    steered = R.ModelSpec("resnet20", "mnist", "target", 0, R.Recipe(epochs=3), steer=("mid", 1.0))
    assert steered.key()["steer"] == ["mid", 1.0] and steered.name.endswith("-steer-mid")
    assert steered.key() != plain.key()
    with pytest.raises(ValueError, match="steer"):
        R.ModelSpec("resnet20", "mnist", "target", 0, R.Recipe(epochs=3), steer=("middle", 1.0))


def test_a_steered_model_trains_with_the_steering_term(tiny):
    recipe = R.RECIPES["smoke"][("mnist", "target")]
    plain, _ = R.train_reference(R.ModelSpec("resnet20", "mnist", "target", 0, recipe))
    spec = R.ModelSpec("resnet20", "mnist", "target", 0, recipe, steer=("low", 1.0))
    net, info = R.train_reference(spec)
    start = json.loads((model_dir(spec.name, spec.key()) / "train" / "log.jsonl")
                       .read_text().splitlines()[0])
    assert start["extra_loss"][0]["loss"] == "order_steering"
    assert (start["extra_loss"][0]["mode"], start["extra_loss"][0]["r1"]) == ("suppress", 0.7)
    assert all("train_extra_loss" in h for h in info["history"])
    assert any(not torch.equal(v, plain.state_dict()[k]) for k, v in net.state_dict().items()
               if v.is_floating_point())


def test_steering_sweep_feeds_the_modulation_records(tiny, monkeypatch):
    import papers.steering_a as SA
    from papers import claims_a as CA

    monkeypatch.setattr(PA, "load_images", _tiny)
    monkeypatch.setitem(SA.STEERING_A, "smoke", {
        "model": "resnet20", "dataset": "mnist", "recipe": R.RECIPES["smoke"][("mnist", "target")],
        "presets": ("low",), "lams": (1.0,), "grid": 4, "per_class": 1, "classes": 2,
        "pairs": 2, "contexts": 2})
    assert SA.runs("smoke") == [(None, 0.0), ("low", 1.0)]
    with pytest.raises(ValueError, match="scale"):
        SA.runs("huge")
    runs = SA.sweep("smoke")
    label = SA.setup_label("smoke")
    assert set(runs) == {(label, "normal", 0.0), (label, "low", 1.0)}
    for params, res in runs.values():
        assert res["J"].shape == (13,) and res["n_samples"] >= 1
        assert 0 <= SA.noise_share(res) < np.inf
    assert runs[(label, "low", 1.0)][0]["training"]["steer"] == ["low", 1.0]
    recs = CA.modulation_records(runs, CA.planted_modulation(["low"]), scale="smoke",
                                 chapter="notebooks/A3_modulation.py")
    assert [r.claim for r in recs] == ["A.modulation.losses_move_profile",
                                       "A.modulation.second_peak"]
    assert recs[0].setups[0]["n_players"] == 16 and recs[0].setups[0]["recipe"] == "reference"
    assert "trained 2 epochs" in recs[0].why


def test_run_b_needs_the_weights_only_before_its_extractions(tiny, monkeypatch):
    from papers import run_protocol as RP

    log: list[str] = []
    real_train, real_effects = PB.train_reference, PB._with_effects
    monkeypatch.setattr(PB, "train_reference", lambda spec: log.append("weights") or real_train(spec))
    monkeypatch.setattr(PB, "_with_effects", lambda *a: log.append("extract") or real_effects(*a))
    assert RP.main(["B", "--scale", "smoke", "--setups", "resnet20:mnist"]) == 0
    assert log.count("extract") == 2 * len(PB.SOLVERS)  # the samples and the misclassified ones
    assert "weights" not in log[log.index("extract"):]
    # every stage is stored: loading them again needs no weights
    monkeypatch.setattr(PB, "train_reference", lambda spec: pytest.fail("recomputed"))
    setup = PB.SetupB("resnet20", "mnist", "smoke")
    PB.noise(setup)
    for solver in PB.SOLVERS:
        assert PB.effects(setup, solver)["solver"] == PB.misclassified(setup, solver)["solver"] == solver

"""papers.claims_a: the A2–A4 rules fire on their planted controls and stay silent on cases
without the effect, and the records they build validate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from papers import claims_a as CA
from papers.verdicts import Verdict

N = 8  # the planted gradient games at n = 8 take a fraction of a second


@pytest.fixture(scope="module")
def planted() -> dict[str, dict]:
    return {"independent": CA.planted_gradient_stats(N),
            "subset": CA.planted_gradient_stats(N, relevant=range(2 * N // 3)),
            "size": CA.planted_gradient_stats(N, by_size=True)}


def _fake_a2(st: dict) -> dict:
    return {("toy", "planted"): ({"epochs": 1, "lr": 1e-3},
                                 {"stats": {"0": st, "1": st}, "sample_index": np.arange(1),
                                  "test_acc": np.array([1.0])})}


def test_independent_contexts_are_detected(planted) -> None:
    st = planted["independent"]
    assert np.allclose(st["rho"][1:-1], 0, atol=1e-9)
    assert np.allclose(st["indep"], st["indep_pred"])
    assert np.allclose(st["signal"], st["predicted"])
    for rule in (CA.variability_rule, CA.independence_rule, CA.closed_form_rule):
        assert rule(st)[0], rule(st)[2]
    assert not CA.n_prime_rule(st)[0]  # n' = n when the closed form holds exactly


def test_fewer_relevant_players_give_a_smaller_n_prime(planted) -> None:
    ok, n_eff, why = CA.n_prime_rule(planted["subset"])
    assert ok and n_eff <= N - 1, why
    assert not CA.independence_rule(planted["subset"])[0]  # contexts sharing T ∩ A coincide


def test_identical_context_gradients_are_not_detected(planted) -> None:
    st = planted["size"]
    assert np.allclose(st["rho"][1:-1], 1)
    for rule in (CA.variability_rule, CA.independence_rule, CA.closed_form_rule):
        assert not rule(st)[0], rule(st)[2]


def test_cause_records_validate_and_follow_the_rules(planted) -> None:
    controls = {"independent": planted["independent"], "subset": planted["subset"]}
    recs = {r.claim: r for r in CA.cause_records(_fake_a2(planted["independent"]), controls,
                                                 scale="smoke", chapter="notebooks/A2_cause.py")}
    assert set(recs) == {c for c, *_ in CA.CAUSE_CLAIMS.values()}
    assert all(r.control.outcome == "detected" for r in recs.values())
    assert recs["A.cause.independence"].verdict == "reproduced"
    assert recs["A.cause.closed_form"].verdict == "reproduced"
    assert recs["A.cause.n_prime"].verdict == "inconclusive"  # absent, not powered
    for r in recs.values():
        assert Verdict.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    absent = {r.claim: r.verdict for r in CA.cause_records(
        _fake_a2(planted["size"]), controls, scale="smoke", chapter="notebooks/A2_cause.py")}
    assert absent["A.cause.independence"] == "inconclusive"
    judged = CA.cause_judgements(_fake_a2(planted["size"]), controls)
    assert judged[judged.case.str.startswith("control")].passes.all()


def test_planted_modulation_is_detected_and_a_null_one_is_not() -> None:
    ctl = CA.planted_modulation()
    rows = {k: CA.profile_row(v) for k, v in ctl.items()}
    for preset in ("low", "mid", "high"):
        assert CA.moves_rule(preset, rows[preset], rows["normal"])[0]
    assert CA.second_peak_rule({"planted": rows["mid"]}, rows["normal"])[0]
    null = {k: CA.profile_row(v) for k, v in CA.planted_modulation(factor=0.0).items()}
    for preset in ("low", "mid", "high"):
        assert not CA.moves_rule(preset, null[preset], null["normal"])[0]
    assert not CA.second_peak_rule({"planted": null["mid"]}, null["normal"])[0]


def test_modulation_records_validate() -> None:
    ctl = CA.planted_modulation()
    params = {"model": "mlp5", "dataset": "wine", "features": list(range(12)), "epochs": 1,
              "seed": 0, "optimizer": "adam"}

    def res(profile: dict) -> dict:
        return {"ratios": profile["ratios"], "J": profile["J"], "n_samples": 3, "test_acc": 1.0}

    results = {("toy", "normal", 0.0): (params, res(ctl["normal"]))}
    results.update({("toy", p, 1.0): (params, res(ctl[p])) for p in ("low", "mid", "high")})
    recs = {r.claim: r for r in CA.modulation_records(results, ctl, scale="smoke",
                                                      chapter="notebooks/A3_modulation.py")}
    assert recs["A.modulation.losses_move_profile"].verdict == "reproduced"
    assert recs["A.modulation.second_peak"].verdict == "reproduced"
    null = CA.planted_modulation(factor=0.0)
    results = {("toy", "normal", 0.0): (params, res(null["normal"]))}
    results.update({("toy", p, 1.0): (params, res(null[p])) for p in ("low", "mid", "high")})
    recs = CA.modulation_records(results, ctl, scale="smoke", chapter="notebooks/A3_modulation.py")
    assert {r.verdict for r in recs} == {"inconclusive"}
    assert all(r.control.outcome == "detected" for r in recs)


SETTINGS = {"dataset": "breast_cancer", "model": "mlp8", "kinds": ["low", "normal", "mid", "high"],
            "lam": 1.0, "seeds": [0, 1, 2], "epochs": 1, "fgsm": [0.1, 0.25], "pgd": [0.1],
            "sigma": [1.0], "mask": [0.5]}


@pytest.fixture(scope="module")
def control_table():
    return CA.consequence_controls(SETTINGS)


def test_planted_consequences_are_detected(control_table) -> None:
    table = CA.low_vs_high(control_table)
    assert set(table.quantity) >= {"loss gap", "train loss", "fgsm@0.1", "pgd@0.1", "noise@1",
                                   "mask@0.5"}
    recs = CA.consequence_records(control_table, control_table, SETTINGS, scale="smoke",
                                  chapter="notebooks/A4_consequences.py")
    assert [r.claim for r in recs] == [c[0] for c in CA.CONSEQUENCE_CLAIMS]
    assert all(r.control.outcome == "detected" for r in recs), [r.control.why for r in recs]
    assert {r.verdict for r in recs} == {"reproduced"}


def test_identical_models_show_no_consequence(control_table) -> None:
    same = control_table[control_table.model == "low"]
    twin = same.assign(model="high")
    import pandas as pd

    recs = CA.consequence_records(pd.concat([same, twin]), control_table, SETTINGS,
                                  scale="smoke", chapter="notebooks/A4_consequences.py")
    assert {r.verdict for r in recs} == {"inconclusive"}


def test_consequence_records_without_a_high_order_model(control_table) -> None:
    low_only = control_table[control_table.model == "low"]
    recs = CA.consequence_records(low_only, control_table, {**SETTINGS, "kinds": ["low"]},
                                  scale="smoke", chapter="notebooks/A4_consequences.py")
    assert {r.verdict for r in recs} == {"inconclusive"}
    assert all("no low- and high-order models" in r.why for r in recs)


def test_a_setup_whose_presets_did_not_steer_is_not_counted(control_table) -> None:
    import pandas as pd

    same = control_table[control_table.model == "low"]
    flat = pd.concat([same, same.assign(model="high")])  # no difference: no effect
    args = dict(scale="smoke", chapter="notebooks/A4_consequences.py", reference=flat)
    counted = CA.consequence_records(control_table, control_table, SETTINGS, **args,
                                     steering={"adam": 0.5, "reference": 0.5})
    assert {r.verdict for r in counted} == {"partly reproduced"}
    skipped = CA.consequence_records(control_table, control_table, SETTINGS, **args,
                                     steering={"adam": 0.5, "reference": 0.05})
    assert {r.verdict for r in skipped} == {"reproduced"}
    assert all("did not steer" in r.why for r in skipped)
    assert [s["steering_gap"] for s in skipped[0].setups] == [0.5, 0.05]
    neither = CA.consequence_records(control_table, control_table, SETTINGS, **args,
                                     steering={"adam": 0.1, "reference": 0.05})
    assert {r.verdict for r in neither} == {"inconclusive"}


def test_steering_gap_is_the_high_minus_low_order_centre() -> None:
    r = np.linspace(0, 1, 5)
    low, high = {"ratios": r, "J": np.array([4.0, 1, 1, 1, 0])}, {"ratios": r, "J": r + 0.0}
    gap = CA.steering_gap({("low", 0): ({}, low), ("high", 0): ({}, high),
                           ("normal", 0): ({}, high)})
    assert gap == pytest.approx((r * r).sum() / r.sum() - (r * low["J"]).sum() / low["J"].sum())
    assert np.isnan(CA.steering_gap({("low", 0): ({}, low)}))


def test_structural_record_is_untested_and_says_so() -> None:
    rec = CA.structural_record(scale="smoke", chapter="notebooks/A4_consequences.py")
    assert rec.claim == CA.STRUCTURAL_CLAIM[0] and rec.verdict == "inconclusive"
    assert rec.control.outcome == "none" and rec.why.startswith("not tested")

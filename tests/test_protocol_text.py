"""papers.protocol_b_text: paper B's text setup at its protocol (a tiny run on the real MiniLM
and Rotten Tomatoes files; skipped when those are not fetched)."""

from __future__ import annotations

import functools

import pytest
import torch

import papers.protocol_b as PB
import papers.protocol_b_text as PT
from ibn import results
from ibn.models import log_odds
from papers import text_models as tm
from papers.specs import Training

from _text_data import requires_text_data  # tests/ is on sys.path under pytest


def test_text_setup_settings_keys_and_parsing():
    s = PT.TextSetupB("minilm", "book")
    assert (s.n_players, s.n_samples, s.k, s.name) == (10, 50, 5, "minilm_rt_sentences")
    key = s.key()
    assert key["target"]["label_noise"] == 0.0 and len(key["baselines"]) == 5
    assert [b["seed"] for b in key["baselines"]] == [1, 2, 3, 4, 5]
    assert "scale" not in key and s.record()["k"] == 5
    got = PB.chosen_setups("book", "resnet20:mnist, minilm:rt_sentences")
    assert isinstance(got[0], PB.SetupB) and got[1] == s
    assert any(isinstance(x, PT.TextSetupB) for x in PB.chosen_setups("book"))
    assert not any(isinstance(x, PT.TextSetupB) for x in PB.chosen_setups("smoke"))
    with pytest.raises(ValueError, match="model must be"):
        PT.TextSetupB("gpt", "book")
    with pytest.raises(ValueError, match="scale must be"):
        PT.TextSetupB("minilm", "huge")
    with pytest.raises(ValueError, match="dataset must be"):
        PT.TextSetupB("minilm", "book", dataset="imdb")


@requires_text_data
def test_text_protocol_games_are_the_test_sentences_games(tmp_path, monkeypatch):
    """Random test sentences with n players each, v(x_N) equal to a direct forward, baselines
    trained on the test split, and the effects decompose the games."""
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    root = results.data_root
    monkeypatch.setattr(results, "data_root", lambda r=None: root(tmp_path if r is None else r))
    monkeypatch.setattr(PT.T, "train_text_classifier",
                        functools.partial(tm.train_text_classifier, models_dir=tmp_path / "models"))
    tiny = {"n_players": 3, "n_samples": 2, "k": 2, "target": Training(n_train=8, epochs=1),
            "baseline": Training(n_train=8, epochs=1)}
    monkeypatch.setitem(PT.SCALES_BT, "smoke", tiny)
    s = PT.TextSetupB("minilm", "smoke")
    r = PB.effects(s, "exact")
    assert r["values"].shape == (2, 8) and r["baseline_values"].shape == (2, 2, 8)
    texts, labels = tm.load_sentences("test")
    target = PT.T.train_text_classifier("minilm", "train", seed=0, n_train=8, epochs=1,
                                        label_noise=0.0)
    assert target.training_info["spec"]["split"] == "train"
    base = PT.T.train_text_classifier("minilm", "test", seed=1, n_train=8, epochs=1,
                                      label_noise=0.0)
    assert base.training_info["spec"]["split"] == "test"
    for j, i in enumerate(r["indices"].tolist()):
        assert len(r["players"][j]) == 3 and int(r["labels"][j]) == labels[i]
        with torch.no_grad():
            logits = target(**target.collate([texts[i]]))
        assert float(r["values"][j, -1]) == pytest.approx(float(log_odds(logits, labels[i])),
                                                          abs=1e-4)
    assert torch.allclose(r["and"][:, 0], r["values"][:, 0])
    assert 0.0 <= r["target_test_acc"] <= 1.0 and len(r["baseline_val_acc"]) == 2
    rec = PB.setup_record(s, r)
    assert rec["dataset"] == "rt_sentences" and "target_val_acc" in rec


def test_figure_chapters_leave_text_setups_out():
    assert [s.name for s in PB.chosen_setups("book", "minilm:rt_sentences,vgg11:mnist",
                                             text=False)] == ["vgg11_mnist"]
    assert not any(isinstance(s, PT.TextSetupB) for s in PB.chosen_setups("book", text=False))

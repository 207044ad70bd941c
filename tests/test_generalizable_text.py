"""papers.generalizable_text: the text setups of paper B Fig. 2 (a tiny run on the real
MiniLM and Rotten Tomatoes files; skipped when those are not fetched)."""

from __future__ import annotations

import functools
import json

import pytest
import torch

from ibn import results
from papers import generalizable as G
from papers import generalizable_text as GT
from papers import text_models as tm
from ibn.models import log_odds

from _text_data import requires_text_data  # tests/ is on sys.path under pytest


pytestmark = requires_text_data


def test_text_setup_from_presets() -> None:
    p = GT.text_setup("minilm", GT.TEXT_PRESETS["book"], "book", seed=2)
    assert p["k_max"] == 5 and p["dataset"] == GT.DATASET and p["seed"] == 2
    assert p["target"]["label_noise"] == 0.01 and p["baseline"]["label_noise"] == 0.0
    assert GT.text_setup("minilm", GT.TEXT_PRESETS["smoke"], "smoke")["k_max"] == 1


def test_text_games_are_the_sentences_games(tmp_path, monkeypatch) -> None:
    """Samples clean and correctly classified, n players each, v(x_N) and v(x_∅) equal to direct
    forwards, and the analysis helpers of ``generalizable`` apply to the result."""
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    root = results.data_root
    monkeypatch.setattr(results, "data_root", lambda r=None: root(tmp_path if r is None else r))
    monkeypatch.setattr(GT.T, "train_text_classifier",
                        functools.partial(tm.train_text_classifier, models_dir=tmp_path / "models"))
    p = {"model": "minilm", "dataset": GT.DATASET, "n_players": 3, "n_samples": 2, "n_heldout": 2,
         "n_eval": 16, "k_max": 2, "seed": 0, "scale": "test",
         "target": {"n_train": 16, "epochs": 1, "label_noise": 0.125, "batch_size": 8},
         "baseline": {"n_train": 8, "epochs": 1, "label_noise": 0.0, "batch_size": 8}}
    r = GT.text_interactions(p)
    assert list((tmp_path / "results").iterdir())  # cached under the patched root
    n_s = r["values"].shape[0]
    assert 1 <= n_s <= 2 and r["baseline_values"].shape == (2, n_s, 8)
    assert r["heldout_values"].shape[0] == len(r["heldout_indices"]) <= 2
    target = GT.T.train_text_classifier("minilm", "train", seed=0, **p["target"])
    flipped = set(int(i) for i in target.training_info["flipped"])
    assert len(flipped) == 2
    texts, labels = tm.load_sentences("train")
    for j, i in enumerate(r["indices"].tolist()):
        assert i < 16 and i not in flipped
        assert len(r["players"][j]) == 3
        y = labels[i]
        assert int(r["labels"][j]) == y
        with torch.no_grad():
            logits = target(**target.collate([texts[i]]))
        assert int(logits.argmax(-1)) == y  # correctly classified
        assert float(r["values"][j, -1]) == pytest.approx(float(log_odds(logits, y)), abs=1e-4)
        masker = tm.token_masker(target, texts[i], 3, 0 * 100_003 + i)
        assert [pl["word"] for pl in masker.players] == [pl["word"] for pl in r["players"][j]]
    assert json.loads(r["texts"]) == [texts[i] for i in r["indices"].tolist()]
    for i in r["heldout_indices"].tolist():
        assert i >= 16  # never seen by the target
    # effects decompose the games exactly up to the noise bound; analysis helpers apply
    assert torch.allclose(r["and"][:, 0], r["values"][:, 0])
    tot, gen, non = G.split_strengths(r, 2)
    assert torch.allclose(tot.plus, gen.plus + non.plus)
    s = G.shape_summary(tot, gen, non)
    assert s["n"] == 3 and 0.0 <= s["non_share"] <= 1.0


def test_target_accuracy_is_the_targets(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    root = results.data_root
    monkeypatch.setattr(results, "data_root", lambda r=None: root(tmp_path if r is None else r))
    monkeypatch.setattr(GT.T, "train_text_classifier",
                        functools.partial(tm.train_text_classifier, models_dir=tmp_path / "models"))
    p = GT.text_setup("minilm", {**GT.TEXT_PRESETS["smoke"],
                                 "target": {"n_train": 8, "epochs": 1, "batch_size": 8}}, "test")
    acc = GT.target_accuracy({**p, "n_eval": 16})
    net = GT.T.train_text_classifier("minilm", "train", seed=0, n_train=8, epochs=1, batch_size=8)
    assert acc["train_acc"] == pytest.approx(net.training_info["train_acc"])
    assert acc["test_acc"] == pytest.approx(tm.text_accuracy(net, "test", 16))

"""papers.text_models: cached text classifiers and their sentence games (small runs on
the real MiniLM and Rotten Tomatoes files; skipped when those are not fetched)."""

from __future__ import annotations

import pytest
import torch

from papers import text_models as tm
from ibn.models import log_odds

from _text_data import requires_text_data  # tests/ is on sys.path under pytest


pytestmark = requires_text_data


def test_load_sentences_splits_disjoint() -> None:
    tr, ytr = tm.load_sentences("train")
    te, yte = tm.load_sentences("test")
    assert len(tr) == len(ytr) == 8454 and len(te) == len(yte) == 1057
    assert set(ytr) == {0, 1}
    assert not set(tr) & set(te)


def test_train_caches_and_reloads(tmp_path) -> None:
    kw = dict(n_train=8, epochs=1, seed=0, label_noise=0.25, batch_size=8, models_dir=tmp_path)
    net = tm.train_text_classifier("minilm", "train", **kw)
    files = list(tmp_path.glob("models/text-minilm-train/*/model.pt"))
    assert len(files) == 1
    assert len(net.training_info["flipped"]) == 2  # round(0.25 * 8)
    stamp = files[0].stat().st_mtime_ns
    again = tm.train_text_classifier("minilm", "train", **kw)
    assert files[0].stat().st_mtime_ns == stamp  # loaded, not retrained
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    # training changed the weights: the fresh head differs from the trained one
    fresh = tm._build("minilm", 0, 64)
    assert not torch.equal(fresh.head.weight, net.head.weight)
    # another setting, another file
    tm.train_text_classifier("minilm", "train", **{**kw, "seed": 1})
    assert len(list(tmp_path.glob("models/text-minilm-train/*/model.pt"))) == 2
    assert 0.0 <= tm.text_accuracy(net, "test", 16) <= 1.0


def test_text_values_match_direct_forward(tmp_path) -> None:
    net = tm.train_text_classifier("minilm", "train", n_train=8, epochs=1, seed=0, batch_size=8,
                                   models_dir=tmp_path)
    texts, labels = tm.load_sentences("test")
    text, label = texts[0], labels[0]
    masker = tm.token_masker(net, text, 3, seed=0)
    assert masker.n_players == 3
    v = tm.text_values(net, text, label, 3, seed=0)
    assert v.shape == (8,) and v.dtype == torch.float64
    with torch.no_grad():
        enc = net.collate([text])
        full = float(log_odds(net(**enc), label))
        ids = enc["input_ids"].clone()
        for p in masker.players:
            ids[0, p["positions"]] = net.tokenizer.mask_token_id
        empty = float(log_odds(net(input_ids=ids, attention_mask=enc["attention_mask"]), label))
    assert v[7].item() == pytest.approx(full, abs=1e-4)
    assert v[0].item() == pytest.approx(empty, abs=1e-4)


def test_unknown_model_rejected(tmp_path) -> None:
    with pytest.raises(ValueError):
        tm.train_text_classifier("gpt", "train", n_train=4, epochs=1, seed=0, models_dir=tmp_path)

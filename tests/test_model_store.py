"""ibn.model_store: a model is trained once, stored atomically, resumed after an interruption,
and its kept epochs can be loaded."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ibn.model_store import cached_model, checkpoint, model_dir
from ibn.train import train

SPEC = {"model": "tiny", "epochs": 4, "seed": 0}


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g)
    return x, (x[:, 0] > 0).long()


def _build():
    torch.manual_seed(SPEC["seed"])
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))


def test_trained_once_then_loaded(tmp_path):
    calls = []

    def fit(model, train_dir):
        calls.append(train_dir)
        hist = train(model, _data(), epochs=SPEC["epochs"], batch_size=16, lr=0.1, seed=0,
                     checkpoint_dir=train_dir, checkpoint_at=[0, 2], progress=False)
        return {"train_acc": hist.last("train_acc"), "subset": torch.arange(3)}

    m1, info1 = cached_model("tiny", SPEC, _build, fit, root=tmp_path)
    m2, info2 = cached_model("tiny", SPEC, _build, fit, root=tmp_path)
    assert len(calls) == 1  # the second call only loads
    assert not m2.training
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert info2["train_acc"] == info1["train_acc"] and torch.equal(info2["subset"], torch.arange(3))
    folder = model_dir("tiny", SPEC, tmp_path)
    assert (folder / "model.json").is_file() and not list(folder.glob(".*.tmp"))
    # the kept epochs: 0 is the untrained model
    assert torch.equal(checkpoint("tiny", SPEC, 0, root=tmp_path)["0.weight"],
                       _build().state_dict()["0.weight"])
    assert not torch.equal(checkpoint("tiny", SPEC, 2, root=tmp_path)["0.weight"],
                           m2.state_dict()["0.weight"])
    with pytest.raises(FileNotFoundError, match="epoch 3"):
        checkpoint("tiny", SPEC, 3, root=tmp_path)


def test_an_interrupted_fit_resumes_and_stores_nothing_half_done(tmp_path):
    class Stop(Exception):
        pass

    def stop_after(epoch, hist):
        if epoch == 1:
            raise Stop

    def fit_interrupted(model, train_dir):
        train(model, _data(), epochs=4, batch_size=16, lr=0.1, seed=0, checkpoint_dir=train_dir,
              callback=stop_after, progress=False)

    epochs_run = []

    def fit(model, train_dir):
        hist = train(model, _data(), epochs=4, batch_size=16, lr=0.1, seed=0,
                     checkpoint_dir=train_dir,
                     callback=lambda e, h: epochs_run.append(e), progress=False)
        return {"epochs": len(hist.records)}

    with pytest.raises(Stop):
        cached_model("tiny", SPEC, _build, fit_interrupted, root=tmp_path)
    assert not (model_dir("tiny", SPEC, tmp_path) / "model.pt").exists()
    resumed, info = cached_model("tiny", SPEC, _build, fit, root=tmp_path)
    assert epochs_run == [2, 3, 4]  # epoch 1 came from the interrupted run
    fresh, _ = cached_model("tiny", dict(SPEC, note="fresh"), _build, fit, root=tmp_path)
    for a, b in zip(resumed.state_dict().values(), fresh.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)  # resuming gives the weights of one whole run


def test_recompute_trains_again(tmp_path, monkeypatch):
    calls = []

    def fit(model, train_dir):
        calls.append(1)
        train(model, _data(), epochs=1, batch_size=16, seed=0, checkpoint_dir=train_dir,
              progress=False)

    cached_model("tiny", SPEC, _build, fit, root=tmp_path)
    monkeypatch.setenv("IBN_RECOMPUTE", "1")
    cached_model("tiny", SPEC, _build, fit, root=tmp_path)
    assert len(calls) == 2
    with pytest.raises(ValueError, match="model name"):
        model_dir("no/slash", SPEC, tmp_path)

"""A1 helpers of papers.bottleneck: cached image CNNs, CNN and text order profiles
(tiny runs on the fetched MNIST / MiniLM / Rotten Tomatoes files; skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from papers import bottleneck as bn
from ibn.models import build


def _have(what: str) -> bool:
    try:
        if what == "mnist":
            from ibn.data import load_mnist
            load_mnist("test")
        else:
            from ibn.data import minilm_path
            from papers.text_models import load_sentences
            minilm_path()
            load_sentences("test")
    except Exception:  # noqa: BLE001 - any missing file means skip
        return False
    return True


needs_mnist = pytest.mark.skipif(not _have("mnist"), reason="MNIST not fetched")
needs_text = pytest.mark.skipif(not _have("text"), reason="MiniLM / rt-sentences not fetched")

CNN = dict(model="resnet20", dataset="mnist", size=28, n_train=64, n_test=64, epochs=1,
           snapshots=[0, 1], snapshot_steps=[1], lr=2e-3, batch_size=32, seed=0,
           exact_grid=[2, 3], n_exact=1, agree_pairs=6, agree_contexts=10, grid=4, n_sampled=1,
           pairs=2, contexts=3)


@needs_mnist
def test_train_image_model_caches_snapshots(tmp_path) -> None:
    kw = dict(size=28, n_train=64, n_test=32, epochs=1, checkpoint_epochs=[0],
              checkpoint_steps=[1], lr=2e-3, batch_size=32, seed=0, models_dir=tmp_path)
    run = bn.train_image_model("resnet20", "mnist", **kw)
    assert run["epochs"] == [0, 1] and run["steps"] == [1] and run["steps_per_epoch"] == 2
    assert len(run["records"]) == 1 and 0 <= run["records"][0]["test_acc"] <= 1
    final = run["dir"] / "epoch_0001.pt"
    stamp = final.stat().st_mtime_ns
    again = bn.train_image_model("resnet20", "mnist", **kw)
    assert final.stat().st_mtime_ns == stamp  # loaded, not retrained
    for a, b in zip(run["model"].state_dict().values(), again["model"].state_dict().values()):
        assert torch.equal(a, b)
    # epoch 0 = the seeded initial weights; step 1 and the final weights differ from them
    init = build("resnet20", in_channels=1, num_classes=10, seed=0).state_dict()
    w0 = bn.load_snapshot(run, 0).state_dict()
    assert all(torch.equal(init[k], w0[k]) for k in init)
    w1 = bn.load_snapshot(run, step=1).state_dict()
    wf = run["model"].state_dict()
    assert any(not torch.equal(w1[k], init[k]) for k in init if init[k].is_floating_point())
    assert any(not torch.equal(w1[k], wf[k]) for k in init if init[k].is_floating_point())
    with pytest.raises(ValueError):
        bn.load_snapshot(run, 3)
    with pytest.raises(ValueError):
        bn.load_snapshot(run, 0, step=1)


@needs_mnist
def test_cnn_profiles_exact_and_sampled_agree_on_single_contexts(tmp_path) -> None:
    res = bn.cnn_profiles(CNN, models_dir=tmp_path)
    n = 6
    # snapshots: epoch 0, step 1 (= epoch 0.5 with 2 steps per epoch), epoch 1
    np.testing.assert_allclose(res["snapshot_epoch"], [0.0, 0.5, 1.0])
    assert res["strength"].shape == (3, 1, n - 1)
    # at m = 0 and m = n − 2 there is a single context: sampled mean = exact I^(m)
    one = np.isin(res["agree_orders"], [0, n - 2])
    assert one.any()
    np.testing.assert_allclose(res["agree_mean"][..., one], res["agree_exact"][..., one],
                               rtol=1e-9, atol=1e-9)
    single = res["agree_sem"] == 0
    # elsewhere the sampled mean is within a few standard errors of the exact value
    z = (res["agree_mean"][~single] - res["agree_exact"][~single]) / res["agree_sem"][~single]
    assert np.mean(np.abs(z) < 3) > 0.8
    assert res["fine_strength"].shape[0] == 1 and res["fine_sem"].shape[1] == 2
    # the picked images are classified correctly by the final model
    run = bn.train_image_model("resnet20", "mnist", size=28, n_train=64, n_test=64, epochs=1,
                               checkpoint_epochs=[0, 1], checkpoint_steps=[1], lr=2e-3,
                               batch_size=32, seed=0, models_dir=tmp_path)
    idx = torch.as_tensor(res["sample_index"])
    pred = run["model"](run["data"]["x_test"][idx]).argmax(1)
    assert torch.equal(pred, run["data"]["y_test"][idx])


@needs_text
def test_text_profiles_sentences_and_agreement(tmp_path) -> None:
    p = dict(model="minilm", n_train=8, epochs=1, lr=None, seed=0, n_test=16, n_players=4,
             n_sentences=2, max_tokens=20, agree_pairs=4, agree_contexts=5)
    res = bn.text_profiles(p, models_dir=tmp_path)
    assert res["strength"].shape == (2, 3)
    assert all(len(w) == 4 for w in res["words"])
    # orders 0 and n − 2 have a single context: sampled mean = exact I^(m)
    single = np.isin(res["agree_orders"], [0, 2])
    assert single.any()
    np.testing.assert_allclose(res["agree_mean"][..., single], res["agree_exact"][..., single],
                               atol=1e-9)
    from papers.text_models import load_sentences, token_masker, \
        train_text_classifier
    net = train_text_classifier("minilm", "train", n_train=8, epochs=1, seed=0,
                                models_dir=tmp_path)
    texts, _ = load_sentences("test")
    for k in res["sentence_index"]:
        assert len(token_masker(net, texts[k], 4, 0).input_ids) <= 20

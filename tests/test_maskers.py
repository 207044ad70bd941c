"""ibn.maskers: documented players, all-kept = unmasked output, all-masked = baseline."""

import json

import pytest
import torch
from torch import nn

from ibn.maskers import (STOP_WORDS, FeatureMapMasker, PatchMasker, TabularMasker, TokenMasker,
                         all_masks, central_cells)
from ibn.models import build

from _tiny_text import tiny_tokenizer  # tests/ is on sys.path under pytest

torch.set_num_threads(1)
TOL = dict(rtol=1e-5, atol=1e-5)


def test_all_masks_bit_order():
    m = all_masks(3)
    assert m.shape == (8, 3) and m.dtype == torch.bool
    assert m[5].tolist() == [True, False, True]  # 5 = 0b101: players 0 and 2


def test_central_cells_documented_players():
    cells = central_cells(8, 6, 10, seed=0)
    assert len(cells) == 10 == len(set(cells)) and cells == sorted(cells)
    for c in cells:
        r, col = divmod(c, 8)
        assert 1 <= r <= 6 and 1 <= col <= 6
    assert cells == central_cells(8, 6, 10, seed=0)
    assert any(central_cells(8, 6, 10, seed=s) != cells for s in range(1, 4))
    assert sorted(central_cells(8, 6, 36, seed=1)) == [r * 8 + c for r in range(1, 7)
                                                       for c in range(1, 7)]
    with pytest.raises(ValueError):
        central_cells(8, 6, 37, 0)


def _suffix_reference(model, x, layer_idx, keep_pixels):
    """Run features[:layer_idx+1], zero the masked pixels, then the rest by hand."""
    feats = model.features
    h = feats[:layer_idx + 1](x[None])
    h = torch.where(keep_pixels, h, torch.zeros(()))
    h = feats[layer_idx + 1:](h)
    return model.classifier(model.avgpool(h))


@pytest.mark.parametrize("name,layer,side", [("vgg11", "features.relu2", 16),
                                              ("alexnet", "features.relu1", 32)])
def test_feature_map_masker(name, layer, side):
    model = build(name, in_channels=3, seed=0).eval()
    fm = FeatureMapMasker(seed=1)
    assert fm.n_players == 10 and fm.players == central_cells(8, 6, 10, 1)
    x = torch.randn(3, 32, 32)
    with torch.no_grad():
        ref = model(x[None])
        out = fm(model, x, torch.stack([torch.ones(10, dtype=torch.bool),
                                        torch.zeros(10, dtype=torch.bool)]))
        assert torch.allclose(out[0], ref[0], **TOL)  # all kept = unmasked output
        # all masked: the 10 cells (side/8 px each) of the map are zero, the rest untouched
        idx = list(dict(model.features.named_children())).index(layer.split(".")[1])
        keep = torch.ones(side, side, dtype=torch.bool)
        cs = side // 8
        for c in fm.players:
            r, col = divmod(c, 8)
            keep[r * cs:(r + 1) * cs, col * cs:(col + 1) * cs] = False
        assert torch.allclose(out[1], _suffix_reference(model, x, idx, keep)[0], **TOL)
        assert not torch.allclose(out[1], ref[0], **TOL)
        # the hook is gone after the call
        assert torch.equal(model(x[None]), ref)
    d = fm.describe()
    json.dumps(d)
    assert d["players"] == fm.players and d["seed"] == 1 and d["grid"] == 8


def test_feature_map_masker_single_player_and_modes():
    model = build("vgg11", in_channels=1, seed=0)
    model.train()
    fm = FeatureMapMasker(cells=[0, 63])
    assert fm.players == [0, 63] and fm.n_players == 2
    x = torch.randn(1, 28, 28)  # 14x14 map: uneven 8x8 cells still work
    with torch.no_grad():
        out = fm(model, x, all_masks(2))
    assert out.shape == (4, 10) and model.training  # mode restored
    model.eval()
    with torch.no_grad():
        assert torch.allclose(out[3], model(x[None])[0], **TOL)
    with pytest.raises(ValueError, match="shape"):
        fm(model, x, torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="no layer"):
        FeatureMapMasker(layer="features.relu99")(model, x, all_masks(10)[:1])


def test_patch_masker():
    model = build("resnet20", in_channels=1, seed=0).eval()
    x = torch.randn(1, 28, 28)
    pm = PatchMasker(grid=4, baseline=-0.5)
    assert pm.n_players == 16 and pm.players == list(range(16))
    masks = torch.zeros(3, 16, dtype=torch.bool)
    masks[0] = True
    masks[2, 5] = True  # keep only cell (1, 1)
    xm = pm.mask_inputs(x[None], masks)
    assert torch.equal(xm[0], x) and torch.all(xm[1] == -0.5)
    assert torch.equal(xm[2, :, 7:14, 7:14], x[:, 7:14, 7:14])
    assert torch.all(xm[2, :, :7] == -0.5) and torch.all(xm[2, :, 14:] == -0.5)
    with torch.no_grad():
        out = pm(model, x, masks)
        assert torch.allclose(out[0], model(x[None])[0], **TOL)
        assert torch.allclose(out[1], model(torch.full((1, 1, 28, 28), -0.5))[0], **TOL)
    sub = PatchMasker(grid=8, n_players=10, central=6, seed=2)
    assert sub.players == central_cells(8, 6, 10, 2)
    xs = sub.mask_inputs(x[None], torch.zeros(1, 10, dtype=torch.bool))
    assert torch.equal(xs[0, :, :3], x[:, :3])  # non-player border rows untouched
    with pytest.raises(ValueError):
        PatchMasker(grid=4, cells=[0, 0])


def test_tabular_masker():
    torch.manual_seed(0)
    data = torch.randn(50, 6)
    tm = TabularMasker.from_data(data, features=[0, 2, 5])
    assert torch.allclose(tm.baseline, data.mean(0)) and tm.n_players == 3
    model = build("mlp5", in_features=6, num_classes=3, seed=0)
    x = torch.randn(6)
    with torch.no_grad():
        out = tm(model, x, all_masks(3))
        assert torch.allclose(out[7], model(x[None])[0], **TOL)
        xb = x.clone()
        xb[[0, 2, 5]] = tm.baseline[[0, 2, 5]]
        assert torch.allclose(out[0], model(xb[None])[0], **TOL)
    with pytest.raises(ValueError, match="features"):
        tm(model, torch.randn(5), all_masks(3))


class _Recorder(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def input_embeddings(self):
        return self.inner.input_embeddings()

    def forward(self, **kw):
        self.seen.append(kw)
        return self.inner(**kw)


def test_token_masker_players_and_baselines():
    tok = tiny_tokenizer()
    text = "the movie was a wonderful , moving experience and it is not boring !"
    tm = TokenMasker(tok, text, n_players=3, seed=0)
    words = [p["word"] for p in tm.players]
    meaningful = ["movie", "wonderful", "moving", "experience", "boring"]
    assert tm.n_players == 3 and all(w in meaningful for w in words)
    assert all(w not in STOP_WORDS for w in words)
    assert words == [w for w in meaningful if w in words]  # sentence order
    assert TokenMasker(tok, text, n_players=3, seed=0).players == tm.players
    allw = TokenMasker(tok, text, n_players=10, seed=5)
    assert allw.n_players == 5 and [p["word"] for p in allw.players] == meaningful
    json.dumps(tm.describe())

    inner = build("bert_medium", vocab_size=len(tok), num_layers=1, hidden=16, heads=2,
                  intermediate=32, seed=0).eval()
    rec = _Recorder(inner).eval()
    ids = torch.tensor(tok(text)["input_ids"])
    with torch.no_grad():
        out = tm(rec, text, torch.tensor([[True] * 3, [False] * 3]))
        ref = inner(input_ids=ids[None], attention_mask=torch.ones(1, len(ids), dtype=torch.long))
    assert torch.allclose(out[0], ref[0], **TOL)
    sent = rec.seen[-1]["input_ids"]
    assert torch.equal(sent[0], ids)
    pos = [p for pl in tm.players for p in pl["positions"]]
    assert torch.all(sent[1, pos] == tok.mask_token_id)
    other = [i for i in range(len(ids)) if i not in pos]
    assert torch.equal(sent[1, other], ids[other])

    emb = TokenMasker(tok, text, n_players=3, seed=0, baseline_embedding=torch.zeros(16))
    with torch.no_grad():
        out_e = emb(rec, None, torch.tensor([[True] * 3, [False] * 3]))
    e = rec.seen[-1]["inputs_embeds"]
    assert torch.allclose(out_e[0], ref[0], **TOL)
    assert torch.all(e[1, pos] == 0) and torch.equal(e[1, other], e[0, other])
    with pytest.raises(ValueError, match="one sentence"):
        tm(rec, "another sentence", torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="meaningful"):
        TokenMasker(tok, "the a , .", seed=0)


@pytest.mark.data
def test_token_masker_minilm_tokenizer():
    try:
        from ibn.data import minilm_path
        folder = minilm_path()
    except Exception:
        pytest.skip("MiniLM files absent")
    if not folder.exists():
        pytest.skip("MiniLM files absent")
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    text = ("An utterly charming, beautifully acted and thoroughly entertaining film about "
            "friendship, loss and the strange comfort of old songs on a rainy afternoon.")
    tm = TokenMasker(tok, text, seed=0)
    assert tm.n_players == 10 and tm.mask_token_id == 103
    assert all(p["word"].lower() not in STOP_WORDS and p["word"].isalnum() for p in tm.players)

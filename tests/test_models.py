"""ibn.models: every model builds, trains a few steps and overfits a tiny batch."""

import math

import pytest
import torch
from torch import nn

from ibn.models import MLP, VGG, available, bert_medium_config, build, log_odds
from ibn.train import train

torch.set_num_threads(1)
VISION = ["resnet20", "vgg11", "vgg16", "alexnet", "vgg11_plain", "small_cnn"]


def _ok(name: str, getter: str) -> bool:
    try:
        import ibn.data as data
        return getattr(data, getter)().exists()
    except Exception:
        return False


@pytest.mark.parametrize("name", VISION)
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32)])
def test_vision_shapes(name, channels, size):
    m = build(name, in_channels=channels, num_classes=7, seed=0)
    assert m(torch.randn(1, channels, size, size)).shape == (1, 7)


def test_named_masking_layers():
    assert isinstance(build("vgg11").get_submodule("features.relu2"), nn.ReLU)
    assert isinstance(build("vgg16").get_submodule("features.relu2"), nn.ReLU)
    assert isinstance(build("alexnet").get_submodule("features.relu1"), nn.ReLU)
    assert build("vgg11").masking_layer == "features.relu2"
    assert build("alexnet").masking_layer == "features.relu1"
    small, seen = build("small_cnn", width=3), {}
    small.features.relu2.register_forward_hook(lambda _m, _i, o: seen.update(s=o.shape))
    small(torch.randn(1, 1, 32, 32))
    assert small.masking_layer == "features.relu2" and seen["s"] == (1, 6, 16, 16)
    with pytest.raises(ValueError, match="width"):
        build("small_cnn", width=0)
    # VGG-16's 2nd ReLU is before the first pool (full resolution), VGG-11's after it
    for depth, side in ((11, 16), (16, 32)):
        m, seen = VGG(depth), {}

        def hook(_m, _i, o):
            seen["s"] = o.shape

        m.features.relu2.register_forward_hook(hook)
        m(torch.randn(1, 3, 32, 32))
        assert seen["s"][-1] == side


def test_vgg_batchnorm_switch_and_depth():
    with_bn, without = build("vgg11"), build("vgg11", batch_norm=False)
    assert any(isinstance(x, nn.BatchNorm2d) for x in with_bn.modules())
    assert not any(isinstance(x, nn.BatchNorm2d) for x in without.modules())
    plain = build("vgg11_plain", seed=0)  # the registry's name for VGG-11 without BatchNorm
    assert [type(x) for x in plain.modules()] == [type(x) for x in without.modules()]
    assert plain.masking_layer == "features.relu2"
    n_conv = lambda m: sum(isinstance(x, nn.Conv2d) for x in m.modules())  # noqa: E731
    assert n_conv(build("vgg11")) == 8 and n_conv(build("vgg16")) == 13
    assert n_conv(build("resnet20")) == 19  # + 1 linear = 20 weight layers


def test_mlp_depth_width():
    for name, depth in (("mlp5", 5), ("mlp8", 8)):
        m = build(name, in_features=13, num_classes=3)
        lin = [x for x in m.modules() if isinstance(x, nn.Linear)]
        assert len(lin) == depth and lin[0].out_features == 100
        assert m(torch.randn(4, 13)).shape == (4, 3)
    with pytest.raises(ValueError, match="features"):
        MLP(13)(torch.randn(2, 12))


def test_build_registry_and_seed():
    assert set(VISION) <= set(available())
    with pytest.raises(ValueError, match="unknown model"):
        build("resnet21")
    with pytest.raises(ValueError, match="in_channels"):
        build("vgg11", in_channels=2)
    a, b = build("resnet20", seed=3), build("resnet20", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = build("resnet20", seed=4)
    assert not torch.equal(a.fc.weight, c.fc.weight)


@pytest.mark.parametrize("name,steps,lr", [("resnet20", 10, 1e-3), ("vgg11", 12, 1e-3),
                                           ("vgg16", 14, 1e-3), ("alexnet", 20, 3e-4),
                                           ("small_cnn", 60, 1e-2)])
def test_vision_overfits_tiny_batch(name, steps, lr):
    # 16 px keeps it fast (the models also take 28/32 px, see test_vision_shapes)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(4, 1, 16, 16, generator=g), torch.arange(4)
    kw = {"dropout": 0.0} if name == "alexnet" else {}  # capacity only, no dropout noise
    m = build(name, in_channels=1, num_classes=4, seed=0, **kw)
    h = train(m, (x, y), epochs=steps, batch_size=4, optimizer="adam", lr=lr, seed=0,
              progress=False)
    assert h.records[0]["train_loss"] > 1.0
    assert h.records[-1]["train_loss"] < 0.1 and h.records[-1]["train_acc"] == 1.0


def test_mlp_overfits():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 10, generator=g), torch.randint(0, 3, (32,), generator=g)
    for name in ("mlp5", "mlp8"):
        m = build(name, in_features=10, num_classes=3, seed=0)
        h = train(m, (x, y), epochs=150, batch_size=32, optimizer="adam", lr=3e-3, seed=0,
                  progress=False)
        assert h.records[-1]["train_acc"] == 1.0


def test_bert_medium_config_and_tiny_training():
    from transformers import BertModel
    c = bert_medium_config()  # the default of build("bert_medium"); not allocated here (41 M)
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == \
        (8, 512, 8, 2048)
    tiny = build("bert_medium", vocab_size=50, num_layers=2, hidden=32, heads=2, intermediate=64,
                 seed=0, pooling="mean")
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 50, (8, 6), generator=g)
    y = torch.arange(8) % 2
    ds = ([{"input_ids": r} for r in ids], y)
    collate = lambda b: {"input_ids": torch.stack([d["input_ids"] for d in b]),  # noqa: E731
                         "attention_mask": torch.ones(len(b), 6, dtype=torch.long)}
    h = train(tiny, ds, epochs=40, batch_size=8, optimizer="adam", lr=3e-3, collate=collate,
              seed=0, progress=False)
    assert h.records[-1]["train_acc"] == 1.0
    assert isinstance(tiny.encoder, BertModel) and tiny.encoder.config.num_hidden_layers == 2


def test_log_odds_formula():
    logits = torch.randn(5, 7, dtype=torch.float64)
    p = logits.softmax(-1)[:, 2]
    assert torch.allclose(log_odds(logits, 2), torch.log(p / (1 - p)))
    big = torch.tensor([[1000.0, 0.0, -5.0]])
    assert math.isfinite(float(log_odds(big, 0))) and math.isfinite(float(log_odds(big, 2)))


@pytest.mark.data
@pytest.mark.skipif(not _ok("minilm", "minilm_path"), reason="MiniLM files absent")
def test_minilm_classifier_trains():
    m = build("minilm", num_classes=2, seed=0)
    assert m.encoder.config.hidden_size == 384 and m.tokenizer.mask_token_id == 103
    texts = ["a wonderful, moving film", "dull and boring", "great acting", "a terrible mess"]
    y = torch.tensor([1, 0, 1, 0])
    h = train(m, (texts, y), epochs=12, batch_size=4, optimizer="adam", lr=1e-3, seed=0,
              progress=False)
    assert h.records[-1]["train_acc"] == 1.0


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.skipif(not _ok("smollm2", "smollm2_path"), reason="SmolLM2 gguf absent")
def test_smollm2_next_token():
    m = build("smollm2")
    with torch.no_grad():
        logits = m(**m.collate(["The capital of France is"]))
    assert logits.shape[0] == 1 and logits.shape[1] >= 49152
    paris = m.tokenizer(" Paris", add_special_tokens=False)["input_ids"][0]
    v = log_odds(logits, paris)
    assert torch.isfinite(v).all()
    assert int((logits[0] > logits[0, paris]).sum()) < 10  # " Paris" among the top 10

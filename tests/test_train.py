"""ibn.train: label noise, subsets, determinism, bitwise resume, checkpoints, logs, order loss."""

import json

import pytest
import torch
from torch import nn

from ibn.maskers import FeatureMapMasker, PatchMasker, TabularMasker
from ibn.models import build
from ibn.train import (PRESETS, OrderSteeringLoss, choose_subset, delta_u, evaluate, flip_labels,
                       order_loss, train)

torch.set_num_threads(1)


def _data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=g)
    y = (x.mean((1, 2, 3)) > 0).long() + 2 * (x[:, 0, 0, 0] > 0).long()
    return x, y


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Dropout(0.3), nn.Linear(256, 4))


@pytest.mark.parametrize("n,frac", [(1000, 0.01), (333, 0.05), (50, 0.0), (7, 1.0)])
def test_label_noise_exact_fraction(n, frac):
    y = torch.arange(n) % 10
    y2, idx = flip_labels(y, frac, 10, seed=3)
    assert len(idx) == round(frac * n) == int((y2 != y).sum())
    assert torch.equal(torch.nonzero(y2 != y).flatten(), idx)
    assert int(y2.min()) >= 0 and int(y2.max()) < 10
    y3, idx3 = flip_labels(y, frac, 10, seed=3)
    assert torch.equal(y3, y2) and torch.equal(idx3, idx)


def test_label_noise_errors_and_seed():
    y = torch.zeros(100, dtype=torch.long)
    a = flip_labels(y, 0.1, 10, seed=0)[1]
    assert not torch.equal(a, flip_labels(y, 0.1, 10, seed=1)[1])
    with pytest.raises(ValueError):
        flip_labels(y, 1.5, 10)
    with pytest.raises(ValueError):
        flip_labels(torch.tensor([0, 12]), 0.5, 10)


def test_subset_choice():
    s = choose_subset(100, 10, seed=0)
    assert len(s) == 10 == len(set(s.tolist())) and torch.equal(s, torch.sort(s).values)
    assert torch.equal(s, choose_subset(100, 10, seed=0))
    assert len(choose_subset(100, 0.25)) == 25 and choose_subset(100, None) is None
    with pytest.raises(ValueError):
        choose_subset(100, 101)


def test_train_records_noise_subset_and_log(tmp_path):
    x, y = _data(48)
    log = tmp_path / "log.jsonl"
    h = train(_net(), (x, y), test_set=(x, y), epochs=2, batch_size=16, lr=0.05, subset=40,
              label_noise=0.1, num_classes=4, seed=1, log_path=log, progress=False)
    assert len(h.subset) == 40 and len(h.flipped) == 4 and h.config["n_train"] == 40
    lines = [json.loads(s) for s in log.read_text().splitlines()]
    assert lines[0]["event"] == "start" and lines[0]["n_flipped"] == 4
    assert [r["epoch"] for r in lines[1:]] == [1, 2]
    for r in lines[1:]:
        assert {"train_loss", "train_acc", "test_loss", "test_acc", "lr"} <= set(r)
    ev = evaluate(_net(), (x, y))
    assert 0 <= ev["acc"] <= 1 and ev["loss"] > 0


def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class _Stop(Exception):
    pass


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_resume_gives_bitwise_same_weights(tmp_path, opt):
    x, y = _data(48)
    extra = OrderSteeringLoss(0.0, 0.5, "suppress", lam=0.5, grid=4)  # uses the global RNG
    kw = dict(epochs=3, batch_size=16, optimizer=opt, lr=0.05 if opt == "sgd" else 1e-2,
              weight_decay=1e-4, lr_schedule="cosine", label_noise=0.1, num_classes=4, seed=7,
              extra_loss=extra, progress=False)
    ref = _net()
    h_ref = train(ref, (x, y), checkpoint_dir=tmp_path / "a", **kw)

    def stop(epoch, _h):
        if epoch == 1:
            raise _Stop

    m = _net()
    with pytest.raises(_Stop):
        train(m, (x, y), checkpoint_dir=tmp_path / "b", callback=stop, **kw)
    torch.manual_seed(12345)  # disturb the global RNG: resume must restore it
    fresh = _net(seed=99)    # a different model object and initialisation
    h = train(fresh, (x, y), checkpoint_dir=tmp_path / "b", **kw)
    assert _same(fresh, ref)
    assert [r["train_loss"] for r in h.records] == [r["train_loss"] for r in h_ref.records]
    # nothing left to do: a third call returns at once with the same weights
    again = _net(seed=5)
    train(again, (x, y), checkpoint_dir=tmp_path / "b", **kw)
    assert _same(again, ref)
    with pytest.raises(ValueError, match="different configuration"):
        train(_net(), (x, y), checkpoint_dir=tmp_path / "b", **{**kw, "lr": 0.3})


def test_deterministic_and_seed_matters():
    x, y = _data(32)
    a, b, c = _net(), _net(), _net()
    for m, s in ((a, 0), (b, 0), (c, 1)):
        train(m, (x, y), epochs=1, batch_size=8, lr=0.05, seed=s, progress=False)
    assert _same(a, b) and not _same(a, c)


def test_checkpoints_at_epochs_and_steps(tmp_path):
    x, y = _data(32)
    m = _net()
    init = {k: v.clone() for k, v in m.state_dict().items()}
    train(m, (x, y), epochs=3, batch_size=8, lr=0.05, checkpoint_dir=tmp_path,
          checkpoint_at=(0, 2), checkpoint_steps=(5,), progress=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["epoch_0000.pt", "epoch_0002.pt", "state.pt", "step_0000005.pt"]
    e0 = torch.load(tmp_path / "epoch_0000.pt")
    assert all(torch.equal(e0["model"][k], init[k]) for k in init)
    assert torch.load(tmp_path / "step_0000005.pt")["step"] == 5
    with pytest.raises(ValueError, match="checkpoint_dir"):
        train(_net(), (x, y), epochs=1, checkpoint_at=(1,), progress=False)


def test_extra_loss_is_called_and_logged():
    x, y = _data(16)
    calls = []

    def penalty(model, xb, yb, logits):
        calls.append((xb.shape[0], logits.shape))
        return 0.1 * sum(p.abs().sum() for p in model.parameters())

    h = train(_net(), (x, y), epochs=1, batch_size=8, extra_loss=[penalty], progress=False)
    assert len(calls) == 2 and calls[0] == (8, torch.Size([8, 4]))
    assert h.records[0]["train_extra_loss"] > 0


def test_extra_loss_with_indices():
    x, y = _data(20)
    seen = []

    class Penalty:
        needs_indices = True

        def __call__(self, model, xb, yb, logits, indices):
            seen.append(indices.clone())
            assert torch.equal(xb, x[indices])  # indices point into the given train_set
            return logits.sum() * 0.0

    h = train(_net(), (x, y), epochs=1, batch_size=4, subset=12, extra_loss=Penalty(),
              progress=False)
    got = torch.cat(seen)
    assert sorted(got.tolist()) == h.subset


def test_text_dataset_with_collate():
    from _tiny_text import tiny_tokenizer  # tests/ is on sys.path under pytest
    tok = tiny_tokenizer()
    model = build("bert_medium", vocab_size=len(tok), num_layers=1, hidden=16, heads=2,
                  intermediate=32, seed=0)
    model.tokenizer = tok
    texts = ["a good film", "a bad film", "very good acting", "boring plot"]
    h = train(model, (texts, [1, 0, 1, 0]), test_set=(texts, [1, 0, 1, 0]), epochs=2,
              batch_size=2, optimizer="adam", lr=1e-3, progress=False)
    assert len(h.records) == 2 and "test_acc" in h.records[-1]


def test_order_presets():
    assert PRESETS == {"high": ("suppress", 0.0, 0.5), "mid": ("boost", 0.3, 0.7),
                       "low": ("suppress", 0.7, 1.0)}
    p = OrderSteeringLoss.preset("mid", lam=2.0)
    assert (p.r1, p.r2, p.mode, p.lam) == (0.3, 0.7, "boost", 2.0)
    with pytest.raises(ValueError):
        OrderSteeringLoss(0.6, 0.5)
    with pytest.raises(ValueError):
        OrderSteeringLoss.preset("huge")


def test_delta_u_exact_cases():
    torch.manual_seed(0)
    model = build("mlp5", in_features=4, num_classes=3, seed=0)
    x = torch.randn(5, 4)
    base = torch.zeros(4)
    with torch.no_grad():
        # r1 = 0, r2 = 1: Δu = f(x) − f(baseline)
        du = delta_u(model, x, r1=0.0, r2=1.0, masker_or_baseline=0.0)
        assert torch.allclose(du, model(x) - model(base.expand(5, 4)), atol=1e-6)
        # r1 = 0.25, r2 = 1 with 4 features: Δu = f(x) − 4·f(x keeping one feature)
        du = delta_u(model, x, r1=0.25, r2=1.0, masker_or_baseline=TabularMasker(base))
        for b in range(5):
            cands = []
            for i in range(4):
                xi = torch.zeros(4)
                xi[i] = x[b, i]
                cands.append(model(x[b:b + 1])[0] - 4 * model(xi[None])[0])
            assert any(torch.allclose(du[b], c, atol=1e-5) for c in cands)


def test_delta_u_runs_the_two_masked_batches_separately():
    """With BatchNorm in training mode each masked batch is normalised by its own statistics:
    Δu equals f(x_S2) − (r2/r1)·f(x_S1) from two forward passes, not from one pass of both."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 3)).train()
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    base = TabularMasker(torch.zeros(4))
    gen = torch.Generator().manual_seed(2)
    du = delta_u(model, x, r1=0.25, r2=0.75, masker_or_baseline=base, generator=gen)
    rank = torch.argsort(torch.argsort(torch.rand(6, 4, generator=torch.Generator().manual_seed(2)), 1), 1)
    m2, m1 = rank < 3, rank < 1
    separate = model(torch.where(m2, x, 0.0)) - 3 * model(torch.where(m1, x, 0.0))
    joint = model(torch.cat([torch.where(m2, x, 0.0), torch.where(m1, x, 0.0)]))
    assert torch.allclose(du, separate, atol=1e-6)
    assert not torch.allclose(du, joint[:6] - 3 * joint[6:], atol=1e-3)


@pytest.mark.parametrize("mode,r1,r2", [("boost", 0.3, 0.7), ("suppress", 0.0, 0.5),
                                        ("suppress", 0.7, 1.0)])
def test_order_loss_finite_and_differentiable(mode, r1, r2):
    x, y = _data(6)
    model = _net()
    loss = order_loss(model, x, y, r1=r1, r2=r2, mode=mode, lam=1.0, masker_or_baseline=0.0,
                      grid=4)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_order_loss_with_feature_map_masker():
    model = build("vgg11", in_channels=1, num_classes=4, seed=0)
    x, y = torch.randn(2, 1, 16, 16), torch.tensor([0, 3])
    fm = FeatureMapMasker(n_players=10, seed=0)
    extra = OrderSteeringLoss.preset("high", masker_or_baseline=fm)
    term = extra(model, x, y, None)
    assert torch.isfinite(term)
    term.backward()
    assert model.features.conv1.weight.grad is not None
    pm = PatchMasker(grid=4)
    assert torch.isfinite(order_loss(model, x, y, r1=0.3, r2=0.7, masker_or_baseline=pm))

"""ibn.train.penalty (paper B App. J): brute-force value, finite-difference gradient, zero when
the baseline agrees, integration with ibn.train.train."""

import copy
import itertools

import pytest
import torch
from torch import nn

from ibn.and_or import extract
from ibn.games import all_values
from ibn.maskers import PatchMasker, TabularMasker
from ibn.train import NonGeneralizablePenalty, effects_at, masked_l1, sample_values, train
from _oracles import square_images  # tests/ is on sys.path under pytest

torch.set_num_threads(1)
D = 4  # features = players


def _mlp(seed: int, dtype=torch.float64) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 3)).to(dtype)


def _data(n: int = 6, seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = (2 * torch.randn(n, D, generator=g)).to(dtype)
    y = torch.randint(0, 3, (n,), generator=g)
    return x, y


def _brute_values(model, x, y, base):
    """v(x_T) by one forward per coalition, log(p/(1-p)) from the softmax."""
    out = []
    for t in range(1 << D):
        xt = torch.stack([x[i] if (t >> i) & 1 else base[i] for i in range(D)])
        with torch.no_grad():
            p = torch.softmax(model(xt[None]).double(), -1)[0, y]
        out.append(float(torch.log(p / (1 - p))))
    return torch.tensor(out, dtype=torch.float64)


def _dense_effects(v, gamma, delta):
    n, m = D, 1 << D
    sub = lambda t, s: (t & s) == t  # noqa: E731  T ⊆ S
    sign = lambda s, t: (-1) ** (bin(s).count("1") - bin(t).count("1"))  # noqa: E731
    u_and = 0.5 * (v - delta) + gamma
    u_or = 0.5 * (v - delta) - gamma
    i_and = torch.tensor([sum(sign(s, t) * u_and[t] for t in range(m) if sub(t, s))
                          for s in range(m)], dtype=torch.float64)
    full = m - 1
    i_or = torch.tensor([0.0] + [-sum(sign(s, t) * u_or[full ^ t] for t in range(m) if sub(t, s))
                                 for s in range(1, m)], dtype=torch.float64)
    assert n == D
    return i_and, i_or


def test_penalty_equals_brute_force():
    model, other = _mlp(0), _mlp(1)
    x, y = _data()
    base = torch.zeros(D, dtype=torch.float64)
    masker = TabularMasker(base)
    pen = NonGeneralizablePenalty(other, masker, lam=0.5, per_batch=3)
    l1, parts = pen.terms(model, x, y)
    assert l1.shape == (3,) and l1.requires_grad
    total = 0
    for i in range(3):
        v = _brute_values(model, x[i], int(y[i]), base)
        assert torch.allclose(parts["values"][i], v, atol=1e-9)
        g, d = parts["gamma"][i], parts["delta"][i]
        i_and, i_or = _dense_effects(v, g, d)
        # the linear map with (γ, δ) fixed reproduces the extracted effects
        assert torch.allclose(i_and, parts["effects"][0][i], atol=1e-7)
        assert torch.allclose(i_or, parts["effects"][1][i], atol=1e-7)
        vb = _brute_values(other, x[i], int(y[i]), base)
        rb = extract(vb)
        tau = 0.02 * abs(float(v[-1] - v[0]))
        want = 0.0
        for s in range(1, 1 << D):
            for mine, theirs in ((i_and[s], rb.and_effects[s]), (i_or[s], rb.or_effects[s])):
                matched = abs(theirs) > tau and mine * theirs > 0
                if abs(mine) > tau and not matched:
                    want += abs(float(mine))
        assert float(l1[i].detach()) == pytest.approx(want, rel=1e-7, abs=1e-9)
        total += want
    assert want > 0  # the check is not vacuous
    loss = pen(model, x, y)
    assert float(loss.detach()) == pytest.approx(0.5 * total / 3, rel=1e-6)
    assert pen.last["samples"] == 3 and pen.last["count"] > 0


def test_gradient_matches_finite_differences():
    model, other = _mlp(2), _mlp(3)
    x, y = _data(seed=1)
    masker = TabularMasker(torch.zeros(D, dtype=torch.float64))
    pen = NonGeneralizablePenalty(other, masker, lam=1.0, per_batch=2)
    l1, parts = pen.terms(model, x, y)
    model.zero_grad()
    l1.sum().backward()
    params = list(model.parameters())

    def f() -> float:  # the same term with the decomposition and the selection held fixed
        with torch.no_grad():
            vals = torch.stack([sample_values(model, x[i], int(y[i]), masker) for i in range(2)])
            return float(masked_l1(effects_at(vals, parts["gamma"], parts["delta"]),
                                   parts["masks"]).sum())

    eps = 1e-6
    checked = 0
    for p, idx in itertools.product(params, range(3)):
        flat = p.data.view(-1)
        j = (idx * 7919) % flat.numel()
        old = float(flat[j])
        flat[j] = old + eps
        up = f()
        flat[j] = old - eps
        down = f()
        flat[j] = old
        fd = (up - down) / (2 * eps)
        assert float(p.grad.view(-1)[j]) == pytest.approx(fd, rel=1e-4, abs=1e-6)
        checked += abs(fd) > 1e-3
    assert checked >= 3  # some gradients are really non-zero


def test_zero_when_the_baseline_agrees():
    model = _mlp(4)
    x, y = _data(seed=2)
    masker = TabularMasker(torch.zeros(D, dtype=torch.float64))
    same = NonGeneralizablePenalty(copy.deepcopy(model), masker, per_batch=4)
    l1, parts = same.terms(model, x, y)
    assert torch.all(l1 == 0) and all(int(m.sum()) == 0 for m in parts["masks"])
    # ... and not zero with a different baseline, nor without any baseline
    assert float(NonGeneralizablePenalty(_mlp(5), masker, per_batch=4).terms(model, x, y)[0].detach().sum()) > 0
    none = NonGeneralizablePenalty([], masker, per_batch=4).terms(model, x, y)[0].detach()
    assert torch.all(none >= l1) and float(none.sum()) > 0


def test_patch_masker_values_match_all_values():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    img = torch.randn(1, 4, 4, dtype=torch.float64)
    masker = PatchMasker(grid=(2, 2), baseline=0.0)
    v = sample_values(net, img, 1, masker)
    assert v.requires_grad
    assert torch.allclose(v.detach(), all_values(net, img, masker, target=1), atol=1e-12)


def test_feature_map_values_match_a_hand_masked_map_with_gradients():
    from ibn.maskers import FeatureMapMasker
    from ibn.models import SmallCNN

    torch.manual_seed(0)
    net = SmallCNN(width=2).double().eval()
    img = torch.randn(1, 32, 32, dtype=torch.float64)
    masker = FeatureMapMasker(n_players=4, seed=3)
    v = sample_values(net, img, 7, masker)
    assert v.requires_grad
    h = net.features[:4](img[None])  # the map after relu2, (1, 4, 16, 16): cells of 2x2
    prefix_out = []
    for t in range(1 << 4):
        hm = h.clone()
        for bit, cell in enumerate(masker.players):
            if not (t >> bit) & 1:
                r, c = divmod(int(cell), 8)
                hm[..., 2 * r:2 * r + 2, 2 * c:2 * c + 2] = 0.0
        with torch.no_grad():
            p = torch.softmax(net.classifier(net.avgpool(net.features[4:](hm))), -1)[0, 7]
        prefix_out.append(float(torch.log(p / (1 - p))))
    assert torch.allclose(v.detach(), torch.tensor(prefix_out, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(v.detach(), all_values(net, img, masker, target=7), atol=1e-12)


def _nongen_l1(model, pen, x, y):
    eval_pen = NonGeneralizablePenalty(pen.baselines, pen.masker, per_batch=len(y), cache=pen.cache)
    return float(eval_pen.terms(model, x, y, torch.arange(len(y)))[0].detach().sum())


def test_training_with_the_penalty_reduces_the_nongeneralizable_l1():
    x, y = _data(n=8, seed=3, dtype=torch.float32)
    model, other = _mlp(6, torch.float32), _mlp(7, torch.float32)
    masker = TabularMasker(torch.zeros(D))
    pen = NonGeneralizablePenalty(other, masker, lam=1.0, per_batch=8)
    before = _nongen_l1(model, pen, x, y)
    hist = train(model, (x, y), epochs=15, batch_size=8, optimizer="adam", lr=3e-3,
                 extra_loss=pen, progress=False)
    after = _nongen_l1(model, pen, x, y)
    assert before > 0 and after < 0.5 * before
    assert sorted(pen.cache) == list(range(8))  # baseline effects cached by training index
    assert hist.records[-1]["train_extra_loss"] < hist.records[0]["train_extra_loss"]
    assert hist.config["extra_loss"][0]["loss"] == "nongeneralizable_penalty"


def test_argument_checks():
    masker = TabularMasker(torch.zeros(D))
    with pytest.raises(ValueError):
        NonGeneralizablePenalty(_mlp(0), masker, per_batch=0)
    with pytest.raises(ValueError):
        NonGeneralizablePenalty(_mlp(0), masker, lam=-1.0)


# ---------------------------------------------------------------- papers.penalty

_images = square_images(300, 60)


@pytest.fixture
def images(monkeypatch):
    from papers import penalty as P

    def clear():
        P.load_splits.cache_clear()
        P._reference_effects.cache_clear()
        P._PEN_CACHE.clear()

    monkeypatch.setattr(P, "load_images", _images)
    clear()
    yield P
    clear()


def test_splits_are_disjoint_and_sized(images):
    P = images
    s = P.load_splits("mnist", 50, 40)
    assert len(s.val[1]) == 50 and len(s.ref[1]) == 40 and len(s.test[1]) == 60
    assert len(s.pool[1]) == 300 - 90 and s.pool[0].shape[1:] == (1, 32, 32)
    rows = {tuple(r.tolist()) for part in (s.pool, s.val, s.ref) for r in part[0].flatten(1)}
    assert len(rows) == 300
    masker = P.masker_for({"n_players": 8})
    assert masker.n_players == 8 and len(set(masker.players)) == 8
    assert all(1 <= c // 8 <= 6 and 1 <= c % 8 <= 6 for c in masker.players)  # central 6x6
    assert masker.players == P.masker_for({"n_players": 8}).players  # the same for every image
    with pytest.raises(ValueError, match="dataset"):
        P.load_splits("digits", 50, 40)
    with pytest.raises(ValueError, match="n_val"):
        P.load_splits("mnist", 200, 100)


def test_summary_and_verdict_rule():
    from papers import penalty as P

    def run(seed, lam, acc, share):
        return {"setting": "scarce", "seed": seed, "lam": lam, "test_acc": acc, "train_acc": 1.0,
                "heldout_share": share, "heldout_strength": 1.0, "heldout_non_strength": 0.5,
                "train_share_pen": 0.5, "train_non_strength_pen": 0.5}

    runs = [run(1, 0.0, 0.90, 0.5), run(2, 0.0, 0.92, 0.5), run(1, 0.1, 0.95, 0.51),
            run(2, 0.1, 0.97, 0.49)]
    rows = P.summarize(runs)
    pen = next(r for r in rows if r["lam"] == 0.1)
    assert pen["test_acc"] == pytest.approx(0.96) and pen["d_test_acc"] == pytest.approx(0.05)
    assert pen["test_acc_sd"] == pytest.approx(0.02 / 2 ** 0.5)
    v = P.verdicts(rows)[0]
    assert v["test_acc improved"] and not v["heldout_share improved"]


def test_run_one_smoke(tmp_path, monkeypatch, images):
    P = images
    monkeypatch.setenv("IBN_DATA", str(tmp_path))
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    p = dict(P.PRESETS["smoke"], scale="test", n_val=50, n_ref=50, n_eval=2,
             epochs={"full": 1, "scarce": 2}, baseline_epochs=1, n_scarce=40, n_players=4)
    plain, pen = P.run_one(p, "scarce", 1, 0.0), P.run_one(p, "scarce", 1, 1.0)
    for r in (plain, pen):
        assert 0 <= r["test_acc"] <= 1 and 0 <= r["heldout_share"] <= 1
        assert r["curve_total"].shape == (2, 5)
    assert float(pen["extra_curve"][0]) > 0 and float(plain["extra_curve"][0]) == 0
    assert list((tmp_path / "results").iterdir())
    assert P.run_key(p, "scarce", 1, 0.0)["n_train"] == 40
    assert P.run_key(p, "full", 1, 0.0)["n_train"] == p["n_full"]
    with pytest.raises(ValueError):
        P.run_key(p, "huge", 1, 0.0)

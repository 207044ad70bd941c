"""Tests of ibn.games against naive formulas and hand-written loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ibn import games
from ibn.transforms import all_masks


class Tabular:
    """Tiny test masker: keep feature i or replace it by the baseline."""

    def __init__(self, baseline: torch.Tensor):
        self.baseline = baseline
        self.n_players = baseline.numel()

    def __call__(self, model, x, masks):
        xs = torch.where(masks, x.unsqueeze(0), self.baseline.to(x.device).unsqueeze(0))
        return model(xs)


def mlp(n: int, classes: int = 3, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(n, 8), torch.nn.ReLU(), torch.nn.Linear(8, classes))
    return model.double().eval()


def test_log_odds_equals_naive_formula():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 4, 7, generator=g, dtype=torch.float64)
    target = torch.randint(7, (5, 4), generator=g)
    p = torch.softmax(logits, -1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(games.log_odds(logits, target), torch.log(p / (1 - p)))
    q = torch.softmax(logits[0, 0], -1)[2]
    torch.testing.assert_close(games.log_odds(logits[0, 0], 2), torch.log(q / (1 - q)))


def test_log_odds_finite_for_huge_logits():
    logits = torch.tensor([[1e30, 0.0, -1e30], [0.0, 1e300, 1e300], [-1e4, 1e4, 0.0]], dtype=torch.float64)
    v = games.log_odds(logits, torch.tensor([0, 1, 0]))
    assert torch.isfinite(v).all()
    assert v[0].item() == pytest.approx(1e30)
    assert v[1].item() == pytest.approx(0.0, abs=1e-12)  # two equal winners: p = 1/2
    assert v[2].item() == pytest.approx(-2e4)
    # float32 logits are promoted: no overflow in exp
    assert torch.isfinite(games.log_odds(torch.tensor([[80.0, -80.0]], dtype=torch.float32), 1)).all()


def test_log_odds_single_logit_and_bad_targets():
    z = torch.tensor([[2.0], [-1.0]])
    torch.testing.assert_close(games.log_odds(z, torch.tensor([1, 0])), torch.tensor([2.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="out of range"):
        games.log_odds(torch.zeros(2, 3), 3)
    with pytest.raises(TypeError, match="integer"):
        games.log_odds(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))


def test_all_values_matches_hand_loop_and_chunking():
    n = 5
    model = mlp(n)
    x = torch.randn(n, dtype=torch.float64)
    masker = Tabular(torch.zeros(n, dtype=torch.float64))
    assert isinstance(masker, games.Masker)
    game = games.all_values(model, x, masker, target=1, batch_size=7)
    v = game.values
    assert isinstance(game, games.Game) and game.n == n and game.target == 1
    assert v.shape == (32,) and v.dtype == torch.float64
    for T in range(32):
        xt = torch.tensor([x[i].item() if T >> i & 1 else 0.0 for i in range(n)], dtype=torch.float64)
        logits = model(xt).detach()
        p = torch.softmax(logits, -1)[1]
        assert v[T].item() == pytest.approx(math.log(p / (1 - p)), abs=1e-10)
    for bs in (1, 3, 32, 1000, None):
        torch.testing.assert_close(games.all_values(model, x, masker, target=1, batch_size=bs).values,
                                   v, rtol=0, atol=1e-12)
    # target=None: the class predicted on the unmasked input, and the Game says which
    predicted = int(model(x).argmax())
    chosen = games.all_values(model, x, masker)
    assert chosen.target == predicted
    torch.testing.assert_close(chosen.values, games.all_values(model, x, masker, target=predicted).values)
    # a custom reward, and evaluate on a subset of masks
    masks = all_masks(n)[[31, 0, 6]]
    out = games.evaluate(model, x, masker, masks, reward=lambda o, t: o[:, 0])
    torch.testing.assert_close(out, model(torch.where(masks, x, 0.0))[:, 0].detach())


def test_budget_refusal_message():
    with pytest.raises(ValueError) as err:
        games.all_values(lambda m: m.sum(1), n=21)
    msg = str(err.value)
    assert "2,097,152" in msg and "max_players=21" in msg and "forward passes" in msg
    v = games.all_values(lambda m: m.sum(1), n=3, max_players=3)
    torch.testing.assert_close(v.values, torch.tensor([0, 1, 1, 2, 1, 2, 2, 3], dtype=torch.float64))


def test_nan_rewards_named():
    n = 4
    model = mlp(n)
    masker = Tabular(torch.full((n,), float("nan"), dtype=torch.float64))
    x = torch.ones(n, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"non-finite reward for 15 of 16 masks; first: #0 \(players \[\]\)"):
        games.all_values(model, x, masker, target=0)

    def fn(masks):
        out = masks.sum(1).double()
        out[masks[:, 2]] = float("inf")
        return out

    with pytest.raises(ValueError, match=r"#4 \(players \[2\]\)"):
        games.all_values(fn, n=3, batch_size=2)


def test_plain_callable_path_numpy_and_torch():
    w = np.array([1.0, -2.0, 0.5, 3.0])
    np_fn = lambda m: np.asarray(m, dtype=float) @ w  # noqa: E731
    v = games.all_values(np_fn, n=4)
    expected = all_masks(4).double() @ torch.as_tensor(w)
    torch.testing.assert_close(v.values, expected)
    masks = all_masks(4)[5:9]
    torch.testing.assert_close(games.evaluate(np_fn, masks=masks), expected[5:9])
    torch.testing.assert_close(games.evaluate_fn(np_fn, masks, batch_size=3, as_numpy=True), expected[5:9])
    with pytest.raises(ValueError, match="must return 4 values"):
        games.evaluate_fn(lambda m: np.zeros(3), masks)
    with pytest.raises(ValueError, match="masks"):
        games.evaluate(np_fn)


def test_bad_inputs():
    model = mlp(3)
    masker = Tabular(torch.zeros(3, dtype=torch.float64))
    x = torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="4 columns but there are 3 players"):
        games.evaluate(model, x, masker, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="disagrees"):
        games.all_values(model, x, masker, n=4)
    with pytest.raises(ValueError, match="needs n"):
        games.all_values(lambda m: m.sum(1))
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        games.all_values(model, x, masker, target=0)


def test_game_carries_names_target_and_origin_and_reads_as_its_values():
    from ibn.and_or import extract
    from ibn.maskers import PatchMasker
    from ibn.transforms import mobius

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
    x = torch.randn(1, 4, 4)
    masker = PatchMasker(grid=2, cells=[0, 3])
    game = games.all_values(model, x, masker)
    assert game.n == 2 and game.names == ("cell (0, 0)", "cell (1, 1)") and game.players == (0, 3)
    assert game.target == int(model(x[None]).argmax())
    assert game.made_by["model"] == "Sequential" and game.made_by["reward"] == "log_odds"
    assert game.made_by["masker"]["masker"] == "PatchMasker"
    # wherever values are read, a Game is read as its values (torch, numpy, the library)
    torch.testing.assert_close(torch.stack([game, game]), game.values.expand(2, 4))
    assert np.array_equal(np.asarray(game), game.values.numpy())
    assert game[3].item() == game.values[3].item()
    torch.testing.assert_close(mobius(game), mobius(game.values))
    assert torch.equal(extract(game).and_effects, extract(game.values).and_effects)
    assert torch.equal(extract([game, game]).and_effects[1], extract(game.values).and_effects)
    assert "cell (0, 0)" in repr(game)
    with pytest.raises(ValueError, match="2 names"):
        games.Game(game.values, ("a",), (0, 1))
    with pytest.raises(ValueError, match="one game"):
        games.Game(torch.zeros(2, 4, dtype=torch.float64), ("a", "b"), (0, 1))

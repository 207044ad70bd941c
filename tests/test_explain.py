"""Oracle tests of ibn.explain / ibn.Explanation: the pipeline done by hand (all_values + one
extract call, bit for bit), brute-force multi-order interactions, the universal-matching identity,
and shapiq's ExactComputer for the AND (Moebius) and OR (Co-Moebius) parts."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

import ibn
from ibn import games, transforms as tf
from ibn.and_or import extract
from ibn.and_or.synthetic import planted_game
from ibn.explanation import EXPLANATION_FORMAT, Explanation
from ibn.maskers import player_names
from ibn.maskers import FeatureMapMasker, PatchMasker, TabularMasker
from _oracles import brute_force  # tests/ is on sys.path under pytest

matplotlib.use("Agg")

N = 5  # players of the tiny CNN's masker: 32 coalitions per input


def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 8 * 8, 4)).eval()


@pytest.fixture(scope="module")
def setup():
    model = tiny_cnn()
    masker = PatchMasker(grid=4, n_players=N, central=4, seed=0)
    xs = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    expl = ibn.explain(model, xs, masker, multiorder=True)
    return model, masker, xs, expl


def _same_result(a, b) -> None:
    for name in ("and_effects", "or_effects", "gamma", "delta", "objective", "values", "zeta",
                 "lower_bound"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and torch.equal(x, y), name


# ---------------------------------------------------------------- the pipeline


def test_explain_equals_all_values_and_extract_by_hand(setup):
    model, masker, xs, _ = setup
    targets = [0, 3, 1]
    expl = ibn.explain(model, xs, masker, targets=targets, noise_bound=0.05, solver="fast")
    values = torch.stack([games.all_values(model, x, masker, target=t) for x, t in zip(xs, targets)])
    _same_result(expl.result, extract(values, noise_bound=0.05, solver="fast"))
    assert expl.targets.tolist() == targets and len(expl) == 3 and not expl.single
    assert expl.values.shape == (3, 1 << N) and expl.multiorder is None


def test_batch_equals_one_at_a_time(setup):
    model, masker, xs, expl = setup
    for i in range(len(xs)):
        one = ibn.explain(model, xs[i], masker, multiorder=True)
        assert one.single and len(one) == 1 and one.and_effects.shape == (1 << N,)
        _same_result(one.result, expl[i].result)
        assert torch.equal(one.multiorder, expl.multiorder[i:i + 1])
        assert one.targets.tolist() == [int(expl.targets[i])]
    # a list of inputs is a batch too
    _same_result(ibn.explain(model, list(xs), masker, multiorder=True).result, expl.result)


def test_targets_none_is_the_predicted_class(setup):
    model, masker, xs, expl = setup
    with torch.no_grad():
        assert expl.targets.tolist() == model(xs).argmax(1).tolist()
    for i, x in enumerate(xs):  # the same values as all_values' own target=None
        assert torch.equal(expl.result.values[i], games.all_values(model, x, masker))


def test_universal_matching_and_noise_bound(setup):
    """b + Σ_{∅≠S⊆T} I^AND_S + Σ_{S∩T≠∅} I^OR_S = v_T − δ_T, |δ| ≤ ζ (Conventions page,
    eq-universal-matching), on the model's own values."""
    _, _, _, expl = setup
    r = expl.result
    a = r.and_effects.clone()
    a[:, 0] = 0
    recon = tf.zeta(a) + tf.or_zeta(r.or_effects) + r.and_effects[:, :1]
    torch.testing.assert_close(recon, r.values - r.delta, rtol=0, atol=1e-9)
    assert (r.delta.abs() <= r.zeta[:, None] * (1 + 1e-9) + 1e-12).all()
    assert torch.equal(r.bias, r.values[:, 0])


def test_multiorder_against_brute_force(setup):
    _, _, _, expl = setup
    want = brute_force(expl.result.values[0], N)
    for i, j in itertools.combinations(range(N), 2):
        for m in range(N - 1):
            assert expl.multiorder[0, m, i, j].item() == pytest.approx(want[m, i, j].item(), abs=1e-12)


# ---------------------------------------------------------------- names, tables, figures


def test_player_names_of_each_masker():
    pm = PatchMasker(grid=(4, 5), cells=[0, 7, 19])
    assert player_names(pm) == ["cell (0, 0)", "cell (1, 2)", "cell (3, 4)"]
    fm = FeatureMapMasker(grid=8, cells=[9, 63])
    assert player_names(fm) == ["cell (1, 1)", "cell (7, 7)"]
    assert player_names(TabularMasker(torch.zeros(6), features=[1, 4])) == ["feature 1", "feature 4"]

    class Plain:
        n_players = 3

        def __call__(self, model, x, masks):
            return masks.sum(1, keepdim=True).double()

    assert player_names(Plain()) == ["player 0", "player 1", "player 2"]
    plain = Plain()
    plain.players = ["good", "bad", "good"]
    assert player_names(plain) == ["good [0]", "bad", "good [2]"]


def test_top_names_order_and_effects(setup):
    _, masker, _, expl = setup
    names = [f"cell {divmod(c, 4)}" for c in masker.players]
    assert expl.players == [names] * 3
    table = expl.top(4)
    assert list(table.columns) == ["sample", "kind", "players", "order", "effect", "coalition"]
    for s in range(3):
        rows = table[table["sample"] == s]
        eff = {"AND": expl.result.and_effects[s], "OR": expl.result.or_effects[s]}
        nonzero = int((eff["AND"][1:] != 0).sum() + (eff["OR"][1:] != 0).sum())
        assert len(rows) == min(4, nonzero)
        mags = rows["effect"].abs().tolist()
        assert mags == sorted(mags, reverse=True)
        allmags = torch.cat([eff["AND"][1:], eff["OR"][1:]]).abs().sort(descending=True).values
        assert mags == allmags[:len(mags)].tolist()  # the strongest ones
        for r in rows.itertuples():
            members = [i for i in range(N) if r.coalition >> i & 1]
            assert r.players == ", ".join(names[i] for i in members) and r.order == len(members)
            assert r.effect == eff[r.kind][r.coalition].item()
    one = expl[1].top(3)
    assert "sample" not in one.columns and len(one) <= 3
    assert one.reset_index(drop=True).equals(
        table[table["sample"] == 1].drop(columns="sample").head(3).reset_index(drop=True))


def test_plot_bars_and_orders(setup):
    import matplotlib.pyplot as plt

    _, _, _, expl = setup
    one = expl[0]
    fig = one.plot(k=6)
    bars_ax, order_ax = fig.axes[:2]
    table = one.top(6)
    assert len(bars_ax.patches) == len(table) > 0
    widths = [p.get_width() for p in bars_ax.patches]
    assert widths == pytest.approx(table["effect"].tolist())
    ticks = sorted(zip(bars_ax.get_yticks(), bars_ax.get_yticklabels()), key=lambda t: -t[0])
    labels = [t.get_text() for _, t in ticks]  # from the top: the strongest first
    assert [p.get_y() for p in bars_ax.patches] == sorted(p.get_y() for p in bars_ax.patches)[::-1]
    for label, row in zip(labels, table.itertuples()):
        assert label.startswith(row.kind) and row.players.split(", ")[0] in label
    colors = {p.get_facecolor() for p in bars_ax.patches}
    assert len(colors) == len(set(table["kind"]))
    assert len(order_ax.patches) == 2 * N  # AND and OR for each order 1..n
    per = one.order_strength()
    heights = [p.get_height() for p in order_ax.patches]
    assert heights == pytest.approx(per["AND"].tolist() + per["OR"].tolist())
    plt.close(fig)
    fig2, ax = plt.subplots()
    assert one.plot(ax=ax, k=2) is fig2 and len(ax.patches) == min(2, len(table))
    plt.close(fig2)
    with pytest.raises(ValueError, match="expl\\[i\\]"):
        expl.plot()


# ---------------------------------------------------------------- files


def test_save_load_round_trip_bit_exact(setup, tmp_path):
    _, _, _, expl = setup
    for e, name in ((expl, "batch.pt"), (expl[2], "one.pt")):
        path = e.save(tmp_path / name)
        back = ibn.load(path)
        _same_result(back.result, e.result)
        assert back.result.info == e.result.info and back.result.n == e.result.n
        assert back.result.solver == e.result.solver
        assert back.result.noise_bound == e.result.noise_bound
        assert back.players == e.players and back.single == e.single
        assert torch.equal(back.targets, e.targets) and torch.equal(back.multiorder, e.multiorder)
        raw = torch.load(path, weights_only=True)  # plain data: no pickled code needed
        assert raw["format"] == "ibn.explanation" and raw["version"] == EXPLANATION_FORMAT
    # a batch's row is stored alone, not with the whole batch's storage
    assert (tmp_path / "one.pt").stat().st_size < (tmp_path / "batch.pt").stat().st_size


def test_load_refuses_other_versions_and_files(setup, tmp_path):
    _, _, _, expl = setup
    path = expl.save(tmp_path / "e.pt")
    data = torch.load(path, weights_only=True)
    data["version"] = EXPLANATION_FORMAT + 1
    torch.save(data, tmp_path / "v2.pt")
    with pytest.raises(ValueError) as ei:
        ibn.load(tmp_path / "v2.pt")
    msg = str(ei.value)
    assert "\n" not in msg and f"version {EXPLANATION_FORMAT + 1}" in msg
    assert f"reads version {EXPLANATION_FORMAT}" in msg
    torch.save({"a": torch.zeros(2)}, tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    for bad in ("other.pt", "junk.pt"):
        with pytest.raises(ValueError, match="not an ibn explanation file") as ei:
            ibn.load(tmp_path / bad)
        assert "\n" not in str(ei.value)
    with pytest.raises(FileNotFoundError):
        ibn.load(tmp_path / "missing.pt")


# ---------------------------------------------------------------- shapiq


def _game_of(u: torch.Tensor):
    """A shapiq game (a coalition matrix (k, n) -> values) reading the vector u, bit i = player i."""
    def game(coalitions: np.ndarray) -> np.ndarray:
        return u.numpy()[tf.masks_to_index(torch.as_tensor(coalitions, dtype=torch.bool)).numpy()]
    return game


def _check_against_exact_computer(e: Explanation) -> None:
    from shapiq import ExactComputer

    n = e.n
    ours = e.to_shapiq()
    r = e.result
    assert ours["and"].index == "Moebius" and ours["or"].index == "Co-Moebius"
    for part, u, index in (("and", r.u_and[0], "Moebius"), ("or", r.u_or[0], "Co-Moebius")):
        theirs = ExactComputer(_game_of(u), n_players=n)(index)
        mine = ours[part].dict_values
        assert set(mine) == set(theirs.dict_values) and len(mine) == 1 << n
        for S, value in theirs.dict_values.items():
            assert mine[S] == pytest.approx(value, abs=1e-9), (part, S)
        assert ours[part].baseline_value == pytest.approx(theirs.baseline_value, abs=1e-12)
    for S, value in ours["or"].dict_values.items():  # I^OR_S = (−1)^(|S|+1) · Co-Möbius_S
        mask = sum(1 << i for i in S)
        if S:
            assert r.or_effects[0, mask].item() == (-1) ** (len(S) + 1) * value
    for S, value in ours["and"].dict_values.items():
        assert r.and_effects[0, sum(1 << i for i in S)].item() == value


def test_to_shapiq_on_a_planted_game():
    g = planted_game(6, batch=2, noise=0.5, seed=3)
    res = extract(g.values)
    expl = Explanation(res, [[f"p{i}" for i in range(6)]] * 2, torch.tensor([-1, -1]))
    for i in range(2):
        _check_against_exact_computer(expl[i])
    with pytest.raises(ValueError, match="expl\\[i\\]"):
        expl.to_shapiq()


def test_to_shapiq_on_a_tiny_model(setup):
    _, _, _, expl = setup
    _check_against_exact_computer(expl[1])


# ---------------------------------------------------------------- other inputs


def test_tabular_batch_and_names():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1)).eval()  # one logit
    masker = TabularMasker(torch.zeros(6), features=[0, 2, 3, 5])
    xs = torch.randn(4, 6)
    expl = ibn.explain(model, xs, masker, names=["age", "dose", "sex", "bmi"])
    with torch.no_grad():
        assert expl.targets.tolist() == (model(xs)[:, 0] > 0).long().tolist()
    assert expl.players[0] == ["age", "dose", "sex", "bmi"]
    one = ibn.explain(model, xs[0], masker)
    assert one.single and one.players == [["feature 0", "feature 2", "feature 3", "feature 5"]]
    _same_result(one.result, expl[0].result)


def test_text_inputs_with_a_masker_per_text():
    pytest.importorskip("transformers")
    from _tiny_text import tiny_tokenizer

    from ibn.maskers import TokenMasker
    from ibn.models import build

    tok = tiny_tokenizer()
    texts = ["the movie was wonderful and moving", "a boring film , not good acting !"]
    maskers = [TokenMasker(tok, t, n_players=3, seed=0) for t in texts]
    model = build("bert_medium", vocab_size=len(tok), num_layers=1, hidden=16, heads=2,
                  intermediate=32, seed=0).eval()
    expl = ibn.explain(model, texts, maskers, targets=1)
    for i, (t, m) in enumerate(zip(texts, maskers)):
        assert expl.players[i] == [p["word"] for p in m.players]
        assert torch.equal(expl.result.values[i], games.all_values(model, t, m, target=1))
    assert set(expl.top(2)["players"]) <= {", ".join(c) for p in expl.players
                                           for k in range(1, 4) for c in itertools.combinations(p, k)}


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("kwargs, error, words", [
    ({"targets": [0, 1]}, ValueError, "targets must give one class per input (3)"),
    ({"targets": [0, 1, 9]}, ValueError, "targets[2] = 9"),
    ({"targets": 0.5}, TypeError, "targets must be class indices"),
    ({"multiorder": "yes"}, TypeError, "multiorder must be True or False"),
    ({"batch_size": 0}, ValueError, "batch_size must be"),
    ({"names": ["a", "b"]}, ValueError, "names must be 5 strings"),
    ({"noise_bound": -1.0}, ValueError, "noise_bound"),
    ({"bogus": 1}, TypeError, "bogus"),
    ({"max_players": 4}, ValueError, "above the limit max_players = 4"),
])
def test_bad_arguments_are_one_line_errors(setup, kwargs, error, words):
    model, masker, xs, _ = setup
    with pytest.raises(error) as ei:
        ibn.explain(model, xs, masker, **kwargs)
    assert words in str(ei.value) and "\n" not in str(ei.value)


def test_bad_inputs_and_maskers(setup):
    model, masker, xs, expl = setup
    with pytest.raises(ValueError, match="3 dimensions .one input. or 4"):
        ibn.explain(model, xs[0, 0], masker)
    with pytest.raises(TypeError, match="masker must be an ibn masker"):
        ibn.explain(model, xs, object())
    with pytest.raises(ValueError, match="one masker per input"):
        ibn.explain(model, xs, [masker, masker])
    with pytest.raises(ValueError, match="empty list"):
        ibn.explain(model, [], masker)
    with pytest.raises(TypeError, match="model must be"):
        ibn.explain(42, xs, masker)
    with pytest.raises(ValueError, match="k must be"):
        expl.top(0)
    with pytest.raises(IndexError):
        expl[3]

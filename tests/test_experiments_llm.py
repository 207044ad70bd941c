"""Oracle tests of papers.llm (paper B Fig. 6): word-removal masking, AND-OR logical
model, universal matching, top-k explanation. A fake tokenizer and a fake LM with a planted
AND-OR game keep them fast; one slow test runs SmolLM2 when its file is present."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from ibn import games
from ibn.and_or import extract
from ibn import transforms as tf
from papers import llm as L


class FakeTokenizer:
    """Whitespace words → ids; the word "Eiffel" is two tokens (to test word grouping)."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {"<pad>": 0}
        self.pad_token_id = 0
        self.eos_token_id = 0

    def _id(self, piece: str) -> int:
        return self.vocab.setdefault(piece, len(self.vocab))

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        ids = []
        for w in text.split():
            if w == "Eiffel":
                ids += [self._id("Eif"), self._id("fel")]
            else:
                ids.append(self._id(w))
        return {"input_ids": ids}


class PlantedLM(nn.Module):
    """Logits (B, 2) = [0, z]: z = 2·[a ∧ b] + 1·[c ∨ d] − 0.5·[b] + 0.25 over the PRESENT tokens
    (attention_mask = 1), so the log-odds of class 1 is exactly z."""

    def __init__(self, ids: dict[str, int]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.ids = ids

    def forward(self, input_ids, attention_mask=None, **_):
        att = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        has = {k: ((input_ids == i) & (att == 1)).any(1).double() for k, i in self.ids.items()}
        z = 2 * has["a"] * has["b"] + torch.maximum(has["c"], has["d"]) - 0.5 * has["b"] + 0.25
        return torch.stack([torch.zeros_like(z), z], 1) + self.w.double()


TEXT = "the cat a , and b . c then d"


def _setup():
    tok = FakeTokenizer()
    masker = L.WordRemovalMasker(tok, TEXT, ["d", "a", "c", "b"])
    ids = {k: tok.vocab[k] for k in "abcd"}
    return tok, masker, PlantedLM(ids).eval()


def test_split_words_roundtrip():
    t = "The Eiffel Tower, the famous landmark, stands in the city of"
    segs = L.split_words(t)
    assert "".join(segs) == t
    assert [s.strip() for s in segs][:4] == ["The", "Eiffel", "Tower", ","]


def test_players_in_sentence_order_and_removal():
    tok, masker, _ = _setup()
    assert masker.players == ["a", "b", "c", "d"]  # sentence order, not the given order
    b = masker.batch(torch.tensor([[True, False, True, False], [True, True, True, True]]))
    row0 = b["input_ids"][0][b["attention_mask"][0] == 1].tolist()
    assert tok.vocab["b"] not in row0 and tok.vocab["d"] not in row0
    assert tok.vocab["a"] in row0 and tok.vocab["cat"] in row0  # non-players always stay
    assert b["attention_mask"][1].sum() == len(masker.input_ids)
    assert masker.texts(torch.tensor([[True, False, True, False]]))[0] == "the cat a , and . c then"


def test_multi_token_word_is_one_player():
    tok = FakeTokenizer()
    m = L.WordRemovalMasker(tok, "the Eiffel tower", ["Eiffel", "tower"])
    keep = m.keep_tokens(torch.tensor([[False, True]]))
    assert keep.tolist() == [[True, False, False, True]]


def test_replace_mode_keeps_length():
    tok, _, _ = _setup()
    m = L.WordRemovalMasker(tok, TEXT, ["a", "b"], mode="replace", replace_id=99)
    b = m.batch(torch.tensor([[False, True]]))
    assert b["input_ids"].shape[1] == len(m.input_ids)
    assert (b["input_ids"][0] == 99).sum() == 1


def test_unknown_player_raises():
    with pytest.raises(ValueError, match="not found"):
        L.WordRemovalMasker(FakeTokenizer(), TEXT, ["zebra"])


def test_planted_game_recovered_and_universal_matching():
    _, masker, lm = _setup()
    v = games.all_values(lm, None, masker, target=1)
    # oracle: v by hand for every coalition (players a, b, c, d = bits 0..3)
    for T in range(16):
        a, b, c, d = (T >> i & 1 for i in range(4))
        assert v[T].item() == pytest.approx(2 * a * b + max(c, d) - 0.5 * b + 0.25, abs=1e-12)
    eff = extract(v, noise_bound=0.0)
    a_eff, o_eff = eff.and_effects, eff.or_effects
    assert a_eff[0].item() == pytest.approx(0.25)
    assert a_eff[0b0011].item() == pytest.approx(2.0, abs=1e-8)
    assert o_eff[0b1100].item() == pytest.approx(1.0, abs=1e-8)
    # the sparsest decomposition has L1 = 2 + 1 + 0.5 (the −0.5 on b may be AND or OR)
    l1 = a_eff[1:].abs().sum() + o_eff[1:].abs().sum()
    assert l1.item() == pytest.approx(3.5, abs=1e-8)
    masks = tf.all_masks(4)
    assert torch.allclose(L.predict(a_eff, o_eff, masks), v - eff.delta, atol=1e-10)


def test_predict_matches_brute_force():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(8, generator=g, dtype=torch.float64)
    o = torch.randn(8, generator=g, dtype=torch.float64)
    masks = torch.tensor(list(itertools.product([False, True], repeat=3)))
    h = L.predict(a, o, masks)
    for row, hv in zip(masks, h):
        T = sum(1 << i for i in range(3) if row[i])
        ref = a[0] + sum(a[S] for S in range(1, 8) if S & T == S) + sum(o[S] for S in range(1, 8) if S & T)
        assert hv.item() == pytest.approx(float(ref), abs=1e-12)


def test_topk_explained_and_labels():
    _, masker, lm = _setup()
    v = games.all_values(lm, None, masker, target=1)
    eff = extract(v, noise_bound=0.0)
    rows = L.topk_explained(v, eff.and_effects, eff.or_effects, [0, 1, 3])
    assert rows[0]["r2"] < rows[1]["r2"] < 1.0
    assert rows[2]["r2"] == pytest.approx(1.0, abs=1e-10)
    assert L.k_for_r2(v, eff.and_effects, eff.or_effects, 0.999) == 3
    pats = L.salient_patterns(eff.and_effects, eff.or_effects, tau=0.1)
    assert pats[0]["kind"] == "AND" and pats[0]["mask"] == 0b0011
    assert L.pattern_label(0b1100, masker.players, "OR") == "c ∨ d"
    assert L.pattern_label(0b0011, masker.players, "AND") == "a ∧ b"


def test_unique_words_numbers_repeats():
    assert L.unique_words(["apples", "x", "apples"]) == ["apples(1)", "x", "apples(2)"]
    assert L.pattern_label(0b101, ["apples", "x", "apples"], "OR") == "apples(1) ∨ apples(2)"


def test_random_masks_seeded():
    m1, m2 = L.random_masks(6, 10, seed=3), L.random_masks(6, 10, seed=3)
    assert m1.dtype == torch.bool and m1.shape == (10, 6) and torch.equal(m1, m2)


@pytest.mark.data
@pytest.mark.slow
def test_smollm2_removal_masker_full_prompt_matches_plain_forward():
    from ibn.data import smollm2_path

    if not smollm2_path().is_file():
        pytest.skip("SmolLM2 weights not fetched")
    torch.set_num_threads(2)
    lm = L.load_lm()
    tok = lm.tokenizer
    text = "The Eiffel Tower stands in the city of"
    m = L.WordRemovalMasker(tok, text, ["Eiffel", "Tower", "city"])
    plain = tok(text, return_tensors="pt")["input_ids"][0]
    assert torch.equal(m.input_ids, plain)
    y = L.target_id(tok, " Paris")
    v = games.evaluate(lm, None, m, torch.tensor([[True, True, True], [False, False, True]]),
                       target=y)
    with torch.inference_mode():
        ref = games.log_odds(lm(input_ids=plain[None]), y)
    assert v[0].item() == pytest.approx(ref.item(), abs=1e-4)
    assert v[0] > v[1]  # removing "Eiffel Tower" lowers the log-odds of " Paris"

"""Paper B Fig. 6: the AND-OR logical model of a language model's next-token prediction.

Players are n words of a prompt; the game value is the log-odds of a target next token
(paper B eq. 1; Conventions page, eq-reward), v(x_T) = logit_{y*} − logsumexp(other logits),
computed by a causal LM (SmolLM2-135M, :func:`ibn.models.smollm2`) on the masked prompt x_T.

**Masking baseline (decision).** SmolLM2 has no [MASK] token. A masked word is **removed**
from the prompt (:class:`WordRemovalMasker`, ``mode="remove"``): the LM then reads a shorter,
grammatical-looking prompt without the word, which is the closest a causal LM comes to "this
word is absent"; any replacement token would itself be a word with its own meaning (and
would add interactions of its own with the others). Words that are not players always stay.
``mode="replace"`` (every token of a masked word replaced by one fixed token, e.g. the
end-of-text token) is available for comparison.

The 2^n values are decomposed by the sparsest AND-OR decomposition (paper B eq. 17;
Conventions page, eq-sparsest) with
``ibn.and_or.extract``. :func:`predict` evaluates the logical model
h(x_T) = b + Σ_{∅≠S⊆T} I^AND_S + Σ_{S∩T≠∅} I^OR_S (universal matching: h = v − δ), and
:func:`topk_explained` how much of v the k most salient patterns explain.
"""

from __future__ import annotations

import functools
import re
import time
from typing import Any, Mapping, Sequence

import torch

from ibn import games as ibn_games
from ibn import results
from ibn import transforms as tf
from ibn.and_or import extract

__all__ = ["split_words", "WordRemovalMasker", "load_lm", "target_id",
           "predict", "salient_patterns", "topk_explained", "pattern_label", "run_prompt",
           "random_masks", "prompt_params", "k_for_r2", "unique_words"]

_WORD_RE = re.compile(r"\s*[^\W_]+(?:'[^\W_]+)?|\s*[^\w\s]+|\s*_+")


def split_words(text: str) -> list[str]:
    """Segments of ``text``: each word or punctuation run with its leading whitespace.

    ``"".join(split_words(t)) == t.rstrip()`` for texts without trailing whitespace.
    """
    segs = _WORD_RE.findall(text)
    if "".join(segs) != text.rstrip():
        raise ValueError(f"cannot segment {text!r} into words")
    return segs


class WordRemovalMasker:
    """Words of one prompt as players for a causal LM (``ibn.games`` masker protocol).

    ``players``: the words (without their leading space) that act as players, in any order;
    each must occur in ``text`` (the first free occurrence is used) and player i is the i-th
    word **in sentence order** (bit i). ``mode="remove"`` drops the masked words' tokens (the
    batch is right-padded, the LM reads the last real position); ``mode="replace"`` puts
    ``replace_id`` in place of each of their tokens. Each word is tokenised with its leading
    space, so the unmasked prompt is the concatenation of the words' tokens.
    """

    def __init__(self, tokenizer: Any, text: str, players: Sequence[str], *, mode: str = "remove",
                 replace_id: int | None = None, batch_size: int = 64) -> None:
        if mode not in ("remove", "replace"):
            raise ValueError(f"mode must be 'remove' or 'replace', got {mode!r}")
        if mode == "replace" and replace_id is None:
            raise ValueError("mode='replace' needs replace_id")
        self.text, self.mode, self.replace_id = text, mode, replace_id
        self.batch_size = batch_size
        self.segments = split_words(text)
        words = [s.strip() for s in self.segments]
        chosen: list[int] = []
        for p in players:
            hits = [i for i, w in enumerate(words) if w == p and i not in chosen]
            if not hits:
                raise ValueError(f"player word {p!r} not found in {text!r} (words: {words})")
            chosen.append(hits[0])
        chosen.sort()
        self.player_segments = chosen
        self.players = [words[i] for i in chosen]
        self.n_players = len(chosen)
        ids: list[int] = []
        owner: list[int] = []
        for i, seg in enumerate(self.segments):
            toks = tokenizer(seg, add_special_tokens=False)["input_ids"]
            ids.extend(toks)
            owner.extend([chosen.index(i) if i in chosen else -1] * len(toks))
        self.input_ids = torch.tensor(ids, dtype=torch.long)
        self.owner = torch.tensor(owner, dtype=torch.long)  # player of each token, -1 = always kept
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = int(pad if pad is not None else (tokenizer.eos_token_id or 0))

    def keep_tokens(self, masks: torch.Tensor) -> torch.Tensor:
        """(k, L) bool: which tokens each coalition keeps (non-player tokens always)."""
        masks = torch.as_tensor(masks).bool()
        ext = torch.cat([masks, torch.ones(masks.shape[0], 1, dtype=torch.bool)], 1)
        idx = torch.where(self.owner < 0, masks.shape[1], self.owner)
        return ext[:, idx]

    def batch(self, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` (k, L') of the masked prompts."""
        keep = self.keep_tokens(torch.as_tensor(masks).cpu())
        ids = self.input_ids.expand(keep.shape[0], -1)
        if self.mode == "replace":
            return {"input_ids": torch.where(keep, ids, self.replace_id),
                    "attention_mask": torch.ones_like(ids)}
        lengths = keep.sum(1)
        L = int(lengths.max()) if len(lengths) else 0
        out = torch.full((keep.shape[0], max(L, 1)), self.pad_id, dtype=torch.long)
        att = torch.zeros_like(out)
        for r in range(keep.shape[0]):
            row = ids[r][keep[r]]
            out[r, :len(row)] = row
            att[r, :len(row)] = 1
        return {"input_ids": out, "attention_mask": att}

    def texts(self, masks: torch.Tensor) -> list[str]:
        """The masked prompts as text (removed words dropped; for display)."""
        masks = torch.as_tensor(masks).bool()
        out = []
        for row in masks:
            segs = [s for i, s in enumerate(self.segments)
                    if i not in self.player_segments or bool(row[self.player_segments.index(i)])]
            out.append("".join(segs).strip())
        return out

    def __call__(self, model: torch.nn.Module, x: Any, masks: torch.Tensor) -> torch.Tensor:
        dev = next(model.parameters()).device
        outs = []
        for s in range(0, masks.shape[0], self.batch_size):
            b = self.batch(masks[s:s + self.batch_size])
            outs.append(model(**{k: v.to(dev) for k, v in b.items()}))
        return torch.cat(outs, 0)

    def describe(self) -> dict[str, Any]:
        return {"masker": "WordRemovalMasker", "text": self.text, "players": self.players,
                "mode": self.mode, "replace_id": self.replace_id}


@functools.lru_cache(maxsize=1)
def load_lm() -> torch.nn.Module:
    """SmolLM2-135M (``ibn.models.build("smollm2")``), loaded once per process, eval mode."""
    from transformers.utils import logging as hf_logging

    from ibn.models import build

    hf_logging.disable_progress_bar()  # no gguf conversion bars in the notebooks
    try:
        return build("smollm2").eval()
    finally:
        hf_logging.enable_progress_bar()


def target_id(tokenizer: Any, target: str) -> int:
    """The token id of ``target`` (e.g. ``" Paris"``); it must be exactly one token."""
    ids = tokenizer(target, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"target {target!r} is {len(ids)} tokens {ids}; choose a one-token target")
    return int(ids[0])


def predict(and_effects: torch.Tensor, or_effects: torch.Tensor, masks: torch.Tensor
            ) -> torch.Tensor:
    """h(x_T) = b + Σ_{∅≠S⊆T} I^AND_S + Σ_{S∩T≠∅} I^OR_S for each row T of ``masks``
    (Conventions page, eq-universal-matching).

    ``and_effects[0]`` is the bias b; ``or_effects[0]`` is ignored. ``masks``: (k, n) bool.
    """
    a = torch.as_tensor(and_effects, dtype=torch.float64)
    o = torch.as_tensor(or_effects, dtype=torch.float64).clone()
    o[0] = 0.0
    u = tf.zeta(a) + tf.or_zeta(o)
    return u[tf.masks_to_index(torch.as_tensor(masks).bool())]


def random_masks(n: int, k: int, seed: int = 0) -> torch.Tensor:
    """``k`` random coalitions (k, n) bool, each player kept with probability ½ (seeded)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(k, n, generator=g) < 0.5


def salient_patterns(and_effects: torch.Tensor, or_effects: torch.Tensor, tau: float = 0.0,
                     top: int | None = None) -> list[dict[str, Any]]:
    """Interactions with |I_S| > τ (S ≠ ∅), largest |I_S| first: dicts kind/mask/effect."""
    rows = []
    for kind, eff in (("AND", and_effects), ("OR", or_effects)):
        e = torch.as_tensor(eff, dtype=torch.float64)
        for s in torch.nonzero(e.abs() > tau).flatten().tolist():
            if s:
                rows.append({"kind": kind, "mask": int(s), "effect": float(e[s])})
    rows.sort(key=lambda r: -abs(r["effect"]))
    return rows if top is None else rows[:top]


def pattern_label(mask: int, words: Sequence[str], kind: str) -> str:
    """``"Eiffel ∧ Tower"`` (AND) or ``"city ∨ capital"`` (OR) for a coalition bitmask."""
    sep = " ∧ " if kind == "AND" else " ∨ "
    return sep.join(w for i, w in enumerate(unique_words(words)) if mask >> i & 1)


def unique_words(words: Sequence[str]) -> list[str]:
    """Words with repeated ones numbered in order: ``["apples", "x", "apples"]`` →
    ``["apples(1)", "x", "apples(2)"]`` (so that pattern labels are unambiguous)."""
    seen: dict[str, int] = {}
    out = []
    for w in words:
        if list(words).count(w) > 1:
            seen[w] = seen.get(w, 0) + 1
            out.append(f"{w}({seen[w]})")
        else:
            out.append(w)
    return out


def topk_explained(values: torch.Tensor, and_effects: torch.Tensor, or_effects: torch.Tensor,
                   ks: Sequence[int]) -> list[dict[str, float]]:
    """How well the k largest interactions (plus the bias) reproduce v over all 2^n coalitions.

    For each k: ``r2`` = 1 − Σ_T (v_T − h_k(T))² / Σ_T (v_T − mean v)², where h_k keeps only
    the k salient-most AND/OR effects, and ``max_err`` = max_T |v_T − h_k(T)|.
    """
    v = tf.as_values(values)
    n = tf.n_players(v.shape[0])
    masks = tf.all_masks(n)
    pats = salient_patterns(and_effects, or_effects)
    sst = float(((v - v.mean()) ** 2).sum())
    out = []
    for k in ks:
        a = torch.zeros_like(v)
        o = torch.zeros_like(v)
        a[0] = torch.as_tensor(and_effects, dtype=torch.float64)[0]
        for p in pats[:k]:
            (a if p["kind"] == "AND" else o)[p["mask"]] = p["effect"]
        h = predict(a, o, masks)
        err = v - h
        out.append({"k": int(k), "r2": 1.0 - float((err ** 2).sum()) / sst if sst > 0 else float("nan"),
                    "max_err": float(err.abs().max())})
    return out


def prompt_params(spec: Mapping[str, Any], *, n_players: int, n_check: int = 32,
                  noise_bound: float = 0.02, mode: str = "remove", seed: int = 0,
                  scale: str | None = None) -> dict[str, Any]:
    """The cache params of :func:`run_prompt` (also for ``show_provenance("B6_llm", ...)``)."""
    params = {"text": spec["text"], "target": spec["target"],
              "players": list(spec["players"][:n_players]), "n_players": n_players,
              "n_check": n_check, "noise_bound": noise_bound, "mode": mode, "seed": seed,
              "model": "SmolLM2-135M-Instruct (gguf Q4_1, dequantised to float32)", "scale": scale}
    if len(params["players"]) < n_players:
        raise ValueError(f"prompt {spec['text']!r} has only {len(params['players'])} player words")
    return params


def k_for_r2(values: torch.Tensor, and_effects: torch.Tensor, or_effects: torch.Tensor,
             r2: float = 0.9) -> int | None:
    """The smallest k whose top-k patterns reach R² ≥ ``r2`` (:func:`topk_explained`), or None."""
    n_eff = len(salient_patterns(and_effects, or_effects))
    for row in topk_explained(values, and_effects, or_effects, range(0, n_eff + 1)):
        if row["r2"] >= r2:
            return row["k"]
    return None


def run_prompt(spec: Mapping[str, Any], *, n_players: int, n_check: int = 32,
               noise_bound: float = 0.02, mode: str = "remove", seed: int = 0,
               scale: str | None = None, recompute: bool = False,
               progress: bool = False) -> dict[str, Any]:
    """Values, AND-OR effects and a universal-matching check of one prompt (cached).

    ``spec``: ``text``, ``target`` (one token, e.g. ``" Paris"``), ``players`` (content words in
    priority order; the first ``n_players`` are used, then put in sentence order). The check
    re-runs the LM on ``n_check`` random coalitions (fresh forward passes, other batches) and
    compares with the logical model's prediction. Cached under ``data/results/B6_llm``.
    ``progress``: a progress bar while the 2^n masked prompts are evaluated (not part of the
    cache key).
    """
    params = prompt_params(spec, n_players=n_players, n_check=n_check, noise_bound=noise_bound,
                           mode=mode, seed=seed, scale=scale)
    return results.cached("B6_llm", params, lambda: _compute(params, progress=progress),
                          recompute=recompute)


def _compute(p: dict[str, Any], *, progress: bool = False) -> dict[str, Any]:
    lm = load_lm()
    tok = lm.tokenizer
    masker = WordRemovalMasker(tok, p["text"], p["players"], mode=p["mode"],
                               replace_id=tok.eos_token_id)
    y = target_id(tok, p["target"])
    n = masker.n_players
    t0 = time.perf_counter()
    values = ibn_games.all_values(lm, None, masker, target=y, batch_size=64,
                                  progress=progress).values
    t_values = time.perf_counter() - t0
    eff = extract(torch.as_tensor(values, dtype=torch.float64).flatten(), noise_bound=p["noise_bound"])
    check = random_masks(n, p["n_check"], seed=p["seed"])
    v_check = ibn_games.evaluate(lm, None, masker, check, target=y, batch_size=7, progress=False)
    with torch.inference_mode():
        full = lm(**masker.batch(torch.ones(1, n, dtype=torch.bool)))[0].double()
    probs = torch.softmax(full, -1)
    top = probs.topk(5)
    return {"noise_bound": p["noise_bound"], "values": values, "and_effects": eff.and_effects, "or_effects": eff.or_effects,
            "delta": eff.delta, "extractor": "ibn.and_or.extract", "check_masks": check,
            "check_values": v_check, "players": masker.players, "target_id": y,
            "p_target": float(probs[y]),
            "top5": [tok.decode([int(i)]) for i in top.indices],
            "top5_p": top.values, "values_seconds": t_values,
            "masked_example": masker.texts(torch.tensor([[i % 2 == 0 for i in range(n)]]))[0]}


def matching_report(res: Mapping[str, Any]) -> dict[str, float]:
    """Universal matching on the re-evaluated random coalitions of :func:`run_prompt`.

    ``err_v_minus_delta`` = max |h(x_T) − (v(x_T) − δ_T)| (δ from the decomposition; v from the
    fresh forward passes), ``err_v`` = max |h(x_T) − v(x_T)| (≤ ζ up to re-evaluation noise),
    ``zeta`` = noise_bound·|v_N − v_∅|, ``rerun_noise`` = max |v_fresh − v_all_values| (batch
    effects of float32 kernels).
    """
    masks = torch.as_tensor(res["check_masks"]).bool()
    idx = tf.masks_to_index(masks)
    h = predict(res["and_effects"], res["or_effects"], masks)
    v_fresh = torch.as_tensor(res["check_values"], dtype=torch.float64)
    v_all = torch.as_tensor(res["values"], dtype=torch.float64)
    delta = torch.as_tensor(res["delta"], dtype=torch.float64)
    return {"err_v_minus_delta": float((h - (v_fresh - delta[idx])).abs().max()),
            "err_v": float((h - v_fresh).abs().max()),
            "zeta": float(res.get("noise_bound", 0.02) * abs(v_all[-1] - v_all[0])),
            "rerun_noise": float((v_fresh - v_all[idx]).abs().max())}


__all__.append("matching_report")

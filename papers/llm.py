r"""Paper B Fig. 6: the AND-OR logical model of a language model's next-token prediction.

Players are :math:`n` words of a prompt; the game value is the log-odds of a target next token
(paper B eq. 1; Conventions page, eq-reward),
:math:`v(x_T) = z_{y^*}(x_T) - \log \sum_{y \neq y^*} e^{z_y(x_T)}`, computed by a causal LM
(SmolLM2-135M, :func:`ibn.models.smollm2`) on the masked prompt :math:`x_T`.

**Masking baseline (decision).** SmolLM2 has no [MASK] token. A masked word is **removed**
from the prompt (:class:`WordRemovalMasker`, ``mode="remove"``): the LM then reads a shorter,
grammatical-looking prompt without the word, which is the closest a causal LM comes to "this
word is absent"; any replacement token would itself be a word with its own meaning (and
would add interactions of its own with the others). Words that are not players always stay.
``mode="replace"`` (every token of a masked word replaced by one fixed token, e.g. the
end-of-text token) is available for comparison.

The :math:`2^n` values are decomposed by the sparsest AND-OR decomposition (paper B eq. 17;
Conventions page, eq-sparsest) with :func:`ibn.and_or.extract`. :func:`predict` evaluates the
logical model
:math:`h(x_T) = b + \sum_{\emptyset \neq S \subseteq T} I^{\mathrm{AND}}_S
+ \sum_{S \cap T \neq \emptyset} I^{\mathrm{OR}}_S` (universal matching: :math:`h = v - \delta`,
Conventions page, eq-universal-matching), and :func:`topk_explained` how much of :math:`v` the
:math:`k` most salient patterns explain (Conventions page, eq-salient).
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
    r"""Segments of a text: each word or punctuation run with its leading whitespace.

    ``"".join(split_words(t)) == t.rstrip()`` for texts without trailing whitespace.

    Args:
        text: the prompt.

    Returns:
        The segments, in order.

    Raises:
        ValueError: the text cannot be segmented this way.
    """
    segs = _WORD_RE.findall(text)
    if "".join(segs) != text.rstrip():
        raise ValueError(f"cannot segment {text!r} into words")
    return segs


class WordRemovalMasker:
    r"""Words of one prompt as players for a causal LM (the masker protocol of :mod:`ibn.games`).

    Player :math:`i` is the :math:`i`-th player word **in sentence order** (bit :math:`i`,
    Conventions page, eq-mask). ``mode="remove"`` drops the masked words' tokens (the batch is
    right-padded, the LM reads the last real position); ``mode="replace"`` puts ``replace_id`` in
    place of each of their tokens. Each word is tokenised with its leading space, so the unmasked
    prompt is the concatenation of the words' tokens. Attributes: ``players`` (the words in
    sentence order), ``n_players``, ``input_ids`` (the unmasked prompt's tokens) and ``owner``
    (the player of each token, −1 for tokens that always stay).

    Args:
        tokenizer: the LM's Hugging Face tokenizer (called on each segment without special
            tokens; its ``pad_token_id``, else ``eos_token_id``, pads the batches).
        text: the prompt.
        players: the words (without their leading space) that act as players, in any order;
            each must occur in ``text`` (the first free occurrence is used).
        mode: ``"remove"`` (default) or ``"replace"``.
        replace_id: the token that replaces a masked word's tokens; required for
            ``mode="replace"``.
        batch_size: masked prompts per forward pass (default 64).

    Raises:
        ValueError: an unknown ``mode``, ``"replace"`` without ``replace_id``, a player word not
            in ``text``, or a text that cannot be segmented.
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
        r"""Which tokens each coalition keeps (the tokens of non-player words always).

        Args:
            masks: bool coalitions :math:`(k, n)`, column :math:`i` = player :math:`i` present.

        Returns:
            A bool tensor :math:`(k, L)`, :math:`L` the unmasked prompt's number of tokens.
        """
        masks = torch.as_tensor(masks).bool()
        ext = torch.cat([masks, torch.ones(masks.shape[0], 1, dtype=torch.bool)], 1)
        idx = torch.where(self.owner < 0, masks.shape[1], self.owner)
        return ext[:, idx]

    def batch(self, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        r"""The model inputs of the masked prompts.

        Args:
            masks: bool coalitions :math:`(k, n)`, column :math:`i` = player :math:`i` present.

        Returns:
            ``{"input_ids": ..., "attention_mask": ...}``, two long tensors :math:`(k, L')`:
            right-padded to the longest kept prompt for ``"remove"``, the full length :math:`L`
            for ``"replace"``.
        """
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
        r"""The masked prompts as text, for display (removed words dropped, also in ``"replace"``
        mode).

        Args:
            masks: bool coalitions :math:`(k, n)`, column :math:`i` = player :math:`i` present.

        Returns:
            One string per coalition, stripped.
        """
        masks = torch.as_tensor(masks).bool()
        out = []
        for row in masks:
            segs = [s for i, s in enumerate(self.segments)
                    if i not in self.player_segments or bool(row[self.player_segments.index(i)])]
            out.append("".join(segs).strip())
        return out

    def __call__(self, model: torch.nn.Module, x: Any, masks: torch.Tensor) -> torch.Tensor:
        r"""The LM's logits on the masked prompts, in batches of ``batch_size``.

        Args:
            model: the causal LM (called with ``input_ids`` and ``attention_mask``, returning the
                logits of the next token).
            x: unused (the prompt is the masker's).
            masks: bool coalitions :math:`(k, n)`, column :math:`i` = player :math:`i` present.

        Returns:
            The logits :math:`(k, \text{vocabulary})`.
        """
        dev = next(model.parameters()).device
        outs = []
        for s in range(0, masks.shape[0], self.batch_size):
            b = self.batch(masks[s:s + self.batch_size])
            outs.append(model(**{k: v.to(dev) for k, v in b.items()}))
        return torch.cat(outs, 0)

    def describe(self) -> dict[str, Any]:
        r"""The masker's settings, for a result's provenance.

        Returns:
            A dict: ``masker``, ``text``, ``players``, ``mode`` and ``replace_id``.
        """
        return {"masker": "WordRemovalMasker", "text": self.text, "players": self.players,
                "mode": self.mode, "replace_id": self.replace_id}


@functools.lru_cache(maxsize=1)
def load_lm() -> torch.nn.Module:
    r"""SmolLM2-135M (``ibn.models.build("smollm2")``), loaded once per process, eval mode.

    Returns:
        The causal LM; its tokenizer is ``.tokenizer``.
    """
    from transformers.utils import logging as hf_logging

    from ibn.models import build

    hf_logging.disable_progress_bar()  # no gguf conversion bars in the notebooks
    try:
        return build("smollm2").eval()
    finally:
        hf_logging.enable_progress_bar()


def target_id(tokenizer: Any, target: str) -> int:
    r"""The token id of a one-token target.

    Args:
        tokenizer: the LM's Hugging Face tokenizer.
        target: the target text, e.g. ``" Paris"`` (with its leading space).

    Returns:
        The token id.

    Raises:
        ValueError: ``target`` is not exactly one token.
    """
    ids = tokenizer(target, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"target {target!r} is {len(ids)} tokens {ids}; choose a one-token target")
    return int(ids[0])


def predict(and_effects: torch.Tensor, or_effects: torch.Tensor, masks: torch.Tensor
            ) -> torch.Tensor:
    r"""The logical model
    :math:`h(x_T) = b + \sum_{\emptyset \neq S \subseteq T} I^{\mathrm{AND}}_S
    + \sum_{S \cap T \neq \emptyset} I^{\mathrm{OR}}_S` for each row :math:`T` of ``masks``
    (Conventions page, eq-universal-matching).

    Args:
        and_effects: the AND effects :math:`(2^n,)`; ``and_effects[0]`` is the bias :math:`b`.
        or_effects: the OR effects :math:`(2^n,)`; ``or_effects[0]`` is ignored.
        masks: bool coalitions :math:`(k, n)`.

    Returns:
        A float64 tensor :math:`(k,)`.
    """
    a = torch.as_tensor(and_effects, dtype=torch.float64)
    o = torch.as_tensor(or_effects, dtype=torch.float64).clone()
    o[0] = 0.0
    u = tf.zeta(a) + tf.or_zeta(o)
    return u[tf.masks_to_index(torch.as_tensor(masks).bool())]


def random_masks(n: int, k: int, seed: int = 0) -> torch.Tensor:
    r"""Random coalitions, each player kept with probability 1/2 (seeded).

    Args:
        n: the number of players.
        k: the number of coalitions.
        seed: the seed of a CPU ``torch.Generator`` (default 0).

    Returns:
        A bool tensor :math:`(k, n)`.
    """
    g = torch.Generator().manual_seed(seed)
    return torch.rand(k, n, generator=g) < 0.5


def salient_patterns(and_effects: torch.Tensor, or_effects: torch.Tensor, tau: float = 0.0,
                     top: int | None = None) -> list[dict[str, Any]]:
    r"""The interactions with :math:`|I_S| > \tau` (:math:`S \neq \emptyset`; Conventions page,
    eq-salient), largest :math:`|I_S|` first.

    Args:
        and_effects: the AND effects :math:`(2^n,)`.
        or_effects: the OR effects :math:`(2^n,)`.
        tau: the threshold :math:`\tau` (default 0: every non-zero effect).
        top: keep only the first ``top`` patterns (None: all).

    Returns:
        A list of dicts: ``kind`` (``"AND"`` or ``"OR"``), ``mask`` (the coalition bitmask,
        Conventions page, eq-mask) and ``effect``.
    """
    rows = []
    for kind, eff in (("AND", and_effects), ("OR", or_effects)):
        e = torch.as_tensor(eff, dtype=torch.float64)
        for s in torch.nonzero(e.abs() > tau).flatten().tolist():
            if s:
                rows.append({"kind": kind, "mask": int(s), "effect": float(e[s])})
    rows.sort(key=lambda r: -abs(r["effect"]))
    return rows if top is None else rows[:top]


def pattern_label(mask: int, words: Sequence[str], kind: str) -> str:
    r"""A readable label of a pattern: ``"Eiffel ∧ Tower"`` (AND) or ``"city ∨ capital"`` (OR).

    Args:
        mask: the coalition bitmask :math:`S` (bit :math:`i` = player :math:`i`).
        words: the players' words, in player order (repeated words are numbered,
            :func:`unique_words`).
        kind: ``"AND"`` (joined by ∧) or anything else, e.g. ``"OR"`` (joined by ∨).

    Returns:
        The label.
    """
    sep = " ∧ " if kind == "AND" else " ∨ "
    return sep.join(w for i, w in enumerate(unique_words(words)) if mask >> i & 1)


def unique_words(words: Sequence[str]) -> list[str]:
    r"""Words with repeated ones numbered in order, so that pattern labels are unambiguous.

    ``["apples", "x", "apples"]`` → ``["apples(1)", "x", "apples(2)"]``.

    Args:
        words: the players' words.

    Returns:
        The words, repeated ones suffixed with their occurrence number.
    """
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
    r"""How well the :math:`k` largest interactions (plus the bias) reproduce :math:`v` over all
    :math:`2^n` coalitions.

    For each :math:`k`: ``r2`` :math:`= 1 - \sum_T (v_T - h_k(T))^2 / \sum_T (v_T -
    \bar v)^2`, where :math:`h_k` is :func:`predict` keeping only the :math:`k` largest
    :math:`|I_S|` among the AND and OR effects (:func:`salient_patterns`), and ``max_err``
    :math:`= \max_T |v_T - h_k(T)|`.

    Args:
        values: the game :math:`v(x_T)`, :math:`(2^n,)`.
        and_effects: its AND effects :math:`(2^n,)` (index 0 the bias).
        or_effects: its OR effects :math:`(2^n,)`.
        ks: the numbers of patterns :math:`k` to keep.

    Returns:
        One dict per :math:`k`: ``k``, ``r2`` (NaN for a constant game) and ``max_err``.
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
    r"""The cache params of :func:`run_prompt` (also for ``show_provenance("B6_llm", ...)``).

    Args:
        spec: the prompt: ``text``, ``target`` (one token, e.g. ``" Paris"``) and ``players``
            (content words in priority order).
        n_players: the number of players :math:`n`: the first ``n_players`` words of
            ``spec["players"]``.
        n_check: the number of random coalitions re-evaluated by the matching check (default 32).
        noise_bound: the bound :math:`r` of :math:`\zeta = r \cdot |v(x_N) - v(x_\emptyset)|`
            (Conventions page, eq-noise-bound; default 0.02).
        mode: the masking, ``"remove"`` (default) or ``"replace"`` (:class:`WordRemovalMasker`).
        seed: the seed of the check's coalitions (default 0).
        scale: the name of the scale, recorded as a label (not part of the cache key).

    Returns:
        The params dict, with the model's name.

    Raises:
        ValueError: ``spec["players"]`` has fewer than ``n_players`` words.
    """
    params = {"text": spec["text"], "target": spec["target"],
              "players": list(spec["players"][:n_players]), "n_players": n_players,
              "n_check": n_check, "noise_bound": noise_bound, "mode": mode, "seed": seed,
              "model": "SmolLM2-135M-Instruct (gguf Q4_1, dequantised to float32)", "scale": scale}
    if len(params["players"]) < n_players:
        raise ValueError(f"prompt {spec['text']!r} has only {len(params['players'])} player words")
    return params


def k_for_r2(values: torch.Tensor, and_effects: torch.Tensor, or_effects: torch.Tensor,
             r2: float = 0.9) -> int | None:
    r"""The smallest :math:`k` whose top-:math:`k` patterns reach :math:`R^2 \ge` ``r2``
    (:func:`topk_explained`).

    Args:
        values: the game :math:`v(x_T)`, :math:`(2^n,)`.
        and_effects: its AND effects :math:`(2^n,)`.
        or_effects: its OR effects :math:`(2^n,)`.
        r2: the target :math:`R^2` (default 0.9).

    Returns:
        :math:`k`, or None when even all non-zero patterns fall short.
    """
    n_eff = len(salient_patterns(and_effects, or_effects))
    for row in topk_explained(values, and_effects, or_effects, range(0, n_eff + 1)):
        if row["r2"] >= r2:
            return row["k"]
    return None


def run_prompt(spec: Mapping[str, Any], *, n_players: int, n_check: int = 32,
               noise_bound: float = 0.02, mode: str = "remove", seed: int = 0,
               scale: str | None = None, recompute: bool = False,
               progress: bool = False) -> dict[str, Any]:
    r"""Values, AND-OR effects and a universal-matching check of one prompt (cached under
    ``data/results/B6_llm``).

    The LM is run on all :math:`2^n` masked prompts; the values are decomposed by
    :func:`ibn.and_or.extract` (Conventions page, eq-sparsest). The check re-runs the LM on
    ``n_check`` random coalitions (fresh forward passes, other batches) to compare with the
    logical model's prediction (:func:`matching_report`).

    Args:
        spec: the prompt: ``text``, ``target`` (one token, e.g. ``" Paris"``), ``players``
            (content words in priority order; the first ``n_players`` are used, then put in
            sentence order).
        n_players: the number of players :math:`n`.
        n_check: the number of random coalitions of the check (default 32).
        noise_bound: the bound :math:`r` of :math:`\zeta` (Conventions page, eq-noise-bound;
            default 0.02).
        mode: the masking, ``"remove"`` (default) or ``"replace"`` (the end-of-text token).
        seed: the seed of the check's coalitions (default 0).
        scale: the name of the scale, recorded as a label (not part of the cache key).
        recompute: ignore a stored result and compute it again (:func:`ibn.results.cached`).
        progress: a progress bar while the :math:`2^n` masked prompts are evaluated (not part of
            the cache key).

    Returns:
        A dict: ``noise_bound``, ``values`` :math:`(2^n,)`, ``and_effects``, ``or_effects``,
        ``delta``, ``extractor``, ``check_masks`` :math:`(n_{\text{check}}, n)`,
        ``check_values``, ``players`` (in sentence order), ``target_id``, ``p_target`` (the
        target's probability on the full prompt), ``top5`` and ``top5_p`` (the five likeliest
        next tokens), ``values_seconds`` and ``masked_example`` (one masked prompt as text).

    Raises:
        ValueError: too few player words, a player word not in the text, or a target that is not
            one token.
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
    r"""Universal matching on the re-evaluated random coalitions of :func:`run_prompt` (Conventions
    page, eq-universal-matching).

    Args:
        res: a result of :func:`run_prompt`.

    Returns:
        A dict: ``err_v_minus_delta`` :math:`= \max |h(x_T) - (v(x_T) - \delta_T)|`
        (:math:`\delta` from the decomposition; :math:`v` from the fresh forward passes),
        ``err_v`` :math:`= \max |h(x_T) - v(x_T)|` (:math:`\le \zeta` up to re-evaluation
        noise), ``zeta`` :math:`= \mathtt{noise\_bound} \cdot |v_N - v_\emptyset|` and
        ``rerun_noise`` :math:`= \max |v_{\text{fresh}} - v_{\text{all}}|` (batch effects of
        float32 kernels).
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

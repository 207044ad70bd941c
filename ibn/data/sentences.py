"""Rotten Tomatoes sentence polarity, from the human ratings collected for VADER.

The file ``movieReviewSnippets_GroundTruth.txt`` (Hutto & Gilbert, ICWSM 2014, shipped in the
``vaderSentiment==3.3.2`` sdist) holds 10 605 Rotten Tomatoes review sentences -- the
sentences SST was built from -- with the mean rating of human raters on -4..4.  The label is
the sign of that rating: 5 242 positive (label 1), 5 326 negative (label 0); the 37 sentences
rated exactly 0 are dropped.  These are *not* SST-2's labels.

Split: the 10 568 kept sentences are permuted with ``numpy.random.default_rng(seed)`` and cut
into train / validation / test by ``fractions`` (default 80/10/10: 8 454 / 1 057 / 1 057).
"""

from __future__ import annotations

import os

import numpy as np

from .fetch import verify

__all__ = ["load_rt_sentences", "read_rt_ratings", "RT_FILE"]

RT_FILE = "movieReviewSnippets_GroundTruth.txt"
_SPLITS = ("train", "validation", "test", "all")


def read_rt_ratings(root: str | os.PathLike[str] | None = None) -> list[tuple[int, float, str]]:
    """All 10 605 rows of the rating file in file order (blank lines skipped).

    Args:
        root: the data root, resolved by :func:`ibn.data.data_root` (None = the default root).

    Returns:
        A list of ``(id, mean rating, text)`` tuples: the int sentence id, the float mean human
        rating on -4..4 and the sentence (the file is read as latin-1).

    Raises:
        MissingDataError: the source ``rt-sentences`` is not fetched.
        ChecksumError: the file does not have its pinned hash.
        ValueError: a line is not ``id<TAB>rating<TAB>text``.
    """
    path = verify("rt-sentences", root) / RT_FILE
    rows = []
    with open(path, encoding="latin-1", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t", 2)
            if len(parts) != 3:
                raise ValueError(f"{path}:{lineno}: expected 'id<TAB>rating<TAB>text', got {line[:80]!r}")
            rows.append((int(parts[0]), float(parts[1]), parts[2].strip()))
    return rows


def load_rt_sentences(
    split: str = "train",
    seed: int = 0,
    root: str | os.PathLike[str] | None = None,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> list[tuple[str, int]]:
    """(text, label) pairs of one split; label 1 = positive, 0 = negative (the sign of the mean
    rating; sentences rated exactly 0 are dropped).

    The split is a deterministic function of ``seed`` and ``fractions``; the three parts are
    disjoint and cover every kept sentence.  These sentences stand in for SST-2 (Data page).

    Args:
        split: ``"train"``, ``"validation"``, ``"test"`` or ``"all"`` (every kept sentence in
            file order, no shuffling).
        seed: seed of the permutation (``numpy.random.default_rng(seed)``); ignored for
            ``"all"``.
        root: the data root, resolved by :func:`ibn.data.data_root` (None = the default root).
        fractions: the (train, validation, test) fractions, non-negative and summing to 1
            (default 80/10/10); each part has ``round(fraction · 10 568)`` sentences, the test
            part the rest.

    Returns:
        A list of ``(text, label)`` pairs.

    Raises:
        ValueError: an unknown ``split`` or invalid ``fractions``.
        MissingDataError: the source ``rt-sentences`` is not fetched.
        ChecksumError: the file does not have its pinned hash.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    data = [(text, int(r > 0)) for _, r, text in read_rt_ratings(root) if r != 0]
    if split == "all":
        return data
    n = len(data)
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    parts = {"train": order[:n_train], "validation": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}
    return [data[i] for i in parts[split]]

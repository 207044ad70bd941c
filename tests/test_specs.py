"""papers.specs: frozen settings that read as the plain mappings they replace (same cache keys)."""

from __future__ import annotations

import dataclasses

import pytest

from ibn.book import scale_params
from ibn.results import params_hash
from papers import dynamics as D
from papers import generalizable as G
from papers import generalizable_text as GT
from papers import noise as Nz
from papers import penalty as P
from papers.specs import Spec, Training


def test_spec_reads_as_the_mapping_of_its_present_fields():
    t = Training(n_train=10, epochs=2, label_noise=0.01)
    assert dict(t) == {"n_train": 10, "epochs": 2, "label_noise": 0.01}  # lr, batch_size absent
    assert t["epochs"] == 2 and "lr" not in t and len(t) == 3 and {**t}["n_train"] == 10
    with pytest.raises(KeyError):
        t["lr"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.epochs = 3  # type: ignore[misc]
    # the cache key of a spec is that of the plain dict it replaces
    assert params_hash({"target": t, "k": 3}) == params_hash(
        {"k": 3, "target": {"n_train": 10, "epochs": 2, "label_noise": 0.01}})
    assert t.key() == {"n_train": 10, "epochs": 2, "label_noise": 0.01}


def test_replace_and_scale_params_give_changed_copies():
    t = Training(n_train=10, epochs=2)
    assert t.replace(epochs=5, lr=None) == Training(n_train=10, epochs=5)  # None: unchanged
    with pytest.raises(TypeError, match="no setting nope"):
        t.replace(nope=1)
    book = D.PRESETS["book"]
    got = scale_params("book", D.PRESETS, n_players=6, n_samples=None)
    assert isinstance(got, Spec) and got.n_players == 6 and got.n_samples == book.n_samples
    assert D.PRESETS["book"].n_players == 8  # the preset itself is untouched


@pytest.mark.parametrize("presets", [G.PRESETS, GT.TEXT_PRESETS, D.PRESETS, Nz.PRESETS, P.PRESETS])
def test_every_scale_has_a_spec_whose_key_is_plain_data(presets):
    assert set(presets) == {"smoke", "book", "paper"}
    for spec in presets.values():
        key = spec.key()
        assert isinstance(key, dict) and params_hash(key) == params_hash(spec)

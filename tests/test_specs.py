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
    assert D.PRESETS["book"].n_players == 10  # the preset itself is untouched


@pytest.mark.parametrize("presets", [G.PRESETS, GT.TEXT_PRESETS, D.PRESETS, Nz.PRESETS, P.PRESETS])
def test_every_scale_has_a_spec_whose_key_is_plain_data(presets):
    assert set(presets) == {"smoke", "book", "paper"}
    for spec in presets.values():
        key = spec.key()
        assert isinstance(key, dict) and params_hash(key) == params_hash(spec)


# ---------------------------------------------------------------------------------------------
# Paper A: the presets of the chapters A1–A4 (papers.bottleneck_runs)
# ---------------------------------------------------------------------------------------------

from papers import bottleneck_runs as BNR  # noqa: E402
from papers.specs import CauseSpec, ConsequencesSpec, DiscoverySpec, ModulationSpec  # noqa: E402

A_PRESETS = {"A1": (BNR.A1_PRESETS, DiscoverySpec), "A2": (BNR.A2_PRESETS, CauseSpec),
             "A3": (BNR.A3_PRESETS, ModulationSpec), "A4": (BNR.A4_PRESETS, ConsequencesSpec)}


def _only_plain(obj):
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _only_plain(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_only_plain(v) for v in obj)
    return obj is None or isinstance(obj, (bool, int, float, str))


@pytest.mark.parametrize("chapter", sorted(A_PRESETS))
def test_every_paper_a_scale_has_a_spec_whose_key_is_plain_data(chapter):
    presets, cls = A_PRESETS[chapter]
    assert set(presets) == {"smoke", "book", "paper"}
    for spec in presets.values():
        assert type(spec) is cls
        key = spec.key()
        assert isinstance(key, dict) and _only_plain(key) and params_hash(key) == params_hash(spec)
        assert dict(spec).keys() == key.keys()
        assert scale_params("book", presets) == presets["book"]


def test_paper_a_runners_build_the_cache_keys_of_the_plain_dicts(monkeypatch):
    """A spec and the plain dict of its settings give the runners the same cache key, with
    lists (not tuples) in it; A1's paper scale tests on the whole test set (``cnn_test`` None,
    absent from the spec's mapping, ``n_test: None`` in the key)."""
    monkeypatch.setattr(BNR, "cached", lambda name, params, compute, recompute=False: {})
    a2 = BNR.A2_PRESETS["book"]
    spec_key, _ = BNR.a2_gradients("wine", "mlp5", a2, seed=0, scale="book")
    dict_key, _ = BNR.a2_gradients("wine", "mlp5", a2.key(), seed=0, scale="book")
    assert spec_key == dict_key and spec_key["snapshots"] == [0, 3, 100]
    a4 = BNR.A4_PRESETS["book"]
    spec_key, _ = BNR.a4_consequences("low", 1, a4, scale="book")
    assert spec_key == BNR.a4_consequences("low", 1, a4.key(), scale="book")[0]
    assert isinstance(spec_key["fgsm"], list)
    paper = BNR.A1_PRESETS["paper"]
    assert paper.cnn_test is None and "cnn_test" not in paper
    cnn = BNR.a1_cnn_params("mnist", "vgg11", paper, seed=0, scale="paper")
    assert cnn["n_test"] is None and cnn["n_train"] is None and cnn["batch_size"] == 128
    assert cnn["snapshot_steps"] == [] and cnn["exact_grid"] == [3, 4]
    assert BNR.a1_cnn_params("mnist", "vgg11", BNR.A1_PRESETS["book"], seed=0,
                             scale="book")["n_test"] == 1000

"""Tests of ibn.results: hashing, provenance, cached round trip, recompute, atomic writes."""

from __future__ import annotations

import json
import socket
import sys
import zlib

import numpy as np
import pytest

import torch

from ibn import results


def test_params_hash_is_canonical():
    a = results.params_hash({"model": "vgg11", "n": 10, "nested": {"x": 1, "y": [1, 2]}})
    b = results.params_hash({"nested": {"y": [1, 2], "x": 1}, "n": 10, "model": "vgg11"})
    assert a == b and len(a) == 12 and int(a, 16) >= 0
    assert results.params_hash({"n": 11, "model": "vgg11", "nested": {"x": 1, "y": [1, 2]}}) != a
    assert results.params_hash({"t": (1, 2)}) == results.params_hash({"t": [1, 2]})
    with pytest.raises(TypeError, match="JSON"):
        results.params_hash({"bad": object()})
    with pytest.raises(TypeError):
        results.params_hash([1, 2])


def test_scale_is_a_label_recorded_in_provenance_not_in_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    book = {"n": 10, "scale": "book", "games": {"k": 3, "scale": "book"}, "runs": [{"scale": "x"}]}
    key = {"n": 10, "games": {"k": 3}, "runs": [{}]}
    assert results.key_params(book) == key and book["scale"] == "book"  # the input is kept
    assert results.params_hash(book) == results.params_hash(key)
    assert results.params_hash({**book, "scale": "smoke"}) == results.params_hash(key)
    assert results.scale_label(book) == "book" and results.scale_label(key) is None
    assert results.scale_label({"n": 1, "games": {"scale": "smoke"}}) == "smoke"
    calls = []
    results.cached("demo", book, lambda: calls.append(1) or {"x": 1}, root=tmp_path)
    meta = results.load_provenance("demo", key, root=tmp_path)
    assert meta["params"] == key and meta["provenance"]["params"] == key
    assert meta["provenance"]["scale"] == "book"
    results.cached("demo", {**book, "scale": "paper"}, lambda: calls.append(1) or {"x": 2},
                   root=tmp_path)
    assert calls == [1]  # the same settings at another scale are the same result
    results.cached("demo2", book, lambda: {"x": 1}, root=tmp_path, scale="smoke")
    assert results.load_provenance("demo2", key, root=tmp_path)["provenance"]["scale"] == "smoke"


def test_provenance_fields():
    p = results.provenance({"a": 1}, start="2026-01-01T00:00:00+00:00", elapsed_s=1.23456)
    assert p["params"] == {"a": 1} and p["params_hash"] == results.params_hash({"a": 1})
    assert set(p["git"]) == {"commit", "dirty"}
    hw = p["hardware"]
    assert hw["cores"] and hw["cpu"] and hw["torch"] == torch.__version__
    assert "cuda_device" in hw
    assert p["start"] == "2026-01-01T00:00:00+00:00" and p["end"] >= p["start"]
    assert p["elapsed_s"] == 1.235
    host = socket.gethostname()
    if len(host) >= 6:
        assert host not in json.dumps(p)


def _example(scale: float = 1.0) -> dict:
    return {
        "t": torch.arange(6, dtype=torch.float64).reshape(2, 3) * scale,
        "a": np.eye(3, dtype=np.float32) * scale,
        "i": np.int64(7),
        "s": scale,
        "name": "run",
        "nested": {"x": [1, 2, {"y": torch.ones(2)}], "tup": (1, "b")},
        "none": None,
    }


def _check_equal(got: dict, want: dict) -> None:
    assert torch.equal(got["t"], want["t"])
    assert isinstance(got["a"], np.ndarray) and got["a"].dtype == np.float32
    np.testing.assert_array_equal(got["a"], want["a"])
    assert got["i"] == 7 and isinstance(got["i"], int)
    assert got["s"] == want["s"] and got["name"] == "run" and got["none"] is None
    assert got["nested"]["x"][:2] == [1, 2] and torch.equal(got["nested"]["x"][2]["y"], torch.ones(2))
    assert got["nested"]["tup"] == (1, "b")


def test_cached_round_trip_and_recompute(tmp_path, monkeypatch):
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    calls = []

    def compute():
        calls.append(1)
        return _example(float(len(calls)))

    params = {"model": "mlp5", "samples": 3}
    r1 = results.cached("demo", params, compute, root=tmp_path)
    assert len(calls) == 1
    _check_equal(r1, _example(1.0))
    path = results.result_path("demo", params, tmp_path)
    assert path == tmp_path / "results" / "demo" / f"{results.params_hash(params)}.pt"
    assert path.is_file() and path.with_suffix(".json").is_file()

    r2 = results.cached("demo", dict(reversed(list(params.items()))), compute, root=tmp_path)
    assert len(calls) == 1  # loaded, not recomputed
    _check_equal(r2, _example(1.0))
    _check_equal(results.load_result("demo", params, root=tmp_path), _example(1.0))

    meta = results.load_provenance("demo", params, root=tmp_path)
    assert meta["name"] == "demo" and meta["params"] == params
    assert meta["scalars"] == {"i": 7, "s": 1.0, "name": "run", "none": None}
    assert meta["provenance"]["elapsed_s"] >= 0 and meta["provenance"]["hardware"]["cores"]

    r3 = results.cached("demo", params, compute, root=tmp_path, recompute=True)
    assert len(calls) == 2
    _check_equal(r3, _example(2.0))
    _check_equal(results.load_result("demo", params, root=tmp_path), _example(2.0))
    assert results.load_provenance("demo", params, root=tmp_path)["scalars"]["s"] == 2.0

    other = results.cached("demo", {"model": "mlp5", "samples": 4}, compute, root=tmp_path)
    assert len(calls) == 3 and other["s"] == 3.0


def test_load_result_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no stored result"):
        results.load_result("nothing", {"a": 1}, root=tmp_path)


def test_bad_names_and_values(tmp_path):
    with pytest.raises(ValueError, match="result name"):
        results.cached("../escape", {}, dict, root=tmp_path)
    with pytest.raises(TypeError, match="must return a dict"):
        results.cached("x", {}, lambda: [1, 2], root=tmp_path)
    with pytest.raises(TypeError, match="cannot store"):
        results.cached("x", {}, lambda: {"f": object()}, root=tmp_path)
    assert not list((tmp_path / "results").rglob("*.pt")) if (tmp_path / "results").exists() else True


def test_interrupted_write_leaves_old_result_intact(tmp_path, monkeypatch):
    params = {"k": 1}
    results.cached("atomic", params, lambda: {"v": torch.tensor([1.0])}, root=tmp_path)
    path = results.result_path("atomic", params, tmp_path)
    before = path.read_bytes()

    real_save = torch.save

    def broken_save(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        results.cached("atomic", params, lambda: {"v": torch.tensor([2.0])}, root=tmp_path, recompute=True)
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert torch.equal(results.load_result("atomic", params, root=tmp_path)["v"], torch.tensor([1.0]))
    assert results.load_provenance("atomic", params, root=tmp_path)["scalars"] == {"v": 1.0}


def test_list_results(tmp_path):
    assert results.list_results(tmp_path) == []
    results.cached("b-run", {"x": 1}, lambda: {"v": 1}, root=tmp_path)
    results.cached("a-run", {"x": 2}, lambda: {"v": 2}, root=tmp_path)
    rows = results.list_results(tmp_path)
    assert [r["name"] for r in rows] == ["a-run", "b-run"]
    r = rows[0]
    assert r["params"] == {"x": 2} and r["params_hash"] == results.params_hash({"x": 2})
    for key in ("commit", "dirty", "hardware", "cuda_device", "start", "elapsed_s", "bytes", "path"):
        assert key in r
    assert "torch" in r["hardware"]


def test_cached_recompute_environment_variable(tmp_path, monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return {"s": float(len(calls))}

    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    results.cached("env", {"a": 1}, compute, root=tmp_path)
    results.cached("env", {"a": 1}, compute, root=tmp_path)
    assert len(calls) == 1
    monkeypatch.setattr(results, "_COMPUTED_HERE", set())  # as a later process finds it
    monkeypatch.setenv("IBN_RECOMPUTE", "1")
    for _ in range(3):  # stored before this process: computed again once, then loaded
        again = results.cached("env", {"a": 1}, compute, root=tmp_path)
    assert len(calls) == 2 and again["s"] == 2.0
    results.cached("env", {"a": 1}, compute, root=tmp_path, recompute=True)  # explicit: always
    assert len(calls) == 3
    monkeypatch.setenv("IBN_RECOMPUTE", "0")
    results.cached("env", {"a": 1}, compute, root=tmp_path)
    assert len(calls) == 3


def _bits(t: torch.Tensor) -> torch.Tensor:
    """``t``'s bit patterns, so that NaNs compare equal to themselves."""
    if not t.is_floating_point():
        return t
    return t.contiguous().view({8: torch.int64, 4: torch.int32, 2: torch.int16,
                                1: torch.uint8}[t.element_size()])


def test_mostly_zero_tensors_stored_sparse_and_loaded_bit_for_bit(tmp_path):
    g = torch.Generator().manual_seed(0)
    effects = torch.zeros(4, 3, 2048, dtype=torch.float64)
    hit = torch.rand(effects.shape, generator=g) < 0.05
    effects[hit] = torch.randn(int(hit.sum()), generator=g, dtype=torch.float64)
    effects[0, 0, 7] = -0.0  # the sign of a zero survives
    # float32 with random bits: nothing to deflate, stored as it is
    dense = torch.randint(0, 2**31 - 1, (4, 3, 2048), generator=g, dtype=torch.int32).view(torch.float32)
    ints = torch.zeros(1 << 15, dtype=torch.int64)  # not floating: stored as it is
    made = {"effects": effects, "nested": {"list": [effects[1]]}, "dense": dense, "ints": ints}
    back = results.cached("sparse", {"a": 1}, lambda: made, root=tmp_path)
    for got, want in ((back["effects"], effects), (back["nested"]["list"][0], effects[1]),
                      (back["dense"], dense), (back["ints"], ints)):
        assert got.dtype == want.dtype and got.shape == want.shape and torch.equal(_bits(got), _bits(want))
    assert torch.signbit(back["effects"][0, 0, 7])
    stored = torch.load(results.result_path("sparse", {"a": 1}, tmp_path), weights_only=True)
    assert set(stored["effects"]) == {"__mostly_zeros__"} and isinstance(stored["dense"], torch.Tensor)
    results.cached("sparse", {"a": 2}, lambda: {"effects": effects}, root=tmp_path)
    assert results.result_path("sparse", {"a": 2}, tmp_path).stat().st_size < effects.numel() * 8 * 0.2


def test_dense_floating_tensors_stored_deflated_and_loaded_bit_for_bit(tmp_path):
    g = torch.Generator().manual_seed(1)
    values = torch.randn(6, 50, 1024, generator=g, dtype=torch.float64).cumsum(-1) * 1e-3
    values[0, 0, :4] = torch.tensor([float("nan"), float("inf"), -0.0, 1e-310])
    halves = values.to(torch.float32)
    dense = {"v": values, "bf16": values.to(torch.bfloat16), "f16": values.half(),
             "f8": values.to(torch.float8_e4m3fn),
             "transposed": values[:, :, :512].transpose(0, 2), "expanded": values[0, 0].expand(40, -1)}
    back = results.cached("deflated", {"a": 1}, lambda: {**dense, "h": [halves]}, root=tmp_path)
    for got, want in [(back["h"][0], halves)] + [(back[k], t) for k, t in dense.items()]:
        assert got.dtype == want.dtype and got.shape == want.shape and torch.equal(_bits(got), _bits(want))
    stored = torch.load(results.result_path("deflated", {"a": 1}, tmp_path), weights_only=True)
    assert set(stored["v"]) == {"__deflated__"}
    assert stored["v"]["__deflated__"]["byteorder"] == sys.byteorder
    # bytes written on a machine of the other byte order are read back right
    other = {"little": "big", "big": "little"}[sys.byteorder]
    packed = results._pack(torch.from_numpy(values.numpy().byteswap()))  # its bytes there
    packed["__deflated__"]["byteorder"] = other
    assert torch.equal(_bits(results._decode(packed)), _bits(values))
    dense_bytes = sum(t.numel() * t.element_size() for t in [halves, *dense.values()])
    assert results.result_path("deflated", {"a": 1}, tmp_path).stat().st_size < 0.9 * dense_bytes


def test_results_stored_in_the_earlier_forms_still_load_bit_for_bit():
    g = torch.Generator().manual_seed(2)
    effects = torch.zeros(3, 4096, dtype=torch.float64)
    effects[:, ::7] = torch.randn(3, 586, generator=g, dtype=torch.float64)
    flat = effects.reshape(-1)
    pos = flat.nonzero().flatten()
    positions = {"__mostly_zeros__": {"shape": [3, 4096], "positions": pos.to(torch.int32),
                                      "values": flat[pos].clone()}}
    assert torch.equal(_bits(results._decode(positions)), _bits(effects))
    values = torch.randn(4, 1024, generator=g, dtype=torch.float64).cumsum(-1)
    grouped = values.reshape(-1).view(torch.uint8).reshape(-1, 8).T.contiguous().numpy().tobytes()
    zlib_form = {"__deflated__": {"shape": [4, 1024], "dtype": "float64", "byteorder": sys.byteorder,
                                  "bytes": torch.frombuffer(bytearray(zlib.compress(grouped, 6)),
                                                            dtype=torch.uint8)}}
    assert torch.equal(_bits(results._decode(zlib_form)), _bits(values))
    for zeros in (torch.zeros(1 << 15, dtype=torch.float64), torch.zeros(2, 1 << 14)):
        back = results._decode(results._pack(zeros))
        assert back.dtype == zeros.dtype and torch.equal(_bits(back), _bits(zeros))


def test_parts_resume_an_interrupted_compute_and_are_removed_once_saved(tmp_path, monkeypatch):
    monkeypatch.delenv("IBN_RECOMPUTE", raising=False)
    params = {"n": 3}
    calls: list[int] = []

    def compute(stop_at: int | None):
        def run():
            parts = results.Parts("demo", params, root=tmp_path)

            def part(k):
                if k == stop_at:
                    raise KeyboardInterrupt
                calls.append(k)
                return {"x": torch.full((2,), float(k)), "k": k}

            got = [parts.get(k, lambda k=k: part(k)) for k in range(4)]
            return {"x": torch.stack([g["x"] for g in got]), "ks": [g["k"] for g in got]}
        return run

    with pytest.raises(KeyboardInterrupt):
        results.cached("demo", params, compute(stop_at=2), root=tmp_path)
    parts = results.Parts("demo", params, root=tmp_path)
    assert parts.done() == ["0", "1"] and calls == [0, 1]
    assert not results.result_path("demo", params, tmp_path).exists()
    out = results.cached("demo", params, compute(stop_at=None), root=tmp_path)
    assert calls == [0, 1, 2, 3]  # parts 0 and 1 were loaded, not recomputed
    assert out["ks"] == [0, 1, 2, 3] and torch.equal(out["x"][:, 0], torch.arange(4.0))
    assert parts.done() == [] and not parts.folder.exists()
    # recomputing starts afresh: leftover parts are removed first
    parts.get(0, lambda: {"x": torch.full((2,), -1.0), "k": -1})
    out = results.cached("demo", params, compute(stop_at=None), root=tmp_path, recompute=True)
    assert out["ks"] == [0, 1, 2, 3] and parts.done() == []
    assert [p.name for p in (tmp_path / "results" / "demo").iterdir()
            if p.name.startswith(".")] == []
    with pytest.raises(ValueError, match="part key"):
        parts.get("../x", dict)
    with pytest.raises(TypeError, match="must return a dict"):
        parts.get(5, lambda: [1])

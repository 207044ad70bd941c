"""Tests of the ``ibn`` command line (in-process through ``ibn.cli.main``)."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from ibn import results
from ibn.cli import main
from ibn.data import registry
from ibn.data.registry import FileSpec, Source


def test_help_runs(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["--help"])
    assert ei.value.code == 0
    out = capsys.readouterr().out
    for word in ("data", "results", "extract", "train"):
        assert word in out
    with pytest.raises(SystemExit) as ei:
        main(["data", "fetch", "--help"])
    assert ei.value.code == 0 and "--root" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as ei:
        main([])
    assert ei.value.code == 2


def test_data_list_on_empty_root(tmp_path, capsys):
    assert main(["data", "list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in registry.SOURCES:
        assert name in out
    assert out.count("missing") == len(registry.SOURCES)
    assert str(tmp_path) in out


@pytest.fixture
def fake_sources(tmp_path, monkeypatch):
    payload = b"payload bytes\n"
    art = tmp_path / "art.zip"
    with zipfile.ZipFile(art, "w") as z:
        z.writestr("pkg/p.txt", payload)
    good = hashlib.sha256(payload).hexdigest()
    monkeypatch.setitem(registry.SOURCES, "clifake", Source("clifake", "local", str(art), "", (FileSpec("p.txt", ("pkg/p.txt",), good),)))
    monkeypatch.setitem(registry.SOURCES, "clibad", Source("clibad", "local", str(art), "", (FileSpec("p.txt", ("pkg/p.txt",), "0" * 64),)))
    return tmp_path / "root"


def test_data_fetch_list_verify(fake_sources, capsys):
    root = str(fake_sources)
    assert main(["data", "fetch", "clifake", "--root", root]) == 0
    assert (fake_sources / "raw" / "clifake" / "p.txt").is_file()
    assert "verified" in capsys.readouterr().out
    assert main(["data", "list", "--root", root]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("clifake")][0]
    assert "verified" in line and "1/1" in line
    assert main(["data", "verify", "clifake", "--full", "--root", root]) == 0


def test_data_fetch_checksum_failure_exits_nonzero(fake_sources, capsys):
    rc = main(["data", "fetch", "clibad", "--root", str(fake_sources)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "0" * 64 in err
    assert not (fake_sources / "raw" / "clibad" / "p.txt").exists()


def test_unknown_source_exits_nonzero(tmp_path, capsys):
    assert main(["data", "fetch", "nope", "--root", str(tmp_path)]) == 1
    assert "unknown data source" in capsys.readouterr().err


def test_results_list(tmp_path, capsys):
    assert main(["results", "list", "--root", str(tmp_path)]) == 0
    assert "no stored results" in capsys.readouterr().out
    results.cached("cli-demo", {"a": 1}, lambda: {"v": 1.0}, root=tmp_path)
    assert main(["results", "list", "-v", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"cli-demo/{results.params_hash({'a': 1})}" in out and "{'a': 1}" in out


def test_extract_needs_checkpoint_or_untrained(tmp_path, capsys):
    rc = main(["extract", "--model", "mlp5", "--dataset", "wine", "--root", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "--checkpoint" in err or "needs" in err


class _FakeExtraction:
    """Stands in for ibn.and_or.extract's result: AND effects = Möbius transform, OR = 0."""

    def __init__(self, values, noise_bound=0.0, solver="auto"):
        import torch

        from ibn.transforms import mobius

        v = torch.as_tensor(values, dtype=torch.float64)
        self.and_effects = mobius(v)
        self.or_effects = torch.zeros_like(v)
        self.objective = float(self.and_effects.abs().sum())


def _use_real_or_fake_extract(monkeypatch):
    import importlib

    and_or = importlib.import_module("ibn.and_or")
    if not hasattr(and_or, "extract"):
        monkeypatch.setattr(and_or, "extract", _FakeExtraction, raising=False)


def test_train_then_extract_tabular(tmp_path, monkeypatch, capsys):
    import torch

    from ibn.transforms import zeta

    _use_real_or_fake_extract(monkeypatch)
    root = str(tmp_path)
    ck = tmp_path / "m.pt"
    assert main(["train", "--model", "mlp5", "--dataset", "wine", "--epochs", "2", "--lr", "0.05",
                 "--out", str(ck), "--root", root, "-q"]) == 0
    assert ck.is_file() and ck.with_suffix(".json").is_file()
    assert "trained mlp5" in capsys.readouterr().out
    args = ["extract", "--model", "mlp5", "--dataset", "wine", "--checkpoint", str(ck), "--samples", "3",
            "--players", "4", "--noise-bound", "0", "--root", root, "--name", "cli-extract"]
    assert main(args) == 0
    rows = results.list_results(root)
    assert [r["name"] for r in rows] == ["cli-extract"]
    params = rows[0]["params"]
    res = results.load_result("cli-extract", params, root=root)
    assert res["values"].shape == (3, 16) and res["and_effects"].shape == (3, 16)
    assert res["label"].shape == (3,) and res["n_players"] == 4
    # AND + OR effects reproduce every value (the defining identity, SPEC §2), noise bound 0
    from ibn.transforms import or_zeta

    recon = zeta(res["and_effects"]) + or_zeta(res["or_effects"])
    torch.testing.assert_close(recon, res["values"], atol=1e-6, rtol=1e-6)
    assert res["objective"].shape == (3,)
    torch.testing.assert_close(res["objective"], res["and_effects"][:, 1:].abs().sum(1) + res["or_effects"][:, 1:].abs().sum(1))
    # second run loads instead of recomputing
    import ibn.games as games

    monkeypatch.setattr(games, "all_values", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    assert main(args) == 0


def test_extract_with_noise_stores_delta(tmp_path, capsys):
    import importlib

    import torch

    from ibn.transforms import or_zeta, zeta

    if not hasattr(importlib.import_module("ibn.and_or"), "extract"):
        pytest.skip("ibn.and_or.extract not available")
    root = str(tmp_path)
    assert main(["extract", "--model", "mlp5", "--dataset", "breast_cancer", "--untrained", "--samples", "2",
                 "--players", "5", "--noise-bound", "0.1", "--root", root, "--name", "noisy"]) == 0
    (row,) = results.list_results(root)
    res = results.load_result("noisy", row["params"], root=root)
    assert row["params"]["noise_bound"] == 0.1 and row["params"]["players"] == 5
    v, d = res["values"], res["delta"]
    assert v.shape == d.shape == (2, 32)
    bound = 0.1 * (v[:, -1] - v[:, 0]).abs()
    assert (d.abs().max(1).values <= bound * (1 + 1e-6) + 1e-9).all()
    torch.testing.assert_close(zeta(res["and_effects"]) + or_zeta(res["or_effects"]), v - d, atol=1e-6, rtol=1e-6)

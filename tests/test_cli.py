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

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
    assert main(["data", "fetch", "clifake", "--root", root, "--create-root"]) == 0
    assert (fake_sources / "raw" / "clifake" / "p.txt").is_file()
    assert "verified" in capsys.readouterr().out
    assert main(["data", "list", "--root", root]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("clifake")][0]
    assert "verified" in line and "1/1" in line
    assert main(["data", "verify", "clifake", "--full", "--root", root]) == 0


def test_data_fetch_checksum_failure_exits_nonzero(fake_sources, capsys):
    rc = main(["data", "fetch", "clibad", "--root", str(fake_sources), "--create-root"])
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
    # AND + OR effects reproduce every value (the defining identity, Conventions page,
    # eq-universal-matching), noise bound 0
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


# ---------------------------------------------------------------- one-line errors


def _one_error_line(err: str, start: str = "ibn") -> str:
    """The single line of ``err`` that reports the failure (progress bars aside); no traceback."""
    assert "Traceback" not in err
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith(start)]
    assert len(lines) == 1, err
    return lines[0]


def _extract_args(root, *more):
    return ["extract", "--model", "mlp5", "--dataset", "wine", "--untrained", "--root", str(root),
            "--samples", "1", "--players", "2", "--noise-bound", "0", "-q", *more]


@pytest.mark.parametrize("argv, named", [
    (["--samples", "-2"], "--samples"),
    (["--samples", "0"], "--samples"),
    (["--samples", "many"], "--samples"),
    (["--players", "0"], "--players"),
    (["--players", "17"], "--players"),
    (["--batch-size", "0"], "--batch-size"),
    (["--noise-bound", "-0.1"], "--noise-bound"),
    (["--noise-bound", "nan"], "--noise-bound"),
    (["--noise-bound", "inf"], "--noise-bound"),
    (["--seed", "-1"], "--seed"),
])
def test_extract_bad_numbers_are_one_line_usage_errors(tmp_path, capsys, argv, named):
    with pytest.raises(SystemExit) as ei:
        main(_extract_args(tmp_path, *argv))
    assert ei.value.code == 2
    err = capsys.readouterr().err
    line = _one_error_line(err)
    assert err.strip() == line and named in line and argv[1] in line
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("argv, named", [
    (["--epochs", "0"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--momentum", "-0.5"], "--momentum"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--label-noise", "1.5"], "--label-noise"),
    (["--subset", "0"], "--subset"),
    (["--subset", "1.5"], "--subset"),
    (["--subset", "half"], "--subset"),
    (["--seed", "-3"], "--seed"),
])
def test_train_bad_numbers_are_one_line_usage_errors(tmp_path, capsys, argv, named):
    out = tmp_path / "m.pt"
    with pytest.raises(SystemExit) as ei:
        main(["train", "--model", "mlp5", "--dataset", "wine", "--epochs", "1", "--out", str(out), "-q",
              "--root", str(tmp_path), *argv])
    assert ei.value.code == 2
    err = capsys.readouterr().err
    line = _one_error_line(err)
    assert err.strip() == line and named in line and argv[1] in line
    assert not out.exists()


def test_missing_argument_is_one_line(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["extract", "--model", "mlp5"])
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == _one_error_line(err) and "--dataset" in err


def test_samples_beyond_the_split_are_refused(tmp_path, capsys):
    assert main(_extract_args(tmp_path, "--samples", "37")) == 1  # the wine test split has 36 rows
    line = _one_error_line(capsys.readouterr().err)
    assert "--samples 37" in line and "36" in line
    assert results.list_results(tmp_path) == []


def test_more_players_than_features_are_refused(tmp_path, capsys):
    assert main(_extract_args(tmp_path, "--players", "14")) == 1  # wine has 13 features
    line = _one_error_line(capsys.readouterr().err)
    assert "--players 14" in line and "13 features" in line
    assert results.list_results(tmp_path) == []


@pytest.mark.parametrize("model, dataset, words", [
    ("resnet20", "wine", ("image", "tabular")),
    ("minilm", "mnist", ("text", "image")),
    ("mlp5", "cifar10-sample", ("tabular", "image")),
    ("bert_medium", "breast_cancer", ("text", "tabular")),
    ("smollm2", "rt-sentences", ("language model",)),
])
@pytest.mark.parametrize("command", ["extract", "train"])
def test_model_dataset_mismatch_is_one_line(tmp_path, capsys, model, dataset, words, command):
    argv = [command, "--model", model, "--dataset", dataset, "--root", str(tmp_path)]
    argv += ["--untrained", "--samples", "1", "--players", "2"] if command == "extract" else ["--epochs", "1", "-q"]
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert model in line and all(w in line for w in words)


def test_unknown_model_and_dataset_are_one_line(tmp_path, capsys):
    assert main(["extract", "--model", "mlp99", "--dataset", "wine", "--untrained", "--root", str(tmp_path)]) == 1
    assert "unknown model 'mlp99'" in _one_error_line(capsys.readouterr().err)
    assert main(["train", "--model", "mlp5", "--dataset", "iris", "--root", str(tmp_path)]) == 1
    assert "unknown dataset 'iris'" in _one_error_line(capsys.readouterr().err)


def test_unavailable_device_is_one_line(tmp_path, capsys):
    import torch

    device = "cuda:99" if torch.cuda.is_available() else "cuda"
    for argv in (_extract_args(tmp_path, "--device", device),
                 ["train", "--model", "mlp5", "--dataset", "wine", "--epochs", "1", "-q", "--device", device,
                  "--out", str(tmp_path / "m.pt")]):
        assert main(argv) == 1
        line = _one_error_line(capsys.readouterr().err)
        assert f"--device {device}" in line and "cpu" in line
    assert main(_extract_args(tmp_path, "--device", "gpu0")) == 1
    assert "--device 'gpu0'" in _one_error_line(capsys.readouterr().err)
    assert results.list_results(tmp_path) == [] and not (tmp_path / "m.pt").exists()


def _state_dict_file(path, model, **kw):
    import torch

    from ibn import models

    torch.save(models.build(model, seed=0, **kw).state_dict(), path)
    return str(path)


@pytest.mark.parametrize("case, words", [
    ("missing", ("no such file",)),
    ("corrupt", ("not a torch state dict",)),
    ("not a state dict", ("not a state dict",)),
    ("other model", ("does not fit", "unexpected key")),
    ("other dataset", ("does not fit", "shape mismatch", "(100, 30)", "(100, 13)")),
])
def test_bad_checkpoint_is_one_line(tmp_path, capsys, case, words):
    import torch

    ck = tmp_path / "ck.pt"
    if case == "corrupt":
        ck.write_bytes(b"this is not a checkpoint\n")
    elif case == "not a state dict":
        torch.save([1, 2, 3], ck)
    elif case == "other model":
        _state_dict_file(ck, "mlp8", in_features=13, num_classes=3)
    elif case == "other dataset":
        _state_dict_file(ck, "mlp5", in_features=30, num_classes=2)  # breast_cancer's shape
    argv = [a for a in _extract_args(tmp_path) if a != "--untrained"] + ["--checkpoint", str(ck)]
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "--checkpoint" in line and all(w in line for w in words), line
    assert results.list_results(tmp_path) == []


def test_fitting_checkpoint_loads(tmp_path, capsys):
    ck = _state_dict_file(tmp_path / "ck.pt", "mlp5", in_features=13, num_classes=3)
    argv = [a for a in _extract_args(tmp_path) if a != "--untrained"] + ["--checkpoint", ck]
    assert main(argv) == 0, capsys.readouterr().err
    assert main(argv + ["--untrained"]) == 1
    assert "not both" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["extract", "train"])
def test_missing_dataset_says_how_to_fetch_it(tmp_path, capsys, monkeypatch, command):
    monkeypatch.delenv("IBN_DATA", raising=False)
    argv = [command, "--model", "resnet20", "--dataset", "mnist", "--root", str(tmp_path)]
    argv += ["--untrained", "--samples", "1"] if command == "extract" else ["--epochs", "1", "-q"]
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "mnist is not fetched" in line and "ibn data fetch mnist" in line


# ---------------------------------------------------------------- --root


@pytest.mark.parametrize("argv", [
    ["data", "list"], ["data", "verify", "mnist"], ["results", "list"], ["data", "fetch", "mnist"],
    ["extract", "--model", "mlp5", "--dataset", "wine", "--untrained", "--samples", "1", "--players", "2"],
    ["train", "--model", "mlp5", "--dataset", "wine", "--epochs", "1", "-q"],
])
def test_missing_root_is_refused(tmp_path, capsys, argv):
    root = tmp_path / "no" / "such" / "dir"
    assert main([*argv, "--root", str(root)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert str(root) in line and "no such directory" in line
    assert not (tmp_path / "no").exists()
    (tmp_path / "file").write_text("x")
    assert main([*argv, "--root", str(tmp_path / "file")]) == 1
    assert "not a directory" in _one_error_line(capsys.readouterr().err)


def test_create_root_creates_it(tmp_path, capsys):
    _use_real_or_fake_extract_plain()
    root = tmp_path / "new" / "root"
    assert main(_extract_args(root, "--create-root", "--name", "made")) == 0
    assert root.is_dir() and [r["name"] for r in results.list_results(root)] == ["made"]


def _use_real_or_fake_extract_plain():
    import importlib

    if not hasattr(importlib.import_module("ibn.and_or"), "extract"):
        pytest.skip("ibn.and_or.extract not available")


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_result_and_model_files_follow_the_umask(tmp_path, capsys, umask, mode):
    import os
    import stat

    _use_real_or_fake_extract_plain()
    old = os.umask(umask)
    try:
        assert main(_extract_args(tmp_path, "--name", "modes")) == 0
        out = tmp_path / "m.pt"
        assert main(["train", "--model", "mlp5", "--dataset", "wine", "--epochs", "1", "-q", "--out", str(out),
                     "--root", str(tmp_path)]) == 0
    finally:
        os.umask(old)
    (row,) = results.list_results(tmp_path)
    pt = tmp_path / "results" / "modes" / f"{row['params_hash']}.pt"
    for f in (pt, pt.with_suffix(".json"), out, out.with_suffix(".json")):
        assert stat.S_IMODE(f.stat().st_mode) == mode, f


# ---------------------------------------------------------------- progress and run size


def test_progress_bar_inside_a_sample(tmp_path, capsys):
    _use_real_or_fake_extract_plain()
    args = [a for a in _extract_args(tmp_path, "--players", "5", "--batch-size", "4") if a != "-q"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "forward passes" in err and "samples" in err  # 32 coalitions in 8 batches: a bar per sample
    assert main(args + ["-q", "--recompute"]) == 0
    assert "forward passes" not in capsys.readouterr().err


def test_large_runs_are_announced(tmp_path, capsys, monkeypatch):
    import ibn.games as games

    def stop(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(games, "all_values", stop)
    argv = ["extract", "--model", "mlp5", "--dataset", "digits", "--untrained", "--samples", "17", "--players", "16",
            "--root", str(tmp_path), "-q"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    warning = _one_error_line(err, "ibn: warning")
    assert "17 samples x 2**16" in warning and "1,114,112 forward passes" in warning
    assert _one_error_line(err, "ibn: interrupted")
    assert main(_extract_args(tmp_path, "--players", "3")) == 130  # 8 passes: no warning
    assert "warning" not in capsys.readouterr().err


# ---------------------------------------------------------------- unexpected errors, --debug


def test_unexpected_error_is_one_line_unless_debug(tmp_path, capsys, monkeypatch):
    import ibn.games as games

    def boom(*a, **k):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(games, "all_values", boom)
    monkeypatch.delenv("IBN_DEBUG", raising=False)
    assert main(_extract_args(tmp_path)) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "RuntimeError: boom second line" in line and "--debug" in line
    with pytest.raises(RuntimeError, match="boom"):
        main(_extract_args(tmp_path, "--debug"))
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", *_extract_args(tmp_path)])
    monkeypatch.setenv("IBN_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(_extract_args(tmp_path))


def test_library_warnings_are_one_line(tmp_path, capsys, monkeypatch):
    import warnings

    import ibn.games as games

    real = games.all_values

    def warn(*a, **k):
        warnings.warn("something odd\nin two lines", UserWarning)
        return real(*a, **k)

    monkeypatch.setattr(games, "all_values", warn)
    _use_real_or_fake_extract_plain()
    assert main(_extract_args(tmp_path)) == 0
    err = capsys.readouterr().err
    assert _one_error_line(err, "ibn: warning") == "ibn: warning: something odd in two lines"
    assert "warnings.warn" not in err


# ---------------------------------------------------------------- Ctrl-C and closed pipes


def test_keyboard_interrupt_is_one_line_exit_130(tmp_path, capsys, monkeypatch):
    import ibn.games as games

    monkeypatch.setattr(games, "all_values", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(_extract_args(tmp_path)) == 130
    assert _one_error_line(capsys.readouterr().err) == "ibn: interrupted"
    assert not (tmp_path / "results").exists()


def _interrupted_save(monkeypatch):
    """torch.save writes a few bytes of its file, then Ctrl-C arrives."""
    import torch

    def save(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", save)


def test_interrupt_while_writing_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    _use_real_or_fake_extract_plain()
    _interrupted_save(monkeypatch)
    assert main(_extract_args(tmp_path, "--name", "cut")) == 130
    out = tmp_path / "models" / "m.pt"
    assert main(["train", "--model", "mlp5", "--dataset", "wine", "--epochs", "1", "-q", "--out", str(out),
                 "--root", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert err.count("ibn: interrupted") == 2 and "Traceback" not in err
    # nothing half-written: no result, no model, no temporary; at most the training's own
    # log, kept so that a rerun resumes (the model store's train/ folder)
    left = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.parent.name == "train" and p.name == "log.jsonl" for p in left), left


def _default_sigint() -> None:
    """In the child: Ctrl-C with its default meaning, even when the tests themselves run as a
    background job of a non-interactive shell (which starts them with SIGINT ignored, and a
    child would inherit that)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _python_ibn(*argv):
    import os
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("IBN_DEBUG", None)
    return [sys.executable, "-m", "ibn.cli", *argv], env


def test_sigint_during_a_slow_extract(tmp_path):
    """Ctrl-C in a long run: one line, exit 130, no result or temporary file left."""
    import signal
    import subprocess
    import threading
    import time

    # 300 samples x 2**12 coalitions: minutes of work, announced by the forward-pass warning
    cmd, env = _python_ibn("extract", "--model", "mlp5", "--dataset", "digits", "--split", "train", "--untrained",
                           "--samples", "300", "--players", "12", "--root", str(tmp_path), "-q")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
                            preexec_fn=_default_sigint)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: proc.stderr.read1(4096), b"")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while b"forward passes" not in b"".join(chunks) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(1.0)  # inside the first samples
        assert proc.poll() is None, b"".join(chunks).decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    err = b"".join(chunks).decode(errors="replace")
    assert rc == 130, err
    assert "Traceback" not in err and err.rstrip().endswith("ibn: interrupted")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_closed_stdout_pipe_is_silent(tmp_path):
    """`ibn data list | head -1`: the reader has gone; no BrokenPipeError traceback, exit 141."""
    import subprocess

    for argv in (["data", "list", "--root", str(tmp_path)], ["results", "list", "--root", str(tmp_path)]):
        cmd, env = _python_ibn(*argv)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
                            preexec_fn=_default_sigint)
        proc.stdout.close()  # closed before the child writes its first line
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 141, err
        assert err == ""

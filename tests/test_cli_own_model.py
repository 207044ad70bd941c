"""``ibn extract`` on a model of one's own: a TorchScript file (``--model net.pt``) or a
``module:factory`` with ``--weights`` (a state dict). The oracle: the stored values equal
``all_values`` of the same model with the CLI's own maskers, and the TorchScript and factory
routes of one network store the same values; every misuse is one ``ibn: error:`` line."""

from __future__ import annotations

import textwrap
import warnings

import pytest
import torch

from ibn import results
from ibn.cli import main

FACTORY_SOURCE = textwrap.dedent("""
    import torch
    from torch import nn


    def make(in_features, num_classes):
        return nn.Sequential(nn.Linear(in_features, 8), nn.Tanh(), nn.Linear(8, num_classes))


    def no_module():
        return [1, 2]


    def broken(num_classes):
        raise RuntimeError("cannot build")


    def wrong_width():
        return nn.Linear(5, 3)  # wine has 13 features

    NOT_CALLABLE = 3
    """)


@pytest.fixture
def own(tmp_path, monkeypatch):
    """A factory module ``mynets`` (a file and an importable module), a state dict of its network
    for wine (13 features, 3 classes), and the same network as a TorchScript file."""
    src = tmp_path / "mynets.py"
    src.write_text(FACTORY_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.manual_seed(5)
    net = torch.nn.Sequential(torch.nn.Linear(13, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).eval()
    weights = tmp_path / "weights.pt"
    torch.save(net.state_dict(), weights)
    script = tmp_path / "net.pt"
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; it still writes it
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(net), str(script))
    return {"dir": tmp_path, "src": src, "net": net, "weights": weights, "script": script}


def _args(root, model, *more):
    return ["extract", "--model", str(model), "--dataset", "wine", "--root", str(root), "--samples", "2",
            "--players", "3", "--noise-bound", "0", "-q", *map(str, more)]


def _stored(root, name):
    (row,) = [r for r in results.list_results(root) if r["name"] == name]
    return row, results.load_result(name, row["params"], root=root)


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("ibn")]
    assert len(lines) == 1, err
    return lines[0]


def _by_hand(net, root):
    """all_values of ``net`` on the first two wine test rows, with the CLI's tabular masker."""
    from ibn import games
    from ibn.cli._common import _dataset
    from ibn.cli.commands import _masker

    class A:  # the arguments _masker reads
        seed, players, dataset, model = 0, 3, "wine", "own"

    spec = _dataset("wine", "test", 0, str(root), n=2)
    return torch.stack([games.all_values(net, x, _masker("tabular", spec, x, net, A, i), target=int(y))
                        for i, (x, y) in enumerate(zip(spec["x"], spec["y"]))])


def test_torchscript_and_factory_store_the_models_values(own, capsys):
    root = own["dir"] / "root"
    root.mkdir()
    assert main(_args(root, own["script"], "--name", "ts")) == 0
    assert capsys.readouterr().err == ""  # no warning line (torch 2.13 deprecates TorchScript)
    assert main(_args(root, "mynets:make", "--weights", own["weights"], "--name", "fac")) == 0, \
        capsys.readouterr().err
    assert main(_args(root, f"{own['src']}:make", "--weights", own["weights"], "--name", "file")) == 0, \
        capsys.readouterr().err
    row_ts, ts = _stored(root, "ts")
    row_fac, fac = _stored(root, "fac")
    _, file = _stored(root, "file")
    want = _by_hand(own["net"], root)
    for res in (ts, fac, file):
        assert res["values"].shape == (2, 8)
        torch.testing.assert_close(res["values"], want, rtol=1e-6, atol=1e-6)
    assert torch.equal(fac["values"], file["values"])
    assert row_ts["params"]["model_sha256"] and row_fac["params"]["model_source_sha256"]
    assert row_fac["params"]["checkpoint_sha256"]
    # the default result name comes from the file's stem / the factory's name
    assert main(_args(root, own["script"])) == 0
    assert "extract-net-wine" in {r["name"] for r in results.list_results(root)}


def test_factory_untrained_is_seeded(own, capsys):
    root = own["dir"] / "root"
    root.mkdir()
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert main(_args(root, "mynets:make", "--untrained", "--seed", seed, "--name", name)) == 0, \
            capsys.readouterr().err
    a, b, c = (_stored(root, n)[1]["values"] for n in "abc")
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("case, words", [
    ("missing script", ("--model", "no such file")),
    ("state dict as script", ("holds a state dict", "not a TorchScript module", "module:factory --weights")),
    ("junk as script", ("not a TorchScript file", "torch.jit.save")),
    ("script with weights", ("TorchScript file", "drop --weights")),
    ("factory without weights", ("--weights PATH", "--untrained")),
    ("no module", ("cannot import", "nomodule")),
    ("no attribute", ("has no attribute", "'nothing'")),
    ("not callable", ("NOT_CALLABLE", "not a function")),
    ("not a module", ("returned a list", "torch.nn.Module")),
    ("factory fails", ("the factory failed", "cannot build")),
    ("weights do not fit", ("--weights", "does not fit", "shape mismatch")),
    ("model does not fit data", ("fails on wine inputs", "(1, 13)")),
    ("missing weights file", ("--weights", "no such file")),
    ("both weights and checkpoint", ("not both",)),
    ("bad spec", ("expected module:factory",)),
])
def test_misuse_is_one_line(own, capsys, case, words):
    d = own["dir"]
    (d / "junk.pt").write_bytes(b"no zip archive")
    bad_weights = d / "bad.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(13, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3)).state_dict(),
               bad_weights)
    argv = {
        "missing script": _args(d, d / "absent.pt"),
        "state dict as script": _args(d, own["weights"]),
        "junk as script": _args(d, d / "junk.pt"),
        "script with weights": _args(d, own["script"], "--weights", own["weights"]),
        "factory without weights": _args(d, "mynets:make"),
        "no module": _args(d, "nomodule:make", "--untrained"),
        "no attribute": _args(d, "mynets:nothing", "--untrained"),
        "not callable": _args(d, "mynets:NOT_CALLABLE", "--untrained"),
        "not a module": _args(d, "mynets:no_module", "--untrained"),
        "factory fails": _args(d, "mynets:broken", "--untrained"),
        "weights do not fit": _args(d, "mynets:make", "--weights", bad_weights),
        "model does not fit data": _args(d, "mynets:wrong_width", "--untrained"),
        "missing weights file": _args(d, "mynets:make", "--weights", d / "nope.pt"),
        "both weights and checkpoint": _args(d, "mynets:make", "--weights", own["weights"],
                                             "--checkpoint", own["weights"]),
        "bad spec": _args(d, "mynets:", "--untrained"),
    }[case]
    assert main([str(a) for a in argv]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("ibn: error: ") and all(w in line for w in words), line
    assert results.list_results(d) == []


def test_zoo_names_still_work(tmp_path, capsys):
    argv = ["extract", "--model", "mlp5", "--dataset", "wine", "--untrained", "--root", str(tmp_path),
            "--samples", "1", "--players", "2", "--noise-bound", "0", "-q"]
    assert main(argv) == 0, capsys.readouterr().err
    assert [r["name"] for r in results.list_results(tmp_path)] == ["extract-mlp5-wine"]
    assert "model_sha256" not in results.list_results(tmp_path)[0]["params"]

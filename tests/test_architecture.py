"""The import contracts (pyproject's ``[tool.importlinter]``): ``ibn`` never imports the papers'
pipelines (``papers``), and a module of ``ibn`` imports only from its own floor or the floors
below (transforms at the bottom, the command line at the top)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_public_names_resolve_and_import_stays_light():
    """``ibn.NAME`` for every exported name, while a bare ``import ibn`` loads no torch (the
    command line's data commands start quickly)."""
    code = ("import sys, ibn; assert 'torch' not in sys.modules, 'torch loaded'; "
            "missing = [n for n in ibn.__all__ if getattr(ibn, n, None) is None]; "
            "assert not missing, missing; print(len(ibn.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout) >= 15
    assert (ROOT / "ibn" / "py.typed").is_file()

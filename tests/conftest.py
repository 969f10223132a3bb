from __future__ import annotations

from pathlib import Path

import pytest

from testing.gitutil import make_repo, run_mreg


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo with one commit and an initialised mreg registry."""
    path = tmp_path / "repo"
    make_repo(path)
    r = run_mreg("init", cwd=path)
    assert r.code == 0, r.err
    return path


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "weights.bin").write_bytes(b"\x00\x01" * 5000)
    (d / "config.json").write_text('{"layers": 3}\n')
    return d

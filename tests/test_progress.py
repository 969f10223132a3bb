"""Transfer progress: a bar on stderr when it is a terminal, nothing in logs, pipes or JSON output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from testing.gitutil import MREG
from testing.gitutil import run_mreg_on_a_terminal as _run_with_stderr_on_a_terminal

BIG = 65 * 1024 * 1024  # bars start at 64 MiB: small files finish before a bar would help


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    f = tmp_path / "weights.bin"
    f.write_bytes(os.urandom(1024) * (BIG // 1024))
    return f


@pytest.mark.slow
def test_register_and_pull_show_a_bar_on_a_terminal(repo: Path, big_file: Path, tmp_path: Path) -> None:
    code, out, err = _run_with_stderr_on_a_terminal(["register", "fraud", str(big_file)], repo)
    assert (code, out) == (0, "fraud@v1\n"), err
    assert "weights.bin" in err and "100%" in err and "65.0 MiB/65.0 MiB" in err
    code, out, err = _run_with_stderr_on_a_terminal(["pull", "fraud@v1", "-o", str(tmp_path / "out")], repo)
    assert code == 0, err
    assert "100%" in err and (tmp_path / "out" / "weights.bin").stat().st_size == BIG


@pytest.mark.slow
def test_no_bar_under_json_or_when_stderr_is_not_a_terminal(
    repo: Path, big_file: Path, tmp_path: Path
) -> None:
    code, out, err = _run_with_stderr_on_a_terminal(["register", "fraud", str(big_file), "--json"], repo)
    assert code == 0 and "%" not in err and '"ref": "fraud@v1"' in out, err
    proc = subprocess.run(
        [*MREG, "pull", "fraud@v1", "-o", str(tmp_path / "out")], cwd=repo, capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # a CI log: nothing but the result


@pytest.mark.slow
def test_a_sharded_model_shows_one_bar_over_all_its_bytes(repo: Path, tmp_path: Path) -> None:
    """Shards are stored and pulled several at once: one bar, the total of their sizes, never two
    bars fighting over the line."""
    shards = tmp_path / "model"
    shards.mkdir()
    for i in range(4):
        (shards / f"model-{i:05d}-of-00004.safetensors").write_bytes(os.urandom(1024) * (20 * 1024))  # 20 MiB
    code, out, err = _run_with_stderr_on_a_terminal(["register", "llm", str(shards)], repo)
    assert (code, out) == (0, "llm@v1\n"), err
    assert "4 files" in err and "80.0 MiB/80.0 MiB" in err and err.count("100%") == 1
    assert "safetensors" not in err  # no per-file bar
    code, out, err = _run_with_stderr_on_a_terminal(["pull", "llm@v1", "-o", str(tmp_path / "out")], repo)
    assert code == 0, err
    assert "llm@v1 (4 files)" in err and "80.0 MiB/80.0 MiB" in err and err.count("100%") == 1

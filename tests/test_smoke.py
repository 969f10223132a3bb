from __future__ import annotations

from pathlib import Path

from testing.gitutil import run_mreg


def test_register_then_pull_returns_identical_bytes(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    r = run_mreg("register", "fraud", str(model_dir), "--metric", "auc=0.9", cwd=repo)
    assert r.code == 0, r.err
    assert r.out.strip() == "fraud@v1"
    out = tmp_path / "out"
    r = run_mreg("pull", "fraud@v1", "-o", str(out), cwd=repo)
    assert r.code == 0, r.err
    assert (out / "weights.bin").read_bytes() == (model_dir / "weights.bin").read_bytes()
    assert (out / "config.json").read_text() == '{"layers": 3}\n'

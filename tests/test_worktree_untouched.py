"""SPEC §3: mreg writes its branches with plumbing and never touches the user's working tree,
index, HEAD, current branch or stash, whatever state they are in."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from testing.gitutil import make_repo, refs, run_mreg


def _git(repo: Path, *args: str) -> str:
    # --no-optional-locks: the test's own `git status` must not refresh the index it is watching.
    return subprocess.run(
        ["git", "--no-optional-locks", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def _files(repo: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(repo)): p.read_bytes()
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }


def _state(repo: Path) -> dict[str, object]:
    head_ref = subprocess.run(
        ["git", "symbolic-ref", "-q", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout
    return {
        "status": _git(repo, "status", "--porcelain=v1", "--untracked-files=all"),
        "head": _git(repo, "rev-parse", "HEAD"),
        "branch": head_ref,
        "index": (repo / ".git" / "index").read_bytes(),
        "stash": _git(repo, "stash", "list"),
        "stash_ref": refs(repo, "refs/stash"),
        "branches": refs(repo, "refs/heads/main"),
        "files": _files(repo),
    }


def _messy_repo(path: Path, *, detached: bool) -> Path:
    make_repo(path, files={"train.py": "print('train')\n", "data.csv": "a,b\n1,2\n"})
    assert run_mreg("init", cwd=path).code == 0
    # A stash entry...
    (path / "train.py").write_text("print('stashed work')\n")
    _git(path, "stash", "push", "-m", "wip")
    if detached:
        (path / "extra.py").write_text("x = 1\n")
        _git(path, "add", "extra.py")
        _git(path, "commit", "-q", "-m", "second")
        _git(path, "checkout", "-q", "--detach", "HEAD~1")
    # ...then staged changes, unstaged changes and untracked files on top.
    (path / "staged.py").write_text("staged = True\n")
    _git(path, "add", "staged.py")
    (path / "train.py").write_text("print('dirty')\n")
    (path / "notes.txt").write_text("untracked\n")
    # A tracked, unchanged file whose stat no longer matches the index: a `git status` that is
    # allowed to take the index lock would refresh and rewrite .git/index here.
    old = time.time() - 3600
    os.utime(path / "data.csv", (old, old))
    return path


@pytest.mark.parametrize("detached", [False, True], ids=["on-branch", "detached-head"])
def test_register_and_promote_with_messy_tree_leave_worktree_index_head_and_stash_untouched(
    tmp_path: Path, model_dir: Path, detached: bool
) -> None:
    repo = _messy_repo(tmp_path / "repo", detached=detached)
    before = _state(repo)
    assert before["stash"] and before["status"]
    assert (before["branch"] == "") is detached

    r = run_mreg("register", "fraud", str(model_dir), "--metric", "auc=0.9", cwd=repo)
    assert r.code == 0, r.err
    assert _state(repo) == before

    r = run_mreg("promote", "fraud@v1", "--to", "staging", cwd=repo)
    assert r.code == 0, r.err
    assert _state(repo) == before
    assert "refs/tags/mreg/fraud/staging/1" in refs(repo, "refs/tags/")


def test_register_with_dirty_tree_records_dirty_flag_and_head_commit(tmp_path: Path, model_dir: Path) -> None:
    repo = _messy_repo(tmp_path / "repo", detached=True)
    head = _git(repo, "rev-parse", "HEAD").strip()
    from mreg import Registry

    result = Registry.open(repo).register("fraud", [model_dir])
    assert result.manifest["source"]["commit"] == head
    assert result.manifest["source"]["dirty"] is True


def test_register_with_clean_tree_and_untracked_file_records_clean(tmp_path: Path, model_dir: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo)
    assert run_mreg("init", cwd=repo).code == 0
    (repo / "scratch.txt").write_text("not tracked\n")
    from mreg import Registry

    result = Registry.open(repo).register("fraud", [model_dir])
    assert result.manifest["source"]["dirty"] is False

"""Arrange with the git CLI (through GitPython), act through mreg, assert through both."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import git  # GitPython: tests drive real git, never a mock

MREG = [sys.executable, "-m", "mreg"]

# GitPython keeps `git cat-file --batch` helpers alive per Repo object; left to the garbage collector
# they surface as ResourceWarnings at interpreter exit. Every Repo made here is closed after its test.
_opened: list[git.Repo] = []


def _track(repo: git.Repo) -> git.Repo:
    _opened.append(repo)
    return repo


def close_repos() -> None:
    """Stop the helper processes of every Repo handed out so far (the root conftest calls this)."""
    while _opened:
        _opened.pop().close()


def make_repo(path: Path, *, files: dict[str, str] | None = None) -> git.Repo:
    """A fresh repository on branch main with one commit."""
    path.mkdir(parents=True, exist_ok=True)
    repo = git.Repo.init(path, initial_branch="main")
    for name, text in (files or {"train.py": "print('train')\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
        repo.index.add([name])
    repo.index.commit("initial")
    return _track(repo)


def make_registry(path: Path) -> Path:
    """make_repo, then the branches `mreg init` makes, made in-process (no second interpreter)."""
    from mreg import Registry

    make_repo(path)
    assert Registry.open(path).init().created == ("mreg/registry", "mreg/aliases")
    return path


def make_bare(path: Path) -> git.Repo:
    return _track(git.Repo.init(path, bare=True, initial_branch="main"))


def clone(url: str | Path, path: Path) -> git.Repo:
    return _track(git.Repo.clone_from(str(url), path))


def refs(repo_path: Path, pattern: str = "refs/") -> dict[str, str]:
    """Every ref under `pattern` and what it points at: a snapshot to compare before and after."""
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(objectname)", pattern],
        cwd=repo_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_mreg(
    *args: str, cwd: Path, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 120
) -> Result:
    """Run the real `mreg` command in a subprocess, as a user would."""
    proc = subprocess.run(
        [*MREG, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def snapshot_store(root: Path) -> dict[str, int]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def publish_registry(repo: Path, bare: Path) -> None:
    """Make `bare` a new remote `origin` of `repo` holding its main, both mreg branches and every
    alias tag, as a team's first push would (for worlds built locally, then shared)."""
    make_bare(bare)
    for args in (
        ["remote", "add", "origin", str(bare)],
        ["push", "-q", "origin", "main", "mreg/registry", "mreg/aliases"],
        ["push", "-q", "origin", "refs/tags/mreg/*:refs/tags/mreg/*"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def run_mreg_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run `mreg` with stderr on a pseudo-terminal (progress shows only there): code, stdout, stderr."""
    master, slave = os.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the child's side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run([*MREG, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=slave, timeout=120)
    finally:
        os.close(slave)
    reader.join(10)
    os.close(master)
    return proc.returncode, proc.stdout.decode(), b"".join(chunks).decode("utf-8", "replace")

"""`mreg pull -o DIR` as a deploy job runs it, week after week (issue 12, SPEC §8): DIR ends up holding
exactly the version's files, switched in at once; a failed pull leaves DIR as it was; modes follow
what was registered (0644, 0755 for executables) under the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from testing.gitutil import make_registry, run_mreg
from testing.templates import Templates


def _two_versions(root: Path, mp: pytest.MonkeyPatch) -> None:
    repo = make_registry(root / "repo")
    m = root / "m"
    (m / "sub").mkdir(parents=True)
    (m / "a.txt").write_text("a1\n")
    (m / "sub" / "b.txt").write_text("b1\n")
    (m / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (m / "run.sh").chmod(0o755)
    assert run_mreg("register", "fraud", str(m), cwd=repo).code == 0
    (m / "sub" / "b.txt").unlink()
    (m / "sub").rmdir()
    (m / "a.txt").write_text("a2\n")
    assert run_mreg("register", "fraud", str(m), cwd=repo).code == 0


@pytest.fixture
def two_versions(templates: Templates, tmp_path: Path) -> Path:
    """`repo` with fraud v1 (a.txt, sub/b.txt, an executable run.sh) and v2 (a.txt changed, sub/
    gone), registered from tmp_path/m (a copy of a template built once per session)."""
    templates.get("deploy-two-versions", _two_versions).copy_to(tmp_path)
    return tmp_path / "repo"


def _tree(d: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(d)): (p.read_text(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def test_dir_holds_exactly_the_pulled_version(two_versions: Path, tmp_path: Path) -> None:
    out = tmp_path / "srv" / "model"
    assert run_mreg("pull", "fraud@v1", "-o", str(out), cwd=two_versions).code == 0
    assert set(_tree(out)) == {"a.txt", "sub/b.txt", "run.sh"}
    assert (
        run_mreg("pull", "fraud@v2", "-o", str(out), cwd=two_versions).code == 0
    )  # last week's pull: replaced
    (out / "stray.tmp").write_text("left by someone")
    r = run_mreg("pull", "fraud@v1", "-o", str(out), cwd=two_versions)
    assert (
        r.code == 2 and "not an earlier pull" in r.err and (out / "stray.tmp").exists()
    )  # someone's file: refused
    assert run_mreg("pull", "fraud@v2", "-o", str(out), "--force", cwd=two_versions).code == 0
    assert _tree(out) == {"a.txt": ("a2\n", 0o644), "run.sh": ("#!/bin/sh\necho hi\n", 0o755)}
    assert sorted(p.name for p in out.parent.iterdir()) == ["model"]  # nothing left beside it


def test_modes_follow_the_umask(two_versions: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = os.umask(0o027)
    try:
        assert run_mreg("pull", "fraud@v1", "-o", str(out), cwd=two_versions).code == 0
    finally:
        os.umask(old)
    assert _tree(out)["a.txt"][1] == 0o640 and _tree(out)["run.sh"][1] == 0o750


def test_a_failed_pull_leaves_dir_as_it_was(two_versions: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert run_mreg("pull", "fraud@v1", "-o", str(out), cwd=two_versions).code == 0
    before = _tree(out)
    store = two_versions / ".git" / "mreg" / "objects"
    for obj in store.rglob("*"):  # corrupt every object v2 could need
        if obj.is_file():
            obj.chmod(0o644)
            obj.write_bytes(b"corrupt")
    r = run_mreg("pull", "fraud@v2", "-o", str(out), cwd=two_versions)
    assert r.code == 5
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".model")) == []
    fresh = tmp_path / "never"
    assert run_mreg("pull", "fraud@v2", "-o", str(fresh), cwd=two_versions).code == 5
    assert not fresh.exists()


def test_a_symlinked_dir_is_flipped_in_one_rename(two_versions: Path, tmp_path: Path) -> None:
    srv = tmp_path / "srv"
    srv.mkdir()
    (srv / "model").symlink_to("nowhere-yet")
    assert run_mreg("pull", "fraud@v1", "-o", str(srv / "model"), cwd=two_versions).code == 0
    first = os.readlink(srv / "model")
    assert (srv / "model").is_symlink() and set(_tree(srv / "model")) == {"a.txt", "sub/b.txt", "run.sh"}
    assert run_mreg("pull", "fraud@v2", "-o", str(srv / "model"), cwd=two_versions).code == 0
    assert (srv / "model").is_symlink() and os.readlink(srv / "model") != first
    assert set(_tree(srv / "model")) == {"a.txt", "run.sh"}
    assert sorted(p.name for p in srv.iterdir()) == sorted(
        ["model", os.readlink(srv / "model")]
    )  # the old one is gone


@pytest.mark.parametrize("where", [".", ".."])
def test_the_working_directory_is_never_replaced(two_versions: Path, where: str) -> None:
    r = run_mreg("pull", "fraud@v1", "-o", where, cwd=two_versions)
    assert r.code == 2 and "replaces DIR as a whole" in r.err
    assert (two_versions / ".git").is_dir()


def test_a_directory_of_other_files_is_never_replaced_without_force(two_versions: Path) -> None:
    src = two_versions / "src"
    src.mkdir()
    (src / "keep.py").write_text("print('mine')\n")
    r = run_mreg("pull", "fraud@v1", "-o", "src", cwd=two_versions)
    assert r.code == 2 and "keep.py" in r.err and "--force" in r.err
    assert (src / "keep.py").read_text() == "print('mine')\n"

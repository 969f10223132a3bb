"""GitRepo's batch reads (issue 14): the same answers as one question at a time, whatever the path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mreg.git.repo import _FEW_COMMITS, GitRepo


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def line(tmp_path: Path) -> tuple[GitRepo, list[str], list[str]]:
    """A line of 12 commits on main and 3 on a side branch from its 4th commit."""
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    main = []
    for i in range(12):
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"main {i}")
        main.append(_git(repo, "rev-parse", "HEAD"))
    _git(repo, "checkout", "-q", "-b", "side", main[3])
    side = []
    for i in range(3):
        _git(repo, "commit", "-q", "--allow-empty", "-m", f"side {i}")
        side.append(_git(repo, "rev-parse", "HEAD"))
    return GitRepo(repo / ".git", repo), main, side


@pytest.mark.parametrize("missing", [False, True], ids=["all-here", "one-missing"])
@pytest.mark.parametrize("many", [False, True], ids=["one-by-one", "one-walk"])
def test_ancestors_among_answers_like_merge_base_whichever_way_it_asks(
    line: tuple[GitRepo, list[str], list[str]], many: bool, missing: bool
) -> None:
    git, main, side = line
    tip = main[-1]
    asked = set(main + side) if many else {main[0], main[-1], side[0]}
    assert (len(asked) > _FEW_COMMITS) is many
    absent = {"0" * 40} if missing else set()  # a commit this repository does not have
    got = git.ancestors_among(asked | absent, tip)
    assert got == {c for c in asked if c == tip or git.is_ancestor(c, tip)}
    assert got == (set(main) if many else {main[0], main[-1]})


def test_blob_ids_lists_every_file_with_its_blob(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    (repo / "models" / "a b" / "versions").mkdir(parents=True)
    (repo / "models" / "a b" / "versions" / "1.yaml").write_text("one\n")
    (repo / "models" / "ü.yaml").write_text("two\n")
    (repo / "other.txt").write_text("not under models\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "x")
    git = GitRepo(repo / ".git", repo)
    got = git.blob_ids("HEAD", "models")
    assert got == {
        "models/a b/versions/1.yaml": _git(repo, "rev-parse", "HEAD:models/a b/versions/1.yaml"),
        "models/ü.yaml": _git(repo, "rev-parse", "HEAD:models/ü.yaml"),
    }
    assert git.blob_ids("HEAD", "nothing-here") == {}


def test_write_tree_in_bulk_makes_the_tree_path_by_path_would(tmp_path: Path) -> None:
    """Above BULK_TREE_PATHS changed paths write_tree goes through a temporary index: same tree."""
    from mreg.git.repo import BULK_TREE_PATHS

    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q")
    git = GitRepo(repo / ".git", repo)
    base = git.write_tree(None, {"README.md": b"hi\n", "models/a/versions/1.yaml": b"one\n"})
    changes: dict[str, bytes | None] = {
        f"models/a/lifecycle/{v}/1.yaml": f"record {v} ü\n".encode() for v in range(1, BULK_TREE_PATHS + 10)
    }
    changes["models/a b/x.yaml"] = b"a space\n"
    changes["README.md"] = None
    bulk = git.write_tree(base, changes)
    assert len(changes) > BULK_TREE_PATHS
    few = base
    items = list(changes.items())
    for i in range(0, len(items), 8):  # the same changes, eight at a time: always the recursive writer
        few = git.write_tree(few, dict(items[i : i + 8]))
    assert bulk == few
    listed = _git(repo, "ls-tree", "-r", "--name-only", bulk).splitlines()
    assert "README.md" not in listed and "models/a/versions/1.yaml" in listed and len(listed) == len(changes)

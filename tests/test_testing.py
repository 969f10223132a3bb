"""The harness itself (testing/): a template copy is the setup it stands for, in the test's own
directory, and nothing a test does reaches the template or the next test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from testing.clock import Clock
from testing.gitutil import refs
from testing.team import Team, TeamTemplates
from testing.templates import Templates, files_naming


def _remote_url(repo: Path) -> str:
    return subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.github
def test_a_team_copy_pushes_to_its_own_remote_and_never_to_the_template(
    team: Team, team_templates: TeamTemplates, tmp_path: Path
) -> None:
    root = team_templates.get("team").template.root
    assert (team.bare, team.repo, team.tmp) == (tmp_path / "origin.git", tmp_path / "repo", tmp_path)
    assert _remote_url(team.repo) == str(team.bare) and _remote_url(tmp_path / "seed") == str(team.bare)
    assert team.gh.bare == team.bare and team.gh.requests == [] and team.gh.pulls == {}
    before = refs(root / "origin.git")
    assert "refs/heads/mreg/aliases" in before and before == refs(team.bare)
    assert team.register({"auc": 0.9, "latency_ms": 10}) == "fraud@v1"
    assert refs(team.bare)["refs/heads/mreg/registry"] != before["refs/heads/mreg/registry"]
    assert refs(root / "origin.git") == before  # the template's remote did not move


@pytest.mark.github
def test_each_copy_starts_from_the_template_again(team: Team) -> None:
    # run after the test above: its registration is not here
    assert team.register({"auc": 0.8, "latency_ms": 10}) == "fraud@v1"


def test_a_template_copy_names_the_copy_and_the_build_leaves_no_clock(
    templates: Templates, tmp_path: Path
) -> None:
    def build(root: Path, mp: pytest.MonkeyPatch) -> str:
        Clock().advance(60)  # sets GIT_AUTHOR_DATE and GIT_COMMITTER_DATE in os.environ
        (root / "sub").mkdir()
        (root / "sub" / "config").write_text(f"url = {root / 'origin.git'}\n")
        (root / "data.bin").write_bytes(b"\x00\xff")
        return "built"

    t = templates.get("harness-check", build)
    assert "GIT_AUTHOR_DATE" not in os.environ and "GIT_COMMITTER_DATE" not in os.environ
    assert t.built == "built" and t.named == ["sub/config"]
    copy = tmp_path / "copy"
    copy.mkdir()
    t.copy_to(copy)
    assert (copy / "sub" / "config").read_text() == f"url = {copy / 'origin.git'}\n"
    assert (copy / "data.bin").read_bytes() == b"\x00\xff"
    assert (t.root / "sub" / "config").read_text() == f"url = {t.root / 'origin.git'}\n"
    with pytest.raises(AssertionError, match="already holds"):
        t.copy_to(copy)


def test_a_template_naming_itself_outside_a_text_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    (root / "ok").write_text(f"{root}/x\n")
    assert files_naming(root) == ["ok"]
    (root / "link").symlink_to(root / "ok")
    with pytest.raises(AssertionError, match="points into the template"):
        files_naming(root)
    (root / "link").unlink()
    (root / "blob").write_bytes(b"\xff" + f"{root}/x".encode())
    with pytest.raises(UnicodeDecodeError):
        files_naming(root)

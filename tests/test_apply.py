"""`mreg apply` and the GitHub client behind it (SPEC §7), against the documented API on 127.0.0.1."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mreg.errors import NotFoundError, RemoteError, UsageError
from mreg.forge.github import GitHubForge, GitHubTarget, parse_remote_url, target_from_env
from testing.clock import Clock
from testing.fake_github import FakeGitHub, push_files, show
from testing.gitutil import MREG, make_bare, make_repo, refs
from testing.team import Team


def _forge(gh: FakeGitHub, token: str = "t0ken") -> GitHubForge:
    return GitHubForge(GitHubTarget(gh.owner, gh.repo, gh.url, gh.html_base, token))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/models.git", ("github.com", "acme", "models")),
        ("https://x-access-token@github.com/acme/models", ("github.com", "acme", "models")),
        ("git@github.com:acme/models.git", ("github.com", "acme", "models")),
        ("ssh://git@ghe.corp:2222/acme/models.git", ("ghe.corp", "acme", "models")),
        ("/srv/git/models.git", None),
        ("file:///srv/git/models.git", None),
    ],
)
def test_owner_and_repo_come_from_the_remote_url(url: str, expected: tuple[str, str, str] | None) -> None:
    assert parse_remote_url(url) == expected


def test_target_prefers_github_env_and_derives_enterprise_urls() -> None:
    t = target_from_env(
        "git@ghe.corp:acme/models.git", {"GH_TOKEN": "s3cret", "GITHUB_SERVER_URL": "https://ghe.corp"}
    )
    assert t is not None and (t.slug, t.api_url, t.server_url, t.token) == (
        "acme/models",
        "https://ghe.corp/api/v3",
        "https://ghe.corp",
        "s3cret",
    )
    assert "s3cret" not in repr(t)
    # a host nobody said is GitHub never gets the token (GitLab, Bitbucket, a self-hosted git server)
    assert target_from_env("https://gitlab.com/acme/models.git", {"GH_TOKEN": "s3cret"}) is None
    assert target_from_env("git@ghe.corp:acme/models.git", {"GH_TOKEN": "s3cret"}) is None
    t = target_from_env("ssh://git@ssh.github.com:443/acme/models.git", {"GH_TOKEN": "s3cret"})
    assert t is not None and t.api_url == "https://api.github.com"
    t = target_from_env("https://acme.ghe.com/acme/models.git", {"GH_TOKEN": "s3cret"})
    assert t is not None and (t.api_url, t.server_url) == ("https://api.acme.ghe.com", "https://acme.ghe.com")
    t = target_from_env("/a/path", {"GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": "http://127.0.0.1:1/"})
    assert t is not None and (t.slug, t.api_url, t.server_url, t.token) == (
        "o/r",
        "http://127.0.0.1:1",
        "https://github.com",
        None,
    )
    assert target_from_env("/a/path", {}) is None
    with pytest.raises(UsageError):
        target_from_env(None, {"GITHUB_REPOSITORY": "no-slash"})


def test_422_already_exists_finds_and_updates_the_open_pull_request(tmp_path: Path) -> None:
    bare = tmp_path / "o.git"
    make_bare(bare)
    seed = make_repo(tmp_path / "seed")
    seed.create_remote("origin", str(bare))
    seed.git.push("origin", "main:mreg/aliases")
    push_files(bare, "mreg/aliases", {"a.txt": "base\n"}, "base")
    seed.git.fetch("origin")
    seed.git.checkout("-b", "feature", "origin/mreg/aliases")
    (tmp_path / "seed" / "b.txt").write_text("x\n")
    seed.index.add(["b.txt"])
    seed.index.commit("feature")
    seed.git.push("origin", "feature")
    with _running(FakeGitHub(bare)) as gh:
        forge = _forge(gh)
        first = forge.create_pull(head="feature", base="mreg/aliases", title="t1", body="b1")
        again = forge.create_pull(head="feature", base="mreg/aliases", title="t2", body="b2")
        assert again.number == first.number and list(gh.pulls) == [first.number]
        assert gh.pulls[first.number]["body"] == "b2"
        posts = [q for q in gh.requests if q.method == "POST"]
        assert len(posts) == 2  # the second POST got GitHub's 422, which became find + PATCH
        assert any(q.method == "PATCH" for q in gh.requests)
        with pytest.raises(RemoteError, match="head"):  # other 422s are errors, with GitHub's reason
            forge.create_pull(head="missing", base="mreg/aliases", title="t", body="b")
        with pytest.raises(NotFoundError, match="pull request #99"):
            forge.get_pull(99)
        with pytest.raises(RemoteError, match="401 Bad credentials"):
            _forge(gh, "nope").find_open_pull("feature", "mreg/aliases")
        assert gh.requests[-1].headers["authorization"] == "Bearer nope"


class _running:
    def __init__(self, gh: FakeGitHub) -> None:
        self.gh = gh

    def __enter__(self) -> FakeGitHub:
        return self.gh.start()

    def __exit__(self, *exc: object) -> None:
        self.gh.stop()


def test_apply_with_nothing_merged_does_nothing(team: Team) -> None:
    team.register({"auc": 0.9})
    before = refs(team.bare)
    r = team.mreg("apply")
    assert r.code == 0 and "nothing to apply" in r.out
    assert refs(team.bare) == before


def test_apply_refuses_an_unregistered_version_and_creates_nothing(team: Team) -> None:
    team.register({"auc": 0.9})
    policy = show(team.bare, "mreg/aliases:models/fraud.yaml") + "aliases:\n  production: 7\n  staging: 1\n"
    push_files(team.bare, "mreg/aliases", {"models/fraud.yaml": policy}, "hand edit")
    before = refs(team.bare)
    r = team.mreg("apply")
    assert r.code == 3
    assert "asks for fraud@production = v7, which is not registered" in r.err
    assert refs(team.bare) == before  # staging=v1 was valid, but nothing is half-done


def test_apply_api_error_creates_no_tag(team: Team) -> None:
    team.register({"auc": 0.9})
    assert team.mreg("promote", "fraud@v1", "--to", "production").code == 0
    team.gh.merge(1)
    before = refs(team.bare, "refs/tags/")
    r = team.mreg("apply", token="expired")
    assert r.code == 6 and "401" in r.err
    assert refs(team.bare, "refs/tags/") == before


def test_two_overlapping_applies_create_one_tag(team: Team) -> None:
    team.register({"auc": 0.9})
    assert team.mreg("promote", "fraud@v1", "--to", "production").code == 0
    team.gh.merge(1)
    # a second clone, as a second CI runner would have
    other = team.tmp / "runner2"
    subprocess.run(["git", "clone", "--quiet", str(team.bare), str(other)], check=True)
    env = {**__import__("os").environ, **team.gh.env()}
    procs = [
        subprocess.Popen(
            [*MREG, "apply"], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for cwd in (team.repo, other)
    ]
    results = [(*p.communicate(timeout=120), p.returncode) for p in procs]
    assert [code for _, _, code in results] == [0, 0], results
    assert list(refs(team.bare, "refs/tags/")) == ["refs/tags/mreg/fraud/production/1"]
    # Usually one run reports it; both do when they built byte-identical tag objects in the same
    # second (same tagger, time, record), whose second push is a no-op: still one tag.
    assert sum(out.count("applied fraud@production") for out, _, _ in results) >= 1
    assert team.mreg("resolve", "fraud@production").out.strip() == "fraud@v1"


def test_apply_dry_run_and_json(team: Team) -> None:
    team.register({"auc": 0.9})
    assert team.mreg("promote", "fraud@v1", "--to", "production").code == 0
    team.gh.merge(1)
    r = team.mreg("apply", "--dry-run")
    assert (
        r.code == 0 and "would apply fraud@production: mreg/aliases asks for v1, the tags say unset" in r.out
    )
    assert not refs(team.bare, "refs/tags/")
    r = team.mreg("apply", "--json")
    assert r.code == 0
    import json

    data = json.loads(r.out)
    assert data["applied"][0]["tag"] == "mreg/fraud/production/1"
    assert data["applied"][0]["request"] == "https://github.example/acme/models/pull/1"


def test_an_emergency_move_goes_through_the_governed_branch_so_apply_keeps_it(
    team: Team, clock: Clock
) -> None:
    team.register({"auc": 0.9})
    team.register({"auc": 0.91})
    assert team.mreg("promote", "fraud@v2", "--to", "production").code == 0
    team.gh.merge(1)
    assert team.mreg("apply").code == 0
    assert team.mreg("resolve", "fraud@production").out.strip() == "fraud@v2"
    clock.advance(600)  # later, v2 misbehaves in production: an owner rolls back without waiting for review
    r = team.mreg("rollback", "fraud@production", "--to", "v1", "--no-review", "--reason", "pager")
    assert r.code == 2 and "allow_unreviewed" in r.err  # not allowed until mreg.yaml (reviewed) says so
    push_files(
        team.bare,
        "mreg/aliases",
        {"mreg.yaml": show(team.bare, "mreg/aliases:mreg.yaml") + "allow_unreviewed: true\n"},
        "allow emergency moves",
    )
    r = team.mreg("rollback", "fraud@production", "--to", "v1", "--no-review", "--reason", "pager")
    assert r.code == 0, r.err
    policy = show(team.bare, "mreg/aliases:models/fraud.yaml")
    assert "version: 1" in policy  # the move pinned itself on the governed branch, in the open
    assert (
        "rollback fraud production to v1"
        in subprocess.run(
            ["git", "log", "-1", "--format=%B", "mreg/aliases"], cwd=team.bare, capture_output=True, text=True
        ).stdout
    )
    clock.advance(60)
    before = refs(team.bare, "refs/tags/")
    r = team.mreg("apply")
    assert r.code == 0 and "nothing to apply" in r.out
    assert refs(team.bare, "refs/tags/") == before
    assert team.mreg("resolve", "fraud@production").out.strip() == "fraud@v1"
    assert team.mreg("check").code == 0

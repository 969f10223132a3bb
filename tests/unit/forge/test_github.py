"""mreg.forge.github: the GitHub client behind promotion requests and `mreg apply` (SPEC §7), against
the documented API on 127.0.0.1 (testing.fake_github)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mreg.errors import NotFoundError, RemoteError, UsageError
from mreg.forge.github import GitHubForge, GitHubTarget, parse_remote_url, target_from_env
from testing.fake_github import FakeGitHub, push_files
from testing.gitutil import make_bare, make_repo

pytestmark = pytest.mark.github


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

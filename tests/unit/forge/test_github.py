"""mreg.forge.github: the GitHub client behind promotion requests and `mreg apply` (SPEC §7), against
the documented API on 127.0.0.1 (testing.fake_github)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mreg.errors import NotFoundError, RemoteError, UsageError
from mreg.forge.github import (
    MAX_REDIRECTS,
    GitHubForge,
    GitHubTarget,
    compare_url,
    next_link,
    parse_remote_url,
    target_from_env,
)
from testing.fake_github import FakeGitHub, push_files
from testing.gitutil import make_bare, make_repo

pytestmark = pytest.mark.github


def _forge(gh: FakeGitHub, token: str = "t0ken", sleeps: list[float] | None = None) -> GitHubForge:
    target = GitHubTarget(gh.owner, gh.repo, gh.url, gh.html_base, token)
    return GitHubForge(target, sleep=(sleeps.append if sleeps is not None else _no_sleep))


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s")


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
    # GITHUB_SERVER_URL names one host as GitHub (Enterprise Server): not every other host
    server = {"GH_TOKEN": "s3cret", "GITHUB_SERVER_URL": "https://ghe.corp"}
    assert target_from_env("https://gitlab.com/acme/models.git", server) is None
    assert target_from_env("git@bitbucket.org:acme/models.git", server) is None
    t = target_from_env("https://www.github.com/acme/models", {})
    assert t is not None and (t.api_url, t.token) == ("https://api.github.com", None)
    assert (
        compare_url(t, "mreg/aliases", "b")
        == "https://github.com/acme/models/compare/mreg/aliases...b?quick_pull=1"
    )
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


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[FakeGitHub]:
    bare = tmp_path / "o.git"
    make_bare(bare)
    seed = make_repo(tmp_path / "seed")
    seed.create_remote("origin", str(bare))
    seed.git.push("origin", "main:mreg/aliases")
    with _running(FakeGitHub(bare)) as fake:
        yield fake


def test_waits_are_bounded_and_injected_never_slept_in_tests(gh: FakeGitHub) -> None:
    sleeps: list[float] = []
    gh.rate_limited("secondary", retry_after=3)
    gh.fail(502)
    assert _forge(gh, sleeps=sleeps).list_pulls("x", "mreg/aliases") == []
    assert sleeps[0] == 3.0 and len(sleeps) == 2  # retry-after exactly, then a backoff
    gh.rate_limited("secondary", retry_after=3, times=10)
    with pytest.raises(RemoteError, match=r"secondary rate limit .*retry after .*\(in 3 s\)"):
        _forge(gh, sleeps=sleeps).list_pulls("x", "mreg/aliases")
    assert len([q for q in gh.requests if q.path.endswith("/pulls")]) == 3 + 4  # at most 4 attempts a call


def test_redirects_are_followed_a_bounded_number_of_times(gh: FakeGitHub) -> None:
    gh.moved(307, times=MAX_REDIRECTS)
    assert _forge(gh).list_pulls("x", "mreg/aliases") == []
    gh.moved(307, times=MAX_REDIRECTS + 1)
    with pytest.raises(RemoteError, match=f"redirected GET .* more than {MAX_REDIRECTS} times"):
        _forge(gh).list_pulls("x", "mreg/aliases")


def test_a_body_over_githubs_limit_is_githubs_422(gh: FakeGitHub) -> None:
    push_files(gh.bare, "mreg/aliases", {"a.txt": "a\n"}, "a")
    subprocess.run(["git", "branch", "feature", "mreg/aliases"], cwd=gh.bare, check=True)
    push_files(gh.bare, "feature", {"b.txt": "b\n"}, "b")
    with pytest.raises(RemoteError, match=r"body is too long \(maximum is 65536 characters\)"):
        _forge(gh).create_pull(head="feature", base="mreg/aliases", title="t", body="x" * 65_537)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            '<https://api.github.com/r?page=2>; rel="next", <https://api.github.com/r?page=5>; rel="last"',
            "https://api.github.com/r?page=2",
        ),
        (
            '<https://api.github.com/r?page=1>; rel="prev", <https://api.github.com/r?page=1>; rel="first"',
            None,
        ),
        ('<https://x/r?page=3>; rel="last next"', "https://x/r?page=3"),
        ("", None),
        ("garbage", None),
    ],
)
def test_next_link_reads_githubs_link_header(header: str, expected: str | None) -> None:
    assert next_link(header) == expected

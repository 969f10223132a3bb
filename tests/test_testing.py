"""The harness itself (testing/): a template copy is the setup it stands for, in the test's own
directory, and nothing a test does reaches the template or the next test."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest

from testing.clock import Clock
from testing.fake_github import FakeGitHub, branch_sha, push_files
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


# -- the fake GitHub is as strict as GitHub's documentation (issue 19) --------------------------------
def _call(
    gh: FakeGitHub,
    method: str,
    path: str,
    body: object = None,
    *,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], object]:
    """One request to the fake, nothing followed: (status, headers in lower case, JSON or text)."""
    import json
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    sent = {"Authorization": "Bearer t0ken", "User-Agent": "test", **(headers or {})}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(gh.url + path, data=data, method=method, headers=sent)
    opener = urllib.request.build_opener(NoRedirect())
    try:
        with opener.open(req) as resp:
            status, hdrs, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        status, hdrs, raw = exc.code, exc.headers, exc.read()
        exc.close()
    text = raw.decode()
    kind = hdrs.get("Content-Type") or ""
    return status, {k.lower(): v for k, v in hdrs.items()}, json.loads(text) if "json" in kind else text


@pytest.fixture
def gh(team: Team) -> FakeGitHub:
    return team.gh


def _open(gh: FakeGitHub, bare: Path, branch: str, n: int) -> None:
    """n pull requests from `branch` (a real branch of the bare repository), the first open, the
    rest closed without a merge (as stored by the fake)."""
    push_files(bare, "mreg/aliases", {"base.txt": "b\n"}, "base")
    subprocess.run(["git", "branch", "-f", branch, "mreg/aliases"], cwd=bare, check=True)
    push_files(bare, branch, {"x.txt": "x\n"}, "change")
    status, _, first = _call(
        gh, "POST", "/repos/acme/models/pulls", {"title": "t", "head": branch, "base": "mreg/aliases"}
    )
    assert status == 201, first
    for k in range(2, n + 1):
        gh.pulls[k] = {**copy.deepcopy(gh.pulls[1]), "number": k, "state": "closed"}


@pytest.mark.github
def test_the_fake_github_requires_a_user_agent(gh: FakeGitHub) -> None:
    status, _, text = _call(gh, "GET", "/repos/acme/models/pulls", headers={"User-Agent": ""})
    assert status == 403 and isinstance(text, str) and "User-Agent header" in text
    assert _call(gh, "GET", "/repos/acme/models/pulls")[0] == 200


@pytest.mark.github
def test_the_fake_github_pages_lists_at_30_with_link_headers(gh: FakeGitHub, team: Team) -> None:
    _open(gh, team.bare, "feature", 75)
    status, headers, page = _call(gh, "GET", "/repos/acme/models/pulls?state=all")
    assert status == 200 and isinstance(page, list) and len(page) == 30
    assert [p["number"] for p in page][:2] == [75, 74]
    link = headers["link"]
    assert f'<{gh.url}/repos/acme/models/pulls?state=all&page=2>; rel="next"' in link
    assert 'page=3>; rel="last"' in link and "prev" not in link
    _, headers, page = _call(gh, "GET", "/repos/acme/models/pulls?state=all&page=3")
    assert isinstance(page, list) and [p["number"] for p in page][-1] == 1 and len(page) == 15
    assert 'rel="prev"' in headers["link"] and 'rel="next"' not in headers["link"]
    _, headers, page = _call(gh, "GET", "/repos/acme/models/pulls?state=all&per_page=500")
    assert isinstance(page, list) and len(page) == 75 and "link" not in headers  # at most 100 a page
    assert headers["x-ratelimit-limit"] == "5000" and int(headers["x-ratelimit-reset"]) > 0


@pytest.mark.github
def test_the_fake_github_refuses_what_github_refuses_in_a_pull_request(gh: FakeGitHub, team: Team) -> None:
    _open(gh, team.bare, "feature", 1)
    path = "/repos/acme/models/pulls/1"
    status, _, err = _call(gh, "PATCH", path, {"body": "x" * 65_537})
    assert status == 422 and isinstance(err, dict)
    assert err["errors"][0]["message"] == "body is too long (maximum is 65536 characters)"
    assert _call(gh, "PATCH", path, {"body": "x" * 65_536})[0] == 200
    status, _, err = _call(gh, "PATCH", path, {"body": None})
    assert (
        status == 422 and isinstance(err, dict) and "'properties/body', nil is not a string" in err["message"]
    )
    status, _, err = _call(gh, "PATCH", path, {"maintainer_can_modify": True})
    assert status == 422 and isinstance(err, dict) and err["errors"][0]["field"] == "maintainer_can_modify"
    status, _, err = _call(
        gh,
        "POST",
        "/repos/acme/models/pulls",
        {"title": "t", "head": "feature", "base": "mreg/aliases", "body": None},
    )
    assert status == 422


@pytest.mark.github
def test_the_fake_github_lists_pull_requests_of_a_commit_as_documented(gh: FakeGitHub, team: Team) -> None:
    """Off the default branch: merged and open pull requests associated with the commit; closed,
    unmerged ones never; on the default branch: only the merged one that introduced it."""
    _open(gh, team.bare, "feature", 2)  # #1 open, #2 closed unmerged
    head = gh.pulls[1]["head"]["sha"]

    def numbers(sha: str) -> list[int]:
        status, _, found = _call(gh, "GET", f"/repos/acme/models/commits/{sha}/pulls")
        assert status == 200 and isinstance(found, list)
        return [p["number"] for p in found]

    assert numbers(head) == [1]
    merge = gh.merge(1)
    assert numbers(head) == [1] and numbers(merge) == [1]  # merged, off the default branch (main)
    subprocess.run(["git", "update-ref", "refs/heads/main", merge], cwd=team.bare, check=True)
    assert numbers(merge) == [1] and numbers(head) == [1]  # on the default branch
    assert numbers(branch_sha(team.bare, "mreg/registry") or "") == []


@pytest.mark.github
def test_the_fake_github_injects_failures_and_moves(gh: FakeGitHub) -> None:
    gh.fail(502, "/pulls$", methods=("GET",))
    assert _call(gh, "GET", "/repos/acme/models/pulls")[0] == 502
    assert _call(gh, "GET", "/repos/acme/models/pulls")[0] == 200  # consumed
    gh.rate_limited("secondary", retry_after=7)
    status, headers, err = _call(gh, "GET", "/repos/acme/models/pulls")
    assert status == 403 and headers["retry-after"] == "7" and isinstance(err, dict)
    assert "secondary rate limit" in err["message"]
    gh.rate_limited("primary", status=429)
    status, headers, _ = _call(gh, "GET", "/repos/acme/models/pulls")
    assert status == 429 and headers["x-ratelimit-remaining"] == "0"
    gh.moved(307)
    status, headers, _ = _call(gh, "POST", "/repos/acme/models/pulls?x=1", {"title": "t"})
    assert status == 307 and headers["location"] == f"{gh.url}/_temporary/repos/acme/models/pulls?x=1"
    gh.rename("acme", "renamed")
    status, headers, _ = _call(gh, "GET", "/repos/acme/models/pulls?state=all")
    assert status == 301 and headers["location"] == f"{gh.url}/repositories/1/pulls?state=all"
    assert _call(gh, "GET", "/repositories/1/pulls?state=all")[0] == 200
    gh.rate_limit = 1
    assert _call(gh, "GET", "/repos/acme/renamed/pulls")[0] == 200
    status, headers, _ = _call(gh, "GET", "/repos/acme/renamed/pulls")
    assert status == 403 and headers["x-ratelimit-remaining"] == "0"

"""GitHub as GitHub documents it, through the CLI (issue 19): which hosts get the token, redirects,
rate limits, 5xx, the pull request body's limit, pagination, same-repository pull requests.

Against the documented API: testing.fake_github answers as GitHub's REST docs say (pages of 30 with
`Link`, 301 for a renamed repository, 403/429 with `x-ratelimit-*` and `retry-after`, 422 for a body
over 65,536 characters) and injects each failure. No test sleeps: the waits asked for are 0 s or
past, and a longer one must end the command at once (MREG_GITHUB_WAIT bounds what mreg waits out).
"""

from __future__ import annotations

import copy
import re
import subprocess
from datetime import datetime, timezone

import pytest

from testing.fake_github import BODY_MAX, branch_sha, push_files, show
from testing.gitutil import refs, run_mreg
from testing.team import Team

pytestmark = pytest.mark.github

BRANCH = "mreg/promote/fraud/production/v2"
QUICK = {"MREG_GITHUB_BACKOFF": "0", "MREG_GITHUB_WAIT": "5"}


def _posts(team: Team) -> list[tuple[str, dict[str, object]]]:
    return [(q.path, q.body) for q in team.gh.requests if q.method == "POST"]


# -- 1. hosts -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["https://gitlab.com/acme/models.git", "git@bitbucket.org:acme/models.git"])
def test_a_gitlab_or_bitbucket_remote_never_gets_the_token(live: Team, url: str) -> None:
    """A remote that is not GitHub: promote pushes the branch and says what to do by hand, apply tags
    from the merge commit; the token goes nowhere (any HTTP attempt would fail: the proxy is dead)."""
    subprocess.run(["git", "remote", "set-url", "origin", url], cwd=live.repo, check=True)
    subprocess.run(["git", "config", f"url.{live.bare}.insteadOf", url], cwd=live.repo, check=True)
    env = {"GH_TOKEN": "s3cret", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    r = run_mreg("promote", "fraud@v2", "--to", "production", cwd=live.repo, env=env)
    assert r.code == 0, r.err
    assert f"next: open a merge request from branch {BRANCH} into mreg/aliases" in r.out
    assert "run 'mreg apply'" in r.out and branch_sha(live.bare, BRANCH) is not None
    # the reviewers merge it on their host; apply takes the merge commit as the request
    subprocess.run(["git", "fetch", "-q", str(live.bare), BRANCH], cwd=live.repo, check=True)
    pinned = show(live.bare, f"{BRANCH}:models/fraud.yaml")
    merge = push_files(live.bare, "mreg/aliases", {"models/fraud.yaml": pinned}, "Merge request: fraud v2")
    r = run_mreg("apply", cwd=live.repo, env=env)
    assert r.code == 0, r.err
    assert "applied fraud@production -> v2" in r.out
    assert f'request: "{merge}"' in show(live.bare, "mreg/fraud/production/2")
    assert not live.gh.requests and "s3cret" not in r.out + r.err


# -- 2. redirects -------------------------------------------------------------------------------------
def test_a_renamed_repository_still_gets_its_pull_request(live: Team) -> None:
    """GitHub answers a renamed repository's old path with 301 to /repositories/{id}/…: every call
    (look-up, POST with its body) is repeated there."""
    live.gh.rename("acme", "fraud-models")
    r = live.mreg("promote", "fraud@v2", "--to", "production", env={"GITHUB_REPOSITORY": "acme/models"})
    assert r.code == 0, r.err
    assert "pull request: https://github.example/acme/fraud-models/pull/1" in r.out
    seen = [(q.method, q.path) for q in live.gh.requests]
    assert ("POST", "/repos/acme/models/pulls") in seen and ("POST", "/repositories/1/pulls") in seen
    (_, first), (_, again) = _posts(live)
    assert first == again and isinstance(again, dict) and again["title"] == "promote fraud v2 to production"
    assert live.gh.pulls[1]["body"] == again["body"]


def test_a_temporary_redirect_repeats_the_method_and_body(live: Team) -> None:
    live.gh.moved(307, r"/pulls$", methods=("POST",))
    live.gh.moved(302, r"/pulls$", methods=("GET",))
    r = live.mreg("promote", "fraud@v2", "--to", "production")
    assert r.code == 0, r.err
    assert "pull/1" in r.out
    (p1, b1), (p2, b2) = _posts(live)
    assert (p1, p2) == ("/repos/acme/models/pulls", "/_temporary/repos/acme/models/pulls") and b1 == b2
    gets = [q for q in live.gh.requests if q.method == "GET"]
    assert gets[1].path.startswith("/_temporary/") and gets[1].query == gets[0].query  # the query kept


def test_a_redirect_to_another_host_is_refused_and_leaves_nothing(live: Team) -> None:
    live.gh.moved(307, r"/pulls$", methods=("POST",), to="http://127.0.0.2:9")
    before = refs(live.bare)
    r = live.mreg("promote", "fraud@v2", "--to", "production")
    assert r.code == 6
    assert "another host (http://127.0.0.2)" in r.err and "t0ken" not in r.err
    assert refs(live.bare) == before and not live.gh.pulls  # the review branch was taken back


# -- 3. rate limits and 5xx ---------------------------------------------------------------------------
def test_a_used_up_rate_limit_says_so_and_when_to_retry(live: Team) -> None:
    live.gh.rate_limited("primary", reset_in=1800)
    before = refs(live.bare)
    r = live.mreg("promote", "fraud@v2", "--to", "production")
    assert r.code == 6
    assert "GitHub's rate limit stopped GET" in r.err and "API rate limit exceeded" in r.err
    reset = datetime.fromtimestamp(int(live.gh.faults[0].headers["x-ratelimit-reset"]), tz=timezone.utc)
    assert f"retry after {reset:%Y-%m-%d %H:%M:%S} UTC (in 30 min)" in r.err
    assert "pull-requests: write" not in r.err  # not sent off to fix a good token
    assert refs(live.bare) == before and len(live.gh.requests) == 1  # no retry against a used-up limit


def test_apply_stops_at_the_rate_limit_before_any_tag(live: Team) -> None:
    assert live.mreg("promote", "fraud@v2", "--to", "production").code == 0
    live.gh.merge(1)
    tags = refs(live.bare, "refs/tags/")
    live.gh.rate_limit, live.gh.used = 0, 0  # the fake's own counter: the next call is over the limit
    r = live.mreg("apply")
    assert r.code == 6 and "rate limit" in r.err and "retry after" in r.err
    assert refs(live.bare, "refs/tags/") == tags


@pytest.mark.parametrize(
    ("kind", "status", "extra"),
    [
        ("primary", 429, {"reset_in": -5}),  # a reset already past: no wait at all
        ("secondary", 403, {"retry_after": 0}),
        ("secondary", 429, {"retry_after": 0}),
    ],
)
def test_a_short_rate_limit_is_waited_out(live: Team, kind: str, status: int, extra: dict[str, int]) -> None:
    live.gh.rate_limited(kind, status=status, methods=("POST",), **extra)  # type: ignore[arg-type]
    r = live.mreg("promote", "fraud@v2", "--to", "production", env=QUICK)
    assert r.code == 0, r.err
    assert "pull/1" in r.out and len(_posts(live)) == 2 and list(live.gh.pulls) == [1]


@pytest.mark.parametrize("headers", [{}, {"retry_after": 30}])
def test_a_secondary_limit_longer_than_mreg_waits_is_exit_6(live: Team, headers: dict[str, int]) -> None:
    """Without retry-after GitHub says wait at least a minute; MREG_GITHUB_WAIT (5 s here) is less."""
    live.gh.rate_limited("secondary", methods=("POST",), **headers)  # type: ignore[arg-type]
    r = live.mreg("promote", "fraud@v2", "--to", "production", env=QUICK)
    assert r.code == 6
    wait = "30 s" if headers else "60 s"
    assert "GitHub's secondary rate limit stopped POST" in r.err and f"(in {wait})" in r.err
    assert "MREG_GITHUB_WAIT" in r.err and not live.gh.pulls
    assert branch_sha(live.bare, BRANCH) is None  # taken back


@pytest.mark.slow
def test_a_5xx_is_retried_and_a_lasting_one_is_exit_6(live: Team) -> None:
    live.gh.fail(502, r"/pulls$", methods=("POST",))
    r = live.mreg("promote", "fraud@v2", "--to", "production", env=QUICK)
    assert r.code == 0, r.err
    assert len(_posts(live)) == 2 and list(live.gh.pulls) == [1]
    live.gh.fail(503, r"/pulls/1$", methods=("PATCH",), times=10)
    r = live.mreg("promote", "fraud@v2", "--to", "production", "--reason", "again", env=QUICK)
    assert r.code == 6
    assert "GitHub answered 503 Service Unavailable to PATCH /repos/acme/models/pulls/1" in r.err
    assert len([q for q in live.gh.requests if q.method == "PATCH"]) == 4  # bounded


# -- 4. the body's limit ------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_model_of_many_files_is_promoted_with_a_summarised_body(live: Team) -> None:
    d = live.tmp / "many"
    for i in range(400):  # ~230 characters a row: ~92,000 characters of artifact table
        f = d / "shards" / f"layer-{i:04d}-of-0400-{'w' * 60}.safetensors"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"%d" % i)
    r = run_mreg(
        "register",
        "fraud",
        str(d),
        "--metric",
        "auc=0.95",
        "--metric",
        "latency_ms=20",
        "--data",
        "t=s3://b/t",
        cwd=live.repo,
    )
    assert r.code == 0, r.err
    assert r.out.strip() == "fraud@v4"
    r = live.mreg("promote", "fraud@v4", "--to", "production")
    assert r.code == 0, r.err
    body = live.gh.pulls[1]["body"]
    assert len(body.encode()) <= BODY_MAX
    assert body.index("### Gate for `production`: passed") < body.index("**artifacts**")  # gate first
    m = re.search(r"\*(\d+) more lines left out here: GitHub takes at most 65,536 characters", body)
    assert m and 0 < int(m.group(1)) < 400
    assert body[: m.start()].rstrip().splitlines()[-1].endswith("` |")  # whole rows only
    assert "`mreg diff fraud@v1 fraud@v4`" in body and body.rstrip().endswith("-->")


# -- 5. pagination ------------------------------------------------------------------------------------
def test_apply_pages_through_the_pull_requests_of_a_branch(live: Team) -> None:
    """An older GitHub Enterprise Server lists no closed pull request for a commit off the default
    branch: apply then asks by branch, and the merged one is on page 2 (130 closed, 100 a page)."""
    assert live.mreg("promote", "fraud@v2", "--to", "production").code == 0
    live.gh.merge(1)
    closed = copy.deepcopy(live.gh.pulls[1])
    closed.update(state="closed", merged=False, merged_at=None, merge_commit_sha=None)
    for n in range(2, 132):
        live.gh.pulls[n] = {**copy.deepcopy(closed), "number": n}
    live.gh.fail(200, r"/commits/[0-9a-f]+/pulls$", body=[])
    live.gh.requests.clear()
    r = live.mreg("apply")
    assert r.code == 0, r.err
    assert "(https://github.example/acme/models/pull/1)" in r.out
    assert 'request: "https://github.example/acme/models/pull/1"' in show(
        live.bare, "mreg/fraud/production/2"
    )
    lists = [q.query for q in live.gh.requests if q.method == "GET" and q.path == "/repos/acme/models/pulls"]
    assert [q.get("page") for q in lists] == [None, ["2"]] and lists[0]["per_page"] == ["100"]


@pytest.mark.slow
def test_rollback_is_applied_with_the_pull_request_github_associates_with_the_merge(live: Team) -> None:
    """`/commits/{sha}/pulls` off the default branch lists merged pull requests too (as documented):
    apply names the pull request from that one call, even after a squash merge."""
    assert live.mreg("promote", "fraud@v2", "--to", "production").code == 0
    live.gh.merge(1)
    assert live.mreg("apply").code == 0
    r = live.mreg("rollback", "fraud@production", "--reason", "v2 misbehaves", env=QUICK)
    assert r.code == 0, r.err
    live.gh.merge(2, method="squash")
    live.gh.requests.clear()
    live.gh.rate_limited("secondary", retry_after=0, path=r"/commits/")
    r = live.mreg("apply", env=QUICK)
    assert r.code == 0, r.err
    assert "(https://github.example/acme/models/pull/2)" in r.out
    calls = [q.path for q in live.gh.requests]
    assert len(calls) == 2 and all(re.search(r"/commits/[0-9a-f]{40}/pulls$", p) for p in calls)


# -- 6. same-repository pull requests -----------------------------------------------------------------
def test_a_same_repository_pull_request_is_sent_as_github_documents_it(live: Team) -> None:
    r = live.mreg("promote", "fraud@v2", "--to", "production")
    assert r.code == 0, r.err
    r = live.mreg("promote", "fraud@v2", "--to", "production", "--reason", "again")  # PATCHes it
    assert r.code == 0, r.err
    sent = [q for q in live.gh.requests if q.method in ("POST", "PATCH")]
    assert [q.method for q in sent] == ["POST", "PATCH"]
    assert all("maintainer_can_modify" not in q.body and None not in q.body.values() for q in sent)
    assert all(q.headers["user-agent"].startswith("mreg/") for q in live.gh.requests)

"""Protected promotions go branch → pull request → merge → apply → tag (SPEC §7).

The GitHub side is testing.fake_github: GitHub's documented REST shapes on 127.0.0.1, merging with
real git into a real bare remote. Tests here are "against the documented API", not against GitHub.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from testing.fake_github import branch_sha, show
from testing.gitutil import refs
from testing.team import Team, make_team

pytestmark = pytest.mark.github

BRANCH = "mreg/promote/fraud/production/v2"


def _tags(team: Team) -> dict[str, str]:
    return refs(team.bare, "refs/tags/")


def test_protected_promotion_opens_a_pull_request_and_creates_no_tag(live: Team) -> None:
    before = _tags(live)
    r = live.mreg("promote", "fraud@v2", "--to", "production", "--reason", "better auc")
    assert r.code == 0, r.err
    assert f"on branch {BRANCH}" in r.out
    assert "pull request: https://github.example/acme/models/pull/1" in r.out
    assert _tags(live) == before  # never a production tag from this path
    pr = live.gh.pulls[1]
    assert (pr["head"]["ref"], pr["base"]["ref"], pr["title"]) == (
        BRANCH,
        "mreg/aliases",
        "promote fraud v2 to production",
    )
    # the branch is one commit off the governed tip, with the alias set and everything else kept
    policy = yaml.safe_load(show(live.bare, f"{BRANCH}:models/fraud.yaml"))
    v2 = yaml.safe_load(live.mreg("resolve", "fraud@v2", "--json").out)["manifest"]["digest"]
    assert policy["aliases"] == {
        "production": {"version": 2, "digest": v2}
    }  # the reviewers approve exact bytes
    assert policy["owners"] == ["alice", "acme/ml-leads"] and "production" in policy["gates"]
    assert "/models/fraud.yaml @alice @acme/ml-leads" in show(live.bare, f"{BRANCH}:.github/CODEOWNERS")
    assert show(live.bare, f"{BRANCH}~1").split()[1] == branch_sha(live.bare, "mreg/aliases")
    # the body is the gate report: candidate against the alias's current version
    body = pr["body"]
    assert "### Gate for `production`: passed" in body
    assert "| auc | 0.9 | 0.93 | +0.03 |" in body
    assert "against fraud@v1" in body and "**Reason:** better auc" in body
    assert "sha256:" in body  # artifact digests
    # the documented headers, the token only in Authorization
    post = next(q for q in live.gh.requests if q.method == "POST")
    assert post.headers["authorization"] == "Bearer t0ken"
    assert post.headers["accept"] == "application/vnd.github+json"
    assert post.headers["x-github-api-version"] == "2022-11-28"
    assert "t0ken" not in r.out + r.err


@pytest.mark.slow
def test_merge_then_apply_creates_the_tag_with_the_pull_request(live: Team, tmp_path: Path) -> None:
    assert live.mreg("promote", "fraud@v2", "--to", "production").code == 0
    merge = live.gh.merge(1)
    r = live.mreg("check")
    assert r.code == 1
    assert "fraud@production: mreg/aliases asks for v2, the tags say v1: merged but not applied" in r.out
    out_file = tmp_path / "gh_output"
    r = live.mreg("apply", env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out_file)})
    assert r.code == 0, r.err
    url = "https://github.example/acme/models/pull/1"
    assert r.out.strip() == f"applied fraud@production -> v2 [mreg/fraud/production/2] ({url})"
    assert "tags=mreg/fraud/production/2" in out_file.read_text()
    assert "count=1" in out_file.read_text()
    tag_msg = show(live.bare, "mreg/fraud/production/2")
    assert f'request: "{url}"' in tag_msg and 'event: "promote"' in tag_msg and "previous: 1" in tag_msg
    assert f'governed: "{merge}"' in tag_msg  # the reviewed pin it applies
    assert live.mreg("resolve", "fraud@production").out.strip() == "fraud@v2"
    # idempotent, and the registry is consistent again
    r = live.mreg("apply")
    assert r.code == 0 and "nothing to apply" in r.out
    assert live.mreg("check").code == 0
    assert set(_tags(live)) == {"refs/tags/mreg/fraud/production/1", "refs/tags/mreg/fraud/production/2"}


@pytest.mark.slow
def test_a_second_request_updates_the_open_pull_request(live: Team) -> None:
    assert live.mreg("promote", "fraud@v2", "--to", "production").code == 0
    live.gh.pulls[1]["body"] = "edited by hand"
    r = live.mreg("promote", "fraud@v2", "--to", "production", "--reason", "again")
    assert r.code == 0, r.err
    assert "pull/1" in r.out
    assert list(live.gh.pulls) == [1]
    assert "**Reason:** again" in live.gh.pulls[1]["body"]


def test_without_a_token_it_prints_the_branch_and_compare_url(live: Team) -> None:
    before = _tags(live)
    r = live.mreg("promote", "fraud@v2", "--to", "production", token=None)
    assert r.code == 0, r.err
    assert (
        f"open a pull request: https://github.example/acme/models/compare/mreg/aliases...{BRANCH}?quick_pull=1"
        in r.out
    )
    assert branch_sha(live.bare, BRANCH) is not None
    assert _tags(live) == before and not live.gh.requests


def test_bad_token_fails_before_anything_is_pushed(live: Team) -> None:
    before = refs(live.bare)
    r = live.mreg("promote", "fraud@v2", "--to", "production", token="wrong-secret")
    assert r.code == 6
    assert "401 Bad credentials" in r.err and "wrong-secret" not in r.err + r.out
    assert len(r.err.strip().splitlines()) <= 2 and "Traceback" not in r.err
    assert refs(live.bare) == before


def test_read_only_token_leaves_no_branch_behind(live: Team) -> None:
    live.gh.tokens["reader"] = "read"
    before = refs(live.bare)
    r = live.mreg("promote", "fraud@v2", "--to", "production", token="reader")
    assert r.code == 6
    assert "403 Resource not accessible" in r.err
    assert refs(live.bare) == before and not live.gh.pulls


def test_unknown_repository_is_a_remote_error(live: Team) -> None:
    r = live.mreg("promote", "fraud@v2", "--to", "production", env={"GITHUB_REPOSITORY": "acme/nope"})
    assert r.code == 6
    assert "acme/nope not found" in r.err


def test_unreachable_api_is_a_remote_error(live: Team) -> None:
    r = live.mreg("promote", "fraud@v2", "--to", "production", env={"GITHUB_API_URL": "http://127.0.0.1:9"})
    assert r.code == 6
    assert "cannot reach the GitHub API at http://127.0.0.1:9" in r.err


def test_merged_but_not_applied_refuses_a_duplicate_request(live: Team) -> None:
    assert live.mreg("promote", "fraud@v2", "--to", "production").code == 0
    live.gh.merge(1)
    r = live.mreg("promote", "fraud@v2", "--to", "production")
    assert r.code == 2
    assert "merged but not applied" in r.err and "mreg apply" in r.err


@pytest.mark.slow
def test_rollback_and_demote_go_through_review_too(live: Team) -> None:
    assert live.mreg("promote", "fraud@v2", "--to", "production").code == 0
    live.gh.merge(1)
    assert live.mreg("apply").code == 0
    r = live.mreg("rollback", "fraud@production", "--reason", "v2 misbehaves")
    assert r.code == 0, r.err
    assert (
        "mreg/promote/fraud/production/v1" in r.out
        and live.gh.pulls[2]["title"] == "rollback fraud production to v1"
    )
    live.gh.merge(2, method="squash")  # squash merges are found too
    r = live.mreg("apply")
    assert r.code == 0, r.err
    msg = show(live.bare, "mreg/fraud/production/3")
    assert 'event: "rollback"' in msg and 'reason: "v2 misbehaves"' in msg and "pull/2" in msg
    r = live.mreg("demote", "fraud@production")
    assert r.code == 0, r.err
    assert yaml.safe_load(show(live.bare, "mreg/promote/fraud/production/demote:models/fraud.yaml"))[
        "aliases"
    ] == {"production": None}
    live.gh.merge(3)
    assert live.mreg("apply").code == 0
    assert live.mreg("resolve", "fraud@production").code == 3


def test_apply_without_a_token_records_the_merge_commit(live: Team) -> None:
    assert live.mreg("promote", "fraud@v2", "--to", "production").code == 0
    merge = live.gh.merge(1)
    r = live.mreg("apply", token=None)
    assert r.code == 0, r.err
    assert f'request: "{merge}"' in show(live.bare, "mreg/fraud/production/2")


@pytest.mark.slow
def test_a_new_policy_file_is_created_when_the_model_has_none(tmp_path: Path) -> None:
    gen = make_team(tmp_path, policy=None)
    team = next(gen)
    try:
        team.register({"auc": 0.9})
        r = team.mreg("promote", "fraud@v1", "--to", "production")
        assert r.code == 0, r.err
        doc = yaml.safe_load(show(team.bare, "mreg/promote/fraud/production/v1:models/fraud.yaml"))
        digest = yaml.safe_load(team.mreg("resolve", "fraud@v1", "--json").out)["manifest"]["digest"]
        assert doc == {"schema": "mreg/model/v1", "aliases": {"production": {"version": 1, "digest": digest}}}
        assert "no gate rules" in team.gh.pulls[1]["body"]
    finally:
        gen.close()

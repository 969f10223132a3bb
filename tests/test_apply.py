"""`mreg apply` (SPEC §7), against the documented API on 127.0.0.1 (the GitHub client behind it on its
own: tests/unit/forge/test_github.py)."""

from __future__ import annotations

import subprocess

import pytest

from testing.clock import Clock
from testing.fake_github import push_files, show
from testing.gitutil import MREG, refs
from testing.team import Team

pytestmark = pytest.mark.github


@pytest.mark.slow
def test_apply_with_nothing_merged_does_nothing(team: Team) -> None:
    team.register({"auc": 0.9})
    before = refs(team.bare)
    r = team.mreg("apply")
    assert r.code == 0 and "nothing to apply" in r.out
    assert refs(team.bare) == before


@pytest.mark.slow
def test_apply_refuses_an_unregistered_version_and_creates_nothing(team: Team) -> None:
    team.register({"auc": 0.9})
    policy = show(team.bare, "mreg/aliases:models/fraud.yaml") + "aliases:\n  production: 7\n  staging: 1\n"
    push_files(team.bare, "mreg/aliases", {"models/fraud.yaml": policy}, "hand edit")
    before = refs(team.bare)
    r = team.mreg("apply")
    assert r.code == 3
    assert "asks for fraud@production = v7, which is not registered" in r.err
    assert refs(team.bare) == before  # staging=v1 was valid, but nothing is half-done


@pytest.mark.slow
def test_apply_api_error_creates_no_tag(team: Team) -> None:
    team.register({"auc": 0.9})
    assert team.mreg("promote", "fraud@v1", "--to", "production").code == 0
    team.gh.merge(1)
    before = refs(team.bare, "refs/tags/")
    r = team.mreg("apply", token="expired")
    assert r.code == 6 and "401" in r.err
    assert refs(team.bare, "refs/tags/") == before


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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

"""`mreg policy` and promotion requests edit the governed branch's files in place (SPEC §3, §8,
issue 12): a change proposed as a PR, never through a checkout, with every comment and line people
wrote kept."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from testing.fake_github import branch_sha, push_files, show
from testing.gitutil import run_mreg
from testing.team import POLICY, Team, TeamTemplates

pytestmark = pytest.mark.github

COMMENTED = (
    "# Fraud scorer: owned by the risk team. Ask #risk-ml before loosening a gate.\n"
    + POLICY.replace(
        "    - {metric: latency_ms, max: 50}\n",
        "    - {metric: latency_ms, max: 50}   # the p99 budget of the card API\n",
    )
)


def _commented(team: Team, mp: pytest.MonkeyPatch) -> None:
    team.register({"auc": 0.9, "latency_ms": 20})


@pytest.fixture
def commented_team(team_templates: TeamTemplates, tmp_path: Path) -> Iterator[Team]:
    """A team whose policy file carries comments, with fraud v1 registered."""
    yield from team_templates.get("commented", _commented, policy=COMMENTED).copy_to(tmp_path)


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    import difflib

    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


def test_a_promotion_request_changes_only_the_pin(commented_team: Team) -> None:
    assert commented_team.mreg("promote", "fraud@v1", "--to", "production").code == 0
    after = show(commented_team.bare, "mreg/promote/fraud/production/v1:models/fraud.yaml")
    removed, added = _changed_lines(COMMENTED, after)
    assert removed == []
    assert (
        len(added) == 2
        and added[0] == "aliases:"
        and added[1].startswith("  production: {version: 1, digest: sha256:")
    )


def test_policy_opens_a_pull_request_that_keeps_every_comment(commented_team: Team) -> None:
    before = branch_sha(commented_team.bare, "mreg/aliases")
    r = commented_team.mreg(
        "policy",
        "fraud",
        "--owner",
        "bob",
        "--gate",
        "production={metric: f1, min: 0.7}",
        "--reason",
        "f1 matters now",
    )
    assert r.code == 0, r.err
    assert "pull request: https://github.example/acme/models/pull/1" in r.out
    assert branch_sha(commented_team.bare, "mreg/aliases") == before  # proposed, not committed
    after = show(commented_team.bare, "mreg/policy/fraud:models/fraud.yaml")
    removed, added = _changed_lines(COMMENTED, after)
    assert removed == ["owners: [alice, acme/ml-leads]"] and "owners: [alice, acme/ml-leads, bob]" in added
    assert "    - {metric: f1, min: 0.7}" in added and len(added) == 2
    assert "# the p99 budget of the card API" in after and after.startswith("# Fraud scorer")
    assert "/models/fraud.yaml @alice @acme/ml-leads @bob" in show(
        commented_team.bare, "mreg/policy/fraud:.github/CODEOWNERS"
    )
    body = commented_team.gh.pulls[1]["body"]
    assert "```diff" in body and "+    - {metric: f1, min: 0.7}" in body and "f1 matters now" in body
    commented_team.gh.merge(1)
    assert commented_team.mreg("check").code == 0
    r = commented_team.mreg("gate", "fraud@v1", "--to", "production")
    assert r.code == 1 and "f1" in r.out  # the new rule is in force


def test_policy_can_protect_an_alias_in_mreg_yaml(commented_team: Team) -> None:
    config = show(commented_team.bare, "mreg/aliases:mreg.yaml")
    push_files(commented_team.bare, "mreg/aliases", {"mreg.yaml": "# team settings\n" + config}, "comment")
    r = commented_team.mreg("policy", "fraud", "--protect", "staging")
    assert r.code == 0, r.err
    after = show(commented_team.bare, "mreg/policy/fraud:mreg.yaml")
    assert after.startswith("# team settings") and yaml.safe_load(after)["protected_aliases"] == [
        "production",
        "staging",
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--gate", "production={metric: auc, minimum: 0.9}"], "not a rule"),
        (["--gate", "production"], "ALIAS=RULE"),
        (["--owner", "bad name!"], "not a git-host user"),
        ([], "nothing to change"),
        (["--gate", "Production={metric: auc, min: 0.9}"], "invalid alias"),
    ],
)
def test_bad_policy_changes_are_refused(commented_team: Team, args: list[str], needle: str) -> None:
    before = branch_sha(commented_team.bare, "mreg/aliases")
    r = commented_team.mreg("policy", "fraud", *args)
    assert r.code == 2 and needle in r.err
    assert branch_sha(commented_team.bare, "mreg/aliases") == before and not commented_team.gh.pulls


def test_without_a_remote_policy_commits_to_the_local_governed_branch(repo: Path, model_dir: Path) -> None:
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    r = run_mreg(
        "policy", "fraud", "--owner", "alice", "--gate", "production {metric: auc, min: 0.9}", cwd=repo
    )
    assert r.code == 0 and "committed to mreg/aliases" in r.out
    text = subprocess.run(
        ["git", "show", "mreg/aliases:models/fraud.yaml"], cwd=repo, capture_output=True, text=True
    ).stdout
    doc = yaml.safe_load(text)
    assert doc["owners"] == ["alice"] and doc["gates"]["production"] == [{"metric": "auc", "min": 0.9}]
    assert run_mreg("check", cwd=repo).code == 0


def test_a_second_policy_change_adds_to_the_open_proposal(commented_team: Team) -> None:
    assert commented_team.mreg("policy", "fraud", "--gate", "production={metric: auc, min: 0.9}").code == 0
    r = commented_team.mreg("policy", "fraud", "--owner", "carol")
    assert r.code == 0 and "added to the open proposal" in r.out
    doc = yaml.safe_load(show(commented_team.bare, "mreg/policy/fraud:models/fraud.yaml"))
    assert "carol" in doc["owners"] and {"metric": "auc", "min": 0.9} in doc["gates"]["production"]
    assert list(commented_team.gh.pulls) == [1]  # one pull request, updated

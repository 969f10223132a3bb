"""Gates (SPEC §9): `mreg gate` on real registries (rules as data → verdicts: tests/unit/test_gates.py)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from testing.fake_github import branch_sha, push_files, show
from testing.team import Team

pytestmark = pytest.mark.github


def test_gate_prints_a_table_and_passes(live: Team) -> None:
    r = live.mreg("gate", "fraud@v2", "--to", "production")
    assert r.code == 0, r.err
    assert r.out.startswith("fraud@production -> v2 (now v1): passed")
    assert re.search(r"^auc not worse than production \(±0.005\) +pass +0.93 ", r.out, re.M)
    assert ">= 0.895 (production v1: 0.9)" in r.out


def test_failing_gate_exits_1_with_every_failure_listed(live: Team, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    r = live.mreg(
        "gate",
        "fraud@v3",
        "--to",
        "production",
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert r.code == 1
    assert "FAILED" in r.out and r.out.count("FAIL ") >= 3
    assert "mreg: error: gate failed for fraud@production" in r.err
    assert "::error::gate fraud@production -> v3 (now v1): auc min: 0.8 (required >= 0.85)" in r.out
    assert "❌ FAIL" in summary.read_text()
    r = live.mreg("gate", "fraud@v3", "--to", "production", "--json")
    data = json.loads(r.out[: r.out.index("\n}\n") + 2])  # the report; the error object follows it
    assert data["ok"] is False and {v["rule"] for v in data["reports"][0]["verdicts"] if not v["ok"]} >= {
        "auc min",
        "latency_ms max",
    }


def test_alias_without_rules_passes(live: Team) -> None:
    r = live.mreg("gate", "fraud@v3", "--to", "staging")
    assert r.code == 0 and "no gate rules" in r.out


@pytest.mark.slow
def test_gate_changed_judges_a_pull_request_by_its_base_rules(live: Team) -> None:
    base = branch_sha(live.bare, "mreg/aliases")
    assert live.mreg("promote", "fraud@v3", "--to", "production").code == 0
    assert "### Gate for `production`: FAILED" in live.gh.pulls[1]["body"]
    # the PR also tries to loosen the gate: the base's rules still apply
    branch = "mreg/promote/fraud/production/v3"
    loosened = show(live.bare, f"{branch}:models/fraud.yaml").replace("min: 0.85", "min: 0.5")
    push_files(live.bare, branch, {"models/fraud.yaml": loosened}, "loosen")
    event = live.gh.pull_request_event(1, "synchronize")
    assert event["pull_request"]["base"]["sha"] == base
    subprocess.run(
        ["git", "fetch", "--quiet", "origin", f"{branch}:refs/remotes/origin/{branch}"],
        cwd=live.repo,
        check=True,
    )
    r = live.mreg(
        "gate", "--changed", "--base", event["pull_request"]["base"]["sha"], "--head", f"origin/{branch}"
    )
    assert r.code == 1, r.out + r.err
    assert "fraud@production -> v3 (now v1): FAILED" in r.out and "auc min" in r.out
    # an unchanged head has nothing to gate
    r = live.mreg("gate", "--changed", "--base", base, "--head", base)
    assert r.code == 0 and "no alias changes" in r.out


def test_gate_usage_errors(live: Team) -> None:
    assert live.mreg("gate", "fraud@v2").code == 2
    assert live.mreg("gate", "fraud@v2", "--to", "production", "--changed").code == 2
    r = live.mreg("gate", "--changed", "--base", "no-such-ref")
    assert r.code == 2 and "--base 'no-such-ref'" in r.err

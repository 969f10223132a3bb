"""A team's registry for review-flow tests: a bare "GitHub" remote, a clone, versions, a policy, a fake API.

Building one takes seconds (a bare remote, a seed repo, a clone, `mreg init`, a policy push, and often
registrations), so `TeamTemplates` builds each kind once per session and copies it per test
(testing.templates); the fixtures `team` and `live` (testing.fixtures) are such copies. Git stays
real: the copies are plain repositories, and each copy gets its own fake GitHub server.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testing.fake_github import FakeGitHub, push_files
from testing.gitutil import Result, clone, make_bare, make_repo, run_mreg
from testing.templates import Template, Templates

POLICY = """\
schema: mreg/model/v1
description: card fraud scorer
owners: [alice, acme/ml-leads]
gates:
  production:
    - {metric: auc, min: 0.85}
    - {metric: auc, not_worse_than: production, tolerance: 0.005}
    - {metric: latency_ms, max: 50}
    - {require: [data]}
"""


@dataclass
class Team:
    bare: Path
    repo: Path
    gh: FakeGitHub
    tmp: Path

    def mreg(self, *args: str, token: str | None = "t0ken", env: dict[str, str] | None = None) -> Result:
        return run_mreg(*args, cwd=self.repo, env={**self.gh.env(token), **(env or {})})

    def register(self, version_metrics: dict[str, float], name: str = "fraud", data: bool = True) -> str:
        d = self.tmp / f"model-{len(list(self.tmp.glob('model-*')))}"
        d.mkdir()
        (d / "weights.bin").write_bytes(json.dumps(version_metrics).encode() * 50)
        args = ["register", name, str(d)]
        for k, v in version_metrics.items():
            args += ["--metric", f"{k}={v}"]
        if data:
            args += ["--data", "train=s3://bucket/train.parquet"]
        r = run_mreg(*args, cwd=self.repo)
        assert r.code == 0, r.err
        return r.out.strip()

    def approve(self, ref: str, alias: str = "production") -> None:
        """A protected alias set as if an earlier pull request had been merged: the pin pushed to the
        governed branch (no PR number used up), then `mreg apply`."""
        import subprocess

        import yaml

        from testing.fake_github import show

        r = self.mreg("resolve", ref, "--json")
        assert r.code == 0, r.err
        v = json.loads(r.out)
        try:
            text = show(self.bare, f"mreg/aliases:models/{v['model']}.yaml")
        except subprocess.CalledProcessError:  # no policy file yet
            text = ""
        policy = yaml.safe_load(text) or {"schema": "mreg/model/v1"}
        policy.setdefault("aliases", {})[alias] = {"version": v["version"], "digest": v["manifest"]["digest"]}
        push_files(
            self.bare,
            "mreg/aliases",
            {f"models/{v['model']}.yaml": yaml.safe_dump(policy, sort_keys=False)},
            f"promote {ref} to {alias}",
        )
        r = self.mreg("apply")
        assert r.code == 0, r.err


def make_team(tmp: Path, *, policy: str | None = POLICY) -> Iterator[Team]:
    bare = tmp / "origin.git"
    make_bare(bare)
    g = make_repo(tmp / "seed")
    g.create_remote("origin", str(bare))
    g.git.push("origin", "main")
    repo = tmp / "repo"
    clone(bare, repo)
    r = run_mreg("init", cwd=repo)
    assert r.code == 0, r.err
    gh = FakeGitHub(bare).start()
    team = Team(bare, repo, gh, tmp)
    if policy is not None:
        push_files(bare, "mreg/aliases", {"models/fraud.yaml": policy}, "fraud policy")
    try:
        yield team
    finally:
        gh.stop()


# -- templates: a team built once per session (testing.templates), copied per test --------------------
Build = Callable[[Team, pytest.MonkeyPatch], None]


@dataclass
class TeamTemplate:
    template: Template

    def copy_to(self, tmp: Path) -> Iterator[Team]:
        """The team as if built in `tmp`, with a fake GitHub of its own serving the copy's remote and
        holding the pull requests the template's had; it has recorded no request yet."""
        self.template.copy_to(tmp)
        gh = FakeGitHub(tmp / "origin.git", pulls=copy.deepcopy(self.template.built)).start()
        try:
            yield Team(tmp / "origin.git", tmp / "repo", gh, tmp)
        finally:
            gh.stop()


class TeamTemplates:
    """Teams built once per session by name (testing.templates): make_team(policy), then
    `build(team, monkeypatch)`; the session fixture `team_templates` (testing.fixtures) holds one."""

    def __init__(self, templates: Templates) -> None:
        self.templates = templates

    def get(self, name: str, build: Build | None = None, *, policy: str | None = POLICY) -> TeamTemplate:
        def make(root: Path, mp: pytest.MonkeyPatch) -> dict[int, dict[str, Any]]:
            teams = make_team(root, policy=policy)
            team = next(teams)
            try:
                if build is not None:
                    build(team, mp)
                return copy.deepcopy(team.gh.pulls)
            finally:
                teams.close()  # stops the template's fake GitHub

        return TeamTemplate(self.templates.get(f"team-{name}", make))

"""A team's registry for review-flow tests: a bare "GitHub" remote, a clone, versions, a policy, a fake API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testing.fake_github import FakeGitHub, push_files
from testing.gitutil import Result, clone, make_bare, make_repo, run_mreg

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

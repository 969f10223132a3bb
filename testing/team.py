"""A team's registry for review-flow tests: a bare "GitHub" remote, a clone, versions, a policy, a fake API.

Building one takes seconds (a bare remote, a seed repo, a clone, `mreg init`, a policy push, and often
registrations), so `TeamTemplates` builds each kind once per session and copies it per test; the
fixtures `team` and `live` (testing.fixtures) are such copies. Git stays real: the copies are plain
repositories, and each copy gets its own fake GitHub server.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testing.env import isolate
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


# -- templates: a team built once per session, copied per test ---------------------------------------
Build = Callable[[Team, pytest.MonkeyPatch], None]


@dataclass
class Template:
    """A finished team's directory and what lives outside it: the fake GitHub's pull requests and the
    mreg cache its commands filled."""

    root: Path
    cache: Path
    pulls: dict[int, dict[str, Any]]
    named: list[str] = field(default_factory=list)  # files that name `root`: git configs, reflogs

    def copy_to(self, tmp: Path) -> Iterator[Team]:
        """The team as if built in `tmp`: a copy of every file (symlinks kept), each git config and
        reflog rewritten from the template's path to the copy's, the cache copied into this test's
        XDG_CACHE_HOME, and a fake GitHub of its own holding the template's pull requests.

        Commits made while building (manifests' `source.repository`, from `git remote get-url`) keep
        naming the template's remote: git objects cannot be rewritten without changing every id."""
        clash = sorted(n for n in os.listdir(self.root) if (tmp / n).exists())
        assert not clash, f"{tmp} already holds {clash}: a team takes its test's tmp_path"
        shutil.copytree(self.root, tmp, symlinks=True, dirs_exist_ok=True)
        old, new = f"{self.root}{os.sep}", f"{tmp}{os.sep}"
        for rel in self.named:
            p = tmp / rel
            p.write_text(p.read_text().replace(old, new))
        if self.cache.is_dir():
            shutil.copytree(self.cache, Path(os.environ["XDG_CACHE_HOME"]), symlinks=True, dirs_exist_ok=True)
        gh = FakeGitHub(tmp / "origin.git", pulls=copy.deepcopy(self.pulls)).start()
        try:
            yield Team(tmp / "origin.git", tmp / "repo", gh, tmp)
        finally:
            gh.stop()


def _files_naming(root: Path) -> list[str]:
    """The files under `root` whose text names `root`; anything else naming it (a binary file, a
    symlink pointing into it) would tie copies to the template, so it is refused."""
    needle = f"{root}{os.sep}".encode()
    named = []
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            assert not os.readlink(p).startswith(str(root)), f"{p} points into the template"
        elif p.is_file() and needle in p.read_bytes():
            p.read_bytes().decode()  # a text file: it can be rewritten without shifting any offset
            named.append(str(p.relative_to(root)))
    return named


class TeamTemplates:
    """Teams built once per session (lazily, by name) under `base`, each in an isolated environment of
    its own: a template is built outside any test, so it must not see a test's (or the user's) HOME,
    credentials or clock."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._built: dict[str, Template] = {}

    def get(self, name: str, build: Build | None = None, *, policy: str | None = POLICY) -> Template:
        """The template `name`: make_team(policy), then `build(team, monkeypatch)` if given. One name,
        one recipe: callers that share a name must pass the same build and policy."""
        if name not in self._built:
            root = self.base / name
            home = self.base / f"{name}.home"
            with pytest.MonkeyPatch.context() as mp:
                isolate(mp, home)
                for team in make_team(root, policy=policy):
                    if build is not None:
                        build(team, mp)
                    pulls = copy.deepcopy(team.gh.pulls)
            self._built[name] = Template(root, home / ".cache", pulls, _files_naming(root))
        return self._built[name]

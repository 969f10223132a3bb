"""The scheduled-retraining loop (docs/retraining.md, issue 16), run from its example workflows.

Every `run:` step of retrain.yml, apply.yml, deploy-on-dispatch.yml and notify.yml is executed by
bash as the runner executes it (`bash --noprofile --norc -eo pipefail`), with its `env:` filled in
from a small expression context, `$GITHUB_OUTPUT` read back into `steps.<id>.outputs`, and the jobs'
`if:` evaluated — against a bare remote, a directory store and the fake GitHub API on 127.0.0.1.
`uses:` steps are not run: checkout is a fresh clone, the App token step's output is given, and
`pip install` steps are skipped (this venv's mreg is on PATH). Tests test_workflows.py holds check
the same files against GitHub's schema, actionlint and zizmor.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from testing.fake_github import FakeGitHub, push_files, show
from testing.gitutil import clone, make_bare, make_repo, run_mreg

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "examples" / "workflows"
STANDIN = ROOT / "examples" / "retrain" / "standin.py"
BIN = Path(sys.executable).parent
TOKEN = "t0ken"  # the fake GitHub's write token: GITHUB_TOKEN and the App's token alike

POLICY = """\
schema: mreg/model/v1
gates:
  production:
    - {metric: auc, min: 0.75, dataset: holdout}
    - {metric: auc, not_worse_than: production, dataset: holdout}
"""
DEPLOY_OUTLET = {
    "name": "deploy",
    "type": "github-dispatch",
    "events": ["alias.moved"],
    "aliases": ["production"],
}

# -- a runner for the examples' steps: the subset of GitHub's expressions they use --------------------

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_PATH = re.compile(r"[A-Za-z_][\w-]*(?:\.[\w-]+)*")


def _value(term: str, ctx: dict[str, Any]) -> Any:
    term = term.strip()
    literals = {"true": True, "false": False, "null": None}
    if term in literals:
        return literals[term]
    if len(term) >= 2 and term[0] == term[-1] == "'":
        return term[1:-1].replace("''", "'")
    assert _PATH.fullmatch(term), f"not an expression this harness evaluates: {term}"
    cur: Any = ctx
    for part in term.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _condition(expr: str, ctx: dict[str, Any]) -> bool:
    """`a == b && c != d`, the form of every `if:` in the examples (anything else fails the test)."""
    verdict = True
    for clause in expr.split("&&"):
        m = re.fullmatch(r"\s*(\S+)\s*(==|!=)\s*(\S+)\s*", clause)
        assert m, f"not a condition this harness evaluates: {clause}"
        a, b = _value(m[1], ctx), _value(m[3], ctx)
        verdict = verdict and (a == b if m[2] == "==" else a != b)
    return verdict


def _text(value: Any) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _interpolate(text: str, ctx: dict[str, Any]) -> str:
    return _EXPR.sub(lambda m: _text(_value(m[1], ctx)), text)


def _outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT: `k=v` lines and `k<<MARKER` blocks."""
    out: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, marker = line.split("<<", 1)
            block = []
            for body in lines:
                if body == marker:
                    break
                block.append(body)
            out[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


@dataclass
class Ran:
    ran: bool
    log: str = ""
    outputs: dict[str, str] | None = None
    summary: str = ""


@dataclass
class Runner:
    tmp: Path
    bare: Path
    gh: FakeGitHub
    runs: int = 0

    def env(self, run_number: int) -> dict[str, str]:
        return {
            **os.environ,
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "GITHUB_ACTIONS": "true",
            "GITHUB_RUN_ID": str(9000 + run_number),
            "GITHUB_RUN_NUMBER": str(run_number),
            **self.gh.env(None),  # GITHUB_API_URL, GITHUB_SERVER_URL, GITHUB_REPOSITORY
        }

    def job(
        self,
        file: str,
        job: str,
        *,
        run_number: int,
        event: dict[str, Any] | None = None,
        needs: dict[str, Any] | None = None,
        checkout: bool = True,
        env: dict[str, str] | None = None,
    ) -> Ran:
        workflow = yaml.safe_load((WORKFLOWS / file).read_text())
        spec = workflow["jobs"][job]
        ctx: dict[str, Any] = {
            "github": {"token": TOKEN, "event": event or {}},
            "secrets": {},
            "vars": {},
            "needs": needs or {},
            "steps": {"app": {"outputs": {"token": TOKEN}}},  # actions/create-github-app-token
        }
        if "if" in spec and not _condition(spec["if"], ctx):
            return Ran(False)
        self.runs += 1
        work = self.tmp / f"job-{self.runs}-{job}"
        if checkout:
            clone(self.bare, work)
        else:
            work.mkdir()
        summary = self.tmp / f"job-{self.runs}-summary.md"
        summary.touch()
        log = []
        for i, step in enumerate(spec["steps"]):
            if "run" not in step or step["run"].startswith("pip install"):
                continue
            assert "${{" not in step["run"], "expressions reach scripts through env:, never inline"
            output = self.tmp / f"job-{self.runs}-step-{i}.out"
            output.touch()
            declared = {**workflow.get("env", {}), **spec.get("env", {}), **step.get("env", {})}
            step_env = {
                **self.env(run_number),
                **{k: _interpolate(str(v), ctx) for k, v in declared.items()},
                **(env or {}),
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(summary),
            }
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=work,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            log.append(f"## {step.get('name', step['run'][:40])}\n{proc.stdout}{proc.stderr}")
            assert proc.returncode == 0, "\n".join(log)
            if "id" in step:
                ctx["steps"][step["id"]] = {"outputs": _outputs(output)}
        outputs = {k: _interpolate(v, ctx) for k, v in spec.get("outputs", {}).items()}
        return Ran(True, "\n".join(log), outputs, summary.read_text())

    def retrain(self, run_number: int) -> tuple[Ran, Ran]:
        """retrain.yml as a scheduled run: the train job, then the promote job if its `if:` holds."""
        train = self.job("retrain.yml", "train", run_number=run_number, event={"schedule": "23 4 * * 1"})
        promote = self.job(
            "retrain.yml", "promote", run_number=run_number, needs={"train": {"outputs": train.outputs}}
        )
        return train, promote

    def merge_and_apply(self, number: int, run_number: int, env: dict[str, str] | None = None) -> Ran:
        self.gh.merge(number)
        return self.job("apply.yml", "apply", run_number=run_number, env=env)

    def deploy(self, dispatch: dict[str, Any], run_number: int) -> Ran:
        workflow = yaml.safe_load((WORKFLOWS / "deploy-on-dispatch.yml").read_text())
        assert dispatch["event_type"] in workflow[True]["repository_dispatch"]["types"]  # `on` reads as True
        event = {"action": dispatch["event_type"], "client_payload": dispatch["client_payload"]}
        return self.job(
            "deploy-on-dispatch.yml", "deploy", run_number=run_number, event=event, checkout=False
        )


@pytest.fixture
def loop(tmp_path: Path, isolated_env: Path) -> Any:
    bare = tmp_path / "origin.git"
    make_bare(bare)
    seed = make_repo(tmp_path / "seed", files={"examples/retrain/standin.py": STANDIN.read_text()})
    seed.create_remote("origin", str(bare))
    seed.git.push("origin", "main")
    admin = tmp_path / "admin"
    clone(bare, admin)
    (tmp_path / "store").mkdir()  # the team's store: every job reads and writes the same bytes
    r = run_mreg("init", "--store", str(tmp_path / "store"), cwd=admin)
    assert r.code == 0, r.err
    config = yaml.safe_load(show(bare, "mreg/aliases:mreg.yaml"))
    config["notify"] = {"outlets": [DEPLOY_OUTLET]}
    push_files(
        bare,
        "mreg/aliases",
        {"mreg.yaml": yaml.safe_dump(config, sort_keys=False), "models/fraud.yaml": POLICY},
        "the production gate on the holdout, and the deploy outlet",
    )
    time.sleep(1.05)  # an outlet sends the events after the second it was configured in
    gh = FakeGitHub(bare).start()
    # the deploy job reads the registry by its URL on "GitHub": git is pointed at the bare remote
    with (isolated_env / ".gitconfig").open("a") as f:
        f.write(f'[url "{bare}"]\n\tinsteadOf = {gh.html_base}/{gh.owner}/{gh.repo}.git\n')
    try:
        yield Runner(tmp_path, bare, gh), admin
    finally:
        gh.stop()


def _weights(ran_dir: Path) -> dict[str, Any]:
    return json.loads((ran_dir / "model" / "weights.json").read_text())


def _registered_weights(admin: Path, ref: str) -> dict[str, Any]:
    out = admin.parent / f"pulled-{ref.replace('@', '-')}"
    r = run_mreg("pull", ref, "-o", str(out), cwd=admin)
    assert r.code == 0, r.err
    return json.loads((out / "weights.json").read_text())


@pytest.mark.github
@pytest.mark.slow
def test_the_loop_promotes_only_a_winner_and_deploys_what_review_approved(loop: Any) -> None:
    runner, admin = loop
    gh = runner.gh

    # week 1: nothing in production yet; the challenger meets `min` and the PR is opened
    train, promote = runner.retrain(run_number=2)
    assert train.outputs == {"ref": "fraud@v1", "passed": "true"}, train.log
    assert "auc min on holdout" in train.log and "where each figure came from" in train.log  # --explain
    assert "mreg gate: fraud@production" in train.summary
    assert promote.ran
    (pr,) = gh.pulls.values()
    assert pr["head"]["ref"] == "mreg/promote/fraud/production/v1" and pr["base"]["ref"] == "mreg/aliases"
    assert "models/fraud/evaluations/1/1.yaml" in pr["body"]  # the reviewers' citations
    assert gh.dispatches == []  # only alias.moved on production reaches the deploy outlet

    # a reviewer merges; apply tags production and its notify sends the repository_dispatch
    apply = runner.merge_and_apply(pr["number"], run_number=3)
    assert apply.outputs is not None and apply.outputs["tags"] == "mreg/fraud/production/1"
    (dispatch,) = gh.dispatches
    payload = dispatch["client_payload"]
    assert dispatch["event_type"] == "mreg"
    assert (payload["type"], payload["model"]) == ("alias.moved", "fraud")
    assert {k: payload["data"][k] for k in ("alias", "version", "move", "reviewed")} == {
        "alias": "production",
        "version": 1,
        "move": "promote",
        "reviewed": True,
    }
    deploy = runner.deploy(dispatch, run_number=4)
    assert deploy.ran and "fraud@v1 -> model (1 file(s) verified)" in deploy.log, deploy.log
    v1 = _registered_weights(admin, "fraud@v1")
    assert _weights(runner.tmp / f"job-{runner.runs}-deploy") == v1

    # week 2: the challenger loses on the holdout; the run is green, says why, and opens no PR
    train, promote = runner.retrain(run_number=4)
    assert train.outputs == {"ref": "fraud@v2", "passed": "false"}, train.log
    assert "FAIL" in train.log and "auc not worse than production on holdout" in train.log
    assert "::notice title=No promotion::fraud@v2 did not pass the production gate" in train.log
    assert "FAILED" in train.summary
    assert not promote.ran and len(gh.pulls) == 1

    # week 3: a better challenger; promoted, merged, applied, deployed
    train, promote = runner.retrain(run_number=6)
    assert train.outputs == {"ref": "fraud@v3", "passed": "true"}, train.log
    pr = gh.pulls[max(gh.pulls)]
    assert pr["head"]["ref"] == "mreg/promote/fraud/production/v3"
    runner.merge_and_apply(pr["number"], run_number=5)
    assert [d["client_payload"]["data"]["version"] for d in gh.dispatches] == [1, 3]
    deploy = runner.deploy(gh.dispatches[-1], run_number=6)
    assert _weights(runner.tmp / f"job-{runner.runs}-deploy") == _registered_weights(admin, "fraud@v3")

    # a roll back goes through review like a promotion; this time apply's own delivery is skipped
    # (as if the dispatch had failed) and the scheduled notify job delivers it
    r = run_mreg("rollback", "fraud@production", "--reason", "v3 misbehaves", cwd=admin, env=gh.env(TOKEN))
    assert r.code == 0, r.err
    pr = gh.pulls[max(gh.pulls)]
    runner.merge_and_apply(pr["number"], run_number=7, env={"MREG_NO_NOTIFY": "1"})
    assert len(gh.dispatches) == 2
    notify = runner.job("notify.yml", "notify", run_number=8, event={"schedule": "7,37 * * * *"})
    assert "deploy: delivered 1 event(s)" in notify.log, notify.log
    payload = gh.dispatches[-1]["client_payload"]
    assert (payload["data"]["move"], payload["data"]["version"], payload["data"]["reviewed"]) == (
        "rollback",
        1,
        True,
    )
    runner.deploy(gh.dispatches[-1], run_number=9)
    assert _weights(runner.tmp / f"job-{runner.runs}-deploy") == v1
    # the safety net again: nothing new, nothing sent
    notify = runner.job("notify.yml", "notify", run_number=10)
    assert "deploy: delivered 0 event(s)" in notify.log and len(gh.dispatches) == 3


def test_deploy_runs_only_for_a_reviewed_move_of_production() -> None:
    condition = yaml.safe_load((WORKFLOWS / "deploy-on-dispatch.yml").read_text())["jobs"]["deploy"]["if"]

    def runs(kind: str = "alias.moved", **data: Any) -> bool:
        payload = {
            "type": kind,
            "model": "fraud",
            "data": {"alias": "production", "version": 1, "reviewed": True, **data},
        }
        return _condition(condition, {"github": {"event": {"client_payload": payload}}})

    assert runs()
    assert not runs("version.registered")
    assert not runs(alias="staging")
    assert not runs(reviewed=False)  # a tag no reviewed pin backs: readers refuse it, so does deploy
    assert not runs(version=None)  # a demote: nothing to pull

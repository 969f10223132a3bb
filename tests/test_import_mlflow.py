"""`mreg import mlflow` (SPEC §14) against a real MLflow registry (sqlite backend, local artifact
store), checked against MLflow's own answers: every version's bytes, params, metrics and aliases."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from testing.gitutil import MREG, clone, make_registry, publish_registry, refs, run_mreg, snapshot_store

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _world(where: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "testing.mlflow_world", *args[:1], str(where), *args[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return proc.stdout


@pytest.fixture(scope="session")
def mlflow_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two models (one with a gap, aliases, stages, tags, a dataset; one with a missing artifact)."""
    where = tmp_path_factory.mktemp("mlflow")
    answers: dict[str, Any] = json.loads(_world(where, "build"))
    return answers


def _import(repo: Path, uri: str, *extra: str) -> Any:
    return run_mreg("import", "mlflow", "--tracking-uri", uri, *extra, cwd=repo, timeout=300)


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_version_matches_mlflows_answers(mlflow_world: dict[str, Any], tmp_path: Path) -> None:
    repo = make_registry(tmp_path / "repo")
    r = _import(repo, mlflow_world["tracking_uri"], "--no-review")
    # the missing artifact is listed at the end, and the run exits 1; everything else is imported
    assert r.code == 1, r.err
    assert "not imported: churn v2 (MLflow churn/2): artifact missing" in r.err
    assert r.err.count("not imported:") == 1
    assert "fraud-detector" in r.out and "VERSIONS ADDED" in r.out

    fraud = mlflow_world["models"]["Fraud Detector"]
    assert sorted(fraud["versions"]) == ["1", "2", "4", "5"]  # v3 was deleted in MLflow
    for number, facts in fraud["versions"].items():
        shown = run_mreg("resolve", f"fraud-detector@v{number}", "--json", cwd=repo)
        assert shown.code == 0, shown.err
        manifest = json.loads(shown.out)["manifest"]
        assert manifest["version"] == int(number)  # the number is kept exactly
        assert manifest["params"] == facts["params"]
        assert manifest["metrics"] == pytest.approx(facts["metrics"])
        assert manifest["source"]["commit"] == "0123456789abcdef0123456789abcdef01234567"
        assert manifest["message"] == facts["description"]
        for key, value in facts["tags"].items():
            assert manifest["labels"][key] == value
        assert manifest["labels"]["import.id"] == f"Fraud Detector/{number}"
        out = tmp_path / f"pulled-{number}"
        pulled = run_mreg("pull", f"fraud-detector@v{number}", "-o", str(out), cwd=repo)
        assert pulled.code == 0, pulled.err
        got = {p.relative_to(out).as_posix(): _sha(p) for p in sorted(out.rglob("*")) if p.is_file()}
        assert got == facts["files"]
    v4 = json.loads(run_mreg("resolve", "fraud-detector@v4", "--json", cwd=repo).out)["manifest"]
    assert v4["data"][0]["uri"] == "s3://acme-data/train.npy"
    assert v4["environment"]["python"] == "3.11.4"
    # the gap stays a gap: v3 is not found, and the next registration comes after v5
    assert run_mreg("resolve", "fraud-detector@v3", cwd=repo).code == 3

    # aliases (and legacy stages as aliases) resolve to what MLflow says
    expected = {a: v for a, v in fraud["aliases"].items()}
    expected.update({"staging": 2, "production": 4})  # stages Staging (v2), Production (v4)
    for alias, version in expected.items():
        got_ref = run_mreg("resolve", f"fraud-detector@{alias}", cwd=repo)
        assert (got_ref.code, got_ref.out.strip()) == (0, f"fraud-detector@v{version}"), (alias, got_ref.err)
    record = subprocess.run(
        ["git", "cat-file", "-p", "mreg/fraud-detector/champion/1"], cwd=repo, capture_output=True, text=True
    ).stdout
    assert 'reason: "imported from MLflow"' in record and 'imported_from: "MLflow"' in record
    assert "by: " in record
    churn = run_mreg("resolve", "churn@v1", cwd=repo)
    assert churn.out.strip() == "churn@v1"
    assert run_mreg("check", cwd=repo).code == 0


def test_a_second_run_changes_nothing_and_uploads_nothing(
    mlflow_world: dict[str, Any], tmp_path: Path
) -> None:
    repo = make_registry(tmp_path / "repo")
    uri = mlflow_world["tracking_uri"]
    assert _import(repo, uri, "--no-review").code == 1
    before, store = refs(repo), snapshot_store(repo / ".git" / "mreg" / "objects")
    again = _import(repo, uri, "--no-review", "--json")
    assert again.code == 1  # the missing artifact is still missing, and still listed
    report = json.loads(again.out)
    assert report["uploaded_bytes"] == 0 and report["reused_bytes"] == 0
    assert {r["model"]: r["versions_added"] + r["moves_added"] + r["pins"] for r in report["models"]} == {
        "churn": 0,
        "fraud-detector": 0,
    }
    assert refs(repo) == before
    assert snapshot_store(repo / ".git" / "mreg" / "objects") == store


def test_dry_run_prints_the_plan_and_writes_nothing(mlflow_world: dict[str, Any], tmp_path: Path) -> None:
    repo = make_registry(tmp_path / "repo")
    before = refs(repo)
    r = _import(repo, mlflow_world["tracking_uri"], "--dry-run")
    assert r.code == 0, r.err
    assert "register fraud-detector@v4 (from MLflow Fraud Detector/4)" in r.out
    assert "tag fraud-detector@champion = v4" in r.out
    assert "pin fraud-detector@production = v4" in r.out and "refused: no remote" in r.out
    assert "fraud-detector@v3" not in r.out
    assert refs(repo) == before


def test_protected_aliases_go_through_one_review(mlflow_world: dict[str, Any], tmp_path: Path) -> None:
    """With a remote, `production` is not tagged by the import: one proposal pins it; after the merge,
    `mreg apply` tags it, and a re-run proposes nothing. --no-review there is refused up front."""
    repo = make_registry(tmp_path / "repo")
    bare = tmp_path / "origin.git"
    publish_registry(repo, bare)
    uri = mlflow_world["tracking_uri"]
    before = _published(repo)
    refused = _import(repo, uri, "--no-review")
    assert refused.code == 2 and "allow_unreviewed" in refused.err
    assert _published(repo) == before  # refused before anything was written

    r = _import(repo, uri)
    assert r.code == 1, r.err  # churn v2's missing artifact
    assert "mreg/import/mlflow" in r.out
    assert (
        "production"
        not in subprocess.run(["git", "tag", "-l", "mreg/*"], cwd=repo, capture_output=True, text=True).stdout
    )
    assert run_mreg("resolve", "fraud-detector@production", cwd=repo).code == 3
    # a reviewer merges the proposal on the host
    maint = clone(bare, tmp_path / "maint")
    git = maint.git
    git.fetch("origin", "mreg/aliases:mreg/aliases", "mreg/import/mlflow:review")
    proposal = git.show("review", "--", "models/fraud-detector.yaml")
    assert "production" in proposal and "version: 4" in proposal
    git.switch("mreg/aliases")
    git.merge("--no-ff", "-m", "Merge pull request #1 from mreg/import/mlflow", "review")
    git.push("origin", "mreg/aliases")
    applied = run_mreg("apply", cwd=repo)
    assert applied.code == 0, applied.err
    got = run_mreg("resolve", "fraud-detector@production", cwd=repo)
    assert (got.code, got.out.strip()) == (0, "fraud-detector@v4"), got.err
    assert "imported from MLflow" in run_mreg("log", "fraud-detector", "--alias", "production", cwd=repo).out
    # a re-run: nothing to propose, nothing to tag
    before = refs(repo)
    again = _import(repo, uri, "--json")
    assert again.code == 1
    assert json.loads(again.out)["review"] is None
    assert refs(repo) == before
    assert run_mreg("check", cwd=repo).code == 0


def test_a_killed_run_resumes(tmp_path: Path) -> None:
    """SIGKILL in the middle of an import; the next run imports the rest, and every version once."""
    where = tmp_path / "many"
    _world(where, "bench", "12", "1")
    uri = f"sqlite:///{where / 'mlflow.db'}"
    repo = make_registry(tmp_path / "repo")
    proc = subprocess.Popen(
        [*MREG, "import", "mlflow", "--tracking-uri", uri],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    deadline = time.monotonic() + 120
    versions: list[str] = []
    while time.monotonic() < deadline and proc.poll() is None:
        versions = _versions(repo)
        if len(versions) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _versions(repo)
    assert 2 <= len(killed_at) < 12, killed_at  # killed mid-run, after some versions
    r = run_mreg("import", "mlflow", "--tracking-uri", uri, "--json", cwd=repo, timeout=300)
    assert r.code == 0, r.err
    report = json.loads(r.out)["models"][0]
    assert report["versions_present"] == len(killed_at)
    assert report["versions_added"] == 12 - len(killed_at)
    assert _versions(repo) == [f"{n}.yaml" for n in sorted(range(1, 13), key=str)]
    assert run_mreg("check", cwd=repo).code == 0
    assert run_mreg("verify", cwd=repo).code == 0


def _published(repo: Path) -> dict[str, str]:
    """Branches and tags: what a write changes (not the clone's verification bookkeeping)."""
    return {**refs(repo, "refs/heads/"), **refs(repo, "refs/tags/")}


def _versions(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-tree", "--name-only", "mreg/registry:models/bench/versions"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(out.split())


def test_a_taken_number_is_listed_never_replaced(
    mlflow_world: dict[str, Any], tmp_path: Path, model_dir: Path
) -> None:
    from mreg import Registry

    repo = make_registry(tmp_path / "repo")
    mine = Registry.open(repo).register("fraud-detector", [model_dir], message="ours")
    r = _import(repo, mlflow_world["tracking_uri"], "--model", "Fraud Detector", "--no-review")
    assert r.code == 1
    assert "fraud-detector v1: this registry holds another fraud-detector@v1" in r.err
    v1 = json.loads(run_mreg("resolve", "fraud-detector@v1", "--json", cwd=repo).out)["manifest"]
    assert (v1["digest"], v1["message"]) == (mine.digest, "ours")
    for n in (2, 4, 5):
        assert run_mreg("resolve", f"fraud-detector@v{n}", cwd=repo).code == 0
    assert "churn" not in r.out  # --model limits the import to the models named


def test_bad_sources_are_one_line_and_change_nothing(mlflow_world: dict[str, Any], tmp_path: Path) -> None:
    repo = make_registry(tmp_path / "repo")
    before = _published(repo)
    unknown = _import(repo, mlflow_world["tracking_uri"], "--model", "nope")
    assert unknown.code == 3 and "Traceback" not in unknown.err, unknown.err
    assert len(unknown.err.strip().splitlines()) <= 2
    down = run_mreg(
        "import",
        "mlflow",
        "--tracking-uri",
        "http://user:s3cret@127.0.0.1:9/",
        cwd=repo,
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"},
        timeout=120,
    )
    assert down.code == 6, down.err
    assert "s3cret" not in down.err and "Traceback" not in down.err
    typo = tmp_path / "typo.db"
    for uri in ("bogus://x", f"sqlite:///{typo}"):
        bad = _import(repo, uri)
        assert bad.code == 2 and "Traceback" not in bad.err, bad.err
    assert not typo.exists()  # MLflow would have made an empty database of a typo
    assert _published(repo) == before


def test_an_alias_moved_in_mlflow_since_is_moved_on_the_next_run(
    mlflow_world: dict[str, Any], tmp_path: Path
) -> None:
    """MLflow keeps only current aliases: a re-run adds a move when the current value changed, and
    never replays over a move made in mreg since."""
    import shutil

    where = tmp_path / "mlflow"
    where.mkdir()
    shutil.copy(Path(mlflow_world["tracking_uri"].removeprefix("sqlite:///")), where / "mlflow.db")
    uri = f"sqlite:///{where / 'mlflow.db'}"
    repo = make_registry(tmp_path / "repo")
    assert _import(repo, uri, "--model", "Fraud Detector", "--no-review").code == 0
    _world(where, "set-alias", "Fraud Detector", "champion", "5")
    _world(where, "set-alias", "Fraud Detector", "challenger", "1")
    assert run_mreg("promote", "fraud-detector@v2", "--to", "challenger", cwd=repo).code == 0  # moved in mreg
    r = _import(repo, uri, "--model", "Fraud Detector", "--no-review")
    assert r.code == 1
    assert "fraud-detector@challenger: moved in this registry by other means" in r.err
    assert [t["version"] for t in _records(repo, "champion")] == [4, 5]
    assert run_mreg("resolve", "fraud-detector@challenger", cwd=repo).out.strip() == "fraud-detector@v2"
    before = _published(repo)
    assert _import(repo, uri, "--model", "Fraud Detector", "--no-review").code == 1
    assert _published(repo) == before


def _records(repo: Path, alias: str) -> list[dict[str, Any]]:
    names = subprocess.run(
        ["git", "tag", "-l", f"mreg/fraud-detector/{alias}/*"], cwd=repo, capture_output=True, text=True
    ).stdout.split()
    out = []
    for name in sorted(names, key=lambda n: int(n.rsplit("/", 1)[1])):
        body = subprocess.run(
            ["git", "cat-file", "-p", name], cwd=repo, capture_output=True, text=True
        ).stdout
        record = {}
        for line in body.split("\n\n", 1)[1].split("\n\n", 1)[1].splitlines():
            key, _, value = line.partition(": ")
            record[key] = json.loads(value)
        out.append(record)
    return out

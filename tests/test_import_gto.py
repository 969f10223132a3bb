"""`mreg import gto` (SPEC §14) against a GTO repository made with the real `gto` CLI: register,
assign (several moves per stage), unassign, deregister; versions in semver order, the full stage
history in order with the original taggers and times."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testing.gitutil import make_repo, refs, run_mreg, snapshot_store

pytestmark = pytest.mark.slow
GTO = str(Path(sys.executable).parent / "gto")
PEOPLE = {
    "alice": ("Alice", "alice@example.com"),
    "bob": ("Bob", "bob@example.com"),
    "carol": ("Carol", "carol@example.com"),
    "dave": ("Dave", "dave@example.com"),
}


def _gto(repo: Path, who: str, *args: str) -> None:
    name, email = PEOPLE[who]
    env = {**os.environ, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    proc = subprocess.run([GTO, *args], cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _commit(repo: Path, files: dict[str, bytes], message: str) -> None:
    for rel, data in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=repo, check=True)


@pytest.fixture
def gto_repo(tmp_path: Path) -> Path:
    """The registry's own repository holds GTO's tags (GTO's usual setup): `fraud` (a directory in
    git, three versions, prod and staging moved back and forth) and `churn` (DVC-tracked: its bytes
    are not in git, so its artifact is missing)."""
    repo = tmp_path / "repo"
    make_repo(repo)
    annotation = b"artifacts:\n  fraud:\n    path: models/fraud\n    type: model\n  churn:\n    path: churn.pkl\n    type: model\n"
    _commit(
        repo,
        {
            "dvc.yaml": annotation,
            "models/fraud/w.bin": b"one",
            "models/fraud/cfg.json": b"{}",
            "churn.pkl.dvc": b"outs: []\n",
        },
        "v1",
    )
    _gto(repo, "alice", "register", "fraud", "--version", "v1.0.0")
    _gto(repo, "alice", "register", "churn", "--version", "v0.1.0")
    _gto(repo, "alice", "assign", "churn", "--version", "v0.1.0", "--stage", "dev")
    _commit(repo, {"models/fraud/w.bin": b"three"}, "v1.1")
    _gto(repo, "bob", "register", "fraud", "--version", "v1.1.0")
    _commit(repo, {"models/fraud/w.bin": b"two (hotfix)"}, "hotfix")
    _gto(repo, "carol", "register", "fraud", "--version", "v1.0.1")
    _gto(repo, "alice", "assign", "fraud", "--version", "v1.0.0", "--stage", "prod")
    _gto(repo, "bob", "assign", "fraud", "--version", "v1.1.0", "--stage", "prod")
    _gto(repo, "alice", "assign", "fraud", "--version", "v1.0.0", "--stage", "prod", "--force")
    _gto(repo, "carol", "assign", "fraud", "--version", "v1.0.1", "--stage", "staging")
    _gto(repo, "carol", "assign", "fraud", "--version", "v1.1.0", "--stage", "staging")
    _gto(repo, "alice", "deprecate", "fraud", "v1.0.0", "prod")  # unassign: prod falls back to v1.1.0
    # GTO ignores GIT_COMMITTER_DATE and orders the events of one second by kind, not by when they
    # happened: the deregistration gets a second of its own
    time.sleep(1.1)
    _gto(repo, "dave", "deprecate", "fraud", "v1.1.0")  # deregister: leaves prod and staging
    from mreg import Registry

    Registry.open(repo).init()
    return repo


def _tags(repo: Path, model: str, alias: str) -> list[dict[str, object]]:
    out = subprocess.run(
        ["git", "for-each-ref", "--sort=refname", f"refs/tags/mreg/{model}/{alias}/", "--format=%(refname)"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    records = []
    for ref in sorted(out, key=lambda r: int(r.rsplit("/", 1)[1])):
        body = subprocess.run(["git", "cat-file", "-p", ref], cwd=repo, capture_output=True, text=True).stdout
        record = {}
        for line in body.split("\n\n", 2)[2].splitlines():
            key, _, value = line.partition(": ")
            record[key] = json.loads(value)
        records.append(record)
    return records


def _gto_tag_time(repo: Path, tag: str) -> str:
    out = subprocess.run(
        ["git", "for-each-ref", f"refs/tags/{tag}", "--format=%(taggerdate:iso-strict)"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out.replace("+00:00", "")


def test_versions_in_semver_order_and_the_full_stage_history(gto_repo: Path, tmp_path: Path) -> None:
    r = run_mreg("import", "gto", cwd=gto_repo, timeout=300)
    assert r.code == 1, r.err  # churn's bytes are DVC-tracked, not in git: listed, never skipped silently
    assert "not imported: churn v1 (GTO churn@v0.1.0): artifact missing" in r.err
    assert "churn@dev → v1" in r.err  # its stage waits for the version

    # numbered in semver order: v1.0.0 → 1, v1.0.1 (the hotfix, registered last) → 2, v1.1.0 → 3
    expected = {1: ("v1.0.0", b"one"), 2: ("v1.0.1", b"two (hotfix)"), 3: ("v1.1.0", b"three")}
    for number, (semver, weights) in expected.items():
        manifest = json.loads(run_mreg("resolve", f"fraud@v{number}", "--json", cwd=gto_repo).out)["manifest"]
        assert manifest["labels"]["gto.version"] == semver
        commit = manifest["labels"]["gto.commit"]
        assert manifest["source"]["commit"] == commit
        out = tmp_path / f"v{number}"
        assert run_mreg("pull", f"fraud@v{number}", "-o", str(out), cwd=gto_repo).code == 0
        assert (out / "w.bin").read_bytes() == weights
        for rel in ("w.bin", "cfg.json"):
            in_git = subprocess.run(
                ["git", "show", f"{commit}:models/fraud/{rel}"], cwd=gto_repo, capture_output=True, check=True
            ).stdout
            assert hashlib.sha256((out / rel).read_bytes()).digest() == hashlib.sha256(in_git).digest()
    v3 = json.loads(run_mreg("resolve", "fraud@v3", "--json", cwd=gto_repo).out)["manifest"]
    assert "gto.deregistered" in v3["labels"]
    assert v3["created_by"] == "Bob <bob@example.com>"

    # the full history of each stage, in order, with the original taggers and times
    prod = _tags(gto_repo, "fraud", "prod")
    assert [t["version"] for t in prod] == [1, 3, 1, 3, None]
    assert [t["by"] for t in prod] == [
        "Alice <alice@example.com>",
        "Bob <bob@example.com>",
        "Alice <alice@example.com>",
        "Alice <alice@example.com>",
        "Dave <dave@example.com>",
    ]
    gto_tags = ["fraud#prod#1", "fraud#prod#2", "fraud#prod#3", "fraud#prod!#6", "fraud@v1.1.0!"]
    assert [str(t["at"])[:19] for t in prod] == [_gto_tag_time(gto_repo, g) for g in gto_tags]
    assert all(t["reason"] == "imported from GTO" and t["imported_from"] == "GTO" for t in prod)
    # `mreg log` shows each move as it happened in GTO: who, when (the tag records the importer)
    log = json.loads(run_mreg("log", "fraud", "--alias", "prod", "--json", cwd=gto_repo).out)
    moves = [e for e in log if e["alias"] == "prod"]
    assert [(e["by"], e["at"]) for e in moves] == [
        (t["by"], _gto_tag_time(gto_repo, g) + "Z") for t, g in zip(prod, gto_tags, strict=True)
    ]
    assert {e["imported_from"] for e in moves} == {"GTO"}
    staging = _tags(gto_repo, "fraud", "staging")
    assert [t["version"] for t in staging] == [2, 3, 2]
    assert [t["by"] for t in staging][:2] == ["Carol <carol@example.com>"] * 2
    assert run_mreg("resolve", "fraud@staging", cwd=gto_repo).out.strip() == "fraud@v2"
    assert run_mreg("resolve", "fraud@prod", cwd=gto_repo).code == 3  # removed when v1.1.0 was deregistered
    assert run_mreg("check", cwd=gto_repo).code == 0


def test_a_second_run_changes_nothing(gto_repo: Path) -> None:
    assert run_mreg("import", "gto", cwd=gto_repo, timeout=300).code == 1
    before = {**refs(gto_repo, "refs/heads/"), **refs(gto_repo, "refs/tags/")}
    store = snapshot_store(gto_repo / ".git" / "mreg" / "objects")
    again = run_mreg("import", "gto", "--json", cwd=gto_repo, timeout=300)
    assert again.code == 1
    report = json.loads(again.out)
    assert report["uploaded_bytes"] == 0
    assert sum(r["versions_added"] + r["moves_added"] for r in report["models"]) == 0
    assert {**refs(gto_repo, "refs/heads/"), **refs(gto_repo, "refs/tags/")} == before
    assert snapshot_store(gto_repo / ".git" / "mreg" / "objects") == store


def test_dry_run_plans_the_history(gto_repo: Path) -> None:
    before = refs(gto_repo)
    r = run_mreg("import", "gto", "--dry-run", cwd=gto_repo, timeout=300)
    # what git shows missing (no annotated path, a file not in git) is listed already: exit 1
    assert r.code == 1 and "churn v1 (GTO churn@v0.1.0): artifact missing" in r.err, r.err
    assert "register fraud@v2 (from GTO fraud@v1.0.1)" in r.out
    assert r.out.count("tag fraud@prod = ") == 5
    assert refs(gto_repo) == before


def test_progress_on_a_terminal(gto_repo: Path) -> None:
    from testing.gitutil import run_mreg_on_a_terminal

    code, out, err = run_mreg_on_a_terminal(["import", "gto"], gto_repo)
    assert code == 1
    assert "[1/4] importing churn@v1" in err and "[4/4] importing fraud@v3" in err
    assert "importing" not in out and "VERSIONS ADDED" in out

"""Aliases as append-only tags: promote, rollback, demote, log, time travel, signing (SPEC §6)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from testing.clock import Clock
from testing.gitutil import make_registry, refs, run_mreg
from testing.templates import Templates


def _register(repo: Path, tmp_path: Path, name: str, content: bytes, *extra: str) -> str:
    f = tmp_path / "files" / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(content)
    r = run_mreg("register", "fraud", str(f), *extra, cwd=repo)
    assert r.code == 0, r.err
    return r.out.strip()


def _tag_message(repo: Path, tag: str) -> str:
    return subprocess.run(
        ["git", "cat-file", "tag", tag], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def _three_versions(root: Path, mp: pytest.MonkeyPatch) -> None:
    repo = make_registry(root / "repo")
    clock = Clock()
    for i in range(1, 4):
        clock.advance(3600)
        assert (
            _register(repo, root, "w.bin", f"weights {i}".encode(), "--metric", f"auc=0.{90 + i}")
            == f"fraud@v{i}"
        )


@pytest.fixture
def three_versions(templates: Templates, tmp_path: Path, clock: Clock) -> Path:
    """`repo` with fraud v1..v3 registered an hour apart on the pinned clock, which stands at v3's
    time (a copy of a template built once per session: testing.templates)."""
    templates.get("aliases-three-versions", _three_versions).copy_to(tmp_path)
    clock.advance(3 * 3600)
    return tmp_path / "repo"


def test_promote_creates_numbered_annotated_tag_with_yaml_record(three_versions: Path) -> None:
    repo = three_versions
    r = run_mreg("promote", "fraud@v2", "--to", "staging", "--reason", "better auc", cwd=repo)
    assert r.code == 0, r.err
    assert "fraud@staging -> v2" in r.out
    tags = refs(repo, "refs/tags/mreg/")
    assert list(tags) == ["refs/tags/mreg/fraud/staging/1"]
    body = _tag_message(repo, "mreg/fraud/staging/1")
    import yaml

    record = yaml.safe_load(body.split("\n\n", 2)[2])  # headers, subject, then the YAML record
    assert record["event"] == "promote" and record["version"] == 2 and record["reason"] == "better auc"
    assert record["digest"].startswith("sha256:") and record["previous"] is None
    # the tag points at a registry commit holding the manifest
    peeled = subprocess.run(
        ["git", "rev-parse", "mreg/fraud/staging/1^{commit}"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    assert (
        subprocess.run(
            ["git", "cat-file", "-e", f"{peeled}:models/fraud/versions/2.yaml"], cwd=repo
        ).returncode
        == 0
    )


def test_each_move_is_a_new_tag_and_no_tag_ever_moves(three_versions: Path) -> None:
    repo = three_versions
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=repo).code == 0
    first = refs(repo, "refs/tags/mreg/")
    assert run_mreg("promote", "fraud@v3", "--to", "staging", cwd=repo).code == 0
    second = refs(repo, "refs/tags/mreg/")
    assert {k: v for k, v in second.items() if k in first} == first
    assert len(second) == 2
    assert run_mreg("resolve", "fraud@staging", cwd=repo).out.strip() == "fraud@v3"


@pytest.mark.slow
def test_rollback_goes_to_previous_version(three_versions: Path) -> None:
    repo = three_versions
    for v in ("v1", "v2", "v3"):
        assert run_mreg("promote", f"fraud@{v}", "--to", "staging", cwd=repo).code == 0
    r = run_mreg("rollback", "fraud@staging", cwd=repo)
    assert r.code == 0, r.err
    assert run_mreg("resolve", "fraud@staging", cwd=repo).out.strip() == "fraud@v2"
    assert "rollback" in _tag_message(repo, "mreg/fraud/staging/4")


@pytest.mark.slow
def test_rollback_to_named_version_and_to_what_was_live_at_a_time(three_versions: Path, clock: Clock) -> None:
    repo = three_versions
    clock.advance(86400)
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=repo).code == 0
    live_v1 = clock.now
    clock.advance(86400)
    assert run_mreg("promote", "fraud@v3", "--to", "staging", cwd=repo).code == 0
    clock.advance(60)
    from datetime import datetime, timezone

    when = datetime.fromtimestamp(live_v1 + 3600, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = run_mreg("rollback", "fraud@staging", "--at", when, cwd=repo)
    assert r.code == 0, r.err
    assert run_mreg("resolve", "fraud@staging", cwd=repo).out.strip() == "fraud@v1"
    r = run_mreg("rollback", "fraud@staging", "--to", "v2", cwd=repo)
    assert r.code == 0, r.err
    assert run_mreg("resolve", "fraud@staging", cwd=repo).out.strip() == "fraud@v2"


def test_rollback_without_earlier_version_fails_with_exit_3_and_no_tag(three_versions: Path) -> None:
    repo = three_versions
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=repo).code == 0
    before = refs(repo)
    r = run_mreg("rollback", "fraud@staging", cwd=repo)
    assert r.code == 3
    assert "no earlier version" in r.err and "Traceback" not in r.err
    assert refs(repo) == before


def test_demote_removes_alias_and_resolve_says_so(three_versions: Path) -> None:
    repo = three_versions
    assert run_mreg("promote", "fraud@v2", "--to", "staging", cwd=repo).code == 0
    r = run_mreg("demote", "fraud@staging", cwd=repo)
    assert r.code == 0, r.err
    r = run_mreg("resolve", "fraud@staging", cwd=repo)
    assert r.code == 3 and "removed" in r.err
    assert run_mreg("demote", "fraud@staging", cwd=repo).code == 3  # nothing left to demote


@pytest.mark.slow
def test_time_travel_resolves_alias_as_it_stood_then(three_versions: Path, clock: Clock) -> None:
    repo = three_versions
    clock.advance(86400)
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=repo).code == 0
    t1 = clock.now
    clock.advance(86400)
    assert run_mreg("promote", "fraud@v3", "--to", "staging", cwd=repo).code == 0
    from datetime import datetime, timezone

    at = datetime.fromtimestamp(t1 + 10, timezone.utc).isoformat()
    assert run_mreg("resolve", "fraud@staging", "--at", at, cwd=repo).out.strip() == "fraud@v1"
    assert run_mreg("resolve", "fraud@staging", cwd=repo).out.strip() == "fraud@v3"
    early = datetime.fromtimestamp(t1 - 10, timezone.utc).isoformat()
    r = run_mreg("resolve", "fraud@staging", "--at", early, cwd=repo)
    assert r.code == 3 and "no alias 'staging'" in r.err


@pytest.mark.slow
def test_two_moves_in_the_same_second_stay_ordered_by_seq(three_versions: Path) -> None:
    repo = three_versions  # the clock is pinned: every tag below has the same timestamp
    for v in ("v1", "v2", "v3", "v1"):
        assert run_mreg("promote", f"fraud@{v}", "--to", "staging", cwd=repo).code == 0
    assert run_mreg("resolve", "fraud@staging", cwd=repo).out.strip() == "fraud@v1"
    assert run_mreg("rollback", "fraud@staging", cwd=repo).code == 0
    assert run_mreg("resolve", "fraud@staging", cwd=repo).out.strip() == "fraud@v3"


def test_protected_alias_without_remote_needs_no_review_flag(three_versions: Path) -> None:
    repo = three_versions
    before = refs(repo)
    r = run_mreg("promote", "fraud@v2", "--to", "production", cwd=repo)
    assert r.code == 2 and "--no-review" in r.err
    assert refs(repo) == before
    r = run_mreg("promote", "fraud@v2", "--to", "production", "--no-review", cwd=repo)
    assert r.code == 0, r.err
    assert "unreviewed" in _tag_message(repo, "mreg/fraud/production/1")
    r = run_mreg("promote", "fraud@v3", "--to", "production", "--no-review", "--reason", "hotfix", cwd=repo)
    assert r.code == 0, r.err  # a reason does not erase the fact that nobody reviewed it
    assert 'reason: "hotfix (unreviewed: --no-review)"' in _tag_message(repo, "mreg/fraud/production/2")


@pytest.mark.slow
def test_rollback_to_something_that_is_not_a_version_is_bad_input(three_versions: Path) -> None:
    repo = three_versions
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=repo).code == 0
    assert run_mreg("promote", "fraud@v2", "--to", "staging", cwd=repo).code == 0
    before = refs(repo)
    for bad in ("staging", "v0", "latest", "1.5"):
        r = run_mreg("rollback", "fraud@staging", "--to", bad, cwd=repo)
        assert r.code == 2, (bad, r.code, r.err)
        assert r.err.startswith(f"mreg: error: --to {bad!r}: not a version"), r.err
    assert refs(repo) == before


@pytest.mark.parametrize("alias", ["latest", "v3", "Prod", "-x", "a" * 40])
def test_promote_to_bad_alias_is_refused_with_exit_2(three_versions: Path, alias: str) -> None:
    before = refs(three_versions)
    r = run_mreg("promote", "fraud@v1", "--to", alias, cwd=three_versions)
    assert r.code == 2, r.err
    assert "alias" in r.err and len(r.err.strip().splitlines()) <= 2
    assert refs(three_versions) == before


def test_promote_unknown_version_is_exit_3(three_versions: Path) -> None:
    r = run_mreg("promote", "fraud@v9", "--to", "staging", cwd=three_versions)
    assert r.code == 3 and "v9" in r.err


@pytest.mark.slow
def test_log_merges_registrations_and_alias_events(three_versions: Path, clock: Clock) -> None:
    repo = three_versions
    clock.advance(60)
    assert run_mreg("promote", "fraud@v2", "--to", "staging", "--reason", "canary ok", cwd=repo).code == 0
    clock.advance(60)
    assert run_mreg("rollback", "fraud@staging", "--to", "v1", cwd=repo).code == 0
    r = run_mreg("log", "fraud", "--json", cwd=repo)
    assert r.code == 0, r.err
    entries = json.loads(r.out)
    assert [(e["event"], e["version"]) for e in entries] == [
        ("register", 1),
        ("register", 2),
        ("register", 3),
        ("promote", 2),
        ("rollback", 1),
    ]
    assert entries[3]["reason"] == "canary ok" and entries[3]["by"] == "Test User <test@example.com>"
    r = run_mreg("log", "fraud", "--alias", "staging", cwd=repo)
    assert r.code == 0 and "register" not in r.out and "canary ok" in r.out


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_signed_tag_verifies_and_log_says_so(three_versions: Path, tmp_path: Path) -> None:
    repo = three_versions
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"test@example.com {(tmp_path / 'key.pub').read_text()}")
    for k, v in (
        ("gpg.format", "ssh"),
        ("user.signingkey", str(key)),
        ("gpg.ssh.allowedSignersFile", str(signers)),
    ):
        subprocess.run(["git", "config", k, v], cwd=repo, check=True)
    r = run_mreg("promote", "fraud@v1", "--to", "staging", "--sign", cwd=repo)
    assert r.code == 0, r.err
    assert (
        subprocess.run(["git", "tag", "-v", "mreg/fraud/staging/1"], cwd=repo, capture_output=True).returncode
        == 0
    )
    entries = json.loads(run_mreg("log", "fraud", "--alias", "staging", "--json", cwd=repo).out)
    assert entries[0]["signature"] == "good"

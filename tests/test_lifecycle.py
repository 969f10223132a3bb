"""Archive and unarchive (issue 20): an append-only lifecycle record every command honours —
locally, with a remote, from two clones at once, and against a collaborator who forges records."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from testing.clock import Clock
from testing.fake_github import push_files, show
from testing.gitutil import clone, make_bare, refs, run_mreg


def _ok(*args: str, cwd: Path) -> str:
    r = run_mreg(*args, cwd=cwd)
    assert r.code == 0, r.err
    return r.out


def _register(repo: Path, tmp: Path, model: str, n: int) -> None:
    d = tmp / f"{model}-{n}"
    d.mkdir(exist_ok=True)
    (d / "w.bin").write_bytes(f"{model} weights {n}\n".encode() * 50)
    _ok("register", model, str(d), "--json", cwd=repo)


def _records(repo: Path, model: str, version: int) -> list[dict]:  # type: ignore[type-arg]
    out = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "mreg/registry", f"models/{model}/lifecycle/{version}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [yaml.safe_load(show(repo, f"mreg/registry:{p}")) for p in out]


def test_an_archived_version_is_refused_by_every_command(repo: Path, tmp_path: Path, clock: Clock) -> None:
    for n in (1, 2, 3):
        _register(repo, tmp_path, "fraud", n)
        clock.advance()
    _ok("promote", "fraud@v1", "--to", "staging", cwd=repo)
    clock.advance()

    # an alias points at it: refused, saying what to do; nothing written
    before = refs(repo)
    r = run_mreg("archive", "fraud@v1", "--reason", "trained on revoked data", cwd=repo)
    assert r.code == 2 and "staging points at" in r.err and "mreg rollback fraud@staging" in r.err, r.err
    assert refs(repo) == before
    r = run_mreg("archive", "fraud@v3", "--reason", "", cwd=repo)
    assert r.code == 2 and "--reason" in r.err

    _ok("promote", "fraud@v2", "--to", "staging", cwd=repo)
    clock.advance()
    got = json.loads(_ok("archive", "fraud@v1", "--reason", "trained on revoked data", "--json", cwd=repo))
    assert got["state"] == "archived" and got["events"][0]["event"] == "archive"
    assert got["events"][0]["author"].startswith("Test")  # the commit's git author
    (record,) = _records(repo, "fraud", 1)
    assert record["schema"] == "mreg/lifecycle/v1" and record["reason"] == "trained on revoked data"
    # the manifest never changed; the branch only gained the record
    assert (
        subprocess.run(
            ["git", "log", "-1", "--format=%s", "mreg/registry"], cwd=repo, capture_output=True, text=True
        ).stdout.strip()
        == "archive fraud v1"
    )
    # archiving again writes nothing more
    _ok("archive", "fraud@v1", "--reason", "again", cwd=repo)
    assert len(_records(repo, "fraud", 1)) == 1

    # list and log show it
    (row,) = json.loads(_ok("list", "--json", cwd=repo))
    assert row["archived"] == [1]
    assert "archived v1" in _ok("list", cwd=repo)
    log = json.loads(_ok("log", "fraud", "--json", cwd=repo))
    (entry,) = [e for e in log if e["event"] == "archive"]
    assert entry["version"] == 1 and entry["reason"] == "trained on revoked data" and entry["commit"]
    assert "archive v1" in _ok("log", "fraud", cwd=repo)
    shown = _ok("show", "fraud@v1", cwd=repo)
    assert "ARCHIVED" in shown and "trained on revoked data" in shown

    # promote: exit 1 naming the record
    r = run_mreg("promote", "fraud@v1", "--to", "candidate", cwd=repo)
    assert r.code == 1 and "fraud@v1 is archived" in r.err and "models/fraud/lifecycle/1/1.yaml" in r.err, (
        r.err
    )
    assert "mreg unarchive" in r.err
    # a protected alias too, before any review or pin
    r = run_mreg("promote", "fraud@v1", "--to", "production", "--no-review", cwd=repo)
    assert r.code == 1 and "archived" in r.err
    # rollback: v1 is skipped (nothing before it), --to v1 refused
    r = run_mreg("rollback", "fraud@staging", cwd=repo)
    assert r.code == 3 and "skipped, archived or purged: v1" in r.err, r.err
    r = run_mreg("rollback", "fraud@staging", "--to", "v1", cwd=repo)
    assert r.code == 1 and "archived" in r.err
    assert _ok("resolve", "fraud@staging", cwd=repo).strip() == "fraud@v2"
    # gate: fails, citing the record
    r = run_mreg("gate", "fraud@v1", "--to", "staging", "--json", cwd=repo)
    assert r.code == 1, r.err
    verdict = json.loads(r.out)["reports"][0]["verdicts"][0]
    assert (
        verdict["rule"] == "lifecycle" and not verdict["ok"] and "lifecycle/1/1.yaml" in verdict["sources"][0]
    )
    assert run_mreg("gate", "fraud@v3", "--to", "staging", cwd=repo).code == 0
    # check accepts the record
    assert run_mreg("check", cwd=repo).code == 0

    # unarchive: a second record; promote works again
    r = run_mreg("unarchive", "fraud@v3", "--reason", "x", cwd=repo)
    assert r.code == 2 and "not archived" in r.err
    _ok("unarchive", "fraud@v1", "--reason", "the data was cleared by legal", cwd=repo)
    assert [rec["event"] for rec in _records(repo, "fraud", 1)] == ["archive", "unarchive"]
    assert "archived" not in json.loads(_ok("list", "--json", cwd=repo))[0]
    _ok("promote", "fraud@v1", "--to", "candidate", cwd=repo)


def test_rollback_skips_an_archived_version(repo: Path, tmp_path: Path, clock: Clock) -> None:
    for n in (1, 2, 3):
        _register(repo, tmp_path, "fraud", n)
        clock.advance()
        _ok("promote", f"fraud@v{n}", "--to", "staging", cwd=repo)
        clock.advance()
    _ok("archive", "fraud@v2", "--reason", "biased", cwd=repo)
    got = json.loads(_ok("rollback", "fraud@staging", "--json", cwd=repo))
    assert got["version"] == 1  # v3 -> v1: v2 passed over


def test_apply_refuses_an_archived_pin(repo: Path, tmp_path: Path, clock: Clock) -> None:
    """A pin approved before the version was archived: apply creates no tag, exit 1 naming the record."""
    for n in (1, 2):
        _register(repo, tmp_path, "fraud", n)
        clock.advance()
    _ok("archive", "fraud@v2", "--reason", "found biased after approval", cwd=repo)
    digest = json.loads(_ok("resolve", "fraud@v2", "--json", cwd=repo))["manifest"]["digest"]
    push_files(
        repo,
        "mreg/aliases",
        {
            "models/fraud.yaml": yaml.safe_dump(
                {"schema": "mreg/model/v1", "aliases": {"production": {"version": 2, "digest": digest}}}
            )
        },
        "approve v2 for production",
    )
    before = refs(repo, "refs/tags/")
    r = run_mreg("apply", cwd=repo)
    assert r.code == 1 and "fraud@v2 is archived" in r.err and "applying fraud@production" in r.err, r.err
    assert refs(repo, "refs/tags/") == before


def test_notify_carries_lifecycle_events(repo: Path, tmp_path: Path, clock: Clock) -> None:
    _register(repo, tmp_path, "fraud", 1)
    clock.advance()
    _register(repo, tmp_path, "fraud", 2)
    clock.advance()
    push_files(
        repo,
        "mreg/aliases",
        {
            "mreg.yaml": show(repo, "mreg/aliases:mreg.yaml")
            + "notify:\n  outlets:\n    - {name: hook, type: webhook, url_env: HOOK_URL, secret_env: HOOK_SECRET}\n"
        },
        "notify",
    )
    clock.advance()
    _ok("archive", "fraud@v1", "--reason", "revoked data", cwd=repo)
    r = run_mreg("notify", "--dry-run", "--json", cwd=repo)
    assert r.code == 0, r.err
    text = r.out
    assert "version.lifecycle" in text and "revoked data" in text, text


# -- with a remote: two clones, and an attacker ----------------------------------------------------------
@pytest.mark.slow
def test_concurrent_archive_from_two_clones_lands_once(repo: Path, tmp_path: Path) -> None:
    for n in (1, 2):
        _register(repo, tmp_path, "fraud", n)
    bare = tmp_path / "remote.git"
    make_bare(bare)
    for args in (
        ["remote", "add", "origin", str(bare)],
        ["push", "-q", "origin", "main", "mreg/registry", "mreg/aliases"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    a, b = tmp_path / "a", tmp_path / "b"
    clone(bare, a)
    clone(bare, b)
    results: dict[str, int] = {}

    def run(where: Path, version: str) -> None:
        results[f"{where.name}{version}"] = run_mreg(
            "archive", f"fraud@{version}", "--reason", where.name, cwd=where
        ).code

    threads = [threading.Thread(target=run, args=(w, v)) for w in (a, b) for v in ("v1", "v2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {0}, results
    for clone_dir in (a, b, repo):
        listed = json.loads(_ok("list", "--json", cwd=clone_dir))
        assert listed[0]["archived"] == [1, 2]
    subprocess.run(["git", "fetch", "-q", "origin"], cwd=repo, check=True)
    for v in (1, 2):  # one record each: the second writer saw the first and wrote nothing
        out = subprocess.run(
            ["git", "ls-tree", "-r", "--name-only", "origin/mreg/registry", f"models/fraud/lifecycle/{v}"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert len(out) == 1, out
    assert run_mreg("check", cwd=a).code == 0


# -- what a collaborator with push rights who is not a reviewer gets (SPEC §1) ---------------------------
def _forged(world: object, version: int, event: str, n: int = 1, **extra: object) -> bytes:
    w = world  # a testing.world.World
    m = w.mallory.manifest("fraud", version)  # type: ignore[attr-defined]
    rec = {
        "schema": "mreg/lifecycle/v1",
        "model": "fraud",
        "version": version,
        "version_digest": m["digest"],
        "event": event,
        "reason": "retention",
        "created_at": "2026-12-01T00:00:00Z",
        "created_by": "Maintainers <maintainers@example.com>",
        **extra,
    }
    return yaml.safe_dump(rec, sort_keys=False).encode()


@pytest.mark.github
@pytest.mark.slow
def test_a_forged_unarchive_does_not_reach_production(world: object) -> None:
    """Archive is not governed (anyone who may register may add either record), so Mallory can lift
    an archive; the log names her commit, and production still moves only through a reviewed pin."""
    from testing.world import World

    assert isinstance(world, World)
    r = world.mreg("archive", "fraud@v2", "--reason", "biased on a fairness slice")
    assert r.code == 0, r.err
    world.mallory.push_registry(
        world.mallory.commit_registry(
            {"models/fraud/lifecycle/2/2.yaml": _forged(world, 2, "unarchive")}, "x"
        )
    )
    log = json.loads(world.mreg("log", "fraud", "--json").out)
    (lifted,) = [e for e in log if e["event"] == "unarchive"]
    assert lifted["by"].startswith("Mallory")  # the commit's author, not the record's claim
    # she forges the production tag for v2: no reviewed pin backs it, readers refuse it
    world.mallory.fetch()
    target = world.mallory.git(
        "log", "--format=%H", "-1", "origin/mreg/registry", "--", "models/fraud/versions/2.yaml"
    )
    world.mallory.tag(
        "mreg/fraud/production/2",
        target,
        "promote fraud production to v2\n\nevent: promote\nmodel: fraud\nalias: production\nversion: 2\n",
    )
    r = world.mreg("resolve", "fraud@production")
    assert "fraud@v2" not in r.out and (r.code == 5 or r.out.strip() == "fraud@v1"), (r.code, r.out, r.err)
    # and a rewrite that deletes the maintainers' archive record is refused on fetch
    world.mallory.fetch()
    base = world.mallory.git("rev-parse", "origin/mreg/registry")
    bad = world.mallory.commit_registry({"models/fraud/lifecycle/2/1.yaml": None}, "tidy", base=base)
    world.mallory.push_registry(bad)
    r = world.mreg("list")
    assert r.code == 5 and "lifecycle/2/1.yaml" in r.err and "Mallory" in r.err, r.err


@pytest.mark.github
@pytest.mark.slow
def test_a_forged_purge_record_hides_no_bytes(world: object) -> None:
    """A `purged` record for the production version: the maintainer's pull still gets the reviewed
    bytes (the record is named and ignored: no retention policy could have purged it), and gc
    --retention never treats a record as licence to delete."""
    from testing.world import World

    assert isinstance(world, World)
    world.mallory.push_registry(
        world.mallory.commit_registry(
            {"models/fraud/lifecycle/1/1.yaml": _forged(world, 1, "purged", objects=[], bytes_freed=0)}, "x"
        )
    )
    out = world.tmp / "deploy"
    r = world.mreg("pull", "fraud@production", "-o", str(out))
    assert r.code == 0, r.err
    assert "record ignored" in r.err and (out / "weights.bin").read_bytes() == world.weights(1)
    # with a policy that keeps only the newest version, production's bytes are still kept
    push_files(
        world.team.bare,
        "mreg/aliases",
        {"mreg.yaml": show(world.team.bare, "mreg/aliases:mreg.yaml") + "retention: {keep_last: 1}\n"},
        "retention",
    )
    r = world.mreg("gc", "--retention", "--json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got["purged"] == [] and "production points at it" in got["kept"]["fraud"]["1"], got
    r = world.mreg("pull", "fraud@production", "-o", str(out))
    assert r.code == 0 and "record ignored" in r.err, r.err


def test_bad_reasons_and_names_are_one_line_and_change_nothing(
    repo: Path, tmp_path: Path, clock: Clock
) -> None:
    _register(repo, tmp_path, "fraud", 1)
    before = refs(repo)
    for args, code, said in [
        (["archive", "fraud@v1", "--reason", "ok\x1b[31m red"], 2, "--reason: a control character"),
        (["archive", "fraud@v1", "--reason", "x" * 2001], 2, "--reason: 2,001 characters; up to 2,000"),
        (["du", "fraud@v1"], 2, "invalid model name 'fraud@v1'"),
        (["du", "nosuch"], 3, "no model named 'nosuch'"),
    ]:
        r = run_mreg(*args, cwd=repo)
        assert r.code == code and said in r.err and "Traceback" not in r.err and r.out == "", (args, r)
    assert refs(repo) == before

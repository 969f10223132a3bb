"""Retention (issue 20): `mreg gc --retention` purges the bytes of exactly the versions outside
`mreg.yaml: retention`, records every purge, and a dry run says exactly what the real run does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mreg import Registry
from mreg.store import open_store
from testing.clock import Clock
from testing.fake_github import push_files, show
from testing.gitutil import run_mreg

DAY = 86400


def _retention(repo: Path, text: str) -> None:
    """As if a reviewed change to mreg.yaml had merged (the repo has no remote: its own branch)."""
    push_files(repo, "mreg/aliases", {"mreg.yaml": show(repo, "mreg/aliases:mreg.yaml") + text}, "retention")


def _build(repo: Path, tmp: Path, clock: Clock, count: int) -> Registry:
    """`count` versions, one a day, each with weights of its own and a config shared by all; staging
    moved to every tenth, production to v100 on day 100 and to v150 on day 195, canary set to v30 on
    day 30 and removed on day 60."""
    (tmp / "config.json").write_text('{"layers": 3}\n')
    for i in range(1, count + 1):
        clock.advance(DAY)
        reg = Registry.open(repo)  # a registry reads git's clock when it opens
        d = tmp / "m"
        d.mkdir(exist_ok=True)
        (d / "weights.bin").write_bytes(f"weights {i}\n".encode() * 40)
        (d / "config.json").write_text('{"layers": 3}\n')
        assert reg.register("fraud", [d]).version == i
        if i % 10 == 0:
            reg.promote(f"fraud@v{i}", "staging")
        if i == 100:
            reg.promote("fraud@v100", "production", no_review=True)
        if i == 195:
            reg.promote("fraud@v150", "production", no_review=True)
        if i == 30:
            reg.promote("fraud@v30", "canary")
        if i == 60:
            reg.demote("fraud@canary")
    return Registry.open(repo)


@pytest.mark.slow
def test_retention_on_200_versions_keeps_exactly_what_the_policy_says(
    repo: Path, tmp_path: Path, clock: Clock
) -> None:
    reg = _build(repo, tmp_path, clock, 200)
    clock.advance(3600)
    for n in (185, 195):
        assert run_mreg("archive", f"fraud@v{n}", "--reason", "revoked data", cwd=repo).code == 0
    r = run_mreg("gc", "--retention", cwd=repo)
    assert r.code == 2 and "no retention policy" in r.err  # nothing configured: nothing purged
    _retention(repo, "retention: {keep_last: 15, keep_days: 10, keep_aliased: false}\n")

    # what the policy says, worked out by hand (now = day 200 + 1 h; the cutoff is day 190 + 1 h)
    # archived versions count like any other (an archive is unreviewed: it never licenses a purge)
    newest_15 = list(range(200, 185, -1))
    within_10_days = list(range(191, 201))
    aliased = [200, 190]  # staging now, and staging until day 200 (after the cutoff); v180 left on day 190
    aliased += [150, 100]  # production now (also pinned), and production until day 195
    expected = set(newest_15) | set(within_10_days) | set(aliased)
    store = open_store(None, default_dir=repo / ".git" / "mreg" / "objects")
    before = {o.digest for o in store.list_objects()}

    dry = json.loads(run_mreg("gc", "--retention", "--dry-run", "--json", cwd=repo).out)
    assert {int(n) for n in dry["kept"]["fraud"]} == expected
    assert {int(s.split("@v")[1]) for s in dry["purged"]} == set(range(1, 201)) - expected
    reasons = {why for whys in dry["kept"]["fraud"].values() for why in whys}
    assert not {"staging pointed at it", "production pointed at it"} & reasons  # keep_aliased: false
    assert dry["kept"]["fraud"]["100"] == ["production pointed at it within 10 days"]
    assert {o.digest for o in store.list_objects()} == before  # a dry run deletes nothing
    du = json.loads(run_mreg("du", "fraud", "--json", cwd=repo).out)
    assert du["reclaimable_bytes"] == dry["freed_bytes"] > 0

    real = json.loads(run_mreg("gc", "--retention", "--json", cwd=repo).out)
    assert {k: real[k] for k in ("purged", "kept", "objects", "freed_bytes")} == {
        k: dry[k] for k in ("purged", "kept", "objects", "freed_bytes")
    }
    after = {o.digest for o in store.list_objects()}
    assert before - after == {o["digest"] for o in dry["objects"]}
    needed = set()
    for n in expected:  # every kept version's bytes are all there
        m = reg.resolve(f"fraud@v{n}").manifest
        needed |= {a["digest"] for a in m["artifacts"]} | {m["environment"]["packages"]}
    assert needed <= after
    config = reg.resolve("fraud@v1").manifest["artifacts"]
    shared = next(a["digest"] for a in config if a["path"] == "config.json")
    assert shared in after  # shared with kept versions: never deleted
    # every purged version has its records; show and pull say so, exit 3
    r = run_mreg("pull", "fraud@v5", "-o", str(tmp_path / "out"), cwd=repo)
    assert r.code == 3 and "bytes purged on" in r.err and "by retention" in r.err, r.err
    assert not (tmp_path / "out").exists()
    r = run_mreg("show", "fraud@v185", cwd=repo)
    assert r.code == 3 and "bytes purged on" in r.err
    assert run_mreg("show", "fraud@v195", cwd=repo).code == 0  # archived, but within keep_days
    assert run_mreg("pull", "fraud@v150", "-o", str(tmp_path / "ok"), cwd=repo).code == 0
    lifecycle = reg.lifecycle("fraud")
    assert {n for n, st in lifecycle.items() if st.state == "purged"} == set(range(1, 201)) - expected
    assert lifecycle[185].archived and lifecycle[185].purge == "purged"
    assert lifecycle[195].archived and lifecycle[195].purge is None
    # a purged version is never promoted again; the run is idempotent; check passes
    r = run_mreg("promote", "fraud@v7", "--to", "staging", cwd=repo)
    assert r.code == 1 and "bytes purged" in r.err
    again = json.loads(run_mreg("gc", "--retention", "--json", cwd=repo).out)
    assert again["purged"] == [] and again["objects"] == []
    assert run_mreg("check", cwd=repo).code == 0
    r = run_mreg("verify", cwd=repo)  # purged bytes are recorded, not missing
    assert r.code == 0 and "purged by retention (recorded)" in r.out, r.err
    listed = json.loads(run_mreg("list", "--json", cwd=repo).out)[0]
    assert len(listed["purged"]) == 200 - len(expected) and listed["archived"] == [185, 195]


def test_retention_keeps_aliased_versions_forever_by_default(
    repo: Path, tmp_path: Path, clock: Clock
) -> None:
    _build(repo, tmp_path, clock, 12)
    clock.advance(DAY)
    r = run_mreg("du", cwd=repo)
    assert r.code == 0 and "no retention policy" in r.out, r.err
    _retention(repo, "retention: {keep_last: 2}\n")
    du = json.loads(run_mreg("du", "--json", cwd=repo).out)
    rows = {v["version"]: v for v in du["versions"]}
    assert rows[1]["stored"] > rows[2]["stored"] > 0  # v1 holds the shared config and the lock once
    assert {n for n, v in rows.items() if v["would_purge"]} == set(range(1, 10)) - {10}
    assert "gc --retention would free" in run_mreg("du", "fraud", cwd=repo).out
    got = json.loads(run_mreg("gc", "--retention", "--json", cwd=repo).out)
    assert sorted(int(n) for n in got["kept"]["fraud"]) == [10, 11, 12]  # staging v10, the newest two
    assert len(got["purged"]) == 9 and got["freed_bytes"] == du["reclaimable_bytes"]
    after = json.loads(run_mreg("du", "--json", cwd=repo).out)
    assert after["reclaimable_bytes"] == 0
    assert {v["version"]: v["state"] for v in after["versions"]}[2] == "purged"
    assert after["models"]["fraud"]["stored"] < du["models"]["fraud"]["stored"]


# -- a crash mid-purge, batched deletes on S3 ------------------------------------------------------------
def _many(repo: Path, tmp: Path, clock: Clock, versions: int, files: int) -> None:
    for i in range(1, versions + 1):
        clock.advance(DAY)
        d = tmp / f"m{i}"
        d.mkdir()
        for k in range(files):
            (d / f"f{k:04d}.bin").write_bytes(f"version {i} file {k}\n".encode())
        (d / "shared.txt").write_text("the same in every version\n")
        Registry.open(repo).register("fraud", [d])


def _objects(reg: Registry, n: int) -> set[str]:
    m = reg.resolve(f"fraud@v{n}").manifest
    return {a["digest"] for a in m["artifacts"]} | {m["environment"]["packages"]}


def _check_no_half_purge(repo: Path, kept: set[int], versions: int) -> dict[str, int]:
    """Every version missing any object has a purge record; every kept version has all its objects."""
    reg = Registry.open(repo, offline=True)
    present = {o.digest for o in reg.store.list_objects()}
    states = reg.lifecycle("fraud")
    seen = {"missing-with-record": 0, "purging-only": 0}
    for n in range(1, versions + 1):
        missing = _objects(reg, n) - present
        if n in kept:
            assert not missing, f"kept v{n} lost {len(missing)} object(s)"
            assert states[n].purge is None
        elif missing:
            assert states[n].purge in ("purging", "purged"), f"v{n} lost bytes without a purge record"
            seen["missing-with-record"] += 1
        if states[n].purge == "purging":
            seen["purging-only"] += 1
    return seen


@pytest.mark.slow
def test_a_crash_mid_purge_leaves_no_version_half_purged_without_a_record(
    repo: Path, tmp_path: Path, clock: Clock
) -> None:
    import contextlib
    import os
    import random
    import shutil
    import signal
    import subprocess
    import time

    from testing.gitutil import MREG

    versions = 12
    _many(repo, tmp_path, clock, versions, files=300)
    _retention(repo, "retention: {keep_last: 2}\n")
    template = tmp_path / "template"
    shutil.copytree(repo, template, symlinks=True)
    kept = {versions - 1, versions}
    rng = random.Random(int(os.environ.get("MREG_CRASH_SEED", "20261205")))
    ref = Path(".git/refs/heads/mreg/registry")
    trials = ["at-purging-commit"] * 3 + ["random"] * 4  # three chances to land between the records
    landed = 0
    for i, how in enumerate(trials):
        work = tmp_path / f"trial{i}"
        shutil.copytree(template, work, symlinks=True)
        start = (work / ref).read_text()
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [*MREG, "gc", "--retention"],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        if how == "random":
            time.sleep(rng.uniform(0.2, 3.0))
        else:  # the moment the `purging` records are committed, the deletes begin: kill there
            while proc.poll() is None and (work / ref).read_text() == start and time.monotonic() - t0 < 60:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        seen = _check_no_half_purge(work, kept, versions)
        landed += seen["purging-only"] > 0
        r = run_mreg("gc", "--retention", "--json", cwd=work)  # a rerun completes it
        assert r.code == 0, r.err
        _check_no_half_purge(work, kept, versions)
        states = Registry.open(work, offline=True).lifecycle("fraud")
        assert {n for n, st in states.items() if st.purge == "purged"} == set(range(1, versions + 1)) - kept
        assert run_mreg("check", cwd=work).code == 0
    assert landed >= 1  # at least one kill caught a purge between its two records


@pytest.mark.s3
@pytest.mark.slow
def test_purges_on_s3_are_batched_deletes(s3: object, repo: Path, tmp_path: Path, clock: Clock) -> None:
    """2,400 objects purged: three DeleteObjects requests (1,000 keys each at most), no single DELETE."""
    from testing.s3 import Bucket

    assert isinstance(s3, Bucket)
    r = run_mreg("init", "--store", s3.url, cwd=repo)
    assert r.code == 0, r.err
    _many(repo, tmp_path, clock, 3, files=1200)
    _retention(repo, "retention: {keep_last: 1}\n")
    s3.recorder.clear()
    dry = json.loads(run_mreg("gc", "--retention", "--dry-run", "--json", cwd=repo).out)
    assert len(dry["objects"]) == 2 * 1200 + 0  # v1 and v2's own files (the lock and shared.txt are kept)
    assert not [q for q in s3.requests() if q.method in ("DELETE", "POST")]
    s3.recorder.clear()
    real = json.loads(run_mreg("gc", "--retention", "--json", cwd=repo).out)
    assert real["objects"] == dry["objects"]
    reqs = s3.requests()
    batches = [q for q in reqs if q.method == "POST" and "delete" in q.query]
    assert len(batches) == 3 and not [q for q in reqs if q.method == "DELETE"]
    keys = set(s3.object_keys())
    gone = {o["digest"] for o in real["objects"]}
    assert not any(k.rsplit("/", 2)[-2] + k.rsplit("/", 1)[-1] in {d[7:] for d in gone} for k in keys)
    lists = [q for q in reqs if q.method == "GET" and "list-type" in q.query]
    print(f"\ngc --retention on S3: {len(reqs)} requests ({len(batches)} DeleteObjects, {len(lists)} LIST)")


def test_a_registration_before_a_batch_is_protected_and_one_during_it_is_named(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tip is read again before each batch of deletes: a version registered after the plan keeps
    the objects it names; one registered while a batch is deleted (the remaining window) is named."""
    import mreg.ops.retention as retention
    from mreg.store.local import LocalStore

    dirs, weights = [], []
    for i in (1, 2, 3):
        d = tmp_path / f"m{i}"
        d.mkdir()
        (d / "weights.bin").write_bytes(f"weights {i}\n".encode() * 100)
        dirs.append(d)
        v = Registry.open(repo).register("fraud", [d])
        assert v.version == i
        weights.append(v.manifest["artifacts"][0]["digest"])
    _retention(repo, "retention: {keep_last: 1}\n")
    monkeypatch.setattr(retention, "BATCH", 1)  # one object a batch: v1's and v2's weights apart
    original = LocalStore.delete_many
    calls: list[list[str]] = []

    def racing(self: LocalStore, digests: list[str]) -> None:
        calls.append(list(digests))
        if len(calls) == 1:
            now, later = (0, 1) if weights[0] in digests else (1, 0)
            reg = Registry.open(repo)
            assert reg.register("fraud", [dirs[now]]).version == 4  # during this batch: its bytes go
            assert reg.register("fraud", [dirs[later]]).version == 5  # before the next: protected
        original(self, digests)

    monkeypatch.setattr(LocalStore, "delete_many", racing)
    warnings: list[str] = []
    Registry.open(repo, on_warning=warnings.append).gc_retention()
    monkeypatch.setattr(LocalStore, "delete_many", original)
    assert len(calls) == 1, calls  # the second batch's object is v5's now: nothing left to delete
    assert any("fraud@v4 was registered while gc --retention deleted" in w for w in warnings), warnings
    assert not any("fraud@v5" in w for w in warnings), warnings
    r = run_mreg("pull", "fraud@v5", "-o", str(tmp_path / "out"), cwd=repo)
    assert r.code == 0, r.err

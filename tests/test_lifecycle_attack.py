"""Review of issue 20 (lifecycle and retention) as a collaborator with push rights who is not a
reviewer (SPEC §1, §3a): Mallory pushes lifecycle records with plain git; an honest maintainer then
runs the ordinary commands. Each xfail(strict=True) is a real problem, its reason the finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from testing.fake_github import push_files, show

pytestmark = [pytest.mark.github, pytest.mark.slow]

POLICY = "retention: {keep_last: 5, keep_days: 90}\n"  # v1 (production) and v2 (registered today): both kept


def _record(
    world: object, version: int, event: str, *, at: str = "2026-12-01T00:00:00Z", **extra: object
) -> bytes:
    m = world.mallory.manifest("fraud", version)  # type: ignore[attr-defined]
    rec = {
        "schema": "mreg/lifecycle/v1",
        "model": "fraud",
        "version": version,
        "version_digest": m["digest"],
        "event": event,
        "reason": extra.pop("reason", "retention"),
        "created_at": at,
        "created_by": "Maintainers <maintainers@example.com>",
        **extra,
    }
    return yaml.safe_dump(rec, sort_keys=False).encode()


def _mallory_adds(world: object, files: dict[str, bytes]) -> None:
    w = world
    w.mallory.push_registry(w.mallory.commit_registry(dict(files), "tidy"))  # type: ignore[attr-defined]


def _reviewed_policy(world: object, text: str = POLICY) -> None:
    """As if a reviewed change to mreg.yaml had merged on the governed branch."""
    bare = world.team.bare  # type: ignore[attr-defined]
    push_files(bare, "mreg/aliases", {"mreg.yaml": show(bare, "mreg/aliases:mreg.yaml") + text}, "retention")


def _gc(world: object, *extra: str) -> dict:  # type: ignore[type-arg]
    r = world.mreg("gc", "--retention", "--json", *extra)  # type: ignore[attr-defined]
    assert r.code == 0, r.err
    return json.loads(r.out)


def _kept_before_attack(world: object) -> None:
    """Control: with the reviewed policy alone, v2 keeps its bytes."""
    _reviewed_policy(world)
    dry = _gc(world, "--dry-run")
    assert dry["purged"] == [] and "2" in dry["kept"]["fraud"], dry


def test_forged_purging_record_does_not_get_kept_bytes_deleted(world: object) -> None:
    _kept_before_attack(world)
    _mallory_adds(world, {"models/fraud/lifecycle/2/1.yaml": _record(world, 2, "purging", objects=[])})
    got = _gc(world)
    assert "fraud@v2" not in got["purged"] and got["objects"] == [], got
    out = world.tmp / "v2"  # type: ignore[attr-defined]
    r = world.mreg("pull", "fraud@v2", "-o", str(out))  # type: ignore[attr-defined]
    assert r.code == 0 and (out / "weights.bin").read_bytes() == world.weights(2), r.err  # type: ignore[attr-defined]


def test_forged_future_dated_purge_record_does_not_hide_present_bytes(world: object) -> None:
    _reviewed_policy(world)
    _mallory_adds(
        world,
        {
            "models/fraud/lifecycle/2/1.yaml": _record(
                world, 2, "purged", at="2099-01-01T00:00:00Z", objects=[], bytes_freed=0
            )
        },
    )
    out = world.tmp / "v2"  # type: ignore[attr-defined]
    r = world.mreg("pull", "fraud@v2", "-o", str(out))  # type: ignore[attr-defined]
    assert r.code == 0, r.err
    assert (out / "weights.bin").read_bytes() == world.weights(2)  # type: ignore[attr-defined]


def test_an_unreviewed_archive_does_not_license_deleting_recent_bytes(world: object) -> None:
    _kept_before_attack(world)
    # what `mreg archive fraud@v2` from her own clone writes, here by plain git
    _mallory_adds(world, {"models/fraud/lifecycle/2/1.yaml": _record(world, 2, "archive")})
    got = _gc(world)
    assert "fraud@v2" not in got["purged"], got
    out = world.tmp / "v2"  # type: ignore[attr-defined]
    assert world.mreg("pull", "fraud@v2", "-o", str(out)).code == 0  # type: ignore[attr-defined]


def test_an_archive_of_the_production_version_by_plain_git_is_not_honoured(world: object) -> None:
    _mallory_adds(world, {"models/fraud/lifecycle/1/1.yaml": _record(world, 1, "archive")})
    listed = json.loads(world.mreg("list", "--json").out)[0]  # type: ignore[attr-defined]
    check = world.mreg("check")  # type: ignore[attr-defined]
    # readers ignore it ("archived" is left out of --json when empty), and check names it
    assert 1 not in listed.get("archived", []) and check.code != 0, (listed, check.out)
    assert "archive of fraud@v1 ignored" in check.out + check.err, (check.out, check.err)


def test_a_forged_purge_record_does_not_block_promoting_a_version_with_its_bytes(world: object) -> None:
    _mallory_adds(
        world, {"models/fraud/lifecycle/2/1.yaml": _record(world, 2, "purged", objects=[], bytes_freed=0)}
    )
    r = world.mreg("promote", "fraud@v2", "--to", "staging")  # type: ignore[attr-defined]
    assert r.code == 0, r.err


def test_log_does_not_attribute_a_forged_unarchive_to_a_maintainer(world: object) -> None:
    r = world.mreg("archive", "fraud@v2", "--reason", "biased on a fairness slice")  # type: ignore[attr-defined]
    assert r.code == 0, r.err
    mallory = world.mallory  # type: ignore[attr-defined]
    mallory.git("config", "user.name", "Test User")
    mallory.git("config", "user.email", "test@example.com")
    _mallory_adds(world, {"models/fraud/lifecycle/2/2.yaml": _record(world, 2, "unarchive")})
    log = json.loads(world.mreg("log", "fraud", "--json").out)  # type: ignore[attr-defined]
    (lifted,) = [e for e in log if e["event"] == "unarchive"]
    archived = next(e for e in log if e["event"] == "archive")
    assert lifted["by"] != archived["by"], (lifted["by"], "shown exactly like the maintainer's own record")


def test_ten_thousand_records_do_not_slow_every_command(world: object) -> None:
    import time

    a, u = _record(world, 2, "archive", reason="x"), _record(world, 2, "unarchive", reason="y")
    _mallory_adds(world, {f"models/fraud/lifecycle/2/{i}.yaml": a if i % 2 else u for i in range(1, 10_001)})
    assert world.mreg("list").code == 0  # type: ignore[attr-defined]  # fetch and verify once
    start = time.monotonic()
    r = world.mreg("show", "fraud@v1")  # type: ignore[attr-defined]
    out = world.tmp / "deploy"  # type: ignore[attr-defined]
    r2 = world.mreg("pull", "fraud@production", "-o", str(out))  # type: ignore[attr-defined]
    took = time.monotonic() - start
    assert r.code == 0 and r2.code == 0, (r.err, r2.err)
    assert took < 5, f"show + pull took {took:.1f} s"


def test_rollback_message_does_not_name_the_current_version_as_skipped(world: object) -> None:
    _mallory_adds(world, {"models/fraud/lifecycle/1/1.yaml": _record(world, 1, "archive")})
    r = world.mreg("rollback", "fraud@production")  # type: ignore[attr-defined]
    assert r.code != 0
    assert "v1" not in r.err.partition("skipped")[2], r.err


def test_a_forged_purged_record_does_not_strip_the_protection_of_shared_objects(world: object) -> None:
    team = world.team  # type: ignore[attr-defined]
    assert team.register({"auc": 0.91, "latency_ms": 30}) == "fraud@v3"
    r = world.mreg("register", "fraud", str(world.tmp / "model-1"))  # type: ignore[attr-defined]  # v2's files again
    assert r.code == 0 and r.out.strip() == "fraud@v4", r.err
    _reviewed_policy(world, "retention: {keep_last: 1}\n")
    honest = _gc(world, "--dry-run")
    assert honest["purged"] == ["fraud@v2", "fraud@v3"] and "4" in honest["kept"]["fraud"], honest
    _mallory_adds(
        world, {"models/fraud/lifecycle/4/1.yaml": _record(world, 4, "purged", objects=[], bytes_freed=0)}
    )
    got = _gc(world)
    from mreg.store import open_store

    store = open_store(str(world.tmp / "shared-store"), default_dir=world.tmp / "unused")  # type: ignore[attr-defined]
    weights = next(a["digest"] for a in world.mallory.manifest("fraud", 4)["artifacts"])  # type: ignore[attr-defined]
    # verify exits 0 either way ("purged by retention (recorded)"): the forged record is trusted
    assert weights in {o.digest for o in store.list_objects()}, got


def test_report_shows_an_archived_version(world: object) -> None:
    r = world.mreg("archive", "fraud@v2", "--reason", "trained on the revoked export")  # type: ignore[attr-defined]
    assert r.code == 0, r.err
    out = world.tmp / "report"  # type: ignore[attr-defined]
    assert world.mreg("report", "-o", str(out)).code == 0  # type: ignore[attr-defined]
    page = (out / "models" / "fraud.html").read_text()
    assert "revoked export" in page and "archived" in page.lower()


@pytest.mark.xfail(
    strict=True,
    reason="MEDIUM (race, no attacker needed): gc --retention protects objects named by registrations "
    "made before its `_names_since` fetch, but not by one landing while delete_many runs (minutes on a "
    "big S3 purge): register skips the upload of an object the store already has, gc then deletes it, "
    "and the new version has missing bytes and no purge record (verify fails).",
)
def test_a_registration_during_the_deletes_keeps_its_bytes(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mreg import Registry
    from mreg.store.local import LocalStore
    from testing.gitutil import run_mreg

    dirs = []
    for i in (1, 2):
        d = tmp_path / f"m{i}"
        d.mkdir()
        (d / "weights.bin").write_bytes(f"weights {i}\n".encode() * 100)
        dirs.append(d)
        assert Registry.open(repo).register("fraud", [d]).version == i
    push_files(
        repo,
        "mreg/aliases",
        {"mreg.yaml": show(repo, "mreg/aliases:mreg.yaml") + "retention: {keep_last: 1}\n"},
        "r",
    )
    original = LocalStore.delete_many

    def racing(self: LocalStore, digests: object) -> None:
        assert Registry.open(repo).register("fraud", [dirs[0]]).version == 3  # v1's files, re-registered
        original(self, digests)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalStore, "delete_many", racing)
    Registry.open(repo).gc_retention()
    monkeypatch.setattr(LocalStore, "delete_many", original)
    r = run_mreg("pull", "fraud@v3", "-o", str(tmp_path / "out"), cwd=repo)
    assert r.code == 0, r.err

"""`mreg check` (SPEC §3, §7): crafted content is rejected precisely, history is immutable."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from testing.fake_github import branch_sha, push_files, show
from testing.gitutil import refs
from testing.team import Team, TeamTemplates

pytestmark = pytest.mark.github


def _one(team: Team, mp: pytest.MonkeyPatch) -> None:
    team.register({"auc": 0.9, "latency_ms": 10})


@pytest.fixture
def one(team_templates: TeamTemplates, tmp_path: Path) -> Iterator[Team]:
    """`team` with fraud v1 registered (a copy of a template built once per session)."""
    yield from team_templates.get("one", _one).copy_to(tmp_path)


def _v1(team: Team) -> dict:
    return yaml.safe_load(show(team.bare, "mreg/registry:models/fraud/versions/1.yaml"))


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


def test_a_clean_registry_passes(one: Team) -> None:
    before = refs(one.bare)
    r = one.mreg("check")
    assert r.code == 0, r.out + r.err
    assert re.search(r"checked 1 manifest\(s\), 1 policy file\(s\), 0 alias tag\(s\): ok", r.out)
    assert refs(one.bare) == before


def test_crafted_manifests_are_rejected_with_precise_messages(one: Team, tmp_path: Path) -> None:
    v1 = _v1(one)
    art = v1["artifacts"][0]

    def variant(n: int, **changes: object) -> str:
        return _dump({**v1, "version": n, **changes})

    files = {
        "models/fraud/versions/2.yaml": variant(2, artifacts=[{**art, "path": "/etc/passwd"}]),
        "models/fraud/versions/3.yaml": variant(3, artifacts=[{**art, "path": "ok/../../escape"}]),
        "models/fraud/versions/4.yaml": variant(4, artifacts=[art, dict(art)]),
        "models/fraud/versions/5.yaml": variant(5, schema="mreg/manifest/v9"),
        "models/fraud/versions/6.yaml": "schema: mreg/manifest/v1\nmodel: !!python/object/apply:os.system ['echo pwned']\n",
        "models/fraud/versions/7.yaml": variant(8),
        "models/fraud/notes.txt": "hello\n",
    }
    push_files(one.bare, "mreg/registry", files, "crafted by hand")
    summary = tmp_path / "summary.md"
    r = one.mreg("check", env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert r.code == 1
    out = r.out
    assert (
        "mreg/registry:models/fraud/versions/2.yaml:" in out
        and "artifacts[0].path '/etc/passwd' is absolute" in out
    )
    assert "artifacts[0].path 'ok/../../escape' escapes its directory with '..'" in out
    assert "artifacts[1].path 'weights.bin' is listed twice" in out
    assert "unknown schema 'mreg/manifest/v9' (expected 'mreg/manifest/v1')" in out
    assert re.search(
        r"versions/6\.yaml:2: invalid YAML: YAML tag refused .*python/object/apply:os\.system", out
    )
    assert "versions/7.yaml:2: the manifest says fraud@v8, its path says fraud@v7" in out
    assert "models/fraud/notes.txt: unexpected file" in out
    assert (
        "models/fraud/notes.txt: commit" in out
        and "adds a file outside models/<model>/versions/<n>.yaml" in out
    )
    assert re.search(r"^::error file=models/fraud/versions/2\.yaml,line=\d+::", out, re.M)
    assert "mreg check found 8 problem(s)" in r.err
    assert "8 problem(s)" in summary.read_text()


@pytest.mark.slow
def test_a_manifest_edited_or_removed_since_base_fails(team: Team) -> None:
    team.register({"auc": 0.9})
    team.register({"auc": 0.91})
    base = branch_sha(team.bare, "mreg/registry")
    assert base is not None
    assert team.mreg("check", "--base", base).code == 0
    v1 = _v1(team)
    push_files(
        team.bare,
        "mreg/registry",
        {
            "models/fraud/versions/1.yaml": _dump({**v1, "message": "nicer"}),
            "models/fraud/versions/2.yaml": None,
        },
        "tidy up",
    )
    r = team.mreg("check", "--base", base)
    assert r.code == 1
    assert (
        f"models/fraud/versions/1.yaml: manifest edited since {base}: manifests are immutable once committed"
        in r.out
    )
    assert f"models/fraud/versions/2.yaml: manifest removed since {base}" in r.out
    r = team.mreg(
        "check", "--base", "0" * 40
    )  # a push event's "before" for a new branch: history still checked
    assert (
        r.code == 1
        and "modifies 'models/fraud/versions/1.yaml'" in r.out
        and "deletes 'models/fraud/versions/2.yaml'" in r.out
    )
    assert team.mreg("check", "--base", "nope").code == 2


def test_governed_branch_problems(one: Team) -> None:
    policy = show(one.bare, "mreg/aliases:models/fraud.yaml")
    bad_gate = policy.replace("{metric: latency_ms, max: 50}", "{metric: latency_ms, maximum: 50}")
    push_files(
        one.bare,
        "mreg/aliases",
        {
            "models/fraud.yaml": policy + "aliases:\n  production: 9\n",
            "models/churn.yaml": "schema: mreg/model/v1\nowners: [bob]\ngates:\n  production:\n    - "
            + bad_gate.split("- ")[3].split("\n")[0]
            + "\n",
            "models/Bad Name.yaml": "schema: mreg/model/v1\n",
            ".github/CODEOWNERS": "* @nobody\n",
        },
        "hand edits",
    )
    r = one.mreg("check")
    assert r.code == 1
    line = (policy + "aliases:\n  production: 9\n").splitlines().index("  production: 9") + 1
    assert f"mreg/aliases:models/fraud.yaml:{line}: aliases.production: fraud@v9 is not registered" in r.out
    assert re.search(r"mreg/aliases:models/churn\.yaml:\d+: gates\.production\[0\]: ", r.out)
    assert "models/Bad Name.yaml: unexpected file" in r.out
    assert "mreg/aliases:.github/CODEOWNERS: out of date" in r.out


def test_objects_missing_from_the_store_are_reported(one: Team) -> None:
    assert one.mreg("check", "--objects").code == 0
    store = one.repo / ".git" / "mreg" / "objects"
    digest = _v1(one)["artifacts"][0]["digest"]
    hexd = digest.split(":")[1]
    victim = next(p for p in store.rglob("*") if p.is_file() and p.name == hexd[2:])
    victim.unlink()
    r = one.mreg("check", "--objects", "--json")
    assert r.code == 1
    assert f"object {digest} is missing" in r.out and "fraud@v1" in r.out
    shutil.rmtree(store)

"""Read commands (SPEC §8): list, show, resolve, diff, log, and `--at` time travel (SPEC §2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.env import isolate
from testing.gitutil import make_repo, refs, run_mreg

DAY = 86400
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """fraud v1 (Jan 1), staging -> v1 (Jan 2), fraud v2 (Jan 3), churn v1 (Jan 5)."""
    root = tmp_path_factory.mktemp("read")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, root / "home")

        def at(stamp: int) -> None:
            mp.setenv("GIT_COMMITTER_DATE", f"{stamp} +0000")
            mp.setenv("GIT_AUTHOR_DATE", f"{stamp} +0000")

        from mreg import Registry

        at(T0 - 60)
        repo = root / "repo"
        make_repo(repo)
        Registry.open(repo).init()
        m1 = root / "m1"
        m1.mkdir()
        (m1 / "weights.bin").write_bytes(b"v1 weights")
        (m1 / "config.json").write_text('{"layers": 2}')
        data = root / "train.csv"
        data.write_text("x,y\n1,0\n")
        at(T0)
        Registry.open(repo).register(
            "fraud",
            [m1],
            params=["lr=0.1", "epochs=3"],
            metrics=["auc=0.8", "latency_ms=20"],
            data=[f"train={data}"],
            message="baseline",
        )
        at(T0 + DAY)
        Registry.open(repo).promote("fraud@v1", "staging", reason="try it")
        m2 = root / "m2"
        (m2 / "extra").mkdir(parents=True)
        (m2 / "weights.bin").write_bytes(b"v2 weights, better")
        (m2 / "config.json").write_text('{"layers": 2}')
        (m2 / "extra" / "labels.txt").write_text("fraud\nok\n")
        at(T0 + 2 * DAY)
        Registry.open(repo).register(
            "fraud",
            [m2],
            params=["lr=0.2", "epochs=3", "dropout=0.1"],
            metrics=["auc=0.9", "latency_ms=25"],
            image="img:2",
        )
        at(T0 + 4 * DAY)
        Registry.open(repo).register("churn", [m1])
    yield repo


# -- list ----------------------------------------------------------------------------------------------


def test_list_shows_models_latest_version_and_aliases(dated: Path) -> None:
    r = run_mreg("list", cwd=dated)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["MODEL", "LATEST", "VERSIONS", "ALIASES"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert rows["fraud"] == ["v2", "2", "staging=v1"]
    assert rows["churn"] == ["v1", "1"]


def test_list_json_is_machine_readable(dated: Path) -> None:
    r = run_mreg("list", "--json", cwd=dated)
    assert r.code == 0, r.err
    rows = {row["model"]: row for row in json.loads(r.out)}
    assert rows["fraud"] == {"model": "fraud", "latest": 2, "versions": 2, "aliases": {"staging": 1}}
    assert rows["churn"]["aliases"] == {}


def test_list_at_date_shows_registry_as_it_stood(dated: Path) -> None:
    r = run_mreg("list", "--json", "--at", "2026-01-02", cwd=dated)
    assert r.code == 0, r.err
    assert json.loads(r.out) == [{"model": "fraud", "latest": 1, "versions": 1, "aliases": {"staging": 1}}]


def test_list_empty_registry_says_so(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo)
    assert run_mreg("init", cwd=repo).code == 0
    r = run_mreg("list", cwd=repo)
    assert r.code == 0 and "no models" in r.out
    r = run_mreg("list", "--json", cwd=repo)
    assert json.loads(r.out) == []


# -- show / resolve ------------------------------------------------------------------------------------


def test_show_prints_manifest_summary_and_aliases(dated: Path) -> None:
    r = run_mreg("show", "fraud@v1", cwd=dated)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == "fraud@v1  (staging)"
    for text in (
        "digest      sha256:",
        "baseline",
        "lr=0.1",
        "auc=0.8",
        "weights.bin",
        "config.json",
        "train = file://",
        "Test User",
    ):
        assert text in r.out, text


def test_show_json_has_manifest_and_aliases(dated: Path) -> None:
    r = run_mreg("show", "fraud@staging", "--json", cwd=dated)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert (data["ref"], data["aliases"]) == ("fraud@v1", ["staging"])
    assert data["manifest"]["metrics"] == {"auc": 0.8, "latency_ms": 20}
    assert data["manifest"]["created_at"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("fraud", "fraud@v2"),
        ("fraud@latest", "fraud@v2"),
        ("fraud@v1", "fraud@v1"),
        ("fraud@1", "fraud@v1"),
        ("fraud@staging", "fraud@v1"),
        ("churn", "churn@v1"),
    ],
)
def test_resolve_reference_names_the_version(dated: Path, ref: str, expected: str) -> None:
    from mreg import Registry

    assert Registry.open(dated).resolve(ref).ref == expected


@pytest.mark.parametrize(("ref", "expected"), [("fraud", "fraud@v2"), ("fraud@staging", "fraud@v1")])
def test_resolve_cli_prints_model_at_version(dated: Path, ref: str, expected: str) -> None:
    r = run_mreg("resolve", ref, "--offline", cwd=dated)
    assert (r.code, r.out, r.err) == (0, expected + "\n", "")


def test_resolve_json_prints_manifest_and_aliases(dated: Path) -> None:
    r = run_mreg("resolve", "fraud", "--json", cwd=dated)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["ref"] == "fraud@v2" and data["version"] == 2 and data["aliases"] == []
    assert data["manifest"]["environment"]["image"] == "img:2"


def test_resolve_from_another_directory_with_repo_option(dated: Path, tmp_path: Path) -> None:
    r = run_mreg("resolve", "fraud", "--repo", str(dated), cwd=tmp_path)
    assert (r.code, r.out) == (0, "fraud@v2\n"), r.err


@pytest.mark.slow
def test_read_commands_change_nothing(dated: Path) -> None:
    before = refs(dated)
    for args in (
        ("list",),
        ("show", "fraud"),
        ("resolve", "fraud@staging"),
        ("log", "fraud"),
        ("diff", "fraud@v1", "fraud@v2"),
    ):
        assert run_mreg(*args, cwd=dated).code == 0
    assert refs(dated) == before


# -- time travel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "when", "expected"),
    [
        ("fraud", "2026-01-01", "fraud@v1"),  # a bare date: the end of that day
        ("fraud", "2026-01-02", "fraud@v1"),
        ("fraud", "2026-01-03", "fraud@v2"),
        ("fraud", "2026-01-02T23:59:59Z", "fraud@v1"),
        ("fraud", "2026-01-03T00:00:30Z", "fraud@v2"),
        ("fraud", "2026-01-03T02:00:30+02:00", "fraud@v2"),
        ("fraud", "2026-01-03T01:59:00+02:00", "fraud@v1"),
        ("fraud@staging", "2026-01-02", "fraud@v1"),
        ("fraud@v1", "2026-01-10", "fraud@v1"),
    ],
)
def test_resolve_at_answers_as_registry_stood_then(dated: Path, ref: str, when: str, expected: str) -> None:
    from mreg import Registry
    from mreg.refs import parse_at

    assert Registry.open(dated).resolve(ref, at=parse_at(when)).ref == expected


@pytest.mark.parametrize(
    ("when", "expected"), [("2026-01-02", "fraud@v1"), ("2026-01-03T00:00:30Z", "fraud@v2")]
)
def test_resolve_cli_at_answers_as_registry_stood_then(dated: Path, when: str, expected: str) -> None:
    r = run_mreg("resolve", "fraud", "--at", when, cwd=dated)
    assert (r.code, r.out) == (0, expected + "\n"), r.err


def test_resolve_at_relative_age_reaches_back(dated: Path) -> None:
    # The fixture's registrations are all in the past; 1d ago sees every one of them.
    r = run_mreg("resolve", "fraud", "--at", "1d", cwd=dated)
    assert (r.code, r.out) == (0, "fraud@v2\n"), r.err


def test_resolve_at_before_version_existed_is_not_found(dated: Path) -> None:
    r = run_mreg("resolve", "fraud@v2", "--at", "2026-01-02", cwd=dated)
    assert r.code == 3 and "v2" in r.err and "latest is v1" in r.err


def test_resolve_at_before_model_existed_is_not_found(dated: Path) -> None:
    r = run_mreg("resolve", "churn", "--at", "2026-01-03", cwd=dated)
    assert r.code == 3 and "'churn'" in r.err


def test_resolve_alias_at_before_it_was_set_is_not_found(dated: Path) -> None:
    r = run_mreg("resolve", "fraud@staging", "--at", "2026-01-01", cwd=dated)
    assert r.code == 3 and "'staging'" in r.err


def test_show_at_date_reports_aliases_of_then(dated: Path) -> None:
    r = run_mreg("show", "fraud", "--at", "2026-01-01", "--json", cwd=dated)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert (data["ref"], data["aliases"]) == ("fraud@v1", [])


# -- diff ----------------------------------------------------------------------------------------------


def test_diff_json_reports_params_metrics_deltas_artifacts_and_environment(dated: Path) -> None:
    r = run_mreg("diff", "fraud@v1", "fraud@v2", "--json", cwd=dated)
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert (d["a"], d["b"], d["same_artifacts"]) == ("fraud@v1", "fraud@v2", False)
    params = {p["key"]: (p["old"], p["new"]) for p in d["params"]}
    assert params == {"lr": (0.1, 0.2), "dropout": (None, 0.1)}
    metrics = {m["key"]: m for m in d["metrics"]}
    assert metrics["auc"]["delta"] == pytest.approx(0.1)
    assert metrics["latency_ms"]["delta"] == 5
    arts = {a["path"]: a["change"] for a in d["artifacts"]}
    assert arts == {"weights.bin": "changed", "extra/labels.txt": "added"}
    assert [e["key"] for e in d["environment"]] == ["image"]
    assert [x["key"] for x in d["data"]] == ["train"]  # v2 has no data reference
    assert d["packages"] == []  # same interpreter, same lock


def test_diff_human_output_has_tables(dated: Path) -> None:
    r = run_mreg("diff", "fraud@v1", "fraud", cwd=dated)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == "fraud@v1 -> fraud@v2"
    for text in (
        "metrics",
        "auc",
        "+0.1",
        "params",
        "lr",
        "artifacts",
        "weights.bin",
        "changed",
        "extra/labels.txt",
        "added",
    ):
        assert text in r.out, text


def test_diff_same_version_reports_no_differences(dated: Path) -> None:
    r = run_mreg("diff", "fraud@v1", "fraud@staging", cwd=dated)
    assert r.code == 0, r.err
    assert "(same artifacts)" in r.out and "no differences" in r.out


def test_diff_unknown_version_is_not_found(dated: Path) -> None:
    r = run_mreg("diff", "fraud@v1", "fraud@v7", cwd=dated)
    assert r.code == 3 and "v7" in r.err


def test_diff_reports_package_changes_from_stored_locks(tmp_path: Path, model_dir: Path) -> None:
    from mreg import Registry
    from mreg.digest import of_bytes as sha256_bytes

    repo = tmp_path / "repo"
    make_repo(repo)
    reg = Registry.open(repo)
    reg.init()
    reg.register("fraud", [model_dir])
    reg.register("fraud", [model_dir])
    # Rewrite nothing in git: compare two locks through the store, as diff does.
    a = "# python\nnumpy==1.26.0\nrequests==2.0.0\n"
    b = "# python\nnumpy==2.0.0\ntorch==2.3.0\n"
    from mreg.ops.inspect import package_changes

    changes = {c["package"]: (c["change"], c["old"], c["new"]) for c in package_changes(a, b)}
    assert changes == {
        "numpy": ("changed", "1.26.0", "2.0.0"),
        "requests": ("removed", "2.0.0", None),
        "torch": ("added", None, "2.3.0"),
    }
    assert reg.store.read_verified(reg.resolve("fraud@v1").manifest["environment"]["packages"])
    assert sha256_bytes(b"x").startswith("sha256:")


def test_diff_lists_package_changes_and_never_hides_a_corrupt_lock(tmp_path: Path, model_dir: Path) -> None:
    """v2 differs from v1 only by its package lock. diff shows the package changes; a corrupt lock
    object is exit 5 (SPEC §5), a missing one a warning, never a silent omission."""
    import yaml

    from mreg import Registry
    from mreg.digest import of_bytes as sha256_bytes
    from mreg.git.repo import GitRepo
    from mreg.layout import REGISTRY_REF

    repo = tmp_path / "repo"
    make_repo(repo)
    reg = Registry.open(repo)
    reg.init()
    reg.register("fraud", [model_dir])
    v1 = reg.resolve("fraud@v1").manifest
    old_lock = reg.store.read_verified(v1["environment"]["packages"]).decode()
    new_lock = old_lock + "zzz-new-package==1.0\n"
    new_digest = sha256_bytes(new_lock.encode())
    reg.store.put_bytes(new_lock.encode(), new_digest)
    v2 = {**v1, "version": 2, "environment": {**v1["environment"], "packages": new_digest}}
    g = GitRepo.discover(repo)  # v2 as another machine with one more package would have registered it
    tip = g.rev_parse(REGISTRY_REF)
    tree = g.write_tree(
        g.rev_parse(f"{tip}^{{tree}}"),
        {"models/fraud/versions/2.yaml": yaml.safe_dump(v2, sort_keys=False).encode()},
    )
    assert g.update_ref(REGISTRY_REF, g.commit_tree(tree, [tip], "register fraud v2\n"), tip)

    r = run_mreg("diff", "fraud@v1", "fraud@v2", cwd=repo)
    assert r.code == 0 and r.err == "", r.err
    assert "packages" in r.out and "zzz-new-package" in r.out and "added" in r.out
    obj = next(
        p for p in (repo / ".git" / "mreg" / "objects").rglob("*") if p.is_file() and p.name == new_digest[9:]
    )
    obj.chmod(0o644)
    obj.write_bytes(new_lock.replace("1.0", "6.6").encode())  # bit rot in the store
    r = run_mreg("diff", "fraud@v1", "fraud@v2", cwd=repo)
    assert r.code == 5 and "corrupt" in r.err and "zzz" not in r.out, (r.code, r.out, r.err)
    obj.unlink()  # a store that does not have it (the default store is private to a clone)
    r = run_mreg("diff", "fraud@v1", "fraud@v2", cwd=repo)
    assert r.code == 0 and r.err.startswith("mreg: warning: package lists not compared: "), r.err


# -- log -----------------------------------------------------------------------------------------------


def test_log_lists_registrations_and_alias_events_in_time_order(dated: Path) -> None:
    r = run_mreg("log", "fraud", "--json", cwd=dated)
    assert r.code == 0, r.err
    entries = json.loads(r.out)
    assert [(e["event"], e["alias"], e["version"], e["at"]) for e in entries] == [
        ("register", None, 1, "2026-01-01T00:00:00Z"),
        ("promote", "staging", 1, "2026-01-02T00:00:00Z"),
        ("register", None, 2, "2026-01-03T00:00:00Z"),
    ]
    assert all(e["by"] == "Test User <test@example.com>" for e in entries)
    assert entries[1]["reason"] == "try it"


def test_log_human_output_has_one_row_per_event(dated: Path) -> None:
    r = run_mreg("log", "fraud", cwd=dated)
    assert r.code == 0, r.err
    body = r.out.splitlines()[2:]
    assert len(body) == 3
    assert "register v1" in body[0] and "promote staging -> v1" in body[1] and "register v2" in body[2]


def test_log_alias_filter_shows_only_that_alias(dated: Path) -> None:
    r = run_mreg("log", "fraud", "--alias", "staging", "--json", cwd=dated)
    assert r.code == 0, r.err
    assert [(e["event"], e["alias"]) for e in json.loads(r.out)] == [("promote", "staging")]

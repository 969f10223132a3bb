"""The Python API (SPEC §10): `mreg.Registry.open(path)` with resolve, pull, register, promote, log."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

import mreg
from mreg import IntegrityError, ModelSummary, MregError, NotFoundError, Registry, UsageError
from testing.gitutil import make_repo, refs


def test_open_from_a_subdirectory_finds_the_enclosing_repo(repo: Path, model_dir: Path) -> None:
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    Registry.open(repo).register("fraud", [model_dir])
    assert Registry.open(sub).resolve("fraud").ref == "fraud@v1"


def test_open_outside_a_git_repo_raises_usage_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UsageError) as exc:
        Registry.open(plain)
    assert exc.value.exit_code == 2


def test_resolve_in_uninitialised_repo_raises_not_found_with_init_hint(tmp_path: Path) -> None:
    path = tmp_path / "fresh"
    make_repo(path)
    with pytest.raises(NotFoundError) as exc:
        Registry.open(path).resolve("fraud")
    assert exc.value.hint and "mreg init" in exc.value.hint


def test_init_twice_returns_nothing_created_and_moves_no_ref(repo: Path) -> None:
    before = refs(repo)
    assert Registry.open(repo).init().created == ()
    assert refs(repo) == before


def test_register_returns_version_number_digest_and_manifest(repo: Path, model_dir: Path) -> None:
    reg = Registry.open(repo)
    first = reg.register("fraud", [model_dir], metrics=["auc=0.9"], message="m")
    assert (first.ref, first.version) == ("fraud@v1", 1)
    assert first.digest == first.manifest["digest"]
    assert first.uploaded_bytes == sum(a["size"] for a in first.manifest["artifacts"])
    second = reg.register("fraud", [model_dir])
    assert second.ref == "fraud@v2" and second.duplicate_of == 1


def test_register_invalid_model_name_raises_before_anything_is_stored(repo: Path, model_dir: Path) -> None:
    with pytest.raises(UsageError):
        Registry.open(repo).register("Fraud", [model_dir])
    assert not (repo / ".git" / "mreg" / "objects" / "sha256").exists()


def test_register_accepts_str_and_path_arguments(repo: Path, model_dir: Path) -> None:
    r = Registry.open(repo).register("fraud", [str(model_dir / "weights.bin"), model_dir / "config.json"])
    assert [a["path"] for a in r.manifest["artifacts"]] == ["config.json", "weights.bin"]


def test_resolve_returns_version_with_manifest(repo: Path, model_dir: Path) -> None:
    Registry.open(repo).register("fraud", [model_dir], params=["lr=0.1"])
    v = Registry.open(repo).resolve("fraud@v1")
    assert isinstance(v, mreg.Version)
    assert (v.model, v.version, v.ref) == ("fraud", 1, "fraud@v1")
    assert v.manifest["params"] == {"lr": 0.1}
    assert v.digest.startswith("sha256:")


def test_resolve_at_datetime_answers_as_registry_stood_then(
    repo: Path, model_dir: Path, clock, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    Registry.open(repo).register("fraud", [model_dir])
    clock.advance(7200)
    other = tmp_path / "w2.bin"
    other.write_bytes(b"second")
    Registry.open(repo).register("fraud", [other])
    reg = Registry.open(repo)
    assert reg.resolve("fraud", at=datetime(2026, 1, 1, 1, 0, tzinfo=timezone.utc)).ref == "fraud@v1"
    assert reg.resolve("fraud", at=datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc)).ref == "fraud@v2"
    with pytest.raises(NotFoundError):
        reg.resolve("fraud", at=datetime(2025, 6, 1, tzinfo=timezone.utc))
    # the CLI's WHEN text works in the API too (SPEC §10: resolve(ref, at=None))
    assert reg.resolve("fraud", at="2026-01-01T01:00:00Z").ref == "fraud@v1"
    assert reg.show("fraud", at="2026-01-01T01:00:00Z").ref == "fraud@v1"
    with pytest.raises(UsageError):
        reg.resolve("fraud", at="last tuesday")


def test_pull_writes_verified_files(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    Registry.open(repo).register("fraud", [model_dir])
    dest = tmp_path / "out"
    result = Registry.open(repo).pull("fraud", dest)
    assert (dest / "weights.bin").read_bytes() == (model_dir / "weights.bin").read_bytes()
    assert result == dest


def test_pull_returns_destination_path_per_spec(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    Registry.open(repo).register("fraud", [model_dir])
    assert isinstance(Registry.open(repo).pull("fraud", tmp_path / "out"), Path)


def test_pull_corrupt_object_raises_integrity_error(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    r = Registry.open(repo).register("fraud", [model_dir / "weights.bin"])
    h = r.manifest["artifacts"][0]["digest"].removeprefix("sha256:")
    obj = repo / ".git" / "mreg" / "objects" / "sha256" / h[:2] / h[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"tampered")
    with pytest.raises(IntegrityError) as exc:
        Registry.open(repo).pull("fraud", tmp_path / "out")
    assert exc.value.exit_code == 5
    assert not (tmp_path / "out" / "weights.bin").exists()


def test_promote_then_resolve_alias_and_log_it(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    reg = Registry.open(repo)
    reg.register("fraud", [model_dir])
    (tmp_path / "w.bin").write_bytes(b"v2")
    reg.register("fraud", [tmp_path / "w.bin"])
    move = Registry.open(repo).promote("fraud@v1", "staging", reason="canary")
    assert (move.alias, move.version, move.tag) == ("staging", 1, "mreg/fraud/staging/1")
    reg = Registry.open(repo)
    assert reg.resolve("fraud@staging").ref == "fraud@v1"
    assert reg.show("fraud@v1").aliases == ("staging",)
    events = [(e.event, e.version) for e in reg.log("fraud")]
    assert events == [("register", 1), ("register", 2), ("promote", 1)]


def test_promote_to_reserved_alias_raises_usage_error(repo: Path, model_dir: Path) -> None:
    Registry.open(repo).register("fraud", [model_dir])
    before = refs(repo)
    with pytest.raises(UsageError, match="reserved"):
        Registry.open(repo).promote("fraud@v1", "latest")
    assert refs(repo) == before


def test_log_unknown_model_raises_not_found(repo: Path) -> None:
    with pytest.raises(NotFoundError):
        Registry.open(repo).log("nosuch")


def test_list_and_diff_return_typed_results_with_json(repo: Path, model_dir: Path) -> None:
    reg = Registry.open(repo)
    reg.register("fraud", [model_dir], metrics=["auc=0.8"])
    reg.register("fraud", [model_dir], metrics=["auc=0.85"])
    models = Registry.open(repo).list_models()
    assert models == [ModelSummary("fraud", latest=2, versions=2, aliases={})]
    assert [m.to_json() for m in models] == [{"model": "fraud", "latest": 2, "versions": 2, "aliases": {}}]
    d = Registry.open(repo).diff("fraud@v1", "fraud@v2")
    assert d.same_artifacts is True
    assert d.metrics[0]["key"] == "auc" and d.metrics[0]["delta"] == pytest.approx(0.05)
    assert d.to_json()["metrics"] == [dict(r) for r in d.metrics]
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.a = "other"  # type: ignore[misc]


def test_api_errors_are_exceptions_not_exits(repo: Path) -> None:
    with pytest.raises(MregError):
        Registry.open(repo).resolve("fraud@@v1")


_USER_CODE = """\
from mreg import Registry, RegisterResult

reg = Registry.open(".")
ok: RegisterResult = reg.register("fraud", ["model.bin"], metrics={"auc": 0.9}, message="m")
reg.register("fraud", ["model.bin"], metricz=["auc=0.9"])
reg.promote("fraud@v1", "production", reasn="better")
version: int = reg.resolve("fraud@production").digest
reg.pull("fraud@production", "out", forse=True)
"""


@pytest.mark.slow
def test_the_public_api_type_checks_user_code(tmp_path: Path) -> None:
    """mypy --strict on user code catches a misspelt keyword and a wrong result type (the API is typed,
    not `**options: Any`), and accepts the correct calls: mreg ships py.typed."""
    (tmp_path / "user.py").write_text(_USER_CODE)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / ".mypy"),
            "user.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert [e.split(":")[1] for e in errors] == ["5", "6", "7", "8"], proc.stdout
    assert 'Unexpected keyword argument "metricz" for "register" of "Registry"' in errors[0]
    assert 'Unexpected keyword argument "reasn" for "promote" of "Registry"' in errors[1]
    assert 'expression has type "str", variable has type "int"' in errors[2]
    assert 'Unexpected keyword argument "forse" for "pull" of "Registry"' in errors[3]


@pytest.mark.slow
def test_every_json_output_is_the_results_to_json(repo: Path, model_dir: Path) -> None:
    """`mreg X --json` prints exactly `Registry.X(...).to_json()`: one owner of each JSON shape."""
    import json

    from testing.gitutil import run_mreg

    reg = Registry.open(repo)
    reg.register("fraud", [model_dir], metrics={"auc": 0.8}, message="first")
    (model_dir / "weights.bin").write_bytes(b"\x02" * 7000)
    train = str(model_dir / "config.json")
    reg.register(
        "fraud",
        [model_dir],
        metrics={"auc": 0.85},
        params={"lr": 0.1},
        data={"train": train},
        parent="fraud@v1",
    )
    reg.promote("fraud@v1", "staging", reason="canary")
    cases = {
        ("init",): lambda r: r.init().to_json(),
        ("list",): lambda r: [m.to_json() for m in r.list_models()],
        ("show", "fraud@staging"): lambda r: r.show("fraud@staging").to_json(),
        ("resolve", "fraud@v2"): lambda r: r.resolve("fraud@v2").to_json(),
        ("log", "fraud"): lambda r: [e.to_json() for e in r.log("fraud")],
        ("log", "fraud", "--alias", "staging"): lambda r: [
            e.to_json() for e in r.log("fraud", alias="staging")
        ],
        ("diff", "fraud@v1", "fraud@v2"): lambda r: r.diff("fraud@v1", "fraud@v2").to_json(),
        ("lineage", "fraud@v2"): lambda r: r.lineage("fraud@v2").to_json(),
        ("lineage", "fraud@v1", "--down"): lambda r: r.lineage("fraud@v1", down=True).to_json(),
        ("lineage", "--dataset", train): lambda r: r.lineage(dataset=train).to_json(),
        ("verify",): lambda r: r.verify().to_json(),
        ("check",): lambda r: r.check().to_json(),
        ("gc", "--dry-run"): lambda r: r.gc(dry_run=True).to_json(),
        ("apply", "--dry-run"): lambda r: r.apply(dry_run=True).to_json(),
    }
    for args, api in cases.items():
        cli = run_mreg(*args, "--json", cwd=repo)
        assert cli.code == 0, (args, cli.err)
        assert json.loads(cli.out) == json.loads(json.dumps(api(Registry.open(repo)))), args

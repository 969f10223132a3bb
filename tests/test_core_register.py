"""`mreg init` and `mreg register` (SPEC §3, §4, §5, §8), on real temporary git repositories."""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mreg import Registry
from testing.gitutil import make_repo, refs, run_mreg, snapshot_store


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def _manifest(repo: Path, model: str, n: int) -> dict[str, Any]:
    doc = yaml.safe_load(_git(repo, "show", f"mreg/registry:models/{model}/versions/{n}.yaml"))
    assert isinstance(doc, dict)
    return doc


def _manifest_text(repo: Path, model: str, n: int) -> str:
    return _git(repo, "show", f"mreg/registry:models/{model}/versions/{n}.yaml")


def _store(repo: Path) -> Path:
    return repo / ".git" / "mreg" / "objects"


def _object(repo: Path, digest: str) -> Path:
    hexd = digest.removeprefix("sha256:")
    return _store(repo) / "sha256" / hexd[:2] / hexd[2:]


# -- init --------------------------------------------------------------------------------------------


def test_init_creates_registry_and_aliases_branches(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo)
    head_before = _git(repo, "rev-parse", "HEAD")
    r = run_mreg("init", cwd=repo)
    assert r.code == 0, r.err
    heads = refs(repo, "refs/heads/")
    assert {"refs/heads/mreg/registry", "refs/heads/mreg/aliases", "refs/heads/main"} <= set(heads)
    config = yaml.safe_load(_git(repo, "show", "mreg/aliases:mreg.yaml"))
    assert config["schema"] == "mreg/registry/v1"
    # Orphan branches: nothing in common with the user's history.
    assert _git(repo, "rev-list", "--max-parents=0", "mreg/registry").strip() != head_before.strip()
    assert (
        subprocess.run(
            ["git", "merge-base", "main", "mreg/registry"], cwd=repo, capture_output=True
        ).returncode
        != 0
    )
    assert _git(repo, "rev-parse", "HEAD") == head_before


def test_init_second_run_changes_nothing(repo: Path) -> None:
    before = refs(repo)
    r = run_mreg("init", cwd=repo)
    assert r.code == 0, r.err
    assert "nothing changed" in r.out
    assert refs(repo) == before


def test_init_with_store_records_it_in_config(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo)
    store = tmp_path / "team-store"
    store.mkdir()  # a directory store must exist: a typo'd path is refused, not created
    r = run_mreg("init", "--store", str(store), cwd=repo)
    assert r.code == 0, r.err
    assert yaml.safe_load(_git(repo, "show", "mreg/aliases:mreg.yaml"))["store"] == str(store)
    (tmp_path / "w.bin").write_bytes(b"weights")
    assert run_mreg("register", "fraud", str(tmp_path / "w.bin"), cwd=repo).code == 0
    assert snapshot_store(store)  # the bytes went to the configured store
    assert not snapshot_store(_store(repo))


# -- register: output and versions -------------------------------------------------------------------


def test_register_prints_model_at_version_and_counts_up(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    r = run_mreg("register", "fraud", str(model_dir), cwd=repo)
    assert (r.code, r.out) == (0, "fraud@v1\n"), r.err
    (tmp_path / "other.bin").write_bytes(b"other")
    r = run_mreg("register", "fraud", str(tmp_path / "other.bin"), cwd=repo)
    assert (r.code, r.out) == (0, "fraud@v2\n"), r.err
    assert r.err == ""
    r = run_mreg("register", "churn", str(tmp_path / "other.bin"), cwd=repo)
    assert r.out == "churn@v1\n"


def test_register_writes_one_commit_with_clear_subject(repo: Path, model_dir: Path) -> None:
    before = _git(repo, "rev-parse", "mreg/registry").strip()
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    assert _git(repo, "log", "--format=%s", f"{before}..mreg/registry").splitlines() == ["register fraud v1"]
    assert _git(repo, "diff", "--name-only", before, "mreg/registry").split() == [
        "models/fraud/versions/1.yaml"
    ]


def test_register_json_prints_ref_and_manifest(repo: Path, model_dir: Path) -> None:
    r = run_mreg("register", "fraud", str(model_dir), "--json", cwd=repo)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["ref"] == "fraud@v1"
    assert data["manifest"] == _manifest(repo, "fraud", 1)
    assert data["duplicate_of"] is None


def test_register_identical_artifacts_warns_naming_earlier_version(repo: Path, model_dir: Path) -> None:
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    r = run_mreg("register", "fraud", str(model_dir), "--metric", "auc=0.5", cwd=repo)
    assert r.code == 0, r.err
    assert r.out == "fraud@v2\n"
    assert "warning" in r.err and "fraud@v1" in r.err and "same artifacts" in r.err
    assert "Traceback" not in r.err


@pytest.mark.slow
def test_duplicate_warning_stays_right_with_the_digest_index_and_a_damaged_one(
    repo: Path, tmp_path: Path
) -> None:
    """The duplicate scan remembers each manifest blob's digest per clone; what it remembers, or a
    damaged index, never changes which version the warning names."""
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"A" * 100)
    b.write_bytes(b"B" * 100)
    for f in (a, b):
        assert run_mreg("register", "fraud", str(f), cwd=repo).err == ""
    r = run_mreg("register", "fraud", str(a), cwd=repo)  # v3 repeats v1
    assert r.out == "fraud@v3\n" and "fraud@v3 has the same artifacts as fraud@v1" in r.err
    index = repo / ".git" / "mreg" / "digests" / "fraud"
    assert len(index.read_text().splitlines()) == 2  # v1 and v2 read once; v3 not yet needed
    with index.open("a") as f:
        f.write("not a line\n" + "0" * 40 + " sha256:" + "f" * 64 + "\n")  # junk, and a blob no manifest has
    r = run_mreg("register", "fraud", str(b), cwd=repo)  # v4 repeats v2
    assert r.out == "fraud@v4\n" and "fraud@v4 has the same artifacts as fraud@v2" in r.err
    index.unlink()  # a fresh clone has no index: same answer from the manifests themselves
    c = tmp_path / "c.bin"
    c.write_bytes(b"C")
    r = run_mreg("register", "fraud", str(c), cwd=repo)
    assert r.out == "fraud@v5\n" and r.err == ""


# -- register: artifacts and the store ---------------------------------------------------------------


def test_register_directory_recurses_with_relative_paths(repo: Path, tmp_path: Path) -> None:
    d = tmp_path / "model"
    (d / "tokenizer" / "vocab").mkdir(parents=True)
    (d / "weights.bin").write_bytes(b"w" * 1000)
    (d / "tokenizer" / "merges.txt").write_text("a b\n")
    (d / "tokenizer" / "vocab" / "v.json").write_text("{}")
    single = tmp_path / "extra.onnx"
    single.write_bytes(b"onnx")
    result = Registry.open(repo).register("fraud", [d, single])
    paths = [a["path"] for a in result.manifest["artifacts"]]
    assert paths == sorted(["extra.onnx", "tokenizer/merges.txt", "tokenizer/vocab/v.json", "weights.bin"])
    sizes = {a["path"]: a["size"] for a in result.manifest["artifacts"]}
    assert sizes["weights.bin"] == 1000 and sizes["extra.onnx"] == 4


def test_register_stores_one_object_per_distinct_content(repo: Path, tmp_path: Path) -> None:
    d = tmp_path / "model"
    (d / "a").mkdir(parents=True)
    (d / "one.bin").write_bytes(b"same bytes")
    (d / "a" / "two.bin").write_bytes(b"same bytes")
    (d / "three.bin").write_bytes(b"different bytes")
    result = Registry.open(repo).register("fraud", [d])
    arts = result.manifest["artifacts"]
    assert len(arts) == 3 and len({a["digest"] for a in arts}) == 2
    for a in arts:
        obj = _object(repo, a["digest"])
        assert obj.is_file()
        assert obj.read_bytes() == (d / a["path"]).read_bytes()
    # artifact objects + the package lock: nothing else, no temp files
    objects = [k for k in snapshot_store(_store(repo)) if k.startswith("sha256/")]
    assert len(objects) == 3
    assert all(len(k.split("/")[1]) == 2 and len(k.split("/")[2]) == 62 for k in objects)
    # Registering the same bytes again stores nothing new.
    before = snapshot_store(_store(repo))
    again = Registry.open(repo).register("churn", [d])
    assert again.uploaded_bytes == 0
    assert snapshot_store(_store(repo)) == before


def test_register_manifest_validates_against_the_json_schema(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy==2.0.0\n")
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,0\n")
    r = run_mreg(
        "register",
        "fraud",
        str(model_dir),
        "--param",
        "lr=0.01",
        "--metric",
        "auc=0.93",
        "--lockfile",
        str(lock),
        "--image",
        "ghcr.io/acme/train:1.2",
        "--data",
        f"train={data}",
        "--data",
        "remote=s3://bucket/x.parquet",
        "-m",
        "first cut",
        cwd=repo,
    )
    assert r.code == 0, r.err
    schema = json.loads(resources.files("mreg").joinpath("schemas", "manifest.schema.json").read_text())
    doc = _manifest(repo, "fraud", 1)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    assert doc["schema"] == "mreg/manifest/v1"
    assert (doc["model"], doc["version"], doc["message"]) == ("fraud", 1, "first cut")
    assert doc["created_by"] == "Test User <test@example.com>"


# -- register: provenance ----------------------------------------------------------------------------


def test_register_records_source_commit_and_clean_flag(repo: Path, model_dir: Path) -> None:
    doc = Registry.open(repo).register("fraud", [model_dir]).manifest
    assert doc["source"]["commit"] == _git(repo, "rev-parse", "HEAD").strip()
    assert doc["source"]["dirty"] is False
    assert doc["source"]["repository"] is None


def test_register_records_dirty_flag_for_uncommitted_change(repo: Path, model_dir: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    assert Registry.open(repo).register("fraud", [model_dir]).manifest["source"]["dirty"] is True


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok3n@example.com/x.git", "https://example.com/x.git"),
        ("https://tok3n@example.com:8443/x.git", "https://example.com:8443/x.git"),
        ("git@example.com:acme/x.git", "git@example.com:acme/x.git"),
    ],
)
def test_register_strips_credentials_from_remote_url(
    repo: Path, model_dir: Path, url: str, expected: str
) -> None:
    _git(repo, "remote", "add", "origin", url)
    result = Registry.open(repo, offline=True).register("fraud", [model_dir])
    assert result.manifest["source"]["repository"] == expected
    assert "tok3n" not in _manifest_text(repo, "fraud", 1)


def test_register_records_environment_with_package_lock_in_store(repo: Path, model_dir: Path) -> None:
    import platform

    env = Registry.open(repo).register("fraud", [model_dir]).manifest["environment"]
    assert platform.python_version() in env["python"]
    assert env["platform"]
    lock = _object(repo, env["packages"]).read_text()
    names = {line.split("==")[0].split(" ")[0] for line in lock.splitlines() if not line.startswith("#")}
    assert {"pyyaml", "jsonschema", "typer"} <= names
    body = [line for line in lock.splitlines() if not line.startswith("#")]
    assert body == sorted(body)


def test_register_lockfile_and_image_are_recorded(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text("version = 1\n")
    env = (
        Registry.open(repo)
        .register("fraud", [model_dir], lockfile=str(lock), image="ghcr.io/acme/m@sha256:" + "a" * 64)
        .manifest["environment"]
    )
    assert env["lockfile"]["path"] == "uv.lock"
    assert _object(repo, env["lockfile"]["digest"]).read_text() == "version = 1\n"
    assert env["image"] == "ghcr.io/acme/m@sha256:" + "a" * 64


def test_register_local_data_file_is_hashed(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    import hashlib

    data = tmp_path / "train.csv"
    data.write_bytes(b"x,y\n1,0\n")
    doc = (
        Registry.open(repo)
        .register("fraud", [model_dir], data=[f"train={data}", "lake=s3://no-such-bucket-mreg/x"])
        .manifest
    )
    by_name = {d["name"]: d for d in doc["data"]}
    assert by_name["train"]["digest"] == "sha256:" + hashlib.sha256(b"x,y\n1,0\n").hexdigest()
    assert by_name["train"]["size"] == 8
    assert by_name["train"]["uri"] == data.resolve().as_uri()
    assert by_name["lake"]["uri"] == "s3://no-such-bucket-mreg/x"


def test_register_params_and_metrics_from_yaml_json_and_flags(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "params.yaml").write_text(
        "lr: 0.01\noptimizer:\n  name: adam\n  betas: [0.9, 0.999]\nepochs: 3\n"
    )
    (tmp_path / "params.json").write_text('{"batch": 32, "epochs": 5}')
    (tmp_path / "metrics.json").write_text('{"auc": 0.91, "loss": 0.2}')
    (tmp_path / "metrics.yaml").write_text("latency_ms: 12\n")
    doc = (
        Registry.open(repo)
        .register(
            "fraud",
            [model_dir],
            params_files=[str(tmp_path / "params.yaml"), str(tmp_path / "params.json")],
            params=["epochs=7", "tag=blue", "warm=true"],
            metrics_files=[str(tmp_path / "metrics.json"), str(tmp_path / "metrics.yaml")],
            metrics=["auc=0.93"],
        )
        .manifest
    )
    assert doc["params"] == {
        "lr": 0.01,
        "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
        "epochs": 7,
        "batch": 32,
        "tag": "blue",
        "warm": True,
    }
    assert doc["metrics"] == {"auc": 0.93, "loss": 0.2, "latency_ms": 12}


def test_register_parent_is_recorded_as_resolved_version(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    reg = Registry.open(repo)
    reg.register("base", [model_dir])
    (tmp_path / "ft.bin").write_bytes(b"fine-tuned")
    doc = (
        Registry.open(repo)
        .register("fraud", [tmp_path / "ft.bin"], parent="base", message="fine-tune")
        .manifest
    )
    assert doc["parent"] == "base@v1"
    assert doc["message"] == "fine-tune"


def test_register_cli_flags_reach_the_manifest(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("auc: 0.8\n")
    assert run_mreg("register", "base", str(model_dir), cwd=repo).code == 0
    r = run_mreg(
        "register",
        "fraud",
        str(model_dir),
        "--params",
        str(tmp_path / "m.yaml"),
        "--param",
        "k=v",
        "--metrics",
        str(tmp_path / "m.yaml"),
        "--metric",
        "f1=1",
        "--parent",
        "base@v1",
        "--image",
        "img:1",
        cwd=repo,
    )
    assert r.code == 0, r.err
    doc = _manifest(repo, "fraud", 1)
    assert doc["params"] == {"auc": 0.8, "k": "v"}
    assert doc["metrics"] == {"auc": 0.8, "f1": 1}
    assert doc["parent"] == "base@v1"
    assert doc["environment"]["image"] == "img:1"


def test_register_created_at_follows_git_committer_date(repo: Path, model_dir: Path, clock: Any) -> None:
    clock.advance(3600)
    doc = Registry.open(repo).register("fraud", [model_dir]).manifest
    assert doc["created_at"] == "2026-01-01T01:00:00Z"


def test_register_cli_offline_with_credentialed_remote_keeps_token_out(repo: Path, model_dir: Path) -> None:
    _git(repo, "remote", "add", "origin", "https://user:tok3n@example.com/x.git")
    r = run_mreg("register", "fraud", str(model_dir), "--offline", cwd=repo)
    assert (r.code, r.out) == (0, "fraud@v1\n"), r.err
    text = _manifest_text(repo, "fraud", 1)
    assert "tok3n" not in text and "user@" not in text
    assert _manifest(repo, "fraud", 1)["source"]["repository"] == "https://example.com/x.git"


@pytest.mark.slow
def test_register_unreachable_remote_exits_6_and_changes_nothing(repo: Path, model_dir: Path) -> None:
    _git(repo, "remote", "add", "origin", "https://user:tok3n@example.com/x.git")
    before = refs(repo), snapshot_store(_store(repo))
    r = run_mreg("register", "fraud", str(model_dir), cwd=repo)  # https is not an allowed protocol in tests
    assert r.code == 6, (r.out, r.err)
    assert "origin" in r.err and "--offline" in r.err and "tok3n" not in r.err
    assert "Traceback" not in r.err
    assert (refs(repo), snapshot_store(_store(repo))) == before


@pytest.mark.slow
@pytest.mark.parametrize("command", ["register", "promote"])
def test_a_lock_left_by_a_crashed_git_is_named_not_retried_forever(
    repo: Path, tmp_path: Path, command: str
) -> None:
    """A live git holds a ref lock for milliseconds (mreg retries); one minutes old was left by a
    crash: mreg names the file (exit 4) instead of 40 retries blaming "another writer"."""
    import os
    import time

    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    assert run_mreg("register", "fraud", str(f), cwd=repo).code == 0
    if command == "register":
        lock = repo / ".git" / "refs" / "heads" / "mreg" / "registry.lock"
        f.write_bytes(b"weights v2")
        args = ["register", "fraud", str(f)]
    else:
        lock = repo / ".git" / "refs" / "tags" / "mreg" / "fraud" / "staging" / "1.lock"
        args = ["promote", "fraud@v1", "--to", "staging"]
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()
    old = time.time() - 120
    os.utime(lock, (old, old))
    before = refs(repo)
    r = run_mreg(*args, cwd=repo)
    assert r.code == 4, (r.code, r.err)
    assert r.err.startswith(f"mreg: error: {lock} exists and is ") and "crashed" in r.err
    assert "remove that file" in r.err and "Traceback" not in r.err
    assert refs(repo) == before
    lock.unlink()
    r = run_mreg(*args, cwd=repo)
    assert r.code == 0, r.err


def test_parent_is_recorded_as_the_version_it_names_or_the_external_uri_as_given(
    repo: Path, model_dir: Path
) -> None:
    reg = Registry.open(repo)
    reg.register("base", [model_dir], parent="hf://org/foundation-7b?rev=main")
    reg.promote("base@v1", "staging")
    (model_dir / "weights.bin").write_bytes(b"fine-tuned")
    r = run_mreg("register", "ft", str(model_dir), "--parent", "base@staging", cwd=repo)
    assert r.code == 0, r.err
    assert _manifest(repo, "base", 1)["parent"] == "hf://org/foundation-7b?rev=main"
    assert _manifest(repo, "ft", 1)["parent"] == "base@v1"  # the version, not the alias that moves

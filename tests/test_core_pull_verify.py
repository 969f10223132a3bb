"""`mreg pull` and `mreg verify` (SPEC §5, §8): verified bytes only; corruption is exit 5, never a file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from mreg import Registry
from testing.gitutil import refs, run_mreg


@pytest.fixture
def registered(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "src"
    (src / "tokenizer" / "deep").mkdir(parents=True)
    (src / "weights.bin").write_bytes(os.urandom(300_000))
    (src / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    (src / "tokenizer" / "deep" / "merges.txt").write_text("a b\n")
    (src / "copy.txt").write_text("a\nb\n")  # same bytes as vocab.txt: one object, two paths
    Registry.open(repo).register("fraud", [src])
    return repo, src


def _object(repo: Path, digest: str) -> Path:
    h = digest.removeprefix("sha256:")
    return repo / ".git" / "mreg" / "objects" / "sha256" / h[:2] / h[2:]


def _corrupt(path: Path, data: bytes = b"corrupted bytes") -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def _digest_of(repo: Path, rel: str, model: str = "fraud", n: int = 1) -> str:
    m = Registry.open(repo).resolve(f"{model}@v{n}").manifest
    return next(a["digest"] for a in m["artifacts"] if a["path"] == rel)


def _all_files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


# -- pull ----------------------------------------------------------------------------------------------


@pytest.fixture(params=["kernel", "python"])
def copy_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each copy path in turn: the kernel's (copy_file_range or a reflink) and the forced fallback."""
    if request.param == "python":
        monkeypatch.setenv("MREG_COPY", "python")
    return str(request.param)


def test_pull_writes_identical_files_at_recorded_relative_paths(
    registered: tuple[Path, Path], tmp_path: Path, copy_mode: str
) -> None:
    repo, src = registered
    out = tmp_path / "out"
    r = run_mreg("pull", "fraud@v1", "-o", str(out), cwd=repo)
    assert r.code == 0, r.err
    assert "fraud@v1" in r.out and "4 file(s) verified" in r.out
    assert _all_files(out) == _all_files(src)
    for rel in _all_files(src):
        assert (out / rel).read_bytes() == (src / rel).read_bytes()


def test_pull_without_output_writes_model_dash_version_in_cwd(
    registered: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, src = registered
    work = tmp_path / "deploy"
    work.mkdir()
    r = run_mreg("pull", "fraud", "--repo", str(repo), "--json", cwd=work)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["ref"] == "fraud@v1"
    assert sorted(data["files"]) == _all_files(src)
    assert (work / "fraud-v1" / "weights.bin").read_bytes() == (src / "weights.bin").read_bytes()


def test_pull_into_existing_directory_replaces_stale_files(
    registered: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, _src = registered
    out = tmp_path / "out"
    (out / "tokenizer").mkdir(parents=True)
    (out / "tokenizer" / "vocab.txt").write_text("stale\n")
    # not an earlier pull of the model: replacing it takes force (issue 12), and then it is replaced whole
    Registry.open(repo).pull("fraud@v1", out, force=True)
    assert (out / "tokenizer" / "vocab.txt").read_text() == "a\nb\n"


def test_pull_corrupt_store_object_exits_5_and_leaves_no_corrupt_file(
    registered: tuple[Path, Path], tmp_path: Path, copy_mode: str
) -> None:
    repo, _src = registered
    digest = _digest_of(repo, "weights.bin")
    _corrupt(_object(repo, digest))
    out = tmp_path / "out"
    r = run_mreg("pull", "fraud@v1", "-o", str(out), cwd=repo)
    assert r.code == 5, (r.out, r.err)
    assert "Traceback" not in r.err
    assert digest in r.err and "corrupt" in r.err
    assert not (out / "weights.bin").exists()
    assert not [p for p in out.rglob("*") if p.is_file() and p.read_bytes() == b"corrupted bytes"]
    assert not [p for p in out.rglob(".*mreg-*")], "temporary files left behind"


def test_pull_corrupt_object_keeps_previous_good_file_at_destination(
    registered: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, src = registered
    out = tmp_path / "out"
    Registry.open(repo).pull("fraud@v1", out)
    _corrupt(_object(repo, _digest_of(repo, "weights.bin")), b"x" * 300_000)
    from mreg import IntegrityError

    with pytest.raises(IntegrityError):
        Registry.open(repo).pull("fraud@v1", out)
    assert (out / "weights.bin").read_bytes() == (src / "weights.bin").read_bytes()


def test_pull_missing_store_object_fails_without_partial_file(
    registered: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, _ = registered
    obj = _object(repo, _digest_of(repo, "weights.bin"))
    obj.unlink()
    out = tmp_path / "out"
    r = run_mreg("pull", "fraud@v1", "-o", str(out), cwd=repo)
    assert r.code in (3, 5), (r.code, r.err)
    assert "missing" in r.err and "Traceback" not in r.err
    assert not (out / "weights.bin").exists()


# -- verify --------------------------------------------------------------------------------------------


def test_verify_clean_store_passes(registered: tuple[Path, Path]) -> None:
    repo, _ = registered
    r = run_mreg("verify", cwd=repo)
    assert r.code == 0, r.err
    # three distinct artifact contents plus the environment's package lock
    assert "verified 4 object(s)" in r.out


def test_verify_corrupt_object_exits_5_naming_digest_and_user(registered: tuple[Path, Path]) -> None:
    repo, _ = registered
    digest = _digest_of(repo, "weights.bin")
    _corrupt(_object(repo, digest))
    before = refs(repo)
    r = run_mreg("verify", cwd=repo)
    assert r.code == 5, (r.out, r.err)
    assert f"CORRUPT  {digest}" in r.out and "fraud@v1:weights.bin" in r.out
    assert "Traceback" not in r.err and r.err.startswith("mreg: error:")
    assert refs(repo) == before


def test_verify_missing_object_exits_5_and_json_lists_it(registered: tuple[Path, Path]) -> None:
    repo, _ = registered
    digest = _digest_of(repo, "tokenizer/vocab.txt")
    _object(repo, digest).unlink()
    r = run_mreg("verify", "--json", cwd=repo)
    assert r.code == 5, r.err
    data = json.loads(r.out)  # one JSON document, even on failure
    assert data["ok"] is False
    assert data["error"]["code"] == "integrity"
    assert r.err.startswith("mreg: error:") and digest in r.err
    assert [m["digest"] for m in data["missing"]] == [digest]
    assert sorted(data["missing"][0]["used_by"]) == ["fraud@v1:copy.txt", "fraud@v1:tokenizer/vocab.txt"]


def test_verify_one_reference_checks_only_that_version(registered: tuple[Path, Path], tmp_path: Path) -> None:
    repo, _ = registered
    other = tmp_path / "other.bin"
    other.write_bytes(b"churn weights")
    Registry.open(repo).register("churn", [other])
    _corrupt(_object(repo, _digest_of(repo, "other.bin", model="churn")))
    assert Registry.open(repo).verify("fraud@v1").ok
    result = Registry.open(repo).verify()
    assert not result.ok and len(result.corrupt) == 1


def test_verify_reports_corrupt_lockfile_object(repo: Path, tmp_path: Path) -> None:
    lock = tmp_path / "req.lock"
    lock.write_text("numpy==2.0\n")
    w = tmp_path / "w.bin"
    w.write_bytes(b"w")
    m = Registry.open(repo).register("fraud", [w], lockfile=str(lock)).manifest
    _corrupt(_object(repo, m["environment"]["lockfile"]["digest"]))
    result = Registry.open(repo).verify()
    assert [c["used_by"] for c in result.corrupt] == [["fraud@v1:environment.lockfile"]]


# -- a corrupt manifest on the registry branch ------------------------------------------------------------


def _rewrite_manifest(repo: Path, path: str, text: str) -> None:
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "tmp-index")}

    def git(*args: str, input: str | None = None) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, env=env, input=input, capture_output=True, text=True, check=True
        ).stdout.strip()

    git("read-tree", "mreg/registry")
    blob = git("hash-object", "-w", "--stdin", input=text)
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = git("write-tree")
    commit = git("commit-tree", tree, "-p", "mreg/registry", "-m", "tamper")
    git("update-ref", "refs/heads/mreg/registry", commit)


def test_resolve_tampered_manifest_exits_5(registered: tuple[Path, Path]) -> None:
    repo, _ = registered
    path = "models/fraud/versions/1.yaml"
    doc = yaml.safe_load(
        subprocess.run(
            ["git", "show", f"mreg/registry:{path}"], cwd=repo, capture_output=True, text=True
        ).stdout
    )
    doc["artifacts"][0]["size"] += 1  # no longer matches the recorded digest
    _rewrite_manifest(repo, path, yaml.safe_dump(doc))
    r = run_mreg("resolve", "fraud@v1", cwd=repo)
    assert r.code == 5, (r.out, r.err)
    assert path in r.err and "digest" in r.err and "Traceback" not in r.err

"""`mreg` against a real S3-compatible server (moto's server on 127.0.0.1), through s3fs and
AWS_ENDPOINT_URL exactly as against AWS (SPEC §5, §8; issue 4)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from testing.gitutil import MREG, make_repo, refs, run_mreg
from testing.s3 import SECRET_KEY, Bucket, new_bucket, start_server

PART = 5 * 1024 * 1024
pytestmark = pytest.mark.s3


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MREG_PART_SIZE", str(PART))


@pytest.fixture
def team_repo(tmp_path: Path, s3: Bucket, small_parts: None) -> Path:
    path = tmp_path / "repo"
    make_repo(path)
    r = run_mreg("init", "--store", s3.url, cwd=path)
    assert r.code == 0, r.err
    return path


@pytest.fixture
def big_model(tmp_path: Path) -> Path:
    """~12 MiB of weights (three 5 MiB parts) and a small config."""
    d = tmp_path / "model"
    d.mkdir()
    (d / "weights.bin").write_bytes(os.urandom(1024 * 1024) * 12 + b"tail")
    (d / "config.json").write_text('{"layers": 3}\n')
    return d


def _sha(p: Path) -> str:
    import hashlib

    return hashlib.sha256(p.read_bytes()).hexdigest()


def _object_puts(s3: Bucket) -> list[Any]:
    return [r for r in s3.requests() if r.is_object_write]


@pytest.mark.slow
def test_register_and_pull_round_trip(team_repo: Path, s3: Bucket, big_model: Path, tmp_path: Path) -> None:
    r = run_mreg("register", "fraud", str(big_model), "--jobs", "4", cwd=team_repo)
    assert r.code == 0, r.err
    assert r.out.strip() == "fraud@v1"
    keys = s3.object_keys()
    assert keys and all(k.startswith("team/models/sha256/") for k in keys)
    parts = [q for q in s3.requests() if q.method == "PUT" and "partNumber=" in q.query]
    assert len(parts) == 3  # 12 MiB in 5 MiB parts
    assert s3.uploads() == []
    out = tmp_path / "out"
    r = run_mreg("pull", "fraud@v1", "-o", str(out), "--json", cwd=team_repo)
    assert r.code == 0, r.err
    assert json.loads(r.out)["from_store"] == 2
    for name in ("weights.bin", "config.json"):
        assert (out / name).read_bytes() == (big_model / name).read_bytes()
    ranged = [q for q in s3.requests() if q.is_object_read]
    assert len(ranged) >= 4  # 3 ranges of weights.bin + config.json
    r = run_mreg("verify", cwd=team_repo)
    assert r.code == 0, r.err


@pytest.mark.slow
def test_second_register_of_same_bytes_sends_no_put(
    team_repo: Path, s3: Bucket, big_model: Path, tmp_path: Path
) -> None:
    assert run_mreg("register", "fraud", str(big_model), cwd=team_repo).code == 0
    assert _object_puts(s3)
    copy = tmp_path / "copy"
    shutil.copytree(big_model, copy)  # new files, same bytes: the stat cache cannot help
    s3.recorder.clear()
    r = run_mreg("register", "other", str(copy), "--json", cwd=team_repo)
    assert r.code == 0, r.err
    assert _object_puts(s3) == []
    assert not [q for q in s3.requests() if q.method == "POST"]  # no multipart upload was even started
    assert s3.uploads() == []


@pytest.mark.slow
def test_second_pull_is_served_from_the_cache(
    team_repo: Path, s3: Bucket, big_model: Path, tmp_path: Path
) -> None:
    assert run_mreg("register", "fraud", str(big_model), cwd=team_repo).code == 0
    assert run_mreg("pull", "fraud@v1", "-o", str(tmp_path / "a"), cwd=team_repo).code == 0
    s3.recorder.clear()
    r = run_mreg("pull", "fraud@v1", "-o", str(tmp_path / "b"), "--json", cwd=team_repo)
    assert r.code == 0, r.err
    assert json.loads(r.out)["from_cache"] == 2
    assert [q for q in s3.requests() if q.is_object_read or q.method == "HEAD"] == []
    assert (tmp_path / "b" / "weights.bin").read_bytes() == (big_model / "weights.bin").read_bytes()


@pytest.mark.slow
def test_tampered_object_is_exit_5_and_bad_bytes_are_discarded(
    team_repo: Path, s3: Bucket, big_model: Path, tmp_path: Path
) -> None:
    assert run_mreg("register", "fraud", str(big_model), cwd=team_repo).code == 0
    manifest = json.loads(run_mreg("show", "fraud@v1", "--json", cwd=team_repo).out)
    art = next(a for a in (manifest.get("manifest") or manifest)["artifacts"] if a["path"] == "weights.bin")
    hexd = art["digest"].split(":")[1]
    key = f"team/models/sha256/{hexd[:2]}/{hexd[2:]}"
    s3.client.put_object(Bucket=s3.name, Key=key, Body=b"evil" * (3 * 1024 * 1024))
    out = tmp_path / "out"
    r = run_mreg("pull", "fraud@v1", "-o", str(out), cwd=team_repo)
    assert r.code == 5, (r.code, r.err)
    assert "corrupt" in r.err and art["digest"] in r.err
    assert not (out / "weights.bin").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".weights.bin")]  # no temp file left
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "mreg" / "objects"
    assert not (cache / "sha256" / hexd[:2] / hexd[2:]).exists()
    assert not list((cache / "tmp").glob("*")) if (cache / "tmp").exists() else True
    r = run_mreg("verify", cwd=team_repo)
    assert r.code == 5 and "CORRUPT" in r.out


@pytest.mark.slow
def test_failed_upload_aborts_multipart_and_commits_nothing(
    team_repo: Path, s3: Bucket, big_model: Path
) -> None:
    before = refs(team_repo)
    s3.recorder.fault = lambda m, p, q: (
        (500, b"<Error><Code>InternalError</Code></Error>") if "partNumber=2" in q else None
    )
    r = run_mreg("register", "fraud", str(big_model), cwd=team_repo, env={"AWS_MAX_ATTEMPTS": "1"})
    assert r.code == 6, (r.code, r.err)
    assert r.err.startswith("mreg: error: store s3://") and "Traceback" not in r.err
    assert refs(team_repo) == before
    assert s3.uploads() == []  # aborted: no orphaned parts
    weights = _sha(big_model / "weights.bin")
    assert not [
        k for k in s3.object_keys() if k.replace("/", "").endswith(weights)
    ]  # the big object never appeared
    s3.recorder.fault = None
    r = run_mreg("register", "fraud", str(big_model), cwd=team_repo)
    assert r.code == 0 and r.out.strip() == "fraud@v1", r.err


@pytest.mark.slow
def test_interrupt_mid_upload_aborts_multipart(team_repo: Path, s3: Bucket, big_model: Path) -> None:
    held, release = threading.Event(), threading.Event()

    def hold(m: str, p: str, q: str) -> tuple[int, bytes] | None:
        if "partNumber=" in q:
            held.set()
            release.wait(20)
            return 500, b"<Error><Code>InternalError</Code></Error>"
        return None

    s3.recorder.fault = hold
    before = refs(team_repo)
    proc = subprocess.Popen(
        [*MREG, "register", "fraud", str(big_model)],
        cwd=team_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert held.wait(30), "the upload never reached a part"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "mreg: interrupted" in err and "Traceback" not in err
    assert refs(team_repo) == before
    s3.recorder.fault = None
    assert s3.uploads() == []


@pytest.mark.slow
def test_server_stopped_mid_upload_is_exit_6_then_retry_completes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    big_model: Path,
    small_parts: None,
) -> None:
    srv = start_server()
    bucket = new_bucket(srv, monkeypatch)
    repo = tmp_path / "repo"
    make_repo(repo)
    assert run_mreg("init", "--store", bucket.url, cwd=repo).code == 0
    before = refs(repo)

    def stop_on_part(m: str, p: str, q: str) -> tuple[int, bytes] | None:
        if "partNumber=" in q:
            threading.Thread(target=srv.stop, daemon=True).start()
            time.sleep(0.3)
            return 503, b"<Error><Code>ServiceUnavailable</Code></Error>"
        return None

    srv.recorder.fault = stop_on_part
    r = run_mreg("register", "fraud", str(big_model), cwd=repo, env={"AWS_MAX_ATTEMPTS": "2"})
    assert r.code == 6, (r.code, r.err)
    assert "unreachable" in r.err and SECRET_KEY not in r.err
    assert refs(repo) == before  # nothing committed on mreg/registry

    srv2 = start_server()  # same in-process backend: the bucket is still there, on a new port
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", srv2.endpoint)
        r = run_mreg("register", "fraud", str(big_model), cwd=repo)
        assert r.code == 0 and r.out.strip() == "fraud@v1", r.err
        r = run_mreg("pull", "fraud@v1", "-o", str(tmp_path / "out"), cwd=repo)
        assert r.code == 0, r.err
        assert (tmp_path / "out" / "weights.bin").read_bytes() == (big_model / "weights.bin").read_bytes()
    finally:
        srv2.stop()


@pytest.mark.slow
def test_credentials_never_reach_any_file_or_output(
    team_repo: Path, s3: Bucket, big_model: Path, tmp_path: Path
) -> None:
    key_id = os.environ["AWS_ACCESS_KEY_ID"]
    outputs = []
    for args in (
        ["register", "fraud", str(big_model), "-m", "first"],
        ["pull", "fraud@v1", "-o", str(tmp_path / "o")],
        ["verify"],
        ["gc", "--dry-run"],
    ):
        r = run_mreg(*args, cwd=team_repo)
        assert r.code == 0, (args, r.err)
        outputs += [r.out, r.err]
    r = run_mreg(
        "pull",
        "fraud@v1",
        "-o",
        str(tmp_path / "p"),
        cwd=team_repo,
        env={
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_MAX_ATTEMPTS": "1",
            "XDG_CACHE_HOME": str(tmp_path / "c2"),
        },
    )
    assert r.code == 6, r.err
    outputs += [r.out, r.err]
    # every file mreg wrote: the repo with all git objects decompressed, the cache, the bucket
    dump = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=team_repo, capture_output=True, check=True
    ).stdout
    blobs = [dump]
    for root in (team_repo, Path(os.environ["XDG_CACHE_HOME"]), tmp_path / "o"):
        blobs += [p.read_bytes() for p in root.rglob("*") if p.is_file()]
    blobs += [s3.client.get_object(Bucket=s3.name, Key=k)["Body"].read() for k in s3.object_keys()]
    for secret in (SECRET_KEY, key_id):
        assert not any(secret.encode() in b for b in blobs), secret
        assert not any(secret in text for text in outputs), secret

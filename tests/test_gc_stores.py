"""`mreg gc` on any store (SPEC §8; issue 4): referenced and young objects survive, including the
objects of a register that has uploaded but not yet committed its manifest."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from mreg.ports import ObjectStore
from mreg.store import open_store
from testing.gitutil import MREG, make_repo, run_mreg
from testing.s3 import Bucket


def _repo_and_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, ObjectStore]:
    repo = tmp_path / "repo"
    make_repo(repo)
    if kind == "local":
        url = None
    elif kind == "file":
        url = (tmp_path / "team-store").as_uri()
    else:
        bucket: Bucket = request.getfixturevalue("s3")
        url = bucket.url
    r = run_mreg("init", *(["--store", url] if url else []), cwd=repo)
    assert r.code == 0, r.err
    return repo, open_store(url, default_dir=repo / ".git" / "mreg" / "objects")


def _gc(repo: Path, *args: str) -> dict:  # type: ignore[type-arg]
    r = run_mreg("gc", "--json", *args, cwd=repo)
    assert r.code == 0, r.err
    return json.loads(r.out)  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind", ["local", "file", pytest.param("s3", marks=[pytest.mark.s3, pytest.mark.slow])]
)
def test_gc_keeps_referenced_and_young_objects(
    kind: str, tmp_path: Path, model_dir: Path, request: pytest.FixtureRequest
) -> None:
    repo, store = _repo_and_store(kind, tmp_path, request)
    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy==2.0.0\n")
    assert run_mreg("register", "fraud", str(model_dir), "--lockfile", str(lock), cwd=repo).code == 0
    # a register elsewhere that has uploaded its bytes but not yet committed its manifest
    pending = tmp_path / "pending.bin"
    pending.write_bytes(b"uncommitted" * 100)
    digest, size, wrote = store.put_file(pending)
    assert wrote

    report = _gc(repo)  # default grace 24h
    assert report["deleted"] == [] and report["young"] == 1 and report["young_bytes"] == size
    assert report["kept"] == 4  # two artifacts, the package lock, the lockfile
    assert store.exists(digest)

    report = _gc(repo, "--grace", "0s", "--dry-run")
    assert report["deleted"] == [{"digest": digest, "size": size}] and report["freed_bytes"] == size
    assert store.exists(digest)  # a dry run deletes nothing

    report = _gc(repo, "--grace", "0s")
    assert [d["digest"] for d in report["deleted"]] == [digest]
    assert not store.exists(digest)
    r = run_mreg("verify", cwd=repo)
    assert r.code == 0, r.err
    r = run_mreg("gc", "--grace", "0s", cwd=repo)
    assert r.code == 0 and "deleted 0 object(s), 0 B; kept 4 referenced" in r.out


@pytest.mark.s3
@pytest.mark.slow
def test_gc_during_a_live_register_takes_nothing(
    tmp_path: Path, s3: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MREG_PART_SIZE", str(5 * 1024 * 1024))
    repo, _ = _repo_and_store("s3", tmp_path, _FakeRequest(s3))
    model = tmp_path / "m"
    model.mkdir()
    (model / "small.json").write_text('{"a": 1}\n')
    (model / "big.bin").write_bytes(os.urandom(11 * 1024 * 1024))
    small_put, held, release = threading.Event(), threading.Event(), threading.Event()

    def hold_parts(m: str, p: str, q: str) -> tuple[int, bytes] | None:
        if m == "PUT" and not q and p.count("/") >= 2:
            small_put.set()
        return None

    def after(m: str, p: str, q: str) -> None:  # the part is stored; its response is held back
        if "partNumber=" in q:
            held.set()
            release.wait(30)

    s3.recorder.fault = hold_parts
    s3.recorder.after = after
    proc = subprocess.Popen(
        [*MREG, "register", "fraud", str(model)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert held.wait(30) and small_put.wait(30), "register never got mid-upload"
        report = _gc(repo)  # the register has stored small.json, is uploading big.bin, has committed nothing
        assert report["deleted"] == [] and report["young"] >= 1
    finally:
        release.set()
        out, err = proc.communicate(timeout=60)
    s3.recorder.fault = s3.recorder.after = None
    assert proc.returncode == 0, err
    assert out.strip() == "fraud@v1"
    r = run_mreg("verify", cwd=repo)
    assert r.code == 0, r.out + r.err
    assert _gc(repo, "--grace", "0s")["deleted"] == []  # now everything is referenced


@pytest.mark.slow
@pytest.mark.s3
def test_gc_aborts_stale_multipart_uploads_under_the_prefix(tmp_path: Path, s3: Bucket) -> None:
    repo, _ = _repo_and_store("s3", tmp_path, _FakeRequest(s3))
    mine = s3.client.create_multipart_upload(Bucket=s3.name, Key="team/models/sha256/ab/" + "c" * 62)
    other = s3.client.create_multipart_upload(Bucket=s3.name, Key="someone-else/file")
    s3.client.upload_part(
        Bucket=s3.name, Key=mine["Key"], UploadId=mine["UploadId"], PartNumber=1, Body=b"x" * 1024
    )
    assert _gc(repo)["stale_uploads"] == 0  # its newest part is younger than 24h
    r = run_mreg("gc", "--grace", "0s", cwd=repo)
    assert r.code == 0 and "aborted 1 unfinished upload(s)" in r.out
    assert [u["UploadId"] for u in s3.uploads()] == [other["UploadId"]]
    assert mine["UploadId"] != other["UploadId"]


class _FakeRequest:
    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def getfixturevalue(self, name: str) -> Bucket:
        return self.bucket

"""`mreg gc --retention` at scale on S3 (issue 20): 10,000 versions naming 100,000 objects.

    .venv/bin/python bench/retention_bench.py                  # 10 models x 1,000 versions x 10 objects
    .venv/bin/python bench/retention_bench.py --versions 100   # quicker

Starts moto's S3 server on 127.0.0.1 in this process (testing/s3.py's recording server, so every
request mreg sends is counted), writes the registry with `git fast-import` (one commit a round of
registrations, valid manifests of 10 small artifacts each), uploads every object with boto3 (untimed),
sets `retention: {keep_last: 100}` on the governed branch, then times `mreg gc --retention --dry-run`
and `mreg gc --retention` as whole processes and prints the requests each sent, by kind, and what a
second run finds to do (nothing). Everything lives in a temp dir, deleted after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]
PY = sys.executable
BUCKET = "mreg-retention"
WHO = "Bench Bot <bench@example.com>"


def build(repo: Path, models: int, versions: int, files: int, store: str) -> dict[str, bytes]:
    """The registry, and every object's bytes by digest."""
    from gen_registry import Stream, _finish, _main_branch, _new_repo

    from mreg.manifest import MANIFEST_SCHEMA, REGISTRY_SCHEMA, artifact_set_digest, dump_manifest, dump_yaml
    from mreg.ops.init import REGISTRY_README

    _new_repo(repo)
    s = Stream()
    _main_branch(s)
    config = {"schema": REGISTRY_SCHEMA, "store": store, "retention": {"keep_last": 100}}
    s.commit("refs/heads/mreg/aliases", "init mreg aliases\n", {"mreg.yaml": dump_yaml(config).encode()})
    s.commit("refs/heads/mreg/registry", "init mreg registry\n", {"README.md": REGISTRY_README})
    lock = b"numpy==2.1.0\n"
    objects = {"sha256:" + hashlib.sha256(lock).hexdigest(): lock}
    packages = next(iter(objects))
    for v in range(1, versions + 1):
        files_of_round = {}
        for m in range(1, models + 1):
            name = f"model-{m:03d}"
            artifacts = []
            for k in range(files):
                data = f"{name} v{v} file {k}\n".encode() * 8
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                objects[digest] = data
                artifacts.append({"path": f"part-{k:02d}.bin", "size": len(data), "digest": digest})
            t = s.clock + 1
            manifest = {
                "schema": MANIFEST_SCHEMA,
                "model": name,
                "version": v,
                "digest": artifact_set_digest(artifacts),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                "created_by": WHO,
                "message": None,
                "source": None,
                "artifacts": artifacts,
                "environment": {"python": "cpython 3.11.7", "platform": "linux-x86_64", "packages": packages},
                "data": [],
                "params": {},
                "metrics": {},
                "parent": None,
                "labels": {},
            }
            files_of_round[f"models/{name}/versions/{v}.yaml"] = dump_manifest(manifest)
        s.commit("refs/heads/mreg/registry", f"register round v{v}\n", files_of_round)
    _finish(repo, s.bytes())
    return objects


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, dict]:  # type: ignore[type-arg]
    t = time.monotonic()
    proc = subprocess.run([PY, "-m", "mreg", *args], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - t
    if proc.returncode != 0:
        raise SystemExit(f"mreg {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return elapsed, json.loads(proc.stdout)


def kinds(requests: list) -> str:  # type: ignore[type-arg]
    c: Counter[str] = Counter()
    for r in requests:
        if r.method == "POST" and "delete" in r.query:
            c["DeleteObjects"] += 1
        elif r.method == "GET" and "list-type" in r.query:
            c["LIST"] += 1
        else:
            c[r.method] += 1
    return ", ".join(f"{n} {k}" for k, n in sorted(c.items())) or "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--versions", type=int, default=1000, help="versions of each model")
    ap.add_argument("--files", type=int, default=10, help="objects each version names")
    args = ap.parse_args()

    from testing.s3 import ACCESS_KEY, REGION, SECRET_KEY, client_for, start_server

    work = Path(tempfile.mkdtemp(prefix="mreg-retention-bench-"))
    server = start_server()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MREG_"))}
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL=server.endpoint,
            AWS_EC2_METADATA_DISABLED="true",
            HOME=str(work),
            XDG_CACHE_HOME=str(work / "cache"),
            GIT_CONFIG_NOSYSTEM="1",
        )
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        client = client_for(server.endpoint)
        client.create_bucket(Bucket=BUCKET)
        repo = work / "repo"
        t = time.monotonic()
        objects = build(repo, args.models, args.versions, args.files, f"s3://{BUCKET}/models")
        built = time.monotonic() - t

        def put(item: tuple[str, bytes]) -> None:
            digest, data = item
            client.put_object(Bucket=BUCKET, Key=f"models/sha256/{digest[7:9]}/{digest[9:]}", Body=data)

        t = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(put, objects.items()))
        uploaded = time.monotonic() - t
        n_versions = args.models * args.versions
        print(
            f"registry: {n_versions:,} versions, {len(objects):,} objects "
            f"(built in {built:.1f} s, uploaded in {uploaded:.1f} s); retention: keep_last 100"
        )
        rows = []
        for label, argv in (
            ("dry run", ["gc", "--retention", "--dry-run", "--json", "--offline"]),
            ("purge", ["gc", "--retention", "--json", "--offline"]),
            ("second run", ["gc", "--retention", "--json", "--offline"]),
        ):
            server.recorder.clear()
            elapsed, out = timed(argv, repo, env)
            reqs = server.recorder.requests(BUCKET)
            rows.append(
                f"| `mreg gc --retention{' --dry-run' if 'dry' in label else ''}` ({label}) | {elapsed:.1f} s "
                f"| {len(out['purged']):,} | {len(out['objects']):,} | {len(reqs):,}: {kinds(reqs)} |"
            )
        print("\n| command | time | versions purged | objects deleted | S3 requests |\n|---|---|---|---|---|")
        print("\n".join(rows))
        left = sum(
            page.get("KeyCount", 0)
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        )
        keep = args.models * min(100, args.versions) * args.files + 1
        print(f"\nobjects left in the bucket: {left:,} (the kept versions' {keep:,})")
        assert left == keep
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

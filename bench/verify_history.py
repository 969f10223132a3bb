"""How long the append-only verification of `mreg/registry` takes (SPEC §3a.1), at 10,000 and
100,000 registrations, one commit per registration (as `mreg register` writes them) spread over
100 and 1,000 models.

Rows, each the min/median/max of --runs runs:
  fresh clone   what a clone with no verified anchor does on its first fetch (`verify_advance` with
                no anchor: the tip's tree, then the per-commit pass over the whole history)
  incremental   a fetch that brings 100 new registrations (the per-commit `git log --raw` pass)
  full audit    `mreg check`'s per-commit pass over the whole history
  git log --raw the same pass in git alone, without mreg's parsing: the floor for the audit

Usage:  python bench/verify_history.py [--sizes 10000,100000] [--runs 3] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mreg.git.history import scan_commits, verify_advance
from mreg.git.repo import GitRepo


def build(path: Path, registrations: int) -> None:
    models = 100 if registrations <= 10_000 else 1_000
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    lines = [
        b"commit refs/heads/mreg/registry\ncommitter B <b@example.com> 1700000000 +0000\ndata 18\ninit mreg registry\n"
        b"M 644 inline README.md\ndata 3\nhi\n\n"
    ]
    for i in range(registrations):
        model, version = f"model-{i % models:04d}", i // models + 1
        body = b"schema: mreg/manifest/v1\nmodel: %s\nversion: %d\n" % (model.encode(), version)
        subject = b"register %s v%d" % (model.encode(), version)
        lines.append(
            b"commit refs/heads/mreg/registry\ncommitter B <b@example.com> %d +0000\ndata %d\n%s\n"
            b"M 644 inline models/%s/versions/%d.yaml\ndata %d\n%s\n"
            % (1700000001 + i, len(subject), subject, model.encode(), version, len(body), body)
        )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(lines), check=True)


def timed(fn: object, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t)
    return out


def measure(n: int, git: GitRepo, runs: int) -> list[tuple[int, str, list[float]]]:
    tip = git.out("rev-parse", "refs/heads/mreg/registry")
    back = git.out("rev-parse", f"{tip}~100")
    raw = ("log", "-z", "--raw", "--root", "--no-renames", "--no-abbrev", "--format=%x01%H %P", tip)
    return [
        (n, "fresh clone", timed(lambda: verify_advance(git, None, tip, remote="origin"), runs)),
        (n, "incremental (100 new)", timed(lambda: verify_advance(git, back, tip, remote="origin"), runs)),
        (n, "full audit (check)", timed(lambda: scan_commits(git, tip), runs)),
        (n, "git log --raw alone", timed(lambda: git.run(*raw), runs)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tmp", default=None)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="mreg-verify-bench-") as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            repo = Path(tmp) / f"r{n}.git"
            build(repo, n)
            rows += measure(n, GitRepo(repo, None), args.runs)
    print("| registrations | pass | min | median | max |")
    print("|---:|---|---:|---:|---:|")
    for n, name, ts in rows:
        print(f"| {n:,} | {name} | {min(ts):.3f} s | {statistics.median(ts):.3f} s | {max(ts):.3f} s |")


if __name__ == "__main__":
    main()

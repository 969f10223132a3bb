"""`mreg import mlflow` of a registry of N versions × M MiB (issue 18), timed once, then the re-run.

    .venv/bin/python bench/import_bench.py --versions 100 --size-mib 10

Builds the MLflow registry (sqlite backend, local artifact store) with testing/mlflow_world.py in a
temporary directory (untimed), then times, as whole processes: the import into a fresh registry (the
default local store), and the second run (must upload 0 bytes). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--versions", type=int, default=100)
    ap.add_argument("--size-mib", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mreg-import-bench-") as tmp:
        world, repo = Path(tmp, "mlflow"), Path(tmp, "repo")
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "testing.mlflow_world",
                "bench",
                str(world),
                str(args.versions),
                str(args.size_mib),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        built = time.perf_counter() - t
        repo.mkdir()
        for cmd in (
            ["git", "init", "-q", "-b", "main"],
            ["git", "commit", "-q", "--allow-empty", "-m", "init"],
        ):
            subprocess.run(cmd, cwd=repo, check=True)
        subprocess.run([sys.executable, "-m", "mreg", "init"], cwd=repo, check=True, capture_output=True)
        uri = f"sqlite:///{world / 'mlflow.db'}"
        rows = []
        for label in ("import", "re-run"):
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "mreg", "import", "mlflow", "--tracking-uri", uri, "--json"],
                cwd=repo,
                capture_output=True,
                text=True,
            )
            took = time.perf_counter() - t
            if proc.returncode != 0:
                sys.exit(proc.stderr)
            report = json.loads(proc.stdout)
            added = sum(r["versions_added"] for r in report["models"])
            rows.append((label, took, added, report["uploaded_bytes"]))
    total = args.versions * args.size_mib
    print(
        f"MLflow registry of {args.versions} versions × {args.size_mib} MiB ({total} MiB), built in {built:.1f} s (untimed)\n"
    )
    print("| run | wall time | versions added | uploaded | throughput |")
    print("|---|---|---|---|---|")
    for label, took, added, uploaded in rows:
        print(
            f"| {label} | {took:.1f} s | {added} | {uploaded / 2**20:.0f} MiB | {uploaded / 2**20 / took:.0f} MiB/s |"
        )


if __name__ == "__main__":
    main()

"""The main job: register → promote → pull on the embedded local store, in a temporary repo.

Run it with `.venv/bin/python examples/demo.py`. Every step is the real `mreg` command a user types;
the script checks what each one did and exits non-zero if anything is off.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

MREG = [sys.executable, "-m", "mreg"]


def sh(*args: str, cwd: Path, expect: int = 0) -> str:
    shown = " ".join(shlex.quote(a) for a in args)
    print(f"$ mreg {shown}")
    proc = subprocess.run([*MREG, *args], cwd=cwd, capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).rstrip()
    if out:
        print("  " + out.replace("\n", "\n  "))
    if proc.returncode != expect:
        sys.exit(f"demo failed: 'mreg {shown}' exited {proc.returncode}, expected {expect}")
    return proc.stdout.strip()


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mreg-demo-") as tmp:
        root = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(root / "cache")
        repo = root / "fraud-detection"
        repo.mkdir()
        git("init", "-q", "-b", "main", cwd=repo)
        git("config", "user.name", "Demo Trainer", cwd=repo)
        git("config", "user.email", "trainer@example.com", cwd=repo)
        (repo / "train.py").write_text("print('training')\n")
        git("add", "train.py", cwd=repo)
        git("commit", "-q", "-m", "training code", cwd=repo)

        print("\n# 1. A registry in the repo: two orphan branches, nothing checked out")
        sh("init", cwd=repo)

        print("\n# 2. Two training runs, registered with their params and metrics")
        model = repo / "out"
        model.mkdir()
        (model / "weights.bin").write_bytes(os.urandom(2 * 1024 * 1024))
        (model / "config.json").write_text('{"layers": 4}\n')
        (repo / "metrics.json").write_text('{"auc": 0.912, "latency_ms": 41}\n')
        (repo / "train.csv").write_text("id,label\n1,0\n2,1\n")
        v1 = sh(
            "register",
            "fraud",
            "out",
            "--param",
            "lr=0.01",
            "--param",
            "epochs=10",
            "--metrics",
            "metrics.json",
            "--data",
            "train=train.csv",
            "-m",
            "baseline",
            cwd=repo,
        )
        (model / "weights.bin").write_bytes(os.urandom(2 * 1024 * 1024))
        (repo / "metrics.json").write_text('{"auc": 0.934, "latency_ms": 38}\n')
        v2 = sh(
            "register",
            "fraud",
            "out",
            "--param",
            "lr=0.005",
            "--param",
            "epochs=20",
            "--metrics",
            "metrics.json",
            "--data",
            "train=train.csv",
            "--parent",
            v1,
            "-m",
            "longer schedule",
            cwd=repo,
        )
        assert (v1, v2) == ("fraud@v1", "fraud@v2"), (v1, v2)

        print("\n# 3. What is there, and what changed")
        sh("list", cwd=repo)
        sh("show", "fraud@v2", cwd=repo)
        sh("diff", "fraud@v1", "fraud@v2", cwd=repo)

        print("\n# 4. Promote: staging directly; production is protected (no remote here, so --no-review)")
        sh("promote", "fraud@v1", "--to", "staging", "--reason", "baseline for canary", cwd=repo)
        sh("promote", "fraud@v2", "--to", "staging", cwd=repo)
        sh("promote", "fraud@v2", "--to", "production", expect=2, cwd=repo)
        sh("promote", "fraud@v2", "--to", "production", "--no-review", "--reason", "auc +0.022", cwd=repo)
        assert sh("resolve", "fraud@production", cwd=repo) == "fraud@v2"

        print("\n# 5. A deploy job pulls the verified bytes")
        dest = root / "deploy"
        sh("pull", "fraud@production", "-o", str(dest), cwd=repo)
        assert sha256(dest / "weights.bin") == sha256(model / "weights.bin"), "pulled bytes differ"
        sh("verify", cwd=repo)

        print("\n# 6. Roll back in one command, and read the history")
        sh("rollback", "fraud@staging", "--reason", "canary regression", cwd=repo)
        assert sh("resolve", "fraud@staging", cwd=repo) == "fraud@v1"
        sh("log", "fraud", cwd=repo)

        print("\n# 7. Nobody's working tree was touched")
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True
        ).stdout
        branch = subprocess.run(
            ["git", "branch", "--show-current"], cwd=repo, capture_output=True, text=True
        ).stdout
        print(
            f"  current branch: {branch.strip()}; git status: {status.strip() or '(clean)'}".replace(
                "\n", " "
            )
        )
        assert branch.strip() == "main"
        print("\ndemo ok")


if __name__ == "__main__":
    main()

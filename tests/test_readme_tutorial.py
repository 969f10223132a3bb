"""The README's tutorial, run literally top to bottom in a fresh repository (issue 12): every command
in its first shell block, except installing mreg and shell completion, with a small train.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAIN = """\
import json, pathlib, sys
epochs = int(sys.argv[sys.argv.index("--epochs") + 1]) if "--epochs" in sys.argv else 10
out = pathlib.Path("out"); out.mkdir(exist_ok=True)
(out / "weights.bin").write_bytes(bytes(range(256)) * epochs)
(out / "config.json").write_text(json.dumps({"layers": 3}))
pathlib.Path("params.yaml").write_text(f"epochs: {epochs}\\nlr: 0.01\\n")
pathlib.Path("metrics.json").write_text(json.dumps({"auc": 0.9 + epochs / 1000}))
"""


def _tutorial() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Tutorial", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands, current = [], ""
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line) if not line.startswith("#") else ""
        if not line.strip():
            continue
        current += line.rstrip("\\").rstrip() + " "
        if not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return [c for c in commands if not c.startswith(("pip install", "mreg --install-completion", "cd "))]


@pytest.mark.slow
def test_the_tutorial_runs_literally(tmp_path: Path) -> None:
    repo = tmp_path / "my-training-repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "start"], cwd=repo, check=True)
    (repo / "train.py").write_text(TRAIN)
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("amount,label\n1,0\n")
    (repo / "data" / "holdout.csv").write_text("amount,label\n2,1\n")
    (repo / "uv.lock").write_text("version = 1\n")
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    commands = _tutorial()
    assert len(commands) >= 12 and commands[0] == "mreg init"
    outputs = []
    for command in commands:
        r = subprocess.run(
            command, shell=True, cwd=repo, env=env, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, (command, r.stderr)
        outputs.append((command, r.stdout))
    said = dict(outputs)
    registered = [out.strip() for cmd, out in outputs if cmd.startswith("mreg register")]
    assert registered == ["fraud@v1", "fraud@v2"]  # what the comments in the README say
    assert said["mreg resolve fraud@staging"].strip() in ("fraud@v2", "fraud@v1")
    assert sorted(p.name for p in (repo / "model").iterdir()) == ["config.json", "weights.bin"]

"""Generate big registries in bulk with `git fast-import`, for the bench suite.

Building a registry of 10,000 versions through the CLI would take hours; this writes the same git
objects directly, in seconds:

* `mreg`: a repository whose `mreg/registry` branch holds `models/<m>/versions/<n>.yaml` manifests
  that validate against mreg's manifest schema (digests computed with mreg's own functions), one
  commit per registration (or per round of registrations for very large registries), the
  `mreg/aliases` branch with `mreg.yaml`, and alias tags `mreg/<model>/<alias>/<seq>` in mreg's exact
  tag format (annotated, record from `mreg.git.tags.format_record`) pointing at the registry commit
  current when the alias moved. Refs are packed, as a clone has them.
* `gto`: the equivalent GTO repository: one empty commit per version, annotated tags
  `model@v0.0.N` on it, and annotated stage tags `model#stage#N` (N counts per artifact, as
  `gto assign` does), each with its own increasing tagger timestamp (GTO orders by timestamp).

Timeline (both kinds): versions are registered round by round (v1 of every model, then v2, ...);
after every `V / moves`-th round, each of the 3 aliases of every model moves once: production to
the version registered 4 rounds earlier, staging 2 rounds earlier, canary to the newest.

Usage:  python bench/gen_registry.py mreg DIR --models 100 --versions 100 --moves 20
        python bench/gen_registry.py gto  DIR --models 100 --versions 100 --moves 20
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ALIASES = ("production", "staging", "canary")
GTO_STAGES = {"production": "prod", "staging": "staging", "canary": "canary"}
LAG = {"production": 4, "staging": 2, "canary": 0}
T0 = 1_700_000_000  # fixed epoch: generated registries are byte-for-byte reproducible
WHO = "Bench Bot <bench@example.com>"


def model_name(i: int) -> str:
    return f"model-{i:04d}"


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def _git(repo: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1"}
    proc = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"git {args[0]} failed in {repo}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return proc


def _new_repo(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q")
    _git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    _git(path, "config", "user.name", "Bench Bot")
    _git(path, "config", "user.email", "bench@example.com")
    _git(path, "config", "gc.auto", "0")


def _finish(path: Path, stream: bytes) -> None:
    _git(path, "fast-import", "--quiet", "--done", input=stream)
    _git(path, "pack-refs", "--all")
    _git(path, "checkout", "-q", "-f", "main")


def _schedule(versions: int, moves: int) -> set[int]:
    """Rounds after which every alias moves once (`moves` of them, evenly spread)."""
    step = versions / moves
    return {max(1, round(step * (k + 1))) for k in range(moves)}


class Stream:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0
        self.clock = T0

    def next_mark(self) -> int:
        self.mark += 1
        return self.mark

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def add(self, chunk: bytes) -> None:
        self.parts.append(chunk)

    def commit(self, ref: str, message: str, files: dict[str, bytes], *, first: bool = False) -> int:
        mark = self.next_mark()
        t = self.tick()
        head = f"commit {ref}\nmark :{mark}\nauthor {WHO} {t} +0000\ncommitter {WHO} {t} +0000\n".encode()
        body = [head, _data(message.encode())]
        for path, payload in files.items():
            body.append(f"M 100644 inline {path}\n".encode())
            body.append(_data(payload))
        self.add(b"".join(body))
        return mark

    def tag(self, name: str, target_mark: int, message: str) -> None:
        t = self.tick()
        self.add(
            f"tag {name}\nfrom :{target_mark}\ntagger {WHO} {t} +0000\n".encode() + _data(message.encode())
        )

    def bytes(self) -> bytes:
        return b"".join(self.parts) + b"done\n"


def _main_branch(s: Stream) -> int:
    return s.commit(
        "refs/heads/main",
        "initial commit\n",
        {"README.md": b"# a user repository\n", "train.py": b"print('train')\n"},
    )


# -- mreg --------------------------------------------------------------------------------------------
def gen_mreg(
    path: Path,
    models: int,
    versions: int,
    moves: int,
    *,
    per_round: bool | None = None,
    validate_every: int = 1,
) -> dict[str, int]:
    from mreg.git.tags import format_record
    from mreg.layout import policy_path
    from mreg.manifest import (
        MANIFEST_SCHEMA,
        MODEL_SCHEMA,
        REGISTRY_SCHEMA,
        artifact_set_digest,
        dump_manifest,
        dump_yaml,
        validate_manifest,
    )
    from mreg.ops.init import REGISTRY_README

    if per_round is None:
        per_round = models * versions > 20_000  # one commit per registration up to 20k, else one per round
    _new_repo(path)
    s = Stream()
    _main_branch(s)
    s.commit(
        "refs/heads/mreg/aliases",
        "init mreg aliases\n",
        {"mreg.yaml": dump_yaml({"schema": REGISTRY_SCHEMA, "protected_aliases": ["production"]}).encode()},
    )
    tip = s.commit("refs/heads/mreg/registry", "init mreg registry\n", {"README.md": REGISTRY_README})
    packages = (
        "sha256:"
        + hashlib.sha256(b"# python 3.11.7 cpython linux-x86_64\nnumpy==2.1.0\ntorch==2.5.0\n").hexdigest()
    )
    digests: dict[tuple[int, int], str] = {}
    current: dict[tuple[int, str], tuple[int, int]] = {}  # (model, alias) -> (seq, version)
    move_after = _schedule(versions, moves)
    n_manifests = n_tags = 0
    for v in range(1, versions + 1):
        round_files: dict[str, bytes] = {}
        for m in range(1, models + 1):
            name = model_name(m)
            blob_hex = hashlib.sha256(f"{name}/{v}/weights".encode()).hexdigest()
            artifacts = [
                {
                    "path": "config.json",
                    "size": 412,
                    "digest": "sha256:" + hashlib.sha256(f"{name}/{v}/cfg".encode()).hexdigest(),
                },
                {"path": "model.safetensors", "size": 104_857_600 + v, "digest": "sha256:" + blob_hex},
            ]
            t = s.clock + 1
            manifest = {
                "schema": MANIFEST_SCHEMA,
                "model": name,
                "version": v,
                "digest": artifact_set_digest(artifacts),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                "created_by": WHO,
                "message": f"nightly retrain {v}",
                "source": {
                    "repository": "https://example.com/team/models.git",
                    "commit": hashlib.sha1(f"{v}".encode()).hexdigest(),
                    "dirty": False,
                },
                "artifacts": artifacts,
                "environment": {"python": "cpython 3.11.7", "platform": "linux-x86_64", "packages": packages},
                "data": [
                    {
                        "name": "train",
                        "uri": f"s3://datasets/{name}/train.parquet",  # one table a model, a new etag a round
                        "etag": f"{v:032x}",
                        "size": 5_000_000 + v,
                    }
                ],
                "params": {"lr": 0.001, "epochs": 10 + v % 5, "optimizer": {"name": "adam", "beta1": 0.9}},
                "metrics": {"auc": 0.9 + (v % 97) / 1000, "loss": 0.1 - (v % 89) / 10_000},
                "parent": f"{name}@v{v - 1}" if v > 1 else None,
                "labels": {"team": "risk"},
            }
            if validate_every and n_manifests % validate_every == 0:
                validate_manifest(manifest, where=f"{name}@v{v}")
            digests[(m, v)] = manifest["digest"]
            file_path = f"models/{name}/versions/{v}.yaml"
            if per_round:
                round_files[file_path] = dump_manifest(manifest)
            else:
                tip = s.commit(
                    "refs/heads/mreg/registry",
                    f"register {name} v{v}\n",
                    {file_path: dump_manifest(manifest)},
                )
            n_manifests += 1
        if per_round:
            tip = s.commit(
                "refs/heads/mreg/registry", f"register round v{v} ({models} models)\n", round_files
            )
        if v in move_after:
            for m in range(1, models + 1):
                name = model_name(m)
                for alias in ALIASES:
                    target = max(1, v - LAG[alias])
                    seq, prev = current.get((m, alias), (0, None))
                    record = {
                        "event": "promote",
                        "model": name,
                        "alias": alias,
                        "version": target,
                        "digest": digests[(m, target)],
                        "previous": prev,
                        "reason": f"bench move {seq + 1}",
                        "request": None,
                    }
                    s.tag(f"mreg/{name}/{alias}/{seq + 1}", tip, format_record(record))
                    current[(m, alias)] = (seq + 1, target)
                    n_tags += 1
    # The governed branch approves each model's current production, as `apply` leaves it after the
    # reviewed merge: readers follow a protected alias only when its tag matches the pin (SPEC §3a).
    pins = {
        policy_path(model_name(m)): dump_yaml(
            {
                "schema": MODEL_SCHEMA,
                "aliases": {"production": {"version": ver, "digest": digests[(m, ver)]}},
            }
        ).encode()
        for (m, a), (_, ver) in sorted(current.items())
        if a == "production"
    }
    if pins:
        s.commit("refs/heads/mreg/aliases", "approve production pins\n", pins)
    _finish(path, s.bytes())
    expected = {f"{model_name(m)}@{a}": ver for (m, a), (_, ver) in current.items()}
    return {"manifests": n_manifests, "tags": n_tags, "expected": expected}  # type: ignore[dict-item]


# -- GTO ---------------------------------------------------------------------------------------------
def gen_gto(path: Path, models: int, versions: int, moves: int) -> dict[str, int]:
    _new_repo(path)
    s = Stream()
    _main_branch(s)
    commit_of: dict[tuple[int, int], int] = {}
    counter: dict[int, int] = {}
    current: dict[tuple[int, str], int] = {}
    move_after = _schedule(versions, moves)
    n_tags = 0
    for v in range(1, versions + 1):
        for m in range(1, models + 1):
            name = model_name(m)
            mark = s.commit("refs/heads/main", f"train {name} v{v}\n", {})
            commit_of[(m, v)] = mark
            s.tag(f"{name}@v0.0.{v}", mark, f"Registering artifact {name} version v0.0.{v}")
            n_tags += 1
        if v in move_after:
            for m in range(1, models + 1):
                name = model_name(m)
                for alias in ALIASES:
                    target = max(1, v - LAG[alias])
                    counter[m] = counter.get(m, 0) + 1
                    stage = GTO_STAGES[alias]
                    s.tag(
                        f"{name}#{stage}#{counter[m]}",
                        commit_of[(m, target)],
                        f"Assigning stage {stage} to artifact {name} version v0.0.{target}",
                    )
                    current[(m, alias)] = target
                    n_tags += 1
    _finish(path, s.bytes())
    expected = {f"{model_name(m)}#{GTO_STAGES[a]}": ver for (m, a), ver in current.items()}
    return {"tags": n_tags, "expected": expected}  # type: ignore[dict-item]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["mreg", "gto"])
    p.add_argument("dir", type=Path)
    p.add_argument("--models", type=int, default=100)
    p.add_argument("--versions", type=int, default=100)
    p.add_argument("--moves", type=int, default=20, help="moves of each of the 3 aliases per model")
    p.add_argument(
        "--validate-every", type=int, default=1, help="schema-validate every Nth manifest (0: none)"
    )
    a = p.parse_args(argv)
    if a.dir.exists() and any(a.dir.iterdir()):
        p.error(f"{a.dir} exists and is not empty")
    t = time.perf_counter()
    if a.kind == "mreg":
        info = gen_mreg(a.dir, a.models, a.versions, a.moves, validate_every=a.validate_every)
    else:
        info = gen_gto(a.dir, a.models, a.versions, a.moves)
    info.pop("expected", None)
    print(f"{a.kind} registry in {a.dir}: {info} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

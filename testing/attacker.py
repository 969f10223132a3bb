"""A collaborator with push rights who is not a reviewer (SPEC §1): plain git on a clone of the bare
remote, doing what mreg never does — edit, delete, rewrite, forge tags — and pushing it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from mreg.manifest import artifact_set_digest, dump_manifest

EVIL = "Mallory <mallory@example.com>"


class Attacker:
    def __init__(self, bare: Path, work: Path) -> None:
        self.bare = bare
        self.work = work
        subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", str(bare), str(work)],
            check=True,
            capture_output=True,
        )
        self.git("config", "user.name", "Mallory")
        self.git("config", "user.email", "mallory@example.com")

    def git(self, *args: str, input: str | None = None) -> str:
        proc = subprocess.run(["git", *args], cwd=self.work, capture_output=True, text=True, input=input)
        assert proc.returncode == 0, f"git {args}: {proc.stderr}"
        return proc.stdout.strip()

    def fetch(self) -> None:
        self.git(
            "fetch", "--quiet", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"
        )

    def manifest(self, model: str, version: int, rev: str = "origin/mreg/registry") -> dict:
        self.fetch()
        return dict(yaml.safe_load(self.git("show", f"{rev}:models/{model}/versions/{version}.yaml")))

    def commit_registry(
        self, files: dict[str, bytes | None], subject: str, *, base: str = "origin/mreg/registry"
    ) -> str:
        """One commit on the registry branch (checked out in this clone only) with these files set or removed."""
        self.fetch()
        self.git("checkout", "--quiet", "-B", "attack", base)
        added = []
        for path, data in files.items():
            target = self.work / path
            if data is None:
                self.git("rm", "--quiet", path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            added.append(path)
        if added:  # one `git add` for them all: a crafted commit may hold thousands of files
            self.git("add", "--", *added)
        self.git("commit", "--quiet", "-m", subject)
        return self.git("rev-parse", "HEAD")

    def push_registry(self, commit: str, *, force: bool = False) -> None:
        self.git(
            "push", "--quiet", *(["--force"] if force else []), "origin", f"{commit}:refs/heads/mreg/registry"
        )

    def tag(self, name: str, target: str, message: str, *, lightweight: bool = False) -> None:
        if lightweight:
            self.git("tag", name, target)
        else:
            self.git("tag", "-a", "-F", "-", name, target, input=message)
        self.git("push", "--quiet", "origin", f"refs/tags/{name}")


def swap_weights(manifest: dict, donor: dict, **metrics: float) -> bytes:
    """The same version number with another version's artifacts, its digest recomputed so that the
    manifest passes every schema and digest check on its own."""
    doc = dict(manifest)
    doc["artifacts"] = donor["artifacts"]
    doc["digest"] = artifact_set_digest(doc["artifacts"])
    doc["metrics"] = {**(doc.get("metrics") or {}), **metrics}
    return dump_manifest(doc)


def forged_record(
    model: str, alias: str, version: int | None, digest: str | None, *, reason: str, request: str
) -> str:
    import json

    rec = {
        "event": "promote",
        "model": model,
        "alias": alias,
        "version": version,
        "digest": digest,
        "previous": None,
        "reason": reason,
        "request": request,
    }
    return (
        f"promote {model} v{version} to {alias}\n\n"
        + "\n".join(f"{k}: {json.dumps(v)}" for k, v in rec.items())
        + "\n"
    )

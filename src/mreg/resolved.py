"""`Version`: what resolving a reference gives (SPEC §2), and the `Evaluation`s `show` attaches to
it, on their own so that `mreg resolve` does not build every result class (`mreg.results`
re-exports them with the others)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from mreg.manifest import Manifest


def plain(value: Any) -> Any:
    """JSON data of a result: dataclasses as mappings, tuples as lists, paths as strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class Evaluation:
    """One evaluation record (SPEC §11) of a version, as read from the registry branch: `number` is
    its `<n>` under `models/<model>/evaluations/<version>/`; `commit` the registry commit that added
    it, where known (`Registry.evaluate` knows it)."""

    model: str
    version: int
    number: int
    path: str
    dataset: Mapping[str, Any]
    dataset_identity: str | None  # what makes two results comparable (digest, or etag/version id)
    metrics: Mapping[str, float | int]
    created_at: str
    created_by: str
    message: str | None
    commit: str | None

    @property
    def ref(self) -> str:
        return f"{self.model}@v{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, **plain(self)}


@dataclass(frozen=True)
class Version:
    """One registered version as read from git: its manifest and the registry commit that holds it."""

    model: str
    version: int
    manifest: Manifest
    commit: str
    aliases: tuple[str, ...] = ()
    # Evaluation records (SPEC §11), oldest first, where the caller read them (`show`); None: not read
    evaluations: tuple[Evaluation, ...] | None = None

    @property
    def ref(self) -> str:
        return f"{self.model}@v{self.version}"

    @property
    def digest(self) -> str:
        return self.manifest["digest"]

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "model": self.model,
            "version": self.version,
            "aliases": list(self.aliases),
            "manifest": self.manifest,
            **(
                {"evaluations": [e.to_json() for e in self.evaluations]}
                if self.evaluations is not None
                else {}
            ),
        }

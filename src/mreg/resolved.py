"""`Version`: what resolving a reference gives (SPEC §2), on its own so that `mreg resolve` does not
build every result class (`mreg.results` re-exports it with the others)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mreg.manifest import Manifest

if TYPE_CHECKING:
    from mreg.results import Evaluation


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

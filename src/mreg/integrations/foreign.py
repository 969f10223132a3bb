"""What an importer reads from a foreign registry (SPEC §14), in mreg's terms and nothing else.

The adapters (`mlflow_import`, `gto_import`) translate their library's answers into these records;
`ops/import_.py` turns the records into manifests and alias tags. Every string here came from a
foreign system: names are mapped to mreg's rules (or the item is reported, never dropped), and the
rest is bounded before it reaches a manifest or a tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mreg.refs import ALIAS_RE, MODEL_RE, RESERVED_ALIAS_RE

LATEST = 253402300799.0  # 9999-12-31T23:59:59Z: the latest time a manifest or a tag can record
MAX_TEXT = 4096  # a description, a tag value, a param: longer is cut, and says so


class ArtifactMissing(Exception):
    """The foreign system lists the version but cannot hand over its bytes."""


class ArtifactRefused(Exception):
    """The foreign system names a place for the version's bytes that is not the version's own (a
    path on the importer's machine, another bucket): never read, listed at the end."""


@dataclass(frozen=True)
class ForeignVersion:
    """One version to import: its number kept exactly, its facts, and how to fetch its files."""

    model: str  # the mreg model name
    version: int
    key: str  # the foreign identity ("<name>/<version>"), kept in labels: a re-run recognises it
    created_at: str  # UTC, `YYYY-MM-DDTHH:MM:SSZ`
    created_by: str
    message: str | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    source: dict[str, Any] | None
    data: list[dict[str, Any]]
    labels: dict[str, str]
    python: str | None = None
    # downloads the files under the directory given; returns the file or directory that is the version
    fetch: Callable[[Path], Path] = field(default=lambda dest: dest, compare=False, repr=False)
    # raises ArtifactMissing when it is known, without a download, that `fetch` cannot succeed (--dry-run)
    check: Callable[[], object] = field(default=lambda: None, compare=False, repr=False)
    # (python version, package list) read from the fetched files, when the format records them
    environment: Callable[[Path], tuple[str | None, str | None]] = field(
        default=lambda root: (None, None), compare=False, repr=False
    )


@dataclass(frozen=True)
class ForeignMove:
    """One alias move (`version` None: the alias was removed), at its original time, by its original user."""

    model: str
    alias: str
    version: int | None
    at: float  # unix seconds, UTC
    by: str


@dataclass(frozen=True)
class ForeignRegistry:
    system: str  # "MLflow" or "GTO": named in records and reasons
    versions: list[ForeignVersion]
    moves: list[ForeignMove]  # in the order they happened
    problems: list[str]  # what cannot be imported at all (a name mreg cannot hold), listed at the end
    # True when `moves` is the whole history (GTO's tags); False when only the current values are
    # known (MLflow): a re-run then adds a move only when the current value changed
    history: bool = True


def model_name(name: str) -> str | None:
    """A foreign model name as an mreg model name (lower case, other characters as `-`); None when
    nothing valid is left."""
    mapped = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-._")
    mapped = re.sub(r"\.{2,}", ".", mapped)[:64].strip("-._")
    return mapped if MODEL_RE.match(mapped) and not mapped.endswith(".lock") else None


def alias_name(name: str) -> str | None:
    """A foreign alias or stage as an mreg alias (`Production` → `production`, `prod_v2` → `prod-v2`);
    None when it cannot be one (reserved, or nothing valid left)."""
    mapped = re.sub(r"[^a-z0-9-]+", "-", name.strip().lower()).strip("-")
    mapped = re.sub(r"-{2,}", "-", mapped)[:32].strip("-")
    if not ALIAS_RE.match(mapped) or RESERVED_ALIAS_RE.match(mapped):
        return None
    return mapped


def map_names(
    names: Iterable[str], mapper: Callable[[str], str | None], what: str, target: str
) -> tuple[dict[str, str | None], list[str]]:
    """Each foreign name's mreg name (None: none can be made of it). Names that map to one mreg name
    are all left out, each such group described in one line (`what`: "GTO artifacts", "m: MLflow
    aliases"; `target`: "model", "alias"): two that map to one are reported, never mixed or guessed."""
    mapped = {n: mapper(n) for n in sorted(set(names))}
    groups: dict[str, list[str]] = {}
    for name, m in mapped.items():
        if m is not None:
            groups.setdefault(m, []).append(name)
    problems = []
    for m, group in sorted(groups.items()):
        if len(group) > 1:
            both = "both" if len(group) == 2 else "all"
            problems.append(
                f"{what} {' and '.join(repr(g) for g in group)} {both} map to the mreg {target} {m!r}; "
                "none of them is imported"
            )
            for name in group:
                del mapped[name]
    return mapped, problems


def utc(seconds: float) -> str:
    """Unix seconds as a manifest's time; the caller has left out times past `LATEST`."""
    return datetime.fromtimestamp(max(seconds, 0), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def bounded(text: Any) -> str:
    value = str(text)
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 12] + " …(cut)"


def require(module: str, *, command: str, needs: str, extra: str) -> Any:
    """A foreign system's library, imported only when an import runs (and quietly: their import-time
    warnings are theirs), or one line saying how to install it."""
    import importlib
    import warnings

    from mreg.errors import UsageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"{command} needs {needs}", hint=f"install it with: pip install 'mreg[{extra}]'"
        ) from None

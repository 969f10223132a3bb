"""Read a GTO registry (SPEC §14): the adapter.

GTO keeps its registry in git tags: `model@v1.2.3` registers a version, `model@v1.2.3!` deregisters
it, `model#stage#N` assigns a stage, `model#stage!#N` unassigns it, `model@deprecated` deprecates
the model. GTO's own library reads the tags (its parser, its event history with taggers and times);
the artifact's path comes from its annotation at the version's commit (`dvc.yaml`'s `artifacts:`
section, or the older `artifacts.yaml`), and the bytes are the files at that path in that commit.
Only GTO's exceptions are translated here.

GTO lets a stage hold several versions; an mreg alias holds one. The alias follows what GTO shows
as the stage's version: the most recently assigned one still assigned (an unassignment of it falls
back to the one before; a deregistered or deprecated version leaves every stage).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from mreg.errors import NotFoundError, UsageError
from mreg.git.repo import GitRepo
from mreg.integrations.foreign import (
    ArtifactMissing,
    ForeignMove,
    ForeignRegistry,
    ForeignVersion,
    alias_name,
    bounded,
    map_names,
    model_name,
    require,
    utc,
)

SYSTEM = "GTO"
MAX_ANNOTATION = 1024 * 1024
MAX_FILE = 1 << 31


def _history(repo: Path) -> list[dict[str, Any]]:
    api = require("gto.api", command="mreg import gto", needs="GTO", extra="gto")
    GTOException = require("gto.exceptions", command="mreg import gto", needs="GTO", extra="gto").GTOException
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [dict(e) for e in api.history(str(repo), ascending=True)]
    except GTOException as exc:
        raise UsageError(f"GTO cannot read {repo}: {' '.join(str(exc).split())[:200]}") from None
    except (ValueError, OverflowError) as exc:  # GTO's parser on a tag git takes but datetime cannot hold
        raise UsageError(
            f"GTO cannot read the tags of {repo}: {' '.join(str(exc).split())[:200]}",
            hint="a tag dated past year 9999? list them with: git for-each-ref --sort=-taggerdate refs/tags",
        ) from None


def _counter(ref: str) -> int:
    """N of a stage tag `model#stage#N` (GTO's parser); 0 for any other tag."""
    from gto.tag import parse_name

    try:
        parsed = parse_name(ref, raise_on_fail=False) or {}
    except Exception:
        parsed = {}
    counter = parsed.get("counter")
    return counter if isinstance(counter, int) else 0


def _semver_key(version: str) -> tuple[int, Any]:
    import semver

    try:
        return (0, semver.Version.parse(version.removeprefix("v")))
    except ValueError:
        return (1, version)


def read(repo: Path) -> ForeignRegistry:
    """Each artifact's versions in semver order (numbered 1, 2, …; the semver in `labels`) and every
    stage move, in order, with the tagger and time of the tag that made it."""
    if not repo.exists():
        raise UsageError(f"GTO repository {str(repo)!r} does not exist")
    git = GitRepo.discover(repo)
    events = _history(repo)
    versions: list[ForeignVersion] = []
    moves: list[ForeignMove] = []
    models, problems = map_names((str(e["artifact"]) for e in events), model_name, "GTO artifacts", "model")
    for artifact, model in models.items():
        mine = [e for e in events if e["artifact"] == artifact]
        if model is None:
            problems.append(f"GTO artifact {artifact!r}: no mreg model name can be made of it")
            continue
        registered = [e for e in mine if e["event"] == "registration"]
        numbers = {
            str(e["version"]): n
            for n, e in enumerate(sorted(registered, key=lambda e: _semver_key(str(e["version"]))), 1)
        }
        gone = {str(e["version"]): e for e in mine if e["event"] == "deregistration"}
        for e in registered:
            versions.append(
                _version(git, artifact, model, e, numbers[str(e["version"])], gone.get(str(e["version"])))
            )
        moves += _moves(model, mine, numbers, problems)
    if not events:
        raise NotFoundError(f"{repo}: no GTO tags (model@vX.Y.Z, model#stage#N) found")
    return ForeignRegistry(SYSTEM, versions, moves, problems)


def _version(
    git: GitRepo, artifact: str, model: str, e: dict[str, Any], number: int, gone: dict[str, Any] | None
) -> ForeignVersion:
    semver_ = str(e["version"])
    commit = str(e["commit"])
    labels = {
        "gto.artifact": bounded(artifact),
        "gto.version": bounded(semver_),
        "gto.commit": commit,
        "import.source": SYSTEM,
        "import.id": f"{bounded(artifact)}@{bounded(semver_)}",
    }
    if gone is not None:
        labels["gto.deregistered"] = utc(gone["timestamp"].timestamp())
    author = f"{e.get('author') or 'unknown'} <{e.get('author_email') or ''}>"

    def check() -> list[str]:
        path = _annotated_path(git, commit, artifact)
        files = git.ls_files(commit, path)
        if not files:
            raise ArtifactMissing(
                f"{path!r} is not in git at {commit[:12]} (a DVC-tracked file is not fetched)"
            )
        return files

    def fetch(dest: Path) -> Path:
        path = _annotated_path(git, commit, artifact)
        for rel in check():
            blob = git.read_blobs([f"{commit}:{rel}"], limit=MAX_FILE)[0]
            if blob is None:
                raise ArtifactMissing(f"{rel!r} cannot be read at {commit[:12]}")
            inside = rel[len(path) :].lstrip("/") if rel != path else Path(rel).name
            target = dest / "files" / inside
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
        return dest / "files"

    return ForeignVersion(
        model=model,
        version=number,
        key=labels["import.id"],
        created_at=utc(e["timestamp"].timestamp()),
        created_by=bounded(author),
        message=bounded(e["message"]) if e.get("message") else None,
        params={},
        metrics={},
        source={"repository": None, "commit": commit},
        data=[],
        labels=labels,
        fetch=fetch,
        check=check,
    )


def _annotated_path(git: GitRepo, commit: str, artifact: str) -> str:
    """The artifact's `path` in its annotation at `commit`: dvc.yaml's `artifacts:` (GTO ≥ 1.0), or
    the older artifacts.yaml."""
    import yaml

    for file, section in (("dvc.yaml", "artifacts"), ("artifacts.yaml", None)):
        blob = git.read_blob(f"{commit}:{file}")
        if blob is None or len(blob) > MAX_ANNOTATION:
            continue
        try:
            doc = yaml.safe_load(blob)
        except yaml.YAMLError:
            continue
        entries = doc.get(section) if section and isinstance(doc, dict) else doc
        entry = entries.get(artifact) if isinstance(entries, dict) else None
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and path and not path.startswith("/") and ".." not in path.split("/"):
            return path.strip("/")
    raise ArtifactMissing(
        f"no annotation with a path for {artifact!r} at {commit[:12]} (dvc.yaml, artifacts.yaml)"
    )


def _stage_aliases(model: str, stages: list[str], problems: list[str]) -> dict[str, str | None]:
    """Each stage's mreg alias; a stage that cannot be one, or that shares one with another stage,
    is listed once (and has none)."""
    aliases, collided = map_names(stages, alias_name, f"{model}: GTO stages", "alias")
    problems += collided
    for stage, alias in aliases.items():
        if alias is None:
            problems.append(f"{model}: GTO stage {stage!r} cannot be an mreg alias")
    return aliases


def _moves(
    model: str, events: list[dict[str, Any]], numbers: dict[str, int], problems: list[str]
) -> list[ForeignMove]:
    """Replay the stage events in order: a move whenever what a stage shows changes.

    Git tags have a one-second clock, and GTO's history orders one second's events by kind only;
    its stage tags carry a counter (`model#stage#N`, one sequence per artifact), which orders them
    exactly. So: by time, then GTO's kind priority (an assignment and an unassignment rank alike),
    then the counter."""
    stage_events = ("assignment", "unassignment")
    ordered = sorted(
        (e for e in events if e["event"] in (*stage_events, "deregistration", "deprecation")),
        key=lambda e: (
            e["timestamp"],
            5 if e["event"] in stage_events else int(e.get("priority") or 0),
            _counter(str(e.get("ref") or "")),
        ),
    )
    aliases = _stage_aliases(
        model, [str(e["stage"]) for e in ordered if e["event"] in stage_events], problems
    )
    active: dict[str, list[str]] = {}
    moves: list[ForeignMove] = []
    for e in ordered:
        by = f"{e.get('author') or 'unknown'} <{e.get('author_email') or ''}>"
        at = e["timestamp"].timestamp()
        before = {stage: (held[-1] if held else None) for stage, held in active.items()}
        version = str(e.get("version") or "")
        if e["event"] == "assignment":
            held = active.setdefault(str(e["stage"]), [])
            if version in held:
                held.remove(version)
            held.append(version)
        elif e["event"] == "unassignment":
            held = active.setdefault(str(e["stage"]), [])
            if version in held:
                held.remove(version)
        elif e["event"] == "deregistration":
            for held in active.values():
                if version in held:
                    held.remove(version)
        else:  # the artifact is deprecated: no stage shows any version
            for held in active.values():
                held.clear()
        for stage, held in sorted(active.items()):
            now = held[-1] if held else None
            if now == before.get(stage):
                continue
            alias = aliases.get(stage)
            if alias is None:  # listed above: no mreg alias, or one another stage maps to too
                continue
            if now is not None and now not in numbers:
                problems.append(f"{model}: stage {stage!r} names {now!r}, which GTO never registered")
                continue
            moves.append(ForeignMove(model, alias, numbers[now] if now is not None else None, at, by))
    return moves

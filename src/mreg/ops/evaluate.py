"""`mreg eval add` / `eval list` (SPEC §11): results obtained after registration, as append-only records.

A record is written like a registration: built on the registry branch's tip and published with
compare-and-swap, numbered `<n>` at commit time, so evaluators in several clones at once each land
one record, none lost. Readers take only records that validate, sit at the path of the model and
version they name, and are bound to the version's digest; anything else is refused (skipped with a
warning by `show`, `diff`, `gate`; a failure of `mreg check`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from mreg import capture
from mreg.errors import IntegrityError, MregError, UsageError
from mreg.evaluation import (
    check_binding,
    dataset_identity,
    dump_evaluation,
    parse_evaluation,
    validate_evaluation,
)
from mreg.git.branches import Change, Retry
from mreg.inputs import build_metrics, metric_mapping, parse_pairs
from mreg.layout import REGISTRY_BRANCH, evaluation_of_path, evaluation_path, evaluations_dir, manifest_path
from mreg.manifest import EVALUATION_SCHEMA, size_problem
from mreg.refs import parse_ref
from mreg.results import Evaluation

if TYPE_CHECKING:
    import os

    from mreg.context import Context
    from mreg.evaluation import EvaluationRecord
    from mreg.results import Version

MAX_DATASET_NAME = 200
MAX_WARNINGS = 3  # invalid records named per command; `check` names them all
MAX_NUMBER = 999_999_999  # the largest <n> a record path may have (layout._VERSION_PATTERN)


@dataclass(frozen=True)
class EvaluationRequest:
    """What an evaluator asked to record: the dataset as `NAME=URI`, metrics as a mapping or `K=V`
    strings, files of them (JSON/YAML, nested keys flattened with dots), a message."""

    ref: str
    dataset: str
    metrics: Sequence[str] | Mapping[str, Any] = ()
    metrics_files: Sequence[str | os.PathLike[str]] = ()
    message: str | None = None


def add(ctx: Context, request: EvaluationRequest) -> Evaluation:
    """Check everything, fingerprint the dataset, then commit the next record of the version."""
    name, uri = _dataset_arg(request.dataset)
    metrics = build_metrics(
        [str(f) for f in request.metrics_files],
        [] if isinstance(request.metrics, Mapping) else list(request.metrics),
    )
    if isinstance(request.metrics, Mapping):
        metrics.update(metric_mapping(request.metrics))
    if not metrics:
        raise UsageError("no metrics: pass --metric K=V or --metrics FILE")
    ctx.require_initialised()
    version = ctx.resolve(parse_ref(request.ref), with_aliases=False)
    from mreg.ops.register import data_ref

    dataset = data_ref(name, uri, ctx.notify, flag="--dataset")
    if dataset_identity(dataset) is None:
        ctx.notify(
            f"--dataset {name}: nothing identifies these data but their name, so gates will not compare "
            "this result with another (hash a local copy, or use a store that reports an etag or version)"
        )
    ident, stamp = ctx.git.identity()
    record: dict[str, Any] = {
        "schema": EVALUATION_SCHEMA,
        "model": version.model,
        "version": version.version,
        "version_digest": version.digest,
        "dataset": dataset,
        "metrics": metrics,
        "created_at": datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_by": ident,
        "message": request.message,
        "source": capture.source_info(ctx.git, ctx.remote_name),
    }
    model, number = version.model, version.version

    def build(base: str | None) -> Change:
        if base is None:
            raise UsageError("the registry has no registry branch")
        held = ctx.git.read_blob(f"{base}:{manifest_path(model, number)}")
        if held is None:  # append-only: a version seen at the tip is at every later tip
            raise IntegrityError(f"{model}@v{number} is not on {REGISTRY_BRANCH} any more")
        taken = _numbers(ctx, model, number, base)
        n = max(taken, default=0) + 1
        if n > MAX_NUMBER:  # only a planted record gets here: a path no reader would accept
            raise IntegrityError(
                f"{evaluation_path(model, number, n - 1)} exists: no record number is left for {model}@v{number}",
                hint="records are numbered up to 999,999,999; 'mreg check' and 'git log' on that path say who added it",
            )
        path = evaluation_path(model, number, n)
        doc = validate_evaluation(record, where=f"{REGISTRY_BRANCH}:{path}", model=model, version=number)
        text = dump_evaluation(doc)
        too_big = size_problem(text)
        if too_big:
            raise UsageError(f"the evaluation record would be {too_big}")
        if ctx.git.object_ids([f"{base}:{path}"])[0] is not None:
            raise Retry(f"{path} appeared meanwhile")
        from mreg.cache.valid import MEMO

        MEMO.remember(text, EVALUATION_SCHEMA, dict(doc))  # just validated: readers skip the schema
        return Change({path: text}, f"evaluate {model} v{number} on {name}", (n, path))

    commit, change = ctx.branches.commit(REGISTRY_BRANCH, build)
    assert isinstance(change.result, tuple)
    n, path = change.result
    return _result(record, int(n), str(path), commit)


def _dataset_arg(text: str) -> tuple[str, str]:
    pairs = parse_pairs([text], flag="--dataset")
    (name, uri), *_ = pairs.items()
    if not uri:
        raise UsageError(f"--dataset {name}=: missing URI")
    if len(name) > MAX_DATASET_NAME or any(unicodedata.category(c)[0] in "CZ" and c != " " for c in name):
        raise UsageError(
            f"--dataset {name[:60]!r}: a dataset name is up to {MAX_DATASET_NAME} printable characters"
        )
    return name, uri


def _numbers(ctx: Context, model: str, version: int, commit: str) -> list[int]:
    out = []
    for entry in ctx.git.ls_tree(commit, evaluations_dir(model, version)):
        parsed = evaluation_of_path(f"{evaluations_dir(model, version)}/{entry.name}")
        if parsed is not None:
            out.append(parsed[2])
    return out


def _result(
    record: EvaluationRecord | Mapping[str, Any], n: int, path: str, commit: str | None
) -> Evaluation:
    return Evaluation(
        model=record["model"],
        version=record["version"],
        number=n,
        path=path,
        dataset=dict(record["dataset"]),
        dataset_identity=dataset_identity(record["dataset"]),
        metrics=dict(record["metrics"]),
        created_at=record["created_at"],
        created_by=record["created_by"],
        message=record.get("message"),
        commit=commit,
    )


# -- reading -------------------------------------------------------------------------------------
def read(
    ctx: Context,
    versions: Sequence[Version],
    *,
    at: datetime | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[tuple[str, int], tuple[Evaluation, ...]]:
    """The valid evaluation records of each version as of its `commit`, oldest first (one `ls-tree`
    a version, one `cat-file` for all the records). A record that does not validate, names another version than its path, or
    is bound to another digest is refused: left out, and named through `warn`."""
    found = records(ctx, versions, at=at)
    out: dict[tuple[str, int], tuple[Evaluation, ...]] = {}
    problems: list[str] = []
    for v in versions:
        good, bad = found.get((v.model, v.version), ([], []))
        problems += bad
        out[(v.model, v.version)] = tuple(good)
    say = warn or ctx.notify
    for problem in problems[:MAX_WARNINGS]:
        say(f"{problem}: ignored")
    if len(problems) > MAX_WARNINGS:  # thousands of junk records must not drown every command
        say(
            f"{len(problems) - MAX_WARNINGS} more invalid evaluation record(s) ignored; 'mreg check' lists them"
        )
    return out


class RecordAt(NamedTuple):
    """An evaluation record to read: at `commit`, `path` (record `number` of `model`@v`version`),
    to be bound to `version_digest`."""

    commit: str
    model: str
    version: int
    version_digest: str
    number: int
    path: str


def records(
    ctx: Context, versions: Sequence[Version], *, at: datetime | None = None
) -> dict[tuple[str, int], tuple[list[Evaluation], list[str]]]:
    """(valid records, problems) of each version, as the registry stood at `at` (now by default) —
    never at the version's own commit, which for an alias is the tag's registration commit, older
    than every evaluation of it."""
    commit = ctx.registry_commit(at)
    specs: list[RecordAt] = []
    for v in versions:
        directory = evaluations_dir(v.model, v.version)
        for entry in ctx.git.ls_tree(commit, directory):
            path = f"{directory}/{entry.name}"
            parsed = evaluation_of_path(path)
            if parsed is None or entry.kind != "blob":
                continue  # the append-only check names anything else under models/
            specs.append(RecordAt(commit, v.model, v.version, v.digest, parsed[2], path))
    out: dict[tuple[str, int], tuple[list[Evaluation], list[str]]] = {
        (v.model, v.version): ([], []) for v in versions
    }
    out.update(checked_records(ctx, specs))
    return out


def checked_records(
    ctx: Context, specs: Sequence[RecordAt], *, by_model: bool = False
) -> dict[tuple[str, int], tuple[list[Evaluation], list[str]]]:
    """(valid records, problems) of each version named in `specs` (one `cat-file` for all the
    records, one `git log` a version for the commits that added them): a record that does not
    validate, names another version than its path, or is bound to another digest than
    `version_digest` is a problem, not a record. `by_model`: one `git log` a model instead (for
    callers that read the records of many versions of each model, such as `report`)."""
    from mreg.cache.valid import MEMO
    from mreg.git.history import additions

    blobs = ctx.git.read_blobs([f"{s.commit}:{s.path}" for s in specs])
    added: dict[str, str] = {}
    if by_model:
        for commit, model in sorted({(s.commit, s.model) for s in specs}):
            added.update(additions(ctx.git, commit, evaluations_dir(model)))
    else:
        for commit, model, version in sorted({(s.commit, s.model, s.version) for s in specs}):
            added.update(additions(ctx.git, commit, evaluations_dir(model, version)))
    out: dict[tuple[str, int], tuple[list[Evaluation], list[str]]] = {}
    for s, blob in zip(specs, blobs, strict=True):
        good, bad = out.setdefault((s.model, s.version), ([], []))
        where = f"{REGISTRY_BRANCH}:{s.path}"
        if blob is None:
            bad.append(f"{where}: cannot be read")
            continue
        try:
            record = parse_evaluation(blob, where=where, model=s.model, version=s.version, memo=MEMO)
            check_binding(record, where=where, ref=f"{s.model}@v{s.version}", version_digest=s.version_digest)
        except MregError as exc:
            bad.append(exc.message)
            continue
        good.append(_result(record, s.number, s.path, added.get(s.path)))
    for good, _ in out.values():
        good.sort(key=lambda e: e.number)
    return out

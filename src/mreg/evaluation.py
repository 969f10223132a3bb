"""Evaluation records (SPEC §11): results obtained after a version was registered.

A version's manifest never changes, so a later result — on a held-out set, last month's traffic, a
fairness slice — is a record of its own at `models/<model>/evaluations/<version>/<n>.yaml`, schema
`mreg/evaluation/v1`, bound to the version's digest and to the dataset's identity. Records are only
ever added (SPEC §3a.1); a reader refuses one that does not validate, that sits at a path naming
another model or version than it says, or that is bound to other bytes than the version's.
"""

# No `from __future__ import annotations`: the TypedDicts read NotRequired at run time.

import sys
from collections.abc import Mapping
from typing import Any, TypedDict, cast

from mreg.errors import IntegrityError
from mreg.manifest import (
    EVALUATION_SCHEMA,
    ValidationMemo,
    dump_yaml,
    first_problem,
    json_problem,
    load_checked,
    schema_errors,
)

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # typing_extensions is a dependency on Python 3.10 only
    from typing_extensions import NotRequired


class Dataset(TypedDict):
    """What a version was evaluated on, as `schemas/evaluation.schema.json` says."""

    name: str
    uri: str
    digest: NotRequired[str]  # sha256 of a local file or directory
    etag: NotRequired[str]  # what a remote store says of the object (ETag, generation)
    version: NotRequired[str]  # a versioned bucket's version id
    size: NotRequired[int]


class EvaluationRecord(TypedDict):
    """An evaluation record as every reader sees it: it passed the schema and the checks below."""

    schema: str
    model: str
    version: int
    version_digest: str
    dataset: Dataset
    metrics: dict[str, float | int]
    created_at: str
    created_by: str
    message: NotRequired[str | None]
    source: NotRequired[dict[str, Any] | None]


FIELD_ORDER = (
    "schema",
    "model",
    "version",
    "version_digest",
    "dataset",
    "metrics",
    "created_at",
    "created_by",
    "message",
    "source",
)


def dataset_identity(dataset: Mapping[str, Any]) -> str | None:
    """What makes two results comparable: the same bytes. A digest where the data was hashed, else
    what the store says identifies the object (etag, version id, size); None when nothing does —
    such a result is shown, but a gate never compares it with another."""
    digest = dataset.get("digest")
    if isinstance(digest, str) and digest:
        return digest
    parts = [f"{k}={dataset[k]}" for k in ("etag", "version", "size") if dataset.get(k) not in (None, "")]
    if not any(p.startswith(("etag=", "version=")) for p in parts):
        return None  # a size alone identifies nothing
    return f"{dataset.get('uri')}#" + ",".join(parts)


def validate_evaluation(document: Any, *, where: str, model: str, version: int) -> EvaluationRecord:
    """Schema plus what a schema cannot say: plain JSON values, and the record names the model and
    version of its path."""
    errors = schema_errors(document, EVALUATION_SCHEMA)
    if not errors:
        for key in ("metrics", "dataset", "source"):
            problem = json_problem(document.get(key))
            if problem:
                errors.append(f"{key}: {problem}")
    first_problem(errors, where, "invalid evaluation record: ")
    return _at_its_path(document, where=where, model=model, version=version)


def _at_its_path(document: Mapping[str, Any], *, where: str, model: str, version: int) -> EvaluationRecord:
    """A record sits at the path of the model and version it names: checked every time it is read
    (what the validation memo knows is the bytes, not where they were found)."""
    if document.get("model") != model or document.get("version") != version:
        raise IntegrityError(
            f"{where}: invalid evaluation record: it says {document.get('model')}@v{document.get('version')}, "
            f"but its path is {model}@v{version}'s"
        )
    return cast(EvaluationRecord, dict(document))


def check_binding(record: Mapping[str, Any], *, where: str, ref: str, version_digest: str) -> None:
    """A record is of its version's bytes: IntegrityError when it is bound to another digest."""
    if record["version_digest"] != version_digest:
        raise IntegrityError(
            f"{where}: bound to {record['version_digest']}, but {ref} is {version_digest} (a result of other bytes)"
        )


def parse_evaluation(
    blob: bytes, *, where: str, model: str, version: int, memo: ValidationMemo | None = None
) -> EvaluationRecord:
    """A record's bytes, bounded, parsed and validated (`manifest.load_checked`), at its path."""
    doc = load_checked(
        blob,
        schema_id=EVALUATION_SCHEMA,
        where=where,
        validate=lambda d: validate_evaluation(d, where=where, model=model, version=version),
        memo=memo,
    )
    return _at_its_path(doc, where=where, model=model, version=version)


def dump_evaluation(record: Mapping[str, Any]) -> bytes:
    ordered = {k: record[k] for k in FIELD_ORDER if k in record}
    return dump_yaml(ordered).encode()

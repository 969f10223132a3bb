"""The version manifest (SPEC §4): canonical digest, YAML in and out, schema validation."""

# No `from __future__ import annotations` here: TypedDict reads NotRequired from evaluated
# annotations, so Manifest.__required_keys__ / __optional_keys__ are right at run time.

import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any, Protocol, TypedDict, cast

from mreg.digest import of_bytes
from mreg.errors import IntegrityError, UsageError

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # typing_extensions is a dependency on Python 3.10 only
    from typing_extensions import NotRequired


class Artifact(TypedDict):
    """One stored file of a version: its path under the version, size and sha256 digest."""

    path: str
    size: int
    digest: str
    executable: NotRequired[bool]  # the file had an executable bit at register


class Lockfile(TypedDict):
    path: str
    digest: str


class Environment(TypedDict):
    python: str
    platform: str
    packages: str  # digest of the captured package lock, stored as an object
    lockfile: NotRequired[Lockfile]
    image: NotRequired[str]


class DataRef(TypedDict):
    name: str
    uri: str
    digest: NotRequired[str]
    etag: NotRequired[str]
    version: NotRequired[str]
    size: NotRequired[int]


class Source(TypedDict, total=False):
    repository: str | None
    commit: str | None
    dirty: bool


class Manifest(TypedDict):
    """A version manifest (SPEC §4) as `schemas/manifest.schema.json` validates it: every manifest mreg
    reads has passed that schema, so these keys and types hold. Immutable once written."""

    schema: str
    model: str
    version: int
    digest: str  # sha256 of the canonical artifact list: the version's identity
    created_at: str
    created_by: str
    artifacts: list[Artifact]
    environment: Environment
    message: NotRequired[str | None]
    source: NotRequired[Source | None]
    data: NotRequired[list[DataRef]]
    params: NotRequired[dict[str, Any]]
    metrics: NotRequired[dict[str, float | int]]
    parent: NotRequired[str | None]
    labels: NotRequired[dict[str, str]]


MANIFEST_SCHEMA = "mreg/manifest/v1"
REGISTRY_SCHEMA = "mreg/registry/v1"
MODEL_SCHEMA = "mreg/model/v1"
EVALUATION_SCHEMA = "mreg/evaluation/v1"
LIFECYCLE_SCHEMA = "mreg/lifecycle/v1"
SCHEMA_FILES = {
    MANIFEST_SCHEMA: "manifest.schema.json",
    REGISTRY_SCHEMA: "registry.schema.json",
    MODEL_SCHEMA: "model.schema.json",
    EVALUATION_SCHEMA: "evaluation.schema.json",
    LIFECYCLE_SCHEMA: "lifecycle.schema.json",
}
# Key order of a written manifest: the order of SPEC §4, so diffs of manifests read naturally.
FIELD_ORDER = (
    "schema",
    "model",
    "version",
    "digest",
    "created_at",
    "created_by",
    "message",
    "source",
    "artifacts",
    "environment",
    "data",
    "params",
    "metrics",
    "parent",
    "labels",
)


def artifact_set_digest(artifacts: Iterable[Mapping[str, Any]]) -> str:
    """Identity of a version: sha256 over `digest size path` lines sorted by path."""
    lines = sorted(f"{a['path']}\0{a['size']}\0{a['digest']}" for a in artifacts)
    return of_bytes("\n".join(lines).encode())


def yaml_module() -> Any:
    import yaml

    return yaml


@cache
def _loader() -> Any:
    """The safe loader (libyaml's where available) that refuses a mapping naming one key twice: YAML
    keeps the last, while a person reading the file sees the first (`auc: 0.10` ... `auc: 0.99`)."""
    yaml = yaml_module()
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc,valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key_node.value in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"found the key {key_node.value[:60]!r} twice", key_node.start_mark
                        )
                    seen.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    return Loader


def _dumper() -> Any:
    yaml = yaml_module()
    return getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# Bounds on YAML from files and branches (issue 7): libyaml's composer recurses in C, so a crafted
# `[[[[…` or `- - - …` 50,000 levels deep crashes the interpreter (SIGSEGV) instead of raising, and
# a few nested aliases ("billion laughs") expand to more nodes than any traversal can finish.
MAX_YAML_DEPTH = 100
MAX_YAML_NODES = 2_000_000
MAX_MANIFEST_BYTES = 8 * 1024 * 1024  # a real manifest is a few KiB; this bounds memory, not use
MAX_YAML_EXPANDED = 2 * MAX_MANIFEST_BYTES  # scalar text once aliases are expanded: what a reader builds


def size_problem(blob: bytes) -> str | None:
    """Why a registry file is refused before parsing (a crafted PR must not make readers parse 1 GB).
    A blob the git layer skipped as too large (`mreg.git.repo.Oversized`) carries its size instead of bytes."""
    size = getattr(blob, "size", None)
    size = size if isinstance(size, int) else len(blob)
    if size <= MAX_MANIFEST_BYTES:
        return None
    return f"{size} bytes, more than the {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB a manifest may be"


def check_yaml_shape(text: bytes | str, *, where: str) -> None:
    """Walk the event stream (libyaml's parser keeps its own stack: no recursion) when the text could
    possibly be deeper than MAX_YAML_DEPTH or contains aliases; otherwise cost nothing."""
    yaml = yaml_module()
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    openers = sum(raw.count(c) for c in (b"[", b"{", b"-", b"?", b":"))
    if openers <= MAX_YAML_DEPTH and b"*" not in raw:
        return
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    sizes: list[list[int]] = [[0, 0]]  # [expanded nodes, expanded scalar bytes] of each open collection
    anchors: dict[str, tuple[int, int]] = {}
    pending: list[str | None] = []
    for ev in _events(yaml, text, where):
        if isinstance(ev, starts):
            if len(sizes) > MAX_YAML_DEPTH:
                raise UsageError(f"{where}: nested more than {MAX_YAML_DEPTH} levels deep")
            sizes.append([1, 0])
            pending.append(ev.anchor)
        elif isinstance(ev, ends):
            nodes, size = sizes.pop()
            anchor = pending.pop()
            if anchor:
                anchors[anchor] = (nodes, size)
            sizes[-1][0] += nodes
            sizes[-1][1] += size
        elif isinstance(ev, yaml.ScalarEvent):
            sizes[-1][0] += 1
            sizes[-1][1] += len(ev.value)
            if ev.anchor:
                anchors[ev.anchor] = (1, len(ev.value))
        elif isinstance(ev, yaml.AliasEvent):
            nodes, size = anchors.get(ev.anchor, (1, 0))
            sizes[-1][0] += nodes
            sizes[-1][1] += size
        if sum(n for n, _ in sizes) > MAX_YAML_NODES:
            raise UsageError(
                f"{where}: expands to more than {MAX_YAML_NODES:,} values (aliases nested too deeply)"
            )
        if sum(b for _, b in sizes) > MAX_YAML_EXPANDED:
            raise UsageError(
                f"{where}: expands to more than {MAX_YAML_EXPANDED // (1024 * 1024)} MiB of text (aliases repeat too much)"
            )


def _events(yaml: Any, text: bytes | str, where: str) -> Iterator[Any]:
    """libyaml's event stream, streamed; its own depth limit (libyaml ≥ 0.2.5: 1,000, hit while
    scanning ahead) reads as ours."""
    try:
        yield from yaml.parse(text, Loader=_loader())
    except yaml.YAMLError as exc:
        if "nesting depth" in str(getattr(exc, "problem", "")):
            raise UsageError(f"{where}: nested more than {MAX_YAML_DEPTH} levels deep") from None
        raise


def load_yaml(text: bytes | str, *, where: str, shape_checked: bool = False) -> Any:
    """Safe YAML only: a tag that would build a Python object is a parse error, not an object.
    `shape_checked`: these exact bytes passed `check_yaml_shape` before (a validation memo says so),
    so the bounded pre-scan, as long as the parse itself, is skipped."""
    yaml = yaml_module()
    try:
        if not shape_checked:
            check_yaml_shape(text, where=where)
        return yaml.load(text, Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{where}: invalid YAML{pos}: {problem}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{where}: unreadable YAML: {exc}") from None


def dump_yaml(data: Mapping[str, Any]) -> str:
    text: str = yaml_module().dump(
        dict(data), Dumper=_dumper(), sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    return text


def order_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    ordered = {k: manifest[k] for k in FIELD_ORDER if k in manifest}
    ordered.update({k: v for k, v in manifest.items() if k not in ordered})
    return ordered


def dump_manifest(manifest: Mapping[str, Any]) -> bytes:
    return dump_yaml(order_manifest(manifest)).encode()


@cache
def schema_validator(schema_id: str) -> Any:
    from jsonschema import Draft202012Validator

    text = resources.files("mreg").joinpath("schemas").joinpath(SCHEMA_FILES[schema_id]).read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def schema_text(schema_id: str) -> str:
    return resources.files("mreg").joinpath("schemas").joinpath(SCHEMA_FILES[schema_id]).read_text("utf-8")


def schema_errors(document: Any, schema_id: str) -> list[str]:
    """Every violation as `path: message`, checking the `schema` field first (pre-commit's lesson)."""
    if not isinstance(document, dict):
        return [f"expected a mapping, got {type(document).__name__}"]
    found = document.get("schema")
    if found != schema_id:
        if isinstance(found, str) and found.startswith(schema_id.rsplit("/", 1)[0] + "/"):
            return [f"schema {found!r} is newer than this mreg understands ({schema_id}); upgrade mreg"]
        return [f"schema: expected {schema_id!r}, found {found!r}"]
    errors = []
    for err in sorted(schema_validator(schema_id).iter_errors(document), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in err.absolute_path) or "(top)"
        errors.append(f"{path}: {schema_error_message(err)}")
    return errors


# mreg.yaml's `notify` names secrets by environment variable; a value there that breaks the schema
# may be the secret itself, pasted in (`url_env: https://hooks.slack.com/services/...`): its errors
# say what is wrong and never repeat the value, as jsonschema's messages do.
_VALUE_FREE = frozenset({"notify"})


def schema_error_message(err: Any) -> str:
    """jsonschema's message for one error, without the offending value where it may be a secret."""
    path = list(err.absolute_path)
    if not path or path[0] not in _VALUE_FREE or err.validator in ("additionalProperties", "required"):
        return str(err.message)
    if "propertyNames" in err.schema_path:  # the instance is a key, never a value
        return f"{err.instance!r} is not a key this kind of entry takes"
    if err.validator == "pattern":
        return f"does not match {err.validator_value!r}"
    if err.validator == "enum":
        return f"is not one of {err.validator_value!r}"
    if err.validator == "const":
        return f"must be {err.validator_value!r}"
    if err.validator == "type":
        return f"is not of type {err.validator_value!r}"
    return f"fails {err.validator!r} {err.validator_value!r}"[:160]


def artifact_path_problem(path: str) -> str | None:
    """Why `path` cannot be an artifact path, or None: the one rule (register records only such paths,
    validation and `check` refuse others, pull never writes outside its destination because of it).
    Relative, `/`-separated, normalised (no empty, `.` or `..` part), no drive letter, backslash or
    NUL, at most 4096 characters (other odd characters are allowed, and escaped wherever shown)."""
    if not path:
        return "is empty"
    if len(path) > 4096:
        return "is longer than 4096 characters"
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        return "is absolute"
    parts = re.split(r"[\\/]", path)
    if ".." in parts:
        return "escapes its directory with '..'"
    if "\\" in path:
        return "contains a backslash"
    if "\x00" in path:
        return "contains a NUL byte"
    if "" in parts or "." in parts:
        return "is not a normalised relative path"
    return None


def validate_manifest(document: Any, *, where: str) -> Manifest:
    """Schema plus the invariants a schema cannot say: digest, unique paths, name agreement."""
    errors = schema_errors(document, MANIFEST_SCHEMA)
    if not errors:
        paths = [a["path"] for a in document["artifacts"]]
        clash = file_and_directory(paths)
        bad = next(((p, why) for p in paths if (why := artifact_path_problem(p))), None)
        if bad:
            errors.append(f"artifacts: path {bad[0]!r} {bad[1]}")
        elif len(set(paths)) != len(paths):
            errors.append("artifacts: duplicate path")
        elif clash:
            errors.append(f"artifacts: {clash!r} is both a file and a directory")
        elif artifact_set_digest(document["artifacts"]) != document["digest"]:
            errors.append("digest: does not match the artifact list")
        for key in ("params", "metrics", "labels"):
            problem = json_problem(document.get(key))
            if problem:
                errors.append(f"{key}: {problem}")
    first_problem(errors, where, "invalid manifest: ")
    return cast(Manifest, dict(document))


def file_and_directory(paths: list[str]) -> str | None:
    """A path that is also a directory of another (`a` and `a/b`): no directory can hold both."""
    files = set(paths)
    for p in paths:
        parts = p.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in files:
                return "/".join(parts[:i])
    return None


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why a value read from YAML is not plain JSON data (what every reader and `--json` can carry):
    non-string keys, NaN/Infinity, dates, binary, sets."""
    if depth > 100:
        return "nested too deeply"
    if value is None or isinstance(value, (str, bool)):
        return None
    if isinstance(value, int):
        return (
            None
            if -(2**63) <= value < 2**63
            else "an integer beyond 64 bits is not a figure any reader can hold"
        )
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a finite number"
    if isinstance(value, list):
        for item in value:
            problem = json_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"key {k!r} is not a string"
            problem = json_problem(v, depth + 1)
            if problem:
                return f"{k}: {problem}"
        return None
    return f"a {type(value).__name__} value is not plain data"


class ValidationMemo(Protocol):
    """Remembers which exact bytes passed validation against a schema (`mreg.cache.valid.MEMO`)."""

    def known(self, data: bytes, schema_id: str) -> bool: ...

    def recall(self, data: bytes, schema_id: str) -> dict[str, Any] | None: ...

    def remember(self, data: bytes, schema_id: str, doc: Any = None) -> None: ...


def load_checked(
    data: bytes,
    *,
    schema_id: str,
    where: str,
    validate: Callable[[Any], Mapping[str, Any]],
    memo: ValidationMemo | None,
    yaml_errors_are_integrity: bool = True,
) -> dict[str, Any]:
    """The one way from a record's bytes (manifest, evaluation, policy, config) to its checked
    document. With a `memo`, bytes that passed `validate` before come back as the document they
    parsed to (no YAML, no jsonschema: most of `mreg resolve`), bytes known valid without a kept
    document skip the schema, and a new pass is remembered with its document. Unparseable YAML is
    an IntegrityError naming `where` (a UsageError where `yaml_errors_are_integrity` is off). Bytes
    past MAX_MANIFEST_BYTES are refused before anything reads them (IntegrityError)."""
    too_big = size_problem(data)
    if too_big:
        raise IntegrityError(f"{where}: {too_big}")
    if memo is not None and (recalled := memo.recall(data, schema_id)) is not None:
        return recalled
    known = memo is not None and memo.known(data, schema_id)
    try:
        doc = load_yaml(data, where=where, shape_checked=known)
    except UsageError as exc:
        if not yaml_errors_are_integrity:
            raise
        raise IntegrityError(exc.message) from None
    checked = dict(doc) if known and isinstance(doc, dict) else dict(validate(doc))
    if memo is not None:
        memo.remember(data, schema_id, checked)
    return checked


def first_problem(errors: list[str], where: str, what: str) -> None:
    """IntegrityError naming the first of `errors` (and how many more), if there are any."""
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise IntegrityError(f"{where}: {what}{errors[0]}{more}")


def parse_manifest(data: bytes, *, where: str, memo: ValidationMemo | None = None) -> Manifest:
    """Parse and validate a manifest's bytes (see `load_checked` for the memo)."""
    doc = load_checked(
        data,
        schema_id=MANIFEST_SCHEMA,
        where=where,
        validate=lambda d: validate_manifest(d, where=where),
        memo=memo,
    )
    return cast(Manifest, doc)

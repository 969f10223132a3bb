"""The governed branch's per-model policy files (SPEC §3): `models/<model>.yaml` and CODEOWNERS.

Read at any commit of `mreg/aliases` (its tip, a PR's base, a PR's head), always schema-checked:
a policy someone crafted by hand is data that decides who may ship, so it is never trusted raw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mreg.cache.valid import known_valid, recall_valid, remember_valid
from mreg.errors import IntegrityError, MregError
from mreg.layout import ALIASES_BRANCH, policy_path
from mreg.manifest import (
    MODEL_SCHEMA,
    json_problem,
    load_yaml,
    schema_errors,
    size_problem,
)
from mreg.refs import MODEL_RE

if TYPE_CHECKING:
    from mreg.git.repo import GitRepo
    from mreg.git.tags import AliasEvent

_POLICY_FILE = re.compile(r"^(.+)\.yaml\Z")


@dataclass(frozen=True)
class Pin:
    """What the governed branch approves for one alias: a version (None: removed) and its digest
    (None only for a pin written before digests were pinned: version only, `check` asks for one)."""

    version: int | None
    digest: str | None = None

    def matches(self, e: AliasEvent) -> bool:
        if self.version is None:
            return e.version is None
        return e.version == self.version and (self.digest is None or e.digest == self.digest)

    def describe(self) -> str:
        if self.version is None:
            return "(removed)"
        return f"v{self.version}" + (f" ({self.digest})" if self.digest else " (no digest pinned)")

    def as_yaml(self) -> dict[str, Any] | None:
        return None if self.version is None else {"version": self.version, "digest": self.digest}


def pin_of(value: Any) -> Pin | None:
    """A schema-valid `aliases.<alias>` value as a Pin; None when it is not a pin at all."""
    if value is None:
        return Pin(None)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Pin(value)  # the old scalar form: version only
    if (
        isinstance(value, dict)
        and isinstance(value.get("version"), int)
        and not isinstance(value.get("version"), bool)
    ):
        digest = value.get("digest")
        return Pin(value["version"], digest if isinstance(digest, str) else None)
    return None


def pins_of(policy: dict[str, Any] | None) -> dict[str, Pin]:
    out = {}
    for alias, value in ((policy or {}).get("aliases") or {}).items():
        pin = pin_of(value)
        if pin is not None:
            out[str(alias)] = pin
    return out


def parse_policy(blob: bytes, *, where: str) -> dict[str, Any]:
    """A validated `mreg/model/v1` document; IntegrityError naming the file and the first problem."""
    too_big = size_problem(blob)
    if too_big:
        raise IntegrityError(f"{where}: {too_big}")
    recalled = recall_valid(blob, MODEL_SCHEMA)
    if recalled is not None:
        return recalled  # these exact bytes passed before, and parsed to this
    known = known_valid(blob, MODEL_SCHEMA)
    try:
        doc = load_yaml(blob, where=where, shape_checked=known)
    except MregError as exc:
        raise IntegrityError(exc.message) from None
    if known and isinstance(doc, dict):
        remember_valid(blob, MODEL_SCHEMA, doc)  # a marker from before documents were kept
        return dict(doc)
    problem = json_problem(doc.get("gates")) if isinstance(doc, dict) else None
    if problem:
        raise IntegrityError(f"{where}: gates: {problem}")
    errors = schema_errors(doc, MODEL_SCHEMA)
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise IntegrityError(f"{where}: {errors[0]}{more}")
    remember_valid(blob, MODEL_SCHEMA, doc)
    return dict(doc)


def read_policy(git: GitRepo, rev: str, model: str) -> dict[str, Any] | None:
    blob = git.read_blob(f"{rev}:{policy_path(model)}")
    if blob is None:
        return None
    return parse_policy(blob, where=f"{ALIASES_BRANCH}:{policy_path(model)}")


def policy_models(git: GitRepo, rev: str) -> list[str]:
    """Models that have a policy file at `rev` (names that are not valid model names are skipped)."""
    out = []
    for entry in git.ls_tree(rev, "models"):
        m = _POLICY_FILE.match(entry.name)
        if entry.kind == "blob" and m and MODEL_RE.match(m.group(1)):
            out.append(m.group(1))
    return sorted(out)


def read_policies(git: GitRepo, rev: str) -> dict[str, dict[str, Any]]:
    models = policy_models(git, rev)
    blobs = git.read_blobs([f"{rev}:{policy_path(m)}" for m in models])
    return {
        m: parse_policy(b, where=f"{ALIASES_BRANCH}:{policy_path(m)}")
        for m, b in zip(models, blobs, strict=False)
        if b is not None
    }


def desired_aliases(policies: dict[str, dict[str, Any]]) -> dict[tuple[str, str], Pin]:
    """(model, alias) → the pin the governed branch holds (version None: remove the alias)."""

    out: dict[tuple[str, str], Pin] = {}
    for model, doc in policies.items():
        for alias, pin in pins_of(doc).items():
            out[(model, alias)] = pin
    return out


def render_codeowners(policies: dict[str, dict[str, Any]]) -> bytes:
    """CODEOWNERS for the governed branch: a model's owners must approve changes to its policy."""
    lines = [
        "# Generated by mreg from `owners:` in models/<model>.yaml; do not edit by hand.",
        "# With 'Require review from Code Owners' on mreg/aliases, a promotion needs the model owners' approval.",
    ]
    for model in sorted(policies):
        owners = policies[model].get("owners") or []
        if owners:
            handles = " ".join(o if o.startswith("@") else f"@{o}" for o in owners)
            lines.append(f"/models/{model}.yaml {handles}")
    return ("\n".join(lines) + "\n").encode()

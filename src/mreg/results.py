"""What the public API returns (SPEC §10): frozen dataclasses, each with one `to_json()`.

Pure data: no git, no store, no I/O. `mreg.Registry` returns these; the CLI renders them (a human
table, or `--json`, which is exactly `to_json()`); user code reads their typed fields. The JSON
shapes are part of the contract: the CLI's `--json` output is these dictionaries, key for key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mreg.errors import IntegrityError
from mreg.gates import Verdict, markdown_table, passed
from mreg.layout import ALIASES_BRANCH
from mreg.manifest import Manifest
from mreg.resolved import Evaluation, Version
from mreg.resolved import plain as _plain


@dataclass(frozen=True)
class RegisterResult:
    """A registration: the new version (or, for identical bytes, the existing one it duplicates)."""

    model: str
    version: int
    digest: str
    manifest: Manifest
    uploaded_bytes: int
    reused_bytes: int
    duplicate_of: int | None

    @property
    def ref(self) -> str:
        return f"{self.model}@v{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "uploaded_bytes": self.uploaded_bytes,
            "reused_bytes": self.reused_bytes,
            "duplicate_of": self.duplicate_of,
            "manifest": self.manifest,
        }


@dataclass(frozen=True)
class OutletRun:
    """One outlet's `mreg notify` run: the events sent (or, dry, that would be), how many its filters
    left out, and why it stopped early, if it did (the next run retries from there)."""

    outlet: str
    delivered: tuple[str, ...] = ()  # event ids, in order
    skipped: int = 0  # events its filters left out (the cursor passed them)
    failed: str | None = None
    busy: bool = False  # another run held its lease throughout
    summaries: tuple[str, ...] = ()  # one line per delivered event: what happened to what, by whom

    @property
    def ok(self) -> bool:
        return self.failed is None

    def to_json(self) -> dict[str, Any]:
        return {**_plain(self), "ok": self.ok}


@dataclass(frozen=True)
class LineageNode:
    """One version in a lineage (SPEC §11), or an external parent (`external`: a URI such as
    `hf://org/model`, shown and never followed). `depth`: generations from the version asked about
    (1 = its parent, or a version fine-tuned from it). Up the chain a node carries the whole
    provenance: data refs, source, environment, evaluations; down it and `--dataset` carry what the
    per-clone index holds (`source`, `environment` None; `evaluations` None down). Under `--dataset`,
    `data` and `evaluations` are the data refs and records that name the dataset, and `used_as` says
    how the version used it: `training`, `evaluation` or both.
    `problem`: why a parent named here could not be followed (not in the registry, unreadable)."""

    ref: str
    model: str | None
    version: int | None
    depth: int
    parent: str | None = None
    external: bool = False
    digest: str | None = None
    created_at: str | None = None
    created_by: str | None = None
    data: tuple[Mapping[str, Any], ...] = ()
    source: Mapping[str, Any] | None = None
    environment: Mapping[str, Any] | None = None
    evaluations: tuple[Evaluation, ...] | None = None
    used_as: tuple[str, ...] = ()
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "evaluations"}
        out["evaluations"] = None if self.evaluations is None else [e.to_json() for e in self.evaluations]
        return out


@dataclass(frozen=True)
class LineageAlias:
    """An alias tag that pointed at a version of a `--dataset` lineage: from `at` until `until` (None:
    it still does, `current`). `reviewed` False marks a protected alias's tag no reviewed pin backed
    (or one readers refuse): what it says is the tagger's word only."""

    model: str
    alias: str
    version: int
    event: str  # promote or rollback
    tag: str
    at: str
    by: str
    until: str | None
    current: bool
    reviewed: bool

    @property
    def ref(self) -> str:
        return f"{self.model}@v{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {**_plain(self), "ref": self.ref}


@dataclass(frozen=True)
class Lineage:
    """`mreg lineage` (SPEC §11): `direction` `up` (the parent chain of `ref`, the version asked
    about first), `down` (the versions fine-tuned from `ref`, transitively, breadth first) or
    `dataset` (every version that trained or was evaluated on `dataset`, and `aliases` that ever
    pointed at one). `problems`: what could not be followed (a cycle, a missing parent, the depth
    bound: `truncated`). `registry` names the registry (its remote URL, or its path) and `commit`
    the registry commit the answer was read at. `mreg.openlineage.run_events(lineage)` gives the
    same as OpenLineage run events."""

    direction: str
    ref: str | None
    dataset: str | None
    nodes: tuple[LineageNode, ...]
    aliases: tuple[LineageAlias, ...] = ()
    problems: tuple[str, ...] = ()
    truncated: bool = False
    registry: str = ""
    commit: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "ref": self.ref,
            "dataset": self.dataset,
            "registry": self.registry,
            "commit": self.commit,
            "truncated": self.truncated,
            "problems": list(self.problems),
            "nodes": [n.to_json() for n in self.nodes],
            "aliases": [a.to_json() for a in self.aliases],
        }


@dataclass(frozen=True)
class PullResult:
    ref: str
    digest: str
    dest: Path
    files: tuple[str, ...]
    from_cache: int
    from_store: int

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class Review:
    """Where a proposed change went: a pull request (`url`, `number`; `updated` when it already
    existed), a compare page to open one (`compare_url`), or only a pushed branch (a git host mreg
    does not talk to). `gate`: the candidate's gate result in the pull request's body, if any."""

    branch: str
    url: str | None = None
    number: int | None = None
    compare_url: str | None = None
    updated: bool = False
    gate: str | None = None  # passed, failed, or None (no gate, or not a promotion)

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class AliasMove:
    """A promote, rollback or demote: the tag written, or the review requested instead."""

    model: str
    alias: str
    event: str
    version: int | None
    previous: int | None
    tag: str | None
    review: Review | None = None  # set when the move became a review request instead of a tag

    @property
    def ref(self) -> str:
        return f"{self.model}@v{self.version}" if self.version else f"{self.model}@{self.alias}"

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class ModelSummary:
    """One row of `list`: the latest version and the aliases a reader follows now."""

    model: str
    latest: int
    versions: int
    aliases: Mapping[str, int]
    unreviewed: Mapping[str, str] = field(default_factory=dict)  # alias -> tag no reader follows
    archived: tuple[int, ...] = ()  # versions archived now (issue 20)
    purged: tuple[int, ...] = ()  # versions whose bytes retention purged (or is purging)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "latest": self.latest,
            "versions": self.versions,
            "aliases": dict(self.aliases),
        }
        if self.unreviewed:
            out["unreviewed"] = dict(self.unreviewed)
        if self.archived:
            out["archived"] = list(self.archived)
        if self.purged:
            out["purged"] = list(self.purged)
        return out


@dataclass(frozen=True)
class LogEntry:
    """One event of a model's history: a registration or an alias tag (`reviewed` False marks a
    protected alias's tag that no reviewed pin backs: its reason and request are the tagger's word)."""

    event: str  # register, promote, rollback, demote; archive, unarchive, purging, purged (issue 20)
    model: str
    alias: str | None
    seq: int | None
    version: int | None
    digest: str | None
    previous: int | None
    reason: str | None
    request: str | None
    by: str
    at: str
    tag: str | None
    governed: str | None
    commit: str
    signature: str | None
    reviewed: bool | None
    imported_from: str | None = None  # an imported move (SPEC §14): `by` and `at` are the original's

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class Diff:
    """What changed from version `a` to version `b`; each row is a JSON record (`key`/`old`/`new`,
    with `delta` for metrics; `path`/`change` for artifacts; `package`/`change` for packages)."""

    a: str
    b: str
    same_artifacts: bool
    params: tuple[Mapping[str, Any], ...]
    metrics: tuple[Mapping[str, Any], ...]
    data: tuple[Mapping[str, Any], ...]
    environment: tuple[Mapping[str, Any], ...]
    packages: tuple[Mapping[str, Any], ...]
    packages_digest: Mapping[str, str]
    artifacts: tuple[Mapping[str, Any], ...]
    packages_unavailable: str | None = None  # why the package locks could not be compared
    # Evaluation results per dataset (SPEC §11): `dataset`, `identity`, `comparable` (both were
    # evaluated on the same data), `metrics` rows with `delta`, a `note` where they cannot be compared
    evaluations: tuple[Mapping[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "evaluations": [dict(r) for r in self.evaluations],
            "a": self.a,
            "b": self.b,
            "same_artifacts": self.same_artifacts,
            "params": [dict(r) for r in self.params],
            "metrics": [dict(r) for r in self.metrics],
            "data": [dict(r) for r in self.data],
            "environment": [dict(r) for r in self.environment],
            "packages": [dict(r) for r in self.packages],
            "packages_digest": dict(self.packages_digest),
            "artifacts": [dict(r) for r in self.artifacts],
        }
        if self.packages_unavailable is not None:
            out["packages_unavailable"] = self.packages_unavailable
        return out


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    bytes: int
    missing: tuple[Mapping[str, Any], ...] = ()
    corrupt: tuple[Mapping[str, Any], ...] = ()
    invalid: tuple[str, ...] = ()  # manifests that do not parse: reported, skipped
    repaired: tuple[str, ...] = ()  # corrupt objects deleted by --repair
    purged: tuple[str, ...] = ()  # missing objects only versions purged by retention named (issue 20)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt

    def error(self) -> IntegrityError | None:
        """The exit-5 error a failed verification is (None when it passed): the count and the first object."""
        if self.ok:
            return None
        first = (self.corrupt or self.missing)[0]
        kind = "corrupt" if self.corrupt else "missing"
        total = len(self.corrupt) + len(self.missing)
        return IntegrityError(
            f"{total} object(s) missing or corrupt in the store; first: {first['digest']} ({kind}) used by "
            f"{first['used_by'][0]} on mreg/registry"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "bytes": self.bytes,
            "missing": [dict(m) for m in self.missing],
            "purged": len(self.purged),
            "corrupt": [dict(c) for c in self.corrupt],
            "invalid_manifests": list(self.invalid),
        }


@dataclass(frozen=True)
class GcReport:
    kept: int
    deleted: tuple[Mapping[str, Any], ...] = ()
    young: int = 0
    young_bytes: int = 0
    stale_uploads: tuple[Mapping[str, Any], ...] = ()
    invalid: tuple[str, ...] = ()
    dry_run: bool = False

    @property
    def freed_bytes(self) -> int:
        return sum(int(d["size"]) for d in self.deleted)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "deleted": [dict(d) for d in self.deleted],
            "freed_bytes": self.freed_bytes,
            "kept": self.kept,
            "young": self.young,
            "young_bytes": self.young_bytes,
            "stale_uploads": len(self.stale_uploads),
            "invalid_manifests": list(self.invalid),
        }


@dataclass(frozen=True)
class CopyReport:
    copied: tuple[str, ...] = ()
    present: int = 0
    bytes: int = 0
    invalid: tuple[str, ...] = ()
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "copied": list(self.copied),
            "present": self.present,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class Problem:
    """One finding of `check`: where (branch, file, line) and what."""

    branch: str
    path: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.branch}:{self.path}" if self.path else self.branch
        return f"{where}{f':{self.line}' if self.line else ''}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"branch": self.branch, "file": self.path, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class CheckReport:
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    manifests: int = 0
    policies: int = 0
    tags: int = 0
    objects: int | None = None
    evaluations: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "manifests": self.manifests,
            "evaluations": self.evaluations,
            "policies": self.policies,
            "tags": self.tags,
            "objects": self.objects,
            "problems": [p.to_json() for p in self.problems],
            "warnings": [w.to_json() for w in self.warnings],
        }


@dataclass(frozen=True)
class GateReport:
    """A model's gate for an alias, evaluated on one candidate version."""

    model: str
    alias: str
    version: int | None
    current: int | None  # what the alias's tags say now
    verdicts: tuple[Verdict, ...] = ()
    rules: int = 0
    label: str | None = None  # a report about something other than one alias move (mreg.yaml)

    @property
    def ok(self) -> bool:
        return passed(list(self.verdicts))

    @property
    def title(self) -> str:
        if self.label:
            return self.label
        target = f"v{self.version}" if self.version is not None else "(removed)"
        now = f"v{self.current}" if self.current is not None else "unset"
        return f"{self.model}@{self.alias} -> {target} (now {now})"

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "current": self.current,
            "ok": self.ok,
            "rules": self.rules,
            "verdicts": [v.as_dict() for v in self.verdicts],
        }

    def markdown(self) -> str:
        """A section for a CI step summary or a pull request: the title, the status, a table of verdicts."""
        status = "passed" if self.ok else "FAILED"
        return f"### mreg gate: {self.title}: {status}\n\n{markdown_table(list(self.verdicts))}"


@dataclass(frozen=True)
class GateRun:
    """`mreg gate`: one report per alias move gated (one for `REF --to ALIAS`, each change for `--changed`)."""

    reports: tuple[GateReport, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    def markdown(self) -> str:
        """A CI step summary: each report's section, or a line saying there was nothing to gate."""
        return "\n".join(r.markdown() for r in self.reports) or "### mreg gate\n\nno alias changes\n"

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "reports": [r.to_json() for r in self.reports]}


@dataclass(frozen=True)
class Pending:
    """One alias the governed branch pins that the tags do not yet say (or say only with a tag no
    reader may follow: forged, unreviewed, pointing elsewhere — apply then restores the pin)."""

    model: str
    alias: str
    event: str
    version: int | None
    current: int | None
    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))

    def describe(self) -> str:
        to = f"v{self.version}" if self.version is not None else "(removed)"
        now = f"v{self.current}" if self.current is not None else "unset"
        return f"{self.model}@{self.alias}: {ALIASES_BRANCH} asks for {to}, the tags say {now}"


@dataclass(frozen=True)
class Applied:
    """A tag `apply` created to carry out a merged change."""

    model: str
    alias: str
    event: str
    version: int | None
    previous: int | None
    tag: str
    request: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class ApplyReport:
    """What the governed branch asked for (`pending`) and the tags created for it (`applied`)."""

    pending: tuple[Pending, ...]
    applied: tuple[Applied, ...]
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class PolicyChange:
    """A proposed change to a model's policy (owners, gates) or to mreg.yaml."""

    model: str
    changes: tuple[str, ...]
    files: tuple[str, ...]
    review: Review | None  # the pull request, when the registry has a remote
    commit: str | None  # the governed commit, when it was committed directly (no remote)

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class InitResult:
    """What `init` created: nothing on a second run."""

    created: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class ReportVersion:
    """One row of a model's versions table in `mreg report`: the manifest's claims (`created_at`,
    `created_by`, `message`), its metrics, its `parent` (lineage one level up), the aliases a reader
    follows to it as of the report, and its evaluation records, oldest first."""

    version: int
    digest: str
    created_at: str
    created_by: str
    message: str | None
    metrics: Mapping[str, Any]
    parent: str | None
    aliases: tuple[str, ...]
    evaluations: tuple[Evaluation, ...]
    # lineage and files, as the manifest lists them (SPEC §4): `{path, size, digest}` a file, the
    # `source` of the code (repository, commit, dirty), `data` (`{name, uri, digest|etag|version}`)
    files: tuple[Mapping[str, Any], ...] = ()
    size: int = 0  # bytes, all files
    source: Mapping[str, Any] | None = None
    data: tuple[Mapping[str, Any], ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    children: tuple[str, ...] = ()  # `model@vN` of the versions in the report that name it as parent
    state: str = "active"  # its lifecycle (issue 20): active, archived, purging or purged
    lifecycle: tuple[LifecycleEvent, ...] = ()  # its lifecycle records, oldest first

    def to_json(self) -> dict[str, Any]:
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "evaluations"}
        out["evaluations"] = [e.to_json() for e in self.evaluations]
        return out


@dataclass(frozen=True)
class ReportMove:
    """One alias move of the timeline: `reviewed` False marks a protected alias's tag that no reviewed
    pin backs (or one readers refuse): its reason and request are the tagger's word only (as `log`)."""

    alias: str
    seq: int
    event: str  # promote, rollback, demote
    version: int | None
    previous: int | None
    reason: str | None
    request: str | None
    by: str
    at: str
    tag: str
    reviewed: bool
    protected: bool = True  # the alias needs review (an unprotected alias's moves need none)

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class ModelReport:
    """A model in `mreg report`: the index row (latest version, the aliases a reader follows, those no
    reader follows, last change, owners), its `key_metrics` (gated metrics first, then by name), its
    versions (oldest first) and its alias timeline (oldest first)."""

    model: str
    latest: int
    aliases: Mapping[str, int]
    unreviewed: Mapping[str, str]  # alias -> its newest tag, which no reader follows
    last_change: str
    owners: tuple[str, ...]
    key_metrics: tuple[str, ...]
    versions: tuple[ReportVersion, ...]
    moves: tuple[ReportMove, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "latest": self.latest,
            "aliases": dict(self.aliases),
            "unreviewed": dict(self.unreviewed),
            "last_change": self.last_change,
            "owners": list(self.owners),
            "key_metrics": list(self.key_metrics),
            "versions": [v.to_json() for v in self.versions],
            "moves": [m.to_json() for m in self.moves],
        }


@dataclass(frozen=True)
class Report:
    """`mreg report` (SPEC §13): the registry as it stood at `at` (None: now), read at registry commit
    `commit`; models sorted by name. Deterministic: the same registry state gives the same report
    (no time of generation in it). `problems`: records that failed their checks and were left out."""

    at: str | None
    commit: str
    models: tuple[ModelReport, ...]
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "commit": self.commit,
            "models": [m.to_json() for m in self.models],
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class ImportRow:
    """One model of an import (SPEC §14): versions added now, already there (a re-run), not imported;
    alias moves written now, already there, and protected aliases pinned (or proposed for review)."""

    model: str
    versions_added: int = 0
    versions_present: int = 0
    versions_failed: int = 0
    moves_added: int = 0
    moves_present: int = 0
    pins: int = 0

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class ImportReport:
    """What `mreg import` did (or, with `dry_run`, would do): per model counts, the bytes uploaded and
    reused, every item it could not import (`failures`: the run exits 1 when there are any), the
    review it opened for protected aliases, and the plan (`dry_run`)."""

    system: str
    dry_run: bool
    rows: tuple[ImportRow, ...]
    uploaded_bytes: int
    reused_bytes: int
    failures: tuple[str, ...]
    plan: tuple[str, ...] = ()
    review: Review | None = None
    pinned_in: str | None = None  # the governed commit of an unreviewed (--no-review) import's pins

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "models": [r.to_json() for r in self.rows],
            "uploaded_bytes": self.uploaded_bytes,
            "reused_bytes": self.reused_bytes,
            "failures": list(self.failures),
            "plan": list(self.plan),
            "review": self.review.to_json() if self.review is not None else None,
            "pinned_in": self.pinned_in,
        }


__all__ = [
    "AliasMove",
    "Applied",
    "ApplyReport",
    "CheckReport",
    "CopyReport",
    "Diff",
    "Evaluation",
    "GateReport",
    "GateRun",
    "GcReport",
    "ImportReport",
    "ImportRow",
    "InitResult",
    "Lineage",
    "LineageAlias",
    "LineageNode",
    "LogEntry",
    "ModelReport",
    "ModelSummary",
    "OutletRun",
    "Pending",
    "PolicyChange",
    "Problem",
    "PullResult",
    "RegisterResult",
    "Report",
    "ReportMove",
    "ReportVersion",
    "Review",
    "VerifyReport",
    "Version",
]


# -- lifecycle and retention (issue 20) ---------------------------------------------------------
@dataclass(frozen=True)
class LifecycleEvent:
    """One lifecycle record of a version: `event` archive, unarchive, purging or purged; `by` is the
    record's own word, `author` the git author of the commit that added it (`commit`)."""

    model: str
    version: int
    number: int
    event: str
    reason: str
    at: str
    by: str
    path: str
    commit: str | None = None
    author: str | None = None
    objects: int = 0
    bytes_freed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class VersionLifecycle:
    """Where one version stands: `state` is active, archived, purging (a purge was interrupted:
    its bytes may be partly gone) or purged; `archived` and the purge are independent."""

    model: str
    version: int
    archived: bool
    purge: str | None  # None, "purging" or "purged"
    events: tuple[LifecycleEvent, ...] = ()

    @property
    def state(self) -> str:
        if self.purge is not None:
            return self.purge
        return "archived" if self.archived else "active"

    @property
    def archive_event(self) -> LifecycleEvent | None:
        """The archive or unarchive record in force (the last of them)."""
        for e in reversed(self.events):
            if e.event in ("archive", "unarchive"):
                return e
        return None

    @property
    def purge_event(self) -> LifecycleEvent | None:
        for e in reversed(self.events):
            if e.event in ("purging", "purged"):
                return e
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "state": self.state,
            "archived": self.archived,
            "purge": self.purge,
            "events": [e.to_json() for e in self.events],
        }


@dataclass(frozen=True)
class RetentionReport:
    """`gc --retention`: which versions keep their bytes and why, which lose them, what is freed.
    A dry run and the real run compute the same plan; `purged` lists the versions whose bytes went."""

    kept: Mapping[str, Mapping[int, tuple[str, ...]]]  # model -> version -> why kept
    purged: tuple[tuple[str, int], ...]
    objects: tuple[Mapping[str, Any], ...]  # {digest, size} deleted (or to delete)
    resumed: tuple[tuple[str, int], ...] = ()  # interrupted purges this run finished
    dry_run: bool = False

    @property
    def freed_bytes(self) -> int:
        return sum(int(o["size"]) for o in self.objects)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "purged": [f"{m}@v{n}" for m, n in self.purged],
            "resumed": [f"{m}@v{n}" for m, n in self.resumed],
            "kept": {
                m: {str(n): list(why) for n, why in sorted(vs.items())} for m, vs in sorted(self.kept.items())
            },
            "objects": [dict(o) for o in self.objects],
            "freed_bytes": self.freed_bytes,
        }


@dataclass(frozen=True)
class DuRow:
    """One version in `mreg du`: `logical` bytes it names, `stored` bytes only it holds in the store
    (an object shared with another version is counted once, under the oldest), `state`, and whether
    retention would purge it."""

    model: str
    version: int
    logical: int
    stored: int
    state: str
    would_purge: bool

    def to_json(self) -> dict[str, Any]:
        return dict(_plain(self))


@dataclass(frozen=True)
class DuReport:
    rows: tuple[DuRow, ...]
    retention: bool  # mreg.yaml has a retention policy
    reclaimable: int  # bytes `gc --retention` would free now

    def to_json(self) -> dict[str, Any]:
        models: dict[str, dict[str, int]] = {}
        for r in self.rows:
            m = models.setdefault(r.model, {"logical": 0, "stored": 0})
            m["logical"] += r.logical
            m["stored"] += r.stored
        return {
            "models": models,
            "versions": [r.to_json() for r in self.rows],
            "retention": self.retention,
            "reclaimable_bytes": self.reclaimable,
        }

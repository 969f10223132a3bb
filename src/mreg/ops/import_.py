"""`mreg import mlflow|gto` (SPEC §14): bring a foreign registry over, losing nothing.

The adapters (`integrations.mlflow_import`, `integrations.gto_import`) read the foreign registry into
`ForeignRegistry` records; this use case turns them into mreg's own:

- each version through the register path (`register.register_imported`) at exactly its foreign
  number: gaps stay gaps, a number this registry holds already is never replaced;
- each unprotected alias move as an alias tag with the original time in its record (`at`) and the
  original user (`by`), `reason: imported from <system>`;
- the protected aliases' current values as pins on the governed branch, all in ONE review (a pull
  request from `mreg/import/<system>`; `mreg apply` tags them after the merge), or, with
  `--no-review` where that is allowed (SPEC §7), in one commit marked unreviewed, then tagged.

Re-runs and resumes: a version whose manifest carries the same `import.id` label is already there
(nothing is downloaded); an alias's imported tags are a prefix of the foreign history, and only the
rest is written. What cannot be imported is listed in `failures`, never skipped silently.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg.cache import clone_cache_dir
from mreg.cache.imported import ImportRecord
from mreg.errors import UsageError
from mreg.git import tags as alias_tags
from mreg.integrations.foreign import (
    ArtifactMissing,
    ArtifactRefused,
    ForeignMove,
    ForeignRegistry,
    ForeignVersion,
    bounded,
)
from mreg.layout import ALIASES_BRANCH, ALIASES_REF, CODEOWNERS_PATH, PROPOSAL_HOLDER_PREFIX, policy_path
from mreg.refs import VERSION_RE
from mreg.results import ImportReport, ImportRow, Review

if TYPE_CHECKING:
    from mreg.context import Context
    from mreg.manifest import Manifest
    from mreg.ports import Progress

IMPORT_BRANCH_PREFIX = "mreg/import/"


def reason_for(system: str) -> str:
    return f"imported from {system}"


@dataclass(frozen=True)
class _Tag:
    move: ForeignMove


@dataclass(frozen=True)
class _PinWanted:
    model: str
    alias: str
    version: int
    history: tuple[ForeignMove, ...]
    pinned: bool = False  # pinned on the governed branch already, its tag not written yet


def import_mlflow(
    ctx: Context, tracking_uri: str, models: Sequence[str] = (), **options: Any
) -> ImportReport:
    """`mreg import mlflow`: MLflow's registry read through its client (nothing downloaded before the
    plan is made), then imported."""
    from mreg.integrations.mlflow_import import read

    return run_import(ctx, read(tracking_uri, models), **options)


def import_gto(ctx: Context, repo: Path, **options: Any) -> ImportReport:
    """`mreg import gto`: a GTO repository's artifacts and tags, then imported."""
    from mreg.integrations.gto_import import read

    return run_import(ctx, read(repo), **options)


def run_import(
    ctx: Context,
    foreign: ForeignRegistry,
    *,
    dry_run: bool = False,
    no_review: bool = False,
    allow_secret_like: Sequence[str] = (),
    on_version: Callable[[int, int, str], None] | None = None,
    progress: Callable[[str, int], Progress | None] | None = None,
) -> ImportReport:
    ctx.require_initialised()
    ctx.sync()
    tip = ctx.registry_commit()
    rows: dict[str, ImportRow] = {v.model: ImportRow(v.model) for v in foreign.versions}
    failures = list(foreign.problems)
    foreign = _numbered(foreign, rows, failures)
    record = ImportRecord(clone_cache_dir(ctx.git.common_dir), foreign.system)
    todo, available = _versions_to_import(ctx, foreign, tip, rows, failures, record, verify=not dry_run)
    record.save()
    protected_moves = [m for m in foreign.moves if ctx.is_protected(m.alias)]
    if dry_run:
        todo = _checked(foreign.system, todo, rows, failures)
        planned = available | {(v.model, v.version) for v in todo}
        tags, pins, held = _alias_plan(ctx, foreign, planned, rows)
        plan = [f"register {v.model}@v{v.version} (from {foreign.system} {v.key})" for v in todo]
        plan += [_tag_line(t.move) for t in tags]
        how = (
            "unreviewed: --no-review"
            if no_review
            else "one pull request for all protected aliases"
            if ctx.branches.online
            else "refused: no remote to review it; --no-review pins it unreviewed"
        )
        plan += [
            f"pin {p.model}@{p.alias} = v{p.version} on {ALIASES_BRANCH} ({how})"
            if not p.pinned
            else f"tag {p.model}@{p.alias} = v{p.version} (pinned on {ALIASES_BRANCH} already)"
            for p in pins
            if not p.pinned or _direct(ctx, no_review)
        ]
        return ImportReport(foreign.system, True, _sorted(rows), 0, 0, tuple(failures + held), tuple(plan))
    if protected_moves:  # only when a pin is still to be made: a re-run needs no --no-review
        planned = available | {(v.model, v.version) for v in todo}
        _, pins_ahead, _ = _alias_plan(ctx, foreign, planned, {})
        if [p for p in pins_ahead if not p.pinned or _direct(ctx, no_review)]:
            _require_a_review_path(ctx, no_review, pins_ahead[0].alias)
    uploaded = reused = 0
    for i, v in enumerate(todo):
        if on_version is not None:
            on_version(i + 1, len(todo), f"{v.model}@v{v.version}")
        row = rows[v.model]
        try:
            up, re_used, digest = _import_version(ctx, v, foreign.system, progress, allow_secret_like)
        except ArtifactMissing as exc:
            failures.append(f"{v.model} v{v.version} ({foreign.system} {v.key}): artifact missing: {exc}")
            rows[v.model] = replace(row, versions_failed=row.versions_failed + 1)
            continue
        except ArtifactRefused as exc:
            failures.append(f"{v.model} v{v.version} ({foreign.system} {v.key}): artifact refused: {exc}")
            rows[v.model] = replace(row, versions_failed=row.versions_failed + 1)
            continue
        except UsageError as exc:  # a secret-like param, a metric that is not a number, an oversized manifest
            hint = f" ({exc.hint})" if exc.hint and "--allow-secret-like" in exc.hint else ""
            failures.append(f"{v.model} v{v.version} ({foreign.system} {v.key}): {exc.message}{hint}")
            rows[v.model] = replace(row, versions_failed=row.versions_failed + 1)
            continue
        record.remember(v.model, v.key, digest)
        record.save()
        uploaded += up
        reused += re_used
        available.add((v.model, v.version))
        rows[v.model] = replace(row, versions_added=row.versions_added + 1)
    tags, pins, held = _alias_plan(ctx, foreign, available, rows)
    failures += held
    for t in tags:
        _write(ctx, t.move, foreign.system, reason=reason_for(foreign.system))
        _count(rows, t.move.model, moves_added=1)
    review, pinned_in = _settle_pins(ctx, foreign.system, pins, rows, no_review)
    return ImportReport(
        foreign.system, False, _sorted(rows), uploaded, reused, tuple(failures), (), review, pinned_in
    )


def _settle_pins(
    ctx: Context, system: str, pins: list[_PinWanted], rows: dict[str, ImportRow], no_review: bool
) -> tuple[Review | None, str | None]:
    """The protected aliases: proposed in one review, or pinned unreviewed and tagged; a pin made by
    a run cut short before its tag is tagged now (unreviewed path) or left to `mreg apply` (merged)."""
    review, pinned_in = None, None
    to_pin = [p for p in pins if not p.pinned]
    if to_pin:
        if not _direct(ctx, no_review):
            review = _propose_pins(ctx, system, to_pin)
        else:
            pinned_in = _pin_directly(ctx, system, to_pin)
        for p in to_pin:
            _count(rows, p.model, pins=1)
    for p in pins:
        if not p.pinned:
            continue
        if _direct(ctx, no_review):  # a run cut short between its unreviewed pin and the tag
            _write(
                ctx,
                p.history[-1],
                system,
                reason=_unreviewed(system),
                governed=ctx.git.rev_parse(ALIASES_REF),
            )
            _count(rows, p.model, moves_added=1)
        else:  # merged by review: `mreg apply` (CI) tags it
            _count(rows, p.model, moves_present=1)
    return review, pinned_in


def _checked(
    system: str, todo: list[ForeignVersion], rows: dict[str, ImportRow], failures: list[str]
) -> list[ForeignVersion]:
    """--dry-run: the versions whose bytes are known to be missing without a download, listed."""
    out = []
    for v in todo:
        try:
            v.check()
        except ArtifactMissing as exc:
            failures.append(f"{v.model} v{v.version} ({system} {v.key}): artifact missing: {exc}")
            _count(rows, v.model, versions_failed=1)
            continue
        out.append(v)
    return out


def _numbered(foreign: ForeignRegistry, rows: dict[str, ImportRow], failures: list[str]) -> ForeignRegistry:
    """Without the versions whose number mreg cannot hold (0, negative, more than 9 digits): each
    listed; the rest are imported (an alias to one of them waits, listed too)."""
    bad = [v for v in foreign.versions if not VERSION_RE.match(str(v.version))]
    for v in bad:
        failures.append(
            f"{v.model} v{v.version} ({foreign.system} {v.key}): mreg version numbers are 1 to 999999999"
        )
        _count(rows, v.model, versions_failed=1)
    return replace(foreign, versions=[v for v in foreign.versions if all(v is not b for b in bad)])


def _sorted(rows: dict[str, ImportRow]) -> tuple[ImportRow, ...]:
    return tuple(rows[m] for m in sorted(rows))


def _count(rows: dict[str, ImportRow], model: str, **add: int) -> None:
    row = rows.setdefault(model, ImportRow(model))
    rows[model] = replace(row, **{k: getattr(row, k) + n for k, n in add.items()})


def _versions_to_import(
    ctx: Context,
    foreign: ForeignRegistry,
    tip: str,
    rows: dict[str, ImportRow],
    failures: list[str],
    record: ImportRecord,
    verify: bool,
) -> tuple[list[ForeignVersion], set[tuple[str, int]]]:
    """The versions still to import, and those this registry holds already from an earlier run; a
    number taken by another version is listed, never overwritten."""
    todo: list[ForeignVersion] = []
    available: set[tuple[str, int]] = set()
    for model in sorted(rows):
        versions = sorted((v for v in foreign.versions if v.model == model), key=lambda v: v.version)
        blobs = ctx.version_blobs(model, tip)
        there = ctx.load_manifests(model, [v.version for v in versions if v.version in blobs], tip)
        for v in versions:
            manifest = there.get(v.version)
            if manifest is None:
                todo.append(v)
                continue
            problem = _not_the_same(v, manifest, foreign.system, record, verify)
            if problem is None:
                available.add((model, v.version))
                _count(rows, model, versions_present=1)
            else:
                failures.append(problem)
                _count(rows, model, versions_failed=1)
    return todo, available


def _not_the_same(
    v: ForeignVersion, manifest: Manifest, system: str, record: ImportRecord, verify: bool
) -> str | None:
    """None when the registry's version at this number is the foreign one: labels say so AND the
    bytes agree (this clone's own record of what it imported, or the foreign bytes fetched and
    compared by digest; labels alone are text anyone can write). Otherwise why not."""
    from mreg.ops.register import files_digest

    labels = manifest.get("labels") or {}
    another = (
        f"{v.model} v{v.version}: this registry holds another {v.model}@v{v.version}; "
        f"{system}'s {v.key} is not imported (a registered version is never replaced)"
    )
    if labels.get("import.id") != v.key or labels.get("import.source") != system:
        return another
    if not verify or record.vouches(v.model, v.key, manifest["digest"]):
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="mreg-import-") as tmp:
            digest = files_digest(v.fetch(Path(tmp)))
    except (ArtifactMissing, ArtifactRefused) as exc:
        return f"{v.model} v{v.version} ({system} {v.key}): its bytes cannot be compared with the registered ones: {exc}"
    if digest != manifest.get("digest"):
        return (
            another
            + f"; its labels name {system}'s version, its bytes differ ({digest} here: {manifest.get('digest')})"
        )
    record.remember(v.model, v.key, digest)
    return None


def _import_version(
    ctx: Context,
    v: ForeignVersion,
    system: str,
    progress: Callable[[str, int], Progress | None] | None,
    allow_secret_like: Sequence[str],
) -> tuple[int, int, str]:
    from mreg.ops.register import ImportedFacts, register_imported

    with tempfile.TemporaryDirectory(prefix="mreg-import-") as tmp:
        root = v.fetch(Path(tmp))
        python, packages = v.environment(root)
        metrics, labels = _finite_metrics(v)
        facts = ImportedFacts(
            model=v.model,
            version=v.version,
            created_at=v.created_at,
            created_by=v.created_by,
            message=v.message,
            source=v.source,
            data=v.data,
            params=v.params,
            metrics=metrics,
            labels=labels,
            python=python,
            packages=packages or f"# imported from {system}: no package list was recorded\n",
        )
        result = register_imported(ctx, facts, root, progress=progress, allow_secret_like=allow_secret_like)
    return result.uploaded_bytes, result.reused_bytes, result.digest


def _finite_metrics(v: ForeignVersion) -> tuple[dict[str, Any], dict[str, str]]:
    """The metrics a manifest can hold, and the labels: a NaN or infinite metric (a diverged run)
    is kept as the label `import.metric.<name>` (`nan`, `inf`, `-inf`), not as a number."""
    metrics: dict[str, Any] = {}
    labels = dict(v.labels)
    for k, value in v.metrics.items():
        if isinstance(value, float) and not math.isfinite(value):
            labels[bounded(f"import.metric.{k}")] = str(value)
        else:
            metrics[k] = value
    return metrics, labels


def _alias_plan(
    ctx: Context, foreign: ForeignRegistry, available: set[tuple[str, int]], rows: dict[str, ImportRow]
) -> tuple[list[_Tag], list[_PinWanted], list[str]]:
    """Per alias, what is still to write: tags (unprotected: the rest of the history), pins
    (protected: the current value), and what is held back (a version that is not here)."""
    groups: dict[tuple[str, str], list[ForeignMove]] = {}
    for m in foreign.moves:
        groups.setdefault((m.model, m.alias), []).append(m)
    tags: list[_Tag] = []
    pins: list[_PinWanted] = []
    held: list[str] = []
    reason = reason_for(foreign.system)
    for (model, alias), wanted in sorted(groups.items()):
        events = ctx.alias_events(model, alias)
        if ctx.is_protected(alias):
            pin = _pin_needed(ctx, model, alias, wanted, events, available, held)
            if pin is None:
                _count(rows, model, moves_present=1)
            elif pin.version > 0:
                pins.append(pin)
            continue
        done = [e for e in events if e.reason is not None and e.reason.startswith(reason)]
        if not foreign.history:  # only the current value is known: add it when it changed
            done = done[-1:] if done and done[-1].version == wanted[-1].version else []
            wanted = wanted[-1:]
        if [e.version for e in done] != [m.version for m in wanted[: len(done)]]:
            held.append(
                f"{model}@{alias}: its imported tags differ from {foreign.system}'s history; nothing more replayed"
            )
            continue
        rest = wanted[len(done) :]
        _count(rows, model, moves_present=len(done))
        if rest and events and not (events[-1].reason or "").startswith(reason):
            held.append(
                f"{model}@{alias}: moved in this registry by other means than this import; {len(rest)} "
                f"{foreign.system} move(s) not replayed over it"
            )
            continue
        current = done[-1].version if done else (events[-1].version if events else None)
        for m in rest:
            if m.version is not None and (model, m.version) not in available:
                held.append(
                    f"{model}@{alias} → v{m.version} ({_when(m.at)}): v{m.version} was not imported; "
                    "this and later moves of the alias wait for it"
                )
                break
            if m.version is None and current is None:
                continue  # removing an alias that is not set changes nothing
            tags.append(_Tag(m))
            current = m.version
    return tags, pins, held


def _pin_needed(
    ctx: Context,
    model: str,
    alias: str,
    wanted: list[ForeignMove],
    events: list[alias_tags.AliasEvent],
    available: set[tuple[str, int]],
    held: list[str],
) -> _PinWanted | None:
    """The protected alias's current foreign value, unless the registry already has it (tagged, or
    pinned and waiting for `apply`); a version that is not here is held back (version 0)."""
    from mreg.policy import pins_of, read_policy

    last = wanted[-1]
    if last.version is None:
        return None  # removed in the foreign registry: nothing to pin
    if (model, last.version) not in available:
        held.append(f"{model}@{alias} → v{last.version}: v{last.version} was not imported; not pinned")
        return _PinWanted(model, alias, 0, ())
    cur = alias_tags.current(events, alias)
    if cur is not None and cur.version == last.version:
        return None
    governed = ctx.git.rev_parse(ALIASES_REF)
    pin = pins_of(read_policy(ctx.git, governed, model) if governed else None).get(alias)
    if pin is not None and pin.version == last.version:  # merged, or pinned unreviewed by a run cut short
        return _PinWanted(model, alias, last.version, tuple(wanted), pinned=True)
    return _PinWanted(model, alias, last.version, tuple(wanted))


def _direct(ctx: Context, no_review: bool) -> bool:
    """Protected aliases are pinned (and tagged) by this run, unreviewed, rather than proposed."""
    return not ctx.branches.online or no_review


def _unreviewed(system: str) -> str:
    return f"{reason_for(system)} (unreviewed: --no-review)"


def _require_a_review_path(ctx: Context, no_review: bool, alias: str) -> None:
    """Before anything is written: protected aliases need a review, or --no-review where SPEC §7 allows it."""
    if not ctx.branches.online and not no_review:
        raise UsageError(
            f"alias {alias!r} is protected and this registry has no remote to review the imported pins",
            hint="pass --no-review to pin them directly (the pins and the tags record that nobody reviewed them)",
        )
    if no_review and ctx.git.remote_url(ctx.remote_name) is not None and not ctx.config.allow_unreviewed:
        raise UsageError(
            f"alias {alias!r} is protected: in a registry with a remote, --no-review needs "
            f"'allow_unreviewed: true' in {ALIASES_BRANCH}:mreg.yaml",
            hint=f"run without --no-review to open one pull request on {ALIASES_BRANCH} for the protected aliases",
        )


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _tag_line(m: ForeignMove) -> str:
    what = f"v{m.version}" if m.version is not None else "(removed)"
    return f"tag {m.model}@{m.alias} = {what} (at {_when(m.at)} by {m.by})"


def _write(ctx: Context, m: ForeignMove, system: str, *, reason: str, governed: str | None = None) -> None:
    from mreg.ops.promote import write_tag

    at = datetime.fromtimestamp(m.at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    write_tag(
        ctx,
        m.model,
        m.alias,
        "promote" if m.version is not None else "demote",
        m.version,
        reason=reason,
        request=None,
        governed=governed,
        at=at,
        extra={"imported_from": system, "by": m.by},
    )


def _pins_commit_files(ctx: Context, base: str, pins: list[_PinWanted]) -> dict[str, bytes]:
    from mreg.ops.review import pin_in_text
    from mreg.policy import Pin, read_policies, render_codeowners

    files: dict[str, bytes] = {}
    tip = ctx.registry_commit()
    for p in pins:
        path = policy_path(p.model)
        old = files.get(path) or ctx.git.read_blob(f"{base}:{path}")
        digest = ctx.load_manifest(p.model, p.version, tip)["digest"]
        files[path] = pin_in_text(old, p.alias, Pin(p.version, digest))
    files[CODEOWNERS_PATH] = render_codeowners(read_policies(ctx.git, base))
    return files


def _pins_message(system: str, pins: list[_PinWanted], reason: str) -> tuple[str, str]:
    """The commit's subject and body: the pins, and each protected alias's history as the foreign
    registry recorded it (the reviewers see it; the tags record only the reviewed current value)."""
    title = f"import {len(pins)} protected alias{'es' if len(pins) != 1 else ''} from {system}"
    lines = [title, "", f"Reason: {reason}", ""]
    for p in pins:
        lines.append(f"{p.model}@{p.alias} = v{p.version}; history in {system}:")
        lines += [f"  {_tag_line(m).removeprefix('tag ')}" for m in p.history]
    return title, "\n".join(lines) + "\n"


def _propose_pins(ctx: Context, system: str, pins: list[_PinWanted]) -> Review:
    """One pull request pins every protected alias of the import; a re-run that would propose the
    same tree pushes nothing."""
    from mreg.ops.review import propose

    ctx.branches.fetch(force=True)
    base = ctx.git.rev_parse(ALIASES_REF)
    assert base is not None  # require_initialised
    files = _pins_commit_files(ctx, base, pins)
    title, message = _pins_message(system, pins, reason_for(system))
    tree = ctx.git.write_tree(ctx.git.rev_parse(f"{base}^{{tree}}"), files)
    branch = IMPORT_BRANCH_PREFIX + system.lower()
    remote = ctx.branches.remote
    assert remote is not None
    holder = f"{PROPOSAL_HOLDER_PREFIX}import-{system.lower()}"
    if ctx.git.remote_has_branch(remote, branch):
        ctx.git.fetch(remote, [f"+refs/heads/{branch}:{holder}"])
        if ctx.git.rev_parse(f"{holder}^{{tree}}") == tree:
            return Review(branch, updated=False)
    commit = ctx.git.commit_tree(tree, [base], message)
    body = "\n".join(
        [
            f"## {title}",
            "",
            f"Merging pins these protected aliases in `{ALIASES_BRANCH}` to the versions {system} had "
            "(version and digest: the exact bytes); `mreg apply` (CI, after the merge) then creates the tags.",
            "",
            "```",
            message.rstrip(),
            "```",
        ]
    )
    return propose(ctx, branch, commit, title, body + "\n")


def _pin_directly(ctx: Context, system: str, pins: list[_PinWanted]) -> str:
    """--no-review (a registry without a remote, or `allow_unreviewed: true`): one commit on the
    governed branch pins them all, marked unreviewed, then each pin is tagged, backed by that commit."""
    from mreg.git.branches import Change

    reason = _unreviewed(system)

    def build(base: str | None) -> Change:
        assert base is not None
        _, message = _pins_message(system, pins, reason)
        return Change(_pins_commit_files(ctx, base, pins), message.rstrip("\n"))

    commit, _ = ctx.branches.commit(ALIASES_BRANCH, build)
    for p in pins:
        _write(ctx, p.history[-1], system, reason=reason, governed=commit)
    return commit

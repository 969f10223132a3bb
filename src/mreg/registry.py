"""`Registry`: the Python API of SPEC §10, and the only thing the CLI calls.

A typed facade: every command is one method with explicit keyword-only options, returning a frozen
result from `mreg.results` (each with `to_json()`). It holds a `mreg.context.Context` and hands it
to the use case in `mreg.ops`; nothing in `mreg.ops` ever sees a Registry. Use cases are imported
inside each method, so `import mreg` and `mreg resolve` stay light.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg.context import Config, Context
from mreg.ports import ObjectStore, Progress
from mreg.refs import as_datetime, check_model

if TYPE_CHECKING:
    from mreg.results import (
        AliasMove,
        ApplyReport,
        CheckReport,
        CopyReport,
        Diff,
        DuReport,
        Evaluation,
        GateReport,
        GateRun,
        GcReport,
        ImportReport,
        InitResult,
        Lineage,
        LogEntry,
        ModelSummary,
        OutletRun,
        PolicyChange,
        PullResult,
        RegisterResult,
        Report,
        RetentionReport,
        VerifyReport,
        Version,
        VersionLifecycle,
    )

When = datetime | str | None  # a datetime, or WHEN text: an ISO date/datetime, `30d`, `12h ago`
PathLike = str | os.PathLike[str]
Metric = float | int | Mapping[str, Any]  # nested mappings are recorded as dotted names (`val.auc`)


class Registry:
    """A model registry: one git repository (or a remote registry read without a clone) plus its store.

    Open one with `Registry.open(path)`; every method fetches the registry refs first unless the
    registry was opened `offline`, verifies what it fetched (SPEC §3a), and raises a subclass of
    `mreg.MregError` whose `exit_code` is the CLI's (SPEC §8).
    """

    def __init__(self, context: Context) -> None:
        self._ctx = context

    @classmethod
    def open(
        cls,
        path: PathLike = ".",
        *,
        registry: str | None = None,
        offline: bool = False,
        on_warning: Callable[[str], None] | None = None,
    ) -> Registry:
        """Open the registry of the repository at `path`, or of a remote `registry` git URL without a
        clone. `on_warning` receives what is worth telling a person but is not an error (e.g. an
        approved alias move not applied yet)."""
        ctx = Context.open(path, registry=registry, offline=offline)
        if on_warning is not None:
            ctx.notify = on_warning
        return cls(ctx)

    # -- what the registry is -----------------------------------------------------------------------
    @property
    def store(self) -> ObjectStore:
        """The object store of this registry (from mreg.yaml, or the directory inside the clone)."""
        return self._ctx.store

    @property
    def config(self) -> Config:
        """mreg.yaml on the governed branch, as this clone last verified it."""
        return self._ctx.config

    @property
    def offline(self) -> bool:
        return self._ctx.offline

    # -- reading --------------------------------------------------------------------------------------
    def resolve(
        self, ref: str, at: When = None, *, allow_unreviewed: bool = False, with_aliases: bool = True
    ) -> Version:
        """Resolve `MODEL`, `MODEL@vN` or `MODEL@ALIAS` as the registry stood at `at` (now by default).

        A protected alias is followed only to a tag a reviewed pin backs (SPEC §3a.3);
        `allow_unreviewed` is the deliberate, visible way around that. `with_aliases=False` skips
        finding the aliases on the version (`Version.aliases` is then empty): faster in deploy loops.
        """
        return self._ctx.resolve(ref, at, allow_unreviewed=allow_unreviewed, with_aliases=with_aliases)

    def show(self, ref: str, at: When = None, *, allow_unreviewed: bool = False) -> Version:
        """The version with its manifest, the aliases on it and its evaluations (SPEC §11) as of `at`."""
        from dataclasses import replace

        from mreg.ops import evaluate
        from mreg.ops.retention import refuse_purged

        v = self.resolve(ref, at, allow_unreviewed=allow_unreviewed)
        refuse_purged(self._ctx, v.model, v.version)
        found = evaluate.read(self._ctx, [v], at=as_datetime(at))
        return replace(v, evaluations=found[(v.model, v.version)])

    def archive(self, ref: str, *, reason: str) -> VersionLifecycle:
        """Archive a version (issue 20): never promoted, rolled back to or applied again until it is
        unarchived. Refused while an alias points at it; archiving twice writes one record."""
        from mreg.ops.lifecycle import change

        return change(self._ctx, ref, archive=True, reason=reason)[0]

    def unarchive(self, ref: str, *, reason: str) -> VersionLifecycle:
        """Lift an archive: an append-only record of its own (the archive stays in the history)."""
        from mreg.ops.lifecycle import change

        return change(self._ctx, ref, archive=False, reason=reason)[0]

    def lifecycle(self, model: str, at: When = None) -> dict[int, VersionLifecycle]:
        """Every version of `model` and where it stands: active, archived, purging or purged, with
        the records that say so (what `report` shows)."""
        from mreg.ops.lifecycle import lifecycle

        return lifecycle(self._ctx, model, at=as_datetime(at))

    def evaluate(
        self,
        ref: str,
        *,
        dataset: str | tuple[str, str],
        metrics: Sequence[str] | Mapping[str, Metric] = (),
        metrics_files: Sequence[PathLike] = (),
        message: str | None = None,
    ) -> Evaluation:
        """Record a result of `ref` obtained after it was registered (SPEC §11): `dataset` as
        `NAME=URI` (or a (name, uri) pair) — a local file or directory is hashed, a remote object
        fingerprinted — and `metrics` as a mapping or `K=V` strings. Appended with compare-and-swap:
        evaluators in several clones at once each land one record."""
        from mreg.ops.evaluate import EvaluationRequest, add

        if not isinstance(dataset, str):
            dataset = f"{dataset[0]}={dataset[1]}"
        result = add(
            self._ctx,
            EvaluationRequest(
                ref, dataset, metrics=metrics, metrics_files=list(metrics_files), message=message
            ),
        )
        self._notify()
        return result

    def evaluations(
        self, ref: str, at: When = None, *, allow_unreviewed: bool = False
    ) -> tuple[Evaluation, ...]:
        """The version's evaluation records, oldest first (records that fail their checks are left
        out, with a warning)."""
        from mreg.ops import evaluate

        v = self.resolve(ref, at, allow_unreviewed=allow_unreviewed, with_aliases=False)
        return evaluate.read(self._ctx, [v], at=as_datetime(at))[(v.model, v.version)]

    def lineage(
        self,
        ref: str | None = None,
        *,
        down: bool = False,
        dataset: str | None = None,
        at: When = None,
        allow_unreviewed: bool = False,
    ) -> Lineage:
        """Where `ref` came from (SPEC §11): its parent chain across models, each version with its
        data refs, source, environment and evaluations; an external parent (`hf://…`) is shown, not
        followed. `down`: the versions fine-tuned from it, transitively (`ref` may then be an
        external URI). `dataset` (a URI, a local path, a `sha256:` digest or a dataset identity),
        without `ref`: every version that trained or was evaluated on it and every alias that ever
        pointed at one of them. `mreg.openlineage.run_events(result)` gives the same as OpenLineage
        run events."""
        from mreg.ops.lineage import lineage

        return lineage(
            self._ctx, ref, down=down, dataset=dataset, at=as_datetime(at), allow_unreviewed=allow_unreviewed
        )

    def versions(self, model: str, at: When = None) -> list[int]:
        """The version numbers of a model, oldest first."""
        ctx = self._ctx
        commit = ctx.registry_commit(as_datetime(at))
        found = ctx.versions(check_model(model), commit)
        if not found:
            ctx.raise_unknown_model(model, commit, at=as_datetime(at))
        return found

    def list_models(self, at: When = None) -> list[ModelSummary]:
        """Every model: its latest version, how many versions, the aliases a reader follows."""
        from mreg.ops.inspect import list_models

        return list_models(self._ctx, as_datetime(at))

    def diff(self, a: str, b: str, *, at: When = None) -> Diff:
        """What changed between two versions: params, metrics, data, environment, packages, files."""
        from mreg.ops.inspect import diff

        return diff(self._ctx, a, b, at=as_datetime(at))

    def log(self, model: str, *, alias: str | None = None, at: When = None) -> list[LogEntry]:
        """Registrations and alias events, oldest first: what, who, when, why (`at`: only what had
        been recorded by then)."""
        from mreg.ops.inspect import history

        entries = history(self._ctx, check_model(model), alias=alias)
        when = as_datetime(at)
        if when is None:
            return entries
        cutoff = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        return [e for e in entries if e.at <= cutoff]

    def report(self, *, at: When = None, models: Sequence[str] = ()) -> Report:
        """The registry's dashboard data (SPEC §13) as it stood at `at` (now by default), for every
        model or those named: versions with metrics, parents and evaluations, the alias timeline
        (UNREVIEWED moves marked as in `log`), latest version, aliases, last change and owners.
        The same registry state gives an equal report; `mreg.report_md.render` makes it Markdown."""
        from mreg.ops.report import report

        if isinstance(models, str):
            models = [models]
        return report(self._ctx, at=as_datetime(at), models=[check_model(m) for m in models])

    # -- writing --------------------------------------------------------------------------------------
    def init(
        self, *, store: str | None = None, remote: str | None = None, github: bool = False
    ) -> InitResult:
        """Create both registry branches (a second run changes nothing); `store` is recorded in
        mreg.yaml, `github` also commits the apply workflow onto the governed branch."""
        from mreg.ops.init import init_registry
        from mreg.results import InitResult

        return InitResult(tuple(init_registry(self._ctx, store=store, remote=remote, github=github)))

    def register(
        self,
        model: str,
        paths: Sequence[PathLike],
        *,
        params: Sequence[str] | Mapping[str, Any] = (),
        params_files: Sequence[PathLike] | PathLike = (),
        metrics: Sequence[str] | Mapping[str, Metric] = (),
        metrics_files: Sequence[PathLike] | PathLike = (),
        data: Sequence[str] | Mapping[str, str] = (),
        lockfile: PathLike | None = None,
        image: str | None = None,
        parent: str | None = None,
        message: str | None = None,
        labels: Mapping[str, str] | None = None,
        progress: Callable[[str, int], Progress | None] | None = None,
        on_duplicate: Callable[[str], None] | None = None,
        jobs: int | None = None,
        allow_secret_like: Sequence[str] = (),
    ) -> RegisterResult:
        """Store the files (directories recurse) and write the next version's manifest (SPEC §4, §8).

        `params`/`metrics` take mappings or `K=V` strings; `data` a mapping of name to URI or
        `NAME=URI` strings. `parent`: what it was fine-tuned from, a reference that must resolve (an
        alias is recorded as the version it names) or an external URI (`hf://org/model`) recorded as
        given. Bytes identical to an existing version's still make a new version (its
        params, metrics and message may differ); `duplicate_of` names the earlier one and
        `on_duplicate` is told. `paths` is a list: a lone string is refused, not read letter by letter.
        """
        from mreg.errors import UsageError
        from mreg.ops.register import RegisterRequest, register

        if isinstance(paths, (str, bytes, os.PathLike)):
            raise UsageError(f"register: paths must be a list of files or directories, not {paths!r}")
        if isinstance(data, Mapping):
            data = [f"{k}={v}" for k, v in data.items()]
        elif isinstance(data, str):
            data = [data]
        request = RegisterRequest(
            check_model(model),
            [Path(p) for p in paths],
            params=params,
            params_files=params_files,
            metrics=metrics,
            metrics_files=metrics_files,
            data=data,
            lockfile=os.fspath(lockfile) if lockfile is not None else None,
            image=image,
            parent=parent,
            message=message,
            labels=labels,
            allow_secret_like=allow_secret_like,
        )
        result = register(self._ctx, request, progress=progress, on_duplicate=on_duplicate, jobs=jobs)
        self._notify()
        return result

    def pull(
        self,
        ref: str,
        dest: PathLike | None = None,
        *,
        at: When = None,
        allow_unreviewed: bool = False,
        force: bool = False,
        jobs: int | None = None,
        progress: Callable[[str, int], Progress | None] | None = None,
    ) -> Path:
        """Verified artifacts under `dest` (default `MODEL-vN`); returns the directory (SPEC §10)."""
        return self.pull_report(
            ref, dest, at=at, allow_unreviewed=allow_unreviewed, force=force, jobs=jobs, progress=progress
        ).dest

    def pull_report(
        self,
        ref: str,
        dest: PathLike | None = None,
        *,
        at: When = None,
        allow_unreviewed: bool = False,
        force: bool = False,
        jobs: int | None = None,
        progress: Callable[[str, int], Progress | None] | None = None,
    ) -> PullResult:
        """`pull`, with what a caller may want to show: files, cache hits, store reads."""
        from mreg.ops.pull import pull

        return pull(
            self._ctx,
            ref,
            Path(dest) if dest is not None else None,
            at=as_datetime(at),
            allow_unreviewed=allow_unreviewed,
            force=force,
            jobs=jobs,
            progress=progress,
        )

    # -- aliases --------------------------------------------------------------------------------------
    def promote(
        self,
        ref: str,
        to: str,
        *,
        reason: str | None = None,
        sign: bool = False,
        no_review: bool = False,
        at: When = None,
    ) -> AliasMove:
        """Point alias `to` at `ref`; a protected alias becomes a pull request on the governed branch."""
        from mreg.ops.promote import promote

        move = promote(self._ctx, ref, to, reason=reason, sign=sign, no_review=no_review, at=as_datetime(at))
        self._notify()  # a tag (alias.moved), or a review branch (review.requested)
        return move

    def rollback(
        self,
        target: str,
        *,
        to: str | None = None,
        at: When = None,
        reason: str | None = None,
        sign: bool = False,
        no_review: bool = False,
    ) -> AliasMove:
        """Put `MODEL@ALIAS` back on the version it held before (or on `to`)."""
        from mreg.ops.promote import rollback

        move = rollback(
            self._ctx, target, to=to, at=as_datetime(at), reason=reason, sign=sign, no_review=no_review
        )
        self._notify()
        return move

    def demote(
        self, target: str, *, reason: str | None = None, sign: bool = False, no_review: bool = False
    ) -> AliasMove:
        """Remove an alias (`MODEL@ALIAS`): a new tag records the removal."""
        from mreg.ops.promote import demote

        move = demote(self._ctx, target, reason=reason, sign=sign, no_review=no_review)
        self._notify()
        return move

    # -- the review flow (SPEC §7, §9) ---------------------------------------------------------------------
    def check(self, *, base: str | None = None, objects: bool = False) -> CheckReport:
        """Validate both branches: schemas, immutability since `base`, tags against the governed pins;
        `objects` also checks every referenced object is in the store."""
        from mreg.ops.check import check

        return check(self._ctx, base=base, objects=objects)

    def gate(self, ref: str, alias: str, *, at: When = None) -> GateReport:
        """Evaluate the model's gate for `alias` on the candidate `ref`."""
        from mreg.ops.gate import gate_ref

        return gate_ref(self._ctx, ref, alias, as_datetime(at))

    def gate_changes(self, *, base: str, head: str) -> GateRun:
        """Gate every alias change between two governed-branch commits (a pull request's base and head)."""
        from mreg.ops.gate import gate_changed
        from mreg.results import GateRun

        return GateRun(tuple(gate_changed(self._ctx, base, head)))

    def apply(self, *, dry_run: bool = False, sign: bool = False) -> ApplyReport:
        """Create the alias tags that merged changes on the governed branch ask for (idempotent)."""
        from mreg.ops.apply import apply
        from mreg.results import ApplyReport

        pending, applied = apply(self._ctx, dry_run=dry_run, sign=sign)
        if not dry_run:
            self._notify()
        return ApplyReport(tuple(pending), tuple(applied), dry_run=dry_run)

    def notify(self, *, outlet: str | None = None, dry_run: bool = False) -> tuple[OutletRun, ...]:
        """Deliver every registry event after each outlet's cursor (SPEC §12): the outlets in
        mreg.yaml, or the one named. At least once, in order; an outlet that fails stops at its failed
        event (the next run retries from there) and never stops the others. `dry_run`: what would be
        sent, nothing sent, no cursor moved."""
        from mreg.ops.notify import notify

        return tuple(notify(self._ctx, outlet=outlet, dry_run=dry_run))

    def import_mlflow(
        self,
        tracking_uri: str,
        *,
        models: Sequence[str] = (),
        dry_run: bool = False,
        no_review: bool = False,
        allow_secret_like: Sequence[str] = (),
        on_version: Callable[[int, int, str], None] | None = None,
        progress: Callable[[str, int], Progress | None] | None = None,
    ) -> ImportReport:
        """Bring an MLflow model registry over (SPEC §14) through MLflow's own client (`mreg[mlflow]`):
        every registered model (or those named), each version at its own number, aliases and legacy
        stages as alias tags; protected aliases as pins in one review. A re-run adds only what is
        missing; what cannot be imported is in `failures`."""
        from mreg.ops.import_ import import_mlflow

        report = import_mlflow(
            self._ctx,
            tracking_uri,
            models,
            dry_run=dry_run,
            no_review=no_review,
            allow_secret_like=allow_secret_like,
            on_version=on_version,
            progress=progress,
        )
        if not dry_run:
            self._notify()
        return report

    def import_gto(
        self,
        repo: PathLike,
        *,
        dry_run: bool = False,
        no_review: bool = False,
        allow_secret_like: Sequence[str] = (),
        on_version: Callable[[int, int, str], None] | None = None,
        progress: Callable[[str, int], Progress | None] | None = None,
    ) -> ImportReport:
        """Bring a GTO registry over (SPEC §14): its artifacts' versions, numbered in semver order (the
        semver kept in `labels`), and the full stage history of its tags, in order, with the original
        taggers and times."""
        from mreg.ops.import_ import import_gto

        report = import_gto(
            self._ctx,
            Path(repo),
            dry_run=dry_run,
            no_review=no_review,
            allow_secret_like=allow_secret_like,
            on_version=on_version,
            progress=progress,
        )
        if not dry_run:
            self._notify()
        return report

    def _notify(self) -> None:
        """After a write: deliver when outlets are configured (a failure is a warning, never a failed
        write; `MREG_NO_NOTIFY=1` leaves it to a later `mreg notify`)."""
        if os.environ.get("MREG_NO_NOTIFY"):
            return
        from mreg.ops.notify import notify_quietly

        notify_quietly(self._ctx)

    def change_policy(
        self,
        model: str,
        *,
        add_owners: Sequence[str] = (),
        remove_owners: Sequence[str] = (),
        gates: Sequence[tuple[str, str]] = (),
        clear_gates: Sequence[str] = (),
        protect: Sequence[str] = (),
        unprotect: Sequence[str] = (),
        reason: str | None = None,
    ) -> PolicyChange:
        """Propose a change to a model's owners and gates, or to which aliases are protected, as a
        pull request on the governed branch (committed directly when the registry has no remote)."""
        from mreg.ops.policy_change import propose_policy

        return propose_policy(
            self._ctx,
            model,
            add_owners=add_owners,
            remove_owners=remove_owners,
            gates=gates,
            clear_gates=clear_gates,
            protect=protect,
            unprotect=unprotect,
            reason=reason,
        )

    # -- the store ----------------------------------------------------------------------------------
    def verify(
        self,
        ref: str | None = None,
        *,
        repair: bool = False,
        at: When = None,
        jobs: int | None = None,
        progress: Progress | None = None,
    ) -> VerifyReport:
        """Re-hash the stored objects the manifests (or one version's manifest) reference."""
        from mreg.ops.maintain import verify

        return verify(self._ctx, ref, repair=repair, at=as_datetime(at), jobs=jobs, progress=progress)

    def gc_retention(self, *, dry_run: bool = False) -> RetentionReport:
        """Purge the bytes of versions outside `mreg.yaml: retention`, recording each purge (issue 20)."""
        from mreg.ops.retention import gc_retention

        return gc_retention(self._ctx, dry_run=dry_run)

    def du(self, model: str | None = None) -> DuReport:
        """Logical against stored bytes per version, and what retention would free."""
        from mreg.ops.retention import du

        return du(self._ctx, check_model(model) if model is not None else None)

    def gc(self, *, dry_run: bool = False, grace_seconds: float | None = None) -> GcReport:
        """Delete store objects no manifest references (never one younger than the grace period)."""
        from mreg.ops.maintain import DEFAULT_GRACE_SECONDS, gc

        grace = DEFAULT_GRACE_SECONDS if grace_seconds is None else grace_seconds
        return gc(self._ctx, dry_run=dry_run, grace_seconds=grace)

    def copy_store(self, to: str, *, source: str | None = None, dry_run: bool = False) -> CopyReport:
        """Copy every version's bytes to another store (`source`: read from this URL instead)."""
        from mreg.ops.maintain import copy_store

        return copy_store(self._ctx, to, dry_run=dry_run, source_url=source)


__all__ = ["Registry"]

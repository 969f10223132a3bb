"""`mreg report` (SPEC §13, issue 17): the data of the registry's dashboard, as it stood at `at`.

Per model: the versions (the manifest's claims, metrics, parent, evaluations, the aliases a reader
follows to each), the alias timeline (every move, `reviewed` as `log` judges it) and the index row
(latest version, aliases, last change, owners from the model's policy on the governed branch).

Batched whatever the size of the registry: one `ls-tree -r` of `models/` and one `cat-file --batch`
for every manifest and evaluation record, one `for-each-ref` read of every alias tag, the index of
`list`, one `git log` a model that has evaluations. Deterministic: everything sorted, nothing about
the time of generation. Renderers (Markdown: `mreg.report_md`) take the `Report` and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mreg.errors import MregError, NotFoundError
from mreg.git import tags as alias_tags
from mreg.layout import (
    ALIASES_BRANCH,
    REGISTRY_BRANCH,
    evaluation_of_path,
    lifecycle_of_path,
    manifest_path,
    record_of_path,
)
from mreg.refs import utc_stamp
from mreg.results import ModelReport, Report, ReportMove, ReportVersion

if TYPE_CHECKING:
    from mreg.context import Context
    from mreg.manifest import Manifest
    from mreg.results import Evaluation, VersionLifecycle

KEY_METRICS = 5  # metric columns in a versions table: the gated ones first, then by name


def report(ctx: Context, *, at: datetime | None = None, models: Sequence[str] = ()) -> Report:
    from mreg.context import to_unix
    from mreg.ops.evaluate import RecordAt, checked_records
    from mreg.ops.inspect import list_models, reviewed_marks

    ctx.require_initialised()
    commit = ctx.registry_commit(at)
    summaries = {s.model: s for s in list_models(ctx, at)}
    wanted = sorted(set(models)) if models else sorted(summaries)
    for name in wanted:
        if name not in summaries:
            when = f" at {at.isoformat()}" if at else ""
            raise NotFoundError(
                f"no model named {name!r} in the registry{when}", hint="'mreg list' shows the models"
            )
    chosen = set(wanted)
    problems: list[str] = []

    # every manifest and evaluation record of the chosen models: one ls-tree, one cat-file
    manifests, record_paths, with_lifecycle = _manifests(ctx, commit, chosen, problems)
    lifecycles = _lifecycles(ctx, commit, with_lifecycle)
    specs = [
        RecordAt(commit, model, version, manifests[(model, version)]["digest"], number, path)
        for model, version, number, path in sorted(record_paths)
        if (model, version) in manifests
    ]
    evaluations: dict[tuple[str, int], tuple[Evaluation, ...]] = {}
    for key, (good, bad) in sorted(checked_records(ctx, specs, by_model=True).items()):
        problems += bad
        evaluations[key] = tuple(good)

    # every alias tag: one read; `reviewed` as `log` judges it, the tag problems in one batch
    events_by_model: dict[str, list[alias_tags.AliasEvent]] = {}
    for e in alias_tags.read_events(ctx.git, None):
        if e.model in chosen:
            events_by_model.setdefault(e.model, []).append(e)
    every_event = [e for es in events_by_model.values() for e in es]
    tag_problems = ctx.tag_problems(every_event) if every_event else {}
    governed_now = ctx.governed_commit()
    policies_now = _policies(ctx, governed_now)
    governed_then = ctx.governed_commit(at) if at is not None else governed_now
    policies_then = policies_now if at is None else _policies(ctx, governed_then)
    cutoff = to_unix(at)

    by_model: dict[str, list[tuple[int, Manifest]]] = {}
    children: dict[str, list[tuple[str, int]]] = {}  # lineage one level down, across the models shown
    for (name, version), m in sorted(manifests.items()):
        by_model.setdefault(name, []).append((version, m))
        if m.get("parent"):
            children.setdefault(str(m["parent"]), []).append((name, version))
    out = []
    for model in wanted:
        summary = summaries[model]
        events = events_by_model.get(model, [])
        marks = reviewed_marks(
            ctx,
            model,
            events,
            governed=governed_now,
            policy=policies_now.get(model),
            problems=tag_problems,
        )
        shown = sorted(
            (e for e in events if cutoff is None or e.timestamp <= cutoff),
            key=lambda e: (e.order_time, e.alias, e.seq),
        )
        moves = tuple(_move(e, marks[e.tag], ctx.is_protected(e.alias)) for e in _seq_order(shown))
        on_version: dict[int, list[str]] = {}
        for alias, version in summary.aliases.items():
            on_version.setdefault(version, []).append(alias)
        versions = tuple(
            ReportVersion(
                version=version,
                digest=m["digest"],
                created_at=str(m["created_at"]),
                created_by=str(m["created_by"]),
                message=m.get("message"),
                metrics=dict(sorted((m.get("metrics") or {}).items())),
                parent=m.get("parent"),
                aliases=tuple(sorted(on_version.get(version, ()))),
                evaluations=evaluations.get((model, version), ()),
                files=tuple(
                    {"path": a["path"], "size": a["size"], "digest": a["digest"]}
                    for a in sorted(m["artifacts"], key=lambda a: a["path"])
                ),
                size=sum(int(a["size"]) for a in m["artifacts"]),
                source=dict(src) if (src := m.get("source")) else None,
                data=tuple(dict(d) for d in sorted(m.get("data") or (), key=lambda d: str(d.get("name")))),
                params=dict(sorted((m.get("params") or {}).items())),
                children=tuple(f"{n}@v{v}" for n, v in sorted(children.get(f"{model}@v{version}", ()))),
                state=lc.state if (lc := lifecycles.get((model, version))) else "active",
                lifecycle=lc.events if lc else (),
            )
            for version, m in by_model.get(model, ())
        )
        policy = policies_then.get(model) or {}
        changes = [v.created_at for v in versions]
        changes += [e.created_at for v in versions for e in v.evaluations]
        changes += [mv.at for mv in moves]
        out.append(
            ModelReport(
                model=model,
                latest=max((v.version for v in versions), default=0),  # of those shown
                aliases=dict(sorted(summary.aliases.items())),
                unreviewed=dict(sorted(summary.unreviewed.items())),
                last_change=max((utc_stamp(c) for c in changes), default=""),
                owners=tuple(sorted(str(o) for o in policy.get("owners") or ())),
                key_metrics=_key_metrics(policy, versions),
                versions=versions,
                moves=moves,
            )
        )
    return Report(
        at=at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else None,
        commit=commit,
        models=tuple(out),
        problems=tuple(sorted(set(problems))),
    )


def _manifests(
    ctx: Context, commit: str, chosen: set[str], problems: list[str]
) -> tuple[dict[tuple[str, int], Manifest], list[tuple[str, int, int, str]], set[str]]:
    """The valid manifests of the chosen models at `commit` (one `ls-tree -r`, one `cat-file`) and
    the (model, version, number, path) of their evaluation records; what fails a check goes to
    `problems`."""
    paths = ctx.git.blob_ids(commit, "models")
    manifest_paths: dict[tuple[str, int], str] = {}
    record_paths: list[tuple[str, int, int, str]] = []
    with_lifecycle: set[str] = set()  # models with lifecycle records (issue 20)
    for path in paths:
        rec = record_of_path(path)
        if rec is not None and rec[0] in chosen:
            manifest_paths[rec] = path
            continue
        ev = evaluation_of_path(path)
        if ev is not None and ev[0] in chosen:
            record_paths.append((*ev, path))
            continue
        lc = lifecycle_of_path(path)
        if lc is not None and lc[0] in chosen:
            with_lifecycle.add(lc[0])
    from mreg.cache import clone_cache_dir
    from mreg.cache.documents import DocumentIndex

    keys = sorted(manifest_paths)
    index = DocumentIndex(clone_cache_dir(ctx.git.common_dir) / "documents")
    known = index.load()
    docs: dict[tuple[str, int], Manifest | str] = {
        k: cast("Manifest", known[paths[manifest_paths[k]]])
        for k in keys
        if paths[manifest_paths[k]] in known
    }
    unknown = [k for k in keys if k not in docs]
    blobs = ctx.git.read_blobs([f"{commit}:{manifest_paths[k]}" for k in unknown])
    wheres = [f"{REGISTRY_BRANCH}:{manifest_path(model, version)}" for model, version in unknown]
    found = {}
    for k, m in zip(unknown, _parse_all(blobs, wheres), strict=True):
        docs[k] = m
        if not isinstance(m, str):
            found[paths[manifest_paths[k]]] = dict(m)
    index.add(found)
    manifests: dict[tuple[str, int], Manifest] = {}
    for model, version in keys:
        m = docs[(model, version)]
        if isinstance(m, str):
            problems.append(m)
            continue
        where = f"{REGISTRY_BRANCH}:{manifest_path(model, version)}"
        if m["model"] != model or m["version"] != version:
            problems.append(f"{where}: the manifest says {m['model']}@v{m['version']}")
            continue
        manifests[(model, version)] = m
    return manifests, record_paths, with_lifecycle


def _lifecycles(ctx: Context, commit: str, models: set[str]) -> dict[tuple[str, int], VersionLifecycle]:
    """The lifecycle of each version that has records, read only for the models that have some."""
    from mreg.ops.lifecycle import read

    out: dict[tuple[str, int], VersionLifecycle] = {}
    for model in sorted(models):
        for version, lc in read(ctx, model, commit=commit).items():
            out[(model, version)] = lc
    return out


PARALLEL_FROM = 400  # manifests not yet in the clone's document index, from which a pool parses them


def _parse(job: tuple[bytes | None, str]) -> Manifest | str:
    """One manifest's bytes, checked (`parse_capped`: size, YAML, schema), or the one line saying
    why not. The clone's document index remembers what passed, not a marker file each."""
    from mreg.context import parse_capped

    blob, where = job
    if blob is None:
        return f"{where}: cannot be read"
    try:
        return parse_capped(blob, where=where, memo=False)
    except MregError as exc:
        return exc.message


def _parse_all(blobs: Sequence[bytes | None], wheres: Sequence[str]) -> list[Manifest | str]:
    """Every manifest parsed and checked, in order. Many at once (a first report in a fresh CI
    runner: nothing known yet) are parsed and validated on every core — YAML and the schema cost
    ~1 ms a manifest."""
    import os
    import sys

    jobs = list(zip(blobs, wheres, strict=True))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2 or not sys.platform.startswith("linux") or len(jobs) < PARALLEL_FROM:
        return [_parse(j) for j in jobs]
    import multiprocessing

    # fork: the children inherit the parsed schema and imports, and return plain data; no thread runs
    # in this process here (the git batch readers are processes, idle while the pool works)
    with multiprocessing.get_context("fork").Pool(min(cores, 8)) as pool:
        return pool.map(_parse, jobs, chunksize=max(1, len(jobs) // (cores * 8)))


def _seq_order(events: list[alias_tags.AliasEvent]) -> list[alias_tags.AliasEvent]:
    """Time orders moves across aliases; within one alias the seq decides (as `log`)."""
    positions: dict[str, list[int]] = {}
    for i, e in enumerate(events):
        positions.setdefault(e.alias, []).append(i)
    out = list(events)
    for idx in positions.values():
        for i, e in zip(idx, sorted((events[i] for i in idx), key=lambda e: e.seq), strict=True):
            out[i] = e
    return out


def _move(e: alias_tags.AliasEvent, reviewed: bool, protected: bool) -> ReportMove:
    d = e.as_dict()
    return ReportMove(
        alias=e.alias,
        seq=e.seq,
        event=e.event,
        version=e.version,
        previous=e.previous,
        reason=e.reason,
        request=e.request,
        by=e.tagger,
        at=str(d["at"]),
        tag=e.tag,
        reviewed=reviewed,
        protected=protected,
    )


def _policies(ctx: Context, governed: str | None) -> dict[str, dict[str, Any]]:
    from mreg.policy import read_policies

    if governed is None:
        return {}
    try:
        return read_policies(ctx.git, governed)
    except MregError as exc:
        ctx.notify(f"{ALIASES_BRANCH}: {exc.message}: owners and key metrics not shown")
        return {}


def _key_metrics(policy: Mapping[str, Any], versions: Sequence[ReportVersion]) -> tuple[str, ...]:
    """The metrics worth a column: those the model's gates name (in the order they are named), then
    the others by how many versions recorded them (then by name), so that one version's metrics
    cannot push out those every version records; only metrics recorded as numbers."""
    counts: dict[str, int] = {}
    for v in versions:
        for k, x in v.metrics.items():
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                counts[k] = counts.get(k, 0) + 1
    numeric = set(counts)
    gated: list[str] = []
    gates = policy.get("gates")
    if isinstance(gates, Mapping):
        for _alias, rules in sorted(gates.items()):
            for rule in rules if isinstance(rules, list) else ():
                name = rule.get("metric") if isinstance(rule, Mapping) else None
                if isinstance(name, str) and name in numeric and name not in gated:
                    gated.append(name)
    rest = sorted(numeric - set(gated), key=lambda k: (-counts[k], k))
    return tuple((gated + rest)[:KEY_METRICS])


SITE_MARK = b'<meta name="generator" content="mreg report">'


def _is_ours(rel: str) -> bool:
    """A file `mreg report` writes into a site (and may replace or remove)."""
    return rel == "index.html" or (
        rel.startswith("models/") and rel.endswith(".html") and rel.count("/") == 1
    )


def _entries(root: Path) -> list[Path]:
    """Every file and symlink under `root`, never following a symlink (a link to `/` planted in a
    site is carried over as a link, not walked)."""
    import os

    out: list[Path] = []
    for top, dirs, files in os.walk(root, followlinks=False):
        base = Path(top)
        out += [base / f for f in files]
        out += [base / d for d in dirs if (base / d).is_symlink()]
    return sorted(out)


def _check_names(pages: Mapping[str, bytes]) -> None:
    from mreg.errors import IntegrityError
    from mreg.refs import MODEL_RE

    for rel in pages:
        name = rel.removeprefix("models/").removesuffix(".html")
        if rel != "index.html" and not (
            rel.startswith("models/") and MODEL_RE.match(name) and ".." not in name
        ):
            raise IntegrityError(f"report: refusing to write a page named {rel!r}")


def _existing_site(target: Path) -> list[Path]:
    """What is in `target` now (nothing, or a site `mreg report` wrote, else a UsageError)."""
    from mreg.errors import UsageError

    if target.exists() and not target.is_dir():
        raise UsageError(f"-o {target}: exists and is not a directory", hint="name a directory for the site")
    existing = _entries(target) if target.is_dir() else []
    if not existing:
        return []
    index = target / "index.html"
    try:
        ours = index.is_file() and SITE_MARK in index.read_bytes()[:4096]
    except OSError:
        ours = False
    if not ours:
        raise UsageError(
            f"-o {target}: not empty, and not a site 'mreg report' wrote",
            hint="name a new or empty directory; mreg replaces only a site of its own",
        )
    for name in ("index.html", "models"):
        path = target / name
        if path.is_symlink() or (name == "models" and path.exists() and not path.is_dir()):
            raise UsageError(
                f"-o {target}: {name} is not what 'mreg report' wrote there (a link or a file)",
                hint=f"remove {path}, or name a new directory",
            )
    return existing


def write_site(pages: Mapping[str, bytes], target: Path) -> None:
    """Write the site's pages into `target` as one step: staged in a sibling directory, then
    swapped in, so a reader (or a crash) sees the old site or the new one, never half of each.
    `target` must be absent, empty, or a site `mreg report` wrote; files of its own there (a
    GitHub Pages `CNAME`, `.nojekyll`) are carried over, pages of models no longer shown are dropped.
    """
    import os
    import shutil
    import tempfile

    _check_names(pages)
    target = Path(os.path.realpath(target))  # a symlink to the site: the site it names is replaced
    existing = _existing_site(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.mreg-", dir=target.parent))
    old: Path | None = None
    try:
        for p in existing:
            rel = p.relative_to(target).as_posix()
            if not _is_ours(rel):
                (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, stage / rel, follow_symlinks=False)
        for rel, data in sorted(pages.items()):
            path = stage / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        os.chmod(stage, 0o755)  # mkdtemp's 0700 would hide the site from a web server's user
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "site")
        os.replace(stage, target)
    except BaseException:
        if old is not None and not target.exists():
            os.replace(old / "site", target)
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

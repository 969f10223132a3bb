"""`mreg lineage` (SPEC §11): where a version came from, what was made from it, who used some data.

- **up** (default): the `parent` chain, across models, each version with its data refs, source
  commit and repository, environment and evaluation records; an external parent (`hf://…`) ends the
  chain, shown and never followed.
- **down**: the versions that name it as parent, transitively (breadth first).
- **dataset**: every version that trained on the data (a manifest `data` entry) or was evaluated on
  it (an evaluation record's `dataset`), matched by digest, by dataset identity or by URI, and every
  alias tag that ever pointed at one of them, with when, marked where no reviewed pin backed it.

Every manifest is read through one `ls-tree -r` of `models/` and a per-clone index of the fields a
look-up needs (`mreg.cache.lineage`): only blobs the index has not seen are read, in one
`cat-file --batch`. Manifests are hostile input: a parent chain that loops is cut where it comes
back (and named), and no chain is followed further than `MAX_DEPTH` generations.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg.cache import clone_cache_dir
from mreg.cache.blob_index import Entry
from mreg.cache.lineage import Entries, LineageIndex
from mreg.digest import DIGEST_RE
from mreg.errors import MregError, UsageError
from mreg.evaluation import dataset_identity, validate_evaluation
from mreg.git import tags as alias_tags
from mreg.layout import REGISTRY_BRANCH, evaluation_of_path, manifest_path, record_of_path
from mreg.manifest import load_yaml, size_problem
from mreg.refs import MODEL_PATTERN, check_external, is_external, parse_ref
from mreg.results import Lineage, LineageAlias, LineageNode

if TYPE_CHECKING:
    from datetime import datetime

    from mreg.context import Context
    from mreg.git.repo import GitRepo
    from mreg.manifest import Manifest
    from mreg.results import Evaluation

MAX_DEPTH = 100  # generations followed up or down: a real fine-tune chain is a handful
_VERSION_REF = re.compile(rf"^({MODEL_PATTERN})@v([1-9][0-9]{{0,8}})\Z")
_IDENTITY_KEYS = ("etag=", "version=", "size=")


def lineage(
    ctx: Context,
    ref: str | None,
    *,
    down: bool = False,
    dataset: str | None = None,
    at: datetime | None = None,
    allow_unreviewed: bool = False,
) -> Lineage:
    if dataset is not None:
        if ref is not None or down:
            raise UsageError(
                "lineage --dataset lists every version that used the data: give it without REF and --down"
            )
        query = Query.parse(dataset)
        ctx.require_initialised()
        return _by_dataset(ctx, query, at)
    if ref is None:
        raise UsageError("lineage needs REF (or --dataset URI_OR_DIGEST)")
    if is_external(ref):
        check_external(ref, flag="lineage")
        if not down:
            raise UsageError(
                f"{ref}: an external URI has no parents in this registry",
                hint="'mreg lineage URI --down' lists the versions fine-tuned from it",
            )
        ctx.require_initialised()
        root = LineageNode(ref=ref, model=None, version=None, depth=0, external=True)
        return _down(ctx, root, at)
    v = ctx.resolve(parse_ref(ref), at, allow_unreviewed=allow_unreviewed, with_aliases=False)
    root = _full_node(v.model, v.version, v.manifest, 0)
    return _down(ctx, root, at) if down else _up(ctx, root, at)


# -- the index -------------------------------------------------------------------------------------
@dataclass
class _View:
    """The registry at one commit: every path under models/ with its blob id, and the index entry
    of each blob (those it lacked were read and added)."""

    commit: str
    paths: dict[str, str]
    entries: Entries
    index: LineageIndex
    git: GitRepo

    def entry(self, oid: str, path: str) -> Entry | None:
        """The entry of the blob at `path`; one the index holds only as a line that does not parse (a
        damaged file) is read from git again."""
        e = self.entries.get(oid)
        if e is None and (record_of_path(path) or evaluation_of_path(path)):
            e = _extract(path, self.git.read_blobs([oid])[0])
            self.entries.add({oid: e})
            self.index.add({oid: e})
        return e

    def manifest(self, model: str, version: int) -> tuple[Entry | None, str | None]:
        """The index entry of a version's manifest, or why there is none."""
        path = manifest_path(model, version)
        oid = self.paths.get(path)
        if oid is None:
            return None, "not in the registry"
        e = self.entry(oid, path)
        if e is None or e["k"] != "m":
            return None, str(e.get("why")) if e else f"{REGISTRY_BRANCH}:{path}: cannot be read"
        if e["m"] != model or e["v"] != version:
            return None, f"{REGISTRY_BRANCH}:{path}: the manifest says {e['m']}@v{e['v']}"
        return e, None

    def manifests(self) -> list[Entry]:
        """Every manifest entry whose path names the version it says it is."""
        self.entries.parse_all()
        out = []
        for path, oid in self.paths.items():
            e = self.entry(oid, path)
            if e is not None and e["k"] == "m" and path == manifest_path(e["m"], e["v"]):
                out.append(e)
        return out

    def evaluation_paths(self, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], list[tuple[int, str]]]:
        """(record number, path) of each evaluation record of the wanted versions."""
        out: dict[tuple[str, int], list[tuple[int, str]]] = {}
        for path, oid in self.paths.items():
            if "/evaluations/" not in path:
                continue
            parsed = evaluation_of_path(path)
            if parsed is None or (parsed[0], parsed[1]) not in wanted:
                continue
            e = self.entry(oid, path)
            if e is not None and e["k"] == "e" and (e["m"], e["v"]) == (parsed[0], parsed[1]):
                out.setdefault((e["m"], e["v"]), []).append((parsed[2], path))
        return out

    def naming(self, needle: str) -> list[tuple[str, Entry]]:
        """(path, entry) of every blob whose entry holds `needle` (a URI, a digest) in some field."""
        candidates = self.entries.containing(needle)
        out = []
        for path, oid in self.paths.items():
            if oid in candidates:
                e = self.entry(oid, path)
                if e is not None:
                    out.append((path, e))
        return out

    def unreadable(self) -> int:
        """How many blobs under models/ failed their checks (each entry of those starts `{"k":"x"`)."""
        bad = {
            o
            for o in self.entries.containing('{"k":"x"', raw=True)
            if (self.entries.get(o) or {}).get("k") == "x"
        }
        return sum(1 for oid in set(self.paths.values()) if oid in bad)


def _view(ctx: Context, commit: str) -> _View:
    paths = ctx.git.blob_ids(commit, "models")
    index = LineageIndex(clone_cache_dir(ctx.git.common_dir) / "lineage")
    entries = index.load()
    unseen: dict[str, str] = {}
    for path, oid in paths.items():
        if oid not in entries and oid not in unseen and (record_of_path(path) or evaluation_of_path(path)):
            unseen[oid] = path
    if unseen:
        oids = list(unseen)
        found = {
            oid: _extract(unseen[oid], blob) for oid, blob in zip(oids, ctx.git.read_blobs(oids), strict=True)
        }
        index.add(found)
        entries.add(found)
    return _View(commit, paths, entries, index, ctx.git)


def _extract(path: str, blob: bytes | None) -> Entry:
    """The fields of one blob that look-ups need, once it passed every check a reader makes."""
    where = f"{REGISTRY_BRANCH}:{path}"
    if blob is None:
        return {"k": "x", "why": f"{where}: cannot be read"}
    try:
        if record_of_path(path) is not None:
            from mreg.context import parse_capped

            m = parse_capped(blob, where=where)
            return {
                "k": "m",
                "m": m["model"],
                "v": m["version"],
                "d": m["digest"],
                "p": m.get("parent"),
                "t": m["created_at"],
                "b": m["created_by"],
                "data": [dict(d) for d in m.get("data") or []],
            }
        too_big = size_problem(blob)
        if too_big:
            return {"k": "x", "why": f"{where}: {too_big}"}
        doc = load_yaml(blob, where=where)
        model, version = (doc.get("model"), doc.get("version")) if isinstance(doc, dict) else (None, None)
        if not isinstance(model, str) or not isinstance(version, int):
            return {"k": "x", "why": f"{where}: invalid evaluation record: no model and version"}
        record = validate_evaluation(doc, where=where, model=model, version=version)
        return {
            "k": "e",
            "m": model,
            "v": version,
            "vd": record["version_digest"],
            "ds": dict(record["dataset"]),
        }
    except MregError as exc:
        return {"k": "x", "why": exc.message}


# -- nodes -----------------------------------------------------------------------------------------
def _full_node(model: str, version: int, m: Manifest, depth: int) -> LineageNode:
    env = m["environment"]
    source = m.get("source")
    return LineageNode(
        ref=f"{model}@v{version}",
        model=model,
        version=version,
        depth=depth,
        parent=m.get("parent"),
        digest=m["digest"],
        created_at=m["created_at"],
        created_by=m["created_by"],
        data=tuple(dict(d) for d in m.get("data") or []),
        source=dict(source) if source else None,
        environment={
            k: v for k, v in env.items() if k in ("python", "platform", "packages", "image", "lockfile")
        },
    )


def _index_node(e: Entry, depth: int, **extra: Any) -> LineageNode:
    return LineageNode(
        ref=f"{e['m']}@v{e['v']}",
        model=e["m"],
        version=e["v"],
        depth=depth,
        parent=e.get("p"),
        digest=e.get("d"),
        created_at=e.get("t"),
        created_by=e.get("b"),
        data=tuple(e.get("data") or ()),
        **extra,
    )


def _registry_name(ctx: Context) -> str:
    """The registry as a catalog names it: its remote's URL (credentials stripped), else its path."""
    from mreg.secrets import strip_credentials

    if ctx.is_cache:
        return strip_credentials(ctx.label)
    try:
        url = ctx.git.remote_url(ctx.remote_name)
    except MregError:
        url = None
    if url:
        return strip_credentials(url)
    return Path(ctx.git.work_tree or ctx.git.git_dir).resolve().as_uri()


def _evaluations(
    ctx: Context, view: _View, nodes: Sequence[LineageNode]
) -> dict[tuple[str, int], tuple[Evaluation, ...]]:
    """The valid evaluation records of each version (read at the view's commit, one `cat-file`);
    a record that fails its checks is named through `ctx.notify` and left out, as `show` does."""
    from mreg.ops.evaluate import RecordAt, checked_records

    versions = {(n.model, n.version): n.digest for n in nodes if n.model and n.version and n.digest}
    found = view.evaluation_paths(set(versions))
    specs = [
        RecordAt(view.commit, m, v, versions[(m, v)], number, path)
        for (m, v), items in sorted(found.items())
        for number, path in sorted(items)
    ]
    out: dict[tuple[str, int], tuple[Evaluation, ...]] = {}
    for key, (good, bad) in checked_records(ctx, specs).items():
        for problem in bad:
            ctx.notify(f"{problem}: ignored")
        out[key] = tuple(good)
    return out


# -- up ----------------------------------------------------------------------------------------------
def _up(ctx: Context, root: LineageNode, at: datetime | None) -> Lineage:
    from mreg.context import parse_capped

    commit = ctx.registry_commit(at)
    view = _view(ctx, commit)
    nodes = [root]
    problems: list[str] = []
    truncated = False
    seen = [root.ref]
    parent = root.parent
    while parent:
        depth = len(nodes)
        if depth > MAX_DEPTH:
            truncated = True
            problems.append(f"stopped after {MAX_DEPTH} generations: {seen[-1]} has parent {parent}")
            break
        if is_external(parent):
            nodes.append(LineageNode(ref=parent, model=None, version=None, depth=depth, external=True))
            break
        m = _VERSION_REF.match(parent)
        if m is None:  # the schema allows nothing else; say so rather than guess
            problems.append(f"{seen[-1]}: parent {parent!r} is not a reference")
            break
        if parent in seen:
            problems.append(f"parent cycle: {' -> '.join([*seen, parent])}: stopped where it comes back")
            break
        model, version = m.group(1), int(m.group(2))
        entry, why = view.manifest(model, version)
        if entry is None:
            nodes.append(LineageNode(parent, model, version, depth, problem=why))
            problems.append(f"{seen[-1]} names parent {parent}: {why}")
            break
        nodes.append(_index_node(entry, depth))
        seen.append(parent)
        parent = entry.get("p")
    # The whole provenance of the ancestors: their manifests in one batch
    ancestors = [n for n in nodes[1:] if n.model and n.version and n.problem is None]
    blobs = ctx.git.read_blobs(
        [f"{commit}:{manifest_path(n.model or '', n.version or 0)}" for n in ancestors]
    )
    full: dict[str, LineageNode] = {}
    for n, blob in zip(ancestors, blobs, strict=True):
        if blob is None:
            continue
        try:
            manifest = parse_capped(
                blob, where=f"{REGISTRY_BRANCH}:{manifest_path(n.model or '', n.version or 0)}"
            )
        except MregError:
            continue  # the index said it passed; keep what it holds
        full[n.ref] = _full_node(manifest["model"], manifest["version"], manifest, n.depth)
    nodes = [full.get(n.ref, n) for n in nodes]
    evaluations = _evaluations(ctx, view, nodes)
    nodes = [
        replace(n, evaluations=evaluations.get((n.model, n.version), ()))
        if n.model and n.version and n.problem is None
        else n
        for n in nodes
    ]
    return Lineage(
        direction="up",
        ref=root.ref,
        dataset=None,
        nodes=tuple(nodes),
        problems=tuple(problems),
        truncated=truncated,
        registry=_registry_name(ctx),
        commit=commit,
    )


# -- down ----------------------------------------------------------------------------------------------
def _down(ctx: Context, root: LineageNode, at: datetime | None) -> Lineage:
    commit = ctx.registry_commit(at)
    view = _view(ctx, commit)
    children: dict[str, list[Entry]] = {}
    for e in view.manifests():
        if e.get("p"):
            children.setdefault(e["p"], []).append(e)
    nodes = [root]
    problems: list[str] = []
    truncated = False
    seen = {root.ref}
    queue = deque([(root.ref, 0)])
    while queue:
        ref, depth = queue.popleft()
        for e in sorted(children.get(ref, ()), key=lambda e: (e["m"], e["v"])):
            child = f"{e['m']}@v{e['v']}"
            if child in seen:
                problems.append(f"parent cycle: {child} descends from itself: stopped where it comes back")
                continue
            if depth + 1 > MAX_DEPTH:
                if not truncated:
                    problems.append(f"stopped after {MAX_DEPTH} generations: {child} and more not listed")
                truncated = True
                continue
            seen.add(child)
            nodes.append(_index_node(e, depth + 1))
            queue.append((child, depth + 1))
    return Lineage(
        direction="down",
        ref=root.ref,
        dataset=None,
        nodes=tuple(nodes),
        problems=tuple(problems),
        truncated=truncated,
        registry=_registry_name(ctx),
        commit=commit,
    )


# -- dataset ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    """What `--dataset` names: a digest (`sha256:…`: the same bytes wherever they were), a dataset
    identity as `eval list --json` prints it (`URI#etag=…`: those bytes at that URI), or a URI
    (whatever was there: every version of the data; a local path is read as its file:// URI)."""

    kind: str  # digest, identity, uri
    value: str

    @classmethod
    def parse(cls, text: str) -> Query:
        if not text or len(text) > 4096 or any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise UsageError(f"--dataset {text[:80]!r}: not a URI, a path or a digest")
        if DIGEST_RE.match(text):
            return cls("digest", text)
        if text.startswith("sha256:"):
            raise UsageError(f"--dataset {text[:80]!r}: not a digest (sha256: and 64 lowercase hex digits)")
        head, sep, tail = text.partition("#")
        if sep and "://" in head and tail.startswith(_IDENTITY_KEYS):
            return cls("identity", text)
        if "://" not in text:
            return cls("uri", Path(text).expanduser().resolve().as_uri())
        return cls("uri", text)

    @property
    def needle(self) -> str:
        """What any matching data ref holds verbatim in one of its fields."""
        if self.kind == "identity":
            return self.value.partition("#")[0]
        return self.value.rstrip("/") if self.kind == "uri" else self.value

    def matches(self, ref: Mapping[str, Any]) -> bool:
        if self.kind == "digest":
            return ref.get("digest") == self.value
        if self.kind == "identity":
            return dataset_identity(ref) == self.value
        uri = ref.get("uri")
        return isinstance(uri, str) and _same_uri(uri, self.value)


def _same_uri(a: str, b: str) -> bool:
    return a == b or a.rstrip("/") == b.rstrip("/")


def _by_dataset(ctx: Context, query: Query, at: datetime | None) -> Lineage:
    from mreg.ops.evaluate import RecordAt, checked_records

    commit = ctx.registry_commit(at)
    view = _view(ctx, commit)
    trained: dict[tuple[str, int], Entry] = {}
    evaluated: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for path, e in view.naming(query.needle):  # only lines that hold the URI or digest can match
        if e["k"] == "m":
            if any(query.matches(d) for d in e["data"]) and path == manifest_path(e["m"], e["v"]):
                trained[(e["m"], e["v"])] = e
        elif e["k"] == "e" and query.matches(e["ds"]):
            parsed = evaluation_of_path(path)
            if parsed is not None and (parsed[0], parsed[1]) == (e["m"], e["v"]):
                evaluated.setdefault((e["m"], e["v"]), []).append((parsed[2], path))
    problems: list[str] = []
    manifests: dict[tuple[str, int], Entry] = dict(trained)
    specs: list[RecordAt] = []
    for (model, version), items in sorted(evaluated.items()):
        entry = manifests.get((model, version))
        if entry is None:
            entry, why = view.manifest(model, version)
            if entry is None:
                problems.append(f"evaluation records of {model}@v{version} ignored: its manifest is {why}")
                continue
            manifests[(model, version)] = entry
        specs.extend(RecordAt(commit, model, version, entry["d"], n, path) for n, path in sorted(items))
    records = checked_records(ctx, specs)
    nodes = []
    for key in sorted(manifests):
        good, bad = records.get(key, ([], []))
        for problem in bad:
            ctx.notify(f"{problem}: ignored")
        used = (("training",) if key in trained else ()) + (("evaluation",) if good else ())
        if used:
            entry = manifests[key]
            node = _index_node(entry, 0, evaluations=tuple(good), used_as=used)
            nodes.append(replace(node, data=tuple(d for d in node.data if query.matches(d))))
    unreadable = view.unreadable()
    if unreadable:
        problems.append(
            f"{unreadable} manifest(s) or evaluation record(s) could not be read and were not searched "
            "('mreg check' names them)"
        )
    used_versions = {(n.model or "", n.version or 0) for n in nodes}
    return Lineage(
        direction="dataset",
        ref=None,
        dataset=query.value,
        nodes=tuple(nodes),
        aliases=tuple(_aliases(ctx, used_versions, at, view)) if used_versions else (),
        problems=tuple(problems),
        registry=_registry_name(ctx),
        commit=commit,
    )


def _aliases(
    ctx: Context, versions: set[tuple[str, int]], at: datetime | None, view: _View
) -> list[LineageAlias]:
    """Every alias tag that pointed at one of `versions` (as of `at`), with when it moved on, and
    whether a reader may trust what it says: a protected alias's tag no reviewed pin backs, or any
    tag readers refuse (`tag_problems`), is marked, as `log` marks it."""
    from mreg.backing import approved_ever
    from mreg.context import to_unix

    models = sorted({m for m, _ in versions})
    if len(models) > 4:  # one read of every tag costs less than a few reads per model
        wanted = set(models)
        events = [e for e in alias_tags.read_events(ctx.git, None) if e.model in wanted]
    else:
        events = [e for m in models for e in alias_tags.read_events(ctx.git, m)]
    cutoff = to_unix(at)
    if cutoff is not None:
        events = [e for e in events if e.timestamp <= cutoff]
    by_alias: dict[tuple[str, str], list[alias_tags.AliasEvent]] = {}
    for e in events:
        by_alias.setdefault((e.model, e.alias), []).append(e)
    hits = [e for e in events if e.version is not None and (e.model, e.version) in versions]
    if not hits:
        return []
    problems = ctx.tag_problems(hits, at_tip=view.paths if at is None else None)
    governed = ctx.governed_commit(at)
    protected = {(e.model, e.alias) for e in hits if ctx.is_protected(e.alias)}
    policies = _policies(ctx, governed, sorted({m for m, _ in protected})) if protected else {}
    out = []
    for (model, alias), evs in sorted(by_alias.items()):
        evs.sort(key=lambda e: e.seq)
        current = evs[-1]
        standing = None
        if (model, alias) in protected:
            standing = ctx.standing(model, alias, evs, at=at, policy=policies.get(model), governed=governed)
        for i, e in enumerate(evs):
            if e.version is None or (e.model, e.version) not in versions:
                continue
            reviewed = True
            if standing is not None:
                if standing.event is not None and standing.event.tag == e.tag:
                    reviewed = standing.state != "unbacked"
                else:
                    reviewed = governed is not None and approved_ever(
                        ctx.git, governed, e, signers=ctx.config.signers
                    )
            if problems.get(e.tag) is not None:
                reviewed = False
            following = evs[i + 1] if i + 1 < len(evs) else None
            out.append(
                LineageAlias(
                    model=model,
                    alias=alias,
                    version=e.version,
                    event=e.event,
                    tag=e.tag,
                    at=_iso(e),
                    by=e.tagger,
                    until=_iso(following) if following is not None else None,
                    current=e is current,
                    reviewed=reviewed,
                )
            )
    out.sort(key=lambda a: (a.at, a.model, a.alias, a.tag))
    return out


def _iso(e: alias_tags.AliasEvent) -> str:
    return e.when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _policies(ctx: Context, governed: str | None, models: list[str]) -> dict[str, dict[str, Any] | None]:
    """The policies of `models` on the governed branch: each read alone for a few, all at once for more."""
    from mreg.policy import read_policies, read_policy

    if governed is None:
        return {}
    if len(models) > 4:
        try:
            return dict(read_policies(ctx.git, governed))
        except MregError:
            pass  # one broken file: read them one by one, so that only it backs nothing
    out: dict[str, dict[str, Any] | None] = {}
    for model in models:
        try:
            out[model] = read_policy(ctx.git, governed, model)
        except MregError:
            out[model] = None  # a broken policy backs nothing; `check` names it
    return out

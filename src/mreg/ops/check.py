"""`mreg check` (SPEC §3, §7): both branches valid, manifests immutable, tags in step with policy.

Each problem is one line naming the file on its branch and, where it can be found, the line in it,
so CI can annotate it. The content is treated as hostile: a manifest someone crafted by hand is
exactly what this command exists to catch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from mreg.errors import MregError, UsageError
from mreg.layout import (
    ADDABLE_PATHS_TEXT,
    ALIASES_BRANCH,
    ALIASES_REF,
    CODEOWNERS_PATH,
    CONFIG_PATH,
    REGISTRY_BRANCH,
    evaluation_of_path,
    lifecycle_of_path,
    manifest_path,
    policy_path,
    record_of_path,
    tracking_ref,
)
from mreg.manifest import (
    MANIFEST_SCHEMA,
    MODEL_SCHEMA,
    REGISTRY_SCHEMA,
    artifact_path_problem,
    artifact_set_digest,
    check_yaml_shape,
    file_and_directory,
    json_problem,
    size_problem,
    yaml_module,
)
from mreg.refs import MODEL_RE
from mreg.results import CheckReport, Problem

if TYPE_CHECKING:
    from mreg.context import Context
    from mreg.manifest import Manifest

_ZERO = re.compile(r"^0+\Z")
MAX_ERRORS_PER_FILE = 5


@dataclass
class _Findings:
    """What `check` finds as it goes; `report()` freezes it into the public CheckReport."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    manifests: int = 0
    policies: int = 0
    tags: int = 0
    objects: int | None = None
    evaluations: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, branch: str, path: str | None, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(branch, path, message, line))

    def warn(self, branch: str, path: str | None, message: str, line: int | None = None) -> None:
        self.warnings.append(Problem(branch, path, message, line))

    def report(self) -> CheckReport:
        return CheckReport(
            tuple(self.problems),
            tuple(self.warnings),
            self.manifests,
            self.policies,
            self.tags,
            self.objects,
            self.evaluations,
        )


def check(ctx: Context, *, base: str | None = None, objects: bool = False) -> CheckReport:
    from mreg.git.history import HistoryError

    result = _Findings()
    theirs = None
    try:
        ctx.sync()
    except HistoryError as exc:
        # Reported, and then the remote's tip is what gets checked, so that every problem it holds is
        # named (the per-commit scan below names each offending commit; a rewrite it cannot see).
        if exc.rewritten:
            result.add(REGISTRY_BRANCH, None, exc.message)
        remote = ctx.branches.remote
        theirs = ctx.git.rev_parse(tracking_ref(remote, REGISTRY_BRANCH)) if remote else None
    ctx.examined = theirs  # a fresh clone that refused the remote has no local branch to fall back on
    tip = ctx.registry_commit()
    _check_history(ctx, tip, result)
    valid = _check_manifests(ctx, tip, result)
    _check_parents(valid, result)
    if base and not _ZERO.match(base):
        _check_immutable(ctx, base, tip, result)
    governed = ctx.git.rev_parse(ALIASES_REF)
    if governed is None:
        result.add(ALIASES_BRANCH, None, "the governed branch does not exist (run 'mreg init')")
    else:
        _check_governed(ctx, governed, tip, valid, result)
    _check_tags(ctx, tip, result)
    _check_notify_refs(ctx, tip, result)
    if objects:
        _check_objects(ctx, valid, result)
    return result.report()


# -- the registry branch ---------------------------------------------------------------------------
def _check_history(ctx: Context, tip: str, result: _Findings) -> None:
    """Every commit of the registry branch only adds records (SPEC §3a.1), checked one by one."""
    from mreg.git.history import scan_commits

    for v in scan_commits(ctx.git, tip):
        result.add(REGISTRY_BRANCH, v.path, f"{v.describe()}: a registered version never changes")


def _looks_like_manifest(path: str) -> bool:
    """models/*/versions/*.yaml, valid name or not: an edit of any such file breaks immutability."""
    parts = path.split("/")
    return len(parts) == 4 and parts[0] == "models" and parts[2] == "versions" and parts[3].endswith(".yaml")


def _check_manifests(ctx: Context, tip: str, result: _Findings) -> dict[str, Manifest]:
    """Validate every manifest; returns the valid ones by path."""
    paths = ctx.git.ls_files(tip, "models")
    manifests = []
    evaluations = []
    lifecycles: set[str] = set()
    for path in paths:
        record = record_of_path(path)
        if record is None:
            evaluation = evaluation_of_path(path)
            if evaluation is not None:
                evaluations.append((path, *evaluation))
                continue
            if lifecycle_of_path(path) is not None:
                lifecycles.add(path.split("/", 2)[1])
                continue
            result.add(REGISTRY_BRANCH, path, f"unexpected file: records live at {ADDABLE_PATHS_TEXT}")
            continue
        manifests.append((path, *record))
    blobs = ctx.git.read_blobs([f"{tip}:{p}" for p, _, _ in manifests])
    valid = {}
    for (path, model, version), blob in zip(manifests, blobs, strict=False):
        result.manifests += 1
        if blob is None:
            result.add(REGISTRY_BRANCH, path, "not a file")
            continue
        before = len(result.problems)
        doc = _manifest_problems(blob, path, model, version, result)
        if doc is not None and len(result.problems) == before:
            valid[path] = doc
    _check_evaluations(ctx, tip, evaluations, valid, result)
    from mreg.ops import lifecycle

    for model in sorted(lifecycles):  # every invalid lifecycle record is a problem (not only the first few)
        lifecycle.read(ctx, model, commit=tip, warn=lambda m: result.add(REGISTRY_BRANCH, None, m))
    return valid


def _check_parents(manifests: dict[str, Manifest], result: _Findings) -> None:
    """Each internal `parent` names a registered version, and no chain of parents loops (warnings:
    `register --parent` checks both, so only a hand-made manifest gets here, and it stays forever)."""
    from mreg.errors import MregError
    from mreg.refs import is_external, parse_ref

    parent_of: dict[tuple[str, int], tuple[str, int] | None] = {}
    for m in manifests.values():
        parent = m.get("parent")
        target = None
        if isinstance(parent, str) and parent and not is_external(parent):
            try:
                ref = parse_ref(parent)
            except MregError:
                ref = None
            if ref is not None and ref.version is not None:
                target = (ref.model, ref.version)
        parent_of[(m["model"], m["version"])] = target
    ends: set[tuple[str, int]] = set()  # versions whose chain is known to end: each walked once
    for (model, version), target in sorted(parent_of.items()):
        path = manifest_path(model, version)
        if target is not None and target not in parent_of:
            result.warn(REGISTRY_BRANCH, path, f"parent {target[0]}@v{target[1]} is not registered")
        walked = [(model, version)]
        while target is not None and target in parent_of and target not in ends:
            if target in walked:
                result.warn(
                    REGISTRY_BRANCH, path, f"its chain of parents loops back to {target[0]}@v{target[1]}"
                )
                break
            walked.append(target)
            target = parent_of[target]
        ends.update(walked)


def _check_notify_refs(ctx: Context, tip: str, result: _Findings) -> None:
    """Each outlet's cursor and lease, as warnings (SPEC §12): anyone who may push can write those
    refs, so what can be seen is said — a cursor that is no cursor, one past what exists (events it
    claims were sent that never happened: a forward move), a lease no run would take."""
    import time

    from mreg.git import tags as alias_tags
    from mreg.integrations.outlets import parse_outlets
    from mreg.ops.notify import CURSOR_PREFIX, LEASE_PREFIX, LEASE_SECONDS, Refs, lease_expiry, load_cursor

    try:
        outlets = parse_outlets(ctx.config.raw)
    except MregError:
        return  # the config check names it
    if not outlets:
        return
    refs = Refs(ctx.git, ctx.branches.remote if ctx.branches.online else None)
    seqs = alias_tags.tag_seqs(ctx.git)
    for outlet in outlets:
        ref = CURSOR_PREFIX + outlet.name
        try:
            cursor, at = load_cursor(ctx, refs, outlet.name)
        except MregError as exc:
            result.warn(REGISTRY_BRANCH, ref, exc.message.removeprefix(f"{ref}: "))
            continue
        if at is not None:
            if cursor.registry is not None and not ctx.git.ancestors_among({cursor.registry}, tip):
                result.warn(
                    REGISTRY_BRANCH, ref, f"names registry commit {cursor.registry[:12]}, not in the history"
                )
            for key, seq in sorted(cursor.tags.items()):
                model, _, alias = key.partition("/")
                have = max(seqs.get((model, alias), [0]))
                if seq > have:
                    result.warn(
                        REGISTRY_BRANCH,
                        ref,
                        f"claims {key} seq {seq} was sent, but its tags end at {have}: moved by hand?",
                    )
        lease = refs.read(LEASE_PREFIX + outlet.name)
        forged = lease is not None and refs.fetch(LEASE_PREFIX + outlet.name, lease)
        if forged and lease_expiry(ctx.git, str(lease)) > time.time() + 2 * LEASE_SECONDS:
            result.warn(
                REGISTRY_BRANCH,
                LEASE_PREFIX + outlet.name,
                "holds a lease no run would take (written by hand)",
            )


def _check_evaluations(
    ctx: Context,
    tip: str,
    evaluations: list[tuple[str, str, int, int]],
    manifests: dict[str, Manifest],
    result: _Findings,
) -> None:
    """Every evaluation record (SPEC §11): valid, naming the version of its path, bound to its digest."""
    from mreg.evaluation import check_binding, parse_evaluation

    blobs = ctx.git.read_blobs([f"{tip}:{p}" for p, _, _, _ in evaluations])
    for (path, model, version, _), blob in zip(evaluations, blobs, strict=True):
        result.evaluations += 1
        if blob is None:
            result.add(REGISTRY_BRANCH, path, "not a file")
            continue
        try:
            record = parse_evaluation(blob, where=path, model=model, version=version)
        except MregError as exc:
            result.add(REGISTRY_BRANCH, path, exc.message.removeprefix(f"{path}: "))
            continue
        manifest = manifests.get(manifest_path(model, version))
        if manifest is None:
            result.add(REGISTRY_BRANCH, path, f"evaluates {model}@v{version}, which has no valid manifest")
        else:
            try:
                check_binding(
                    record, where=path, ref=f"{model}@v{version}", version_digest=manifest["digest"]
                )
            except MregError as exc:
                result.add(
                    REGISTRY_BRANCH, path, exc.message.removeprefix(f"{path}: ") + "; readers refuse it"
                )


def _manifest_problems(
    blob: bytes, path: str, model: str, version: int, result: _Findings
) -> Manifest | None:
    doc, text = _load(blob, REGISTRY_BRANCH, path, result)
    if doc is None:
        return None

    def add(message: str, at: list[Any] | None = None) -> None:
        result.add(REGISTRY_BRANCH, path, message, _line_of(text, at or []))

    if not isinstance(doc, dict):
        add(f"expected a mapping, found {type(doc).__name__}")
        return None
    if doc.get("schema") != MANIFEST_SCHEMA:
        add(f"unknown schema {doc.get('schema')!r} (expected {MANIFEST_SCHEMA!r})", ["schema"])
        return None
    artifacts = doc.get("artifacts")
    precise = _artifact_path_problems(artifacts, add)
    errors = _schema_errors(doc, MANIFEST_SCHEMA)
    for loc, message in errors[:MAX_ERRORS_PER_FILE]:
        if precise and len(loc) == 3 and loc[0] == "artifacts" and loc[2] == "path":
            continue  # already said precisely above
        add(f"{_dotted(loc)}: {message}", loc)
    for key in ("params", "metrics", "labels"):
        problem = json_problem(doc.get(key))
        if problem:
            add(f"{key}: {problem}", [key])
            precise += 1
    clash = file_and_directory(
        [a["path"] for a in artifacts if isinstance(a, dict) and isinstance(a.get("path"), str)]
        if isinstance(artifacts, list)
        else []
    )
    if clash:
        add(f"artifacts: {clash!r} is both a file and a directory", ["artifacts"])
        precise += 1
    if errors or precise:
        return None
    if doc["model"] != model or doc["version"] != version:
        add(
            f"the manifest says {doc['model']}@v{doc['version']}, its path says {model}@v{version}", ["model"]
        )
        return None
    if artifact_set_digest(doc["artifacts"]) != doc["digest"]:
        add("digest does not match the artifact list", ["digest"])
        return None
    return cast("Manifest", doc)  # every rule of validate_manifest checked above, each problem named


def _artifact_path_problems(artifacts: Any, add: Callable[[str, list[Any]], None]) -> int:
    """Each artifact path that breaks the rule or is listed twice, named precisely; how many."""
    if not isinstance(artifacts, list):
        return 0
    found = 0
    seen: set[str] = set()
    for i, a in enumerate(artifacts):
        p = a.get("path") if isinstance(a, dict) else None
        if not isinstance(p, str):
            continue
        reason = artifact_path_problem(p)
        if reason:
            add(f"artifacts[{i}].path {p!r} {reason}", ["artifacts", i, "path"])
            found += 1
        elif p in seen:
            add(f"artifacts[{i}].path {p!r} is listed twice", ["artifacts", i, "path"])
            found += 1
        seen.add(p)
    return found


def _check_immutable(ctx: Context, base: str, tip: str, result: _Findings) -> None:
    base_sha = ctx.git.rev_parse(f"{base}^{{commit}}")
    if base_sha is None:
        raise UsageError(f"--base {base!r}: no such commit in this repository", hint="fetch it first")
    if not ctx.git.is_ancestor(base_sha, tip):
        result.add(
            REGISTRY_BRANCH,
            None,
            f"history was rewritten: {base} ({base_sha[:12]}) is no longer an ancestor of the tip",
        )
        return
    for status, path in ctx.git.changed_paths(base_sha, tip, "models"):
        if _looks_like_manifest(path) and status != "A":
            verb = {"D": "removed", "M": "edited", "T": "changed type"}.get(status[:1], "changed")
            result.add(
                REGISTRY_BRANCH, path, f"manifest {verb} since {base}: manifests are immutable once committed"
            )


# -- the governed branch ---------------------------------------------------------------------------
def _check_config(blob: bytes, result: _Findings) -> None:
    """mreg.yaml: its schema, then what a schema cannot say (outlet names are unique, and so on)."""
    from mreg.integrations.outlets import parse_outlets

    config, _ = _document(blob, CONFIG_PATH, REGISTRY_SCHEMA, result)
    if config is not None:
        try:
            parse_outlets(config)
        except MregError as exc:
            result.add(ALIASES_BRANCH, CONFIG_PATH, exc.message.removeprefix("mreg.yaml: "))


def _check_governed(
    ctx: Context, governed: str, tip: str, valid: dict[str, Manifest], result: _Findings
) -> None:
    from mreg.policy import pins_of, policy_models, render_codeowners

    blob = ctx.git.read_blob(f"{governed}:{CONFIG_PATH}")
    if blob is None:
        result.add(ALIASES_BRANCH, CONFIG_PATH, "missing (run 'mreg init')")
    else:
        _check_config(blob, result)
    for entry in ctx.git.ls_tree(governed, "models"):
        name = entry.name.removesuffix(".yaml")
        if (
            entry.kind != "blob"
            or not entry.name.endswith(".yaml")
            or not MODEL_RE.match(name)
            or ".." in name
        ):
            result.add(
                ALIASES_BRANCH,
                f"models/{entry.name}",
                "unexpected file: policies live at models/<model>.yaml",
            )
    policies: dict[str, dict[str, Any]] = {}
    for model in policy_models(ctx.git, governed):
        result.policies += 1
        path = policy_path(model)
        blob = ctx.git.read_blob(f"{governed}:{path}")
        doc, text = _document(blob or b"", path, MODEL_SCHEMA, result)
        if doc is None:
            continue
        policies[model] = doc
        problem = json_problem(doc.get("gates"))
        if problem:
            result.add(ALIASES_BRANCH, path, f"gates: {problem}", _line_of(text, ["gates"]))
        for alias, pin in pins_of(doc).items():
            line = _line_of(text, ["aliases", alias])
            if pin.version is None:
                continue
            manifest = valid.get(manifest_path(model, pin.version))
            if manifest is None:
                what = (
                    "is not registered"
                    if ctx.git.read_blob(f"{tip}:{manifest_path(model, pin.version)}") is None
                    else "has an invalid manifest"
                )
                result.add(ALIASES_BRANCH, path, f"aliases.{alias}: {model}@v{pin.version} {what}", line)
            elif pin.digest is None:
                result.warn(
                    ALIASES_BRANCH,
                    path,
                    f"aliases.{alias}: pins v{pin.version} by number only; pin its digest too "
                    f"(version: {pin.version}, digest: {manifest['digest']}) so reviewers approve exact bytes",
                    line,
                )
            elif pin.digest != manifest["digest"]:
                result.add(
                    ALIASES_BRANCH,
                    path,
                    f"aliases.{alias}: pins {model}@v{pin.version} at digest {pin.digest}, "
                    f"but the registered manifest has {manifest['digest']}",
                    line,
                )
    owners_blob = ctx.git.read_blob(f"{governed}:{CODEOWNERS_PATH}")
    wanted = render_codeowners(policies)
    if owners_blob is not None and owners_blob != wanted:  # absent: the next promotion request writes it
        result.add(
            ALIASES_BRANCH,
            CODEOWNERS_PATH,
            "out of date with the owners in models/*.yaml (a promotion request regenerates it)",
        )
    if not any(
        p.branch == ALIASES_BRANCH and p.path and p.path.startswith("models/") for p in result.problems
    ):
        _check_drift(ctx, governed, result)


def _check_drift(ctx: Context, governed: str, result: _Findings) -> None:
    from mreg.ops.apply import pending_changes

    for p in pending_changes(ctx, governed):
        text = (ctx.git.read_blob(f"{governed}:{policy_path(p.model)}") or b"").decode("utf-8", "replace")
        result.add(
            ALIASES_BRANCH,
            policy_path(p.model),
            f"{p.describe()}: merged but not applied (run 'mreg apply')",
            _line_of(text, ["aliases", p.alias]),
        )


def _check_tags(ctx: Context, tip: str, result: _Findings) -> None:
    """Every alias tag points into the verified registry history at the registered manifest with the
    digest it names; every protected alias's newest tag is backed by the governed branch (SPEC §3a.3)."""
    from mreg.git import tags as alias_tags
    from mreg.policy import read_policies

    for name, why in alias_tags.odd_tags(ctx.git):
        result.add("tags", None, f"tag {name} {why}")
    events = alias_tags.read_events(ctx.git, None)
    result.tags = len(events)
    with_version = [e for e in events if e.version is not None]
    history = ctx.git.rev_list(tip)
    blobs = ctx.git.read_blobs([f"{e.commit}:{manifest_path(e.model, e.version or 0)}" for e in with_version])
    here = ctx.git.object_ids([f"{tip}:{manifest_path(e.model, e.version or 0)}" for e in with_version])
    there = ctx.git.object_ids([f"{e.commit}:{manifest_path(e.model, e.version or 0)}" for e in with_version])
    for e, blob, a, b in zip(with_version, blobs, there, here, strict=False):
        where = f"tag {e.tag} (by {e.tagger})"
        if e.commit not in history:
            result.add(
                "tags",
                None,
                f"{where} points at {e.commit[:12]}, which is not in the history of {REGISTRY_BRANCH}",
            )
        elif blob is None:
            result.add("tags", None, f"{where} names {e.model}@v{e.version}, which its commit does not hold")
        elif a != b:
            result.add(
                "tags",
                None,
                f"{where} points at a manifest of {e.model}@v{e.version} that is not the registered one",
            )
        elif not e.digest or not re.search(
            rf"^digest: ['\"]?{re.escape(e.digest)}['\"]?$", blob.decode("utf-8", "replace"), re.M
        ):
            result.add(
                "tags",
                None,
                f"{where} names digest {e.digest}, the manifest of {e.model}@v{e.version} has another",
            )
    governed = ctx.git.rev_parse(ALIASES_REF)
    try:
        policies = read_policies(ctx.git, governed) if governed else {}
    except MregError:
        policies = {}  # reported with its line by _check_governed
    protected = {(e.model, e.alias) for e in events if ctx.is_protected(e.alias)}
    for model, alias in sorted(protected):
        model_events = [e for e in events if e.model == model]
        st = ctx.standing(model, alias, model_events, policy=policies.get(model), governed=governed)
        if st.state == "unbacked":
            result.add(
                "tags",
                None,
                f"{model}@{alias}: {st.problem}: readers refuse it (UNREVIEWED); run 'mreg apply' to restore the approved value",
            )


def _check_objects(ctx: Context, valid: dict[str, Manifest], result: _Findings) -> None:
    needed: dict[str, list[str]] = {}
    for _path, doc in valid.items():
        ref = f"{doc['model']}@v{doc['version']}"
        digests = [a["digest"] for a in doc["artifacts"]] + [doc["environment"]["packages"]]
        if "lockfile" in doc["environment"]:
            digests.append(doc["environment"]["lockfile"]["digest"])
        for d in digests:
            needed.setdefault(d, []).append(ref)
    result.objects = len(needed)
    try:
        store = ctx.store
        missing = [d for d in sorted(needed) if not store.exists(d)]
    except MregError as exc:
        result.add("store", None, f"cannot check objects: {exc.message}")
        return
    for d in missing:
        users = sorted(set(needed[d]))
        result.add("store", None, f"object {d} is missing from {store.url} (used by {', '.join(users)})")


# -- YAML and schema helpers -----------------------------------------------------------------------
def _load(blob: bytes, branch: str, path: str, result: _Findings) -> tuple[Any, str]:
    """Safe YAML only: a python/object tag is reported with its line, never constructed."""
    yaml = yaml_module()
    too_big = size_problem(blob)
    if too_big:
        result.add(branch, path, too_big)
        return None, ""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        result.add(branch, path, "not UTF-8 text")
        return None, ""
    try:
        check_yaml_shape(
            text, where=path
        )  # the bounds every reader has: no libyaml stack overflow, no alias bomb
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), text
    except UsageError as exc:
        result.add(branch, path, exc.message.removeprefix(f"{path}: "))
        return None, ""
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "constructor for the tag" in problem:
            problem = f"YAML tag refused (only plain data is allowed): {problem}"
        result.add(branch, path, f"invalid YAML: {problem}", mark.line + 1 if mark is not None else None)
        return None, text


def _document(blob: bytes, path: str, schema: str, result: _Findings) -> tuple[dict[str, Any] | None, str]:
    doc, text = _load(blob, ALIASES_BRANCH, path, result)
    if doc is None and not text:
        return None, text
    if not isinstance(doc, dict):
        if doc is not None or text:
            result.add(ALIASES_BRANCH, path, f"expected a mapping, found {type(doc).__name__}")
        return None, text
    if doc.get("schema") != schema:
        result.add(
            ALIASES_BRANCH,
            path,
            f"unknown schema {doc.get('schema')!r} (expected {schema!r})",
            _line_of(text, ["schema"]),
        )
        return None, text
    errors = _schema_errors(doc, schema)
    for loc, message in errors[:MAX_ERRORS_PER_FILE]:
        result.add(ALIASES_BRANCH, path, f"{_dotted(loc)}: {message}", _line_of(text, loc))
    return (None if errors else doc), text


def _schema_errors(doc: Any, schema: str) -> list[tuple[list[Any], str]]:
    from mreg.manifest import schema_error_message, schema_validator

    errs = sorted(schema_validator(schema).iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [(list(e.absolute_path), _short(schema_error_message(e))) for e in errs]


def _short(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _line_of(text: str, loc: list[Any]) -> int | None:
    """The 1-based line of a value in a YAML text, found by walking the composed node tree."""
    if not text:
        return None
    yaml = yaml_module()
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            match = node.value[part]
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line

"""`mreg register`: store the files, then write one immutable manifest (SPEC §4, §8).

Objects are stored before the manifest is committed, so a manifest never names a missing object;
a crash in between leaves only unreferenced objects, which `gc` removes after its grace period.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mreg import capture
from mreg.cache import clone_cache_dir
from mreg.cache.digests import NO_DIGEST, DigestIndex
from mreg.cache.stat import StatCache
from mreg.digest import DIGEST_PATTERN, of_bytes
from mreg.errors import ConflictError, IntegrityError, MregError, UsageError
from mreg.git.branches import Change, Retry
from mreg.inputs import build_metrics, build_params, mapping_input, metric_mapping, parse_data_refs
from mreg.layout import REGISTRY_BRANCH, manifest_path
from mreg.manifest import (
    MANIFEST_SCHEMA,
    MAX_MANIFEST_BYTES,
    Manifest,
    artifact_path_problem,
    artifact_set_digest,
    dump_manifest,
    order_manifest,
    schema_validator,
    size_problem,
    validate_manifest,
)
from mreg.ports import ObjectStore, Progress
from mreg.refs import Ref, check_external, is_external, parse_ref
from mreg.results import RegisterResult

if TYPE_CHECKING:
    from mreg.context import Context

_DIGEST_LINE = re.compile(rb"^digest: (" + DIGEST_PATTERN.encode() + rb")$", re.M)


def _pairs(value: Sequence[str] | str) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _files(value: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[str]:
    return [os.fspath(value)] if isinstance(value, (str, os.PathLike)) else [os.fspath(v) for v in value]


def collect_files(paths: Sequence[Path]) -> list[tuple[str, Path]]:
    """(artifact path, file) pairs: a file by its name, a directory by its contents, recursively."""
    if not paths:
        raise UsageError("register needs at least one PATH")
    found: dict[str, Path] = {}

    def add(rel: str, f: Path) -> None:
        if rel in found:
            raise UsageError(f"artifact path {rel!r} is given twice ({found[rel]} and {f})")
        found[rel] = f

    for p in paths:
        try:
            st = p.stat()
        except FileNotFoundError:
            raise UsageError(f"{p}: no such file or directory") from None
        except PermissionError:
            raise UsageError(f"{p}: permission denied") from None
        if stat.S_ISREG(st.st_mode):
            add(p.name, p)
        elif stat.S_ISDIR(st.st_mode):
            files = _walk(p)
            if not files:
                raise UsageError(f"{p}: directory holds no files")
            for f in sorted(files):
                add(f.relative_to(p).as_posix(), f)
        else:
            raise UsageError(f"{p}: not a regular file or directory")
    for rel, f in found.items():
        if not os.access(f, os.R_OK):
            raise UsageError(f"{f}: permission denied")
        why = artifact_path_problem(rel)
        if why:
            raise UsageError(f"{f}: its path {rel!r} cannot be recorded: it {why}")
    return sorted(found.items())


def _walk(top: Path) -> list[Path]:
    """Every file under `top`, following symlinks that stay inside it (a symlinked `tokenizer/` is part
    of the model); a link that leads outside, dangles or loops is refused by name, never skipped."""
    root = top.resolve()
    files: list[Path] = []
    seen: set[Path] = set()

    def visit(d: Path) -> None:
        real = d.resolve()
        if real in seen:
            raise UsageError(f"{d}: a symlink loop (it leads back to {real})")
        seen.add(real)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            raise UsageError(f"{d}: {exc.strerror}") from None
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                target = path.resolve()
                if not target.exists():
                    raise UsageError(
                        f"{path}: a dangling symlink (to {os.readlink(path)})",
                        hint="remove it or point it at a file inside the model directory",
                    )
                if not target.is_relative_to(root):
                    raise UsageError(
                        f"{path}: a symlink to {target}, outside {top}",
                        hint="copy the file into the model directory, or pass it to register as a PATH of its own",
                    )
            if path.is_dir():
                visit(path)
            elif path.is_file():
                files.append(path)
        seen.discard(real)

    visit(top)
    return files


@dataclass(frozen=True)
class RegisterRequest:
    """What a user asked to register, as given: `params`/`metrics` as mappings or `K=V` strings (a
    lone string is one pair), files of them, `data` as `NAME=URI` strings."""

    model: str
    paths: Sequence[Path]
    params: Sequence[str] | Mapping[str, Any] = ()
    params_files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] = ()
    metrics: Sequence[str] | Mapping[str, Any] = ()
    metrics_files: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] = ()
    data: Sequence[str] = ()
    lockfile: str | None = None
    image: str | None = None
    parent: str | None = None
    message: str | None = None
    labels: Mapping[str, str] | None = None
    allow_secret_like: Sequence[str] = ()


@dataclass(frozen=True)
class _Checked:
    """A request with every input checked, before a single byte is stored."""

    files: list[tuple[str, Path]]
    params: dict[str, Any]
    metrics: dict[str, Any]
    data_refs: list[tuple[str, str]]
    lock_path: Path | None


def register(
    ctx: Context,
    request: RegisterRequest,
    *,
    progress: Callable[[str, int], Progress | None] | None = None,
    on_duplicate: Callable[[str], None] | None = None,
    jobs: int | None = None,
) -> RegisterResult:
    """Check everything, store the files (and the environment lock), then commit the next manifest
    with compare-and-swap: a concurrent registration from another clone makes this one retry."""
    model = request.model
    checked = _check(request)
    ctx.require_initialised()
    parent_ref = _parent(ctx, request.parent) if request.parent is not None else None
    ident, stamp = ctx.git.identity()
    # Data references can fail (a missing local file): resolve them before a byte is stored.
    data_entries = [data_ref(name, uri, ctx.notify) for name, uri in checked.data_refs]
    store = ctx.store
    if ctx.is_cache and store.is_default:
        raise UsageError(
            "this registry has no shared store: a version registered through a --registry cache would keep its bytes "
            "in that cache alone",
            hint="configure one for the team (mreg init --store URL, a reviewed change) or set MREG_STORE",
        )
    # While the files are hashed and copied (seconds for a big model), a second thread does the fixed
    # work of a registration that does not depend on them: the source commit, and the import of the
    # schema validator the manifest is checked with (~60 ms). The hash and the copy release the GIL.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mreg-prepare") as side:
        source = side.submit(capture.source_info, ctx.git, ctx.remote_name)
        lock = side.submit(capture.package_lock)
        warm = side.submit(schema_validator, MANIFEST_SCHEMA)
        artifacts, uploaded, reused = _store_files(ctx, store, checked.files, progress, jobs)
        warm.result()
        source_info = source.result()
        lock_text = lock.result()
    manifest: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "model": model,
        "version": 0,
        "digest": artifact_set_digest(artifacts),
        "created_at": datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_by": ident,
        "message": request.message,
        "source": source_info,
        "artifacts": artifacts,
        "environment": _environment(store, checked.lock_path, request.image, lock_text),
        "data": data_entries,
        "params": checked.params,
        "metrics": checked.metrics,
        "parent": parent_ref,
        "labels": dict(request.labels or {}),
    }
    written, duplicate = _commit_manifest(ctx, model, manifest)
    if store.is_default and ctx.git.remote_url(ctx.remote_name) is not None:
        ctx.notify(  # the manifest went to every clone; the bytes did not
            f"the bytes of this version are only in this clone's private store ({store.url}); teammates and deploy jobs "
            "cannot pull it. Share a store: mreg init --store s3://bucket/prefix (or any URL every clone can reach)"
        )
    if duplicate is not None and on_duplicate is not None:
        on_duplicate(f"{model}@v{written['version']} has the same artifacts as {model}@v{duplicate}")
    return RegisterResult(model, written["version"], written["digest"], written, uploaded, reused, duplicate)


def _check(request: RegisterRequest) -> _Checked:
    """Everything the user typed, checked before a single byte is stored."""
    from mreg.secrets import check_params

    params, metrics = request.params, request.metrics
    param_values = build_params(
        _files(request.params_files), [] if isinstance(params, Mapping) else _pairs(params)
    )
    if isinstance(params, Mapping):
        param_values.update(mapping_input(params, flag="params"))
    check_params(param_values, request.allow_secret_like)  # a credential must never reach a pushed manifest
    metric_values = build_metrics(
        _files(request.metrics_files), [] if isinstance(metrics, Mapping) else _pairs(metrics)
    )
    if isinstance(metrics, Mapping):
        metric_values.update(metric_mapping(metrics))
    data_refs = parse_data_refs(request.data)
    files = collect_files(list(request.paths))
    _refuse_an_oversized_manifest(files, param_values, metric_values, request.message)
    lock_path = Path(request.lockfile) if request.lockfile else None
    if lock_path is not None and not lock_path.is_file():
        raise UsageError(f"--lockfile {request.lockfile}: no such file")
    image = request.image
    if image is not None and (not image.strip() or any(c.isspace() for c in image)):
        raise UsageError(f"--image {image!r}: not an image reference")
    if request.parent is not None:
        _parent_syntax(request.parent)
    return _Checked(files, param_values, metric_values, data_refs, lock_path)


_PARENT_HINT = "name a registered version (MODEL@vN, MODEL@ALIAS) or an external URI such as hf://org/model"


def _parent_syntax(text: str) -> Ref | str:
    """`--parent`, checked before anything is stored: an external URI (kept as given) or a reference."""
    from mreg.secrets import strip_credentials

    if is_external(text):
        uri = check_external(text, flag="--parent")
        if strip_credentials(uri) != uri:
            raise UsageError("--parent: the URI contains credentials; remove them")
        return uri
    try:
        return parse_ref(text)
    except UsageError as exc:
        raise UsageError(f"--parent: {exc.message}", hint=_PARENT_HINT) from None


def _parent(ctx: Context, text: str) -> str:
    """What `parent` records: an external URI unchanged, or the version a reference resolves to now
    (an alias is recorded as the version it names); a version that does not exist is exit 3."""
    parsed = _parent_syntax(text)
    if isinstance(parsed, str):
        return parsed
    try:
        return ctx.resolve(parsed, with_aliases=False).ref
    except MregError as exc:  # not found (3), an unreviewed alias (5): say it is about --parent
        raise type(exc)(f"--parent {text}: {exc.message}", hint=exc.hint or _PARENT_HINT) from None


def _store_files(
    ctx: Context,
    store: ObjectStore,
    files: list[tuple[str, Path]],
    progress: Callable[[str, int], Progress | None] | None,
    jobs: int | None,
    *,
    remember: bool = True,
) -> tuple[list[dict[str, Any]], int, int]:
    """Each file into the store (one the stat cache knows, and the store has, is not read again):
    the artifact list, bytes uploaded, bytes reused. `remember=False` (an import's temporary
    download) keeps the files out of the stat cache: they are gone a moment later."""
    from mreg.store import run_parallel

    stat_cache = StatCache(clone_cache_dir(ctx.git.common_dir) / "statcache")
    if jobs is not None:
        store.jobs = jobs  # parts (and files) in flight at once

    looked_up = [(rel, f, *stat_cache.lookup(f)) for rel, f in files]  # stat only; loads the cache once
    bar = _one_bar(progress, files)

    def one(item: tuple[str, Path, Any, tuple[str, int] | None]) -> tuple[dict[str, Any], bool]:
        rel, f, before, cached = item
        if cached is not None and store.exists(cached[0]):
            digest, size = cached
            wrote = False
            if bar is not None:
                bar(size)  # known: counts as done
        else:
            digest, size, wrote = store.put_file(f, progress=bar)
            if remember:
                stat_cache.remember(f, before, digest, size)
        art: dict[str, Any] = {"path": rel, "size": size, "digest": digest}
        if f.stat().st_mode & 0o111:
            art["executable"] = True
        return art, wrote

    done = run_parallel(store, one, looked_up)  # several files (and their parts) in flight on team stores
    stat_cache.save()
    artifacts = [a for a, _ in done]
    uploaded = sum(a["size"] for a, wrote in done if wrote)
    reused = sum(a["size"] for a, wrote in done if not wrote)
    return artifacts, uploaded, reused


def _one_bar(
    progress: Callable[[str, int], Progress | None] | None, files: list[tuple[str, Path]]
) -> Progress | None:
    """One progress bar for all the files (they are stored several at once): the total of their sizes."""
    if progress is None or not files:
        return None
    label = files[0][0] if len(files) == 1 else f"{len(files)} files"
    return progress(label, sum(f.stat().st_size for _, f in files))


def _environment(
    store: ObjectStore, lock_path: Path | None, image: str | None, captured: str
) -> dict[str, Any]:
    """The captured package lock (stored as an object), the user's lock file, the image reference."""
    lock_text = captured.encode()
    environment: dict[str, Any] = {
        "python": capture.python_version(),
        "platform": capture.platform_tag(),
        "packages": of_bytes(lock_text),
    }
    store.put_bytes(lock_text, environment["packages"])
    if lock_path is not None:
        ldigest, _, _ = store.put_file(lock_path)
        environment["lockfile"] = {"path": lock_path.name, "digest": ldigest}
    if image:
        environment["image"] = image
    return environment


def _commit_manifest(
    ctx: Context, model: str, manifest: dict[str, Any], *, number: int | None = None
) -> tuple[Manifest, int | None]:
    """Commit the manifest as the next version (numbered at commit time, retried on a race): the
    written manifest, and the earlier version with the same artifacts, if any. An import gives the
    `number` to keep: only added, never over a manifest that exists (exit 4)."""
    duplicate: list[int | None] = [None]
    wanted = number

    def build(base: str | None) -> Change:
        blobs = ctx.version_blobs(model, base) if base else {}
        number = max(blobs, default=0) + 1 if wanted is None else wanted
        if wanted is not None and wanted in blobs:
            raise ConflictError(
                f"{manifest_path(model, wanted)} exists already: a registered version is never replaced",
                hint="the version was registered meanwhile, or by hand; 'mreg show' says what it holds",
            )
        if number > 999_999_999:  # only a planted manifest gets here: a path no reader would accept
            raise IntegrityError(
                f"{manifest_path(model, number - 1)} exists: no version number is left for {model}",
                hint="versions are numbered up to 999,999,999; 'mreg check' and 'git log' on that path say who added it",
            )
        path = manifest_path(model, number)
        if base is not None and ctx.git.object_ids([f"{base}:{path}"])[0] is not None:
            raise Retry(f"{path} appeared meanwhile")
        duplicate[0] = _find_same_digest(ctx, model, blobs, manifest["digest"])
        doc = validate_manifest({**manifest, "version": number}, where=f"{REGISTRY_BRANCH}:{path}")
        text = dump_manifest(doc)
        too_big = size_problem(text)
        if too_big:  # never write what every reader would refuse
            raise UsageError(f"the manifest of {model}@v{number} would be {too_big}", hint=_TOO_BIG_HINT)
        from mreg.cache.valid import MEMO

        # these exact bytes just passed the schema: the first `resolve` or `pull` of the version
        # needs no jsonschema import (~60 ms) and no YAML parse (validity is a function of the bytes)
        MEMO.remember(text, MANIFEST_SCHEMA, order_manifest(doc))
        return Change({path: text}, f"register {model} v{number}", doc)

    _, change = ctx.branches.commit(REGISTRY_BRANCH, build)
    return cast(Manifest, change.result), duplicate[0]  # built and validated above (validate_manifest)


@dataclass(frozen=True)
class ImportedFacts:
    """What an import keeps of a foreign version (SPEC §14): its number, its authorship and its
    facts, as the foreign registry recorded them."""

    model: str
    version: int
    created_at: str
    created_by: str
    message: str | None
    source: Mapping[str, Any] | None
    data: Sequence[Mapping[str, Any]]
    params: Mapping[str, Any]
    metrics: Mapping[str, Any]
    labels: Mapping[str, str]
    python: str | None
    # the package list it was trained with (a requirements file), or a line saying none was recorded
    packages: str


def files_digest(root: Path) -> str:
    """The artifact-set digest registering the files under `root` would give, nothing stored (an
    import compares a foreign version's bytes with what this registry holds)."""
    from mreg.store.hashing import hash_file

    artifacts = []
    for rel, f in collect_files([root]):
        digest, size = hash_file(f)
        artifacts.append({"path": rel, "size": size, "digest": digest})
    return artifact_set_digest(artifacts)


def register_imported(
    ctx: Context,
    facts: ImportedFacts,
    root: Path,
    *,
    progress: Callable[[str, int], Progress | None] | None = None,
    allow_secret_like: Sequence[str] = (),
) -> RegisterResult:
    """Store the files under `root` (a file, or a directory's contents) and commit the manifest at
    exactly `facts.version`: the register path, with the number and the authorship given, not made here."""
    from mreg.secrets import check_params

    params = dict(facts.params)
    check_params(
        params, allow_secret_like
    )  # a credential must never reach a pushed manifest, imported or not
    metrics = metric_mapping(dict(facts.metrics))
    files = collect_files([root])  # a directory by its contents, a file by its name
    _refuse_an_oversized_manifest(files, params, metrics, facts.message)
    ctx.require_initialised()
    store = ctx.store
    artifacts, uploaded, reused = _store_files(ctx, store, files, progress, None, remember=False)
    lock = facts.packages.encode()
    packages = of_bytes(lock)
    store.put_bytes(lock, packages)
    manifest: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "model": facts.model,
        "version": facts.version,
        "digest": artifact_set_digest(artifacts),
        "created_at": facts.created_at,
        "created_by": facts.created_by,
        "message": facts.message,
        "source": dict(facts.source) if facts.source is not None else None,
        "artifacts": artifacts,
        "environment": {"python": facts.python or "unknown", "platform": "unknown", "packages": packages},
        "data": [dict(d) for d in facts.data],
        "params": params,
        "metrics": metrics,
        "parent": None,
        "labels": dict(facts.labels),
    }
    written, duplicate = _commit_manifest(ctx, facts.model, manifest, number=facts.version)
    return RegisterResult(
        facts.model, written["version"], written["digest"], written, uploaded, reused, duplicate
    )


_TOO_BIG_HINT = "pack many small files into an archive (tar, zip) and register that; params and metrics belong in files of their own"
# A manifest line per artifact: "- path: …\n  size: …\n  digest: sha256:<64 hex>\n", about 100 bytes plus the path.
_BYTES_PER_ARTIFACT = 100


def _refuse_an_oversized_manifest(
    files: list[tuple[str, Path]], params: Any, metrics: Any, message: str | None
) -> None:
    """Before any byte is stored: a manifest over the readers' cap is refused (exit 2) up front."""
    import json

    estimate = sum(len(rel.encode()) + _BYTES_PER_ARTIFACT for rel, _ in files)
    estimate += (
        len(json.dumps(params, ensure_ascii=False)) + len(json.dumps(metrics)) + len((message or "").encode())
    )
    if estimate > MAX_MANIFEST_BYTES:
        raise UsageError(
            f"{len(files):,} files make a manifest of about {estimate // (1024 * 1024)} MiB; readers refuse more than "
            f"{MAX_MANIFEST_BYTES // (1024 * 1024)} MiB",
            hint=_TOO_BIG_HINT,
        )


def _find_same_digest(ctx: Context, model: str, oids: dict[int, str], digest: str) -> int | None:
    """The version whose manifest (version -> blob id) carries `digest`: digests from the clone's
    index, and only blobs the index has not seen read (digest line only, no YAML parse)."""
    if not oids:
        return None
    index = DigestIndex(clone_cache_dir(ctx.git.common_dir) / "digests", model)
    known = index.load()
    unseen = sorted({oid for oid in oids.values() if oid not in known})
    if unseen:
        found = {}
        for oid, blob in zip(unseen, ctx.git.read_blobs(unseen), strict=True):
            m = _DIGEST_LINE.search(blob) if blob is not None else None
            found[oid] = m.group(1).decode() if m else NO_DIGEST
        index.add(found)
        known.update(found)
    return next((v for v in sorted(oids) if known.get(oids[v]) == digest), None)


def data_ref(
    name: str, uri: str, warn: Callable[[str], None] = lambda message: None, *, flag: str = "--data"
) -> dict[str, Any]:
    """A local file is hashed; a remote URI records what fsspec can tell without downloading (etag,
    version, size), and the user is told when it could tell nothing: the reference is then only a name.
    (Training data of `register`, and the dataset of an evaluation.)"""
    ref: dict[str, Any] = {"name": name, "uri": uri}
    local = uri[7:] if uri.startswith("file://") else (uri if "://" not in uri else None)
    if local is not None:
        p = Path(local)
        if p.is_file():
            from mreg.store.hashing import hash_file

            ref["digest"], ref["size"] = hash_file(p)
        elif p.is_dir():
            ref["digest"], ref["size"] = _hash_dir(p)
        else:
            raise UsageError(f"{flag} {name}={uri}: no such file or directory")
        ref["uri"] = p.resolve().as_uri() if "://" not in uri else uri
        return ref
    from mreg.secrets import strip_credentials

    if strip_credentials(uri) != uri:
        raise UsageError(f"{flag} {name}: the URI contains credentials; remove them")
    from mreg.store import data_fingerprint

    found, why = data_fingerprint(uri)
    if why is not None:
        warn(
            f"{flag} {name}: recorded the URI only; its etag, version and size could not be read "
            f"({why}), so a change to the data will not show"
        )
    ref.update(found)
    return ref


def _hash_dir(root: Path) -> tuple[str, int]:

    from mreg.store.hashing import hash_file

    lines = []
    total = 0
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        digest, size = hash_file(f)
        total += size
        lines.append(f"{f.relative_to(root).as_posix()}\0{size}\0{digest}")
    return of_bytes("\n".join(lines).encode()), total

"""`mreg pull`: verified bytes only (SPEC §5). Every byte handed out has been hashed on the way."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from mreg.cache.objects import ObjectCache
from mreg.errors import IntegrityError, UsageError
from mreg.manifest import artifact_path_problem
from mreg.ports import ObjectStore, Progress
from mreg.results import PullResult
from mreg.store.hashing import ChangedWhileReading, copy_into

if TYPE_CHECKING:
    from mreg.context import Context
    from mreg.manifest import Artifact


def safe_target(dest: Path, rel: str) -> Path:
    """A manifest is data from a pull request: its paths must stay inside the destination."""
    if artifact_path_problem(rel):
        raise IntegrityError(f"artifact path {rel!r} would leave the destination")
    parts = rel.split("/")
    target = dest.joinpath(*parts)
    root = dest.resolve()
    if not target.parent.resolve().is_relative_to(
        root
    ):  # not a string prefix: /x/out-evil starts with /x/out
        raise IntegrityError(f"artifact path {rel!r} would leave the destination (through a symlink)")
    return target


def pull(
    ctx: Context,
    ref: str,
    dest: Path | None,
    *,
    at: datetime | None = None,
    progress: Callable[[str, int], Progress | None] | None = None,
    jobs: int | None = None,
    allow_unreviewed: bool = False,
    force: bool = False,
) -> PullResult:
    """DIR ends up holding exactly the version's files, switched in at once (SPEC §8): everything is
    written and verified in a directory beside DIR, which then replaces DIR (an atomic exchange of
    the two where the kernel offers one; a symlink flip where DIR is a symlink). A failed pull leaves
    DIR as it was and nothing beside it."""
    version = ctx.resolve(ref, at, allow_unreviewed=allow_unreviewed, with_aliases=False)
    from mreg.ops.retention import refuse_purged

    refuse_purged(ctx, version.model, version.version)
    dest = dest if dest is not None else Path(f"{version.model}-v{version.version}")
    try:
        _refuse_a_dangerous_destination(dest)
    except OSError as exc:  # a name too long, a path through a file, /proc: one line, nothing written
        raise UsageError(f"-o {dest}: cannot write there ({exc.strerror or exc})") from None
    if not force:
        _refuse_files_that_are_not_a_pull(ctx, version.model, dest)
    store = ctx.store
    cache = None if store.is_local else ObjectCache()
    if jobs is not None:
        store.jobs = jobs  # parts (and files) in flight at once
    parent = dest.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=parent, prefix=f".{dest.name[:64]}.mreg-{version.digest[7:19]}-"))
    except OSError as exc:
        raise UsageError(f"-o {dest}: cannot write there ({exc.strerror or exc})") from None
    umask = _umask()
    size_of: dict[Path, int] = {}

    def one(art: Artifact) -> bool:
        """One artifact into place; True when it came from the cache."""
        rel, digest, size = art["path"], art["digest"], art["size"]
        target = safe_target(stage, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = (0o777 if art.get("executable") else 0o666) & ~umask
        size_of[target] = size
        if cache is not None and (hit := cache.find(digest)) is not None:
            try:
                with open(hit, "rb") as src:
                    _write_verified(src, target, digest, bar, mode=mode)
                return True
            except IntegrityError:
                cache.evict(digest)  # a damaged cache entry is thrown away and fetched again
        if cache is None:
            with store.open(digest) as src:
                _write_verified(src, target, digest, bar, where=f"store {store.url}", mode=mode)
        else:
            _fetch_into_cache_and_dest(
                store, cache, target, digest, bar, where=f"store {store.url}", mode=mode
            )
        return False

    arts = version.manifest["artifacts"]
    # One bar for all the files (they come several at once): the total of their sizes.
    bar = None
    if progress is not None and arts:
        label = arts[0]["path"] if len(arts) == 1 else f"{version.ref} ({len(arts)} files)"
        bar = progress(label, sum(a["size"] for a in arts))
    from mreg.store import run_parallel

    try:
        from_cache = run_parallel(
            store, one, arts
        )  # several files (and their parts) in flight on team stores
        for target, size in size_of.items():  # the bytes hashed right; the manifest's sizes must say so too
            if target.stat().st_size != size:
                raise IntegrityError(
                    f"artifact {target.relative_to(stage)} is {target.stat().st_size} bytes, its manifest says {size}"
                )
        for d in sorted((p for p in stage.rglob("*") if p.is_dir()), reverse=True):
            d.chmod(0o777 & ~umask)
        stage.chmod(0o777 & ~umask)
        _switch_in(stage, dest)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise UsageError(f"-o {dest}: cannot write there ({exc.strerror or exc}); it is as it was") from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    written = [art["path"] for art in arts]
    hits = sum(from_cache)
    misses = len(arts) - hits
    return PullResult(version.ref, version.digest, dest, tuple(written), hits, misses)


def _refuse_files_that_are_not_a_pull(ctx: Context, model: str, dest: Path) -> None:
    """A pull replaces DIR as a whole. That is the point for last week's pull of this model; for a
    directory holding anything else (`-o src`, `-o data`) it would delete someone's files."""
    real = dest.resolve() if dest.is_symlink() else dest
    if not real.is_dir():
        return
    found: dict[str, int] = {}
    for p in real.rglob("*"):
        if p.is_file() or p.is_symlink():
            found[p.relative_to(real).as_posix()] = p.lstat().st_size
            if len(found) > 100_000:
                break
    if not found:
        return
    from mreg.ops.inspect import manifests_quietly

    tip = ctx.registry_commit()
    for manifest in manifests_quietly(ctx, model, ctx.versions(model, tip), tip).values():
        if {a["path"]: a["size"] for a in manifest["artifacts"]} == found:
            return
    example = sorted(found)[0]
    raise UsageError(
        f"-o {dest}: holds files that are not an earlier pull of {model} (e.g. {example}); a pull replaces DIR as a whole",
        hint="pull into a new or empty directory, or pass --force to replace what is there",
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _refuse_a_dangerous_destination(dest: Path) -> None:
    """DIR is replaced as a whole: never the working directory, one of its ancestors, or a repository."""
    if dest.is_symlink():
        return
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"-o {dest}: exists and is not a directory")
    if not dest.exists():
        return
    here, target = Path.cwd().resolve(), dest.resolve()
    if target == here or target in here.parents or target == Path(target.anchor):
        raise UsageError(
            f"-o {dest}: is the current directory or one of its parents; a pull replaces DIR as a whole",
            hint="pull into a directory of its own, e.g. -o model/",
        )
    if (target / ".git").exists() or any(d.name == ".git" or _bare(d) for d in (target, *target.parents)):
        raise UsageError(
            f"-o {dest}: is a git repository, or inside one's own files (.git, its store); a pull replaces DIR as a whole",
            hint="pull into a directory of its own",
        )
    if target == Path.home().resolve():
        raise UsageError(
            f"-o {dest}: is your home directory; a pull replaces DIR as a whole",
            hint="pull into a directory of its own",
        )


def _bare(d: Path) -> bool:
    return (d / "HEAD").is_file() and (d / "objects").is_dir() and (d / "refs").is_dir()


def _switch_in(stage: Path, dest: Path) -> None:
    if dest.is_symlink():  # a symlink flip: the link moves to the new directory in one rename
        old = Path(os.readlink(dest))
        old = old if old.is_absolute() else dest.parent / old
        link = dest.parent / f".{dest.name}.mreg-link-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(stage.name if stage.parent == dest.parent.absolute() else stage)
        os.replace(link, dest)
        if old.name.startswith(f".{dest.name}.mreg-") and old.is_dir():  # a directory an earlier pull staged
            shutil.rmtree(old, ignore_errors=True)
        return
    if not dest.exists():
        os.rename(stage, dest)
        return
    if not _exchange(stage, dest):  # no atomic exchange here: two renames, DIR absent for an instant
        aside = Path(tempfile.mkdtemp(dir=stage.parent, prefix=f".{dest.name}.mreg-old-"))
        os.rmdir(aside)
        os.rename(dest, aside)
        os.rename(stage, dest)
        stage = aside
    shutil.rmtree(stage, ignore_errors=True)  # now holds the previous contents


def _exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE) (Linux ≥ 3.15): swap two directories atomically."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange)
    return bool(rc == 0)


def _write_verified(
    src: BinaryIO,
    target: Path,
    digest: str,
    bar: Progress | None,
    *,
    where: str = "the cache",
    mode: int = 0o644,
) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.mreg-")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                got, _ = copy_into(src, out, bar)
            except ChangedWhileReading:
                raise IntegrityError(f"object {digest} in {where} changed while it was read") from None
            os.fsync(out.fileno())  # durable before it is switched in, as a store's own objects are
        if got != digest:
            raise IntegrityError(f"object {digest} from {where} is corrupt: its bytes hash to {got}")
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _fetch_into_cache_and_dest(
    store: ObjectStore,
    cache: ObjectCache,
    target: Path,
    digest: str,
    bar: Progress | None,
    *,
    where: str,
    mode: int = 0o644,
) -> None:
    """One pass over the network bytes: hashed, written to the cache and the destination at once;
    both become visible only after the hash matched (stores with `download` move parts in parallel)."""
    cfd, ctmp = cache.temp()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.mreg-")
    try:
        with os.fdopen(cfd, "wb") as cout, os.fdopen(fd, "wb") as out:
            got, _ = store.download(digest, [cout, out], bar)
        if got != digest:
            raise IntegrityError(f"object {digest} from {where} is corrupt: its bytes hash to {got}")
        cache.admit(ctmp, digest)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        for t in (ctmp, tmp):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(t)

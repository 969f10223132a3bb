"""`--registry GIT_URL`: a bare cache of only the registry refs, so a deploy job needs no clone (SPEC §8)."""

from __future__ import annotations

import hashlib

from mreg.cache import cache_root
from mreg.errors import NotFoundError, UsageError
from mreg.git.repo import GitRepo
from mreg.secrets import strip_credentials


def open_registry_cache(url: str, *, offline: bool) -> GitRepo:
    if not url or url.startswith("-") or any(c in url for c in "\n\r\0"):
        raise UsageError(f"--registry {url!r}: not a git URL")
    key = hashlib.sha256(strip_credentials(url).encode()).hexdigest()[:24]
    path = cache_root() / "registries" / f"{key}.git"
    if not (path / "HEAD").is_file():
        if offline:
            raise NotFoundError(
                f"no cached copy of registry {strip_credentials(url)}", hint="run once without --offline"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        GitRepo.init_bare(path)
    git = GitRepo(path, None)
    recorded = strip_credentials(url)  # a token in the URL never reaches the cache's config file
    git.set_remote("origin", recorded)
    if recorded != url:  # this process alone talks to the real URL: through git's environment, not a file
        git.with_config(f"url.{url}.insteadOf", recorded)
    return git

"""The environment every test runs in: its own HOME and cache, a pinned git identity, no inherited
credentials. The autouse fixture `isolated_env` (testing.fixtures) applies it per test; fixtures that
build something once per module or session apply it themselves, since they run outside any test's env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

STRIP_PREFIXES = ("AWS_", "GITHUB_", "GH_", "MREG_", "GIT_", "XDG_")

GITCONFIG = (
    "[user]\n\tname = Test User\n\temail = test@example.com\n"
    "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
    '[protocol "file"]\n\tallow = always\n'
)


def isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    """Point HOME and the XDG directories at `home` (with a test .gitconfig) and drop every inherited
    AWS_, GITHUB_, GH_, MREG_, GIT_, XDG_ and CI variable; `mp` undoes it all."""
    home.mkdir(parents=True, exist_ok=True)
    for key in list(os.environ):
        if key.startswith(STRIP_PREFIXES) or key == "CI":
            mp.delenv(key, raising=False)
    mp.setenv("HOME", str(home))
    mp.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
    mp.setenv("GIT_TERMINAL_PROMPT", "0")
    mp.setenv("GIT_ALLOW_PROTOCOL", "file")
    (home / ".gitconfig").write_text(GITCONFIG)

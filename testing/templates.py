"""Directories built once per session and copied per test, for setups that take seconds (a team's
remote and clone, a registry with versions) and that many tests start from.

A template is built outside any test (lazily, by the first test that asks for it), so it gets an
isolated environment of its own (testing.env) and a pinned clock is undone after it. A copy is a plain
copy of every file, symlinks kept: git repositories copied as directories work as long as nothing in
them names the template's path, so the text files that do (git configs, reflogs, FETCH_HEAD) are
rewritten to the copy's path, and any other file naming it is refused when the template is built.
Git objects are never rewritten: a commit that recorded a path while the template was built (a
manifest's `source.repository`, from `git remote get-url`) keeps naming the template's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testing.env import isolate

Build = Callable[[Path, pytest.MonkeyPatch], Any]


@dataclass
class Template:
    root: Path
    cache: Path  # the mreg cache ($XDG_CACHE_HOME) the build's commands filled
    named: list[str]  # files under root that name root
    built: Any  # what the build returned

    def copy_to(self, tmp: Path) -> None:
        """Everything under root into `tmp` (which must not hold any of it yet), the files naming root
        rewritten to name `tmp`, and the cache into this test's XDG_CACHE_HOME: the state the build
        would have left had it run in `tmp` in this test."""
        clash = sorted(n for n in os.listdir(self.root) if (tmp / n).exists())
        assert not clash, f"{tmp} already holds {clash}: a template is copied into an empty tmp_path"
        shutil.copytree(self.root, tmp, symlinks=True, dirs_exist_ok=True)
        old, new = f"{self.root}{os.sep}", f"{tmp}{os.sep}"
        for rel in self.named:
            p = tmp / rel
            p.write_text(p.read_text().replace(old, new))
        if self.cache.is_dir():
            shutil.copytree(self.cache, Path(os.environ["XDG_CACHE_HOME"]), symlinks=True, dirs_exist_ok=True)


def files_naming(root: Path) -> list[str]:
    """The files under `root` whose text names `root`; anything else naming it (a binary file, a
    symlink pointing into it) would tie copies to the template, so it is refused."""
    needle = f"{root}{os.sep}".encode()
    named = []
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            assert not os.readlink(p).startswith(str(root)), f"{p} points into the template"
        elif p.is_file() and needle in p.read_bytes():
            p.read_bytes().decode()  # a text file: it can be rewritten without shifting any offset
            named.append(str(p.relative_to(root)))
    return named


class Templates:
    """Templates by name under `base`; the session fixture `templates` (testing.fixtures) holds one."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._built: dict[str, Template] = {}

    def get(self, name: str, build: Build) -> Template:
        """The template `name`, built by `build(root, monkeypatch)` the first time. One name, one
        recipe: callers that share a name must pass the same build."""
        if name not in self._built:
            root = self.base / name
            root.mkdir()
            home = self.base / f"{name}.home"
            with pytest.MonkeyPatch.context() as mp:
                isolate(mp, home)
                for var in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):  # a Clock in the build sets them
                    mp.setenv(var, "")
                    mp.delenv(var)
                built = build(root, mp)
            self._built[name] = Template(root, home / ".cache", files_naming(root), built)
        return self._built[name]

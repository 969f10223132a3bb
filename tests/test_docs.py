"""The documentation site (issue 13): `mkdocs build --strict` passes, the command reference lists every
command the CLI has, the API page is generated from the docstrings, the README stays a front page
(≤ 10 KB) and no relative link in README.md or docs/ points at a missing file."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about MkDocs 2 on stderr
    r = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def _commands(command: Any, path: list[str], ctx: Any) -> Iterator[list[str]]:
    yield path
    if hasattr(command, "list_commands"):  # a group (typer may vendor click: no isinstance)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                yield from _commands(sub, [*path, name], sub.context_class(sub, info_name=name, parent=ctx))


def all_commands() -> list[list[str]]:
    import typer.main

    from mreg.cli.app import app

    root = typer.main.get_command(app)
    return list(_commands(root, ["mreg"], root.context_class(root, info_name="mreg")))


def _text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_the_site_builds_strict(site: Path) -> None:
    for page in ("index.html", "tutorial/index.html", "reference/cli/index.html", "reference/api/index.html"):
        assert (site / page).is_file(), page


def test_the_cli_reference_lists_every_command_with_its_options(site: Path) -> None:
    page = (site / "reference" / "cli" / "index.html").read_text()
    headings = {
        html.unescape(re.sub(r"<[^>]+>", "", h)).rstrip("¶").strip()
        for h in re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", page, re.S)
    }
    commands = all_commands()
    assert ["mreg", "store", "copy"] in commands  # nested groups are walked
    assert len(commands) > 15
    missing = [" ".join(path) for path in commands if " ".join(path) not in headings]
    assert not missing, f"commands missing from the CLI reference: {missing}"
    text = _text(site / "reference" / "cli" / "index.html")
    for option in ("--to URL", "--allow-secret-like KEY", "--repo PATH", "-j, --jobs N"):
        assert option in text, option
    assert "models/<model>.yaml" in text  # help text is escaped, not swallowed as HTML


def test_help_text_is_rendered_as_plain_text() -> None:
    import importlib.util

    import markdown

    spec = importlib.util.spec_from_file_location("mreg_docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    hostile = "<script>x</script> *em* _u_ [a](http://x) `c` | p # h \\ b &amp; 1. l - i > q {#id} !["
    rendered = markdown.markdown(hooks.md_text(hostile), extensions=["toc", "tables", "attr_list"])
    assert "<script>" not in rendered and "<em>" not in rendered and "<a " not in rendered
    assert html.unescape(re.sub(r"<[^>]+>", "", rendered)) == hostile
    assert hooks.fence("a ``` b").startswith("````")


def test_the_api_page_is_generated_from_docstrings(site: Path) -> None:
    page = (site / "reference" / "api" / "index.html").read_text()
    for obj in (
        "mreg.Registry",
        "mreg.results.Version",
        "mreg.results.LogEntry",
        "mreg.Registry.register",
        "mreg.errors.MregError",
    ):
        assert f'id="{obj}"' in page, obj
    assert "Registry.register" in page
    assert "Store the files (directories recurse)" in _text(site / "reference" / "api" / "index.html")


def test_the_readme_is_a_front_page() -> None:
    assert README.stat().st_size <= 10 * 1024
    text = README.read_text()
    assert "## Two commands" in text
    for line in (
        "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/python examples/demo.py",
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest",
    ):
        assert f"\n{line}\n" in text


def _tour(text: str, heading: str) -> str:
    return text.split(heading, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_tutorial_page_runs_the_tour_the_readme_runs() -> None:
    # tests/test_readme_tutorial.py runs the README's block; the tutorial page must not drift from it
    assert _tour((DOCS / "tutorial.md").read_text(), "## A first model") == _tour(
        README.read_text(), "## Tutorial"
    )


def test_the_exit_code_page_names_every_exception() -> None:
    import mreg
    from mreg.errors import MregError

    errors = [
        cls
        for name in mreg.__all__
        if isinstance(cls := getattr(mreg, name), type) and issubclass(cls, MregError)
    ]
    assert len(errors) >= 7
    text = (DOCS / "reference" / "exit-codes.md").read_text()
    for cls in errors:
        if cls is not MregError:
            assert f"| `mreg.{cls.__name__}` | {cls.exit_code} | `{cls.code}` |" in text


def _links(text: str) -> Iterator[str]:
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", text, flags=re.S | re.M)  # fenced blocks
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans
    yield from re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    yield from re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", text, re.M)  # reference definitions
    yield from re.findall(r"\bhref=\"([^\"]+)\"", text)


def _markdown_files() -> list[Path]:
    return list(dict.fromkeys([README, *sorted(ROOT.glob("*.md")), *sorted(DOCS.rglob("*.md"))]))


@pytest.mark.parametrize("md", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files_that_exist(md: Path) -> None:
    broken = []
    for target in _links(md.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("#", "//")):
            continue  # a URL (https:, mailto:) or an anchor on the same page
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not (md.parent / path).exists():
            broken.append(target)
    assert not broken, f"{md.relative_to(ROOT)}: links to missing files: {broken}"

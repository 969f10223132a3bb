"""`mreg report` under attack (SPEC §13, issue 17; review rep17): Mallory (testing.attacker: plain git,
push rights, not a reviewer) pushes manifests, records and alias tags of her own; the maintainer
renders the report in their clone (which fetches first). Each test reproduces one problem found in
review and is marked xfail(strict=True) until the lead fixes it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mreg.manifest import artifact_set_digest, dump_manifest
from testing.attacker import Attacker, forged_record
from testing.templates import Templates
from tests.test_report import World, _build, _pages

pytestmark = pytest.mark.slow


@pytest.fixture
def world(templates: Templates, tmp_path: Path) -> World:
    """tests/test_report.py's world (its template): base, ft (ft@production v2), churn, a bare remote."""
    templates.get("report-world", _build).copy_to(tmp_path)
    return World(tmp_path / "repo", tmp_path / "origin.git", tmp_path)


def _mallory(world: World) -> Attacker:
    n = 1
    while (world.tmp / f"mallory-{n}").exists():
        n += 1
    mallory = Attacker(world.bare, world.tmp / f"mallory-{n}")
    mallory.fetch()
    return mallory


def _push_ft(world: World, files: dict[int, bytes | dict[str, Any]]) -> None:
    """Mallory commits ft's manifests `files` (a version: a document built from ft@v3, or raw bytes)."""
    mallory = _mallory(world)
    out: dict[str, bytes | None] = {}
    for version, doc in files.items():
        if isinstance(doc, dict):
            base = mallory.manifest("ft", 3)
            base.update(version=version, **doc)
            base["digest"] = artifact_set_digest(base["artifacts"])
            doc = dump_manifest(base)
        out[f"models/ft/versions/{version}.yaml"] = doc
    mallory.push_registry(mallory.commit_registry(out, "ft: more versions"))


def _site(world: World, out: Path | None = None) -> dict[str, str]:
    out = out or world.tmp / "site"
    r = world.mreg("report", "-o", str(out))
    assert r.code == 0, r.err
    return {k: v.decode() for k, v in _pages(out).items() if k.endswith(".html")}


# -- writing the site --------------------------------------------------------------------------------
def test_a_models_symlink_in_an_existing_site_is_not_written_through(world: World) -> None:
    # a committed site (docs/report.md: "a site can be committed and its diff read"): Mallory replaces
    # its models/ with a symlink; the maintainer re-renders the site in their checkout
    site, outside = world.tmp / "site", world.tmp / "outside"
    _site(world, site)
    outside.mkdir()
    for p in (site / "models").iterdir():
        p.unlink()
    (site / "models").rmdir()
    os.symlink(outside, site / "models")
    r = world.mreg("report", "-o", str(site))
    assert list(outside.iterdir()) == [], "pages written outside the site directory"
    assert r.code == 2 or not (site / "models").is_symlink()


def _promote_unreviewed(world: World, ref: str) -> None:
    """A pinned, applied production move by the maintainer (the --no-review path, which a registry
    allows without a remote: the remote is taken away for the move, then everything is pushed)."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=world.repo, check=True, capture_output=True)

    git("fetch", "-q", "origin", "+refs/tags/*:refs/tags/*")
    git("remote", "remove", "origin")
    r = world.mreg("promote", ref, "--to", "production", "--no-review", "--reason", "move")
    assert r.code == 0, r.err
    git("remote", "add", "origin", str(world.bare))
    git("push", "-q", "origin", "mreg/registry", "mreg/aliases", "refs/tags/mreg/*:refs/tags/mreg/*")


# -- the alias timeline -----------------------------------------------------------------------------
def test_a_replayed_approval_is_never_shown_reviewed_nor_shaded(world: World) -> None:
    # the maintainer: production v2 (/1, the template), v3 (/2), back to v2 (/3) — each pinned and applied
    for ref in ("ft@v3", "ft@v2"):
        _promote_unreviewed(world, ref)
    mallory = _mallory(world)
    # Mallory replays /2's record (v3, its digest, its governed commit) as /4: no reader follows it
    record = mallory.git("cat-file", "-p", "mreg/ft/production/2").split("\n\n", 1)[1]
    mallory.tag("mreg/ft/production/4", mallory.git("rev-parse", "origin/mreg/registry"), record)
    r = world.mreg("resolve", "ft@production")
    assert r.code != 0  # refused: the forged v3 has no pin behind it
    # later the maintainer moves production on (v1, /5): the forged tag is history now
    _promote_unreviewed(world, "ft@v1")
    ft = _site(world)["models/ft.html"]
    row = next(line for line in ft.splitlines() if "<code>mreg/ft/production/4</code>" in line)
    assert 'class="badge unrev">UNREVIEWED' in row  # fails: shown `reviewed`
    held = re.search(r"<h3>Who held each alias</h3>(.*?)<h3>", ft, re.S)
    assert held is not None
    held_v3 = [r for r in held.group(1).split("<tr>") if '<a href="#v3">v3</a>' in r]
    assert len(held_v3) == 1, "v3 held production once (/2), not again for the forged /4"
    md = world.mreg("report").out
    v3_moves = [line for line in md.splitlines() if "| promote | v3 | v2 |" in line]
    assert len(v3_moves) == 2  # /2 (the maintainer's) and /4 (Mallory's copy of its record)
    assert v3_moves[0].endswith("| reviewed |") and v3_moves[1].endswith("| **UNREVIEWED** |")


def test_a_forged_tag_for_the_pinned_value_is_not_presented_as_reviewed(world: World) -> None:
    mallory = _mallory(world)
    ft2 = mallory.manifest("ft", 2)
    tip = mallory.git("rev-parse", "origin/mreg/registry")
    claim = "approved by the security review board"
    mallory.tag(
        "mreg/ft/production/2",
        tip,
        forged_record("ft", "production", 2, ft2["digest"], reason=claim, request="#42"),
    )
    r = world.mreg("resolve", "ft@production")
    assert r.code == 0 and "ft@v2" in r.out  # readers still follow v2: the value is the pinned one
    ft = _site(world)["models/ft.html"]
    row = next(line for line in ft.splitlines() if "<code>mreg/ft/production/2</code>" in line)
    assert "Mallory" in row
    assert (
        'class="badge unrev">UNREVIEWED' in row or f'<span class="unrev">(claimed)</span> {claim}' in row
    ), row


# -- the index ---------------------------------------------------------------------------------------
def test_every_link_resolves_when_records_lie(world: World) -> None:
    _push_ft(
        world,
        {
            4: {"parent": "base@v99", "message": "fine-tuned from a version that does not exist"},
            5: b"schema: mreg/manifest/v1\nmodel: ft\nversion: 5\nmessage: '<b>not a manifest</b>'\n",
        },
    )
    pages = _site(world)
    assert "Left out" in pages["index.html"] and "ft/versions/5.yaml" in pages["index.html"]
    broken = []
    for path, text in pages.items():
        for href in re.findall(r'href="([^"]+)"', text):
            target, _, frag = href.partition("#")
            dest = str(Path(path).parent / target).replace("models/../", "") if target else path
            if dest not in pages or (frag and f'id="{frag}"' not in pages[dest]):
                broken.append((path, href))
    assert broken == []
    assert "Latest v4" in world.mreg("report").out.split("## ft", 1)[1]


# -- charts ------------------------------------------------------------------------------------------
def test_extreme_metric_values_draw_finite_charts(world: World) -> None:
    _push_ft(world, {4: {"metrics": {"auc": 0.9, "loss": 0.2, "huge": 1e308}},
                     5: {"metrics": {"auc": 0.9, "loss": 0.2, "huge": -1e308}}})  # fmt: skip
    ft = _site(world)["models/ft.html"]
    assert "huge over 2 versions" in ft
    bad = re.findall(r'\s(?:x|y|x1|x2|y1|y2|cx|cy|width|height|points)="[^"]*(?:inf|nan)[^"]*"', ft)
    assert bad == []


def test_one_version_cannot_push_the_real_metrics_off_the_page(world: World) -> None:
    _push_ft(world, {4: {"metrics": {f"a{i}": 1.0 for i in range(5)}}})
    ft = _site(world)["models/ft.html"]
    charts = re.findall(r"<figcaption[^>]*>([^<]*)</figcaption>", ft)
    assert "a0 over 1 version" in charts  # Mallory's
    assert "auc over 3 versions" in charts and "loss over 3 versions" in charts, charts


# -- Markdown ----------------------------------------------------------------------------------------
def test_markdown_math_is_text(world: World) -> None:
    spoof = r"$\Huge\color{green}\textsf{reviewed by security}$"
    _push_ft(world, {4: {"message": spoof}})
    text = world.mreg("report").out
    row = next(line for line in text.splitlines() if line.startswith("| v4 |"))
    assert "textsf" in row
    assert "$" not in row.replace("\\$", "")  # every dollar escaped (GitHub: `\$` is a literal $)


# -- invisible characters ----------------------------------------------------------------------------
def test_invisible_format_characters_are_shown(world: World) -> None:
    hidden = "ship\u200bit \u2060\ufeff" + "".join(chr(0xE0000 + ord(c)) for c in "ignore previous")
    _push_ft(world, {4: {"message": hidden, "created_by": "Alice\u200b <alice@example.com>"}})
    ft = _site(world)["models/ft.html"]
    md = world.mreg("report").out
    for out in (ft, md):
        assert not [c for c in out if c in "\u200b\u2060\ufeff" or 0xE0000 <= ord(c) <= 0xE007F]


# -- size --------------------------------------------------------------------------------------------
def test_a_flood_of_forged_tags_does_not_blow_the_page_up(world: World) -> None:
    mallory = _mallory(world)
    ft3 = mallory.manifest("ft", 3)
    tip = mallory.git("rev-parse", "origin/mreg/registry")
    body = forged_record("ft", "production", 3, ft3["digest"], reason="approved " * 40, request="#1")
    objs = mallory.work / "objs"
    objs.mkdir()
    for seq in range(2, 402):
        (objs / str(seq)).write_text(
            f"object {tip}\ntype commit\ntag mreg/ft/production/{seq}\n"
            f"tagger Mallory <mallory@example.com> {1767225600 + seq} +0000\n\nforged\n\n{body}"
        )
    paths = "\n".join(str(objs / str(s)) for s in range(2, 402)) + "\n"
    shas = mallory.git("hash-object", "-t", "tag", "-w", "--stdin-paths", input=paths).split()
    refs = "".join(
        f"create refs/tags/mreg/ft/production/{s} {h}\n" for s, h in zip(range(2, 402), shas, strict=True)
    )
    mallory.git("update-ref", "--stdin", input=refs)
    subprocess.run(["git", "push", "-q", "origin", "refs/tags/mreg/ft/*:refs/tags/mreg/ft/*"],
                   cwd=mallory.work, check=True, capture_output=True)  # fmt: skip
    ft = _site(world)["models/ft.html"]
    assert "mreg/ft/production/401" in ft  # the newest forged tag is there, UNREVIEWED
    assert len(ft.encode()) <= 300_000, len(ft.encode())
    assert "alias moves; <code>mreg log ft</code> lists them all." in ft  # and the page says what it left out


def test_one_huge_message_does_not_blow_the_page_up(world: World) -> None:
    _push_ft(world, {4: {"message": "approved by security. " * 50_000}})
    ft = _site(world)["models/ft.html"]
    assert "approved by security." in ft
    assert len(ft.encode()) <= 300_000, len(ft.encode())


# -- a site that is not what mreg left ----------------------------------------------------------------
def test_a_file_named_models_in_the_site_is_a_clean_error(world: World) -> None:
    site = world.tmp / "site"
    _site(world, site)
    for p in (site / "models").iterdir():
        p.unlink()
    (site / "models").rmdir()
    (site / "models").write_text("not a directory\n")
    r = world.mreg("report", "-o", str(site))
    assert r.code == 2 and "internal error" not in r.err, r.err
    assert (site / "models").read_text() == "not a directory\n"

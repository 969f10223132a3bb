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
        ("staging", "v2", "—", "reviewed"),
        ("staging", "v1", "v2", "reviewed"),
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
    r = world.mreg("report", "--format", "html")
    assert r.code == 2 and "not yet" in r.err and r.out == ""
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
    for name in ("cold.md", "warm.md"):  # cold: every manifest validated once and remembered (cache/valid)
        t = time.perf_counter()
        r = run_mreg("report", "--offline", "-o", str(tmp_path / name), cwd=tmp_path / "big")
        times.append(time.perf_counter() - t)
        assert r.code == 0, r.err
    text = (tmp_path / "warm.md").read_text()
    assert (tmp_path / "cold.md").read_text() == text
    assert text.count("\n## ") == 101 and "| v100 |" in text
    print(f"report --format md, 100 models x 100 versions: cold {times[0]:.2f} s, warm {times[1]:.2f} s")
    # smoke bounds only (measured on two busy cores: cold 10.5 s, warm 2.3-2.5 s; the target is 5 s)
    assert times[0] < 60 and times[1] < 15

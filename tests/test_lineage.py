"""`mreg lineage` (SPEC §11, issue 15): parent chains across models, descendants, who used a dataset.

The world: `base` pre-trained from an external model, fine-tuned into `ft` (a second model), with
data refs, evaluations and alias moves; the registry is a clone of a bare remote, so that Mallory
(testing.attacker: plain git, push rights) can add manifests that loop, run thousands long or name
versions that do not exist, and forge an alias tag. Arranged in-process, asserted through the real
CLI and the API.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mreg import Registry
from mreg.manifest import artifact_set_digest
from mreg.openlineage import run_events
from testing.attacker import Attacker, forged_record
from testing.clock import Clock
from testing.gitutil import Result, make_repo, publish_registry, run_mreg
from testing.templates import Templates


@dataclass
class World:
    repo: Path
    bare: Path
    files: Path
    tmp: Path

    def mreg(self, *args: str, cwd: Path | None = None) -> Result:
        return run_mreg(*args, cwd=cwd or self.repo)

    def lineage(self, *args: str) -> dict:  # type: ignore[type-arg]
        r = run_mreg("lineage", *args, "--json", cwd=self.repo)
        assert r.code == 0, r.err
        return dict(json.loads(r.out))

    def file(self, name: str) -> Path:
        return self.files / name

    def digest(self, name: str) -> str:
        from mreg.store.hashing import hash_file

        return hash_file(self.file(name))[0]


def _build(root: Path, mp: pytest.MonkeyPatch) -> None:
    """base@v1 (from hf://org/foundation, trained on a.csv) → base@v2 (b.csv) → ft@v1 (ft.csv) →
    ft@v2 (ft.csv); ft@v3 fine-tuned from base@v1. Evaluations: base@v2 and ft@v2 on holdout.csv,
    ft@v1 on a.csv (base@v1's training data). Aliases: base@staging v2 then back to v1,
    ft@production v2 (protected: a pin and a tag). Then the clone is given a bare remote."""
    repo, files = root / "repo", root / "files"
    make_repo(repo)
    files.mkdir()
    for name in ("a.csv", "b.csv", "ft.csv", "holdout.csv"):
        (files / name).write_text(f"rows of {name}\n")
    clock = Clock()  # a minute between steps, so that `--at` can tell them apart

    def reg() -> Registry:  # git's environment (the pinned clock) is read when a registry is opened
        clock.advance()
        return Registry.open(repo)

    reg().init()

    def register(model: str, n: int, train: str, parent: str | None) -> None:
        weights = root / f"w-{model}-{n}"
        weights.mkdir()
        (weights / "w.bin").write_bytes(f"{model} {n}".encode() * 100)
        reg().register(
            model, [weights], data={"train": str(files / train)}, parent=parent, message=f"{model} {n}"
        )

    register("base", 1, "a.csv", "hf://org/foundation")
    register("base", 2, "b.csv", "base@v1")
    register("ft", 1, "ft.csv", "base@v2")
    register("ft", 2, "ft.csv", "ft@latest")  # an alias-like reference is recorded as the version
    register("ft", 3, "ft.csv", "base@v1")
    for ref, name, data, auc in (
        ("base@v2", "holdout", "holdout.csv", 0.91),
        ("ft@v2", "holdout", "holdout.csv", 0.94),
        ("ft@v1", "a-set", "a.csv", 0.5),
    ):
        reg().evaluate(ref, dataset=(name, str(files / data)), metrics={"auc": auc})
    reg().promote("base@v2", "staging", reason="try v2")
    reg().promote("base@v1", "staging", reason="back to v1")
    reg().promote("ft@v2", "production", no_review=True, reason="first production")
    publish_registry(repo, root / "origin.git")


@pytest.fixture
def world(templates: Templates, tmp_path: Path) -> World:
    template = templates.get("lineage-world", _build)
    template.copy_to(tmp_path)
    # The manifests name the data files where the template was built (git objects are not rewritten)
    return World(tmp_path / "repo", tmp_path / "origin.git", template.root / "files", tmp_path)


def _refs(result: dict) -> list[str]:  # type: ignore[type-arg]
    return [n["ref"] for n in result["nodes"]]


# -- up ------------------------------------------------------------------------------------------------
def test_up_follows_the_parent_chain_across_models_to_the_external_base(world: World) -> None:
    up = world.lineage("ft@production")
    assert up["direction"] == "up" and up["ref"] == "ft@v2"
    assert _refs(up) == ["ft@v2", "ft@v1", "base@v2", "base@v1", "hf://org/foundation"]
    assert [n["depth"] for n in up["nodes"]] == [0, 1, 2, 3, 4]
    *versions, external = up["nodes"]
    assert external["external"] is True and external["model"] is None and external["evaluations"] is None
    for n in versions:  # the whole provenance of every version on the way
        assert n["source"]["commit"] and n["environment"]["python"] and n["environment"]["packages"]
        assert n["digest"].startswith("sha256:") and n["created_at"] and n["problem"] is None
    assert [n["parent"] for n in versions] == ["ft@v1", "base@v2", "base@v1", "hf://org/foundation"]
    assert [d["uri"] for n in versions for d in n["data"]] == [
        world.file(f).as_uri() for f in ("ft.csv", "ft.csv", "b.csv", "a.csv")
    ]
    assert versions[2]["data"][0]["digest"] == world.digest("b.csv")
    evaluations = {
        n["ref"]: [(e["dataset"]["name"], e["metrics"]) for e in n["evaluations"]] for n in versions
    }
    assert evaluations == {
        "ft@v2": [("holdout", {"auc": 0.94})],
        "ft@v1": [("a-set", {"auc": 0.5})],
        "base@v2": [("holdout", {"auc": 0.91})],
        "base@v1": [],
    }
    assert up["problems"] == [] and up["truncated"] is False


def test_up_as_a_text_tree(world: World) -> None:
    r = world.mreg("lineage", "ft@v2")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("ft@v2  sha256:")
    heads = [line for line in lines if "└─ " in line]
    assert [h.split("└─ ")[1].split()[0] for h in heads] == [
        "ft@v1",
        "base@v2",
        "base@v1",
        "hf://org/foundation",
    ]
    assert "(external: not followed)" in heads[-1]
    assert any("evaluation   #1 holdout" in line and "auc=0.94" in line for line in lines)
    assert any(line.strip().startswith("environment  cpython") for line in lines)


def test_at_answers_as_the_registry_stood_then(world: World) -> None:
    created = world.lineage("ft@v1")["nodes"][0]["created_at"]
    down = world.lineage("base@v1", "--down", "--at", created)
    assert "ft@v2" not in _refs(down) and "ft@v1" in _refs(down)


# -- down ----------------------------------------------------------------------------------------------
def test_down_lists_what_was_fine_tuned_from_it_transitively(world: World) -> None:
    down = world.lineage("base@v1", "--down")
    assert down["direction"] == "down"
    assert [(n["ref"], n["depth"], n["parent"]) for n in down["nodes"]] == [
        ("base@v1", 0, "hf://org/foundation"),
        ("base@v2", 1, "base@v1"),
        ("ft@v3", 1, "base@v1"),
        ("ft@v1", 2, "base@v2"),
        ("ft@v2", 3, "ft@v1"),
    ]
    r = world.mreg("lineage", "base@v1", "--down")
    assert r.code == 0, r.err
    assert r.out.splitlines()[1:] == [
        line
        for line in r.out.splitlines()[1:]
        if line.lstrip("│ ").startswith(("├─ ", "└─ "))  # every line below the root is a branch
    ]
    assert "└─ ft@v2" in r.out and "├─ base@v2" in r.out
    leaf = world.lineage("ft@v2", "--down")
    assert _refs(leaf) == ["ft@v2"]


def test_down_from_an_external_uri_finds_every_descendant(world: World) -> None:
    down = world.lineage("hf://org/foundation", "--down")
    assert down["nodes"][0]["external"] is True
    assert sorted(_refs(down)[1:]) == ["base@v1", "base@v2", "ft@v1", "ft@v2", "ft@v3"]


# -- dataset -------------------------------------------------------------------------------------------
def test_dataset_finds_training_and_evaluation_use_and_every_alias_with_when(world: World) -> None:
    found = world.lineage("--dataset", str(world.file("a.csv")))
    assert found["direction"] == "dataset" and found["dataset"] == world.file("a.csv").as_uri()
    used = {n["ref"]: n["used_as"] for n in found["nodes"]}
    assert used == {"base@v1": ["training"], "ft@v1": ["evaluation"]}
    ft1 = next(n for n in found["nodes"] if n["ref"] == "ft@v1")
    assert [e["metrics"] for e in ft1["evaluations"]] == [{"auc": 0.5}] and ft1["data"] == []
    aliases = [(a["model"], a["alias"], a["version"], a["current"]) for a in found["aliases"]]
    assert aliases == [("base", "staging", 1, True)]
    assert found["aliases"][0]["until"] is None and found["aliases"][0]["reviewed"] is True

    holdout = world.lineage("--dataset", world.digest("holdout.csv"))  # the same bytes, by digest
    assert {n["ref"]: n["used_as"] for n in holdout["nodes"]} == {
        "base@v2": ["evaluation"],
        "ft@v2": ["evaluation"],
    }
    moves = {(a["model"], a["alias"], a["version"]): a for a in holdout["aliases"]}
    assert set(moves) == {("base", "staging", 2), ("ft", "production", 2)}
    staging = moves[("base", "staging", 2)]
    assert staging["current"] is False and staging["until"] is not None and staging["until"] >= staging["at"]
    assert moves[("ft", "production", 2)]["current"] is True and moves[("ft", "production", 2)]["reviewed"]

    identity = world.lineage("--dataset", str(world.file("ft.csv")))["nodes"]
    assert [n["ref"] for n in identity] == ["ft@v1", "ft@v2", "ft@v3"]
    nothing = world.lineage("--dataset", "s3://nobody/used/this")
    assert nothing["nodes"] == [] and nothing["aliases"] == []


def test_dataset_as_text(world: World) -> None:
    r = world.mreg("lineage", "--dataset", str(world.file("holdout.csv")))
    assert r.code == 0, r.err
    assert "2 version(s), 2 alias tag(s)" in r.out.splitlines()[0]
    assert "evaluated #1 (holdout sha256:" in r.out and "auc=0.94" in r.out
    assert "base@staging" in r.out and "ft@production" in r.out and "UNREVIEWED" not in r.out


# -- openlineage ---------------------------------------------------------------------------------------
def test_openlineage_events_one_per_version_and_evaluation(world: World) -> None:
    r = world.mreg("lineage", "ft@v2", "--format", "openlineage")
    assert r.code == 0, r.err
    events = [json.loads(line) for line in r.out.splitlines()]
    assert len(events) == 4 + 3  # four versions (the external base is an input only), three evaluations
    for e in events:
        assert e["eventType"] == "COMPLETE" and e["eventTime"].endswith("Z")
        assert e["schemaURL"].startswith("https://openlineage.io/spec/") and e["producer"]
        assert uuid.UUID(e["run"]["runId"])
        assert e["job"]["namespace"] and e["job"]["name"]
        for d in e["inputs"] + e["outputs"]:
            assert d["namespace"] and d["name"]
        for facet in [*e["run"]["facets"].values(), *e["job"]["facets"].values()]:
            assert facet["_producer"] and facet["_schemaURL"]
    train = [e for e in events if e["job"]["name"] in ("ft", "base")]
    assert [e["outputs"][0]["name"] for e in train] == ["ft@v2", "ft@v1", "base@v2", "base@v1"]
    first = train[0]
    assert first["outputs"][0]["facets"]["version"]["datasetVersion"].startswith("sha256:")
    assert [(i["namespace"], i["name"]) for i in first["inputs"]] == [
        ("file", str(world.file("ft.csv"))),
        (first["job"]["namespace"], "ft@v1"),  # the parent, a version of the same registry
    ]
    assert ("hf://org", "foundation") in [(i["namespace"], i["name"]) for i in train[-1]["inputs"]]
    assert train[0]["job"]["facets"]["jobType"]["jobType"] == "TRAINING"
    evals = [e for e in events if e["job"]["name"].endswith(".evaluate")]
    assert {e["run"]["facets"]["mreg_evaluation"]["metrics"]["auc"] for e in evals} == {0.94, 0.5, 0.91}
    assert all(e["inputs"][1]["facets"]["version"]["datasetVersion"].startswith("sha256:") for e in evals)
    again = world.mreg("lineage", "ft@v2", "--format", "openlineage")
    assert again.out == r.out  # run ids are derived, not random: a catalog updates rather than duplicates
    api = run_events(Registry.open(world.repo).lineage("ft@v2"))
    assert api == events


# -- hostile manifests ---------------------------------------------------------------------------------
def _manifest(template: dict, model: str, version: int, parent: str | None, **extra: object) -> bytes:  # type: ignore[type-arg]
    doc = {**template, "model": model, "version": version, "parent": parent, **extra}
    doc["artifacts"] = [{**template["artifacts"][0], "path": f"w-{model}-{version}.bin"}]
    doc["digest"] = artifact_set_digest(doc["artifacts"])
    return yaml.safe_dump(doc, sort_keys=False).encode()


@pytest.mark.slow
def test_hostile_parent_chains_do_not_hang_or_crash(world: World) -> None:
    """Mallory commits manifests that name each other as parent, a chain thousands long and a
    parent that was never registered: lineage stops, names the problem, and answers the rest."""
    mallory = Attacker(world.bare, world.tmp / "mallory")
    template = mallory.manifest("base", 1)
    files = {
        "models/loop/versions/1.yaml": _manifest(template, "loop", 1, "loop@v2"),
        "models/loop/versions/2.yaml": _manifest(template, "loop", 2, "loop@v1"),
        "models/ghost/versions/1.yaml": _manifest(template, "ghost", 1, "nowhere@v9"),
        "models/weird/versions/1.yaml": _manifest(
            template,
            "weird",
            1,
            "hf://org/\u202eevil",
            data=[
                {"name": "train\x1b[31m", "uri": "s3://b/\x1b[2Jk"},
                {"name": "feat\u202e", "uri": "s3://b/k"},
            ],
            created_by="Mallory\x1b[0m <m@example.com>",
        ),
    }
    for n in range(1, 1201):
        files[f"models/long/versions/{n}.yaml"] = _manifest(
            template, "long", n, f"long@v{n - 1}" if n > 1 else None
        )
    mallory.push_registry(mallory.commit_registry(files, "register loop, ghost, long"))

    loop = world.lineage("loop@v1")
    assert _refs(loop) == ["loop@v1", "loop@v2"]
    assert loop["problems"] == ["parent cycle: loop@v1 -> loop@v2 -> loop@v1: stopped where it comes back"]
    down = world.lineage("loop@v1", "--down")
    assert _refs(down) == ["loop@v1", "loop@v2"] and "cycle" in down["problems"][0]
    r = world.mreg("lineage", "loop@v2")
    assert r.code == 0 and "mreg: warning: parent cycle: loop@v2 -> loop@v1 -> loop@v2" in r.err
    r = world.mreg("lineage", "loop@v2", "--format", "openlineage")
    assert r.code == 0 and len(r.out.splitlines()) == 2

    ghost = world.lineage("ghost@v1")
    assert ghost["nodes"][1]["ref"] == "nowhere@v9" and ghost["nodes"][1]["problem"] == "not in the registry"
    assert ghost["problems"] == ["ghost@v1 names parent nowhere@v9: not in the registry"]

    long = world.lineage("long@v1200")
    assert len(long["nodes"]) == 101 and long["truncated"] is True
    assert long["problems"] == ["stopped after 100 generations: long@v1100 has parent long@v1099"]
    deep = world.lineage("long@v1", "--down")
    assert len(deep["nodes"]) == 101 and deep["truncated"] is True

    r = world.mreg("lineage", "weird@v1")  # everything from git is shown escaped
    assert r.code == 0, r.err
    assert "\x1b" not in r.out + r.err and "\u202e" not in r.out
    assert "train\\x1b[31m" in r.out and "hf://org/\\u202eevil" in r.out and "Mallory\\x1b[0m" in r.out
    r = world.mreg("lineage", "--dataset", "s3://b/k")
    assert r.code == 0 and "weird@v1" in r.out and "feat\\u202e" in r.out and "\u202e" not in r.out
    r = world.mreg("lineage", "--dataset", "s3://b/\x1b[2Jk")  # nobody types that: refused, not searched
    assert r.code == 2 and "\x1b" not in r.err

    # `check` names what register would have refused (warnings: the manifests stay forever)
    r = world.mreg("check", "--json")
    warned = [(w["file"], w["message"]) for w in json.loads(r.out)["warnings"]]
    assert ("models/ghost/versions/1.yaml", "parent nowhere@v9 is not registered") in warned
    assert ("models/loop/versions/1.yaml", "its chain of parents loops back to loop@v1") in warned
    assert not any(path.startswith("models/long/") for path, _ in warned)  # long, but it ends


@pytest.mark.slow
def test_a_forged_alias_tag_is_listed_as_unreviewed(world: World) -> None:
    mallory = Attacker(world.bare, world.tmp / "mallory")
    mallory.fetch()
    ft1 = mallory.manifest("ft", 1)
    tip = mallory.git("rev-parse", "origin/mreg/registry")
    mallory.tag(
        "mreg/ft/production/2",
        tip,
        forged_record("ft", "production", 1, ft1["digest"], reason="approved, trust me", request="#1"),
    )
    found = world.lineage("--dataset", str(world.file("a.csv")))  # ft@v1 was evaluated on a.csv
    forged = [a for a in found["aliases"] if a["tag"] == "mreg/ft/production/2"]
    assert len(forged) == 1 and forged[0]["reviewed"] is False and forged[0]["version"] == 1
    assert forged[0]["by"].startswith("Mallory")
    holdout = world.lineage("--dataset", str(world.file("holdout.csv")))
    reviewed = [a for a in holdout["aliases"] if a["tag"] == "mreg/ft/production/1"]
    assert reviewed[0]["reviewed"] is True and reviewed[0]["current"] is False
    r = world.mreg("lineage", "--dataset", str(world.file("a.csv")))
    assert "UNREVIEWED ft@production" in r.out and "tagger's word" in r.err


# -- the index -----------------------------------------------------------------------------------------
def test_the_index_saves_work_and_a_damaged_or_missing_index_changes_no_answer(world: World) -> None:
    first = world.lineage("base@v1", "--down")
    index = next((world.repo / ".git" / "mreg" / "lineage").iterdir())
    lines = index.read_text().splitlines()
    assert len(lines) == 5 + 3  # one line a manifest and a record: only blobs never seen are read
    world.lineage("base@v1", "--down")
    assert len(index.read_text().splitlines()) == 8
    index.write_text(index.read_text()[:-40] + "\n{garbage\n")  # a crash mid-write, then junk
    assert world.lineage("base@v1", "--down") == first
    assert len([line for line in index.read_text().splitlines() if line.startswith("[")]) == 8
    oid = index.read_text()[2:42]
    with index.open("a") as f:  # a line of the right look but not what mreg writes: its blob is read again
        f.write(f'["{oid}",{{"k":"m","m":1}}]\n')
    assert world.lineage("base@v1", "--down") == first
    index.unlink()
    assert world.lineage("base@v1", "--down") == first

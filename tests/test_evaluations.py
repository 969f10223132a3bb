"""Evaluations (SPEC §11, issue 15): results recorded after registration, append-only, bound to the
version's digest and the dataset's; gates that name a dataset; what an attacker's record gets.

Real git throughout: the `world` of tests/test_trust.py (a bare remote, the maintainers' clone with
fraud v1 in production through a reviewed PR and v2 registered, Mallory's clone).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml

from mreg.manifest import dump_manifest
from testing.attacker import EVIL
from testing.fake_github import push_files, show
from testing.gitutil import refs, run_mreg
from testing.world import World

pytestmark = pytest.mark.github


def _holdout(world: World, text: str = "id,label\n1,0\n2,1\n", name: str = "holdout.csv") -> Path:
    path = world.tmp / name
    path.write_text(text)
    return path


def _eval(world: World, ref: str, dataset: str, *metrics: str, cwd: Path | None = None) -> dict:
    args = ["eval", "add", ref, "--dataset", dataset, "--json"]
    for m in metrics:
        args += ["--metric", m]
    r = world.mreg(*args, cwd=cwd)
    assert r.code == 0, r.err
    return json.loads(r.out)


def _gate_rules(world: World, *rules: str) -> None:
    """The fraud policy with these production rules added, as if a reviewed policy PR had merged."""
    policy = yaml.safe_load(show(world.team.bare, "mreg/aliases:models/fraud.yaml"))
    policy["gates"]["production"] = [yaml.safe_load(r) for r in rules]
    push_files(
        world.team.bare, "mreg/aliases", {"models/fraud.yaml": yaml.safe_dump(policy)}, "gate on holdout"
    )


# -- recording -----------------------------------------------------------------------------------------
def test_an_evaluation_is_a_record_bound_to_the_version_and_the_data(world: World) -> None:
    holdout = _holdout(world)
    got = _eval(world, "fraud@production", f"holdout={holdout}", "auc=0.88", "f1=0.71")
    assert got["ref"] == "fraud@v1" and got["number"] == 1
    assert got["path"] == "models/fraud/evaluations/1/1.yaml"
    record = yaml.safe_load(show(world.team.bare, f"mreg/registry:{got['path']}"))  # pushed
    assert record["schema"] == "mreg/evaluation/v1"
    assert (
        record["version_digest"]
        == json.loads(world.mreg("resolve", "fraud@v1", "--json").out)["manifest"]["digest"]
    )
    assert (
        record["dataset"]["digest"].startswith("sha256:")
        and record["dataset"]["uri"] == holdout.resolve().as_uri()
    )
    assert record["metrics"] == {"auc": 0.88, "f1": 0.71}

    r = world.mreg("show", "fraud@v1")
    assert r.code == 0 and "evaluations 1" in r.out and "holdout" in r.out and "auc=0.88" in r.out
    shown = json.loads(world.mreg("show", "fraud@v1", "--json").out)
    assert [e["number"] for e in shown["evaluations"]] == [1]
    listed = json.loads(world.mreg("eval", "list", "fraud@v1", "--json").out)
    assert listed == shown["evaluations"]
    # the registry branch's subject says what happened, and `check` counts it
    world.mallory.fetch()
    assert (
        world.mallory.git("log", "-1", "--format=%s", "origin/mreg/registry")
        == "evaluate fraud v1 on holdout"
    )
    r = world.mreg("check")
    assert r.code == 0 and "1 evaluation(s)" in r.out, r.out


def test_evaluators_in_two_clones_at_once_both_land(world: World) -> None:
    """Compare-and-swap and retry, like registrations: neither record is lost or overwritten."""
    other = world.fresh("evaluator")
    holdout = _holdout(world)
    results: list[object] = []

    def run(cwd: Path, auc: str) -> None:
        results.append(
            run_mreg(
                "eval",
                "add",
                "fraud@v2",
                "--dataset",
                f"holdout={holdout}",
                "--metric",
                f"auc={auc}",
                cwd=cwd,
            )
        )

    threads = [
        threading.Thread(target=run, args=(world.team.repo, "0.91")),
        threading.Thread(target=run, args=(other, "0.92")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r.code == 0 for r in results), [r.err for r in results]  # type: ignore[attr-defined]
    listed = json.loads(world.mreg("eval", "list", "fraud@v2", "--json").out)
    assert sorted(e["number"] for e in listed) == [1, 2]
    assert sorted(e["metrics"]["auc"] for e in listed) == [0.91, 0.92]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["fraud@v9", "--dataset", "h=HOLDOUT", "--metric", "auc=1"], 3, "no version v9"),
        (["fraud@v1", "--dataset", "h=HOLDOUT"], 2, "no metrics"),
        (["fraud@v1", "--dataset", "h=/nonexistent/holdout.csv", "--metric", "auc=1"], 2, "no such file"),
        (["fraud@v1", "--dataset", "h=HOLDOUT", "--metric", "auc=high"], 2, "auc"),
        (["fraud@v1", "--dataset", "h\x1b[31m=HOLDOUT", "--metric", "auc=1"], 2, "printable"),
        (["fraud@v1", "--dataset", "h=s3://u:p@bucket/x", "--metric", "auc=1"], 2, "credentials"),
    ],
)
def test_bad_evaluations_change_nothing(world: World, args: list[str], code: int, says: str) -> None:
    holdout = _holdout(world)
    args = [a.replace("HOLDOUT", str(holdout)) for a in args]
    before = refs(world.team.bare)
    r = world.mreg("eval", "add", *args)
    assert r.code == code and says in r.err and "Traceback" not in r.err, r.err
    assert len(r.err.strip().splitlines()) <= 2  # one line, and a hint at most
    assert refs(world.team.bare) == before


def test_show_at_a_time_before_an_evaluation_does_not_have_it(world: World) -> None:
    later = {"GIT_COMMITTER_DATE": "2030-01-01T00:00:00Z", "GIT_AUTHOR_DATE": "2030-01-01T00:00:00Z"}
    r = world.mreg(
        "eval",
        "add",
        "fraud@v1",
        "--dataset",
        f"holdout={_holdout(world)}",
        "--metric",
        "auc=0.88",
        env=later,
    )
    assert r.code == 0, r.err
    assert len(json.loads(world.mreg("show", "fraud@v1", "--json").out)["evaluations"]) == 1
    r = world.mreg("show", "fraud@v1", "--json", "--at", "2029-01-01")
    assert r.code == 0 and json.loads(r.out)["evaluations"] == [], r.err


# -- gates -----------------------------------------------------------------------------------------
def test_a_gate_on_a_dataset_compares_results_on_the_same_bytes_only(world: World) -> None:
    _gate_rules(
        world,
        "{metric: auc, min: 0.85, dataset: holdout}",
        "{metric: auc, not_worse_than: production, dataset: holdout}",
    )
    holdout = _holdout(world)
    # the candidate has no result on holdout yet: a clear failure, not a pass
    r = world.mreg("gate", "fraud@v2", "--to", "production")
    assert r.code == 1 and "no evaluation of the candidate on holdout has auc" in r.out, r.out
    _eval(world, "fraud@v2", f"holdout={holdout}", "auc=0.91")
    # the incumbent (v1) was never evaluated on these bytes: nothing to compare with, said so
    r = world.mreg("gate", "fraud@v2", "--to", "production")
    assert r.code == 1 and "has no result for auc on the same holdout data" in r.out, r.out
    _eval(world, "fraud@v1", f"holdout={holdout}", "auc=0.89")
    r = world.mreg("gate", "fraud@v2", "--to", "production", "--explain")
    assert r.code == 0, r.out + r.err
    assert "delta +0.02" in r.out
    assert (
        "models/fraud/evaluations/2/1.yaml (holdout = file://" in r.out
        and "models/fraud/evaluations/1/1.yaml (holdout" in r.out
    )
    assert ", commit " in r.out

    # the holdout set changes (new bytes, new digest): the candidate's new result is not compared
    # with the incumbent's result on the old bytes
    holdout.write_text("id,label\n1,0\n2,1\n3,1\n")
    _eval(world, "fraud@v2", f"holdout={holdout}", "auc=0.50")
    r = world.mreg("gate", "fraud@v2", "--to", "production", "--json")
    assert r.code == 1, r.out + r.err
    verdicts = {v["rule"]: v for v in json.loads(r.out)["reports"][0]["verdicts"]}
    assert verdicts["auc min on holdout"]["ok"] is False  # the newest result: 0.50
    compared = verdicts["auc not worse than production on holdout"]
    # never the candidate's older result on the old bytes: the incumbent has none on the new ones
    assert compared["ok"] is False and compared["actual"] == "0.5"
    assert "has no result for auc on the same holdout data" in compared["note"]
    assert any("evaluations/2/2.yaml" in s for s in compared["sources"])
    _eval(world, "fraud@production", f"holdout={holdout}", "auc=0.45")  # the incumbent on the new bytes
    r = world.mreg("gate", "fraud@v2", "--to", "production", "--json")
    verdicts = {v["rule"]: v for v in json.loads(r.out)["reports"][0]["verdicts"]}
    compared = verdicts["auc not worse than production on holdout"]
    assert compared["ok"] is True and "delta +0.05" in compared["note"]
    assert any("evaluations/1/2.yaml" in s and "sha256:" in s and "commit " in s for s in compared["sources"])


def test_the_promotion_pull_request_cites_the_records(world: World) -> None:
    _gate_rules(world, "{metric: auc, min: 0.85, dataset: holdout}")
    _eval(world, "fraud@v2", f"holdout={_holdout(world)}", "auc=0.91")
    r = world.mreg("promote", "fraud@v2", "--to", "production", "--reason", "better on holdout")
    assert r.code == 0, r.err
    body = world.team.gh.pulls[max(world.team.gh.pulls)]["body"]
    assert "auc min on holdout" in body and "models/fraud/evaluations/2/1.yaml" in body


# -- what an attacker's record gets ----------------------------------------------------------------------
def _record(world: World, number: int, **changes: object) -> bytes:
    doc = {
        "schema": "mreg/evaluation/v1",
        "model": "fraud",
        "version": number,
        "version_digest": world.mallory.manifest("fraud", number)["digest"],
        "dataset": {"name": "holdout", "uri": "file:///h.csv", "digest": "sha256:" + "ab" * 32},
        "metrics": {"auc": 0.99},
        "created_at": "2026-12-01T00:00:00Z",
        "created_by": EVIL,
    }
    doc.update(changes)
    return yaml.safe_dump(doc).encode()


@pytest.mark.parametrize(
    ("path", "change", "says"),
    [
        ("models/fraud/evaluations/2/1.yaml", {"metrics": {"auc": "great"}}, "invalid evaluation record"),
        (
            "models/fraud/evaluations/2/1.yaml",
            {"version_digest": "sha256:" + "00" * 32},
            "bound to sha256:0000",
        ),
        ("models/fraud/evaluations/2/1.yaml", {"version": 1}, "but its path is fraud@v2's"),
        ("models/fraud/evaluations/2/1.yaml", {"surprise": True}, "invalid evaluation record"),
    ],
)
def test_a_crafted_record_is_refused_by_every_reader_and_by_check(
    world: World, path: str, change: dict, says: str
) -> None:
    mallory = world.mallory
    _gate_rules(world, "{metric: auc, min: 0.95, dataset: holdout}")
    evil = mallory.commit_registry({path: _record(world, 2, **change)}, "evaluate fraud v2 on holdout")
    mallory.push_registry(evil)  # an addition at a record path: the append-only check lets it in
    r = world.mreg("show", "fraud@v2", "--json")
    assert r.code == 0 and json.loads(r.out)["evaluations"] == [] and says in r.err, r.err
    r = world.mreg("gate", "fraud@v2", "--to", "production")
    assert r.code == 1 and "no evaluation of the candidate on holdout" in r.out
    r = world.mreg("check")
    assert r.code == 1 and path in r.out and says in r.out, r.out


def test_a_record_outside_the_evaluations_directory_is_refused_at_fetch(world: World) -> None:
    mallory = world.mallory
    evil = mallory.commit_registry(
        {"models/fraud/evaluations/2.yaml": _record(world, 2)}, "evaluate fraud v2"
    )
    mallory.push_registry(evil)
    r = world.mreg("show", "fraud@v2")
    assert r.code == 5 and "models/fraud/evaluations/2.yaml" in r.err and "Mallory" in r.err, r.err
    fresh = world.fresh()
    r = world.mreg("check", cwd=fresh)
    assert r.code == 1 and "models/fraud/evaluations/2.yaml" in r.out


def test_an_edited_evaluation_breaks_the_append_only_rule(world: World) -> None:
    got = _eval(world, "fraud@v2", f"holdout={_holdout(world)}", "auc=0.80")
    mallory = world.mallory
    evil = mallory.commit_registry(
        {got["path"]: _record(world, 2, metrics={"auc": 0.99})}, "evaluate fraud v2"
    )
    mallory.push_registry(evil)
    r = world.mreg("gate", "fraud@v2", "--to", "production")
    assert r.code == 5 and "modifies" in r.err and got["path"] in r.err, r.err


def test_the_api_records_and_reads_evaluations(world: World) -> None:
    from mreg import Evaluation, Registry

    reg = Registry.open(world.team.repo)
    holdout = _holdout(world)
    e = reg.evaluate(
        "fraud@v2", dataset=("holdout", str(holdout)), metrics={"auc": 0.9, "val": {"f1": 0.7}}, message="nov"
    )
    assert isinstance(e, Evaluation) and e.metrics == {"auc": 0.9, "val.f1": 0.7} and e.message == "nov"
    assert e.commit is not None and e.dataset_identity == e.dataset["digest"]
    assert [x.number for x in reg.evaluations("fraud@v2")] == [1]
    assert reg.show("fraud@v2").evaluations == reg.evaluations("fraud@v2")
    assert reg.resolve("fraud@v2").evaluations is None  # resolve does not read them
    d = reg.diff("fraud@v1", "fraud@v2")
    assert d.evaluations[0]["dataset"] == "holdout" and d.evaluations[0]["comparable"] is False


def test_an_alias_shows_the_evaluations_of_its_version(world: World) -> None:
    """An alias resolves to its tag's registration commit, older than every evaluation: records are
    read where the registry stands (now, or --at), never at that commit."""
    got = _eval(world, "fraud@production", f"holdout={_holdout(world)}", "auc=0.88")
    assert got["ref"] == "fraud@v1"
    listed = json.loads(world.mreg("eval", "list", "fraud@production", "--json").out)
    assert [e["path"] for e in listed] == [got["path"]] and listed[0]["commit"] == got["commit"]
    shown = json.loads(world.mreg("show", "fraud@production", "--json").out)
    assert [e["number"] for e in shown["evaluations"]] == [1]
    d = json.loads(world.mreg("diff", "fraud@production", "fraud@v2", "--json").out)
    assert d["evaluations"][0]["note"] == "only the first version was evaluated on it"


def test_a_gate_at_a_past_time_ignores_later_records(world: World) -> None:
    _gate_rules(world, "{metric: auc, min: 0.95, dataset: holdout}")
    later = {"GIT_COMMITTER_DATE": "2030-01-01T00:00:00Z", "GIT_AUTHOR_DATE": "2030-01-01T00:00:00Z"}
    r = world.mreg(
        "eval",
        "add",
        "fraud@v2",
        "--dataset",
        f"holdout={_holdout(world)}",
        "--metric",
        "auc=0.99",
        env=later,
    )
    assert r.code == 0, r.err
    assert world.mreg("gate", "fraud@v2", "--to", "production").code == 0
    r = world.mreg("gate", "fraud@v2", "--to", "production", "--at", "2029-06-01")
    assert r.code == 1 and "no evaluation of the candidate on holdout" in r.out, r.out


def test_a_planted_record_at_the_last_number_is_refused_before_anything_is_pushed(world: World) -> None:
    """The append-only rule lets a collaborator add a valid record at n = 999,999,999; the next
    writer must not push a path no reader accepts (which would stop every other clone)."""
    mallory = world.mallory
    planted = "models/fraud/evaluations/2/999999999.yaml"
    mallory.push_registry(mallory.commit_registry({planted: _record(world, 2)}, "evaluate fraud v2"))
    before = refs(world.team.bare)
    r = world.mreg("eval", "add", "fraud@v2", "--dataset", f"h={_holdout(world)}", "--metric", "auc=0.9")
    assert r.code == 5 and planted in r.err and "no record number is left" in r.err, r.err
    assert refs(world.team.bare) == before
    mallory.push_registry(
        mallory.commit_registry(
            {
                "models/fraud/versions/999999999.yaml": dump_manifest(
                    dict(mallory.manifest("fraud", 2), version=999999999)
                )
            },
            "register fraud v999999999",
        )
    )
    before = refs(world.team.bare)
    r = world.team.mreg("register", "fraud", str(_holdout(world)))
    assert r.code == 5 and "no version number is left" in r.err, r.err
    assert refs(world.team.bare) == before
    assert world.mreg("list").code == 0  # everybody else still reads the registry


def test_one_evaluation_is_on_one_dataset(world: World) -> None:
    h = _holdout(world)
    r = world.mreg(
        "eval", "add", "fraud@v2", "--dataset", f"a={h}", "--dataset", f"b={h}", "--metric", "auc=1"
    )
    assert r.code == 2 and "--dataset given 2 times" in r.err, r.err

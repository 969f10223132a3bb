"""SPEC §1, §3a: the guarantees hold against a collaborator who may register but is not a reviewer.

Each test scripts one attack with real git: a bare remote, Mallory's clone (plain git, pushing what
mreg never writes), the maintainer's clone and, where it matters, a fresh clone with no verified
anchor (a new deploy machine). The maintainer gets the reviewed bytes or a clear refusal (exit 5),
never Mallory's, and `mreg check` fails naming the problem.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from testing.attacker import forged_record, swap_weights
from testing.fake_github import branch_sha, push_files, show
from testing.gitutil import refs, run_mreg
from testing.world import WORLD_V1, WORLD_V2, World

pytestmark = pytest.mark.github

V1, V2 = WORLD_V1, WORLD_V2


def _pulled(path: Path) -> bytes:
    return (path / "weights.bin").read_bytes()


# -- 1. an edited manifest never ships, even through a reviewed PR ---------------------------------
@pytest.mark.slow
def test_an_edited_manifest_does_not_ship_through_the_reviewed_pull_request(world: World) -> None:
    team, mallory = world.team, world.mallory
    assert team.mreg("promote", "fraud@v2", "--to", "production", "--reason", "better auc").code == 0
    pr = max(team.gh.pulls)
    assert world.mallory_registers() == "fraud@v3"
    forged = swap_weights(mallory.manifest("fraud", 2), mallory.manifest("fraud", 3), auc=0.99)
    evil = mallory.commit_registry({"models/fraud/versions/2.yaml": forged}, "register fraud v4")
    mallory.push_registry(evil)  # an ordinary fast-forward push
    team.gh.merge(pr)  # the reviewers approved v2 as it was registered
    tags = refs(team.bare, "refs/tags/")

    r = world.mreg("apply")
    assert r.code == 5
    assert (
        evil[:12] in r.err
        and "Mallory <mallory@example.com>" in r.err
        and "models/fraud/versions/2.yaml" in r.err
    )
    assert "modifies" in r.err and "Traceback" not in r.err
    assert refs(team.bare, "refs/tags/") == tags
    out = world.tmp / "deploy"
    r = world.mreg("pull", "fraud@production", "-o", str(out))
    assert r.code == 5 and not out.exists()
    r = world.mreg("pull", "fraud@production", "-o", str(out), "--offline")  # what this clone verified
    assert r.code == 0, r.err
    assert _pulled(out) == world.weights(1)
    r = world.mreg("check")
    assert r.code == 1 and evil[:12] in r.out and "modifies" in r.out
    r = world.mreg("log", "fraud", "--offline")
    assert "register v4" not in r.out and "register v2" in r.out

    # Mallory rewrites the branch instead (where the host allows a force-push): a straight line of
    # registrations with her v2. A new deploy machine has no anchor to compare with; the digest the
    # reviewers pinned is what stops it.
    rewritten = mallory.commit_registry(
        {"models/fraud/versions/2.yaml": forged}, "register fraud v2", base=f"{evil}~3"
    )
    mallory.push_registry(rewritten, force=True)
    fresh = world.fresh()
    r = world.mreg("apply", cwd=fresh)
    assert r.code == 5 and "digest" in r.err and "no tag created" in r.err
    assert refs(team.bare, "refs/tags/") == tags
    out2 = world.tmp / "deploy2"
    r = world.mreg("pull", "fraud@production", "-o", str(out2), cwd=fresh)
    assert r.code == 0, r.err
    assert _pulled(out2) == world.weights(1)  # still the reviewed v1: v2's approval is not applied
    assert "not yet applied" in r.err
    r = world.mreg("check", cwd=fresh)
    assert r.code == 1 and "pins fraud@v2 at digest" in r.out


# -- 2. gc and verify cover history ----------------------------------------------------------------
@pytest.mark.slow
def test_gc_keeps_the_bytes_of_a_removed_manifest_and_verify_covers_them(world: World) -> None:
    mallory = world.mallory
    evil = mallory.commit_registry({"models/fraud/versions/1.yaml": None}, "tidy up")
    mallory.push_registry(evil)
    store = world.tmp / "shared-store"
    before = sorted(p.name for p in store.rglob("*") if p.is_file())
    r = world.mreg("gc", "--grace", "0s")
    assert r.code == 5 and "deletes" in r.err and evil[:12] in r.err
    fresh = world.fresh()  # no anchor: the history has more commits than files, so every commit is checked
    r = world.mreg("gc", "--grace", "0s", cwd=fresh)
    assert r.code == 5 and "deletes" in r.err
    r = world.mreg("gc", "--grace", "0s", "--offline")  # what the maintainer verified
    assert r.code == 0, r.err
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == before  # v1's weights are still there
    r = world.mreg("verify", "--json", "--offline")
    assert r.code == 0, r.err
    r = world.mreg("pull", "fraud@production", "-o", str(world.tmp / "out"), "--offline")
    assert r.code == 0 and _pulled(world.tmp / "out") == world.weights(1)
    r = world.mreg("check", cwd=fresh)
    assert r.code == 1 and "deletes 'models/fraud/versions/1.yaml'" in r.out


# -- 3. forged and unreviewed tags are never followed ----------------------------------------------
@pytest.mark.slow
def test_a_forged_production_tag_on_a_model_without_a_policy_is_refused(world: World) -> None:
    mallory = world.mallory
    assert world.mallory_registers("churn") == "churn@v1"
    mallory.fetch()
    mallory.tag(
        "mreg/churn/production/1",
        "origin/mreg/registry",
        forged_record(
            "churn",
            "production",
            1,
            mallory.manifest("churn", 1)["digest"],
            reason="approved",
            request="https://github.example/acme/models/pull/9",
        ),
    )
    r = world.mreg("resolve", "churn@production")
    assert r.code == 5
    assert "mreg/churn/production/1" in r.err and "Mallory" in r.err and "refusing" in r.err
    r = world.mreg("resolve", "churn@production", "--allow-unreviewed")
    assert r.code == 0 and r.out.strip() == "churn@v1" and "UNREVIEWED" in r.err
    r = world.mreg("check")
    assert r.code == 1 and "churn@production" in r.out and "mreg/churn/production/1" in r.out
    r = world.mreg("log", "churn")
    assert "UNREVIEWED promote production" in r.out and "(claimed) approved" in r.out
    r = world.mreg("list")
    assert "production=UNREVIEWED" in r.out


@pytest.mark.slow
def test_a_forged_tag_on_a_governed_model_is_refused_then_apply_restores_the_pin(world: World) -> None:
    mallory = world.mallory
    mallory.fetch()
    digest = mallory.manifest("fraud", 2)["digest"]
    mallory.tag(
        "mreg/fraud/production/2",
        "origin/mreg/registry",
        forged_record(
            "fraud",
            "production",
            2,
            digest,
            reason="hotfix",
            request="https://github.example/acme/models/pull/7",
        ),
    )
    r = world.mreg("pull", "fraud@production", "-o", str(world.tmp / "out"))
    assert (
        r.code == 5 and "mreg/fraud/production/2" in r.err and "last backed: mreg/fraud/production/1" in r.err
    )
    assert not (world.tmp / "out").exists()
    r = world.mreg("log", "fraud", "--alias", "production")
    row = next(line for line in r.out.splitlines() if "-> v2" in line)
    assert "UNREVIEWED" in row and "(claimed) https://github.example/acme/models/pull/7" in row
    r = world.mreg("check")
    assert r.code == 1 and "mreg/fraud/production/2" in r.out
    r = world.mreg("apply")
    assert r.code == 0 and "applied fraud@production -> v1 [mreg/fraud/production/3]" in r.out
    r = world.mreg("pull", "fraud@production", "-o", str(world.tmp / "out"))
    assert r.code == 0 and _pulled(world.tmp / "out") == world.weights(1)
    assert world.mreg("check").code == 0


def test_no_review_is_refused_in_a_registry_with_a_remote(world: World) -> None:
    before = (refs(world.team.bare, "refs/tags/"), branch_sha(world.team.bare, "mreg/aliases"))
    r = world.mreg("promote", "fraud@v2", "--to", "production", "--no-review")
    assert r.code == 2 and "allow_unreviewed" in r.err
    assert (refs(world.team.bare, "refs/tags/"), branch_sha(world.team.bare, "mreg/aliases")) == before


@pytest.mark.slow
@pytest.mark.parametrize("alias", ["staging", "production"])
def test_a_tag_on_a_commit_off_the_registry_history_is_refused(world: World, alias: str) -> None:
    mallory = world.mallory
    assert world.mallory_registers() == "fraud@v3"
    m1 = mallory.manifest("fraud", 1)
    forged = swap_weights(m1, mallory.manifest("fraud", 3))
    side = mallory.commit_registry(
        {"models/fraud/versions/1.yaml": forged}, "register fraud v1", base="origin/mreg/registry~1"
    )
    digest = yaml.safe_load(forged)["digest"]
    seq = 2 if alias == "production" else 1
    mallory.tag(
        f"mreg/fraud/{alias}/{seq}", side, forged_record("fraud", alias, 1, digest, reason="", request="")
    )
    r = world.mreg("pull", f"fraud@{alias}", "-o", str(world.tmp / "out"), "--allow-unreviewed")
    assert r.code == 5 and "not in the verified history" in r.err
    assert not (world.tmp / "out").exists()
    r = world.mreg("show", "fraud@v1", "--json")
    assert r.code == 0 and yaml.safe_load(r.out)["manifest"]["digest"] == m1["digest"]
    r = world.mreg("check")
    assert r.code == 1 and f"mreg/fraud/{alias}/{seq}" in r.out


# -- 4. a force-push is never blessed by a read ----------------------------------------------------
@pytest.mark.slow
def test_a_force_pushed_registry_is_refused_and_never_republished(world: World) -> None:
    team, mallory = world.team, world.mallory
    assert world.mallory_registers() == "fraud@v3"
    m2 = mallory.manifest("fraud", 2)
    forged = swap_weights(m2, mallory.manifest("fraud", 3), auc=0.99)
    # rewrite: v2's registration replaced by one holding Mallory's weights, history otherwise alike
    rewritten = mallory.commit_registry(
        {"models/fraud/versions/2.yaml": forged}, "register fraud v2", base="origin/mreg/registry~2"
    )
    mallory.push_registry(rewritten, force=True)
    r = world.mreg("list")
    assert r.code == 5 and "was rewritten" in r.err and rewritten[:12] in r.err and "Mallory" in r.err
    assert "published" not in r.err
    assert branch_sha(team.bare, "mreg/registry") == rewritten  # nothing was pushed back on a read
    r = world.mreg("pull", "fraud@v2", "-o", str(world.tmp / "out"))
    assert r.code == 5
    r = world.mreg("register", "fraud", str(world.tmp / "model-0"))  # writes refuse too
    assert r.code == 5 and branch_sha(team.bare, "mreg/registry") == rewritten
    r = world.mreg("check")
    assert r.code == 1 and "was rewritten" in r.out
    r = world.mreg("pull", "fraud@v2", "-o", str(world.tmp / "out"), "--offline")
    assert r.code == 0 and _pulled(world.tmp / "out") == world.weights(2)


# -- 5. canonical, annotated tags only -------------------------------------------------------------
@pytest.mark.slow
def test_non_canonical_and_lightweight_tags_are_ignored_and_flagged(world: World) -> None:
    mallory = world.mallory
    assert world.mreg("promote", "fraud@v1", "--to", "staging").code == 0
    mallory.fetch()
    digest = mallory.manifest("fraud", 2)["digest"]
    mallory.tag(
        "mreg/fraud/staging/003",
        "origin/mreg/registry",
        forged_record("fraud", "staging", 2, digest, reason="", request=""),
    )
    mallory.tag("mreg/fraud/staging/4", "origin/mreg/registry", "", lightweight=True)
    mallory.tag(
        "mreg/fraud/staging/²",
        "origin/mreg/registry",
        forged_record("fraud", "staging", 2, digest, reason="", request=""),
    )
    r = world.mreg("resolve", "fraud@staging")
    assert r.code == 0 and r.out.strip() == "fraud@v1"
    r = world.mreg("check")
    assert r.code == 1
    assert "mreg/fraud/staging/003 has a non-canonical seq" in r.out
    assert "mreg/fraud/staging/4 is a lightweight tag" in r.out
    r = world.mreg("list")
    assert r.code == 0 and "staging=v1" in r.out


# -- the deliberate ways around review stay backed and visible ------------------------------------
@pytest.mark.slow
def test_no_review_without_a_remote_pins_locally_and_is_backed(repo: Path, model_dir: Path) -> None:
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    r = run_mreg(
        "promote", "fraud@v1", "--to", "production", "--no-review", "--reason", "first model", cwd=repo
    )
    assert r.code == 0, r.err
    policy = yaml.safe_load(
        subprocess.run(
            ["git", "show", "mreg/aliases:models/fraud.yaml"], cwd=repo, capture_output=True, text=True
        ).stdout
    )
    assert policy["aliases"]["production"]["version"] == 1 and policy["aliases"]["production"][
        "digest"
    ].startswith("sha256:")
    assert run_mreg("resolve", "fraud@production", cwd=repo).out.strip() == "fraud@v1"
    assert run_mreg("check", cwd=repo).code == 0
    r = run_mreg("log", "fraud", cwd=repo)
    assert "UNREVIEWED" not in r.out and "first model (unreviewed: --no-review)" in r.out


@pytest.mark.slow
def test_allow_unreviewed_lets_an_owner_move_production_and_records_it(world: World) -> None:
    team = world.team
    config = show(team.bare, "mreg/aliases:mreg.yaml")
    push_files(
        team.bare, "mreg/aliases", {"mreg.yaml": config + "allow_unreviewed: true\n"}, "allow emergency moves"
    )
    r = world.mreg("promote", "fraud@v2", "--to", "production", "--no-review", "--reason", "pager")
    assert r.code == 0, r.err
    policy = yaml.safe_load(show(team.bare, "mreg/aliases:models/fraud.yaml"))
    assert policy["aliases"]["production"]["version"] == 2
    assert "gates" in policy  # the rest of the policy is kept
    assert world.mreg("resolve", "fraud@production").out.strip() == "fraud@v2"
    r = world.mreg("apply")
    assert r.code == 0 and "nothing to apply" in r.out
    assert world.mreg("check").code == 0
    assert "pager (unreviewed: --no-review)" in world.mreg("log", "fraud").out


def test_an_old_version_only_pin_keeps_working_and_check_asks_for_a_digest(world: World) -> None:
    team = world.team
    policy = yaml.safe_load(show(team.bare, "mreg/aliases:models/fraud.yaml"))
    policy["aliases"]["production"] = 1
    push_files(team.bare, "mreg/aliases", {"models/fraud.yaml": yaml.safe_dump(policy)}, "old-style pin")
    assert world.mreg("resolve", "fraud@production").out.strip() == "fraud@v1"
    r = world.mreg("check")
    assert r.code == 0, r.out
    assert "warning:" in r.out and "pin its digest too" in r.out


# -- signed approvals (SPEC §3a.4) -----------------------------------------------------------------
def _require_ssh_signatures(world: World) -> None:
    """A reviewed change lists the CI key as the only signer; the maintainer's clone signs with it."""
    team = world.team
    key = world.tmp / "ci-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(key)], check=True)
    public = (world.tmp / "ci-key.pub").read_text().split()
    config = yaml.safe_load(show(team.bare, "mreg/aliases:mreg.yaml"))
    config["signers"] = [f"ci@acme {public[0]} {public[1]}"]
    push_files(team.bare, "mreg/aliases", {"mreg.yaml": yaml.safe_dump(config)}, "require signed approvals")
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(key))):
        subprocess.run(["git", "config", k, v], cwd=team.repo, check=True)


@pytest.mark.slow
def test_with_signers_only_a_tag_signed_by_a_listed_key_is_backed(world: World) -> None:
    team, mallory = world.team, world.mallory
    _require_ssh_signatures(world)
    # the production tag made before signing was required is no longer enough
    r = world.mreg("resolve", "fraud@production")
    assert r.code == 5 and "not signed by a signer" in r.err
    assert world.mreg("promote", "fraud@v2", "--to", "production").code == 0
    team.gh.merge(max(team.gh.pulls))
    r = world.mreg("apply", "--sign")
    assert r.code == 0, r.err
    assert world.mreg("resolve", "fraud@production").out.strip() == "fraud@v2"
    assert "signed" in world.mreg("log", "fraud", "--alias", "production").out
    # Mallory can copy the approved value into a tag of her own, but not the signature
    mallory.fetch()
    digest = mallory.manifest("fraud", 2)["digest"]
    seq = max(int(t.rsplit("/", 1)[1]) for t in refs(team.bare, "refs/tags/mreg/fraud/production/")) + 1
    mallory.tag(
        f"mreg/fraud/production/{seq}",
        "origin/mreg/registry",
        forged_record("fraud", "production", 2, digest, reason="", request=""),
    )
    r = world.mreg("resolve", "fraud@production")
    assert r.code == 5 and "not signed by a signer" in r.err


def test_tags_point_at_the_registration_commit(world: World) -> None:
    team = world.team
    assert world.mreg("promote", "fraud@v1", "--to", "staging").code == 0
    added = subprocess.run(
        [
            "git",
            "log",
            "--format=%H",
            "--diff-filter=A",
            "mreg/registry",
            "--",
            "models/fraud/versions/1.yaml",
        ],
        cwd=team.bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for tag in ("mreg/fraud/production/1", "mreg/fraud/staging/1"):
        target = subprocess.run(
            ["git", "rev-parse", f"{tag}^{{commit}}"],
            cwd=team.bare,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert [target] == added, tag  # never a later tip: no later commit can change what it means
    message = show(team.bare, "mreg/fraud/production/1")
    governed = subprocess.run(
        ["git", "log", "-1", "--format=%H", "mreg/aliases"], cwd=team.bare, capture_output=True, text=True
    ).stdout.strip()
    assert f'governed: "{governed}"' in message and "\nat: " in message


def test_gc_and_verify_report_an_invalid_manifest_and_go_on(world: World) -> None:
    mallory = world.mallory
    evil = mallory.commit_registry(
        {"models/fraud/versions/3.yaml": b"schema: mreg/manifest/v1\nmodel: [broken\n"}, "register fraud v3"
    )
    mallory.push_registry(evil)  # an addition in the right place: the history check lets it in
    store = world.tmp / "shared-store"
    before = sorted(p.name for p in store.rglob("*") if p.is_file())
    r = world.mreg("gc", "--grace", "0s")
    assert r.code == 0, r.err
    assert "skipped an invalid manifest" in r.err and "models/fraud/versions/3.yaml" in r.err
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == before
    r = world.mreg("verify")
    assert r.code == 0 and "skipped an invalid manifest" in r.err
    r = world.mreg("check")
    assert r.code == 1 and "versions/3.yaml" in r.out


# -- found by an attack session against the first version of these guarantees ----------------------
@pytest.mark.slow
def test_a_forged_tag_repeating_the_previous_pin_after_it_was_replaced_is_refused(world: World) -> None:
    team, mallory = world.team, world.mallory
    team.approve("fraud@v2")  # production: v1 (seq 1), then v2 (seq 2), both applied
    mallory.fetch()
    m1 = mallory.manifest("fraud", 1)
    target = mallory.git("rev-parse", "mreg/fraud/production/1^{commit}")
    mallory.tag(
        "mreg/fraud/production/3",
        target,
        forged_record("fraud", "production", 1, m1["digest"], reason="hotfix", request=""),
    )
    r = world.mreg("pull", "fraud@production", "-o", str(world.tmp / "out"))
    assert r.code == 5 and "mreg/fraud/production/3" in r.err and "applied already" in r.err
    r = world.mreg("check")
    assert r.code == 1 and "mreg/fraud/production/3" in r.out
    assert "UNREVIEWED" in world.mreg("log", "fraud", "--alias", "production").out


@pytest.mark.slow
def test_a_tree_listing_a_registered_manifest_twice_is_refused(world: World) -> None:
    mallory = world.mallory
    assert world.mallory_registers() == "fraud@v3"
    evil = swap_weights(mallory.manifest("fraud", 1), mallory.manifest("fraud", 3))
    g = mallory.git
    g("checkout", "--quiet", "-B", "dup", "origin/mreg/registry")
    blob = g("hash-object", "-w", "--stdin", input=evil.decode())
    versions = g(
        "mktree", input=g("ls-tree", "HEAD:models/fraud/versions") + f"\n100644 blob {blob}\t1.yaml\n"
    )
    fraud = g("mktree", input=f"040000 tree {versions}\tversions\n")
    models = g(
        "mktree",
        input="".join(
            line + "\n" for line in g("ls-tree", "HEAD:models").splitlines() if not line.endswith("\tfraud")
        )
        + f"040000 tree {fraud}\tfraud\n",
    )
    root = g(
        "mktree",
        input="".join(
            line + "\n" for line in g("ls-tree", "HEAD").splitlines() if not line.endswith("\tmodels")
        )
        + f"040000 tree {models}\tmodels\n",
    )
    commit = g("commit-tree", root, "-p", "HEAD", "-m", "register fraud v1")
    mallory.push_registry(commit)
    r = world.mreg("list")
    assert r.code == 5 and "second entry" in r.err and commit[:12] in r.err
    fresh = world.fresh()
    r = world.mreg("pull", "fraud@v1", "-o", str(world.tmp / "o"), cwd=fresh)
    assert r.code == 5 and "two entries" in r.err
    assert world.mreg("check").code == 1


def test_a_fresh_clone_refuses_a_delete_then_re_add(world: World) -> None:
    mallory = world.mallory
    assert world.mallory_registers() == "fraud@v3"
    evil = swap_weights(mallory.manifest("fraud", 1), mallory.manifest("fraud", 3))
    mallory.push_registry(mallory.commit_registry({"models/fraud/versions/1.yaml": None}, "cleanup"))
    readd = mallory.commit_registry({"models/fraud/versions/1.yaml": evil}, "register fraud v1")
    mallory.push_registry(readd)
    fresh = world.fresh()
    r = world.mreg("pull", "fraud@v1", "-o", str(world.tmp / "o"), cwd=fresh)
    assert r.code == 5 and "deletes" in r.err and not (world.tmp / "o").exists()
    r = world.mreg("pull", "fraud@v1", "-o", str(world.tmp / "o"), "--registry", str(world.team.bare))
    assert r.code == 5


def test_gc_refuses_when_the_registry_no_longer_holds_what_is_pinned(world: World) -> None:
    mallory = world.mallory
    g = mallory.git
    g("checkout", "--quiet", "--orphan", "new-root")
    g("rm", "-rqf", "--ignore-unmatch", ".")
    (mallory.work / "README.md").write_text("x\n")
    g("add", "README.md")
    g("commit", "--quiet", "-m", "init mreg registry")
    mallory.push_registry(g("rev-parse", "HEAD"), force=True)
    g("push", "--quiet", "origin", ":refs/tags/mreg/fraud/production/1")
    store = world.tmp / "shared-store"
    before = sorted(p.name for p in store.rglob("*") if p.is_file())
    fresh = world.fresh()
    r = world.mreg("gc", "--grace", "0s", cwd=fresh)
    assert r.code == 5 and "refusing to collect garbage" in r.err and "fraud@production" in r.err
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == before


@pytest.mark.slow
def test_far_future_dates_and_odd_tags_do_not_crash_or_count(world: World) -> None:
    mallory = world.mallory
    mallory.fetch()
    digest = mallory.manifest("fraud", 2)["digest"]
    target = mallory.git("rev-parse", "origin/mreg/registry")
    record = forged_record("fraud", "staging", 2, digest, reason="", request="")
    body = f"object {target}\ntype commit\ntag mreg/fraud/staging/1\ntagger M <m@x> 300000000000 +0000\n\n{record}"
    obj = mallory.git("mktag", input=body)
    mallory.git("push", "--quiet", "origin", f"{obj}:refs/tags/mreg/fraud/staging/1")
    mallory.tag("mreg/fraud/PROD/1", target, forged_record("fraud", "PROD", 2, digest, reason="", request=""))
    outer = mallory.git(
        "mktag", input=f"object {obj}\ntype tag\ntag mreg/fraud/canary/1\ntagger M <m@x> 1 +0000\n\n{record}"
    )
    mallory.git("push", "--quiet", "origin", f"{outer}:refs/tags/mreg/fraud/canary/1")
    for args in (("log", "fraud"), ("log", "fraud", "--json"), ("list",), ("show", "fraud@staging")):
        r = world.mreg(*args)
        assert r.code == 0 and "Traceback" not in r.err, (args, r.err)
    assert world.mreg("resolve", "fraud@canary").code == 3
    r = world.mreg("check")
    assert "mreg/fraud/PROD/1 does not name a valid model and alias" in r.out
    assert "mreg/fraud/canary/1 does not point at a commit" in r.out


@pytest.mark.slow
def test_a_signed_tag_replayed_under_another_name_is_ignored(world: World) -> None:
    team, mallory = world.team, world.mallory
    _require_ssh_signatures(world)
    assert world.mreg("rollback", "fraud@production").code == 3  # nothing to roll back to yet
    team.approve("fraud@v2")  # unsigned apply: refused as current
    team.gh.requests.clear()
    assert world.mreg("promote", "fraud@v1", "--to", "production").code == 0
    team.gh.merge(max(team.gh.pulls))
    assert world.mreg("apply", "--sign").code == 0  # seq 3: v1, signed
    assert world.mreg("promote", "fraud@v2", "--to", "production").code == 0
    team.gh.merge(max(team.gh.pulls))
    assert world.mreg("apply", "--sign").code == 0  # seq 4: v2, signed
    mallory.fetch()
    signed_v1 = mallory.git("rev-parse", "mreg/fraud/production/3")
    mallory.git("push", "--quiet", "origin", f"{signed_v1}:refs/tags/mreg/fraud/production/5")
    r = world.mreg("resolve", "fraud@production")
    assert r.code == 0 and r.out.strip() == "fraud@v2"
    r = world.mreg("check")
    assert r.code == 1 and "mreg/fraud/production/5 is a tag object named 'mreg/fraud/production/3'" in r.out


# -- list reads only each alias's newest tag (issue 14): the attacker's top tag changes nothing ------
def test_list_reads_the_newest_tag_only_and_falls_back_like_resolve(world: World) -> None:
    """`list` reads one tag per alias; where the newest is no record, it reads the alias's other tags,
    so what it shows is exactly what `resolve` follows — never the attacker's tag."""
    team, mallory = world.team, world.mallory
    assert team.mreg("promote", "fraud@v2", "--to", "staging").code == 0  # staging/1 -> v2
    assert team.mreg("promote", "fraud@v1", "--to", "canary").code == 0  # canary/1 -> v1
    mallory.fetch()
    registered = mallory.git("rev-parse", "origin/mreg/registry")
    digest1 = mallory.manifest("fraud", 1)["digest"]
    # staging: a lightweight tag, then a record too big to be one, on top of the team's tag
    mallory.tag("mreg/fraud/staging/2", registered, "", lightweight=True)
    huge = forged_record("fraud", "staging", 1, digest1, reason="x" * 70_000, request="")
    mallory.tag("mreg/fraud/staging/3", registered, huge)
    # canary: a well-formed record whose commit is not in the registry's history
    orphan = mallory.git("commit-tree", mallory.git("rev-parse", f"{registered}^{{tree}}"), "-m", "orphan")
    mallory.tag(
        "mreg/fraud/canary/2", orphan, forged_record("fraud", "canary", 1, digest1, reason="", request="")
    )

    r = r_list = world.mreg("list", "--json")
    assert r.code == 0, r.err
    (row,) = [m for m in json.loads(r.out) if m["model"] == "fraud"]
    assert row["aliases"].get("staging") == 2  # seq 1: the newest readable record
    assert "canary" not in row["aliases"] and row["unreviewed"]["canary"] == "mreg/fraud/canary/2"
    assert world.mreg("resolve", "fraud@staging").out.strip() == "fraud@v2"
    assert world.mreg("resolve", "fraud@canary").code == 5
    r = world.mreg("log", "fraud", "--alias", "canary", "--json")
    assert r.code == 0, r.err
    assert [(e["seq"], e["reviewed"]) for e in json.loads(r.out)] == [(1, True), (2, False)]
    # What each tag's commit holds is remembered per clone; a damaged memo is asked of git again
    memo = team.repo / ".git" / "mreg" / "at-commit" / "fraud"
    assert orphan in memo.read_text()
    memo.write_text(f"{orphan} 1\n{orphan} 1 zz\n\0garbage\n")
    again = world.mreg("list", "--json")
    assert again.code == 0 and json.loads(again.out) == json.loads(r_list.out)


def test_a_fresh_clone_refuses_an_edit_that_rides_with_an_addition(world: World) -> None:
    """One commit edits a registered manifest and adds a new one: the tip is all records and the
    history has as many commits as files, so only a per-commit pass sees the edit. A fresh clone and
    a --registry cache (a deploy machine) run it: exit 5 naming the commit, never the swapped bytes."""
    mallory = world.mallory
    forged = swap_weights(mallory.manifest("fraud", 2), mallory.manifest("fraud", 1), auc=0.99)
    third = dict(mallory.manifest("fraud", 2), version=3)
    from mreg.manifest import dump_manifest

    evil = mallory.commit_registry(
        {"models/fraud/versions/2.yaml": forged, "models/fraud/versions/3.yaml": dump_manifest(third)},
        "register fraud v3",
    )
    mallory.push_registry(evil)
    fresh = world.fresh()
    r = world.mreg("show", "fraud@v2", cwd=fresh)
    assert r.code == 5 and evil[:12] in r.err and "modifies" in r.err, r.err
    out = world.tmp / "deploy"
    r = world.mreg("pull", "fraud@v2", "--registry", str(world.team.bare), "-o", str(out), cwd=world.tmp)
    assert r.code == 5 and not out.exists(), r.err

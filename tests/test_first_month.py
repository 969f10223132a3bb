"""What a team hits in its first month (issue 12), each run as a user would: the CLI against real
repositories, a bare remote and the GitHub stand-in."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from mreg import Registry
from testing.fake_github import push_files, show
from testing.gitutil import clone, refs, run_mreg
from testing.team import Team


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


# -- aliases and review ------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.github
def test_a_checked_out_governed_branch_is_never_moved(team: Team, tmp_path: Path) -> None:
    team.register({"auc": 0.9, "latency_ms": 10})
    config = show(team.bare, "mreg/aliases:mreg.yaml")
    push_files(team.bare, "mreg/aliases", {"mreg.yaml": config + "allow_unreviewed: true\n"}, "allow")
    assert team.mreg("list").code == 0  # fetched while nobody has the branch checked out
    gov = tmp_path / "gov"
    _git(team.repo, "worktree", "add", "--quiet", str(gov), "mreg/aliases")
    before = _git(team.repo, "rev-parse", "refs/heads/mreg/aliases")
    assert team.mreg("promote", "fraud@v1", "--to", "production").code == 0
    team.gh.merge(1)
    r = team.mreg("apply")
    assert r.code == 0 and "is checked out in" in r.err and "merge --ff-only" in r.err
    assert _git(team.repo, "rev-parse", "refs/heads/mreg/aliases") == before
    assert _git(gov, "status", "--porcelain") == ""  # nothing shows as staged in that checkout
    r = team.mreg("promote", "fraud@v1", "--to", "production", "--no-review")
    assert r.code == 4 and "checked out" in r.err


@pytest.mark.slow
def test_rollback_walks_back_and_never_flips_forward(repo: Path, model_dir: Path) -> None:
    for _ in range(3):
        (model_dir / "weights.bin").write_bytes((model_dir / "weights.bin").read_bytes() + b"x")
        assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    for v in (1, 2, 3):
        assert run_mreg("promote", f"fraud@v{v}", "--to", "staging", cwd=repo).code == 0
    seen = []
    for _ in range(2):
        assert run_mreg("rollback", "fraud@staging", cwd=repo).code == 0
        seen.append(run_mreg("resolve", "fraud@staging", cwd=repo).out.strip())
    assert seen == ["fraud@v2", "fraud@v1"]
    r = run_mreg("rollback", "fraud@staging", cwd=repo)
    assert r.code == 3 and "no earlier version" in r.err  # not back to v2 or v3


@pytest.mark.slow
@pytest.mark.github
def test_a_reviewed_rollback_is_not_gated_against_the_version_it_replaces(team: Team) -> None:
    team.register({"auc": 0.90, "latency_ms": 20})
    team.register({"auc": 0.95, "latency_ms": 20})
    team.approve("fraud@v1")
    team.approve("fraud@v2")
    base = _git(team.bare, "rev-parse", "mreg/aliases")
    r = team.mreg("rollback", "fraud@production", "--reason", "incident")
    assert r.code == 0, r.err
    head = _git(team.bare, "rev-parse", "mreg/promote/fraud/production/v1")
    team.mreg("check")
    r = team.mreg("gate", "--changed", "--base", base, "--head", head)
    assert r.code == 0, r.out  # v1's auc is worse than v2's: not_worse_than does not apply to going back
    assert "not worse than" not in r.out
    assert ">= 0.85" in r.out


@pytest.mark.slow
def test_log_orders_by_seq_within_an_alias_and_shows_messages(repo: Path, model_dir: Path) -> None:
    assert run_mreg("register", "fraud", str(model_dir), "-m", "first cut", cwd=repo).code == 0
    (model_dir / "weights.bin").write_bytes(b"2")
    assert run_mreg("register", "fraud", str(model_dir), "-m", "second cut", cwd=repo).code == 0
    env_late = {"GIT_COMMITTER_DATE": "2030-01-01T00:00:00Z"}  # a teammate's clock runs years ahead
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=repo, env=env_late).code == 0
    assert run_mreg("promote", "fraud@v2", "--to", "staging", cwd=repo).code == 0
    r = run_mreg("log", "fraud", "--json", cwd=repo)
    entries = json.loads(r.out)
    staging = [e["seq"] for e in entries if e["alias"] == "staging"]
    assert staging == [1, 2]
    assert len({frozenset(e) for e in entries}) == 1  # the same keys for registrations and moves
    assert [e["reason"] for e in entries if e["event"] == "register"] == ["first cut", "second cut"]
    assert "second cut" in run_mreg("log", "fraud", cwd=repo).out


@pytest.mark.slow
@pytest.mark.github
def test_review_without_github_says_what_to_do_next(team: Team) -> None:
    team.register({"auc": 0.9, "latency_ms": 1})
    env = {"GITHUB_REPOSITORY": "", "GITHUB_API_URL": "", "GH_TOKEN": "", "GITHUB_TOKEN": ""}
    r = run_mreg("promote", "fraud@v1", "--to", "production", cwd=team.repo, env=env)
    assert r.code == 0
    assert (
        "next: open a merge request from branch mreg/promote/fraud/production/v1 into mreg/aliases" in r.out
    )
    assert "mreg apply" in r.out


# -- stores and inputs -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("store", "code", "needle"),
    [
        ("s3:/bucket/x", 2, "not a URL"),
        ("relative/dir", 2, "absolute path"),
        ("file://host/x", 2, "absolute path"),
        ("ftp://nowhere.invalid/x", 6, "unreachable"),
    ],
)
def test_init_checks_the_store_before_recording_it(repo: Path, store: str, code: int, needle: str) -> None:
    before = refs(repo)
    r = run_mreg("init", "--store", store, cwd=repo)
    assert r.code == code and needle in r.err
    assert refs(repo) == before


@pytest.mark.github
def test_register_with_a_remote_and_no_shared_store_warns(team: Team, tmp_path: Path) -> None:
    d = tmp_path / "w"
    d.mkdir()
    (d / "w.bin").write_bytes(b"1")
    r = run_mreg("register", "fraud", str(d), cwd=team.repo)
    assert r.code == 0 and "only in this clone's private store" in r.err


def test_symlinks_inside_are_followed_and_the_rest_refused(repo: Path, tmp_path: Path) -> None:
    m = tmp_path / "m"
    (m / "tok-v2").mkdir(parents=True)
    (m / "tok-v2" / "vocab.txt").write_text("a b\n")
    (m / "tokenizer").symlink_to("tok-v2")
    (m / "w.bin").write_bytes(b"w")
    assert run_mreg("register", "fraud", str(m), cwd=repo).code == 0
    paths = {
        a["path"]
        for a in yaml.safe_load(_git(repo, "show", "mreg/registry:models/fraud/versions/1.yaml"))["artifacts"]
    }
    assert "tokenizer/vocab.txt" in paths
    (m / "secrets").symlink_to(Path.home())
    r = run_mreg("register", "fraud", str(m), cwd=repo)
    assert r.code == 2 and "outside" in r.err
    (m / "secrets").unlink()
    (m / "gone").symlink_to("nowhere")
    assert run_mreg("register", "fraud", str(m), cwd=repo).code == 2
    (m / "gone").unlink()
    (m / "tok-v2" / "loop").symlink_to("..")
    r = run_mreg("register", "fraud", str(m), cwd=repo)
    assert r.code == 2 and "loop" in r.err


@pytest.mark.slow
def test_verify_repair_lets_a_corrupt_object_be_stored_again(repo: Path, model_dir: Path) -> None:
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    store = repo / ".git" / "mreg" / "objects"
    victim = max((p for p in store.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    victim.chmod(0o644)
    victim.write_bytes(b"rot")
    assert run_mreg("verify", cwd=repo).code == 5
    r = run_mreg("verify", "--repair", cwd=repo)
    assert r.code == 5 and "deleted corrupt object" in r.err
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0  # the same bytes, stored anew
    assert run_mreg("verify", cwd=repo).code == 0


def test_at_treats_both_date_forms_alike(repo: Path, model_dir: Path) -> None:
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    from datetime import date

    today = date.today()
    for text in (today.isoformat(), today.strftime("%Y%m%d")):
        assert run_mreg("resolve", "fraud", "--at", text, cwd=repo).out.strip() == "fraud@v1", text


def test_the_python_api_takes_mappings(repo: Path, model_dir: Path) -> None:
    reg = Registry.open(repo)
    result = reg.register(
        "fraud", [model_dir], metrics={"auc": 0.93}, params={"layers": [64, 32]}, params_files=()
    )
    assert result.manifest["metrics"] == {"auc": 0.93} and result.manifest["params"] == {"layers": [64, 32]}
    with pytest.raises(Exception, match="not a number"):
        reg.register("fraud", [model_dir], metrics={"auc": "high"})


def test_usage_errors_honour_json(repo: Path) -> None:
    r = run_mreg("resolve", "fraud", "--json", "--bogus", cwd=repo)
    assert r.code == 2 and json.loads(r.out)["error"]["code"] == "bad_input"


@pytest.mark.slow
@pytest.mark.github
def test_demoting_a_protected_alias_never_prints_vnone(team: Team) -> None:
    team.register({"auc": 0.9, "latency_ms": 1})
    team.approve("fraud@v1")
    r = team.mreg("demote", "fraud@production")
    assert r.code == 0 and "vNone" not in r.out and "(removed)" in r.out


@pytest.mark.slow
@pytest.mark.github
def test_a_fresh_clone_of_the_team_registry_works(team: Team, tmp_path: Path) -> None:
    team.register({"auc": 0.9, "latency_ms": 1})
    other = tmp_path / "other"
    clone(team.bare, other)
    assert run_mreg("resolve", "fraud", cwd=other).out.strip() == "fraud@v1"


def test_nested_metrics_become_dotted_names(repo: Path, model_dir: Path, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"val": {"auc": 0.91, "loss": 0.2}, "test": {"auc": 0.9}}))
    assert run_mreg("register", "fraud", str(model_dir), "--metrics", str(metrics), cwd=repo).code == 0
    m = yaml.safe_load(_git(repo, "show", "mreg/registry:models/fraud/versions/1.yaml"))
    assert m["metrics"] == {"val.auc": 0.91, "val.loss": 0.2, "test.auc": 0.9}


def test_resolve_from_python_carries_the_aliases(repo: Path, model_dir: Path) -> None:
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=repo).code == 0
    assert Registry.open(repo).resolve("fraud").aliases == ("staging",)


@pytest.mark.slow
def test_verify_and_gate_take_at(repo: Path, model_dir: Path) -> None:
    env = {"GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z"}
    assert run_mreg("register", "fraud", str(model_dir), "--metric", "auc=0.8", cwd=repo, env=env).code == 0
    (model_dir / "weights.bin").write_bytes(b"v2")
    assert run_mreg("register", "fraud", str(model_dir), "--metric", "auc=0.95", cwd=repo).code == 0
    r = run_mreg("verify", "--at", "2026-01-02", "--json", cwd=repo)
    assert r.code == 0 and json.loads(r.out)["checked"] == 3  # v1's two files and its package lock
    assert json.loads(run_mreg("verify", "--json", cwd=repo).out)["checked"] == 4
    assert run_mreg("policy", "fraud", "--gate", "staging={metric: auc, min: 0.9}", cwd=repo).code == 0
    assert run_mreg("gate", "fraud", "--to", "staging", cwd=repo).code == 0
    r = run_mreg("gate", "fraud", "--to", "staging", "--at", "2026-01-02", cwd=repo)
    assert r.code == 0 and "no gate rules" in r.out  # v1, judged by the rules of that day: none yet


@pytest.mark.slow
@pytest.mark.github
def test_resolve_mentions_a_move_waiting_for_review(team: Team) -> None:
    team.register({"auc": 0.9, "latency_ms": 1})
    assert team.mreg("promote", "fraud@v1", "--to", "production", token=None).code == 0
    r = team.mreg("resolve", "fraud@production")
    assert r.code == 3 and "waiting for review on branch mreg/promote/fraud/production/v1" in r.err


@pytest.mark.slow
def test_store_copy_moves_every_version_to_a_shared_store(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    shared = tmp_path / "shared"
    r = run_mreg("store", "copy", "--to", str(shared), cwd=repo)
    assert r.code == 0 and "copied 3 object(s)" in r.out
    assert run_mreg("store", "copy", "--to", str(shared), cwd=repo).out.startswith("copied 0 object(s)")
    assert run_mreg("init", "--store", str(shared), cwd=repo).code == 0
    import shutil

    shutil.rmtree(repo / ".git" / "mreg" / "objects")  # the private store is gone; the shared one has it all
    assert run_mreg("verify", cwd=repo).code == 0
    assert run_mreg("pull", "fraud", "-o", str(tmp_path / "out"), cwd=repo).code == 0


@pytest.mark.slow
@pytest.mark.s3
def test_a_hung_s3_endpoint_fails_within_the_timeout(repo: Path, model_dir: Path) -> None:
    """A server that accepts connections and never answers: exit 6 in seconds, not minutes."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    env = {
        "MREG_STORE": "s3://bucket/models",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{listener.getsockname()[1]}",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "MREG_S3_TIMEOUT": "1",
    }
    started = time.monotonic()
    try:
        r = run_mreg("register", "fraud", str(model_dir), cwd=repo, env=env, timeout=120)
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        listener.close()
    assert r.code == 6 and "Traceback" not in r.err
    assert time.monotonic() - started < 60


@pytest.mark.slow
@pytest.mark.github
def test_writes_through_a_registry_cache_need_a_shared_store(team: Team, tmp_path: Path) -> None:
    team.register({"auc": 0.9, "latency_ms": 1})
    d = tmp_path / "x"
    d.mkdir()
    (d / "w.bin").write_bytes(b"1")
    reg = Registry.open(registry=str(team.bare))
    with pytest.raises(Exception, match="no shared store"):
        reg.register("fraud", [d])


def test_data_that_cannot_be_inspected_is_recorded_with_a_warning(repo: Path, model_dir: Path) -> None:
    r = run_mreg(
        "register", "fraud", str(model_dir), "--data", "train=nosuchscheme://bucket/train.csv", cwd=repo
    )
    assert r.code == 0 and "recorded the URI only" in r.err


def test_shell_completion_is_offered(repo: Path) -> None:
    r = run_mreg("--help", cwd=repo)
    assert r.code == 0 and "--install-completion" in r.out and "--show-completion" in r.out


def test_the_python_api_register_is_typed() -> None:
    import inspect

    sig = inspect.signature(Registry.register)
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())  # no **options
    assert {"params", "metrics", "data", "lockfile", "message", "parent"} <= set(sig.parameters)


@pytest.mark.parametrize(
    ("store", "needle"),
    [
        ("S3://bucket/x", "lowercase"),
        ("htps://host/x", "unknown store scheme"),
        ("/no/such/dir", "no such directory"),
    ],
)
def test_init_refuses_store_typos(repo: Path, store: str, needle: str) -> None:
    r = run_mreg("init", "--store", store, cwd=repo)
    assert r.code == 2 and needle in r.err


@pytest.mark.slow
def test_init_refuses_a_store_that_lacks_the_registered_versions(
    repo: Path, model_dir: Path, tmp_path: Path
) -> None:
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    before = refs(repo)
    r = run_mreg("init", "--store", str(empty), cwd=repo)
    assert r.code == 2 and "mreg store copy --to" in r.err and refs(repo) == before
    # after a switch made anyway (MREG_STORE, or an older mreg), --from copies from the per-clone store
    r = run_mreg(
        "store",
        "copy",
        "--from",
        str(repo / ".git" / "mreg" / "objects"),
        "--to",
        str(empty),
        cwd=repo,
        env={"MREG_STORE": str(empty)},
    )
    assert r.code == 0 and "copied 3 object(s)" in r.out
    r = run_mreg("init", "--store", str(empty), cwd=repo)
    assert r.code == 0 and r.out.startswith("updated mreg/aliases")


def test_store_copy_checks_its_target_like_init(repo: Path, model_dir: Path) -> None:
    assert run_mreg("register", "fraud", str(model_dir), cwd=repo).code == 0
    r = run_mreg("store", "copy", "--to", "rel/x", cwd=repo)
    assert r.code == 2 and "absolute path" in r.err and not (repo / "rel").exists()

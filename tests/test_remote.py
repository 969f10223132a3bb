"""A team sharing one remote: fetch before read, push with retry, never a lost or duplicated version (SPEC §8)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from testing.gitutil import clone, make_bare, make_repo, refs, run_mreg


@pytest.fixture
def two_clones(tmp_path: Path) -> dict[str, Path]:
    """A bare remote with an initialised registry and a shared store, plus two clones."""
    bare = tmp_path / "remote.git"
    make_bare(bare)
    store = tmp_path / "shared-store"
    store.mkdir()
    a = tmp_path / "alice"
    make_repo(a)
    subprocess.run(["git", "remote", "add", "origin", str(bare)], cwd=a, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=a, check=True)
    r = run_mreg("init", "--store", str(store), cwd=a)
    assert r.code == 0, r.err
    b = tmp_path / "bob"
    clone(bare, b)
    return {"bare": bare, "alice": a, "bob": b, "store": store}


def _file(tmp: Path, name: str, content: str) -> str:
    p = tmp / "files" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(content)
    return str(p)


def test_init_pushes_both_branches_and_a_clone_sees_the_registry(two_clones: dict[str, Path]) -> None:
    remote = refs(two_clones["bare"])
    assert "refs/heads/mreg/registry" in remote and "refs/heads/mreg/aliases" in remote
    r = run_mreg("init", cwd=two_clones["bob"])
    assert r.code == 0 and "nothing changed" in r.out
    assert refs(two_clones["bare"]) == remote


@pytest.mark.slow
def test_stale_clone_registers_the_next_version_not_a_duplicate(
    two_clones: dict[str, Path], tmp_path: Path
) -> None:
    assert (
        run_mreg("register", "fraud", _file(tmp_path, "a.bin", "a"), cwd=two_clones["alice"]).out.strip()
        == "fraud@v1"
    )
    # bob has not fetched since alice registered: he still gets v2
    assert (
        run_mreg("register", "fraud", _file(tmp_path, "b.bin", "b"), cwd=two_clones["bob"]).out.strip()
        == "fraud@v2"
    )
    assert (
        run_mreg("register", "fraud", _file(tmp_path, "c.bin", "c"), cwd=two_clones["alice"]).out.strip()
        == "fraud@v3"
    )
    ls = subprocess.run(
        ["git", "ls-tree", "--name-only", "mreg/registry:models/fraud/versions"],
        cwd=two_clones["bare"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert ls == ["1.yaml", "2.yaml", "3.yaml"]


@pytest.mark.slow
def test_reads_fetch_first_so_a_deploy_never_sees_a_stale_alias(
    two_clones: dict[str, Path], tmp_path: Path
) -> None:
    a, b = two_clones["alice"], two_clones["bob"]
    run_mreg("register", "fraud", _file(tmp_path, "a.bin", "a"), cwd=a)
    run_mreg("register", "fraud", _file(tmp_path, "b.bin", "b"), cwd=a)
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=a).code == 0
    assert run_mreg("resolve", "fraud@staging", cwd=b).out.strip() == "fraud@v1"
    assert run_mreg("promote", "fraud@v2", "--to", "staging", cwd=a).code == 0
    assert run_mreg("resolve", "fraud@staging", cwd=b).out.strip() == "fraud@v2"
    # --offline answers from what bob's clone already has
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=a).code == 0
    assert run_mreg("resolve", "fraud@staging", "--offline", cwd=b).out.strip() == "fraud@v2"


@pytest.mark.slow
def test_promote_from_a_stale_clone_takes_the_next_seq(two_clones: dict[str, Path], tmp_path: Path) -> None:
    a, b = two_clones["alice"], two_clones["bob"]
    run_mreg("register", "fraud", _file(tmp_path, "a.bin", "a"), cwd=a)
    run_mreg("register", "fraud", _file(tmp_path, "b.bin", "b"), cwd=a)
    assert run_mreg("resolve", "fraud", cwd=b).code == 0  # bob fetched once
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=a).code == 0
    r = run_mreg(
        "promote", "fraud@v2", "--to", "staging", cwd=b
    )  # bob's tags are stale: he must not reuse seq 1
    assert r.code == 0, r.err
    assert "staging/2" in r.out
    tags = sorted(k for k in refs(two_clones["bare"], "refs/tags/mreg/"))
    assert tags == ["refs/tags/mreg/fraud/staging/1", "refs/tags/mreg/fraud/staging/2"]
    assert run_mreg("resolve", "fraud@staging", cwd=a).out.strip() == "fraud@v2"


@pytest.mark.slow
def test_unreachable_remote_is_exit_6_naming_it_and_suggesting_offline(
    two_clones: dict[str, Path], tmp_path: Path
) -> None:
    a = two_clones["alice"]
    run_mreg("register", "fraud", _file(tmp_path, "a.bin", "a"), cwd=a)
    subprocess.run(["git", "remote", "set-url", "origin", str(tmp_path / "gone.git")], cwd=a, check=True)
    before = refs(a)
    r = run_mreg("resolve", "fraud", cwd=a)
    assert r.code == 6 and "origin" in r.err and "--offline" in r.err and "Traceback" not in r.err
    r = run_mreg("register", "fraud", _file(tmp_path, "b.bin", "b"), cwd=a)
    assert r.code == 6
    assert refs(a) == before
    assert run_mreg("resolve", "fraud", "--offline", cwd=a).out.strip() == "fraud@v1"


@pytest.mark.slow
def test_registry_url_reads_without_a_clone(two_clones: dict[str, Path], tmp_path: Path) -> None:
    a = two_clones["alice"]
    weights = _file(tmp_path, "w.bin", "production weights")
    run_mreg("register", "fraud", weights, cwd=a)
    assert run_mreg("promote", "fraud@v1", "--to", "staging", cwd=a).code == 0
    elsewhere = tmp_path / "deploy"
    elsewhere.mkdir()
    url = str(two_clones["bare"])
    assert run_mreg("resolve", "fraud@staging", "--registry", url, cwd=elsewhere).out.strip() == "fraud@v1"
    listing = json.loads(run_mreg("list", "--registry", url, "--json", cwd=elsewhere).out)
    assert listing[0]["aliases"] == {"staging": 1}
    log = json.loads(run_mreg("log", "fraud", "--registry", url, "--json", cwd=elsewhere).out)
    assert [e["event"] for e in log] == ["register", "promote"]
    assert json.loads(run_mreg("show", "fraud@staging", "--registry", url, "--json", cwd=elsewhere).out)[
        "aliases"
    ] == ["staging"]
    r = run_mreg("pull", "fraud@staging", "--registry", url, "-o", str(elsewhere / "out"), cwd=elsewhere)
    assert r.code == 0, r.err
    assert (elsewhere / "out" / "w.bin").read_text() == "production weights"
    assert not (elsewhere / ".git").exists()


# -- many writers at once -------------------------------------------------------------------------

_WORKER = r"""
import subprocess, sys, pathlib
repo, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = []
for i in range(n):
    f = pathlib.Path(repo).parent / f"{tag}-{i}.bin"
    f.write_text(f"{tag} {i}")
    r = subprocess.run([sys.executable, "-m", "mreg", "register", "fraud", str(f)], cwd=repo, capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL", r.stderr, file=sys.stderr); sys.exit(1)
    ref = r.stdout.strip()
    out.append(ref)
    r = subprocess.run([sys.executable, "-m", "mreg", "promote", ref, "--to", "staging"], cwd=repo, capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL", r.stderr, file=sys.stderr); sys.exit(1)
print("\n".join(out))
"""


@pytest.mark.slow
def test_eight_concurrent_writers_from_four_clones_lose_and_duplicate_nothing(
    two_clones: dict[str, Path], tmp_path: Path
) -> None:
    clones = [two_clones["alice"], two_clones["bob"]]
    for name in ("carol", "dave"):
        clone(two_clones["bare"], tmp_path / name)
        clones.append(tmp_path / name)
    worker = tmp_path / "worker.py"
    worker.write_text(_WORKER)
    per_worker = 2

    def run(i: int) -> list[str]:
        repo = clones[i % len(clones)]  # two writers share each clone: local CAS and remote CAS both race
        proc = subprocess.run(
            [sys.executable, str(worker), str(repo), f"w{i}", str(per_worker)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [ref for refs_ in pool.map(run, range(8)) for ref in refs_]
    total = 8 * per_worker
    assert sorted(results, key=lambda r: int(r.split("@v")[1])) == [
        f"fraud@v{i}" for i in range(1, total + 1)
    ]
    ls = subprocess.run(
        ["git", "ls-tree", "--name-only", "mreg/registry:models/fraud/versions"],
        cwd=two_clones["bare"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(ls, key=lambda n: int(n.split(".")[0])) == [f"{i}.yaml" for i in range(1, total + 1)]
    tags = refs(two_clones["bare"], "refs/tags/mreg/fraud/staging/")
    assert sorted(int(t.rsplit("/", 1)[1]) for t in tags) == list(range(1, total + 1))
    # every registration commit is on the one linear history: nothing overwritten
    count = subprocess.run(
        ["git", "rev-list", "--count", "mreg/registry"],
        cwd=two_clones["bare"],
        capture_output=True,
        text=True,
    ).stdout
    assert int(count) == total + 1
    r = run_mreg("log", "fraud", "--json", cwd=two_clones["alice"])
    assert len([e for e in json.loads(r.out) if e["event"] == "promote"]) == total


@pytest.mark.slow
def test_rejected_push_is_rebuilt_and_retried_until_it_lands(
    two_clones: dict[str, Path], tmp_path: Path
) -> None:
    """The remote refuses the first two pushes (as it would when someone else got there first)."""
    hook = two_clones["bare"] / "hooks" / "pre-receive"
    counter = tmp_path / "refusals"
    hook.write_text(
        "#!/bin/sh\n"
        f"n=$(cat {counter} 2>/dev/null || echo 0)\n"
        f"if [ \"$n\" -lt 2 ]; then echo $((n+1)) > {counter}; echo 'busy, try again' >&2; exit 1; fi\n"
    )
    hook.chmod(0o755)
    r = run_mreg("register", "fraud", _file(tmp_path, "a.bin", "a"), cwd=two_clones["alice"])
    assert r.code == 0, r.err
    assert r.out.strip() == "fraud@v1"
    assert counter.read_text().strip() == "2"
    assert "refs/heads/mreg/registry" in refs(two_clones["bare"])
    assert run_mreg("resolve", "fraud", cwd=two_clones["bob"]).out.strip() == "fraud@v1"


@pytest.mark.slow
def test_remote_that_always_refuses_gives_exit_4_and_nothing_local_moves(
    two_clones: dict[str, Path], tmp_path: Path
) -> None:
    hook = two_clones["bare"] / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = refs(two_clones["alice"], "refs/heads/mreg/")
    r = run_mreg(
        "register",
        "fraud",
        _file(tmp_path, "a.bin", "a"),
        cwd=two_clones["alice"],
        env={"MREG_MAX_ATTEMPTS": "3"},
    )
    assert r.code == 4, (r.code, r.err)
    assert "mreg/registry" in r.err and "Traceback" not in r.err
    assert refs(two_clones["alice"], "refs/heads/mreg/") == before


@pytest.mark.slow
def test_offline_registrations_are_republished_under_the_next_free_numbers(
    two_clones: dict[str, Path], tmp_path: Path
) -> None:
    a, b = two_clones["alice"], two_clones["bob"]
    assert run_mreg("register", "fraud", _file(tmp_path, "a.bin", "a"), cwd=a).out.strip() == "fraud@v1"
    assert run_mreg("resolve", "fraud", cwd=b).code == 0  # bob has the registry
    # on a plane: bob registers twice without the remote; meanwhile alice registers v2
    assert (
        run_mreg("register", "fraud", _file(tmp_path, "b1.bin", "b1"), "--offline", cwd=b).out.strip()
        == "fraud@v2"
    )
    assert (
        run_mreg("register", "fraud", _file(tmp_path, "b2.bin", "b2"), "--offline", cwd=b).out.strip()
        == "fraud@v3"
    )
    assert run_mreg("register", "fraud", _file(tmp_path, "a2.bin", "a2"), cwd=a).out.strip() == "fraud@v2"
    # back online: bob's work is published as v3 and v4, and he is told so
    r = run_mreg("register", "fraud", _file(tmp_path, "b3.bin", "b3"), cwd=b)
    assert r.code == 0, r.err
    assert r.out.strip() == "fraud@v5"
    assert "fraud@v2 -> fraud@v3" in r.err and "fraud@v3 -> fraud@v4" in r.err
    shown = json.loads(run_mreg("show", "fraud@v4", "--json", cwd=a).out)
    assert shown["manifest"]["artifacts"][0]["path"] == "b2.bin" and shown["manifest"]["version"] == 4
    count = subprocess.run(
        ["git", "rev-list", "--count", "mreg/registry"],
        cwd=two_clones["bare"],
        capture_output=True,
        text=True,
    ).stdout
    assert int(count) == 6  # init + five registrations, none lost, none twice


@pytest.mark.slow
def test_the_bare_remote_itself_can_be_read_with_repo(two_clones: dict[str, Path], tmp_path: Path) -> None:
    """A server-side hook or a CI job with only the bare repository reads it like a clone."""
    run_mreg("register", "fraud", _file(tmp_path, "a.bin", "weights"), cwd=two_clones["alice"])
    run_mreg("promote", "fraud@v1", "--to", "staging", cwd=two_clones["alice"])
    before = refs(two_clones["bare"])
    r = run_mreg("resolve", "fraud@staging", "--repo", str(two_clones["bare"]), "--offline", cwd=tmp_path)
    assert (r.code, r.out.strip()) == (0, "fraud@v1"), r.err
    dest = tmp_path / "deploy"
    r = run_mreg(
        "pull", "fraud@staging", "--repo", str(two_clones["bare"]), "--offline", "-o", str(dest), cwd=tmp_path
    )
    assert r.code == 0, r.err
    assert (dest / "a.bin").read_text() == "weights"
    assert refs(two_clones["bare"]) == before


@pytest.mark.slow
@pytest.mark.parametrize("command", ["register", "promote"])
def test_a_lock_left_on_the_remote_is_exit_6_naming_it_and_changes_nothing(
    two_clones: dict[str, Path],
    tmp_path: Path,
    command: str,
) -> None:
    """A git process that crashed on the remote left `<ref>.lock`: every push to that ref is refused.
    mreg must not spin through its retries and call it a conflict: it names the lock (exit 6)."""
    a, bare = two_clones["alice"], two_clones["bare"]
    assert run_mreg("register", "fraud", _file(tmp_path, "a.bin", "a"), cwd=a).code == 0
    if command == "register":
        lock = bare / "refs" / "heads" / "mreg" / "registry.lock"
        args = ["register", "fraud", _file(tmp_path, "b.bin", "b")]
    else:
        lock = bare / "refs" / "tags" / "mreg" / "fraud" / "staging" / "1.lock"
        args = ["promote", "fraud@v1", "--to", "staging"]
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()
    before = refs(bare)
    r = run_mreg(*args, cwd=a)
    assert r.code == 6, (r.code, r.err)
    lines = r.err.strip().splitlines()
    assert (
        lines[0] == f"mreg: error: remote 'origin' cannot lock {lock.relative_to(bare).with_suffix('')}: "
        f"{lock.relative_to(bare)} exists there"
    ), lines
    assert "remove the lock file" in lines[1] and "Traceback" not in r.err
    assert refs(bare) == before
    lock.unlink()
    r = run_mreg(*args, cwd=a)
    assert r.code == 0, r.err
    if command == "register":
        assert r.out.strip() == "fraud@v2"
    else:
        assert r.out.startswith("fraud@staging -> v1") and "[mreg/fraud/staging/1]" in r.out

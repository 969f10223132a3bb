"""Each store adapter translates only its driver's exceptions, through one table per adapter
(mreg.store.common): the tables cover what the drivers define, real failures of real stores (a local
directory, fsspec's file:// and memory://, the loopback S3 server) come out as the right exit code, and
an exception of mreg's own (a TypeError or KeyError inside an adapter call) is never blamed on the
store: it surfaces as an internal error (exit 70)."""

from __future__ import annotations

import builtins
import errno
import hashlib
import inspect
import io
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mreg.errors import MregError, NotFoundError, RemoteError, UsageError
from mreg.ports import ObjectStore
from mreg.store import open_store
from mreg.store.common import ErrorTable, translate
from mreg.store.fsspec_store import FSSPEC_ERRORS, FsspecStore, fsspec_errors
from mreg.store.local import LOCAL_ERRORS, LocalStore
from mreg.store.s3_store import S3Store, s3_errors
from testing.gitutil import make_repo, refs, run_mreg
from testing.s3 import Bucket


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _exceptions(module: ModuleType) -> set[type[BaseException]]:
    """Every exception class a module defines or exports, warnings aside (they are never raised)."""
    return {
        c
        for c in vars(module).values()
        if inspect.isclass(c) and issubclass(c, Exception) and not issubclass(c, Warning)
    }


def _uncovered(table: ErrorTable, classes: Iterable[type[BaseException]]) -> set[type[BaseException]]:
    return {c for c in classes if not any(k in table for k in c.__mro__)}


_BUGS = [TypeError("x"), KeyError("k"), AttributeError("a"), ValueError("v"), AssertionError(), IndexError()]


# -- the tables ------------------------------------------------------------------------------------


def test_local_table_covers_every_os_error_and_nothing_else() -> None:
    os_errors = {c for c in _exceptions(builtins) if issubclass(c, OSError)}
    assert _uncovered(LOCAL_ERRORS, os_errors) == set()
    for cls in os_errors:
        error = translate(LOCAL_ERRORS, "/srv/store", cls(errno.EIO, "boom"))
        assert isinstance(error, NotFoundError if cls is FileNotFoundError else RemoteError), cls
    full = translate(LOCAL_ERRORS, "/srv/store", OSError(errno.ENOSPC, "No space left on device", "/srv/x"))
    assert full is not None and full.exit_code == 6 and "free space" in (full.hint or "")
    for exc in _BUGS:
        assert translate(LOCAL_ERRORS, "/srv/store", exc) is None


def test_fsspec_table_covers_fsspec_and_the_loaded_drivers() -> None:
    import aiohttp
    import fsspec.exceptions

    table = fsspec_errors()
    os_errors = {c for c in _exceptions(builtins) if issubclass(c, OSError)}
    assert _uncovered(table, os_errors) == set()
    # raised only by caching file systems given a block size: mreg opens none
    assert _uncovered(table, _exceptions(fsspec.exceptions)) == {fsspec.exceptions.BlocksizeMismatchError}
    client_errors = {c for c in _exceptions(aiohttp) if issubclass(c, aiohttp.ClientError)}
    assert client_errors and _uncovered(table, client_errors) == set()
    for exc in _BUGS:
        assert translate(table, "memory://x", exc) is None
    assert isinstance(translate(FSSPEC_ERRORS, "gs://b", OSError("HTTP 503")), RemoteError)
    dns = translate(table, "ftp://nowhere.invalid/x", socket.gaierror(-2, "Name or service not known"))
    assert dns is not None and "is unreachable" in dns.message  # a network's errno, not a disk's
    full = translate(table, "file:///srv/x", OSError(errno.ENOSPC, "No space left on device"))
    assert full is not None and "No space left on device" in full.message and full.hint


def test_fsspec_table_names_a_driver_only_once_it_is_loaded() -> None:
    code = (
        "import sys; from mreg.store.fsspec_store import fsspec_errors; t = fsspec_errors(); "
        "print('aiohttp' in sys.modules, any(k.__module__.startswith('aiohttp') for k in t))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_s3_table_covers_botocore_and_urllib3() -> None:
    import urllib3.exceptions
    from botocore import exceptions as b

    table = s3_errors()
    assert {b.ClientError, b.BotoCoreError, urllib3.exceptions.HTTPError} <= set(table)
    # raised while botocore loads a malformed service model of its own: a broken installation, reported
    # as the internal error it is
    assert _uncovered(table, _exceptions(b)) == {b.UndefinedModelAttributeError, b.MissingServiceIdError}
    # re-exported by urllib3 from the standard library (raised wrapped in ProtocolError), and proxy
    # configuration, which mreg never passes
    assert {c.__name__ for c in _uncovered(table, _exceptions(urllib3.exceptions))} <= {
        "MessageDefect",
        "IncompleteRead",
        "ProxySchemeUnsupported",
    }

    def code(exc: Exception) -> int | None:
        error = translate(table, "s3://b/p", exc)
        return None if error is None else error.exit_code

    def client_error(code: str) -> Exception:
        error: Exception = b.ClientError({"Error": {"Code": code, "Message": "m"}}, "GetObject")
        return error

    assert code(client_error("NoSuchKey")) == 3 and code(client_error("404")) == 3
    assert code(client_error("AccessDenied")) == 6 and code(client_error("NoSuchBucket")) == 6
    assert code(client_error("SlowDown")) == 6
    assert code(b.EndpointConnectionError(endpoint_url="http://127.0.0.1:9")) == 6
    assert code(b.NoCredentialsError()) == 6
    assert code(b.ProfileNotFound(profile="nope")) == 2
    assert code(b.InvalidRegionError(region_name="bad region")) == 2  # a ValidationError, but the user's
    # mreg called botocore wrongly: a bug, never "store unreachable"
    assert code(b.ParamValidationError(report="Key: 12 is not a str")) is None
    assert code(b.UnknownParameterError(name="Kye", operation="GetObject", choices="Key")) is None
    for exc in _BUGS:
        assert code(exc) is None


@pytest.mark.s3
def test_the_s3_store_loads_no_s3fs_aiobotocore_or_aiohttp(s3: Bucket, tmp_path: Path) -> None:
    """So their exception trees can never reach it: botocore's (and urllib3's) are the whole story."""
    code = (
        "import sys; from mreg.store import open_store; from pathlib import Path; "
        f"s = open_store({s3.url!r}, default_dir=Path('/nonexistent')); "
        "d = 'sha256:' + '0' * 64; s.exists(d); s.put_bytes(b'x', d); list(s.list_objects()); "
        "print(sorted(m for m in ('s3fs', 'aiobotocore', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- real failures of real stores ------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_error_writing_a_sink_stays_the_callers(store: ObjectStore) -> None:
    """A full destination disk is no unreachable store: the OSError reaches the caller unchanged (pull
    then says it cannot write to -o DIR)."""
    data = b"weights" * 1000
    store.put_bytes(data, _digest(data))
    with open("/dev/full", "wb", buffering=0) as full, pytest.raises(OSError) as err:
        store.download(_digest(data), [full])
    assert not isinstance(err.value, MregError) and err.value.errno == errno.ENOSPC


@pytest.mark.parametrize("kind", ["local", "file"])
def test_a_store_whose_directory_is_a_file_is_exit_6(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "objects"
    root.write_text("not a directory")
    url = str(root) if kind == "local" else root.as_uri()
    store = open_store(url, default_dir=tmp_path / "unused")
    with pytest.raises(RemoteError) as err:
        store.put_bytes(b"x", _digest(b"x"))
    assert err.value.exit_code == 6 and str(root) in err.value.message


@pytest.mark.s3
def test_s3_missing_bucket_is_exit_6_naming_it(s3: Bucket, tmp_path: Path) -> None:
    store = open_store(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/p", default_dir=tmp_path)
    with pytest.raises(RemoteError) as err:
        store.put_bytes(b"x", _digest(b"x"))
    assert "the bucket does not exist" in err.value.message


@pytest.mark.s3
@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (403, "AccessDenied", "refused access"),
        pytest.param(500, "InternalError", "is unreachable or refused access", marks=pytest.mark.slow),
    ],
)
def test_s3_error_answers_are_exit_6(
    s3: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, code: str, words: str
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = open_store(s3.url, default_dir=tmp_path)
    store.put_bytes(b"x", _digest(b"x"))
    body = f"<Error><Code>{code}</Code><Message>no</Message></Error>".encode()
    s3.recorder.fault = lambda method, path, query: (status, body) if method == "GET" else None
    with pytest.raises(RemoteError) as err:
        store.read_verified(_digest(b"x"))
    assert err.value.exit_code == 6 and words in err.value.message


@pytest.mark.s3
def test_s3_without_credentials_is_exit_6_with_a_hint(
    s3: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    store = open_store(s3.url, default_dir=tmp_path)
    with pytest.raises(RemoteError) as err:
        store.exists(_digest(b"x"))
    assert "no usable AWS credentials" in err.value.message and "AWS_ACCESS_KEY_ID" in (err.value.hint or "")


@pytest.mark.s3
def test_s3_unknown_profile_is_exit_2(s3: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    store = open_store(s3.url, default_dir=tmp_path)
    with pytest.raises(UsageError) as err:
        store.exists(_digest(b"x"))
    assert "no-such-profile" in err.value.message


def test_malformed_endpoint_url_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not-a-url")
    with pytest.raises(UsageError) as err:
        open_store("s3://bucket/p", default_dir=tmp_path)
    assert "AWS_ENDPOINT_URL 'not-a-url'" in err.value.message


@pytest.mark.s3
def test_s3_call_mreg_makes_wrongly_is_not_an_unreachable_store(
    s3: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ParamValidationError

    store = open_store(s3.url, default_dir=tmp_path)
    assert isinstance(store, S3Store)
    monkeypatch.setattr(store, "_k", lambda digest: 12345)  # a bug: an object key that is no string
    with pytest.raises(ParamValidationError):
        store.exists(_digest(b"x"))


# -- mreg's own exceptions propagate ---------------------------------------------------------------


def _raise(exc: BaseException) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fn


@pytest.mark.parametrize("copy", ["copy_file_hashing", "copy_hashing"])  # the kernel path, the fallback
def test_a_type_error_inside_the_local_adapter_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copy: str
) -> None:
    store = open_store(str(tmp_path / "objects"), default_dir=tmp_path)
    assert isinstance(store, LocalStore)
    f = tmp_path / "w.bin"
    f.write_bytes(b"w")
    if copy == "copy_hashing":
        monkeypatch.setenv("MREG_COPY", "python")
    monkeypatch.setattr(f"mreg.store.hashing.{copy}", _raise(TypeError("injected")))
    with pytest.raises(TypeError, match="injected"):
        store.put_file(f)


def test_a_type_error_inside_the_fsspec_adapter_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(f"memory://mreg-{uuid.uuid4().hex[:8]}", default_dir=tmp_path)
    assert isinstance(store, FsspecStore)
    store.put_bytes(b"x", _digest(b"x"))
    monkeypatch.setattr(store.fs, "cat_file", _raise(TypeError("injected")))
    with pytest.raises(TypeError, match="injected"):
        store.read_verified(_digest(b"x"))


@pytest.mark.s3
def test_exceptions_inside_the_s3_adapter_propagate(
    s3: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(s3.url, default_dir=tmp_path)
    assert isinstance(store, S3Store)
    store.put_bytes(b"x", _digest(b"x"))
    client = store.transfer.client()
    monkeypatch.setattr(client, "get_object", _raise(KeyError("injected")))  # in a transfer thread
    with pytest.raises(KeyError, match="injected"):
        store.download(_digest(b"x"), [io.BytesIO()])
    monkeypatch.setattr(client, "head_object", _raise(TypeError("injected")))
    with pytest.raises(TypeError, match="injected"):
        store.exists(_digest(b"x"))


def _mreg_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from mreg.cli import main

    with pytest.raises(SystemExit) as done:
        main(list(args))
    code = done.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


@pytest.mark.parametrize("kind", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_a_bug_inside_a_store_call_is_exit_70_not_6(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo)
    if kind == "s3":
        url = request.getfixturevalue("s3").url
    else:
        (tmp_path / "objects").mkdir()
        url = str(tmp_path / "objects")
    assert run_mreg("init", "--store", url, cwd=repo).code == 0
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    before = refs(repo)
    monkeypatch.chdir(repo)
    if kind == "local":
        monkeypatch.setattr("mreg.store.local.os.replace", _raise(TypeError("injected")))
    else:
        import botocore.client

        real = botocore.client.BaseClient._make_api_call

        def broken(self: Any, operation: str, params: dict[str, Any]) -> Any:
            if operation == "PutObject":
                raise TypeError("injected")
            return real(self, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", broken)
    code, err = _mreg_in_process(capsys, "register", "fraud", str(f))
    assert code == 70, err
    assert err.startswith("mreg: internal error: TypeError: injected")
    assert "this is a bug in mreg; rerun with MREG_DEBUG=1" in err and "Traceback" not in err
    assert refs(repo) == before

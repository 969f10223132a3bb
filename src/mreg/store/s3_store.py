"""`s3://bucket/prefix` as a store, on a plain botocore client (imported only when the store URL is s3://).

botocore always comes with s3fs (through aiobotocore), but s3fs itself is not used: one botocore client
does everything, the small calls (HEAD, list, delete) and the transfers, which run on a small pool of
threads like boto3's own transfer manager: signing, checksums and hashing release the GIL, so parts
really do run in parallel on every core. It reads the standard AWS chain: env vars, profiles, SSO,
instance roles, and `AWS_ENDPOINT_URL` for S3-compatible servers.

* upload: one PUT up to the part size, else a multipart upload with up to `jobs` parts in flight;
  it is completed only when every part succeeded, and aborted on any failure or Ctrl-C, so no
  orphaned parts remain and no reader ever sees a partial object.
* download: HEAD, then ranged GETs `jobs` at a time; the caller's thread hashes and writes the
  parts in order while the next ones arrive, so the digest is known the moment the last byte is.
* errors: botocore's (and urllib3's, which can escape a response body) are translated by one table,
  `s3_errors()`; anything else, an OSError writing a local sink included, propagates unchanged.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from mreg.digest import digest_of_key, hasher, object_key, of_hash
from mreg.errors import IntegrityError, MregError, NotFoundError, RemoteError, UsageError
from mreg.ports import Progress, StaleUpload, StoredObject
from mreg.store.common import (
    DEFAULT_JOBS,
    DEFAULT_PART_SIZE,
    MAX_PARTS,
    MIN_PART,
    PROPAGATE,
    MappedReader,
    Translator,
    driver_errors,
    env_int,
    first_line,
    scrub,
    unreachable,
)

MiB = 1024 * 1024

# S3 error codes (the server answered) that mean something other than "unreachable or refusing".
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_DENIED = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AllAccessDisabled",
}


def _client_error(url: str, exc: Exception) -> MregError:
    """The server answered with an error: its code decides."""
    from botocore.exceptions import ClientError

    assert isinstance(exc, ClientError)
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code in _MISSING:
        return NotFoundError(f"not found in store {url}")
    if code in _DENIED:
        return RemoteError(
            f"store {url} refused access ({code})", hint="check the AWS credentials and the bucket's policy"
        )
    if code == "NoSuchBucket":
        return RemoteError(
            f"store {url}: the bucket does not exist",
            hint="check the store URL (mreg.yaml: store, MREG_STORE)",
        )
    return unreachable(url, exc)


def _no_credentials(url: str, exc: Exception) -> MregError:
    return RemoteError(
        scrub(f"store {url}: no usable AWS credentials ({first_line(exc)})")[:300],
        hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where a role provides them",
    )


def _bad_config(url: str, exc: Exception) -> MregError:
    return UsageError(
        scrub(f"store {url}: the AWS configuration is not usable: {first_line(exc)}")[:300],
        hint="check AWS_PROFILE, AWS_DEFAULT_REGION and ~/.aws/config",
    )


@cache
def s3_errors() -> dict[type[BaseException], Translator | None]:
    """S3Store's table: botocore's exception classes (and urllib3's, which can escape a response body
    being read) → mreg's errors. Built on first use: botocore is imported only for an s3:// store."""
    import urllib3.exceptions as u3
    from botocore import exceptions as b

    return {
        b.ClientError: _client_error,  # the server answered: 404 → exit 3, 403 → exit 6, …
        b.BotoCoreError: unreachable,  # connecting, timeouts, TLS, a dropped response, …: exit 6
        # credentials: the store refuses us until there are some (exit 6)
        b.NoCredentialsError: _no_credentials,
        b.PartialCredentialsError: _no_credentials,
        b.CredentialRetrievalError: _no_credentials,
        b.TokenRetrievalError: _no_credentials,
        b.NoAuthTokenError: _no_credentials,
        b.SSOError: _no_credentials,
        b.LoginError: _no_credentials,
        b.RefreshWithMFAUnsupportedError: _no_credentials,
        # configuration the user gave (AWS_PROFILE, AWS_DEFAULT_REGION, ~/.aws/config): exit 2
        b.ProfileNotFound: _bad_config,
        b.ConfigNotFound: _bad_config,
        b.ConfigParseError: _bad_config,
        b.InvalidConfigError: _bad_config,
        b.NoRegionError: _bad_config,
        b.InvalidRegionError: _bad_config,
        b.InvalidRetryConfigurationError: _bad_config,
        b.InvalidDefaultsMode: _bad_config,
        b.InvalidChecksumConfigError: _bad_config,
        b.InvalidEndpointConfigurationError: _bad_config,
        # mreg called botocore wrongly: a bug, reported as one (exit 70), never as an unreachable store
        b.ParamValidationError: PROPAGATE,
        b.ValidationError: PROPAGATE,
        b.MissingParametersError: PROPAGATE,
        b.UnknownClientMethodError: PROPAGATE,
        b.OperationNotPageableError: PROPAGATE,
        b.StubResponseError: PROPAGATE,
        u3.HTTPError: unreachable,
    }


class _DaemonPool:
    """A fixed pool of daemon threads: an interrupted command exits at once instead of waiting for
    a stuck request (concurrent.futures' workers are joined at exit)."""

    def __init__(self, workers: int) -> None:
        self._q: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue()
        )
        for i in range(workers):
            threading.Thread(target=self._work, name=f"mreg-s3-{i}", daemon=True).start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        self._q.put((fut, fn, args))
        return fut

    def _work(self) -> None:
        while True:
            fut, fn, args = self._q.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:
                fut.set_exception(exc)


class S3Transfer:
    def __init__(self, *, jobs: int, part_size: int, endpoint_url: str | None) -> None:
        self.jobs = jobs
        self.part_size = part_size
        self.endpoint_url = endpoint_url
        self._client: Any = None
        self._pool: _DaemonPool | None = None
        self._lock = threading.Lock()
        self._live: set[Future[Any]] = set()
        self.cancelled = threading.Event()

    # -- setup -------------------------------------------------------------------------------------

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import botocore.config
                import botocore.session

                # botocore's defaults (60 s connect, 60 s read, retried) make a hung endpoint fail after
                # minutes; MREG_S3_TIMEOUT (seconds, default 10) bounds each connect and each read.
                timeout = float(os.environ.get("MREG_S3_TIMEOUT", "") or 10)
                config = botocore.config.Config(
                    max_pool_connections=self.jobs + 4,
                    retries={"mode": "standard", "max_attempts": 3},
                    connect_timeout=timeout,
                    read_timeout=timeout,
                    # Objects are content-addressed and re-hashed on every read, and each request still
                    # carries a CRC32 checksum: a SHA-256 of every part for SigV4 (what botocore does
                    # over plain http) would only hash the same bytes twice.
                    s3={"payload_signing_enabled": False},
                )
                session = botocore.session.get_session()
                self._client = session.create_client("s3", endpoint_url=self.endpoint_url, config=config)
            return self._client

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        with self._lock:
            if self._pool is None:
                self._pool = _DaemonPool(self.jobs)
            pool = self._pool
        if self.cancelled.is_set():
            raise KeyboardInterrupt
        fut = pool.submit(fn, *args)
        with self._lock:
            self._live.add(fut)
        fut.add_done_callback(self._forget)
        return fut

    def _forget(self, fut: Future[Any]) -> None:
        with self._lock:
            self._live.discard(fut)

    def cancel(self) -> None:
        """Stop every transfer of this store: queued parts are dropped, waiting threads raise."""
        self.cancelled.set()
        with self._lock:
            live = list(self._live)
        for fut in live:
            fut.cancel()

    def part_size_for(self, size: int) -> int:
        return max(self.part_size, -(-size // MAX_PARTS))

    # -- upload ------------------------------------------------------------------------------------

    def put(self, local: str, bucket: str, key: str, size: int, progress: Progress | None) -> None:
        c = self.client()
        part = self.part_size_for(size)
        fd = os.open(local, os.O_RDONLY)
        futs: list[Future[Any]] = []
        try:
            if size <= part:
                body = os.pread(fd, size, 0)
                c.put_object(Bucket=bucket, Key=key, Body=io.BytesIO(body))
                if progress is not None:
                    progress(size)
                return
            # CRC32 per part, declared up front and listed at completion, as boto3's transfer manager does
            upload_id = c.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32")[
                "UploadId"
            ]
            try:

                def one(i: int) -> dict[str, Any]:
                    if self.cancelled.is_set():
                        raise KeyboardInterrupt
                    body = os.pread(fd, part, i * part)
                    r = c.upload_part(
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=i + 1,
                        Body=io.BytesIO(body),
                        ChecksumAlgorithm="CRC32",
                    )
                    if progress is not None:
                        progress(len(body))
                    done = {"PartNumber": i + 1, "ETag": r["ETag"]}
                    if r.get("ChecksumCRC32"):
                        done["ChecksumCRC32"] = r["ChecksumCRC32"]
                    return done

                futs = [self._submit(one, i) for i in range(-(-size // part))]
                parts = [_wait(f, self.cancelled) for f in futs]
                c.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            except BaseException:
                # Failure or interrupt: drop queued parts, then abort so no orphaned parts stay stored.
                for f in futs:
                    f.cancel()
                with contextlib.suppress(Exception):  # unreachable now: `mreg gc` aborts it later
                    c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
                raise
        finally:
            # Running parts may still read from fd: close it only once they are done with it.
            _close_when_idle(fd, [f for f in futs if not f.done()])

    # -- download ----------------------------------------------------------------------------------

    def get(
        self, bucket: str, key: str, sinks: Sequence[BinaryIO], progress: Progress | None
    ) -> tuple[str, int]:
        """Ranged GETs, one per worker, each streamed straight into every sink at its offset; this
        thread hashes the bytes in order right behind them (reading back what just landed in the
        page cache), so memory stays small and the digest is ready when the last byte is."""
        c = self.client()
        head = c.head_object(Bucket=bucket, Key=key)
        size = int(head["ContentLength"])
        # Few long ranges rather than many short ones: per-request costs stay low (some servers,
        # moto among them, copy the whole object for every ranged GET), yet `jobs` streams run.
        ranges = max(1, min(self.jobs, -(-size // self.part_size)))
        span = -(-size // ranges) if size else 0
        bounds = [(i * span, min(size, (i + 1) * span)) for i in range(ranges)]
        scratch = None
        fds = [s.fileno() for s in sinks if _has_fileno(s)]
        if not fds:  # verify: nowhere to put the bytes but a scratch file
            import tempfile

            scratch = tempfile.TemporaryFile()  # noqa: SIM115  # closed in the finally below
            fds = [scratch.fileno()]
        others = [s for s in sinks if not _has_fileno(s)]  # e.g. BytesIO: written in order below
        for s in sinks:
            s.flush()
        ranged = _RangedGet(c, bucket, key, head.get("ETag"), bounds, fds, self.cancelled)
        futs = []
        for i in range(ranges):
            fut = self._submit(ranged.fetch, i)
            fut.add_done_callback(ranged.release)
            futs.append(fut)
        try:
            h = ranged.hash_in_order(fds[0], others, progress)
            for f in futs:
                _wait(f, self.cancelled)
        except BaseException:
            ranged.stop.set()
            for f in futs:
                f.cancel()
            raise
        finally:
            if scratch is not None:
                scratch.close()
        return of_hash(h), size


class _RangedGet:
    """One object fetched as ranges by worker threads (`fetch`, each writing into every descriptor at
    its offset) while the caller hashes the bytes in order right behind them (`hash_in_order`).

    The workers write through their own duplicates of the descriptors, closed when the last worker is
    done (`release`): a worker still running after an error can never write into a reused fd."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        etag: str | None,
        bounds: list[tuple[int, int]],
        fds: list[int],
        cancelled: threading.Event,
    ) -> None:
        self.client, self.bucket, self.key, self.etag = client, bucket, key, etag
        self.bounds = bounds
        self.cancelled = cancelled
        self.dups = [os.dup(fd) for fd in fds]
        self.live = len(bounds)
        self.stop = threading.Event()
        self.got = [0] * len(bounds)  # bytes landed per range, contiguous from its start
        self.cond = threading.Condition()
        self.failed: list[BaseException] = []

    def _halted(self) -> bool:
        return self.cancelled.is_set() or self.stop.is_set()

    def fetch(self, i: int) -> None:
        start, end = self.bounds[i]
        if start >= end:
            return
        try:
            if self.cancelled.is_set():
                raise KeyboardInterrupt
            extra = {"IfMatch": self.etag} if self.etag else {}
            r = self.client.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end - 1}", **extra
            )
            body = r["Body"]
            try:
                self._stream(i, body, start, end)
            finally:
                body.close()
        except BaseException as exc:
            with self.cond:
                self.failed.append(exc)
                self.cond.notify_all()
            raise

    def _stream(self, i: int, body: Any, start: int, end: int) -> None:
        pos = start
        while pos < end:
            if self._halted():
                raise KeyboardInterrupt
            chunk = body.read(min(_CHUNK, end - pos))
            if not chunk:  # botocore checks the length itself; this is a second wall
                from botocore.exceptions import IncompleteReadError

                raise IncompleteReadError(actual_bytes=pos - start, expected_bytes=end - start)
            for fd in self.dups:
                _pwrite_all(fd, chunk, pos)
            pos += len(chunk)
            with self.cond:
                self.got[i] = pos - start
                self.cond.notify_all()

    def release(self, _: Future[Any]) -> None:
        with self.cond:
            self.live -= 1
            last = self.live == 0
        if last:
            for fd in self.dups:
                os.close(fd)

    def _landed(self, i: int, done: int) -> int:
        """Bytes of range `i` landed so far, once more than `done` have (or the failure/cancel)."""
        with self.cond:
            while self.got[i] <= done and not self.failed and not self.cancelled.is_set():
                self.cond.wait(0.1)
            if self.failed:
                raise self.failed[0]
            if self.cancelled.is_set():
                raise KeyboardInterrupt
            return self.got[i]

    def hash_in_order(self, fd: int, others: Sequence[BinaryIO], progress: Progress | None) -> Any:
        h = hasher()
        for i, (start, end) in enumerate(self.bounds):
            done = 0
            while start + done < end:
                ready = self._landed(i, done)
                while done < ready:
                    data = os.pread(fd, min(_CHUNK, ready - done), start + done)
                    h.update(data)
                    for s in others:
                        s.write(data)
                    done += len(data)
                    if progress is not None:
                        progress(len(data))
        return h


_CHUNK = 4 * MiB


def _has_fileno(s: BinaryIO) -> bool:
    try:
        s.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def _wait(fut: Future[Any], cancelled: threading.Event) -> Any:
    """A part's result; raises KeyboardInterrupt as soon as the transfer is cancelled, even while the
    part's request is still running (a running future cannot be cancelled)."""
    while True:
        try:
            return fut.result(timeout=0.1)
        except FutureTimeout:
            if cancelled.is_set():
                raise KeyboardInterrupt from None
        except CancelledError:
            raise KeyboardInterrupt from None


def _close_when_idle(fd: int, running: list[Future[Any]]) -> None:
    if not running:
        os.close(fd)
        return
    remaining = [len(running)]
    lock = threading.Lock()

    def done(_: Future[Any]) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0] == 0:
                os.close(fd)

    for f in running:
        f.add_done_callback(done)


class S3Store:
    """`s3://bucket/prefix` (and S3-compatible servers through `AWS_ENDPOINT_URL`) on botocore alone.

    One client for everything: existence checks, listing, deletes and the parallel transfers.
    """

    is_local = False
    is_default = False

    def __init__(self, url: str, *, jobs: int | None = None) -> None:
        import importlib.util

        self.url = url.rstrip("/")
        if importlib.util.find_spec("botocore") is None:
            raise UsageError(
                f"store URL {self.url!r} needs the S3 driver, which is not installed",
                hint="pip install 'mreg[s3]'",
            )
        rest = url.split("://", 1)[1] if "://" in url else ""
        self.bucket, _, prefix = rest.partition("/")
        self.prefix = prefix.strip("/")
        if len(self.bucket) < 3:
            raise UsageError(f"store URL {self.url!r}: a bucket name has at least 3 characters")
        self.jobs = jobs or env_int("MREG_JOBS", DEFAULT_JOBS)
        self.part_size = max(MIN_PART, env_int("MREG_PART_SIZE", DEFAULT_PART_SIZE))
        self._endpoint = _endpoint_from_env()
        self._transfer: S3Transfer | None = None

    @property
    def transfer(self) -> S3Transfer:
        if self._transfer is None:
            self._transfer = S3Transfer(jobs=self.jobs, part_size=self.part_size, endpoint_url=self._endpoint)
        return self._transfer

    def _driver(self) -> contextlib.AbstractContextManager[None]:
        return driver_errors(s3_errors(), self.url)

    def _client(self) -> Any:
        with self._driver():
            return self.transfer.client()

    def _warm(self) -> None:
        with contextlib.suppress(Exception):  # any error surfaces again, translated, on first real use
            self.transfer.client()

    def _k(self, digest: str) -> str:
        return f"{self.prefix}/{object_key(digest)}" if self.prefix else object_key(digest)

    def cancel(self) -> None:
        if self._transfer is not None:
            self._transfer.cancel()

    # -- the ObjectStore protocol ------------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        return self.size(digest) is not None

    def size(self, digest: str) -> int | None:
        c = self._client()
        try:
            with self._driver():
                head = c.head_object(Bucket=self.bucket, Key=self._k(digest))
        except NotFoundError:
            return None
        return int(head["ContentLength"])

    def put_file(self, path: Path, *, progress: Progress | None = None) -> tuple[str, int, bool]:
        """Hash, ask the store, upload only what it lacks: a stored object costs one HEAD, no bytes."""
        from mreg.store.hashing import hash_file

        # Build the client (imports, credential chain, service model: ~0.3 s) while the file hashes.
        warm = threading.Thread(target=self._warm, daemon=True)
        warm.start()
        digest, size = hash_file(path)
        warm.join()
        if self.exists(digest):
            if progress is not None:
                progress(size)
            return digest, size, False
        with self._driver():
            self.transfer.put(str(path), self.bucket, self._k(digest), size, progress)
        return digest, size, True

    def put_bytes(self, data: bytes, digest: str) -> bool:
        if self.exists(digest):
            return False
        c = self._client()
        with self._driver():
            c.put_object(Bucket=self.bucket, Key=self._k(digest), Body=data)
        return True

    @contextlib.contextmanager
    def open(self, digest: str) -> Iterator[BinaryIO]:
        c = self._client()
        with self._driver():
            body = c.get_object(Bucket=self.bucket, Key=self._k(digest))["Body"]
        reader = MappedReader(body, s3_errors(), self.url)
        try:
            yield reader.as_binary()
        finally:
            reader.close()

    def download(
        self, digest: str, sinks: Sequence[BinaryIO], progress: Progress | None = None
    ) -> tuple[str, int]:
        with self._driver():
            got: tuple[str, int] = self.transfer.get(self.bucket, self._k(digest), sinks, progress)
        return got

    def read_verified(self, digest: str) -> bytes:
        sink = io.BytesIO()
        got, _ = self.download(digest, [sink])
        if got != digest:
            raise IntegrityError(
                f"object {digest} in store {self.url} is corrupt (its bytes hash differently)"
            )
        return sink.getvalue()

    def _pages(self, prefix: str) -> Iterator[dict[str, Any]]:
        c = self._client()
        with self._driver():
            it = iter(c.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix))
        while True:
            with self._driver():
                page = next(it, None)
            if page is None:
                return
            yield from page.get("Contents", [])

    def list_objects(self) -> Iterator[StoredObject]:
        base = f"{self.prefix}/sha256/" if self.prefix else "sha256/"
        for obj in self._pages(base):
            digest = digest_of_key(obj["Key"])
            if digest:
                yield StoredObject(digest, int(obj["Size"]), obj["LastModified"].timestamp())

    def delete(self, digest: str) -> None:
        c = self._client()
        with self._driver():
            c.delete_object(Bucket=self.bucket, Key=self._k(digest))

    def delete_many(self, digests: Sequence[str]) -> None:
        """DeleteObjects, 1,000 keys a request (S3's limit); a key that is gone already is no error."""
        c = self._client()
        for i in range(0, len(digests), 1000):
            batch = [{"Key": self._k(d)} for d in digests[i : i + 1000]]
            with self._driver():
                r = c.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            if r.get("Errors"):
                err = r["Errors"][0]
                raise RemoteError(
                    f"store {self.url} refused to delete {len(r['Errors'])} object(s): {err.get('Code')}"
                )

    def stale_uploads(self, older_than: float) -> list[StaleUpload]:
        """Unfinished multipart uploads under the prefix started before `older_than` and with no part
        written since (some S3-compatible servers, moto among them, report a fixed Initiated date)."""
        c = self._client()
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.prefix:
            kwargs["Prefix"] = self.prefix + "/"
        found = []
        with self._driver():
            uploads = c.list_multipart_uploads(**kwargs).get("Uploads", [])
        for u in uploads:
            started = u.get("Initiated")
            if started is None or started.timestamp() >= older_than:
                continue
            with self._driver():
                parts = c.list_parts(Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"])
            newest = max((p["LastModified"].timestamp() for p in parts.get("Parts", [])), default=0.0)
            if newest < older_than:
                found.append(StaleUpload(u["Key"], upload_id=u["UploadId"]))
        return found

    def remove_stale(self, items: Sequence[StaleUpload]) -> None:
        c = self._client()
        for item in items:
            with contextlib.suppress(NotFoundError), self._driver():
                c.abort_multipart_upload(Bucket=self.bucket, Key=item.key, UploadId=item.upload_id)


def _endpoint_from_env() -> str | None:
    """`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, checked here: botocore refuses a malformed one
    with a bare ValueError, which is no driver error but the user's input (exit 2)."""
    from urllib.parse import urlsplit

    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = os.environ.get(name)
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UsageError(
                    scrub(f"{name} {value!r}: not an http(s) URL"),
                    hint="e.g. https://s3.example.com or http://127.0.0.1:9000",
                )
            return value
    return None

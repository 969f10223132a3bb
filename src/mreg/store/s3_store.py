"""The S3 fast path for `FsspecStore` (imported only when the store URL is s3://).

Bytes move through a plain botocore client (botocore always comes with s3fs, through aiobotocore)
on a small pool of threads, like boto3's own transfer manager: signing, checksums and hashing
release the GIL, so parts really do run in parallel on every core. s3fs keeps doing the small
calls (exists, list, delete). Both read the standard AWS chain: env vars, profiles, SSO, instance
roles, and `AWS_ENDPOINT_URL` for S3-compatible servers.

* upload: one PUT up to the part size, else a multipart upload with up to `jobs` parts in flight;
  it is completed only when every part succeeded, and aborted on any failure or Ctrl-C, so no
  orphaned parts remain and no reader ever sees a partial object.
* download: HEAD, then ranged GETs `jobs` at a time; the caller's thread hashes and writes the
  parts in order while the next ones arrive, so the digest is known the moment the last byte is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any, BinaryIO

from mreg.ports import Progress

MiB = 1024 * 1024
_MAX_PARTS = 10_000


class _DaemonPool:
    """A fixed pool of daemon threads: an interrupted command exits at once instead of waiting for
    a stuck request (concurrent.futures' workers are joined at exit)."""

    def __init__(self, workers: int) -> None:
        self._q: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = queue.SimpleQueue()
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

                config = botocore.config.Config(
                    max_pool_connections=self.jobs + 4,
                    retries={"mode": "standard"},
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
        return max(self.part_size, -(-size // _MAX_PARTS))

    # -- upload ------------------------------------------------------------------------------------

    def put(self, local: str, bucket: str, key: str, size: int, progress: Progress | None) -> None:
        c = self.client()
        part = self.part_size_for(size)
        fd = os.open(local, os.O_RDONLY)
        futs: list[Future[Any]] = []
        try:
            if size <= part:
                body = os.pread(fd, size, 0)
                c.put_object(Bucket=bucket, Key=key, Body=body)
                if progress is not None:
                    progress(size)
                return
            upload_id = c.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            try:
                def one(i: int) -> dict[str, Any]:
                    if self.cancelled.is_set():
                        raise KeyboardInterrupt
                    body = os.pread(fd, part, i * part)
                    r = c.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=i + 1, Body=body)
                    if progress is not None:
                        progress(len(body))
                    return {"PartNumber": i + 1, "ETag": r["ETag"]}

                futs = [self._submit(one, i) for i in range(-(-size // part))]
                parts = [_result(f) for f in futs]
                c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                            MultipartUpload={"Parts": parts})
            except BaseException:
                # Failure or interrupt: drop queued parts, then abort so no orphaned parts stay stored.
                for f in futs:
                    f.cancel()
                try:
                    c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
                except Exception:  # unreachable now: `mreg gc` aborts it later
                    pass
                raise
        finally:
            # Running parts may still read from fd: close it only once they are done with it.
            _close_when_idle(fd, [f for f in futs if not f.done()])

    # -- download ----------------------------------------------------------------------------------

    def get(self, bucket: str, key: str, sinks: list[BinaryIO], progress: Progress | None) -> tuple[str, int]:
        c = self.client()
        head = c.head_object(Bucket=bucket, Key=key)
        size = int(head["ContentLength"])
        etag = head.get("ETag")
        part = self.part_size_for(size)
        n = -(-size // part)

        def fetch(i: int) -> bytes:
            if self.cancelled.is_set():
                raise KeyboardInterrupt
            end = min(size, (i + 1) * part) - 1
            extra = {"IfMatch": etag} if etag else {}
            r = c.get_object(Bucket=bucket, Key=key, Range=f"bytes={i * part}-{end}", **extra)
            body = r["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
            return data

        h = hashlib.sha256()
        window: list[Future[Any]] = []
        nxt = 0
        try:
            while nxt < n and len(window) < self.jobs + 1:
                window.append(self._submit(fetch, nxt))
                nxt += 1
            while window:
                data = _result(window.pop(0))
                if nxt < n:
                    window.append(self._submit(fetch, nxt))
                    nxt += 1
                h.update(data)  # hashed in order, in this thread, while the next parts download
                for s in sinks:
                    s.write(data)
                if progress is not None:
                    progress(len(data))
        except BaseException:
            for f in window:
                f.cancel()
            raise
        return "sha256:" + h.hexdigest(), size


def _result(fut: Future[Any]) -> Any:
    try:
        return fut.result()
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

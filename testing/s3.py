"""A real S3-compatible server for tests: moto's server mode on 127.0.0.1, on a free port.

mreg talks to it exactly as to AWS: s3fs/aiobotocore over HTTP with SigV4, the endpoint taken from
`AWS_ENDPOINT_URL`. A WSGI wrapper records every request (method, path, query) so tests can count
PUTs and GETs, and can inject faults (an error response, or stopping the server mid-upload).

The fixtures `s3` and `s3_server` are registered for every test by the root conftest (`pytest_plugins`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

ACCESS_KEY = "AKIAMREGTESTONLY0001"
SECRET_KEY = "mreg-test-secret-DO-NOT-LEAK-7f3a9c"
REGION = "us-east-1"

Fault = Callable[[str, str, str], "tuple[int, bytes] | None"]


@dataclass
class Request:
    method: str
    path: str
    query: str

    @property
    def is_object_write(self) -> bool:
        """A PUT of object bytes (single PUT or a multipart part), not a bucket or control call."""
        return self.method == "PUT" and self.path.count("/") >= 2

    @property
    def is_object_read(self) -> bool:
        return self.method == "GET" and self.path.count("/") >= 2 and "uploads" not in self.query


@dataclass
class Recorder:
    """WSGI middleware: logs requests; a fault hook may answer a request instead of moto."""

    app: Any
    log: list[Request] = field(default_factory=list)
    fault: Fault | None = None
    after: Callable[[str, str, str], None] | None = None  # runs once moto has answered, before the reply
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(
            environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
        )
        with self.lock:
            self.log.append(req)
        if self.fault is not None:
            answer = self.fault(req.method, req.path, req.query)
            if answer is not None:
                status, body = answer
                environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                start_response(
                    f"{status} Injected",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
                )
                return [body]
        body = self.app(environ, start_response)
        if self.after is not None:
            self.after(req.method, req.path, req.query)
        return body

    def requests(self, bucket: str | None = None) -> list[Request]:
        with self.lock:
            reqs = list(self.log)
        return [r for r in reqs if bucket is None or r.path.startswith(f"/{bucket}")]

    def clear(self) -> None:
        with self.lock:
            self.log.clear()


def _server_class() -> Any:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class RecordingMotoServer(ThreadedMotoServer):  # type: ignore[misc]
        """ThreadedMotoServer with the recorder wrapped around moto's WSGI app."""

        def __init__(self) -> None:
            super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
            self.recorder = Recorder(DomainDispatcherApplication(create_backend_app))

        def _server_entry(self) -> None:
            self._server = make_server(
                self._ip_address, self._port, self.recorder, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

        @property
        def endpoint(self) -> str:
            host, port = self.get_host_and_port()
            return f"http://{host}:{port}"

    return RecordingMotoServer


def start_server() -> Any:
    """A started server (the caller stops it). moto's backend state is per process, shared by servers."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    srv = _server_class()()
    srv.start()
    return srv


@dataclass
class Bucket:
    name: str
    endpoint: str
    server: Any
    client: Any

    @property
    def url(self) -> str:
        return f"s3://{self.name}/team/models"

    @property
    def recorder(self) -> Recorder:
        rec: Recorder = self.server.recorder
        return rec

    def requests(self) -> list[Request]:
        return self.recorder.requests(self.name)

    def object_keys(self) -> list[str]:
        out: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out

    def uploads(self) -> list[dict[str, Any]]:
        return list(self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", []))


def client_for(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def use_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """The standard AWS chain, as a user would set it: dummy keys, region, AWS_ENDPOINT_URL."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def new_bucket(server: Any, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    use_endpoint(monkeypatch, server.endpoint)
    client = client_for(server.endpoint)
    name = f"mreg-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    server.recorder.fault = server.recorder.after = None
    return Bucket(name, server.endpoint, server, client)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[Any]:
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture
def s3(s3_server: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Bucket]:
    """A fresh bucket on the shared loopback server, with the AWS env pointing at it. The test must be
    marked `s3` (so that `-m s3` and `-m "not s3"` select it): testing.fixtures checks the tests that
    name this fixture when they are collected, and this check catches a `request.getfixturevalue("s3")`."""
    assert request.node.get_closest_marker("s3") is not None, (
        f"{request.node.nodeid}: mark it @pytest.mark.s3"
    )
    bucket = new_bucket(s3_server, monkeypatch)
    yield bucket
    s3_server.recorder.fault = s3_server.recorder.after = None

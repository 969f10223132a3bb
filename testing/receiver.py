"""A real HTTP endpoint on 127.0.0.1 for notification tests: it records every request and answers
from a script (`answer(500, 500, 200)`), then 200 "ok" once the script is spent.

Each answer is a status, or (status, headers), or (status, headers, body), or an `Answer` (which can
also wait before answering, to test timeouts). Nothing is mocked: mreg's delivery code talks to this
server through urllib and the loopback interface exactly as it talks to Slack, Teams or a webhook.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds to wait before answering (bounded by the test's timeout)


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with its query
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Serve on 127.0.0.1:<free port> until `stop()`; `url` is its base URL."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def answer(self, *answers: int | tuple[Any, ...] | Answer) -> Receiver:
        with self._lock:
            for a in answers:
                if isinstance(a, Answer):
                    self._script.append(a)
                elif isinstance(a, int):
                    self._script.append(Answer(a, body=b"ok" if a < 300 else b"failed"))
                else:
                    self._script.append(Answer(*a))
        return self

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                receiver._serve(self)

            def do_GET(self) -> None:
                receiver._serve(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(
                Received(h.command, h.path, {k.lower(): v for k, v in h.headers.items()}, body)
            )
            answer = self._script.popleft() if self._script else Answer()
        if answer.delay:
            time.sleep(answer.delay)
        try:
            h.send_response(answer.status)
            for name, value in answer.headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(answer.body)))
            h.end_headers()
            h.wfile.write(answer.body)
        except OSError:  # the client gave up (a timeout test): nothing to answer
            pass

"""A tiny JSON-RPC HTTP server in a thread, for recorded Bitcoin Core answers and for corrupting a real node's.

Each request body (a single JSON-RPC object or a batch list) is passed, one object at a time, to ``handler``,
which returns the response object (``{"result": ...}`` or ``{"error": ...}``; ``id`` and ``jsonrpc`` are
added). Like Bitcoin Core, numbers are serialised exactly: handlers may return ``Decimal`` amounts.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


_MARK = re.compile(r'"\\u0000dec:([-0-9.]+)"')


def dumps(value: Any) -> str:
    """JSON with Decimals written digit for digit (``6.25000000``), as Bitcoin Core prints amounts."""

    def mark(item: Any) -> Any:
        if isinstance(item, Decimal):
            return f"\0dec:{item:f}"
        if isinstance(item, dict):
            return {key: mark(child) for key, child in item.items()}
        if isinstance(item, list):
            return [mark(child) for child in item]
        return item

    return _MARK.sub(lambda match: match.group(1), json.dumps(mark(value)))


class FakeNode:
    """A running server; ``url`` to connect, ``requests`` logs every method asked, ``handler`` is swappable."""

    def __init__(self, handler: Handler, auth: str | None = None) -> None:
        self.handler = handler
        self.auth = auth
        self.requests: list[str] = []
        node = self

        class RequestHandler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if node.auth is not None and self.headers.get("Authorization") != node.auth:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length), parse_float=Decimal)
                items = body if isinstance(body, list) else [body]
                answers = []
                for item in items:
                    node.requests.append(str(item.get("method")))
                    answer = {"jsonrpc": "2.0", "id": item.get("id"), **node.handler(item)}
                    answers.append(answer)
                payload = dumps(answers if isinstance(body, list) else answers[0]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fake_node(handler: Handler, auth: str | None = None) -> Iterator[FakeNode]:
    """A :class:`FakeNode` for the ``with`` block; ``auth``: the exact ``Authorization`` header required."""
    node = FakeNode(handler, auth)
    try:
        yield node
    finally:
        node.close()

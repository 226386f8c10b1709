"""A small JSON-RPC client for Ethereum nodes and Bitcoin Core, with batching, timeouts and retries.

Why not a node library: both nodes speak plain JSON-RPC over HTTP, the ingest needs only a dozen methods, and
owning the client lets every failure become one of the package's errors with the method and block named, which
is what an operator needs to fix a node, a URL or a credential:

- the node cannot be reached (refused, timed out, 502/503/504, Bitcoin Core warming up) after the retries:
  :class:`NodeUnavailableError` (a :class:`~chainsleuth.errors.StorageError`);
- the node answered with a JSON-RPC error: :class:`NodeError` (a ``StorageError``) with its code and message;
- the node answered something that is not JSON-RPC, or a result of the wrong shape:
  :class:`MalformedNodeAnswerError` (an :class:`~chainsleuth.errors.InvalidInputError`).

Responses are parsed with ``parse_float=Decimal`` so that Bitcoin Core's BTC amounts (``6.25000000``) reach the
converter exactly, never as binary floats.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from chainsleuth.errors import InvalidInputError, StorageError

#: JSON-RPC "method not found" (both Ethereum nodes and Bitcoin Core).
METHOD_NOT_FOUND = -32601
#: Bitcoin Core's RPC_IN_WARMUP: the node is starting; worth waiting for like a connection error.
BITCOIN_IN_WARMUP = -28
_RETRY_STATUS = frozenset({502, 503, 504})


class NodeError(StorageError):
    """The node answered a request with a JSON-RPC error (``code`` and the node's message are kept)."""

    code = "node_error"

    def __init__(self, message: str, *, rpc_code: int | None, **details: Any) -> None:
        super().__init__(message, rpc_code=rpc_code, **details)
        self.rpc_code = rpc_code


class NodeUnavailableError(StorageError):
    """The node could not be reached (or kept failing) after every retry."""

    code = "node_unavailable"


class MalformedNodeAnswerError(InvalidInputError):
    """The node's answer is not what the method returns (missing field, wrong type, not JSON-RPC)."""

    code = "malformed_node_answer"


@dataclass(frozen=True)
class Call:
    """One JSON-RPC request of a batch; ``block`` (height or hash) only labels errors."""

    method: str
    params: Sequence[Any]
    block: int | str | None = None


@dataclass(frozen=True)
class Failure:
    """A JSON-RPC error answer kept as a value (for callers that fall back, e.g. receipts per transaction)."""

    call: Call
    rpc_code: int | None
    message: str

    def error(self) -> NodeError:
        return NodeError(
            f"node error on {self.call.method}: {self.message}",
            rpc_code=self.rpc_code,
            method=self.call.method,
            block=self.call.block,
        )


def cookie_auth(path: Path) -> tuple[str, str]:
    """User and password from a Bitcoin Core ``.cookie`` file (``__cookie__:<hex>``)."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise InvalidInputError(f"cannot read the node's cookie file: {error}", path=str(path)) from error
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise InvalidInputError("cookie file is not of the form user:password", path=str(path))
    return user, password


class JsonRpcClient:
    """JSON-RPC 2.0 over HTTP(S) with batch requests; one instance per node, reusing one connection pool."""

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError("node URL must start with http:// or https://", url=url)
        self.url = url
        self.retries = retries
        self.backoff = backoff
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers)
        self._next_id = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JsonRpcClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- public calls ----------------------------------------------------------------------------------------

    def call(self, method: str, params: Sequence[Any] = (), *, block: int | str | None = None) -> Any:
        """One request; a node error raises :class:`NodeError` naming ``method`` and ``block``."""
        return self.batch([Call(method, params, block)])[0]

    def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Many requests in one HTTP round trip; results in call order; the first error raises."""
        results = self.batch_results(calls)
        for result in results:
            if isinstance(result, Failure):
                raise result.error()
        return results

    def batch_results(self, calls: Sequence[Call]) -> list[Any]:
        """Like :meth:`batch` but node errors come back as :class:`Failure` values in their slot."""
        if not calls:
            return []
        first = self._next_id
        self._next_id += len(calls)
        payload = [
            {"jsonrpc": "2.0", "id": first + position, "method": call.method, "params": list(call.params)}
            for position, call in enumerate(calls)
        ]
        answers = self._post(payload, calls)
        by_id: dict[int, dict[str, Any]] = {}
        for answer in answers:
            if not isinstance(answer, dict) or not isinstance(answer.get("id"), int):
                raise self._malformed(calls[0], "batch answer element is not a JSON-RPC response")
            by_id[answer["id"]] = answer
        results: list[Any] = []
        for position, call in enumerate(calls):
            answer = by_id.get(first + position)
            if answer is None:
                raise self._malformed(call, "the node did not answer this request of the batch")
            error = answer.get("error")
            if error is not None:
                code = error.get("code") if isinstance(error, dict) else None
                text = error.get("message") if isinstance(error, dict) else str(error)
                results.append(Failure(call, code if isinstance(code, int) else None, str(text)))
            elif "result" not in answer:
                raise self._malformed(call, "JSON-RPC response has neither result nor error")
            else:
                results.append(answer["result"])
        return results

    # -- transport -------------------------------------------------------------------------------------------

    def _malformed(self, call: Call, message: str) -> MalformedNodeAnswerError:
        return MalformedNodeAnswerError(message, method=call.method, block=call.block, url=self.url)

    def _post(self, payload: list[dict[str, Any]], calls: Sequence[Call]) -> list[Any]:
        """POST with retries on connection problems; returns the list of JSON-RPC answers."""
        body = json.dumps(payload)
        label = calls[0] if len(calls) == 1 else Call(f"batch of {len(calls)} starting with {calls[0].method}", ())
        delay = self.backoff
        last_problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            try:
                response = self._http.post(self.url, content=body)
            except httpx.TransportError as error:
                last_problem = f"{type(error).__name__}: {error}"
                continue
            if response.status_code in (401, 403):
                raise StorageError(
                    "the node rejected the credentials (check --user/--password or --cookie)",
                    url=self.url,
                    status=response.status_code,
                )
            if response.status_code in _RETRY_STATUS:
                last_problem = f"HTTP {response.status_code}"
                continue
            try:
                data = json.loads(response.content, parse_float=Decimal)
            except ValueError:
                raise self._malformed(
                    label, f"the node answered HTTP {response.status_code} with a body that is not JSON"
                ) from None
            answers = data if isinstance(data, list) else [data]
            if _warming_up(answers):
                last_problem = "node is warming up"
                continue
            if isinstance(data, dict) and data.get("error") is not None and data.get("id") is None:
                # The whole request was refused (parse error, batch not supported...): every call failed.
                return [{"id": int(p["id"]), "error": data["error"]} for p in payload]
            if len(calls) > 1 and not isinstance(data, list):
                raise self._malformed(label, "a batch request was not answered with a list")
            return answers
        raise NodeUnavailableError(
            f"cannot reach the node after {self.retries + 1} attempts ({last_problem})",
            url=self.url,
            method=label.method,
            block=label.block,
        )


def _warming_up(answers: list[Any]) -> bool:
    return any(
        isinstance(answer, dict)
        and isinstance(answer.get("error"), dict)
        and answer["error"].get("code") == BITCOIN_IN_WARMUP
        for answer in answers
    )

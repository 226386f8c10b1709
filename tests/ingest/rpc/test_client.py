"""The JSON-RPC client's handling of flaky and misbehaving nodes (HTTP answers scripted with httpx's mock
transport: these are transport-level situations a real node cannot be made to produce on demand)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from chainsleuth.ingest.rpc.client import (
    Call,
    Failure,
    JsonRpcClient,
    MalformedNodeAnswerError,
    NodeError,
    NodeUnavailableError,
)


def scripted(responses: list[Callable[[list[dict[str, Any]]], httpx.Response]]) -> JsonRpcClient:
    """A client whose successive HTTP requests get the successive scripted responses."""
    client = JsonRpcClient("http://node.invalid:8332", retries=3, backoff=0.001)
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        return queue.pop(0)(json.loads(request.content))

    client._http = httpx.Client(transport=httpx.MockTransport(handle))
    return client


def ok(result: object) -> Callable[[list[dict[str, Any]]], httpx.Response]:
    return lambda body: httpx.Response(200, json=[{"id": item["id"], "result": result} for item in body])


def test_retries_outages_and_warmup_then_answers_exact_decimals() -> None:
    warmup = {"code": -28, "message": "Loading block index…"}
    client = scripted(
        [
            lambda body: httpx.Response(503),
            lambda body: httpx.Response(200, json=[{"id": body[0]["id"], "result": None, "error": warmup}]),
            lambda body: httpx.Response(200, content=b'[{"id": %d, "result": 6.25000000}]' % int(body[0]["id"])),
        ]
    )
    assert client.call("getblockcount") == Decimal("6.25000000")


def test_gives_up_after_the_retries() -> None:
    client = scripted([lambda body: httpx.Response(502)] * 4)
    with pytest.raises(NodeUnavailableError, match=r"after 4 attempts \(HTTP 502\)"):
        client.call("getblockhash", [5], block=5)


def test_node_errors_name_method_and_block() -> None:
    refused = {"code": -32601, "message": "Method not found"}
    client = scripted(
        [
            lambda body: httpx.Response(404, json={"id": None, "error": refused}),
            lambda body: httpx.Response(200, json=[{"id": item["id"], "error": refused} for item in body]),
            lambda body: httpx.Response(500, content=b"<html>oops</html>"),
        ]
    )
    with pytest.raises(NodeError, match="Method not found") as error:
        client.call("getblock", ["00"], block=7)
    assert error.value.details == {"rpc_code": -32601, "method": "getblock", "block": 7}
    [failure] = client.batch_results([Call("eth_getBlockReceipts", ["0x1"], 1)])
    assert isinstance(failure, Failure)
    assert failure.rpc_code == -32601
    with pytest.raises(MalformedNodeAnswerError, match="not JSON"):
        client.call("eth_blockNumber")


def test_batch_answers_are_matched_by_id() -> None:
    client = scripted(
        [
            lambda body: httpx.Response(
                200, json=[{"id": item["id"], "result": item["params"]} for item in reversed(body)]
            )
        ]
    )
    assert client.batch([Call("m", [1]), Call("m", [2]), Call("m", [3])]) == [[1], [2], [3]]
    missing = scripted([lambda body: httpx.Response(200, json=[{"id": body[0]["id"], "result": 1}])])
    with pytest.raises(MalformedNodeAnswerError, match="did not answer"):
        missing.batch([Call("m", [1]), Call("m", [2], 9)])

"""The one error table: every RivetQ error code reaches a gRPC client as its status code,
with the stable code (and the field) in the trailing metadata."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from rivetq.errors import InvalidArgument, RivetQError, error_for_code
from rivetq.server.grpc.errors import ERROR_CODE_KEY, ERROR_FIELD_KEY, maps_errors, maps_stream_errors

EXPECTED = {
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
    "job_not_found": grpc.StatusCode.NOT_FOUND,
    "queue_not_found": grpc.StatusCode.NOT_FOUND,
    "lease_lost": grpc.StatusCode.FAILED_PRECONDITION,
    "state_conflict": grpc.StatusCode.FAILED_PRECONDITION,
    "payload_too_large": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "storage_unavailable": grpc.StatusCode.UNAVAILABLE,
    "storage_corrupt": grpc.StatusCode.DATA_LOSS,
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "no_such_code": grpc.StatusCode.INTERNAL,
}


class _Raiser:
    """Raises the error whose code is the request (the bytes of the code)."""

    @maps_errors
    async def unary(self, request: bytes, context: Any) -> bytes:
        raise _error(request)

    @maps_stream_errors
    async def stream(self, request: bytes, context: Any) -> AsyncIterator[bytes]:
        yield b"first"
        raise _error(request)


def _error(request: bytes) -> RivetQError:
    code = request.decode()
    if code == "invalid_argument":
        return InvalidArgument("queue name is bad", field="queue")
    return error_for_code(code, f"failed with {code}")


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    raiser = _Raiser()
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(functools.partial(_Raiser.unary, raiser)),
        "Stream": grpc.unary_stream_rpc_method_handler(functools.partial(_Raiser.stream, raiser)),
    }
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Raiser", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await server.stop(None)


def _trailers(metadata: Any) -> dict[str, str]:
    return {key: str(value) for key, value in metadata or ()}


@pytest.mark.parametrize(("code", "status"), sorted(EXPECTED.items()))
async def test_errors_unary_maps_code_to_status(channel: grpc.aio.Channel, code: str, status: grpc.StatusCode) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.unary_unary("/test.Raiser/Unary")(code.encode())
    assert caught.value.code() == status
    expected_code = code if status != grpc.StatusCode.INTERNAL else "internal"
    assert _trailers(caught.value.trailing_metadata())[ERROR_CODE_KEY] == expected_code


async def test_errors_carry_message_and_field(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.unary_unary("/test.Raiser/Unary")(b"invalid_argument")
    assert caught.value.details() == "queue name is bad"
    assert _trailers(caught.value.trailing_metadata())[ERROR_FIELD_KEY] == "queue"


@pytest.mark.parametrize("code", ["lease_lost", "storage_unavailable"])
async def test_errors_stream_maps_code_after_messages(channel: grpc.aio.Channel, code: str) -> None:
    call = channel.unary_stream("/test.Raiser/Stream")(code.encode())
    assert [message async for message in _until_error(call)] == [b"first"]
    assert await call.code() == EXPECTED[code]
    assert _trailers(await call.trailing_metadata())[ERROR_CODE_KEY] == code


async def _until_error(call: Any) -> AsyncIterator[bytes]:
    try:
        async for message in call:
            yield message
    except grpc.aio.AioRpcError:
        return

"""Rebuilding a method handler around new behaviour, for the interceptors: the RivetQ
service has unary and server-streaming RPCs only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

__all__ = ["Handler", "Interceptor", "Wrapper", "wrapped"]

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    Interceptor = grpc.aio.ServerInterceptor

Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]


def wrapped(handler: Handler, *, unary: Wrapper, stream: Wrapper) -> Handler:
    """``handler`` with its behaviour passed through ``unary`` or ``stream``."""
    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(stream(handler.unary_stream), **serializers)
    assert handler.unary_unary is not None, "the RivetQ service has unary and server-streaming RPCs only"
    return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **serializers)

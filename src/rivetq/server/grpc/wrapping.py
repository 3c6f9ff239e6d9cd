"""Rebuilding a method handler around new behaviour, for the interceptors: the RivetQ
service has unary and server-streaming RPCs, reflection one bidirectional stream.
``WrappingInterceptor`` does it once per method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

__all__ = ["Handler", "Interceptor", "Wrapper", "WrappingInterceptor", "wrapped"]

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    Interceptor = grpc.aio.ServerInterceptor

Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]


def wrapped(handler: Handler, *, unary: Wrapper, stream: Wrapper) -> Handler:
    """``handler`` with its behaviour passed through ``unary`` or, for a call that answers
    with a stream, ``stream`` (which gets the request, or the requests' iterator)."""
    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(stream(handler.unary_stream), **serializers)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(stream(handler.stream_stream), **serializers)
    assert handler.unary_unary is not None, "no service here has client-streaming RPCs"
    return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **serializers)


class WrappingInterceptor(Interceptor):
    """An interceptor that rebuilds each method's handler once (``wrap``) and reuses it."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def wrap(self, method: str, handler: Handler) -> Handler:
        """The handler to serve ``method`` with (``handler`` itself to leave it alone)."""
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        method: str = handler_call_details.method
        cached = self._handlers.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None:  # an unknown method: grpc answers UNIMPLEMENTED
            return handler
        self._handlers[method] = served = self.wrap(method, handler)
        return served

"""The gRPC edge (``rivetq.v1.RivetQ``), served from the same event loop as REST.

Exports load on first use, so that the SDK's gRPC client can import the generated
messages in ``_pb`` with only grpcio and protobuf installed (the ``rivetq[grpc]`` extra)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivetq.server.grpc.server import GrpcOptions, GrpcServer, grpc_options, start_grpc_server

__all__ = ["GrpcOptions", "GrpcServer", "grpc_options", "start_grpc_server"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("rivetq.server.grpc.server"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The owner's call table, read off ``QueueService``'s signatures: each async method is
one call, with a Struct of its parameters (encoded as a JSON array) and its result type
(msgpack). Adding a method to the protocol adds the call; nothing is listed twice.

The parameter Structs drop the constraints of the REST types (``wire.EnqueueRequest``'s
priority bounds and the like): the owner's manager validates every value itself and
names the field as it does in one process, so a bad value from gRPC gets the same
error through a front.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from rivetq.service import QueueService, StorageView

__all__ = ["CALLS", "CALLS_BY_NAME", "Call"]


@dataclass(frozen=True)
class Call:
    index: int
    name: str
    params: type[msgspec.Struct]
    params_decoder: msgspec.json.Decoder[Any]
    result_decoder: msgspec.msgpack.Decoder[Any]


_loose_structs: dict[type, type] = {}


def _loose(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` constraints, Structs replaced by unconstrained
    copies (same field names and defaults)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _loose(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct) and _constrained(annotation):
        return _loose_struct(annotation)
    if origin is None:
        return annotation
    args = tuple(_loose(arg) for arg in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return typing.Union[args]  # noqa: UP007 - built from a runtime tuple
    if origin is Sequence:
        return list[args]  # type: ignore[valid-type]
    return origin[args]


def _constrained(struct: type[msgspec.Struct]) -> bool:
    hints = typing.get_type_hints(struct, include_extras=True)
    return any(_loose(hint) != hint for hint in hints.values())


def _loose_struct(struct: type[msgspec.Struct]) -> type:
    if struct not in _loose_structs:
        hints = typing.get_type_hints(struct, include_extras=True)
        fields: list[Any] = []
        for field in msgspec.structs.fields(struct):
            loose = _loose(hints[field.name])
            if field.default is not msgspec.NODEFAULT:
                fields.append((field.name, loose, field.default))
            elif field.default_factory is not msgspec.NODEFAULT:
                fields.append((field.name, loose, msgspec.field(default_factory=field.default_factory)))
            else:
                fields.append((field.name, loose))
        _loose_structs[struct] = msgspec.defstruct(f"Loose{struct.__name__}", fields, kw_only=True, omit_defaults=True)
    return _loose_structs[struct]


def _call(index: int, name: str, method: Any) -> Call:
    hints = typing.get_type_hints(method)
    signature = inspect.signature(method)
    fields: list[Any] = []
    for parameter in list(signature.parameters.values())[1:]:  # past self
        loose = _loose(hints[parameter.name])
        if parameter.default is inspect.Parameter.empty:
            fields.append((parameter.name, loose))
        else:
            fields.append((parameter.name, loose, parameter.default))
    params = msgspec.defstruct(f"{name}_params", fields, array_like=True)
    return Call(
        index,
        name,
        params,
        msgspec.json.Decoder(params),
        msgspec.msgpack.Decoder(hints["return"]),
    )


def _async_methods(protocol: type) -> list[tuple[str, Any]]:
    return [
        (name, member)
        for name, member in vars(protocol).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    ]


CALLS: Final = tuple(
    _call(index, name, method)
    for index, (name, method) in enumerate([*_async_methods(QueueService), *_async_methods(StorageView)])
)
CALLS_BY_NAME: Final = {call.name: call for call in CALLS}

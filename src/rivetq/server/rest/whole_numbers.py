"""Integral floats for integer fields: JSON Schema counts ``30000.0`` as an integer, and
some generated clients send one. msgspec refuses it in strict mode, and its lax mode
would also take strings (``"30000"``), so the body's integer fields are rewritten, guided
by the target type, and decoded strictly again. Everything else stays byte for byte as
sent: a job's payload is never touched, and strings and fractions are still refused."""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation

import msgspec
from msgspec import inspect

__all__ = ["integral_floats_as_ints"]

_MAX_EXPONENT = 20  # beyond any 64-bit integer field: left for the decoder to refuse
_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_encode = msgspec.json.encode


def integral_floats_as_ints(body: bytes, target: type) -> bytes | None:
    """``body`` with every integral float in an integer field of ``target`` written as an
    integer, or None when the body's shape does not follow ``target`` (its decode error
    stands)."""
    try:
        return _rewrite(body.strip(), _type_info(target))
    except msgspec.DecodeError:
        return None


@functools.cache
def _type_info(target: type) -> inspect.Type:
    return inspect.type_info(target)


def _rewrite(raw: bytes, info: inspect.Type) -> bytes:
    if isinstance(info, inspect.UnionType):
        info = _member_for(raw, info)
    if isinstance(info, inspect.IntType):
        return _as_int(raw)
    if isinstance(info, inspect.StructType) and raw.startswith(b"{"):
        return _rewrite_object(raw, {field.encode_name: field.type for field in info.fields})
    if isinstance(info, inspect.ListType) and raw.startswith(b"["):
        items = [_rewrite(bytes(item), info.item_type) for item in _ARRAY.decode(raw)]
        return b"[" + b",".join(items) + b"]"
    return raw


def _member_for(raw: bytes, union: inspect.UnionType) -> inspect.Type:
    """The member of an optional field's union that a value of this kind would decode as."""
    wanted: tuple[type[inspect.Type], ...] = (inspect.IntType,)
    if raw.startswith(b"{"):
        wanted = (inspect.StructType,)
    elif raw.startswith(b"["):
        wanted = (inspect.ListType,)
    return next((member for member in union.types if isinstance(member, wanted)), union)


def _rewrite_object(raw: bytes, fields: dict[str, inspect.Type]) -> bytes:
    members = []
    for name, value in _OBJECT.decode(raw).items():
        field = fields.get(name)
        text = bytes(value)
        members.append(_encode(name) + b":" + (text if field is None else _rewrite(text, field)))
    return b"{" + b",".join(members) + b"}"


def _as_int(raw: bytes) -> bytes:
    if not raw[-1:].isdigit() or not any(mark in raw for mark in b".eE"):
        return raw
    try:
        number = Decimal(raw.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        return raw
    if not number.is_finite() or number.adjusted() > _MAX_EXPONENT or number != number.to_integral_value():
        return raw
    return str(int(number)).encode()

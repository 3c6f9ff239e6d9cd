"""What every rivetqctl command shares: the server connection (made on first use, so
``--help`` never loads the HTTP client), ``--json`` output, the one-line error format,
and the human output style: an action prints one sentence saying what it did to what
(``acked job 01…``, ``requeued 2 dead jobs of queue emails``), a listing a table or
``no <things>`` when empty, one object ``name  value`` rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click
import msgspec

from rivetq import wire
from rivetq.errors import RivetQError

if TYPE_CHECKING:
    from rivetq.client import Client

__all__ = [
    "CtlError",
    "CtlGroup",
    "CtlState",
    "counted",
    "emit",
    "human_text",
    "json_option",
    "pass_state",
    "payload_text",
    "print_record",
    "print_rows",
    "print_table",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CtlState:
    server: str
    token: str | None
    json: bool = False
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            from rivetq.client import Client

            self._client = Client(self.server, token=self.token)
            click.get_current_context().call_on_close(self._client.close)
        return self._client


pass_state = click.make_pass_decorator(CtlState)


class CtlError(click.ClickException):
    """An API error as one line on stderr (``error: lease_lost: ...``), exit status 1."""

    def __init__(self, error: RivetQError) -> None:
        super().__init__(f"{error.code}: {error.message}")

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class CtlGroup(click.Group):
    """Turns RivetQ errors raised by any subcommand into ``CtlError``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RivetQError as error:
            raise CtlError(error) from error


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        state = ctx.find_object(CtlState)
        if state is not None:
            state.json = True


def json_option(command: F) -> F:
    """``--json`` after the subcommand, like the global one before it."""
    option = click.option(
        "--json", "json_output", is_flag=True, expose_value=False, callback=_set_json, help="Print JSON for scripts."
    )
    return option(command)


def payload_text(payload: Any) -> str:
    return msgspec.json.encode(payload).decode()


def emit(state: CtlState, value: Any, human: Callable[[], None]) -> None:
    """Print ``value`` as JSON with ``--json``, else call ``human`` to print it for people."""
    if state.json:
        click.echo(msgspec.json.encode(_api_times(msgspec.to_builtins(value, builtin_types=(datetime,)))).decode())
    else:
        human()


def _api_times(value: Any) -> Any:
    """Times written as the REST API writes them (milliseconds, ``Z``)."""
    if isinstance(value, datetime):
        return wire.rfc3339_text(value)
    if isinstance(value, dict):
        return {key: _api_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_api_times(item) for item in value]
    return value


def human_text(value: object) -> str:
    """A value as the human output shows it: times as the API writes them, flags as
    ``yes``/``no``, nothing as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(_api_times(value))


def counted(count: int, noun: str) -> str:
    """``1 job``, ``2 jobs``, ``0 jobs``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> None:
    """Rows under their headers, or the sentence ``empty`` (``no jobs``) when there are none."""
    if not rows:
        click.echo(empty)
        return
    cells = [[human_text(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def print_rows(pairs: Sequence[tuple[str, object]]) -> None:
    """A two-column ``name  value`` listing (one object)."""
    width = max(len(name) for name, _ in pairs)
    for name, value in pairs:
        click.echo(f"{name.ljust(width)}  {human_text(value)}")


def print_record(record: Any, json_fields: Sequence[str]) -> None:
    """A msgspec Struct's fields as rows, ``json_fields`` last and as JSON."""
    fields = [(name, getattr(record, name)) for name in record.__struct_fields__ if name not in json_fields]
    print_rows([*fields, *((name, payload_text(getattr(record, name))) for name in json_fields)])

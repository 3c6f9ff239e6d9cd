"""Profiling endpoints under ``/debug/`` (only with ``server.debug_endpoints: true``;
guarded by auth like the API): stacks of threads and asyncio tasks, and a tracemalloc
summary of where memory was allocated since tracing started."""

from __future__ import annotations

import asyncio
import io
import linecache
import sys
import threading
import traceback
import tracemalloc

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["debug_routes"]

_TOP_ALLOCATIONS = 25


async def _stacks(request: Request) -> Response:
    out = io.StringIO()
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        out.write(f"--- thread {names.get(ident, ident)}\n{''.join(traceback.format_stack(frame))}\n")
    for task in asyncio.all_tasks():
        out.write(f"--- task {task.get_name()} ({task.get_coro()!r})\n{_task_stack(task)}\n")
    return PlainTextResponse(out.getvalue())


def _task_stack(task: asyncio.Task[object]) -> str:
    """``Task.print_stack`` without its failure on frames that have no line number (those
    of grpc's Cython coroutines)."""
    lines = []
    for frame in task.get_stack():
        code, lineno = frame.f_code, frame.f_lineno
        lines.append(f'  File "{code.co_filename}", line {lineno}, in {code.co_name}\n')
        if lineno is not None and (source := linecache.getline(code.co_filename, lineno, frame.f_globals).strip()):
            lines.append(f"    {source}\n")
    return "".join(lines)


async def _start_tracemalloc(request: Request) -> Response:
    """A POST, not a GET: tracing slows every request until a restart, and another site's
    page can make a browser GET any URL (an <img>), never POST JSON."""
    if not tracemalloc.is_tracing():
        tracemalloc.start()
    return PlainTextResponse("tracemalloc is tracing; GET /debug/tracemalloc for the allocations since it started\n")


async def _tracemalloc(request: Request) -> Response:
    if not tracemalloc.is_tracing():
        return PlainTextResponse("tracemalloc is off; POST /debug/tracemalloc starts it (it slows every request)\n")
    snapshot = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    lines = [f"traced: {current / 1e6:.1f} MB now, {peak / 1e6:.1f} MB peak", ""]
    lines += [str(stat) for stat in snapshot.statistics("lineno")[:_TOP_ALLOCATIONS]]
    return PlainTextResponse("\n".join(lines) + "\n")


def debug_routes() -> list[BaseRoute]:
    return [
        Route("/debug/stacks", _stacks, methods=["GET"]),
        Route("/debug/tracemalloc", _tracemalloc, methods=["GET"]),
        Route("/debug/tracemalloc", _start_tracemalloc, methods=["POST"]),
    ]

"""Fuzz every documented operation with schemathesis (inputs that fit the schema and
inputs that break it) against a real rivetqd on the memory backend: no input may
produce a 5xx or take the server down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis import GenerationMode

from tests.e2e.server import RunningServer, start_server

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION_AND_MODE = 20


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    with start_server(directory, "--storage-backend", "memory", "--log-level", "warning", grpc=False) as server:
        yield server


def _operations(server: RunningServer) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def _short_long_poll(case: schemathesis.Case) -> schemathesis.Case:
    """Long-polls on empty queues would wait up to 20 s each; 50 ms exercises the same path."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("wait_ms"), int) and not isinstance(body["wait_ms"], bool):
        body["wait_ms"] = min(body["wait_ms"], 50)
    return case


def _has_inputs(operation: schemathesis.APIOperation) -> bool:
    return bool(operation.body or operation.path_parameters or operation.query)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_never_answers_5xx(fuzz_server: RunningServer, mode: GenerationMode) -> None:
    operations = _operations(fuzz_server)
    assert len(operations) == 36  # 24, + delete queue, + concurrency limit set/get/delete, + 7 schedules, + backup
    with requests.Session() as session:
        for operation in operations:
            if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
                continue  # nothing to break: GET /v1/queues takes no input

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode).map(_short_long_poll))
            @hypothesis.settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            def no_server_error(case: schemathesis.Case) -> None:
                response = case.call(base_url=fuzz_server.url, session=session, timeout=30)
                assert response.status_code < 500, f"{case.as_curl_command()}\n{response.status_code} {response.text}"

            no_server_error()
    assert fuzz_server.returncode is None

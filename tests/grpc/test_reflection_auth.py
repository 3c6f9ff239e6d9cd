"""Server reflection (what grpcurl lists), the bearer-token gate and TLS."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from rivetq.server.grpc._pb import rivetq_pb2 as pb
from rivetq.server.grpc._pb import rivetq_pb2_grpc as pb_grpc
from rivetq.server.grpc.auth import loopback_check
from rivetq.server.grpc.server import GrpcOptions
from tests.e2e.server import start_server

TOKEN = "s3cret-token"
StartServer = Callable[[GrpcOptions], Any]


def _reflect(target: str) -> tuple[list[str], list[str]]:
    with grpc.insecure_channel(target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(database.get_services())
        service = DescriptorPool(database).FindServiceByName("rivetq.v1.RivetQ")
        return services, sorted(method.name for method in service.methods)


async def test_reflection_lists_the_service_and_every_method(grpc_target: str) -> None:
    services, methods = await asyncio.to_thread(_reflect, grpc_target)
    assert "rivetq.v1.RivetQ" in services and "grpc.reflection.v1alpha.ServerReflection" in services
    expected = sorted(method.name for method in pb.DESCRIPTOR.services_by_name["RivetQ"].methods)
    assert methods == expected
    assert len(methods) == 37  # 25, + DeleteQueue, + Set/Get/DeleteConcurrencyLimit, + 7 schedule RPCs, + Backup


@pytest.fixture(scope="module")
def token_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"RIVETQ_AUTH_TOKENS": f"other,{TOKEN}"}
    with start_server(tmp_path_factory.mktemp("rivetqd-auth"), "--storage-backend", "memory", env=env) as server:
        assert server.grpc_target is not None
        yield server.grpc_target


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer wrong"),), (("authorization", TOKEN),)])
async def test_auth_refuses_calls_without_the_right_token(token_target: str, metadata: tuple[Any, ...]) -> None:
    async with grpc.aio.insecure_channel(token_target) as channel:
        stub = pb_grpc.RivetQStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListQueues(pb.ListQueuesRequest(), metadata=metadata)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stream = stub.StreamLease(pb.StreamLeaseRequest(queue="q"), metadata=metadata)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stream.read()
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_auth_accepts_the_right_token_and_leaves_reflection_open(token_target: str) -> None:
    async with grpc.aio.insecure_channel(token_target) as channel:
        stub = pb_grpc.RivetQStub(channel)
        metadata = (("authorization", f"Bearer {TOKEN}"),)
        await stub.Enqueue(pb.EnqueueRequest(queue="auth", payload=b"1"), metadata=metadata)
        assert [q.name for q in (await stub.ListQueues(pb.ListQueuesRequest(), metadata=metadata)).queues] == ["auth"]
        for scheme in ("bearer", "BEARER"):  # case-insensitive, as over REST (RFC 7235)
            await stub.ListQueues(pb.ListQueuesRequest(), metadata=(("authorization", f"{scheme} {TOKEN}"),))
    services, _ = await asyncio.to_thread(_reflect, token_target)
    assert "rivetq.v1.RivetQ" in services


class _Peer:
    def __init__(self, peer: str) -> None:
        self._peer = peer

    def peer(self) -> str:
        return self._peer


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        ("ipv4:127.0.0.1:5000", True),
        ("ipv6:[::1]:5000", True),
        ("ipv6:%5B::1%5D:5000", True),
        ("ipv6:%5B2001:db8::1%5D:5000", False),
        ("ipv6:[::ffff:127.0.0.1]:5000", True),
        ("unix:/tmp/rivetq.sock", True),
        ("ipv4:10.1.2.3:5000", False),
        ("ipv6:[2001:db8::1]:5000", False),
    ],
)
def test_protected_mode_answers_only_loopback_peers(peer: str, allowed: bool) -> None:
    assert (loopback_check(_Peer(peer)) is None) == allowed  # type: ignore[arg-type]


@pytest.mark.parametrize(("addr", "target"), [("0.0.0.0", "127.0.0.1"), ("[::]", "[::1]")], ids=["ipv4", "ipv6"])
async def test_protected_mode_lets_loopback_clients_in(start_grpc: StartServer, addr: str, target: str) -> None:
    server = await start_grpc(GrpcOptions(addr=f"{addr}:0"))
    async with grpc.aio.insecure_channel(f"{target}:{server.port}") as channel:
        await pb_grpc.RivetQStub(channel).ListQueues(pb.ListQueuesRequest())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_serves_only_tls_clients(start_grpc: StartServer, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = await start_grpc(GrpcOptions(addr="127.0.0.1:0", tls_cert_file=str(cert), tls_key_file=str(key)))
    target = f"127.0.0.1:{server.port}"
    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    async with grpc.aio.secure_channel(target, credentials) as channel:
        await pb_grpc.RivetQStub(channel).ListQueues(pb.ListQueuesRequest())
    async with grpc.aio.insecure_channel(target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.RivetQStub(channel).ListQueues(pb.ListQueuesRequest(), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

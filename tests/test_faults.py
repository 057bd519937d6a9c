"""Dependencies that fail: Redis stopped or frozen, the gateway stopped or frozen."""

import os
import signal
import threading
import time

import grpc
import pytest

from conftest import LOS_ANGELES_1990, AdminClient, bearer, error_reason, http, start_mesh
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc

pytestmark = pytest.mark.integration

VECTORS = "/v1/telemetry/vectors?" + LOS_ANGELES_1990
REQUEST = telemetry_pb2.GetVectorsRequest(date="1990-01-15", time="14:30", lat=34.05, lon=-118.24)


def grpc_call(mesh, key):
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.public}") as channel:
        return telemetry_pb2_grpc.TelemetryServiceStub(channel).GetVectors(REQUEST, metadata=[("x-api-key", key)], timeout=10)


def eventually(check, seconds: float = 10.0):
    """Retries check() until it returns a truthy value or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_redis_stopped_gives_503_then_service_resumes(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    assert http(mesh, VECTORS, bearer(key)).status == 200

    mesh.stop_process("redis")
    try:
        started = time.monotonic()
        reply = http(mesh, VECTORS, bearer(key))
        elapsed = time.monotonic() - started
        with pytest.raises(grpc.RpcError) as raised:
            grpc_call(mesh, key)
    finally:
        mesh.start_redis()
        mesh.wait_ready()

    assert reply.status == 503
    assert reply.reason() == "REDIS_UNAVAILABLE"
    assert reply.headers["retry-after"] == "1"
    assert reply.detail("RetryInfo")["retry_delay"] == "1s"
    assert elapsed < 5
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_reason(raised.value) == "REDIS_UNAVAILABLE"
    assert eventually(lambda: http(mesh, VECTORS, bearer(key)).status == 200)
    # The append-only file kept the account's use across the restart.
    assert admin.used(account_id) >= 2


def private_mesh(var, gateways: int):
    """Starts a mesh of its own, for tests that stop or freeze its processes."""
    running = start_mesh(var, gateways)
    yield running
    for process in running.processes.values():
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
    running.stop()


@pytest.fixture
def small_mesh(tmp_path):
    yield from private_mesh(tmp_path, gateways=1)


def test_gateway_stopped_gives_503_with_retry_after(small_mesh):
    admin = AdminClient(small_mesh)
    _, _, key = admin.account_with_key("pro")
    small_mesh.stop_process("gateway-0")

    reply = http(small_mesh, VECTORS, bearer(key))
    with pytest.raises(grpc.RpcError) as raised:
        grpc_call(small_mesh, key)

    assert reply.status == 503
    assert reply.json()["code"] == 14
    assert reply.reason() == "AUTHORIZATION_UNAVAILABLE"
    assert reply.headers["retry-after"] == "1"
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_frozen_gateway_gives_503_within_the_timeout(small_mesh):
    admin = AdminClient(small_mesh)
    _, _, key = admin.account_with_key("pro")
    assert http(small_mesh, VECTORS, bearer(key)).status == 200
    gateway = small_mesh.processes["gateway-0"]

    os.kill(gateway.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        reply = http(small_mesh, VECTORS, bearer(key))
        elapsed = time.monotonic() - started
    finally:
        os.kill(gateway.pid, signal.SIGCONT)

    assert reply.status == 503
    assert reply.reason() == "AUTHORIZATION_UNAVAILABLE"
    assert elapsed < 5
    assert eventually(lambda: http(small_mesh, VECTORS, bearer(key)).status == 200)


def test_frozen_redis_gives_503_and_charges_nothing(small_mesh):
    admin = AdminClient(small_mesh)
    account_id, _, key = admin.account_with_key("pro")
    assert http(small_mesh, VECTORS, bearer(key)).status == 200
    redis_process = small_mesh.processes["redis"]

    os.kill(redis_process.pid, signal.SIGSTOP)
    try:
        replies = [http(small_mesh, VECTORS, bearer(key)) for _ in range(3)]
        time.sleep(1.5)
    finally:
        os.kill(redis_process.pid, signal.SIGCONT)

    assert [r.status for r in replies] == [503, 503, 503]
    assert {r.reason() for r in replies} <= {"REDIS_UNAVAILABLE", "AUTHORIZATION_UNAVAILABLE"}
    assert eventually(lambda: http(small_mesh, VECTORS, bearer(key)).status == 200)
    # Redis ran the queued scripts after it resumed, past their deadlines,
    # so only the calls before and after the freeze were charged.
    assert admin.used(account_id) == 2


def test_telemetry_stopped_gives_503_in_the_shared_shape(small_mesh):
    admin = AdminClient(small_mesh)
    _, _, key = admin.account_with_key("pro")
    small_mesh.stop_process("telemetry-0")

    reply = http(small_mesh, VECTORS, bearer(key))

    assert reply.status == 503
    assert reply.reason() == "SERVICE_UNAVAILABLE"
    assert reply.headers["retry-after"] == "1"


@pytest.fixture
def two_gateway_mesh(tmp_path):
    yield from private_mesh(tmp_path, gateways=2)


def test_frozen_gateway_replica_leaves_the_rotation(two_gateway_mesh):
    admin = AdminClient(two_gateway_mesh)
    _, _, key = admin.account_with_key("pro")
    frozen = two_gateway_mesh.processes["gateway-1"]

    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        # Two failed health checks a second apart take the replica out.
        time.sleep(3.5)
        statuses = [http(two_gateway_mesh, VECTORS, bearer(key)).status for _ in range(10)]
    finally:
        os.kill(frozen.pid, signal.SIGCONT)

    assert statuses == [200] * 10


def test_stopping_a_gateway_replica_drops_no_call(two_gateway_mesh):
    admin = AdminClient(two_gateway_mesh)
    _, _, key = admin.account_with_key("bulk")
    statuses: list[int] = []
    done = threading.Event()

    def call_until_done():
        while not done.is_set():
            statuses.append(http(two_gateway_mesh, VECTORS, bearer(key)).status)

    caller = threading.Thread(target=call_until_done)
    caller.start()
    time.sleep(0.5)
    # SIGTERM: NOT_SERVING first, the port closes only after Envoy's health
    # checks have taken the replica out.
    two_gateway_mesh.stop_process("gateway-1")
    time.sleep(1.0)
    done.set()
    caller.join()

    assert len(statuses) > 20
    assert set(statuses) == {200}

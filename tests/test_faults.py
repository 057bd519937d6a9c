"""Dependencies that fail: Redis stopped or frozen, a gateway or service replica killed, stopped or frozen."""

import collections
import json
import os
import signal
import threading
import time
import urllib.request

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from conftest import LOS_ANGELES_1990, AdminClient, bearer, error_reason, eventually, http, start_mesh, status_detail
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc

pytestmark = pytest.mark.integration

VECTORS = "/v1/telemetry/vectors?" + LOS_ANGELES_1990
REQUEST = telemetry_pb2.GetVectorsRequest(date="1990-01-15", time="14:30", lat=34.05, lon=-118.24)

# Bounds documented in docs/api-reference.md ("When a replica fails"): a
# frozen replica is out of rotation within 3 s, and one that passes its
# health checks again gets calls within 2 s. Each wait below allows one more
# second for a busy test machine.
FREEZE_LEAVES_SECONDS = 3.0 + 1.0
REJOIN_SECONDS = 2.0 + 1.0


def grpc_call(mesh, key):
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.public}") as channel:
        return telemetry_pb2_grpc.TelemetryServiceStub(channel).GetVectors(REQUEST, metadata=[("x-api-key", key)], timeout=10)


def assert_envoy_unavailable(error: grpc.RpcError, reason: str) -> None:
    """Check Envoy's own UNAVAILABLE reply to a native gRPC call: its Status, reason, RetryInfo and request id."""
    status = rpc_status.from_call(error)  # raises unless its code and message are the call's
    assert status is not None, "no grpc-status-details-bin"
    assert error_reason(error) == reason
    assert status_detail(status, error_details_pb2.RetryInfo).retry_delay.seconds == 1
    metadata = dict(error.trailing_metadata())
    assert metadata["retry-after"] == "1"
    assert metadata["x-request-id"]


def envoy_counter(mesh, name: str) -> int:
    """Return one of Envoy's counters, such as cluster.gateway.upstream_rq_retry."""
    with urllib.request.urlopen(f"http://127.0.0.1:{mesh.ports.envoy_admin}/stats?format=json&filter=^{name}$", timeout=5) as reply:
        stats = json.load(reply)["stats"]
    return next(int(stat["value"]) for stat in stats if stat.get("name") == name)


def replica_in_envoy(mesh, cluster: str, port: int) -> dict:
    """Return Envoy's view of one replica: whether it is out of rotation, and the requests it was sent."""
    with urllib.request.urlopen(f"http://127.0.0.1:{mesh.ports.envoy_admin}/clusters?format=json", timeout=5) as reply:
        statuses = json.load(reply)["cluster_statuses"]
    hosts = next(status["host_statuses"] for status in statuses if status["name"] == cluster)
    host = next(host for host in hosts if host["address"]["socket_address"]["port_value"] == port)
    health = host["health_status"]
    requests = next((int(stat.get("value", 0)) for stat in host["stats"] if stat["name"] == "rq_total"), 0)
    return {
        "out": bool(health.get("failed_outlier_check") or health.get("failed_active_health_check")),
        "requests": requests,
    }


def test_redis_stopped_gives_503_then_service_resumes(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    assert http(mesh, VECTORS, bearer(key)).status == 200
    retries_before = envoy_counter(mesh, "cluster.gateway.upstream_rq_retry")

    mesh.stop_process("redis")
    try:
        started = time.monotonic()
        reply = http(mesh, VECTORS, bearer(key))
        elapsed = time.monotonic() - started
        with pytest.raises(grpc.RpcError) as raised:
            grpc_call(mesh, key)
        retries_after = envoy_counter(mesh, "cluster.gateway.upstream_rq_retry")
    finally:
        mesh.start_redis()
        mesh.wait_ready()

    # The gateway responded to both Checks (a 503 denial), so Envoy did not retry them.
    assert retries_after == retries_before
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


def private_mesh(var, gateways: int, telemetry: int = 1):
    """Starts a mesh of its own, for tests that stop or freeze its processes."""
    running = start_mesh(var, gateways, telemetry)
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
    assert_envoy_unavailable(raised.value, "AUTHORIZATION_UNAVAILABLE")


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
    with pytest.raises(grpc.RpcError) as raised:
        grpc_call(small_mesh, key)

    assert reply.status == 503
    assert reply.reason() == "SERVICE_UNAVAILABLE"
    assert reply.headers["retry-after"] == "1"
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert_envoy_unavailable(raised.value, "SERVICE_UNAVAILABLE")


@pytest.fixture
def two_gateway_mesh(tmp_path):
    yield from private_mesh(tmp_path, gateways=2)


def burst(mesh, key: str, threads: int, calls: int) -> list[int]:
    """Send threads x calls REST calls, each thread one after another, and return their statuses."""
    statuses: list[int] = []

    def call_in_turn():
        for _ in range(calls):
            statuses.append(http(mesh, VECTORS, bearer(key)).status)

    callers = [threading.Thread(target=call_in_turn) for _ in range(threads)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    return statuses


def rejoins(mesh, key: str, cluster: str, port: int, statuses: list[int]) -> bool:
    """Send calls until Envoy routes one to the replica, appending their statuses; return False past the bound."""
    served = replica_in_envoy(mesh, cluster, port)["requests"]

    def served_again() -> bool:
        statuses.append(http(mesh, VECTORS, bearer(key)).status)
        return replica_in_envoy(mesh, cluster, port)["requests"] > served

    return eventually(served_again, REJOIN_SECONDS)


def test_killed_gateway_replica_costs_no_call(two_gateway_mesh):
    mesh = two_gateway_mesh
    admin = AdminClient(mesh)
    account_id, _, key = admin.account_with_key("bulk")
    warm_up = [http(mesh, VECTORS, bearer(key)).status for _ in range(4)]
    retries_before = envoy_counter(mesh, "cluster.gateway.upstream_rq_retry")
    killed = mesh.processes["gateway-1"]

    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(10)
    statuses = burst(mesh, key, threads=4, calls=25)

    assert warm_up == [200] * 4
    assert collections.Counter(statuses) == {200: 100}
    # Some Checks met the killed replica and were retried on the other one.
    assert envoy_counter(mesh, "cluster.gateway.upstream_rq_retry") > retries_before
    assert replica_in_envoy(mesh, "gateway", mesh.ports.gateway[1])["out"]
    assert admin.used(account_id) == 104

    mesh.restart("gateway-1")
    after_restart: list[int] = []

    assert rejoins(mesh, key, "gateway", mesh.ports.gateway[1], after_restart)
    assert set(after_restart) == {200}


def test_frozen_gateway_replica_costs_no_call(two_gateway_mesh):
    mesh = two_gateway_mesh
    admin = AdminClient(mesh)
    account_id, _, key = admin.account_with_key("bulk")
    warm_up = [http(mesh, VECTORS, bearer(key)).status for _ in range(4)]
    frozen = mesh.processes["gateway-1"]
    port = mesh.ports.gateway[1]

    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        # Until Envoy takes the replica out, a Check sent to it gets no
        # response within 0.4 s and is repeated on the other replica.
        waits_before = envoy_counter(mesh, "cluster.gateway.upstream_rq_per_try_timeout")
        early = [http(mesh, VECTORS, bearer(key)).status for _ in range(6)]
        waits_early = envoy_counter(mesh, "cluster.gateway.upstream_rq_per_try_timeout") - waits_before
        left = eventually(lambda: replica_in_envoy(mesh, "gateway", port)["out"], FREEZE_LEAVES_SECONDS)
        waits_before = envoy_counter(mesh, "cluster.gateway.upstream_rq_per_try_timeout")
        later = [http(mesh, VECTORS, bearer(key)).status for _ in range(10)]
        waits_later = envoy_counter(mesh, "cluster.gateway.upstream_rq_per_try_timeout") - waits_before
    finally:
        os.kill(frozen.pid, signal.SIGCONT)

    assert warm_up == [200] * 4
    assert early == [200] * 6
    assert waits_early >= 1
    assert left
    assert later == [200] * 10
    # Once the replica is out, no Check waits for it.
    assert waits_later == 0
    after_thaw: list[int] = []
    assert rejoins(mesh, key, "gateway", port, after_thaw)
    assert set(after_thaw) == {200}
    # The thawed replica charged none of the Checks it received while frozen:
    # their scripts' deadlines had passed, and the retries were recorded.
    assert admin.used(account_id) == 4 + 6 + 10 + len(after_thaw)


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


@pytest.fixture
def two_telemetry_mesh(tmp_path):
    yield from private_mesh(tmp_path, gateways=1, telemetry=2)


def test_killed_telemetry_replica_costs_no_call(two_telemetry_mesh):
    mesh = two_telemetry_mesh
    admin = AdminClient(mesh)
    _, _, key = admin.account_with_key("bulk")
    assert http(mesh, VECTORS, bearer(key)).status == 200
    killed = mesh.processes["telemetry-1"]
    port = mesh.ports.telemetry[1]

    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(10)
    # A call routed to the killed replica is retried once on the other, and
    # two failed connections in a row eject the killed one at once.
    early = [http(mesh, VECTORS, bearer(key)).status for _ in range(10)]
    ejected = replica_in_envoy(mesh, "telemetry", port)["out"]
    later = [http(mesh, VECTORS, bearer(key)).status for _ in range(10)]

    assert early == [200] * 10
    assert ejected
    assert later == [200] * 10

    mesh.restart("telemetry-1")
    after_restart: list[int] = []

    assert rejoins(mesh, key, "telemetry", port, after_restart)
    assert set(after_restart) == {200}


def test_frozen_telemetry_replica_leaves_and_rejoins(two_telemetry_mesh):
    mesh = two_telemetry_mesh
    admin = AdminClient(mesh)
    _, _, key = admin.account_with_key("bulk")
    assert http(mesh, VECTORS, bearer(key)).status == 200
    frozen = mesh.processes["telemetry-1"]
    port = mesh.ports.telemetry[1]

    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        left = eventually(lambda: replica_in_envoy(mesh, "telemetry", port)["out"], FREEZE_LEAVES_SECONDS)
        timeouts_before = envoy_counter(mesh, "cluster.telemetry.upstream_rq_timeout")
        statuses = [http(mesh, VECTORS, bearer(key)).status for _ in range(10)]
        timeouts_after = envoy_counter(mesh, "cluster.telemetry.upstream_rq_timeout")
    finally:
        os.kill(frozen.pid, signal.SIGCONT)

    assert left
    assert statuses == [200] * 10
    assert timeouts_after == timeouts_before
    after_thaw: list[int] = []
    assert rejoins(mesh, key, "telemetry", port, after_thaw)
    assert set(after_thaw) == {200}

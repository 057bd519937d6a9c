"""Quota, burst, idempotency and exact metering under concurrency, through the real Envoy."""

import asyncio
import concurrent.futures
import hashlib
import http.client as http_client
import json
import socket
import time
import uuid

import grpc
import pytest
import redis
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from google.rpc import error_details_pb2

from conftest import AUDITED_TEXTS, LOS_ANGELES_1990, bearer, error_reason, eventually, http, rich_status, status_detail
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from redis_cluster import on_single_and_cluster
from services.gateway.store import FREE_REPLAYS

pytestmark = pytest.mark.integration

# Every test runs on one Redis server, then on a three-primary Redis Cluster.
redis_kind, mesh, admin, public_channel = on_single_and_cluster()

VECTORS = "/v1/telemetry/vectors?" + LOS_ANGELES_1990


def la_request(**fields) -> telemetry_pb2.GetVectorsRequest:
    values = {"date": "1990-01-15", "time": "14:30", "lat": 34.05, "lon": -118.24, **fields}
    return telemetry_pb2.GetVectorsRequest(**values)


def test_quota_exhausted_is_429_over_rest_with_headers(mesh, admin):
    account_id, _, key = admin.account_with_key("tiny")
    for _ in range(3):
        assert http(mesh, VECTORS, bearer(key)).status == 200

    reply = http(mesh, VECTORS, bearer(key))

    assert reply.status == 429
    assert reply.json()["code"] == 8
    assert reply.reason() == "MONTHLY_QUOTA_EXCEEDED"
    assert int(reply.headers["retry-after"]) >= 1
    assert reply.headers["ratelimit"].startswith('"monthly";r=0;t=')
    assert reply.headers["ratelimit-policy"].startswith('"monthly";q=3;w=')
    assert reply.detail("QuotaFailure")["violations"][0]["subject"] == "monthly"
    assert reply.detail("RetryInfo")["retry_delay"].endswith("s")
    assert admin.used(account_id) == 3


def test_quota_exhausted_is_resource_exhausted_over_grpc(admin, public_channel):
    account_id, _, key = admin.account_with_key("tiny")
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)
    for _ in range(3):
        stub.GetVectors(la_request(), metadata=[("x-api-key", key)], timeout=30)

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(la_request(), metadata=[("x-api-key", key)], timeout=30)

    error = raised.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(error) == "MONTHLY_QUOTA_EXCEEDED"
    status = rich_status(error)
    assert status_detail(status, error_details_pb2.QuotaFailure).violations[0].subject == "monthly"
    assert status_detail(status, error_details_pb2.RetryInfo).retry_delay.seconds >= 1
    trailers = dict(error.trailing_metadata())
    assert int(trailers["retry-after"]) >= 1
    assert trailers["ratelimit"].startswith('"monthly";r=0;')
    assert admin.used(account_id) == 3


def test_burst_limit_is_429_with_retry_after(mesh, admin):
    account_id, _, key = admin.account_with_key("burst_two")

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(lambda _: http(mesh, VECTORS, bearer(key)), range(12)))

    limited = [r for r in replies if r.status == 429]
    assert limited, "12 requests at once must exceed a burst of 2 per second"
    assert {r.reason() for r in limited} == {"BURST_LIMIT_EXCEEDED"}
    assert all(r.headers["retry-after"] == "1" for r in limited)
    assert all(r.headers["ratelimit"].startswith('"burst";r=0;t=1') for r in limited)
    assert admin.used(account_id) == sum(r.status == 200 for r in replies)


def test_burst_limit_over_grpc_is_resource_exhausted(admin, mesh):
    _, _, key = admin.account_with_key("burst_two")

    async def burst():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.public}") as channel:
            stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
            calls = [stub.GetVectors(la_request(), metadata=[("x-api-key", key)], timeout=30) for _ in range(12)]
            return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(burst())

    errors = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert errors
    assert {e.code() for e in errors} == {grpc.StatusCode.RESOURCE_EXHAUSTED}


def test_concurrent_calls_never_exceed_the_quota(mesh, admin):
    account_id, _, key = admin.account_with_key("hundred")

    async def flood():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.public}") as channel:
            stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
            calls = [stub.GetVectors(la_request(), metadata=[("x-api-key", key)], timeout=60) for _ in range(300)]
            return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(flood())

    succeeded = [r for r in results if not isinstance(r, Exception)]
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(succeeded) == 100
    assert {e.code() for e in failed} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert admin.used(account_id) == 100


def envoy_check_request(key: str, stream_id: str) -> external_auth_pb2.CheckRequest:
    """Return a CheckRequest for a native gRPC GetVectors call, shaped as Envoy sends it."""
    message = la_request().SerializeToString()
    request = external_auth_pb2.CheckRequest()
    request.attributes.source.address.socket_address.address = "127.0.0.1"
    request.attributes.source.address.socket_address.port_value = 41234
    request.attributes.request.time.FromNanoseconds(1_796_451_151_479_530_000)
    http_request = request.attributes.request.http
    http_request.id = stream_id
    http_request.method = "POST"
    http_request.path = "/defrag.telemetry.v1.TelemetryService/GetVectors"
    http_request.headers.update({"content-type": "application/grpc", "x-api-key": key, "x-request-id": str(uuid.uuid4())})
    http_request.raw_body = b"\x00" + len(message).to_bytes(4, "big") + message
    return request


def check_on_replica(mesh, index: int, request: external_auth_pb2.CheckRequest) -> external_auth_pb2.CheckResponse:
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.gateway[index]}") as channel:
        return external_auth_pb2_grpc.AuthorizationStub(channel).Check(request, timeout=1)


def test_retried_check_is_charged_once(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    # Envoy repeats the same CheckRequest on another replica when the first
    # attempt fails or times out, possibly after that replica charged.
    retried = envoy_check_request(key, stream_id="7680865165873441478")
    next_call = envoy_check_request(key, stream_id="1510531277892486128")

    responses = [check_on_replica(mesh, 0, retried), check_on_replica(mesh, 1, retried), check_on_replica(mesh, 1, next_call)]

    assert [response.status.code for response in responses] == [0, 0, 0]
    assert admin.used(account_id) == 2


def test_idempotency_key_charges_grpc_once(admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    metadata = [("x-api-key", key), ("idempotency-key", str(uuid.uuid4()))]
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)

    first = stub.GetVectors(la_request(), metadata=metadata, timeout=30)
    again = stub.GetVectors(la_request(), metadata=metadata, timeout=30)

    assert len(first.bodies) == len(again.bodies) == 10
    assert admin.used(account_id) == 1


def test_replays_past_free_limit_charged(admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    metadata = [("x-api-key", key), ("idempotency-key", str(uuid.uuid4()))]
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)

    # The first call and FREE_REPLAYS replays cost one call; each replay after that costs one more.
    for _ in range(1 + FREE_REPLAYS + 2):
        stub.GetVectors(la_request(), metadata=metadata, timeout=30)

    assert admin.used(account_id) == 3


def test_idempotency_key_scoped_to_api_key(admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    _, other_key = admin.new_key(account_id)
    idempotency = str(uuid.uuid4())
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)

    stub.GetVectors(la_request(), metadata=[("x-api-key", key), ("idempotency-key", idempotency)], timeout=30)
    other = stub.GetVectors(la_request(), metadata=[("x-api-key", other_key), ("idempotency-key", idempotency)], timeout=30)

    assert len(other.bodies) == 10
    assert admin.used(account_id) == 2


def test_idempotency_record_hashes_keyed(redis_kind, mesh, admin, public_channel):
    # Redis contains keyed hashes only. A plain SHA-256 of the request or of the
    # Idempotency-Key, which anyone reading Redis could compute from a guess, is absent.
    account_id, _, key = admin.account_with_key("pro")
    idempotency = str(uuid.uuid4())
    request = la_request()
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)
    stub.GetVectors(request, metadata=[("x-api-key", key), ("idempotency-key", idempotency)], timeout=30)

    client_class = redis.RedisCluster if redis_kind == "cluster" else redis.Redis
    client = client_class.from_url(mesh.redis_url, decode_responses=True)
    names = list(client.scan_iter(match=f"dfg:{{{account_id}}}:idem:*"))
    values = [client.get(name) for name in names]
    client.close()
    plain_body = hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
    plain_key = hashlib.sha256(idempotency.encode()).hexdigest()

    assert len(names) == 1
    assert plain_key not in names[0]
    assert plain_body not in values[0]


def test_idempotency_key_with_another_request_is_409(admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    metadata = [("x-api-key", key), ("idempotency-key", str(uuid.uuid4()))]
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)
    stub.GetVectors(la_request(), metadata=metadata, timeout=30)

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(la_request(time="14:31"), metadata=metadata, timeout=30)

    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(raised.value) == "IDEMPOTENCY_KEY_REUSED"
    assert admin.used(account_id) == 1


def test_idempotency_key_on_rest_get_is_ignored(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    idempotency = {"Idempotency-Key": str(uuid.uuid4())}

    first = http(mesh, VECTORS, {**bearer(key), **idempotency})
    again = http(mesh, VECTORS.replace("time=14:30", "time=14:31"), {**bearer(key), **idempotency})

    assert first.status == again.status == 200
    assert admin.used(account_id) == 2


def test_invalid_idempotency_key_is_400_and_free(admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(la_request(), metadata=[("x-api-key", key), ("idempotency-key", "x" * 256)], timeout=30)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(raised.value) == "INVALID_IDEMPOTENCY_KEY"
    assert admin.used(account_id) == 0


def raw_request(mesh, method: str, path: str, headers: list[tuple[str, str]], body: bytes | None = None) -> tuple[int, dict]:
    """Send one request with http.client, which sends header values as Latin-1 bytes and repeats as given."""
    connection = http_client.HTTPConnection("127.0.0.1", mesh.ports.public, timeout=30)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body)
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


def test_an_idempotency_key_with_a_latin1_byte_is_400_and_free(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    body = json.dumps({"journal_text": "A quiet Sunday with soup and a long walk."}).encode()
    AUDITED_TEXTS.append("A quiet Sunday with soup and a long walk.")
    # 0xE9 reaches Envoy as one byte that is not UTF-8.
    status, error = raw_request(mesh, "POST", "/v1/seda/audit", [
        ("Authorization", f"Bearer {key}"), ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))), ("Idempotency-Key", "k-\xe9-1"),
    ], body)

    assert status == 400
    assert error["details"][0]["reason"] == "INVALID_IDEMPOTENCY_KEY"
    assert admin.used(account_id) == 0


def test_a_request_id_that_is_not_ascii_is_400_and_free(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    # Sent as the Latin-1 byte 0xE9, which is not UTF-8.
    status, error = raw_request(mesh, "GET", VECTORS, [("Authorization", f"Bearer {key}"), ("x-request-id", "r\xe9q")])

    assert status == 400
    assert error["details"][0]["reason"] == "INVALID_REQUEST_ID"
    assert admin.used(account_id) == 0


def test_a_header_that_is_not_utf8_never_reaches_the_service(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    log = mesh.logs / "telemetry-0.log"
    before = log.stat().st_size

    # Request ids are hex and key ids have no hyphens, so neither can contain "note-marker".
    status, body = raw_request(mesh, "GET", VECTORS, [("Authorization", f"Bearer {key}"),
                                                      ("x-client-note", "note-marker-caf\xe9")])

    assert status == 200
    assert body["bodies"]
    # The service's gRPC library would log 'Invalid encoding' with the value.
    with log.open("rb") as handle:
        handle.seek(before)
        assert b"note-marker" not in handle.read()


def test_request_id_over_limit_is_400_and_free(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    status, error = raw_request(mesh, "GET", VECTORS, [("Authorization", f"Bearer {key}"), ("x-request-id", "r" * 129)])

    assert status == 400
    assert error["details"][0]["reason"] == "INVALID_REQUEST_ID"
    assert "over the limit of 128" in error["message"]
    assert admin.used(account_id) == 0


def test_request_id_at_limit_is_echoed(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    status, body = raw_request(mesh, "GET", VECTORS, [("Authorization", f"Bearer {key}"), ("x-request-id", "r" * 128)])

    assert status == 200
    assert body["request_id"] == "r" * 128


@pytest.mark.parametrize("name", ["Authorization", "Idempotency-Key", "x-request-id"])
def test_repeated_single_header_is_400_and_free(mesh, admin, name):
    account_id, _, key = admin.account_with_key("pro")
    values = {"Authorization": [f"Bearer {key}", f"Bearer {key}"], "Idempotency-Key": ["k1", "k2"],
              "x-request-id": ["aaa", "bbb"]}[name]
    credentials = [] if name == "Authorization" else [("Authorization", f"Bearer {key}")]
    status, error = raw_request(mesh, "GET", VECTORS, credentials + [(name, value) for value in values])

    assert status == 400
    assert error["details"][0]["reason"] == "REPEATED_HEADER"
    assert name.lower() in error["message"]
    # Envoy joins some repeats (authorization) with a comma, so every message names both causes.
    assert "sent more than once" in error["message"]
    assert admin.used(account_id) == 0


@pytest.mark.parametrize("method, path", [("POST", "/v1/seda/audit"), ("GET", VECTORS)])
def test_comma_in_idempotency_key_is_a_repeat(mesh, admin, method, path):
    # A proxy joins two Idempotency-Key headers into "k1,k2", so the
    # gateway cannot tell which key the client meant.
    account_id, _, key = admin.account_with_key("pro")
    body = json.dumps({"journal_text": "A quiet Sunday with soup and a long walk."}).encode() if method == "POST" else None
    AUDITED_TEXTS.append("A quiet Sunday with soup and a long walk.")
    headers = [("Authorization", f"Bearer {key}"), ("Idempotency-Key", "k1,k2")]
    if body:
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]

    status, error = raw_request(mesh, method, path, headers, body)

    assert status == 400
    assert error["details"][0]["reason"] == "REPEATED_HEADER"
    assert "idempotency-key header was sent more than once or contains a comma" in error["message"]
    assert admin.used(account_id) == 0


@pytest.mark.parametrize("values", [["k1,k2"], ["k1", "k2"]], ids=["comma", "two entries"])
def test_repeated_idempotency_metadata_is_400_and_free(admin, public_channel, values):
    account_id, _, key = admin.account_with_key("pro")
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)
    metadata = [("x-api-key", key)] + [("idempotency-key", value) for value in values]

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(la_request(), metadata=metadata, timeout=30)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(raised.value) == "REPEATED_HEADER"
    assert "idempotency-key" in raised.value.details()
    assert admin.used(account_id) == 0


def test_idempotency_key_without_comma_still_replays_free(admin, public_channel):
    # The counterpart of the two tests above: the same characters but the
    # comma make a valid key, so their checks of no charge can fail.
    account_id, _, key = admin.account_with_key("pro")
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)
    metadata = [("x-api-key", key), ("idempotency-key", f"k1;k2 {uuid.uuid4()}")]

    stub.GetVectors(la_request(), metadata=metadata, timeout=30)
    stub.GetVectors(la_request(), metadata=metadata, timeout=30)

    assert admin.used(account_id) == 1


# --- calls that the client abandons ------------------------------------------------------


def test_rest_call_closed_after_admission_stays_charged(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    text = "A quiet walk by the river with the dog. " * 400
    AUDITED_TEXTS.append(text)
    body = json.dumps({"journal_text": text}).encode()
    request = (
        f"POST /v1/seda/audit HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    with socket.create_connection(("127.0.0.1", mesh.ports.public), timeout=10) as connection:
        connection.sendall(request)
        admitted = eventually(lambda: admin.used(account_id) == 1, seconds=5)
    # Long enough for a refund, which reaches Redis within 1 second when there is one.
    time.sleep(1.5)

    assert admitted
    assert admin.used(account_id) == 1


def test_grpc_1ms_deadline_stays_charged(admin, public_channel):
    # The gateway charges before the service runs, so a deadline that ends
    # first does not undo the charge. Some calls end before the gateway
    # admits them and cost nothing, and a few complete within 1 ms, so the
    # test sends several.
    account_id, _, key = admin.account_with_key("pro")
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)
    # A call on a channel that is still connecting would wait past 1 ms before it is sent.
    grpc.channel_ready_future(public_channel).result(timeout=10)
    codes = []
    for _ in range(20):
        try:
            stub.GetVectors(la_request(), metadata=[("x-api-key", key)], timeout=0.001)
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            codes.append(error.code())
    time.sleep(1.5)
    # A call that still completed in time is charged too, so only a charge
    # beyond those shows a call charged after its deadline passed.
    completed = codes.count(grpc.StatusCode.OK)

    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED}
    assert codes.count(grpc.StatusCode.DEADLINE_EXCEEDED) >= 1
    assert admin.used(account_id) > completed


@pytest.mark.parametrize("tier", ["free", "pro", "enterprise", "tiny", "usage_only"])
def test_usage_is_free_for_every_tier(mesh, admin, tier):
    account_id, _, key = admin.account_with_key(tier)

    replies = [http(mesh, "/v1/usage", bearer(key)) for _ in range(3)]

    assert [r.status for r in replies] == [200, 200, 200]
    body = replies[-1].json()
    assert body["account_id"] == account_id
    assert body["tier"] == tier
    assert body["used"] == 0
    assert body["quota_unlimited"] is (tier == "enterprise")
    assert admin.used(account_id) == 0


def test_usage_stays_open_after_the_quota_is_spent(mesh, admin):
    _, _, key = admin.account_with_key("tiny")
    for _ in range(3):
        http(mesh, VECTORS, bearer(key))

    reply = http(mesh, "/api/v1/usage", bearer(key))

    assert reply.status == 200
    assert reply.json()["used"] == 3
    assert reply.json()["remaining"] == 0
    assert reply.json()["monthly_quota"] == 3

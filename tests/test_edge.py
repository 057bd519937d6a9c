"""Calls through the real Envoy: key locations, REST and gRPC alike, denials in the shared shape."""

import datetime as dt
import http.client as http_client
import json

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from conftest import ISSUED_KEYS, LOS_ANGELES_1990, bearer, error_reason, http, rich_status, status_detail
from defrag.keys.v1 import admin_pb2, usage_pb2, usage_pb2_grpc
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc

pytestmark = pytest.mark.integration

VECTORS = "/v1/telemetry/vectors?" + LOS_ANGELES_1990


def la_request() -> telemetry_pb2.GetVectorsRequest:
    return telemetry_pb2.GetVectorsRequest(date="1990-01-15", time="14:30", lat=34.05, lon=-118.24)


def test_rest_call_with_bearer_key_returns_positions(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, VECTORS, bearer(key))

    assert reply.status == 200
    body = reply.json()
    assert [b["body"] for b in body["bodies"]][:2] == ["sun", "moon"]
    assert len(body["bodies"]) == 10
    assert body["observer_timezone"] == "America/Los_Angeles"
    assert body["timestamp"] == "1990-01-15T22:30:00Z"
    assert admin.used(account_id) == 1
    assert "grpc-status" not in reply.headers


@pytest.mark.parametrize("location", ["bearer", "x-api-key", "api_key"])
def test_each_key_location_is_charged_once(mesh, admin, location):
    account_id, _, key = admin.account_with_key("pro")
    headers = {"bearer": bearer(key), "x-api-key": {"x-api-key": key}, "api_key": {}}[location]
    path = VECTORS + (f"&api_key={key}" if location == "api_key" else "")

    reply = http(mesh, path, headers)

    assert reply.status == 200
    assert admin.used(account_id) == 1
    assert ("deprecation" in reply.headers) == (location == "api_key")
    assert ("warning" in reply.headers) == (location == "api_key")


def test_api_prefix_answers_like_v1(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, "/api" + VECTORS, bearer(key))

    assert reply.status == 200
    assert admin.used(account_id) == 1


@pytest.mark.parametrize("metadata_key", ["authorization", "x-api-key"])
def test_grpc_call_is_charged_like_rest(mesh, admin, public_channel, metadata_key):
    account_id, _, key = admin.account_with_key("pro")
    value = f"Bearer {key}" if metadata_key == "authorization" else key
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)

    response, call = stub.GetVectors.with_call(la_request(), metadata=[(metadata_key, value)], timeout=30)
    rest = http(mesh, VECTORS, bearer(key))

    assert len(response.bodies) == 10
    assert rest.status == 200
    assert rest.json()["bodies"][0]["ra_degrees"] == pytest.approx(response.bodies[0].ra_degrees, abs=1e-9)
    assert admin.used(account_id) == 2
    headers = dict(call.initial_metadata())
    assert "ratelimit" in headers
    assert "ratelimit-policy" in headers


def test_admitted_response_carries_rate_limit_headers(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, VECTORS, bearer(key))

    usage = admin.GetUsage(admin_pb2.GetAccountRequest(account_id=account_id))
    window = int(dt.datetime.fromisoformat(usage.resets_at).timestamp() - dt.datetime.fromisoformat(usage.window_start).timestamp())
    assert reply.headers["ratelimit-policy"] == f'"monthly";q=50000;w={window}, "burst";q=50;w=1'
    # 49 of 50 burst requests left is nearer exhaustion than 49,999 of 50,000 calls.
    nearest, monthly = reply.headers["ratelimit"].split(", ")
    assert nearest == '"burst";r=49;t=1'
    assert monthly.startswith('"monthly";r=49999;t=')
    assert 0 < int(monthly.rsplit("=", 1)[1]) <= window


def test_missing_key_is_401(mesh):
    reply = http(mesh, VECTORS)

    assert reply.status == 401
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["code"] == 16
    assert reply.reason() == "API_KEY_MISSING"
    assert reply.detail("ErrorInfo")["domain"] == "api.defrag.app"
    assert reply.detail("ErrorInfo")["metadata"]["request_id"]


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "API_KEY_MALFORMED"),
        ({"x-api-key": "sk_live_short"}, "API_KEY_MALFORMED"),
        ({"x-api-key": "pk_live_" + "a" * 38}, "API_KEY_MALFORMED"),
    ],
)
def test_malformed_keys_are_401(mesh, headers, reason):
    reply = http(mesh, VECTORS, headers)

    assert reply.status == 401
    assert reply.reason() == reason


def test_mistyped_key_fails_its_checksum(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    mistyped = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]

    reply = http(mesh, VECTORS, bearer(mistyped))

    assert reply.status == 401
    assert reply.reason() == "API_KEY_MALFORMED"


def test_well_formed_unknown_key_is_401(mesh):
    from services.gateway import apikeys

    reply = http(mesh, VECTORS, bearer(apikeys.generate("live")))

    assert reply.status == 401
    assert reply.reason() == "API_KEY_UNKNOWN"


def test_revoked_key_is_401(mesh, admin):
    _, key_id, key = admin.account_with_key("pro")
    admin.RevokeKey(admin_pb2.RevokeKeyRequest(key_id=key_id))

    reply = http(mesh, VECTORS, bearer(key))

    assert reply.status == 401
    assert reply.reason() == "API_KEY_REVOKED"


def test_expired_key_is_401(mesh, admin):
    account_id, key_id, key = admin.account_with_key("pro")
    rolled = admin.RollKey(admin_pb2.RollKeyRequest(key_id=key_id, grace_seconds=0))
    ISSUED_KEYS.append(rolled.plaintext)

    old = http(mesh, VECTORS, bearer(key))
    new = http(mesh, VECTORS, bearer(rolled.plaintext))

    assert old.status == 401
    assert old.reason() == "API_KEY_EXPIRED"
    assert new.status == 200
    assert admin.used(account_id) == 1


def test_grpc_denial_has_the_right_code_and_details(public_channel):
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(la_request(), timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(raised.value) == "API_KEY_MISSING"
    assert "Authorization: Bearer" in raised.value.details()


def test_tier_without_method_is_403(mesh, admin, public_channel):
    account_id, _, key = admin.account_with_key("usage_only")
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)

    reply = http(mesh, VECTORS, bearer(key))
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(la_request(), metadata=[("x-api-key", key)], timeout=10)

    assert reply.status == 403
    assert reply.json()["code"] == 7
    assert reply.reason() == "METHOD_NOT_IN_TIER"
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(raised.value) == "METHOD_NOT_IN_TIER"
    assert admin.used(account_id) == 0


def test_unknown_route_is_json_404_and_free(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, "/v1/telemetry/nothing", bearer(key))

    assert reply.status == 404
    assert reply.json()["code"] == 12
    assert reply.reason() == "UNKNOWN_ROUTE"
    assert admin.used(account_id) == 0


@pytest.mark.parametrize("method, path, allowed", [
    ("POST", "/v1/telemetry/vectors", "GET"),
    ("DELETE", "/api/v1/telemetry/vectors", "GET"),
    ("GET", "/v1/seda/audit", "POST"),
    ("PUT", "/v1/orbit/map", "POST"),
    ("GET", "/v1/telemetry/vectors:batch", "POST"),
    ("GET", "/v1/stripe/webhook", "POST"),
])
def test_wrong_method_is_405_with_allow(mesh, admin, method, path, allowed):
    account_id, _, key = admin.account_with_key("pro")
    body = b"{}" if method in ("POST", "PUT") else None
    headers = {**bearer(key), **({"Content-Type": "application/json"} if body else {})}

    reply = http(mesh, path, headers, method=method, body=body)

    assert reply.status == 405
    assert reply.headers["allow"] == allowed
    assert reply.json()["code"] == 12
    assert reply.reason() == "METHOD_NOT_ALLOWED"
    assert f"takes {allowed}" in reply.json()["message"]
    assert admin.used(account_id) == 0


def test_unknown_query_parameter_is_json_400_and_free(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, VECTORS + "&colour=blue", bearer(key))

    assert reply.status == 400
    assert reply.json()["code"] == 3
    assert reply.reason() == "INVALID_REQUEST"
    assert "colour" in reply.json()["message"]
    assert admin.used(account_id) == 0


def test_unknown_grpc_method_is_unimplemented_and_free(admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    unknown_in_service = public_channel.unary_unary("/defrag.telemetry.v1.TelemetryService/Nope")
    unknown_service = public_channel.unary_unary("/defrag.nothing.v1.Nothing/Nope")

    with pytest.raises(grpc.RpcError) as in_service:
        unknown_in_service(b"", metadata=[("x-api-key", key)], timeout=10)
    with pytest.raises(grpc.RpcError) as no_service:
        unknown_service(b"", metadata=[("x-api-key", key)], timeout=10)

    assert in_service.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error_reason(in_service.value) == "METHOD_NOT_FOUND"
    assert no_service.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # Envoy replies for a service it does not route, with the same Status
    # in grpc-status-details-bin as in the call's code and message.
    assert error_reason(no_service.value) == "METHOD_NOT_FOUND"
    assert rpc_status.from_call(no_service.value).message == no_service.value.details()
    assert admin.used(account_id) == 0


def test_service_validation_error_reaches_rest_as_json_400(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    reply = http(mesh, "/v1/telemetry/vectors?date=1990-01-15&time=14:30&lat=95&lon=-118.24", bearer(key))

    assert reply.status == 400
    violations = reply.detail("BadRequest")["field_violations"]
    assert violations[0]["field"] == "lat"


def test_body_over_the_limit_is_413_and_free(mesh, admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)
    big = la_request()
    big.tz = "x" * 20_000

    reply = http(mesh, VECTORS + "&tz=" + "x" * 20_000, bearer(key))
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(big, metadata=[("x-api-key", key)], timeout=10)

    assert reply.status == 413
    assert reply.reason() == "BODY_TOO_LARGE"
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(raised.value) == "BODY_TOO_LARGE"
    assert not any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in rich_status(raised.value).details)
    assert admin.used(account_id) == 0


def test_malformed_grpc_body_is_400_and_free(admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    raw = public_channel.unary_unary("/defrag.telemetry.v1.TelemetryService/GetVectors")

    with pytest.raises(grpc.RpcError) as raised:
        raw(b"\xff\xff\xff\xff", metadata=[("x-api-key", key)], timeout=10)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(raised.value) == "MALFORMED_BODY"
    assert admin.used(account_id) == 0


def test_client_identity_headers_are_replaced(mesh, admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    victim = admin.new_account("enterprise")
    forged = {"x-defrag-account-id": victim, "x-defrag-tier": "enterprise", "x-defrag-key-id": "key_forged"}

    reply = http(mesh, "/v1/usage", {**bearer(key), **forged})
    over_grpc = usage_pb2_grpc.UsageServiceStub(public_channel).GetUsage(
        usage_pb2.GetUsageRequest(), metadata=[("x-api-key", key), *forged.items()], timeout=10
    )

    assert reply.json()["account_id"] == account_id
    assert reply.json()["tier"] == "pro"
    assert over_grpc.account_id == account_id


def test_identity_headers_are_stripped_on_open_routes(mesh):
    config = (mesh.var / "envoy.yaml").read_text()

    for header in ("x-defrag-key-id", "x-defrag-account-id", "x-defrag-tier", "x-defrag-idempotent-replay"):
        assert f"- remove: {header}" in config


def test_reflection_lists_only_the_public_services(public_channel):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    database = ProtoReflectionDescriptorDatabase(public_channel)
    services = set(database.get_services())

    assert "defrag.telemetry.v1.TelemetryService" in services
    assert "defrag.seda.v1.SedaService" in services
    assert "defrag.keys.v1.UsageService" in services
    assert not any("Admin" in s or "Authorization" in s for s in services)
    assert database.FindFileContainingSymbol("defrag.telemetry.v1.GetVectorsRequest").name == "defrag/telemetry/v1/telemetry.proto"
    with pytest.raises(KeyError):
        database.FindFileContainingSymbol("defrag.keys.v1.KeyAdminService")


def test_forged_original_path_is_removed(public_channel):
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(la_request(), metadata=[("x-envoy-original-path", "/v1/usage?x=1")], timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(raised.value) == "API_KEY_MISSING"


def test_grpc_message_over_envoy_limit_is_resource_exhausted(public_channel, admin):
    _, _, key = admin.account_with_key("pro")
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)
    huge = la_request()
    huge.tz = "x" * (2 * 1024 * 1024)

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(huge, metadata=[("x-api-key", key)], timeout=10)

    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "1 MiB" in raised.value.details()
    assert error_reason(raised.value) == "BODY_TOO_LARGE"
    assert rpc_status.from_call(raised.value).code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]


def test_plus_sign_in_utc_offset_is_kept(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    reply = http(mesh, VECTORS + "&utc_offset=+05:30", bearer(key))

    assert reply.status == 200
    assert reply.json()["utc_offset"] == "+05:30"
    assert reply.json()["timestamp"] == "1990-01-15T09:00:00Z"


def test_response_carries_the_request_id(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    reply = http(mesh, VECTORS, bearer(key))

    assert reply.headers["x-request-id"] == reply.json()["request_id"]


def test_grpc_call_without_message_is_400(admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    no_message = public_channel.stream_unary("/defrag.telemetry.v1.TelemetryService/GetVectors")

    with pytest.raises(grpc.RpcError) as raised:
        no_message(iter(()), metadata=[("x-api-key", key)], timeout=10)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(raised.value) == "MALFORMED_BODY"
    assert admin.used(account_id) == 0


def test_compressed_message_is_limited_after_inflation(admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    stub = telemetry_pb2_grpc.TelemetryServiceStub(public_channel)
    inflating = la_request()
    inflating.tz = "x" * 1_000_000

    with pytest.raises(grpc.RpcError) as raised:
        stub.GetVectors(inflating, metadata=[("x-api-key", key)], compression=grpc.Compression.Gzip, timeout=10)

    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(raised.value) == "BODY_TOO_LARGE"
    assert admin.used(account_id) == 0


@pytest.mark.parametrize("headers", [
    [("x-padding", "a" * 70_000)],
    [(f"x-extra-{index}", "1") for index in range(200)],
])
def test_headers_over_the_limit_get_the_json_error_shape(mesh, headers):
    connection = http_client.HTTPConnection("127.0.0.1", mesh.ports.public, timeout=30)
    try:
        connection.putrequest("GET", "/v1/usage")
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        reply = connection.getresponse()
        body = reply.read()
    finally:
        connection.close()

    assert reply.status == 431
    assert reply.getheader("content-type") == "application/json"
    error = json.loads(body)
    assert error["code"] == 3
    assert error["details"][0]["reason"] == "HEADERS_TOO_LARGE"

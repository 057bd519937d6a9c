"""SEDA audits through the real Envoy over REST and native gRPC, and the service itself under faults."""

import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import grpc
import pytest
import redis
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest import AUDITED_TEXTS, bearer, error_reason, http, rich_status, status_detail
from test_observability import sample, scrape
from defrag.mesh import free_port
from defrag.platform.config import ROOT
from defrag.seda.v1 import seda_pb2, seda_pb2_grpc
from services.seda import scorer

pytestmark = pytest.mark.integration

AUDIT = "/v1/seda/audit"
METHOD = "/defrag.seda.v1.SedaService/Audit"
STREAM = "dfg:seda:audit"
CALM_TEXT = "Walked the dog along the Harrowgate canal this morning and slept nine hours."
CRISIS_TEXT = "I am going to kill myself tonight. I have decided and I wrote goodbye letters to my sisters."
BANDS = {"critical": "halted", "caution": "throttled", "watch": "grounded", "clear": "open"}
BIRTH = {"date": "1984-07-02", "time": "06:15", "lat": 53.48, "lon": -2.24}
# 20,000 code points of four UTF-8 bytes each: the longest text at its largest size.
MAX_LENGTH_TEXT = "\U0001F30A" * 20_000


def audit(mesh, key: str | None, body: dict, headers: dict | None = None, path: str = AUDIT):
    """POSTs an audit over REST, recording its text for the privacy checks."""
    if body.get("journal_text"):
        AUDITED_TEXTS.append(body["journal_text"])
    sent = {"content-type": "application/json", **(bearer(key) if key else {}), **(headers or {})}
    return http(mesh, path, sent, "POST", json.dumps(body).encode())


def grpc_audit(channel, request: seda_pb2.AuditRequest, metadata=(), timeout: float = 10):
    """Calls Audit over native gRPC, recording its text for the privacy checks."""
    if request.journal_text:
        AUDITED_TEXTS.append(request.journal_text)
    return seda_pb2_grpc.SedaServiceStub(channel).Audit(request, metadata=list(metadata), timeout=timeout)


def expected_hash(mesh, text: str) -> str:
    return hmac.new(mesh.seda_secret.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest()


def violations(reply) -> dict[str, str]:
    return {v["field"]: v["description"] for v in reply.detail("BadRequest")["field_violations"]}


def stream_entry(mesh, request_id: str) -> dict | None:
    client = redis.Redis.from_url(mesh.redis_url, decode_responses=True)
    try:
        for _, fields in client.xrevrange(STREAM, count=500):
            if fields.get("request_id") == request_id:
                return fields
    finally:
        client.close()
    return None


@pytest.fixture
def seda_channel(mesh):
    """A channel straight to the first SEDA process, past Envoy and the gateway."""
    channel = grpc.insecure_channel(f"127.0.0.1:{mesh.ports.seda[0]}")
    yield channel
    channel.close()


# --- the response contract ----------------------------------------------------


def test_rest_audit_fills_every_field(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    request_id = str(uuid.uuid4())

    reply = audit(mesh, key, {"journal_text": CALM_TEXT, "context": "tarot_reading", "locale": "en-US"},
                  {"x-request-id": request_id})

    assert reply.status == 200
    body = reply.json()
    assert body["request_id"] == request_id
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", body["timestamp"])
    assert isinstance(body["seda_score"], int)
    assert 0 <= body["seda_score"] <= 100
    assert body["band"] in BANDS
    assert body["mode"] == BANDS[body["band"]]
    low, high = (int(part) for part in body["threshold_details"]["score_range"].split("-"))
    assert low <= body["seda_score"] <= high
    assert body["threshold_details"]["label"]
    assert body["threshold_details"]["action"]
    assert body["safety_action_taken"] in ("none", "crisis_resources_attached")
    assert body["audit_logged"] is True
    assert body["input_hash"] == expected_hash(mesh, CALM_TEXT)
    assert isinstance(body["signals"], list)
    assert body["model_version"]
    assert body["language_supported"] is True
    assert body["context"] == "tarot_reading"
    assert body["locale"] == "en-US"
    assert "birth_data" not in body
    assert admin.used(account_id) == 1


def test_calm_text_is_clear_without_resources(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    body = audit(mesh, key, {"journal_text": CALM_TEXT, "locale": "en-US"}).json()

    assert body["band"] == "clear"
    assert body["mode"] == "open"
    assert body["safety_action_taken"] == "none"
    assert body["crisis_resources"] == []


def test_grpc_audit_matches_rest(mesh, admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    request = seda_pb2.AuditRequest(journal_text=CRISIS_TEXT, locale="en-US", context="horoscope")

    rest = audit(mesh, key, {"journal_text": CRISIS_TEXT, "locale": "en-US", "context": "horoscope"}).json()
    native = grpc_audit(public_channel, request, [("authorization", f"Bearer {key}")])

    assert native.seda_score == rest["seda_score"]
    assert native.band == rest["band"]
    assert native.input_hash == rest["input_hash"]
    assert [(s.category, s.start, s.end) for s in native.signals] == [(s["category"], s["start"], s["end"]) for s in rest["signals"]]
    assert [r.phone for r in native.crisis_resources] == [r["phone"] for r in rest["crisis_resources"]]
    assert admin.used(account_id) == 2


def test_api_prefix_serves_like_v1(mesh, admin):
    account_id, _, key = admin.account_with_key("enterprise")

    reply = audit(mesh, key, {"journal_text": CALM_TEXT}, path="/api/v1/seda/audit")

    assert reply.status == 200
    assert reply.json()["band"] == "clear"
    assert admin.used(account_id) == 1


def test_signals_locate_without_quoting(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    reply = audit(mesh, key, {"journal_text": CRISIS_TEXT, "locale": "en-US"})

    body = reply.json()
    assert body["signals"]
    for found in body["signals"]:
        assert set(found) == {"category", "severity", "start", "end", "rule"}
        assert 0 <= found["start"] < found["end"] <= len(CRISIS_TEXT)
    assert [s["start"] for s in body["signals"]] == sorted(s["start"] for s in body["signals"])
    # No word of the text comes back, spans and hash aside.
    assert "goodbye" not in reply.body.decode()
    assert "kill" not in reply.body.decode()


# --- crisis resources -----------------------------------------------------------


@pytest.mark.parametrize(
    "locale, phones, region",
    [
        ("en-US", ["988", "911"], "US"),
        ("es-US", ["988", "911"], "US"),
        ("en-GB", ["116 123", "999"], "GB"),
        ("en-IE", ["116 123", "112"], "IE"),
        ("fr-CA", ["988", "911"], "CA"),
        ("es-MX", ["", ""], "international"),
        ("", ["", ""], "international"),
    ],
)
def test_critical_text_gets_resources_for_region(mesh, admin, locale, phones, region):
    _, _, key = admin.account_with_key("pro")

    body = audit(mesh, key, {"journal_text": CRISIS_TEXT, "locale": locale}).json()

    assert body["band"] == "critical"
    assert body["mode"] == "halted"
    assert body["safety_action_taken"] == "crisis_resources_attached"
    assert [r["phone"] for r in body["crisis_resources"]] == phones
    assert {r["region"] for r in body["crisis_resources"]} == {region}
    for resource in body["crisis_resources"]:
        assert resource["name"]
        assert resource["description"]
        assert resource["hours"] == "24/7"


def test_fallback_points_to_a_directory(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    body = audit(mesh, key, {"journal_text": CRISIS_TEXT, "locale": "de-DE"}).json()

    assert body["crisis_resources"][0]["url"] == "https://findahelpline.com"


def test_us_lifeline_offers_call_and_text(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    body = audit(mesh, key, {"journal_text": CRISIS_TEXT, "locale": "en-US"}).json()

    lifeline = body["crisis_resources"][0]
    assert lifeline["phone"] == "988"
    assert lifeline["sms"] == "988"
    assert lifeline["url"] == "https://988lifeline.org"


# --- birth data and context ------------------------------------------------------


def test_birth_data_is_echoed_not_scored(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    plain = audit(mesh, key, {"journal_text": CRISIS_TEXT, "locale": "en-GB"}).json()
    with_birth = audit(mesh, key, {"journal_text": CRISIS_TEXT, "locale": "en-GB", "birth_data": BIRTH,
                                   "context": "meditation"}).json()

    assert with_birth["seda_score"] == plain["seda_score"]
    assert with_birth["band"] == plain["band"]
    assert with_birth["signals"] == plain["signals"]
    assert with_birth["input_hash"] == plain["input_hash"]
    assert with_birth["birth_data"]["date"] == BIRTH["date"]
    assert with_birth["birth_data"]["time"] == BIRTH["time"]
    assert with_birth["birth_data"]["lat"] == BIRTH["lat"]
    assert with_birth["birth_data"]["lon"] == BIRTH["lon"]
    assert with_birth["context"] == "meditation"


def test_calm_text_stays_clear_with_any_context(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    bands = {context: audit(mesh, key, {"journal_text": CALM_TEXT, "context": context, "birth_data": BIRTH}).json()["band"]
             for context in ("tarot_reading", "transit_forecast", "astrology_chart", "other")}

    assert set(bands.values()) == {"clear"}


def test_birth_time_may_be_unknown(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    reply = audit(mesh, key, {"journal_text": CALM_TEXT, "birth_data": {"date": "1984-07-02"}})

    assert reply.status == 200
    assert reply.json()["birth_data"]["time"] == ""


# --- validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field, fragment",
    [
        ({}, "journal_text", "missing"),
        ({"journal_text": ""}, "journal_text", "missing"),
        ({"journal_text": " \n\t "}, "journal_text", "only whitespace"),
        ({"journal_text": "\u200b\u200b"}, "journal_text", "invisible characters"),
        ({"journal_text": "\ufeff \u202e\u2028\x07"}, "journal_text", "invisible characters"),
        ({"journal_text": "\u3164\u3164 \u2800"}, "journal_text", "invisible characters"),
        ({"journal_text": "a" * 20_001}, "journal_text", "20001 code points"),
        ({"journal_text": CALM_TEXT, "context": "palm_reading"}, "context", "tarot_reading"),
        ({"journal_text": CALM_TEXT, "locale": "en_US"}, "locale", "not '_'"),
        ({"journal_text": CALM_TEXT, "locale": "English"}, "locale", "BCP 47"),
        ({"journal_text": CALM_TEXT, "locale": "en-US-"}, "locale", "BCP 47"),
        ({"journal_text": CALM_TEXT, "birth_data": {"date": "1984-13-02"}}, "birth_data.date", "1984-13-02"),
        ({"journal_text": CALM_TEXT, "birth_data": {"date": "1984-07-02", "time": "25:00"}}, "birth_data.time", "25:00"),
        ({"journal_text": CALM_TEXT, "birth_data": {"date": "1984-07-02", "lat": 95, "lon": 0}}, "birth_data.lat", "-90..90"),
        ({"journal_text": CALM_TEXT, "birth_data": {"date": "1984-07-02", "lat": 53.48}}, "birth_data.lon", "missing"),
        ({"journal_text": CALM_TEXT, "birth_data": {"date": "1984-07-02", "tz": "Mars/Olympus"}}, "birth_data.tz", "Mars/Olympus"),
    ],
)
def test_invalid_field_is_400_naming_it(mesh, admin, body, field, fragment):
    _, _, key = admin.account_with_key("pro")

    reply = audit(mesh, key, body)

    assert reply.status == 400
    assert reply.json()["code"] == 3
    assert reply.reason() == "INVALID_ARGUMENT"
    assert field in violations(reply)
    assert fragment in violations(reply)[field]
    # The message reads "<field>: <description>", so the description does not name the field again.
    assert not violations(reply)[field].startswith(field)


def test_every_bad_field_in_one_error(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    reply = audit(mesh, key, {"journal_text": "", "context": "x", "locale": "y", "birth_data": {"date": "x"}})

    assert list(violations(reply)) == ["journal_text", "birth_data.date", "context", "locale"]


def test_too_long_text_is_not_repeated(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    text = "Harrowgate " * 1_900

    reply = audit(mesh, key, {"journal_text": text})

    assert reply.status == 400
    assert "Harrowgate" not in reply.body.decode()


@pytest.mark.parametrize("raw", [
    '{"journal_text": "Quenmira left and tonight I end it all \\ud800"}',  # a lone surrogate
    '{"journal_text": "Quenmira left and tonight I end it all",, }',  # a syntax error
])
def test_malformed_json_is_not_quoted_back(mesh, admin, raw):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, AUDIT, {"content-type": "application/json", **bearer(key)}, "POST", raw.encode())

    assert reply.status == 400
    assert reply.reason() == "INVALID_JSON"
    assert "Quenmira" not in reply.body.decode()
    assert "end it all" not in reply.body.decode()
    assert admin.used(account_id) == 0


def test_grpc_validation_error_names_field(admin, public_channel):
    _, _, key = admin.account_with_key("pro")

    with pytest.raises(grpc.RpcError) as raised:
        grpc_audit(public_channel, seda_pb2.AuditRequest(journal_text=CALM_TEXT, context="nope"), [("x-api-key", key)])

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_request = status_detail(rich_status(raised.value), error_details_pb2.BadRequest)
    assert bad_request.field_violations[0].field == "context"


# --- size limits -------------------------------------------------------------------


def test_longest_text_passes_rest_and_grpc(mesh, admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")

    reply = audit(mesh, key, {"journal_text": MAX_LENGTH_TEXT, "birth_data": BIRTH, "context": "journal_prompt", "locale": "en-US"})
    native = grpc_audit(public_channel, seda_pb2.AuditRequest(journal_text=MAX_LENGTH_TEXT), [("x-api-key", key)])

    assert reply.status == 200
    assert reply.json()["input_hash"] == expected_hash(mesh, MAX_LENGTH_TEXT)
    assert native.input_hash == expected_hash(mesh, MAX_LENGTH_TEXT)
    assert admin.used(account_id) == 2


def test_body_over_byte_limit_is_413_and_free(mesh, admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    text = "\U0001F30A" * 25_000  # 100,000 bytes of UTF-8, over the 96 KiB limit

    reply = audit(mesh, key, {"journal_text": text})
    with pytest.raises(grpc.RpcError) as raised:
        grpc_audit(public_channel, seda_pb2.AuditRequest(journal_text=text), [("x-api-key", key)])

    assert reply.status == 413
    assert reply.json()["code"] == 8
    assert reply.reason() == "BODY_TOO_LARGE"
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(raised.value) == "BODY_TOO_LARGE"
    assert admin.used(account_id) == 0


def test_body_over_edge_limit_is_json_413(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    # 3 MB of JSON is over Envoy's 2 MiB buffer, so Envoy itself refuses it.
    reply = audit(mesh, key, {"journal_text": "Harrowgate " * 300_000})

    assert reply.status == 413
    assert reply.json()["code"] == 8
    assert reply.reason() == "BODY_TOO_LARGE"
    assert admin.used(account_id) == 0


# --- tiers --------------------------------------------------------------------------


def test_free_key_is_403_and_free(mesh, admin, public_channel):
    account_id, _, key = admin.account_with_key("free")

    reply = audit(mesh, key, {"journal_text": CALM_TEXT})
    with pytest.raises(grpc.RpcError) as raised:
        grpc_audit(public_channel, seda_pb2.AuditRequest(journal_text=CALM_TEXT), [("x-api-key", key)])

    assert reply.status == 403
    assert reply.reason() == "METHOD_NOT_IN_TIER"
    assert METHOD in reply.json()["message"]
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(raised.value) == "METHOD_NOT_IN_TIER"
    assert admin.used(account_id) == 0


def test_missing_key_is_401(mesh):
    reply = audit(mesh, None, {"journal_text": CALM_TEXT})

    assert reply.status == 401
    assert reply.reason() == "API_KEY_MISSING"


# --- audit record and hash --------------------------------------------------------


def test_audit_record_has_ids_and_no_text(mesh, admin):
    account_id, key_id, key = admin.account_with_key("pro")
    request_id = str(uuid.uuid4())

    body = audit(mesh, key, {"journal_text": CRISIS_TEXT, "locale": "en-US", "context": "horoscope",
                             "birth_data": BIRTH}, {"x-request-id": request_id}).json()
    entry = stream_entry(mesh, request_id)

    assert entry is not None
    assert entry["input_hash"] == body["input_hash"]
    assert entry["seda_score"] == str(body["seda_score"])
    assert entry["band"] == body["band"]
    assert entry["model_version"] == body["model_version"]
    assert entry["key_id"] == key_id
    assert entry["account_id"] == account_id
    assert entry["tier"] == "pro"
    assert entry["timestamp"] == body["timestamp"]
    assert entry["context"] == "horoscope"
    assert entry["idempotent_replay"] == "false"
    assert set(entry) == {"request_id", "timestamp", "input_hash", "seda_score", "band", "model_version",
                          "key_id", "account_id", "tier", "context", "idempotent_replay"}
    stored = " ".join(entry.values())
    assert "goodbye" not in stored
    assert BIRTH["date"] not in stored


def test_replay_record_is_marked(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    idempotency = {"idempotency-key": str(uuid.uuid4())}
    first_id, replay_id = str(uuid.uuid4()), str(uuid.uuid4())

    first = audit(mesh, key, {"journal_text": CALM_TEXT}, {**idempotency, "x-request-id": first_id})
    replay = audit(mesh, key, {"journal_text": CALM_TEXT}, {**idempotency, "x-request-id": replay_id})

    assert first.status == 200
    assert replay.status == 200
    assert stream_entry(mesh, first_id)["idempotent_replay"] == "false"
    assert stream_entry(mesh, replay_id)["idempotent_replay"] == "true"


def test_client_cannot_mark_replay(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    request_id = str(uuid.uuid4())

    reply = audit(mesh, key, {"journal_text": CALM_TEXT},
                  {"x-defrag-idempotent-replay": "true", "x-request-id": request_id})

    assert reply.status == 200
    assert stream_entry(mesh, request_id)["idempotent_replay"] == "false"


def test_input_hash_is_hmac_of_text(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    text = "Tea with Mireille at the \u00e9cluse caf\u00e9 \u2014 \U0001F375 and a long talk."

    body = audit(mesh, key, {"journal_text": text}).json()

    assert body["input_hash"] == hmac.new(mesh.seda_secret.encode(), text.encode("utf-8"), hashlib.sha256).hexdigest()
    assert body["input_hash"] != hashlib.sha256(text.encode()).hexdigest()


# --- faults ---------------------------------------------------------------------------


def identity(key_id: str = "key_fault", account_id: str = "acct_fault") -> list[tuple[str, str]]:
    return [("x-request-id", str(uuid.uuid4())), ("x-defrag-key-id", key_id), ("x-defrag-account-id", account_id),
            ("x-defrag-tier", "pro")]


def test_stopped_redis_gives_audit_logged_false(mesh, seda_channel):
    failures_before = sample(scrape(mesh.ports.seda_metrics[0]), "defrag_seda_audit_write_failures_total", reason="unavailable")

    mesh.stop_process("redis")
    try:
        started = time.monotonic()
        response = grpc_audit(seda_channel, seda_pb2.AuditRequest(journal_text=CRISIS_TEXT, locale="en-GB"), identity())
        elapsed = time.monotonic() - started
    finally:
        mesh.start_redis()
        mesh.wait_ready()

    assert response.audit_logged is False
    assert response.band == "critical"
    assert [r.phone for r in response.crisis_resources][0] == "116 123"
    assert any("audit record could not be written" in w for w in response.warnings)
    assert elapsed < 2
    failures_after = sample(scrape(mesh.ports.seda_metrics[0]), "defrag_seda_audit_write_failures_total", reason="unavailable")
    assert failures_after == failures_before + 1
    log = (mesh.logs / "seda-0.log").read_text()
    assert "writing the audit record failed" in log
    # The next call after Redis is back is recorded again.
    again = grpc_audit(seda_channel, seda_pb2.AuditRequest(journal_text=CALM_TEXT), identity())
    assert again.audit_logged is True


def test_frozen_redis_returns_within_timeout(mesh, seda_channel):
    redis_process = mesh.processes["redis"]

    os.kill(redis_process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = grpc_audit(seda_channel, seda_pb2.AuditRequest(journal_text=CALM_TEXT), identity())
        elapsed = time.monotonic() - started
    finally:
        os.kill(redis_process.pid, signal.SIGCONT)

    assert response.audit_logged is False
    assert response.band == "clear"
    assert elapsed < 1.5


def test_health_served_while_scoring(mesh, seda_channel):
    health = health_pb2_grpc.HealthStub(seda_channel)
    request = seda_pb2.AuditRequest(journal_text=MAX_LENGTH_TEXT)
    AUDITED_TEXTS.append(MAX_LENGTH_TEXT)
    stub = seda_pb2_grpc.SedaServiceStub(seda_channel)

    calls = [stub.Audit.future(request, metadata=identity(), timeout=60) for _ in range(24)]
    waits = []
    while not all(call.done() for call in calls):
        started = time.monotonic()
        reply = health.Check(health_pb2.HealthCheckRequest(service="defrag.seda.v1.SedaService"), timeout=0.5)
        waits.append(time.monotonic() - started)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        time.sleep(0.01)

    assert all(call.result().band for call in calls)
    assert waits
    assert max(waits) < 0.25


# --- metrics and start-up ------------------------------------------------------------


def test_metrics_count_bands_and_scoring(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    before = sample(scrape(mesh.ports.seda_metrics[0]), "defrag_seda_band_total", band="critical")
    audit(mesh, key, {"journal_text": CRISIS_TEXT})

    metrics = scrape(mesh.ports.seda_metrics[0])

    assert sample(metrics, "defrag_seda_band_total", band="critical") == before + 1
    # Every band's series exists from start-up, so a dashboard shows 0 rather than no data.
    for band in BANDS:
        assert sample(metrics, "defrag_seda_band_total", band=band) >= 0
    assert sample(metrics, "defrag_seda_audit_write_failures_total", reason="rejected") >= 0
    assert "defrag_seda_scoring_duration_seconds_bucket" in metrics
    assert sample(metrics, "defrag_grpc_requests_total", service="seda", method=METHOD, code="OK") >= 1


def test_short_secret_stops_start_up(mesh):
    secret = "only-nineteen-bytes"
    env = seda_env(mesh, SEDA_AUDIT_HMAC_SECRET=secret, SEDA_PORT="0")

    result = subprocess.run([sys.executable, "-m", "services.seda"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=60)

    assert result.returncode == 2
    assert "SEDA_AUDIT_HMAC_SECRET is 19 bytes long" in result.stdout
    assert secret not in result.stdout + result.stderr


def seda_env(mesh, **values: str) -> dict[str, str]:
    """Return the environment of a SEDA process of its own, on the mesh's Redis, with ``values`` added."""
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "SEDA_AUDIT_HMAC_SECRET": mesh.seda_secret, "REDIS_URL": mesh.redis_url,
            "SEDA_METRICS_PORT": str(free_port()), **values}


# Critical only with the encoder: the rules and the n-gram model alone score it clear.
ENCODER_ONLY_TEXT = "Nobody will have to deal with my mess after next Tuesday."


def test_encoder_off_scores_without_it(mesh, seda_channel):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "services.seda"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=seda_env(mesh, SEDA_ENCODER="off", SEDA_PORT=str(port)))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            off_identity = identity()
            off = grpc_audit(channel, seda_pb2.AuditRequest(journal_text=ENCODER_ONLY_TEXT), off_identity)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    on = grpc_audit(seda_channel, seda_pb2.AuditRequest(journal_text=ENCODER_ONLY_TEXT), identity())

    assert on.model_version == scorer.MODEL_VERSION
    assert on.band == "critical"
    assert off.model_version == scorer.MODEL_VERSION + "-no-encoder"
    assert off.band == "clear"
    assert stream_entry(mesh, dict(off_identity)["x-request-id"])["model_version"] == off.model_version


def test_unknown_encoder_setting_stops_start_up(mesh):
    result = subprocess.run([sys.executable, "-m", "services.seda"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env=seda_env(mesh, SEDA_ENCODER="yes", SEDA_PORT="0"))

    assert result.returncode == 2
    assert "SEDA_ENCODER='yes' is not one of on, off" in result.stdout + result.stderr


def test_concurrent_audits_each_logged(mesh, admin):
    _, _, key = admin.account_with_key("enterprise")
    request_ids = [str(uuid.uuid4()) for _ in range(8)]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda rid: audit(mesh, key, {"journal_text": CALM_TEXT}, {"x-request-id": rid}), request_ids))

    assert [r.status for r in replies] == [200] * 8
    assert all(stream_entry(mesh, rid) is not None for rid in request_ids)

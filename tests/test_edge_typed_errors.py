"""Typed request checks at the edge, through the real Envoy and mesh.

The edge's Lua check (deploy/helm/defrag/files/envoy/strict_json.lua) checks every REST query
parameter and JSON body field against the type of its request field before
the transcoder reads it, and names the field in a BadRequest. The transcoder
alone reads lat=0x10 as 16, "yes" as true and an object as an array of one,
and its errors name no field. These tests also cover query parameters on
body routes, Content-Encoding, and requests that are not valid HTTP.
"""

import gzip
import json
import socket
import urllib.parse
import urllib.request
import uuid

import grpc
import pytest

from conftest import AUDITED_TEXTS, LOS_ANGELES_1990, MAPPED_PEOPLE, Reply, bearer, http
from defrag.keys.v1 import usage_pb2, usage_pb2_grpc
from defrag.orbit.v1 import orbit_pb2, orbit_pb2_grpc
from defrag.seda.v1 import seda_pb2, seda_pb2_grpc
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from test_edge_strict_json import send_raw
from test_seda_service import CALM_TEXT, CRISIS_TEXT, stream_entry

pytestmark = pytest.mark.integration

VECTORS = "/v1/telemetry/vectors"
AUDIT = "/v1/seda/audit"
MAP = "/v1/orbit/map"
BATCH = "/v1/telemetry/vectors:batch"
# Los Angeles without lat, for cases that send their own lat.
WITHOUT_LAT = "date=1990-01-15&time=14:30&lon=-118.24"
# The length to which an error message cuts a repeated value (MAX_VALUE_ECHO_BYTES).
VALUE_ECHO_BYTES = 32


def person(name: str, **birth) -> dict:
    MAPPED_PEOPLE.append(name)
    return {"name": name, "role": "friend", "birth_data": {"date": "1990-05-17", "time": "09:30", "lat": 51.5,
                                                           "lon": -0.12, **birth}}


def post_json(mesh, key: str | None, path: str, body: str | bytes, headers: dict | None = None) -> Reply:
    sent = {"Content-Type": "application/json", **(bearer(key) if key else {}), **(headers or {})}
    return http(mesh, path, sent, "POST", body if isinstance(body, bytes) else body.encode())


def field_violations(reply: Reply) -> list[dict]:
    return reply.detail("BadRequest")["field_violations"]


def assert_invalid_request(reply: Reply, field: str, description: str) -> None:
    """Checks a 400 INVALID_REQUEST whose first field violation names field and contains description."""
    assert reply.status == 400, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 3
    assert reply.reason() == "INVALID_REQUEST"
    first = field_violations(reply)[0]
    assert first["field"] == field
    assert description in first["description"]
    assert reply.json()["message"].startswith(f"{field}: {first['description']}")
    assert "not valid JSON" not in reply.json()["message"]
    assert reply.detail("ErrorInfo")["metadata"]["request_id"] == reply.headers["x-request-id"]


# --- query parameters of GET /v1/telemetry/vectors -------------------------------------

QUERY_TYPE_ERRORS = [
    ("lat=abc", "lat", "expected a finite number, got 'abc': write a decimal number"),
    ("lat=0x10", "lat", "got '0x10'"),
    ("lat=%20%2034", "lat", "got '  34'"),
    ("lat=34.05%20", "lat", "got '34.05 '"),
    ("lat=1e400", "lat", "got '1e400': send a number within the range of a double"),
    ("lat=", "lat", "got an empty value"),
    ("lat=+5", "lat", "got '+5'"),
    ("lat=.5", "lat", "got '.5'"),
    ("lat=NaN", "lat", "got 'NaN'"),
    ("lat=Infinity", "lat", "got 'Infinity'"),
    ("lat", "lat", "the parameter has no value"),
    ("lat=34.05&fold=1.5", "fold", "expected a whole number from -2147483648 to 2147483647, got '1.5'"),
    ("lat=34.05&fold=abc", "fold", "got 'abc'"),
    ("lat=34.05&fold=2147483648", "fold", "send a number in that range"),
    ("lat=34.05&refraction=", "refraction", "expected true or false, got an empty value"),
    ("lat=34.05&refraction=1", "refraction", "expected true or false, got '1'"),
    ("lat=34.05&refraction=yes", "refraction", "got 'yes'"),
    ("lat=34.05&refraction=True", "refraction", "got 'True'"),
    ("lat=34.05&date=2000-01-01", "date", "the parameter is sent more than once (as date): send it once"),
    ("lat=34.05&lat=34.05", "lat", "the parameter is sent more than once"),
    ("lat=34.05&elevationMeters=5&elevation_meters=5", "elevation_meters",
     "sent more than once (as elevation_meters or elevationMeters)"),
    ("lat=34.05&tz=%FF", "tz", "the value is not valid UTF-8 once its %XX escapes are decoded"),
]


@pytest.mark.parametrize("query, field, description", QUERY_TYPE_ERRORS, ids=[case[0] for case in QUERY_TYPE_ERRORS])
def test_query_type_error_names_the_field(mesh, admin, query, field, description):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, f"{VECTORS}?{WITHOUT_LAT}&{query}", bearer(key))

    assert_invalid_request(reply, field, description)
    assert admin.used(account_id) == 0


def test_long_query_value_is_cut_in_the_error(mesh):
    reply = http(mesh, f"{VECTORS}?{WITHOUT_LAT}&lat=" + "9" * 200 + "x")

    assert_invalid_request(reply, "lat", "got '" + "9" * VALUE_ECHO_BYTES + "...'")


def test_query_string_value_is_not_repeated(mesh):
    # tz is a string field: its value may be anything, so it is never quoted back.
    reply = http(mesh, f"{VECTORS}?{LOS_ANGELES_1990}&tz=Secret%FFText")

    assert_invalid_request(reply, "tz", "not valid UTF-8")
    assert b"Secret" not in reply.body


@pytest.mark.parametrize("query, lat, elevation, refraction", [
    ("lat=-90&lon=180&date=1990-01-15", -90, 0, False),
    ("lat=3.405e1&lon=-118.24&date=1990-01-15&refraction=true&fold=1", 34.05, 0, True),
    ("lat=34.05&lon=-118.24&date=1990-01-15&refraction=false&fold=0&elevationMeters=71", 34.05, 71, False),
    ("l%61t=34.05&lon=-118.24&date=1990-01-15&&", 34.05, 0, False),
    ("lat=-0&lon=0&date=1990-01-15&elevation_meters=-500", 0, -500, False),
])
def test_valid_query_values_pass_and_are_charged(mesh, admin, query, lat, elevation, refraction):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, f"{VECTORS}?{query}", bearer(key))

    assert reply.status == 200, reply.body
    assert reply.json()["location"]["lat"] == lat
    assert reply.json()["location"]["elevation_meters"] == elevation
    assert reply.json()["refraction_applied"] is refraction
    assert admin.used(account_id) == 1


def test_unknown_query_parameter_lists_the_accepted_names(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, f"{VECTORS}?{LOS_ANGELES_1990}&colour=blue", bearer(key))

    assert_invalid_request(reply, "colour", "unknown query parameter: GET /v1/telemetry/vectors accepts date, time, lat, lon")
    assert "house_system; check the spelling" in field_violations(reply)[0]["description"]
    assert admin.used(account_id) == 0


@pytest.mark.parametrize("query, field, description", [
    ("birth_data.lat=1", "birth_data.lat", "unknown query parameter"),
    ("api%5Fkey=x", "api%5Fkey", "unknown query parameter"),
    ("=5", "", "a query parameter has no name before its '='"),
])
def test_other_query_names_are_rejected(mesh, query, field, description):
    reply = http(mesh, f"{VECTORS}?{LOS_ANGELES_1990}&{query}")

    assert reply.status == 400
    assert reply.reason() == "INVALID_REQUEST"
    assert field_violations(reply)[0]["field"] == field
    assert description in field_violations(reply)[0]["description"]


def test_every_query_violation_is_listed(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = http(mesh, f"{VECTORS}?date=1990-01-15&lat=north&lon=west&fold=x&refraction=on", bearer(key))

    assert reply.status == 400
    assert [v["field"] for v in field_violations(reply)] == ["lat", "lon", "fold", "refraction"]
    assert reply.json()["message"].endswith(" (and 3 more)")
    assert admin.used(account_id) == 0


def test_usage_takes_no_query_parameter_but_the_key(mesh, admin):
    _, _, key = admin.account_with_key("pro")

    rejected = http(mesh, "/v1/usage?verbose=true", bearer(key))
    with_key = http(mesh, f"/v1/usage?api_key={key}")

    assert_invalid_request(rejected, "verbose", "unknown query parameter: GET /v1/usage accepts no query parameters")
    assert with_key.status == 200


def test_get_body_fields_are_type_checked(mesh):
    # The transcoder reads a GET's body into the request too.
    reply = send_raw(mesh, "GET", f"{VECTORS}?{LOS_ANGELES_1990}", [("Content-Type", "application/json")],
                     b'{"lat": "34.05"}')

    assert_invalid_request(reply, "lat", "expected a finite number, got a number in quotes")


# --- query parameters of routes with a JSON body ------------------------------------------


def test_audit_text_in_the_query_is_rejected_unscored(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    request_id = f"typed-{uuid.uuid4()}"
    AUDITED_TEXTS.append(CRISIS_TEXT)
    query = urllib.parse.urlencode({"journal_text": CRISIS_TEXT})

    reply = send_raw(mesh, "POST", f"{AUDIT}?{query}", [("Authorization", f"Bearer {key}"), ("x-request-id", request_id),
                                                         ("Content-Type", "application/json")], b"")

    assert_invalid_request(reply, "journal_text", "POST /v1/seda/audit takes its fields from the JSON body")
    assert field_violations(reply)[0]["description"].endswith("send journal_text in the JSON body")
    assert "kill" not in reply.body.decode()
    assert admin.used(account_id) == 0
    assert stream_entry(mesh, request_id) is None


@pytest.mark.parametrize("path, query, field", [
    (AUDIT, "locale=en-GB", "locale"),
    ("/api/v1/seda/audit", "context=horoscope", "context"),
    (MAP, "omit_aspects=true", "omit_aspects"),
    (BATCH, "lat=1", "lat"),
    ("/api/v1/telemetry/vectors:batch", "colour=blue", "colour"),
])
def test_body_route_rejects_query_parameters(mesh, admin, path, query, field):
    account_id, _, key = admin.account_with_key("pro")
    body = {
        AUDIT: {"journal_text": CALM_TEXT},
        MAP: {"people": [person("Ola Query"), person("Per Query")]},
        BATCH: {"lat": 1, "lon": 2, "instants": [{"date": "2000-01-01"}]},
    }[path.removeprefix("/api")]
    AUDITED_TEXTS.append(CALM_TEXT)

    reply = post_json(mesh, key, f"{path}?{query}", json.dumps(body))

    assert_invalid_request(reply, field, "takes its fields from the JSON body, so it accepts no query parameter but "
                                         "the deprecated api_key")
    assert admin.used(account_id) == 0


def test_query_api_key_works_on_body_route(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    AUDITED_TEXTS.append(CALM_TEXT)

    reply = post_json(mesh, None, f"{AUDIT}?api_key={key}", json.dumps({"journal_text": CALM_TEXT}))

    assert reply.status == 200, reply.body
    assert "deprecation" in reply.headers
    assert admin.used(account_id) == 1


@pytest.mark.parametrize("repeat", ["two keys", "one key twice", "an empty copy first", "with a header key"])
def test_repeated_query_api_key_is_400_and_free(mesh, admin, repeat):
    account_id, _, key = admin.account_with_key("pro")
    other_account_id, _, other_key = admin.account_with_key("pro")
    query, headers = {
        "two keys": (f"api_key={key}&api_key={other_key}", {}),
        "one key twice": (f"api_key={key}&api_key={key}", {}),
        "an empty copy first": (f"api_key=&api_key={key}", {}),
        "with a header key": (f"api_key={key}&api_key={other_key}", bearer(key)),
    }[repeat]

    reply = http(mesh, f"{VECTORS}?{LOS_ANGELES_1990}&{query}", headers)

    assert_invalid_request(reply, "api_key", "the parameter is sent more than once")
    assert "Authorization: Bearer" in reply.json()["message"]
    assert key not in reply.body.decode()
    assert other_key not in reply.body.decode()
    assert admin.used(account_id) == 0
    assert admin.used(other_account_id) == 0


def test_repeated_api_key_on_post_is_400(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    AUDITED_TEXTS.append(CALM_TEXT)

    reply = post_json(mesh, None, f"{AUDIT}?api_key={key}&api_key={key}", json.dumps({"journal_text": CALM_TEXT}))

    assert_invalid_request(reply, "api_key", "the parameter is sent more than once")
    assert admin.used(account_id) == 0


# --- which side rejects a field decides the charge ---------------------------------------


@pytest.mark.parametrize("body", ["{}", '{"journal_text": null}'])
def test_missing_required_field_is_charged(mesh, admin, body):
    # The edge checks types, not presence, so the service rejects the call after the charge.
    account_id, _, key = admin.account_with_key("pro")

    reply = post_json(mesh, key, AUDIT, body)

    assert reply.status == 400, reply.body
    assert reply.reason() == "INVALID_ARGUMENT"
    assert field_violations(reply)[0]["field"] == "journal_text"
    assert admin.used(account_id) == 1


@pytest.mark.parametrize("path, body, field", [
    (AUDIT, '{"journal_text": 5}', "journal_text"),
    (f"{VECTORS}?{WITHOUT_LAT}&lat=", None, "lat"),
])
def test_wrong_type_is_free(mesh, admin, path, body, field):
    account_id, _, key = admin.account_with_key("pro")

    reply = post_json(mesh, key, path, body) if body else http(mesh, path, bearer(key))

    assert_invalid_request(reply, field, "expected")
    assert admin.used(account_id) == 0


# --- JSON body fields --------------------------------------------------------------------

ANA = {"name": "Ana Typed", "role": "friend", "birth_data": {"date": "1990-05-17", "lat": 51.5, "lon": -0.12}}
BEN = {"name": "Ben Typed", "role": "friend", "birth_data": {"date": "1991-02-03", "lat": 40.4, "lon": -3.7}}
MAPPED_PEOPLE.extend([ANA["name"], BEN["name"]])


def with_birth(person_fields: dict, **birth) -> dict:
    return {**person_fields, "birth_data": {**person_fields["birth_data"], **birth}}


BODY_TYPE_ERRORS = [
    ("text as a number", AUDIT, {"journal_text": 5}, "journal_text", "expected a string, got a number"),
    ("text as an array", AUDIT, {"journalText": ["calm"]}, "journal_text", "expected a string, got an array"),
    ("birth lat in quotes", AUDIT, {"journal_text": "calm", "birth_data": {"lat": "51.5"}}, "birth_data.lat",
     "expected a finite number, got a number in quotes: send a JSON number without quotes"),
    ("birth data as a string", AUDIT, {"journal_text": "calm", "birth_data": "1990-05-17"}, "birth_data",
     "expected an object, got a string"),
    ("people as a string", MAP, {"people": "x"}, "people",
     "expected an array of objects, got a string: send a JSON array, [...], also for a single element"),
    ("nested lat as text", MAP, {"people": [ANA, with_birth(BEN, lat="abc")]}, "people[1].birth_data.lat",
     "expected a finite number, got a string"),
    ("omit_aspects as 1", MAP, {"people": [ANA, BEN], "omit_aspects": 1}, "omit_aspects",
     "expected true or false, got '1': send true or false, without quotes"),
    ("omit_aspects as yes", MAP, {"people": [ANA, BEN], "omit_aspects": "yes"}, "omit_aspects",
     "got the string 'yes'"),
    ("omit_aspects as '1'", MAP, {"people": [ANA, BEN], "omit_aspects": "1"}, "omit_aspects", "got the string '1'"),
    ("null person", MAP, {"people": [ANA, None]}, "people[1]", "an array element or map value is null: remove it"),
    ("person in an array", MAP, {"people": [ANA, [BEN]]}, "people[1]", "expected an object, got an array"),
    ("instants as an object", BATCH, {"lat": 1, "lon": 2, "instants": {"date": "2000-01-01"}}, "instants",
     "expected an array of objects, got an object"),
    ("fold in quotes", BATCH, {"lat": 1, "lon": 2, "instants": [{"date": "2000-01-01", "fold": "1"}]},
     "instants[0].fold", "got a number in quotes"),
    ("fold as 1.0", BATCH, {"lat": 1, "lon": 2, "instants": [{"date": "2000-01-01", "fold": 1.0}]},
     "instants[0].fold", "got '1.0': send a whole number, with no fraction or exponent"),
    ("lat beyond a double", BATCH, '{"lat": 1e999, "lon": 2, "instants": [{"date": "2000-01-01"}]}', "lat",
     "got '1e999': send a number within the range of a double"),
    # LuaJIT's tonumber cannot read an exponent this long; the check must not fail on it.
    ("lat with a huge exponent", BATCH, '{"lat": 1e4000000000, "lon": 2, "instants": [{"date": "2000-01-01"}]}',
     "lat", "send a number within the range of a double"),
    ("beyond a double in an unknown key's value", AUDIT, '{"journal_text": "A calm day.", "x": [-1e999]}', "x",
     "unknown field 'x'"),
    ("refraction in quotes", BATCH, {"lat": 1, "lon": 2, "refraction": "true", "instants": [{"date": "2000-01-01"}]},
     "refraction", "got the string 'true'"),
]


@pytest.mark.parametrize("path, body, field, description", [case[1:] for case in BODY_TYPE_ERRORS],
                         ids=[case[0] for case in BODY_TYPE_ERRORS])
def test_body_type_error_names_the_field(mesh, admin, path, body, field, description):
    account_id, _, key = admin.account_with_key("pro")

    reply = post_json(mesh, key, path, body if isinstance(body, str) else json.dumps(body))

    assert_invalid_request(reply, field, description)
    assert admin.used(account_id) == 0


def test_body_type_errors_do_not_repeat_text(mesh):
    secret = "Zofia Prywatna born in Lodz"
    bodies = [
        {"journal_text": {"text": CRISIS_TEXT}},
        {"people": [{**ANA, "name": [secret]}, BEN]},
        {"people": [with_birth(ANA, lat=secret), BEN]},
        {"people": [with_birth(ANA, date=19900517), BEN]},
    ]
    AUDITED_TEXTS.append(CRISIS_TEXT)
    MAPPED_PEOPLE.append(secret)

    replies = [post_json(mesh, None, AUDIT if "journal_text" in body else MAP, json.dumps(body)) for body in bodies]

    assert [reply.status for reply in replies] == [400, 400, 400, 400]
    for reply in replies:
        assert reply.reason() == "INVALID_REQUEST"
        assert "kill" not in reply.body.decode()
        assert "Zofia" not in reply.body.decode()
        assert "19900517" not in reply.body.decode()


def test_every_body_violation_is_listed_in_order(mesh):
    body = {"people": [with_birth(ANA, lat="1", fold="0"), {**BEN, "role": 3}], "omit_aspects": "no"}

    reply = post_json(mesh, None, MAP, json.dumps(body))

    assert reply.status == 400
    assert [v["field"] for v in field_violations(reply)] == [
        "people[0].birth_data.lat", "people[0].birth_data.fold", "people[1].role", "omit_aspects",
    ]
    assert reply.json()["message"].endswith(" (and 3 more)")


@pytest.mark.parametrize("number", ["-1e999", "1" + "0" * 400])
def test_number_beyond_a_double_is_rejected_where_unchecked(mesh, number):
    # The transcoder cannot read such a number even where no field's type
    # applies: under an unknown key, or inside a value of the wrong type.
    body = '{"journal_text": [%s], "x": {"y": %s}}' % (number, number)

    reply = post_json(mesh, None, AUDIT, body)

    assert reply.status == 400
    assert reply.reason() == "INVALID_REQUEST"
    assert [(v["field"], v["description"].split(":")[0]) for v in field_violations(reply)] == [
        ("journal_text", "expected a string, got an array"),
        ("journal_text[0]", "a number beyond the range of a double (about 1.8e308)"),
        ("x", "unknown field 'x'"),
        ("x.y", "a number beyond the range of a double (about 1.8e308)"),
    ]


def test_json_syntax_error_wins_over_a_type_error(mesh):
    reply = post_json(mesh, None, AUDIT, "{\"journal_text\": 5, \"locale\": 'en-GB'}")

    assert reply.status == 400
    assert reply.reason() == "INVALID_JSON"


@pytest.mark.parametrize("path, body", [
    (AUDIT, {"journalText": CALM_TEXT, "locale": None, "birth_data": None}),
    (MAP, {"people": [ANA, BEN], "omit_aspects": True}),
    (BATCH, {"lat": 40, "lon": -74.0, "refraction": False,
             "instants": [{"date": "2021-11-07", "time": "01:30", "fold": 1}, {"date": "2000-01-01", "fold": None}]}),
])
def test_bodies_of_the_right_types_pass(mesh, admin, path, body):
    _, _, key = admin.account_with_key("pro")
    AUDITED_TEXTS.append(CALM_TEXT)

    reply = post_json(mesh, key, path, json.dumps(body))

    assert reply.status == 200, reply.body


# --- every route still works -----------------------------------------------------------


@pytest.mark.parametrize("method, path, body", [
    ("GET", f"{VECTORS}?{LOS_ANGELES_1990}", None),
    ("GET", f"/api{VECTORS}?{LOS_ANGELES_1990}", None),
    ("GET", "/v1/usage", None),
    ("GET", "/api/v1/usage", None),
    ("POST", AUDIT, {"journal_text": CALM_TEXT}),
    ("POST", "/api" + AUDIT, {"journal_text": CALM_TEXT}),
    ("POST", MAP, {"people": [ANA, BEN]}),
    ("POST", "/api" + MAP, {"people": [ANA, BEN]}),
    ("POST", BATCH, {"lat": 1, "lon": 2, "instants": [{"date": "2000-01-01"}]}),
    ("POST", "/api" + BATCH, {"lat": 1, "lon": 2, "instants": [{"date": "2000-01-01"}]}),
])
def test_every_rest_route_answers(mesh, admin, method, path, body):
    _, _, key = admin.account_with_key("pro")
    AUDITED_TEXTS.append(CALM_TEXT)
    headers = {**bearer(key), **({"Content-Type": "application/json"} if body else {})}

    reply = http(mesh, path, headers, method, json.dumps(body).encode() if body else None)

    assert reply.status == 200, reply.body


@pytest.mark.parametrize("compression", [grpc.Compression.NoCompression, grpc.Compression.Gzip], ids=["plain", "gzip"])
def test_every_grpc_method_answers(admin, public_channel, compression):
    account_id, _, key = admin.account_with_key("pro")
    metadata = [("x-api-key", key)]
    AUDITED_TEXTS.append(CALM_TEXT)
    people = [orbit_pb2.Person(name=p["name"], role=p["role"], birth_data=p["birth_data"]) for p in (ANA, BEN)]

    chart = telemetry_pb2_grpc.TelemetryServiceStub(public_channel).GetVectors(
        telemetry_pb2.GetVectorsRequest(date="1990-01-15", time="14:30", lat=34.05, lon=-118.24),
        metadata=metadata, compression=compression, timeout=30)
    batch = telemetry_pb2_grpc.TelemetryServiceStub(public_channel).BatchGetVectors(
        telemetry_pb2.BatchGetVectorsRequest(lat=1, lon=2, instants=[telemetry_pb2.Instant(date="2000-01-01")]),
        metadata=metadata, compression=compression, timeout=30)
    audit = seda_pb2_grpc.SedaServiceStub(public_channel).Audit(
        seda_pb2.AuditRequest(journal_text=CALM_TEXT), metadata=metadata, compression=compression, timeout=30)
    orbit = orbit_pb2_grpc.OrbitServiceStub(public_channel).Map(
        orbit_pb2.MapRequest(people=people), metadata=metadata, compression=compression, timeout=30)
    usage = usage_pb2_grpc.UsageServiceStub(public_channel).GetUsage(
        usage_pb2.GetUsageRequest(), metadata=metadata, compression=compression, timeout=30)

    assert chart.observer_timezone == "America/Los_Angeles"
    assert len(batch.charts) == 1
    assert audit.band == "clear"
    assert orbit.people_count == 2
    assert usage.used == 4
    assert admin.used(account_id) == 4


# --- Content-Encoding --------------------------------------------------------------------


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", True),
    ("gzip", False),
    ("deflate", False),
    ("br", False),
    ("identity, gzip", True),
])
def test_encoded_body_gets_415(mesh, admin, encoding, compress):
    account_id, _, key = admin.account_with_key("pro")
    body = json.dumps({"journal_text": CALM_TEXT}).encode()
    AUDITED_TEXTS.append(CALM_TEXT)

    reply = post_json(mesh, key, AUDIT, gzip.compress(body) if compress else body, {"Content-Encoding": encoding})

    assert reply.status == 415
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["accept-encoding"] == "identity"
    assert reply.json()["code"] == 3
    assert reply.reason() == "UNSUPPORTED_CONTENT_ENCODING"
    assert reply.json()["message"] == (
        f'Content-Encoding "{encoding}" is not supported for a request body: '
        "send the body uncompressed, without a Content-Encoding header"
    )
    assert admin.used(account_id) == 0


def test_identity_encoding_is_accepted(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    AUDITED_TEXTS.append(CALM_TEXT)

    reply = post_json(mesh, key, AUDIT, json.dumps({"journal_text": CALM_TEXT}), {"Content-Encoding": "identity"})

    assert reply.status == 200
    assert admin.used(account_id) == 1


# --- requests that are not valid HTTP --------------------------------------------------------


def send_bytes(mesh, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Sends raw bytes and reads until Envoy closes the connection; returns the status line, headers and body."""
    with socket.create_connection(("127.0.0.1", mesh.ports.public), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return status_line, headers, body


MALFORMED_REQUESTS = [
    ("fragment", b"GET /v1/usage#section HTTP/1.1\r\nHost: api\r\n\r\n", "400", 3,
     "invalid request path: it contains '#', which starts a URL fragment that a client must not send"),
    ("HTTP/1.0 without Host", b"GET /v1/usage HTTP/1.0\r\n\r\n", "400", 3, "the request has no Host header: send one"),
    ("HTTP/1.1 without Host", b"GET /v1/usage HTTP/1.1\r\nConnection: close\r\n\r\n", "400", 3,
     "the request has no Host header"),
    ("space in the path", b"GET /v1/us age HTTP/1.1\r\nHost: api\r\n\r\n", "400", 3,
     "invalid HTTP request: Envoy's HTTP/1.1 parser rejected it (http1.codec_error); check the request line"),
    ("control character", b"GET /v1/usage HTTP/1.1\r\nHost: api\r\nX-Note: a\x01b\r\n\r\n", "400", 3,
     "invalid HTTP request: the path or a header contains a character that HTTP does not allow"),
    ("length and chunked", b"POST /v1/usage HTTP/1.1\r\nHost: api\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400", 3,
     "invalid HTTP request: it has both Content-Length and Transfer-Encoding: chunked"),
    ("unknown transfer coding", b"POST /v1/usage HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: gzip\r\n\r\n", "501", 12,
     "the request's Transfer-Encoding is not supported"),
]


@pytest.mark.parametrize("request_bytes, status, code, message", [case[1:] for case in MALFORMED_REQUESTS],
                         ids=[case[0] for case in MALFORMED_REQUESTS])
def test_malformed_http_gets_a_plain_message(mesh, request_bytes, status, code, message):
    status_line, headers, body = send_bytes(mesh, request_bytes)

    assert status_line.split(" ")[1] == status
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["code"] == code
    assert error["message"].startswith(message)
    assert error["details"][0]["reason"] == "MALFORMED_HTTP_REQUEST"
    # No request id exists yet for a request Envoy cannot read, so none is
    # reported, rather than null.
    assert "metadata" not in error["details"][0]
    assert b"null" not in body


def test_malformed_http_repeats_a_sent_request_id(mesh):
    _, _, body = send_bytes(mesh, b"GET /v1/usage#x HTTP/1.1\r\nHost: api\r\nx-request-id: client-id-7\r\n"
                                  b"Connection: close\r\n\r\n")

    assert json.loads(body)["details"][0]["reason"] == "MALFORMED_HTTP_REQUEST"
    assert json.loads(body)["details"][0]["metadata"] == {"request_id": "client-id-7"}


def test_oversized_headers_omit_null_request_id(mesh):
    reply = send_raw(mesh, "GET", "/v1/usage", [("x-padding", "a" * 70_000)])

    assert reply.status == 431
    assert b"null" not in reply.body


# --- the filter itself -----------------------------------------------------------------------


def test_lua_check_raised_no_error(mesh):
    with urllib.request.urlopen(f"http://127.0.0.1:{mesh.ports.envoy_admin}/stats?filter=strict_json", timeout=10) as reply:
        stats = dict(line.split(": ", 1) for line in reply.read().decode().splitlines())

    assert int(stats["http.public.lua.strict_json.executions"]) > 0
    assert int(stats["http.public.lua.strict_json.errors"]) == 0


@pytest.mark.parametrize("number", ["0e99999999999", "1e-99999999999", "-0.0e-4000000000"])
def test_huge_exponent_in_body_reads_zero(mesh, admin, number):
    _, _, key = admin.account_with_key("pro")
    body = '{"lat": %s, "lon": 2, "instants": [{"date": "2000-01-01"}]}' % number

    reply = post_json(mesh, key, BATCH, body)

    assert reply.status == 200, reply.body
    assert reply.json()["charts"][0]["location"]["lat"] == 0


@pytest.mark.parametrize(("value", "status"), [("1e-99999999999", 200), ("1e4000000000", 400)])
def test_query_number_with_huge_exponent(mesh, admin, value, status):
    _, _, key = admin.account_with_key("pro")

    reply = http(mesh, f"{VECTORS}?{WITHOUT_LAT}&lat={value}", bearer(key))

    assert reply.status == status, reply.body
    if status == 400:
        assert_invalid_request(reply, "lat", "send a number within the range of a double")


@pytest.mark.parametrize("path", [AUDIT, MAP, BATCH])
def test_empty_body_is_400_and_free(mesh, admin, path):
    account_id, _, key = admin.account_with_key("pro")

    reply = post_json(mesh, key, path, b"")

    assert reply.status == 400, reply.body
    assert reply.reason() == "INVALID_JSON"
    assert "the request body is empty" in reply.json()["message"]
    assert admin.used(account_id) == 0


def test_unfinished_headers_get_json_408(mesh):
    # Envoy's request_headers_timeout is 10 seconds; the headers never end.
    with socket.create_connection(("127.0.0.1", mesh.ports.public), timeout=30) as connection:
        connection.sendall(b"GET /v1/usage HTTP/1.1\r\nHost: localhost\r\nX-Partial: yes\r\n")
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk

    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b"content-type: application/json" in head.lower()
    error = json.loads(body)
    assert error["code"] == 4
    assert error["details"][0]["reason"] == "REQUEST_TIMEOUT"
    assert "within 10 seconds" in error["message"]

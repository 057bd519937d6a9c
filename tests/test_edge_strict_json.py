"""Strict JSON at the edge: REST bodies are checked before Envoy's transcoder reads them.

The transcoder's own parser accepts single quotes, lets a repeated key win and
drops keys the request message does not define. These tests send bodies through
the real Envoy and check that only strict JSON (RFC 8259, one object, no key
twice, only keys that name a field) with Content-Type application/json reaches
it. A rejected body costs nothing, and native gRPC and GETs without a body pass
untouched.
"""

import http.client as http_client
import json
import random
import re
import urllib.request
import uuid

import pytest

from conftest import AUDITED_TEXTS, LOS_ANGELES_1990, MAPPED_PEOPLE, Reply, bearer, http
from defrag.seda.v1 import seda_pb2, seda_pb2_grpc
from test_seda_service import CALM_TEXT, CRISIS_TEXT, expected_hash, stream_entry

pytestmark = pytest.mark.integration

AUDIT = "/v1/seda/audit"
MAP = "/v1/orbit/map"
BATCH = "/v1/telemetry/vectors:batch"
# A path that no route of the descriptor matches: its body gets the JSON checks only.
UNKNOWN_ROUTE = "/v1/seda/nothing"
# The body limit of the edge: defrag/envoyconf.py's MAX_REQUEST_BYTES.
MAX_BODY_BYTES = 1024 * 1024 + 5
# Nesting limit of deploy/helm/defrag/files/envoy/strict_json.lua, the top-level object included.
MAX_DEPTH = 32


def post(mesh, key: str | None, body: bytes, path: str = AUDIT, content_type: str = "application/json",
         request_id: str | None = None) -> Reply:
    """POSTs raw body bytes with the given Content-Type."""
    headers = {"Content-Type": content_type, **(bearer(key) if key else {})}
    if request_id:
        headers["x-request-id"] = request_id
    return http(mesh, path, headers, "POST", body)


def send_raw(mesh, method: str, path: str, headers: list[tuple[str, str]], body: bytes | None = None,
             chunked: bool = False) -> Reply:
    """Sends one request with exactly these headers (urllib adds a Content-Type of its own)."""
    connection = http_client.HTTPConnection("127.0.0.1", mesh.ports.public, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None and chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        elif body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        if body is not None and chunked:
            for start in range(0, len(body), 64 * 1024):
                piece = body[start:start + 64 * 1024]
                connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            connection.send(b"0\r\n\r\n")
        elif body is not None:
            connection.send(body)
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def audit_body(**fields) -> bytes:
    AUDITED_TEXTS.extend(value for name, value in fields.items() if name == "journal_text")
    return json.dumps(fields, ensure_ascii=False).encode()


def assert_invalid_json(reply: Reply, problem: str, field: str) -> None:
    assert reply.status == 400, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 3
    assert reply.reason() == "INVALID_JSON"
    assert problem in reply.json()["message"]
    assert reply.detail("BadRequest")["field_violations"][0]["field"] == field
    assert reply.detail("ErrorInfo")["metadata"]["request_id"] == reply.headers["x-request-id"]


# --- duplicate keys ---------------------------------------------------------------


def test_duplicate_key_is_rejected_uncharged(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    request_id = f"strict-json-{uuid.uuid4()}"
    AUDITED_TEXTS.extend([CRISIS_TEXT, CALM_TEXT])
    body = f'{{"journal_text": {json.dumps(CRISIS_TEXT)}, "journal_text": {json.dumps(CALM_TEXT)}}}'.encode()

    reply = post(mesh, key, body, request_id=request_id)

    assert_invalid_json(reply, 'duplicate key "journal_text" at $ (line 1, column ', "$")
    assert reply.json()["message"].endswith(": send each field once")
    assert reply.detail("ErrorInfo")["metadata"]["request_id"] == request_id
    assert CRISIS_TEXT not in reply.body.decode()
    assert CALM_TEXT not in reply.body.decode()
    assert admin.used(account_id) == 0
    assert stream_entry(mesh, request_id) is None


def test_single_copy_is_audited_and_charged(mesh, admin):
    # The counterpart of the test above, so its checks of no charge and no
    # audit record can fail.
    account_id, _, key = admin.account_with_key("pro")
    request_id = f"strict-json-{uuid.uuid4()}"

    reply = post(mesh, key, audit_body(journal_text=CRISIS_TEXT), request_id=request_id)

    assert reply.status == 200
    assert reply.json()["band"] == "critical"
    assert admin.used(account_id) == 1
    assert stream_entry(mesh, request_id) is not None


def test_field_aliases_count_as_duplicates(mesh, admin):
    # protobuf reads journal_text and journalText as one field, and the last one wins.
    account_id, _, key = admin.account_with_key("pro")
    AUDITED_TEXTS.extend([CRISIS_TEXT, CALM_TEXT])
    body = f'{{"journal_text": {json.dumps(CRISIS_TEXT)}, "journalText": {json.dumps(CALM_TEXT)}}}'.encode()

    reply = post(mesh, key, body)

    assert_invalid_json(reply, 'keys "journal_text" and "journalText" name the same field at $ ', "$")
    assert reply.json()["message"].endswith(": send each field once, under one name")
    assert admin.used(account_id) == 0


# Keys that fold to journal_text but are not one of its two exact names.
NEAR_MISS_KEYS = ["journal_Text", "journal__text", "journal_text_"]
# The keys that AuditRequest accepts, as an unknown key's error lists them.
AUDIT_KEYS = "send one of journal_text, birth_data, context, locale (or a field's lowerCamelCase JSON name, such as journalText)"
BIRTH_DATA_KEYS = (
    "send one of date, time, lat, lon, elevation_meters, tz, utc_offset, fold, calendar"
    " (or a field's lowerCamelCase JSON name, such as elevationMeters)"
)


def assert_unknown_fields(reply: Reply, expected: list[tuple[str, str]]) -> None:
    """Checks a free 400 INVALID_REQUEST whose field violations are exactly the expected (field, description) pairs."""
    assert reply.status == 400, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 3
    assert reply.reason() == "INVALID_REQUEST"
    violations = [(v["field"], v["description"]) for v in reply.detail("BadRequest")["field_violations"]]
    assert violations == expected
    assert reply.json()["message"].startswith(f"{expected[0][0]}: {expected[0][1]}")


@pytest.mark.parametrize("near_miss", NEAR_MISS_KEYS)
def test_near_miss_key_alone_is_rejected_uncharged(mesh, admin, near_miss):
    # protobuf's JSON parser reads a field only under its proto name or its
    # JSON name, so the transcoder would drop the key, and the service would
    # find no text and reject the call with a charged 400.
    account_id, _, key = admin.account_with_key("pro")

    reply = post(mesh, key, audit_body(**{near_miss: CALM_TEXT}))

    assert_unknown_fields(reply, [(near_miss, f"unknown field '{near_miss}': {AUDIT_KEYS}")])
    assert CALM_TEXT not in reply.body.decode()
    assert admin.used(account_id) == 0


@pytest.mark.parametrize("near_miss", NEAR_MISS_KEYS)
def test_near_miss_key_is_unknown_not_a_repeat(mesh, admin, near_miss):
    # The near-miss key is not a second name of journal_text, so the body
    # is not INVALID_JSON: it gets the unknown key's INVALID_REQUEST.
    account_id, _, key = admin.account_with_key("pro")
    AUDITED_TEXTS.extend([CRISIS_TEXT, CALM_TEXT])
    body = f'{{"journal_text": {json.dumps(CALM_TEXT)}, "{near_miss}": {json.dumps(CRISIS_TEXT)}}}'.encode()

    reply = post(mesh, key, body)

    assert_unknown_fields(reply, [(near_miss, f"unknown field '{near_miss}': {AUDIT_KEYS}")])
    assert admin.used(account_id) == 0


def test_unknown_key_control_characters_are_escaped(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = post(mesh, key, b'{"journal_text": "x", "a\\nb\\u0000": 1}')

    assert_unknown_fields(reply, [('["a\\u000ab\\u0000"]', f"unknown field 'a\\u000ab\\u0000': {AUDIT_KEYS}")])
    assert "\n" not in reply.json()["message"]
    assert "\x00" not in reply.json()["message"]
    assert admin.used(account_id) == 0


def test_nested_near_miss_key_is_rejected(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    body = audit_body(journal_text=CALM_TEXT, birth_data={"date": "1990-05-17", "utc_offset": "+01:00", "utc_Offset": "+09:00"})

    reply = post(mesh, key, body)

    assert_unknown_fields(reply, [("birth_data.utc_Offset", f"unknown field 'utc_Offset': {BIRTH_DATA_KEYS}")])
    assert admin.used(account_id) == 0


@pytest.mark.parametrize("unknown", ["bogus_field", "locale_", "journalTEXT", "birthdata"])
def test_unknown_top_level_key_is_rejected(mesh, admin, unknown):
    account_id, _, key = admin.account_with_key("pro")
    body = f'{{"journal_text": "x", "{unknown}": 1}}'.encode()

    reply = post(mesh, key, body)

    assert_unknown_fields(reply, [(unknown, f"unknown field '{unknown}': {AUDIT_KEYS}")])
    assert admin.used(account_id) == 0


def test_unknown_key_in_an_array_element_is_rejected(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    body = (
        '{"people": [' + orbit_person("Ines Arbeloa", '{"date": "1990-05-17", "lat": 51.5, "lon": -0.12}') + ", "
        + orbit_person("Tomas Ruiz", '{"date": "1991-02-03", "latt": 40.4, "lon": -3.7}') + '], "omitAspects": true, "omit": 1}'
    )

    reply = post(mesh, key, body.encode(), path=MAP)

    assert_unknown_fields(reply, [
        ("people[1].birth_data.latt", f"unknown field 'latt': {BIRTH_DATA_KEYS}"),
        ("omit", "unknown field 'omit': send one of people, omit_aspects"
                 " (or a field's lowerCamelCase JSON name, such as omitAspects)"),
    ])
    assert admin.used(account_id) == 0


def test_unknown_key_in_a_batch_instant_is_rejected(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    body = b'{"lat": 40.7, "lon": -74.0, "instants": [{"date": "2024-01-01"}, {"date": "2024-01-02", "zone": "UTC"}]}'

    reply = post(mesh, key, body, path=BATCH)

    assert reply.status == 400, reply.body
    assert reply.reason() == "INVALID_REQUEST"
    assert reply.detail("BadRequest")["field_violations"][0]["field"] == "instants[1].zone"
    assert reply.detail("BadRequest")["field_violations"][0]["description"].startswith("unknown field 'zone': send one of date, time")
    assert admin.used(account_id) == 0


def test_body_violations_keep_body_order(mesh):
    body = b'{"journal_text": 5, "journal_Text": "x", "birth_data": {"lat": "1", "latt": 1}}'

    reply = post(mesh, None, body)

    assert reply.status == 400
    assert [v["field"] for v in reply.detail("BadRequest")["field_violations"]] == [
        "journal_text", "journal_Text", "birth_data.lat", "birth_data.latt",
    ]
    assert reply.json()["message"].endswith(" (and 3 more)")


def test_unknown_key_value_is_not_repeated(mesh):
    secret = "Zofia Prywatna born in Lodz"
    body = json.dumps({"journal_text": "x", "name": secret, "birth_data": {"place": {"city": secret}}}).encode()
    MAPPED_PEOPLE.append(secret)

    reply = post(mesh, None, body)

    assert [v["field"] for v in reply.detail("BadRequest")["field_violations"]] == ["name", "birth_data.place"]
    assert "Zofia" not in reply.body.decode()


def test_long_unknown_key_is_shortened_in_the_error(mesh):
    long_key = "journal_" + "x" * 300

    reply = post(mesh, None, f'{{"{long_key}": 1}}'.encode())

    shortened = long_key[:64] + "..."
    assert_unknown_fields(reply, [(shortened, f"unknown field '{shortened}': {AUDIT_KEYS}")])


def test_syntax_error_wins_over_an_unknown_key(mesh):
    reply = post(mesh, None, b'{"journal_Text": "calm", "locale": \'en-GB\'}')

    assert_invalid_json(reply, "a single-quoted string", "$.locale")


def test_many_unknown_keys_are_counted(mesh):
    # The edge lists the first 20 violations and counts the others.
    keys = 20000
    body = ("{" + ", ".join(f'"k{index}": 0' for index in range(keys)) + "}").encode()

    reply = post(mesh, None, body)

    assert reply.status == 400
    assert len(reply.detail("BadRequest")["field_violations"]) == 20
    assert reply.json()["message"].endswith(f" (and {keys - 1} more)")


def test_escaped_duplicate_key_is_caught(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    body = b'{"journal_text": "calm", "journal\\u005ftext": "calm"}'

    reply = post(mesh, key, body)

    assert_invalid_json(reply, 'duplicate key "journal_text" at $ ', "$")
    assert admin.used(account_id) == 0


def orbit_person(name: str, birth: str) -> str:
    MAPPED_PEOPLE.append(name)
    return f'{{"name": "{name}", "role": "friend", "birth_data": {birth}}}'


@pytest.mark.parametrize("path, body, problem, field", [
    (
        MAP,
        '{"people": [' + orbit_person("Ines Arbeloa", '{"date": "1990-05-17", "lat": 51.5, "lon": -0.12}') + ", "
        + orbit_person("Tomas Ruiz", '{"date": "1991-02-03", "lat": 40.4, "lat": 10.0, "lon": -3.7}') + "]}",
        'duplicate key "lat"',
        "$.people[1].birth_data",
    ),
    (
        BATCH,
        '{"lat": 40.7, "lon": -74.0, "instants": [{"date": "2024-01-01"}, {"date": "2024-01-02"},'
        ' {"date": "2024-01-03", "time": "12:00", "date": "2024-06-03"}]}',
        'duplicate key "date"',
        "$.instants[2]",
    ),
    (
        AUDIT,
        '{"journal_text": "calm", "birth_data": {"date": "1990-05-17", "utc_offset": "+01:00", "utcOffset": "+09:00"}}',
        'keys "utc_offset" and "utcOffset" name the same field',
        "$.birth_data",
    ),
])
def test_nested_duplicates_are_rejected(mesh, admin, path, body, problem, field):
    account_id, _, key = admin.account_with_key("pro")

    reply = post(mesh, key, body.encode(), path=path)

    assert_invalid_json(reply, problem, field)
    assert admin.used(account_id) == 0


# --- syntax outside RFC 8259 -----------------------------------------------------------

SYNTAX_CASES = [
    ("single-quoted value", b"{\"journal_text\": 'calm'}", "a single-quoted string", "$.journal_text"),
    ("single-quoted key", b"{'journal_text': \"calm\"}", "a single-quoted string", "$"),
    ("trailing comma in object", b'{"journal_text": "calm",}', "a trailing comma before '}'", "$"),
    ("trailing comma in array", b'{"journal_text": "calm", "x": [1, 2,]}', "a trailing comma before ']'", "$.x[2]"),
    ("line comment", b'{"journal_text": "calm" // note\n}', "a comment", "$.journal_text"),
    ("block comment", b'{/* note */ "journal_text": "calm"}', "a comment", "$"),
    ("NaN", b'{"journal_text": "calm", "birth_data": {"lat": NaN}}', "NaN is not JSON", "$.birth_data.lat"),
    ("Infinity", b'{"journal_text": "calm", "birth_data": {"lon": Infinity}}', "Infinity is not JSON", "$.birth_data.lon"),
    ("minus Infinity", b'{"journal_text": "calm", "birth_data": {"lon": -Infinity}}', "-Infinity is not JSON", "$.birth_data.lon"),
    ("plus sign", b'{"journal_text": "calm", "birth_data": {"lat": +5}}', "a number with a '+' sign", "$.birth_data.lat"),
    ("leading zero", b'{"journal_text": "calm", "birth_data": {"lat": 05}}', "a number with a leading zero", "$.birth_data.lat"),
    ("bare decimal point", b'{"journal_text": "calm", "birth_data": {"lat": .5}}', "without a digit before the '.'", "$.birth_data.lat"),
    ("no exponent digits", b'{"journal_text": "calm", "birth_data": {"lat": 1e}}', "no digit in the exponent", "$.birth_data.lat"),
    ("unquoted key", b'{journal_text: "calm"}', "a key without quotes", "$"),
    ("capitalised literal", b'{"journal_text": "calm", "x": True}', "unexpected 'T'", "$.x"),
    ("invalid UTF-8 byte", b'{"journal_text": "calm \xff"}', "invalid UTF-8", "$.journal_text"),
    ("overlong UTF-8", b'{"journal_text": "calm \xc0\xaf"}', "invalid UTF-8", "$.journal_text"),
    ("UTF-8 encoded surrogate", b'{"journal_text": "calm \xed\xa0\x80"}', "invalid UTF-8", "$.journal_text"),
    ("truncated UTF-8", b'{"journal_text": "calm \xe2\x82"}', "invalid UTF-8", "$.journal_text"),
    ("invalid UTF-8 in a key", b'{"journal_text": "calm", "k\xfe": 1}', "invalid UTF-8", "$"),
    ("raw control character", b'{"journal_text": "calm\nday"}', "control character 0x0A in a string", "$.journal_text"),
    ("lone high surrogate", b'{"journal_text": "calm \\ud83d"}', "unpaired surrogate \\uD83D", "$.journal_text"),
    ("lone low surrogate", b'{"journal_text": "calm \\ude00 day"}', "unpaired surrogate \\uDE00", "$.journal_text"),
    ("invalid escape", b'{"journal_text": "calm \\x41"}', "invalid escape in a string", "$.journal_text"),
    ("short unicode escape", b'{"journal_text": "calm \\u12"}', "invalid \\u escape", "$.journal_text"),
    ("unclosed string", b'{"journal_text": "calm}', "the string that starts here is not closed", "$.journal_text"),
    ("missing comma", b'{"journal_text": "calm" "locale": "en-GB"}', "a missing comma", "$.journal_text"),
    ("missing colon", b'{"journal_text" "calm"}', "expected ':' after the key", "$.journal_text"),
    ("top-level array", b'[{"journal_text": "calm"}]', "the body is not a JSON object", "$"),
    ("two objects", b'{"journal_text": "calm"} {"journal_text": "calm"}', "more after the JSON object", "$"),
    ("byte order mark", b'\xef\xbb\xbf{"journal_text": "calm"}', "a byte order mark", "$"),
    ("whitespace only", b" \n ", "the body ends early", "$"),
    ("nested too deep", b'{"x": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}",
     f"nested deeper than {MAX_DEPTH} levels", "$.x" + "[0]" * (MAX_DEPTH - 1)),
]


@pytest.mark.parametrize("body, problem, field", [case[1:] for case in SYNTAX_CASES], ids=[case[0] for case in SYNTAX_CASES])
def test_lenient_syntax_is_rejected(mesh, admin, body, problem, field):
    account_id, _, key = admin.account_with_key("pro")

    reply = post(mesh, key, body)

    assert_invalid_json(reply, problem, field)
    assert admin.used(account_id) == 0


def test_deepest_allowed_nesting_passes(mesh):
    # A path outside the descriptor takes any key, and a body that passes the
    # edge's check there gets the 404 of an unknown route.
    depth = MAX_DEPTH - 1
    body = b'{"journal_text": "calm", "x": ' + b"[" * depth + b"]" * depth + b"}"

    reply = post(mesh, None, body, path=UNKNOWN_ROUTE)

    assert reply.status == 404
    assert reply.reason() == "UNKNOWN_ROUTE"


def test_error_names_line_and_column(mesh):
    multiline = b'{\n  "journal_text": "calm",\n    "journal_text": "calm"\n}'
    # Columns count characters: "\xc3\xa9" is one.
    non_ascii = '{"é": 1, "é": 2}'.encode()

    first = post(mesh, None, multiline)
    second = post(mesh, None, non_ascii)

    assert_invalid_json(first, 'duplicate key "journal_text" at $ (line 3, column 5): ', "$")
    assert_invalid_json(second, 'duplicate key "é" at $ (line 1, column 10): ', "$")


def test_long_key_is_shortened_in_the_error(mesh):
    long_key = "k" * 300
    body = f'{{"{long_key}": 1, "{long_key}": 2}}'.encode()

    reply = post(mesh, None, body)

    assert_invalid_json(reply, 'duplicate key "' + "k" * 64 + '..."', "$")


# --- bodies that must still pass -------------------------------------------------------


def test_unicode_escapes_and_surrogate_pairs_pass(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")
    text = "Caf\u00e9 with Ana \U0001F600, snow \u2603, and a calm walk by the canal"
    AUDITED_TEXTS.append(text)
    escaped = json.dumps({"journal_text": text, "locale": "en-GB"}, ensure_ascii=True)
    assert "\\ud83d\\ude00" in escaped

    reply = post(mesh, key, escaped.encode())

    assert reply.status == 200, reply.body
    assert reply.json()["input_hash"] == expected_hash(mesh, text)
    assert reply.json()["locale"] == "en-GB"
    assert admin.used(account_id) == 1


def test_raw_utf8_passes(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    text = "Hoy caminé junto al río 🌊 y dormí bien. 今日は穏やかな一日でした。"

    reply = post(mesh, key, audit_body(journal_text=text))

    assert reply.status == 200, reply.body
    assert reply.json()["input_hash"] == expected_hash(mesh, text)


def test_key_inside_a_string_is_not_a_key(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    body = b'{"journal_text": "a \\"journal_text\\": b"}'
    AUDITED_TEXTS.append('a "journal_text": b')

    reply = post(mesh, key, body)

    assert reply.status == 200, reply.body
    assert reply.json()["input_hash"] == expected_hash(mesh, 'a "journal_text": b')


def test_same_key_in_sibling_objects_passes(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    body = (
        '{"people": [' + orbit_person("Mira Okafor", '{"date": "1990-05-17", "time": "09:30", "lat": 51.5, "lon": -0.12}')
        + ", " + orbit_person("Dev Raman", '{"date": "1988-11-02", "time": "23:10", "lat": 19.07, "lon": 72.88}')
        + '], "omit_aspects": true}'
    )

    reply = post(mesh, key, body.encode(), path=MAP)

    assert reply.status == 200, reply.body


def test_every_json_form_passes(mesh):
    # A path outside the descriptor takes any key, and a body that passes the
    # edge's check there gets the 404 of an unknown route.
    body = (
        b' \t\r\n{ "journal_text" : "calm \\"\\\\\\/\\b\\f\\n\\r\\t\\u0041" , "x" : [ 0, -0, 1.5, -2.25e+3, 3E-2, 10e5,'
        b' true, false, null, "", {}, [], {"a": {"b": [[]]}} ], "\\u0000": 1 } \n'
    )

    reply = post(mesh, None, body, path=UNKNOWN_ROUTE)

    assert reply.status == 404
    assert reply.reason() == "UNKNOWN_ROUTE"


def test_every_json_form_passes_in_a_known_message(mesh):
    # No key, so a body that passes the edge's check is rejected later, by the gateway.
    body = (
        b' \t\r\n{ "journal_text" : "calm \\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u0000" , "locale" : null,'
        b' "birthData": {"lat": -0, "lon": -2.25e+1, "elevation_meters": 3E-2, "fold": 1, "date": ""} } \n'
    )

    reply = post(mesh, None, body)

    assert reply.status == 401
    assert reply.reason() == "API_KEY_MISSING"


# --- Content-Type ---------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [
    "application/json",
    "application/json; charset=utf-8",
    'Application/JSON;Charset="UTF-8"',
    "application/json ; charset=utf-8 ; q=1",
])
def test_json_content_types_are_accepted(mesh, admin, content_type):
    _, _, key = admin.account_with_key("pro")

    reply = post(mesh, key, audit_body(journal_text=CALM_TEXT), content_type=content_type)

    assert reply.status == 200, reply.body


@pytest.mark.parametrize("content_type", [
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json-patch+json",
    "application/jsonx",
    "application/json; charset=iso-8859-1",
    "application/grpc-web",
])
def test_other_content_types_get_415(mesh, admin, content_type):
    account_id, _, key = admin.account_with_key("pro")

    reply = post(mesh, key, audit_body(journal_text=CALM_TEXT), content_type=content_type)

    assert reply.status == 415
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["code"] == 3
    assert reply.reason() == "UNSUPPORTED_MEDIA_TYPE"
    assert f'Content-Type "{content_type}"' in reply.json()["message"]
    assert reply.json()["message"].endswith("send Content-Type: application/json with a UTF-8 JSON body")
    assert admin.used(account_id) == 0


def test_missing_content_type_gets_415(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = send_raw(mesh, "POST", AUDIT, [("Authorization", f"Bearer {key}")], audit_body(journal_text=CALM_TEXT))

    assert reply.status == 415
    assert reply.reason() == "UNSUPPORTED_MEDIA_TYPE"
    assert reply.json()["message"].startswith("no Content-Type header on a request with a body")
    assert admin.used(account_id) == 0


def test_content_type_is_checked_before_the_body(mesh):
    reply = post(mesh, None, b"{'journal_text': 'calm'}", content_type="text/plain")

    assert reply.status == 415


# --- what the check leaves alone ----------------------------------------------------------


def test_native_grpc_call_is_unaffected(mesh, admin, public_channel):
    account_id, _, key = admin.account_with_key("pro")
    AUDITED_TEXTS.append(CRISIS_TEXT)
    stub = seda_pb2_grpc.SedaServiceStub(public_channel)

    response = stub.Audit(seda_pb2.AuditRequest(journal_text=CRISIS_TEXT), metadata=[("x-api-key", key)], timeout=30)

    assert response.band == "critical"
    assert admin.used(account_id) == 1


def test_get_without_body_is_unaffected(mesh, admin):
    account_id, _, key = admin.account_with_key("pro")

    reply = send_raw(mesh, "GET", "/v1/telemetry/vectors?" + LOS_ANGELES_1990, [("Authorization", f"Bearer {key}")])

    assert reply.status == 200
    assert admin.used(account_id) == 1


def test_get_with_a_body_is_checked(mesh):
    # The transcoder reads a GET's body into the request message too.
    reply = send_raw(mesh, "GET", "/v1/telemetry/vectors?time=12:00", [("Content-Type", "application/json")],
                     b'{"lat": 1, "lat": 2, "lon": 3, "date": "2000-01-01"}')

    assert_invalid_json(reply, 'duplicate key "lat"', "$")


def test_unknown_route_with_valid_body_is_404(mesh):
    reply = post(mesh, None, b'{"journal_text": "calm", "bogus_field": 1}', path=UNKNOWN_ROUTE)

    assert reply.status == 404
    assert reply.reason() == "UNKNOWN_ROUTE"


# --- the body limit ------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("valid", [True, False], ids=["valid", "duplicate-key"])
def test_body_over_the_limit_keeps_413(mesh, admin, chunked, valid):
    account_id, _, key = admin.account_with_key("pro")
    text = "calm " * (MAX_BODY_BYTES // 5)
    body = json.dumps({"journal_text": text, **({} if valid else {"x": 1})}).encode()
    if not valid:
        body = body.replace(b'"x"', b'"journal_text"')
    assert len(body) > MAX_BODY_BYTES

    reply = send_raw(mesh, "POST", AUDIT, [("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")],
                     body, chunked=chunked)

    assert reply.status == 413
    assert reply.json()["code"] == 8
    assert reply.reason() == "BODY_TOO_LARGE"
    assert f"limit of {MAX_BODY_BYTES} bytes" in reply.json()["message"]
    assert admin.used(account_id) == 0


# --- agreement with an independent parser -----------------------------------------------


# The exact names of each field that the seed bodies reach on POST /v1/seda/audit:
# proto name or JSON name to proto name, and the message of a nested field.
AUDIT_REQUEST_FIELDS = {
    "journal_text": "journal_text", "journalText": "journal_text", "locale": "locale", "context": "context",
    "birth_data": "birth_data", "birthData": "birth_data",
}
BIRTH_DATA_FIELDS = {
    "date": "date", "time": "time", "lat": "lat", "lon": "lon", "elevation_meters": "elevation_meters",
    "elevationMeters": "elevation_meters", "tz": "tz", "utc_offset": "utc_offset", "utcOffset": "utc_offset",
    "fold": "fold", "calendar": "calendar",
}
NESTED_MESSAGES = {"birth_data": BIRTH_DATA_FIELDS}


class Members(list):
    """The (key, value) pairs of one JSON object, in order, repeats kept."""


def has_repeated_field(value, fields: dict[str, str] | None) -> bool:
    """Returns whether an object, at any depth, has a key twice or both names of one field.

    fields maps the exact names of the object's message to proto names. It
    is None for an object that is not a known message, and then keys count
    only as written.
    """
    if not isinstance(value, list):
        return False
    if not isinstance(value, Members):
        return any(has_repeated_field(element, None) for element in value)
    names = [fields.get(key, key) if fields else key for key, _ in value]
    if len(set(names)) != len(names):
        return True
    for key, child in value:
        field = fields.get(key) if fields else None
        if has_repeated_field(child, NESTED_MESSAGES.get(field)):
            return True
    return False


def is_strict_json_object(body: bytes) -> bool:
    """Returns whether Python's json module, held to the edge's rules for an audit request, accepts body."""

    def no_constants(name):
        raise ValueError(name)

    def depth(value) -> int:
        if isinstance(value, Members):
            children = [child for _, child in value]
        elif isinstance(value, list):
            children = value
        else:
            return 0
        return 1 + max((depth(child) for child in children), default=0)

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, Members):
            for key, child in value:
                yield key
                yield from strings(child)
        elif isinstance(value, list):
            for child in value:
                yield from strings(child)

    try:
        text = body.decode("utf-8")
        if text.startswith("\ufeff"):
            return False
        value = json.loads(text, object_pairs_hook=Members, parse_constant=no_constants)
        if not isinstance(value, Members) or depth(value) > MAX_DEPTH or has_repeated_field(value, AUDIT_REQUEST_FIELDS):
            return False
        for string in strings(value):
            string.encode("utf-8")  # raises on an unpaired surrogate
    except (UnicodeError, ValueError, RecursionError):
        return False
    return True


# How the edge writes a key in a path or an error: cut to 64 bytes on a
# character boundary, and JSON-escaped when in brackets.
MAX_ECHO_BYTES = 64


def shorten(key: str) -> str:
    data = key.encode()
    if len(data) <= MAX_ECHO_BYTES:
        return key
    cut = MAX_ECHO_BYTES
    while cut > 0 and 0x80 <= data[cut] <= 0xBF:
        cut -= 1
    return data[:cut].decode() + "..."


def edge_json_string(text: str) -> str:
    """Returns text quoted as the edge quotes it: control characters, DEL, '"' and '\\' escaped, the rest as is."""
    escaped = []
    for character in text:
        if character in '"\\':
            escaped.append("\\" + character)
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            escaped.append(f"\\u{ord(character):04x}")
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'


def key_path(parent: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{parent}.{shorten(key)}" if parent else shorten(key)
    return f"{parent}[{edge_json_string(shorten(key))}]"


def unknown_key_paths(body: bytes) -> list[str]:
    """Lists the path of every key that names no field of an audit request or of its birth_data, in body order.

    As at the edge, the value of an unknown key is not looked into, and
    birth_data only when it is an object. body must be strict JSON.
    """
    found = []

    def walk(members: Members, fields: dict[str, str], path: str) -> None:
        for key, child in members:
            field = fields.get(key)
            if field is None:
                found.append(key_path(path, key))
            elif field in NESTED_MESSAGES and isinstance(child, Members):
                walk(child, NESTED_MESSAGES[field], f"{path}.{field}" if path else field)

    walk(json.loads(body, object_pairs_hook=Members), AUDIT_REQUEST_FIELDS, "")
    return found


SEED_BODIES = [
    b'{"journal_text": "calm \\u00e9 \\ud83d\\ude00", "locale": "en-GB", "birth_data": {"date": "1990-05-17", "lat": 51.5, "lon": -0.12}}',
    '{"people": [{"name": "Ana", "role": "friend", "birth_data": {"lat": 1e1, "lon": -2.5E-1}}, {"name": "Bé", "x": [true, false, null]}]}'.encode(),
    b'{"a_b": [[], {}, [{"c": ""}]], "aB_c": 0, "n": -0.5}',
]
MUTATION_BYTES = (
    b'{}[]:,"\'\\/ \n\t0123456789-+.eEtrufalsnNI_aAbBc'
    + bytes([0x00, 0x1F, 0x7F, 0xC3, 0xA9, 0xFF, 0xED, 0xA0, 0x80, 0xEF, 0xBB, 0xBF])
)


def mutate(rng: random.Random, body: bytes) -> bytes:
    """Inserts, deletes, replaces or repeats a few bytes of body."""
    data = bytearray(body)
    for _ in range(rng.randint(1, 3)):
        position = rng.randrange(len(data) + 1)
        operation = rng.choice(["insert", "delete", "replace", "repeat"])
        if operation == "insert":
            data[position:position] = bytes([rng.choice(MUTATION_BYTES)])
        elif operation == "delete" and position < len(data):
            del data[position]
        elif operation == "replace" and position < len(data):
            data[position] = rng.choice(MUTATION_BYTES)
        elif operation == "repeat":
            length = rng.randint(1, 24)
            data[position:position] = data[position:position + length]
    return bytes(data)


def test_check_agrees_with_python_json(mesh):
    rng = random.Random(20261205)
    bodies = [*SEED_BODIES]
    while len(bodies) < 400:
        bodies.append(mutate(rng, rng.choice(SEED_BODIES)))

    disagreements = []
    accepted = 0
    with_unknown_keys = 0
    for body in bodies:
        reply = post(mesh, None, body)
        edge_accepts = reply.reason() != "INVALID_JSON"
        accepted += edge_accepts
        if edge_accepts != is_strict_json_object(body):
            disagreements.append((body, reply.status, reply.json()["message"]))
            continue
        if not edge_accepts:
            continue

        # A strict body passes (the gateway's 401 here) unless a key names no
        # field or a value does not fit its field (400 INVALID_REQUEST).
        violations = reply.detail("BadRequest")["field_violations"] if reply.reason() == "INVALID_REQUEST" else []
        edge_unknown = [v["field"] for v in violations if v["description"].startswith("unknown field ")]
        expected = unknown_key_paths(body)
        with_unknown_keys += bool(expected)
        if len(violations) == 20:  # the edge lists the first 20 violations only
            expected = expected[:len(edge_unknown)]
        if edge_unknown != expected or (reply.status == 401) != (not violations):
            disagreements.append((body, reply.status, reply.json()["message"]))

    assert disagreements == []
    # Both verdicts must be common, or the comparison proves little.
    assert 40 <= accepted <= 360
    # So must strict bodies with and without unknown keys.
    assert with_unknown_keys >= 10
    assert accepted - with_unknown_keys >= 10


def test_lua_filter_raised_no_error(mesh):
    with urllib.request.urlopen(f"http://127.0.0.1:{mesh.ports.envoy_admin}/stats?filter=strict_json", timeout=10) as reply:
        stats = dict(line.split(": ", 1) for line in reply.read().decode().splitlines())

    assert int(stats["http.public.lua.strict_json.executions"]) > 0
    assert int(stats["http.public.lua.strict_json.errors"]) == 0

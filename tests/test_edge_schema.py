"""The request schema of the edge's Lua check, and the check on field kinds no public request uses.

defrag/edgeschema.py turns the descriptor set into the routes and messages
that deploy/helm/defrag/files/envoy/strict_json.lua checks requests against. The public
requests use strings, doubles, int32, bools, messages and repeated
messages only, so tests/data/protos/edge_probe.proto adds enums, 64-bit and
unsigned integers, floats, bytes, maps, oneofs, a well-known type, a custom
JSON name and a body that is one field. An Envoy with only the Lua filter
and a direct response checks requests against it: 200 means the check let
the request through.
"""

import http.client
import json
import pathlib
import subprocess
import time
import urllib.parse
import urllib.request

import grpc_tools
import pytest
import yaml
from google.api import annotations_pb2
from grpc_tools import protoc

from defrag import edgeschema, envoyconf
from defrag.mesh import envoy_binary, free_ports
from defrag.platform.config import descriptor_path

PROTOS = pathlib.Path(__file__).parent / "data" / "protos"
PROBE_SERVICE = "defrag.edgeprobe.v1.ProbeService"
PASSED = "passed the check\n"


def compile_descriptor_set(proto: str, output: pathlib.Path) -> pathlib.Path:
    """Compiles one proto of tests/data/protos, with its imports, into a descriptor set."""
    googleapis = pathlib.Path(annotations_pb2.__file__).resolve().parent.parent.parent
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    arguments = ["protoc", f"-I{PROTOS}", f"-I{googleapis}", f"-I{well_known}", "--include_imports",
                 f"--descriptor_set_out={output}", proto]
    assert protoc.main(arguments) == 0
    return output


# --- the schema of the public API -----------------------------------------------------


@pytest.fixture(scope="module")
def public_schema():
    return edgeschema.build(descriptor_path(), envoyconf.TRANSCODED_SERVICES, envoyconf.IGNORED_QUERY_PARAMETERS)


def test_schema_lists_every_public_route(public_schema):
    keys = {route.key for route in public_schema.routes}

    assert keys == {
        "GET /v1/telemetry/vectors", "GET /api/v1/telemetry/vectors",
        "POST /v1/telemetry/vectors:batch", "POST /api/v1/telemetry/vectors:batch",
        "POST /v1/seda/audit", "POST /api/v1/seda/audit",
        "POST /v1/orbit/map", "POST /api/v1/orbit/map",
        "GET /v1/usage", "GET /api/v1/usage",
        "POST /v1/stripe/webhook", "POST /api/v1/stripe/webhook",
    }
    assert public_schema.verbs == {"batch"}
    assert public_schema.ignored_query_parameters == ("api_key",)


def test_webhook_route_takes_the_raw_body(public_schema):
    routes = [r for r in public_schema.routes if r.key.endswith("/stripe/webhook")]

    assert len(routes) == 2
    for route in routes:
        assert route.raw_body
        assert route.message == "google.api.HttpBody"
        assert route.query_fields == ()
    assert "google.api.HttpBody" not in public_schema.messages


def test_get_route_takes_every_field_from_the_query(public_schema):
    route = next(r for r in public_schema.routes if r.key == "GET /v1/telemetry/vectors")

    assert route.message == "defrag.telemetry.v1.GetVectorsRequest"
    assert route.body == ""
    assert route.query_fields == (
        "date", "time", "lat", "lon", "elevation_meters", "tz", "utc_offset", "fold", "calendar",
        "refraction", "time_scale", "zodiac", "ayanamsa", "house_system",
    )


@pytest.mark.parametrize("key", ["POST /v1/seda/audit", "POST /v1/orbit/map", "POST /v1/telemetry/vectors:batch"])
def test_body_routes_take_no_query_field(public_schema, key):
    route = next(r for r in public_schema.routes if r.key == key)

    assert route.body == "*"
    assert route.body_message == route.message
    assert route.query_fields == ()


def test_birth_data_fields_have_types_and_json_names(public_schema):
    fields = {field.name: field for field in public_schema.messages["defrag.common.v1.BirthData"]}

    assert fields["lat"] == edgeschema.FieldSchema(name="lat", json_name="lat", kind="double")
    assert fields["utc_offset"].json_name == "utcOffset"
    assert fields["fold"].kind == "int32"
    people = next(f for f in public_schema.messages["defrag.orbit.v1.MapRequest"] if f.name == "people")
    assert people.kind == "message"
    assert people.repeated
    assert people.type_name == "defrag.orbit.v1.Person"


def test_path_variable_is_refused(tmp_path):
    descriptor = compile_descriptor_set("edge_probe_variable.proto", tmp_path / "variable.pb")

    with pytest.raises(edgeschema.EdgeSchemaError, match=r"/v1/things/\{id\} has a variable"):
        edgeschema.build(descriptor, ["defrag.edgeprobe.v1.VariableService"], ["api_key"])


def test_lua_strings_are_ascii_and_escaped():
    assert edgeschema.lua_string('a"b\\c') == '"a\\"b\\\\c"'
    assert edgeschema.lua_string("é\n") == '"\\195\\169\\010"'


# --- the Lua check on the probe messages -----------------------------------------------


def probe_envoy_config(source: str, port: int, admin_port: int) -> dict:
    """Returns an Envoy configuration with the Lua check and a direct response on every path."""
    manager = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "probe",
        "route_config": {"virtual_hosts": [{
            "name": "probe", "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": PASSED}}}],
        }]},
        "http_filters": [
            {"name": "envoy.filters.http.lua", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                "stat_prefix": "strict_json",
                "default_source_code": {"inline_string": source},
            }},
            {"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
            }},
        ],
    }
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {"listeners": [{
            "name": "probe",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}],
        }]},
    }


@pytest.fixture(scope="module")
def probe_edge(tmp_path_factory):
    """Starts an Envoy whose Lua check has the probe service's schema; yields its port."""
    folder = tmp_path_factory.mktemp("probe_edge")
    descriptor = compile_descriptor_set("edge_probe.proto", folder / "probe.pb")
    source = envoyconf.strict_json_source(descriptor, services=[PROBE_SERVICE])
    port, admin_port = free_ports(2)
    config = folder / "envoy.yaml"
    config.write_text(yaml.safe_dump(probe_envoy_config(source, port, admin_port)))
    log = open(folder / "envoy.log", "wb")
    envoy = subprocess.Popen([envoy_binary(), "-c", str(config), "--concurrency", "1", "--log-level", "warn",
                              "--base-id", str(admin_port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert envoy.poll() is None, (folder / "envoy.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/ready", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the probe Envoy was not ready in 60 seconds"
            time.sleep(0.1)
        yield port
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/stats?filter=strict_json", timeout=10) as reply:
            stats = dict(line.split(": ", 1) for line in reply.read().decode().splitlines())
        assert int(stats["http.probe.lua.strict_json.errors"]) == 0
    finally:
        envoy.terminate()
        envoy.wait(15)
        log.close()


def send(port: int, method: str, path: str, body: str | None = None) -> tuple[int, dict | None]:
    """Sends a request to the probe Envoy; returns the status and the JSON error, or None when it passed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    if text == PASSED:
        return response.status, None
    return response.status, json.loads(text)


def violations(error: dict) -> list[tuple[str, str]]:
    detail = next(d for d in error["details"] if d["@type"].endswith("google.rpc.BadRequest"))
    return [(v["field"], v["description"]) for v in detail["field_violations"]]


VALID_BODIES = [
    ('{"colour": "RED", "colours": ["GREEN", "RED"]}', "enum names"),
    ('{"big": "-9223372036854775808", "huge": 18446744073709551615}', "64-bit limits, as string and number"),
    ('{"count": 4294967295, "delta": -2147483648}', "32-bit limits"),
    ('{"ratio": 3.4e38, "level": -1e308}', "float and double near their limits"),
    ('{"blob": "aGk=", "tags": []}', "base64 and an empty array"),
    ('{"scores": {"a": 1, "b": -2}}', "map values"),
    ('{"word": "x", "number": null}', "one oneof member and a null"),
    ('{"when": 5}', "a well-known type is not checked"),
    ('{"extra": {"any_key": [true], "cUstom": {"ratio": "x"}}}', "keys and values of a Struct are not checked"),
    ('{"customName": "x", "inner": {"text": "y", "numbers": [1, 2]}}', "custom JSON name and a nested message"),
    ('{"colour": null, "inner": null, "tags": null}', "null for any field"),
    ('{"scores": {"a_b": 1, "aB": 2, "a__b": 3}}', "map keys that differ as written"),
]


@pytest.mark.parametrize("body", [case[0] for case in VALID_BODIES], ids=[case[1] for case in VALID_BODIES])
def test_probe_bodies_of_the_right_types_pass(probe_edge, body):
    status, error = send(probe_edge, "POST", "/v1/probe", body)

    assert error is None, error
    assert status == 200


INVALID_BODIES = [
    ('{"colour": "BLUE"}', "colour", "expected one of COLOUR_UNSPECIFIED, RED, GREEN, got the string 'BLUE'"),
    ('{"colour": 1}', "colour", "expected one of COLOUR_UNSPECIFIED, RED, GREEN, got '1'"),
    ('{"colours": ["RED", "PINK"]}', "colours[1]", "got the string 'PINK'"),
    ('{"colours": "RED"}', "colours", "expected an array of strings, each one of COLOUR_UNSPECIFIED, RED, GREEN"),
    ('{"big": "12a"}', "big", "expected a whole number from -9223372036854775808 to 9223372036854775807"),
    ('{"big": 9223372036854775808}', "big", "got '9223372036854775808': send a number in that range"),
    ('{"huge": -1}', "huge", "got '-1': send a number in that range"),
    ('{"count": 4294967296}', "count", "expected a whole number from 0 to 4294967295"),
    ('{"count": "5"}', "count", "got a number in quotes"),
    ('{"delta": 2.5}', "delta", "send a whole number, with no fraction or exponent"),
    ('{"ratio": 3.5e38}', "ratio", "send a number within the range of a float"),
    ('{"level": 1e309}', "level", "send a number within the range of a double"),
    ('{"blob": "not base64!"}', "blob", "encode the bytes as base64"),
    ('{"scores": {"a": 1, "b": "x"}}', 'scores["b"]', "expected a whole number from -2147483648 to 2147483647"),
    ('{"scores": {"a": null}}', 'scores["a"]', "an array element or map value is null"),
    ('{"scores": [1]}', "scores", "expected an object, got an array"),
    ('{"word": "x", "number": 1}', "number", "word and number are both set, but they are alternatives (oneof choice)"),
    ('{"inner": {"numbers": [1, "2"]}}', "inner.numbers[1]", "got a number in quotes"),
    ('{"inner": {"numbers": [[1]]}}', "inner.numbers[0]", "expected a whole number from -2147483648 to 2147483647, got an array"),
    ('{"customName": 5}', "custom", "expected a string, got a number"),
    ('{"tags": ["a", null]}', "tags[1]", "an array element or map value is null"),
]


@pytest.mark.parametrize("body, field, description", INVALID_BODIES, ids=[case[0] for case in INVALID_BODIES])
def test_probe_bodies_of_other_types_get_400(probe_edge, body, field, description):
    status, error = send(probe_edge, "POST", "/v1/probe", body)

    assert status == 400
    assert error["code"] == 3
    assert error["details"][0]["reason"] == "INVALID_REQUEST"
    assert violations(error)[0][0] == field
    assert description in violations(error)[0][1]
    assert error["message"].startswith(f"{field}: ")


def test_body_field_route_checks_that_field_message(probe_edge):
    status, error = send(probe_edge, "POST", "/v1/probe:part", '{"text": 5, "ratio": "a field of the request, not of Inner"}')

    assert status == 400
    assert violations(error) == [
        ("text", "expected a string, got a number: put the value in double quotes"),
        ("ratio", "unknown field 'ratio': send one of text, numbers"),
    ]


# The accepted keys of ProbeRequest, as an unknown key's error lists them.
PROBE_KEYS = (
    "send one of ratio, big, count, huge, blob, colour, colours, scores, word, number, when, inner, tags, "
    "delta, custom, level, extra (or a field's JSON name, such as customName)"
)

UNKNOWN_KEYS = [
    ('{"cUstom": "z"}', "cUstom", f"unknown field 'cUstom': {PROBE_KEYS}", "a near miss of a custom JSON name"),
    ('{"custom_name": "z"}', "custom_name", f"unknown field 'custom_name': {PROBE_KEYS}", "the JSON name in snake case"),
    ('{"inner": {"txt": "x"}}', "inner.txt", "unknown field 'txt': send one of text, numbers", "a nested message"),
    ('{"a b": 1}', '["a b"]', f"unknown field 'a b': {PROBE_KEYS}", "a key that is not a name"),
    ('{"inner": {"k\\u0000": 1}}', 'inner["k\\u0000"]', "unknown field 'k\\u0000': send one of text, numbers",
     "a control character"),
    ('{"' + "k" * 100 + '": 1}', "k" * 64 + "...", f"unknown field '{'k' * 64}...': {PROBE_KEYS}", "a long key"),
    ('{"bogus": {"ratio": "x", "inner": 5}}', "bogus", f"unknown field 'bogus': {PROBE_KEYS}",
     "an unknown key's value is not checked"),
    ('{"ratio": null, "bogus": null}', "bogus", f"unknown field 'bogus': {PROBE_KEYS}", "a null value"),
]


@pytest.mark.parametrize("body, field, description", [case[:3] for case in UNKNOWN_KEYS],
                         ids=[case[3] for case in UNKNOWN_KEYS])
def test_probe_unknown_key_gets_400(probe_edge, body, field, description):
    status, error = send(probe_edge, "POST", "/v1/probe", body)

    assert status == 400
    assert error["details"][0]["reason"] == "INVALID_REQUEST"
    assert violations(error) == [(field, description)]
    assert error["message"] == f"{field}: {description}"


def test_probe_map_and_struct_keys_pass(probe_edge):
    # Map keys and the keys of a google.protobuf.Struct are data, not field names.
    status, error = send(probe_edge, "POST", "/v1/probe", '{"scores": {"ratio": 1, "x y": 2}, "extra": {"bogus": {"k": 1}}}')

    assert error is None, error
    assert status == 200


def test_probe_every_unknown_key_is_counted(probe_edge):
    # The check builds the first 20 violations and counts the others.
    keys = 5000
    body = "{" + ", ".join(f'"unknown_{index}": {index}' for index in range(keys)) + "}"

    status, error = send(probe_edge, "POST", "/v1/probe", body)

    assert status == 400
    assert [field for field, _ in violations(error)] == [f"unknown_{index}" for index in range(20)]
    assert error["message"].endswith(f" (and {keys - 1} more)")


def test_body_field_route_reads_other_query_fields(probe_edge):
    passed, _ = send(probe_edge, "POST", "/v1/probe:part?ratio=1.5&colours=RED&colours=GREEN&big=-5&blob=aGk%3D",
                     '{"text": "x"}')
    status, error = send(probe_edge, "POST", "/v1/probe:part?inner.text=x&ratio=abc", '{"text": "x"}')

    assert passed == 200
    assert status == 400
    assert [field for field, _ in violations(error)] == ["inner.text", "ratio"]
    assert "unknown query parameter" in violations(error)[0][1]


VALID_QUERIES = [
    "colour=GREEN", "colours=RED&colours=GREEN", "big=-9223372036854775808", "huge=18446744073709551615",
    "count=0", "ratio=-3.4e38", "level=1e-400", "when=2026-01-01T00:00:00Z", "customName=x", "custom=y",
    "tags=a&tags=b", "blob=aGk%3D", "api_key=anything",
]


@pytest.mark.parametrize("query", VALID_QUERIES)
def test_probe_queries_of_the_right_types_pass(probe_edge, query):
    status, error = send(probe_edge, "GET", "/v1/probe?" + query)

    assert error is None, error
    assert status == 200


INVALID_QUERIES = [
    ("colour=BLUE", "colour", "expected one of COLOUR_UNSPECIFIED, RED, GREEN, got 'BLUE'"),
    ("colour=1", "colour", "got '1'"),
    ("big=1.0", "big", "send a whole number, with no fraction or exponent"),
    ("huge=-1", "huge", "send a number in that range"),
    ("count=4294967296", "count", "send a number in that range"),
    ("ratio=3.5e38", "ratio", "send a number within the range of a float"),
    ("ratio=1&ratio=2", "ratio", "the parameter is sent more than once (as ratio)"),
    ("custom=x&customName=y", "custom", "the parameter is sent more than once (as custom or customName)"),
    ("api_key=a&colour=RED&api_key=b", "api_key", "the parameter is sent more than once: send one API key"),
    ("blob=a%20b", "blob", "expected base64 bytes"),
    ("scores=1", "scores", "unknown query parameter: GET /v1/probe accepts ratio, big, count"),
    ("inner=x", "inner", "unknown query parameter"),
]


@pytest.mark.parametrize("query, field, description", INVALID_QUERIES, ids=[case[0] for case in INVALID_QUERIES])
def test_probe_queries_of_other_types_get_400(probe_edge, query, field, description):
    status, error = send(probe_edge, "GET", "/v1/probe?" + urllib.parse.quote(query, safe="=&%"))

    assert status == 400
    assert error["details"][0]["reason"] == "INVALID_REQUEST"
    assert violations(error)[0][0] == field
    assert description in violations(error)[0][1]


@pytest.mark.parametrize("path", ["/v1/probe/", "/v1/probe//", "/v1/probe?"])
def test_trailing_slash_still_names_the_route(probe_edge, path):
    # As in the transcoder's path matcher, which drops trailing empty segments.
    status, error = send(probe_edge, "POST", path, '{"colour": "BLUE"}')

    assert status == 400
    assert violations(error)[0][0] == "colour"


@pytest.mark.parametrize("body, keys", [
    ('{"custom": "x", "customName": "y"}', '"custom" and "customName"'),
    ('{"inner": {"text": "x"}, "word": "y", "inner": {"text": "z"}}', '"inner"'),
], ids=["custom JSON name", "message field"])
def test_probe_field_under_two_names_is_a_repeat(probe_edge, body, keys):
    status, error = send(probe_edge, "POST", "/v1/probe", body)

    assert status == 400
    assert error["details"][0]["reason"] == "INVALID_JSON"
    assert keys in error["message"]


def test_keys_on_an_unknown_route_count_as_written(probe_edge):
    # No message describes the body, so no two different keys name one field.
    status, error = send(probe_edge, "POST", "/v1/nowhere", '{"a_b": 1, "aB": 2, "a_B": 3}')

    assert error is None, error
    assert status == 200


def test_verb_before_a_slash_is_no_verb(probe_edge):
    # The transcoder reads ":part" as a verb only after the last '/', so this
    # path names no route, and its body gets the JSON checks only.
    status, error = send(probe_edge, "POST", "/v1/probe:part/", '{"text": 5}')

    assert error is None, error
    assert status == 200

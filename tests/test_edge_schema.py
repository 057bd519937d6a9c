"""The request schema that defrag/edgeschema.py builds for the edge's Lua check.

It lists the REST routes of the transcoded services, where each takes its
fields from, and the type of every field of their requests.
"""

import pathlib

import grpc_tools
import pytest
from google.api import annotations_pb2
from grpc_tools import protoc

from defrag import edgeschema, envoyconf
from defrag.platform.config import descriptor_path

PROTOS = pathlib.Path(__file__).parent / "data" / "protos"


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
    }
    assert public_schema.verbs == {"batch"}
    assert public_schema.ignored_query_parameters == ("api_key",)


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

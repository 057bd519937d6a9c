"""Builds the request schema that the edge's Lua check (deploy/helm/defrag/files/envoy/strict_json.lua) reads.

The schema comes from the same descriptor set that Envoy's grpc_json_transcoder
loads, so the edge checks each REST route against the request message that
the transcoder fills. For every HTTP binding of the transcoded services it
records the route, the request message, where the body goes and which
fields may come from the query string. For every message reachable from a
request it records each field's proto name, JSON name, type, whether it is
repeated, the nested message or enum, and its oneof.

The schema is rendered as a Lua table constructor, which becomes the first
line of the Lua filter's inline source, because Lua has no JSON decoder
built in.
"""

import dataclasses
import pathlib

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

Field = descriptor.FieldDescriptor

# The check's type for each protobuf scalar type. Types that share a JSON
# form and a range share a kind.
SCALAR_KINDS = {
    Field.TYPE_DOUBLE: "double",
    Field.TYPE_FLOAT: "float",
    Field.TYPE_INT32: "int32",
    Field.TYPE_SINT32: "int32",
    Field.TYPE_SFIXED32: "int32",
    Field.TYPE_UINT32: "uint32",
    Field.TYPE_FIXED32: "uint32",
    Field.TYPE_INT64: "int64",
    Field.TYPE_SINT64: "int64",
    Field.TYPE_SFIXED64: "int64",
    Field.TYPE_UINT64: "uint64",
    Field.TYPE_FIXED64: "uint64",
    Field.TYPE_BOOL: "bool",
    Field.TYPE_STRING: "string",
    Field.TYPE_BYTES: "bytes",
}

# A request of this type takes the raw body, which the transcoder passes on unread.
HTTP_BODY = "google.api.HttpBody"

# Well-known types have JSON forms of their own (a Timestamp is a string, a
# Struct any object). The check leaves their values to the transcoder.
WELL_KNOWN_PACKAGE = "google.protobuf."

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


class EdgeSchemaError(Exception):
    """The protos use an HTTP binding or a field the edge check cannot describe."""


@dataclasses.dataclass(frozen=True)
class FieldSchema:
    """One field of a request message, as the check needs it."""

    name: str
    json_name: str
    # A SCALAR_KINDS value, "enum", "message", "map" or "any" (a well-known type).
    kind: str
    repeated: bool = False
    # Full name of the message (kind "message") or enum (kind "enum").
    type_name: str = ""
    # The map's value (kind "map"), whose name is "value".
    map_value: "FieldSchema | None" = None
    # Name of the oneof the field belongs to; empty for none and for the
    # synthetic oneof of a proto3 optional field.
    oneof: str = ""


@dataclasses.dataclass(frozen=True)
class RouteSchema:
    """One HTTP binding: the key the check looks it up by and where the request comes from."""

    # "<HTTP method> <path template>", such as "POST /v1/telemetry/vectors:batch".
    key: str
    message: str
    # The http rule's body: "*" (the whole request), "" (no body rule: the
    # transcoder still reads a body into the whole request) or a field name.
    body: str
    # The message that a JSON body fills: the request's, or the body field's.
    body_message: str
    # Fields that may be sent as query parameters, by proto name.
    query_fields: tuple[str, ...]
    # The request is a google.api.HttpBody: the body reaches the service as
    # raw bytes of any content type (a Stripe webhook, whose signature
    # covers those bytes), so the check reads neither its type nor its JSON.
    raw_body: bool = False


@dataclasses.dataclass
class EdgeSchema:
    """The routes of the transcoded services and the messages and enums their requests use."""

    routes: list[RouteSchema] = dataclasses.field(default_factory=list)
    messages: dict[str, list[FieldSchema]] = dataclasses.field(default_factory=dict)
    enums: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    # Custom verbs of the templates ("batch" of ":batch"), which the
    # transcoder matches apart from the path.
    verbs: set[str] = dataclasses.field(default_factory=set)
    # Query parameters that the transcoder ignores (ignored_query_parameters).
    ignored_query_parameters: tuple[str, ...] = ()


def load_pool(descriptor_path: pathlib.Path) -> descriptor_pool.DescriptorPool:
    """Loads a descriptor set built with --include_imports into a pool of its own."""
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_path.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_set.file:
        pool.Add(file)
    return pool


def is_proto3_optional(field: descriptor.FieldDescriptor) -> bool:
    """Returns whether the field's oneof is the synthetic one of a proto3 `optional` field."""
    message = descriptor_pb2.DescriptorProto()
    field.containing_type.CopyToProto(message)
    return next(f for f in message.field if f.name == field.name).proto3_optional


def field_schema(field: descriptor.FieldDescriptor) -> FieldSchema:
    """Describes one field, without following its message type."""
    where = field.full_name
    oneof = ""
    if field.containing_oneof is not None and not is_proto3_optional(field):
        oneof = field.containing_oneof.name
    common = {"name": field.name, "json_name": field.json_name, "repeated": field.is_repeated, "oneof": oneof}

    if field.type in SCALAR_KINDS:
        return FieldSchema(kind=SCALAR_KINDS[field.type], **common)
    if field.type == Field.TYPE_ENUM:
        return FieldSchema(kind="enum", type_name=field.enum_type.full_name, **common)
    if field.type != Field.TYPE_MESSAGE:
        raise EdgeSchemaError(f"{where}: a group field is not supported by the edge check; use a message field")

    message = field.message_type
    if message.GetOptions().map_entry:
        value = field_schema(message.fields_by_name["value"])
        return FieldSchema(kind="map", map_value=value, **{**common, "repeated": False})
    if message.full_name.startswith(WELL_KNOWN_PACKAGE):
        return FieldSchema(kind="any", type_name=message.full_name, **common)
    return FieldSchema(kind="message", type_name=message.full_name, **common)


def add_message(schema: EdgeSchema, message: descriptor.Descriptor) -> None:
    """Adds the message and every message and enum that its fields refer to."""
    if message.full_name in schema.messages:
        return
    fields = [field_schema(field) for field in message.fields]
    schema.messages[message.full_name] = fields
    for field in message.fields:
        target = field
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            target = field.message_type.fields_by_name["value"]
        if target.enum_type is not None:
            schema.enums[target.enum_type.full_name] = [value.name for value in target.enum_type.values]
        if target.message_type is not None and not target.message_type.full_name.startswith(WELL_KNOWN_PACKAGE):
            add_message(schema, target.message_type)


def http_method_and_template(rule: http_pb2.HttpRule, where: str) -> tuple[str, str]:
    """Returns the upper-case HTTP method and the path template of one http rule."""
    pattern = rule.WhichOneof("pattern")
    if pattern == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    if pattern in HTTP_METHODS:
        return pattern.upper(), getattr(rule, pattern)
    raise EdgeSchemaError(f"{where}: the google.api.http rule has no path")


def custom_verb(template: str) -> str:
    """Returns the custom verb of a template ("batch" of "/v1/x:batch"), or ""."""
    last_segment = template.rsplit("/", 1)[-1]
    return last_segment.rsplit(":", 1)[1] if ":" in last_segment else ""


def query_fields(fields: list[FieldSchema], body: str) -> tuple[str, ...]:
    """Lists the fields that the query string may set.

    A body of "*" leaves none. Otherwise every top-level field but the body
    field may be a parameter, as long as one value can set it: scalars,
    enums and well-known types, repeated or not. The API's contract is that
    query parameters are top-level fields, so the dotted names that reach
    into a nested message (birth_data.lat) are not accepted.
    """
    if body == "*":
        return ()
    return tuple(field.name for field in fields if field.name != body and field.kind not in ("message", "map"))


def route_schemas(schema: EdgeSchema, pool: descriptor_pool.DescriptorPool, service_name: str) -> None:
    """Adds every HTTP binding of one service and the messages its requests use."""
    service = pool.FindServiceByName(service_name)
    for method in service.methods:
        options = method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        where = method.full_name
        request = method.input_type
        main_rule = options.Extensions[annotations_pb2.http]
        for rule in [main_rule, *main_rule.additional_bindings]:
            http_method, template = http_method_and_template(rule, where)
            if "{" in template:
                raise EdgeSchemaError(
                    f"{where}: the path template {template} has a variable, which the edge check "
                    "(defrag/edgeschema.py and strict_json.lua) does not match yet; extend both first"
                )
            body = rule.body
            body_message = request.full_name
            if body not in ("", "*"):
                body_field = request.fields_by_name.get(body)
                if body_field is None or body_field.message_type is None or body_field.is_repeated:
                    raise EdgeSchemaError(
                        f"{where}: body {body!r} is not a message field of {request.full_name}, "
                        "which the edge check needs, because it takes only a JSON object as a body"
                    )
                body_message = body_field.message_type.full_name
            verb = custom_verb(template)
            if verb:
                schema.verbs.add(verb)
            key = f"{http_method} {template}"
            if request.full_name == HTTP_BODY:
                schema.routes.append(RouteSchema(key, request.full_name, body, body_message, (), raw_body=True))
                continue

            add_message(schema, request)
            fields = schema.messages[request.full_name]
            schema.routes.append(RouteSchema(key, request.full_name, body, body_message, query_fields(fields, body)))


def build(descriptor_path: pathlib.Path, services: list[str], ignored_query_parameters: list[str]) -> EdgeSchema:
    """Returns the schema of every REST route of the given services."""
    pool = load_pool(descriptor_path)
    schema = EdgeSchema(ignored_query_parameters=tuple(ignored_query_parameters))
    for service_name in services:
        route_schemas(schema, pool, service_name)
    return schema


# --- Lua rendering -------------------------------------------------------------


def lua_string(text: str) -> str:
    """Returns text as a Lua string literal: ASCII, with other bytes as decimal escapes."""
    escaped = []
    for byte in text.encode():
        if byte in (0x22, 0x5C):
            escaped.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            escaped.append(chr(byte))
        else:
            escaped.append(f"\\{byte:03d}")
    return '"' + "".join(escaped) + '"'


def lua_value(value) -> str:
    """Renders None, bools, numbers, strings, lists, tuples, sets and dicts as a Lua constructor."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, (list, tuple)):
        return "{" + ",".join(lua_value(item) for item in value) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(f"[{lua_string(item)}]=true" for item in sorted(value)) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"[{lua_string(key)}]={lua_value(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__} as Lua")


def field_table(field: FieldSchema) -> dict:
    """Returns a field as the table the Lua check reads; empty values are left out."""
    table = {"name": field.name, "json": field.json_name, "kind": field.kind}
    if field.repeated:
        table["repeated"] = True
    if field.type_name:
        table["type"] = field.type_name
    if field.map_value is not None:
        table["value"] = field_table(field.map_value)
    if field.oneof:
        table["oneof"] = field.oneof
    return table


def render_lua(schema: EdgeSchema) -> str:
    """Returns the schema as one Lua expression (a table constructor on one line)."""
    return lua_value({
        "verbs": schema.verbs,
        "ignored_query_parameters": set(schema.ignored_query_parameters),
        "routes": {
            route.key: {
                "message": route.message,
                "body": route.body,
                "body_message": route.body_message,
                "query": list(route.query_fields),
                "raw_body": route.raw_body,
            }
            for route in schema.routes
        },
        "messages": {name: [field_table(field) for field in fields] for name, fields in sorted(schema.messages.items())},
        "enums": dict(sorted(schema.enums.items())),
    })

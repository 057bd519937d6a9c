"""Renders the Envoy template in the Helm chart for `make run`, the tests and the bench.

The template and the Lua check live in deploy/helm/defrag/files/envoy/.
The chart fills the same ${name} placeholders with Helm's `replace`; this
module is the local way to fill them. The chart cannot read the descriptor
set, so this module also writes the first line of the Lua source (the
request schema) into the chart as edge_schema.lua, which
tools/build_protos.py refreshes on every build.
"""

import base64
import dataclasses
import json
import pathlib
import string

import grpc

from defrag import edgeschema
from defrag.platform.config import ROOT, descriptor_path
from defrag.platform.errors import ApiError

CHART_ENVOY_FILES = ROOT / "deploy" / "helm" / "defrag" / "files" / "envoy"
TEMPLATE = CHART_ENVOY_FILES / "envoy.yaml.tmpl"
# The Lua script that checks REST query strings and bodies before the transcoder.
STRICT_JSON_LUA = CHART_ENVOY_FILES / "strict_json.lua"
# Generated for the chart by write_chart_files: the Lua script's first line
# (from the descriptor set) and the template values that are constants here.
EDGE_SCHEMA_LUA = CHART_ENVOY_FILES / "edge_schema.lua"
EDGE_CONSTANTS_JSON = CHART_ENVOY_FILES / "edge_constants.json"

# The services whose google.api.http routes the transcoder serves over REST.
TRANSCODED_SERVICES = [
    "defrag.telemetry.v1.TelemetryService",
    "defrag.seda.v1.SedaService",
    "defrag.orbit.v1.OrbitService",
    "defrag.keys.v1.UsageService",
    "defrag.billing.v1.BillingService",
]
# Query parameters that the transcoder ignores: the deprecated API key,
# which the gateway reads from the original path.
IGNORED_QUERY_PARAMETERS = ["api_key"]

# The largest body a public method accepts, plus the gRPC frame header; the
# gateway applies the per-method limits (413) below this.
MAX_REQUEST_BYTES = 1024 * 1024 + 5

# The gateway's decision with one retry must fit in AUTHZ_TIMEOUT
# (tests/test_platform.py checks the budget).
AUTHZ_TIMEOUT = "1s"
UPSTREAM_TIMEOUT = "30s"

# Envoy's heap limit under `make run`, where no container limit applies:
# the overload manager's actions start at 80% of it (see envoy.yaml.tmpl).
# An idle edge with one worker thread had a 16 MiB heap (measured on
# loopback), and each held REST body adds up to 1 MiB.
MAX_HEAP_BYTES = 512 * 1024 * 1024


# Envoy's own replies to native gRPC calls, by template placeholder prefix.
# Envoy sends the reply body as grpc-message. The template also sends the
# whole Status in grpc-status-details-bin, so a gRPC client finds the reason
# where the gateway and the services put it.
# The details are fixed bytes, so their ErrorInfo has no request_id. The
# x-request-id response header carries it.
GRPC_LOCAL_REPLIES = {
    "grpc_authz_unavailable": ApiError(
        grpc.StatusCode.UNAVAILABLE,
        "AUTHORIZATION_UNAVAILABLE",
        "the authorization service is unavailable; retry after 1 second",
        retry_after_seconds=1,
    ),
    "grpc_service_unavailable": ApiError(
        grpc.StatusCode.UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
        "the service is unavailable; retry after 1 second",
        retry_after_seconds=1,
    ),
    "grpc_unrouted": ApiError(
        grpc.StatusCode.UNIMPLEMENTED,
        "METHOD_NOT_FOUND",
        "no such method; list the public methods with gRPC server reflection",
    ),
    "grpc_body_too_large": ApiError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "BODY_TOO_LARGE",
        "the request message is over 1 MiB; send a smaller message",
    ),
}


def grpc_local_reply_values() -> dict[str, str]:
    """Returns the template values of GRPC_LOCAL_REPLIES: each one's message and its details header."""
    values = {}
    for prefix, error in GRPC_LOCAL_REPLIES.items():
        details = base64.b64encode(error.to_status().SerializeToString()).decode().rstrip("=")
        values[f"{prefix}_message"] = error.message
        values[f"{prefix}_details"] = details
    return values


@dataclasses.dataclass
class EdgeConfig:
    """Addresses and limits of one Envoy edge."""

    listen_port: int
    admin_port: int
    stats_port: int
    gateway: list[tuple[str, int]]
    telemetry: list[tuple[str, int]]
    seda: list[tuple[str, int]]
    orbit: list[tuple[str, int]]
    billing: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    listen_host: str = "127.0.0.1"
    admin_host: str = "127.0.0.1"
    stats_host: str = "127.0.0.1"
    authz_timeout: str = AUTHZ_TIMEOUT
    upstream_timeout: str = UPSTREAM_TIMEOUT
    node_id: str = "edge-0"
    max_connections: int = 10_000
    max_heap_bytes: int = MAX_HEAP_BYTES
    descriptor: pathlib.Path = dataclasses.field(default_factory=descriptor_path)
    strict_json_lua: pathlib.Path = STRICT_JSON_LUA


def endpoints_yaml(endpoints: list[tuple[str, int]], indent: int = 8) -> str:
    """Returns the lb_endpoints entries for the given host and port pairs."""
    pad = " " * indent
    return "\n".join(
        f"{pad}- endpoint: {{ address: {{ socket_address: {{ address: {host}, port_value: {port} }} }} }}"
        for host, port in endpoints
    )


def edge_schema_line(descriptor: pathlib.Path, services: list[str] = TRANSCODED_SERVICES) -> str:
    """Returns the Lua line that defines EDGE_SCHEMA, the request schema of the services' REST routes."""
    schema = edgeschema.build(descriptor, services, IGNORED_QUERY_PARAMETERS)
    return f"local EDGE_SCHEMA = {edgeschema.render_lua(schema)}\n"


def strict_json_source(
    descriptor: pathlib.Path, script: pathlib.Path = STRICT_JSON_LUA, services: list[str] = TRANSCODED_SERVICES
) -> str:
    """Returns the Lua filter's source: the request schema of the services' REST routes, then the script.

    The schema takes one line, so a line number in Envoy's log is one more
    than in the script.
    """
    return edge_schema_line(descriptor, services) + script.read_text()


def chart_files(descriptor: pathlib.Path) -> dict[pathlib.Path, str]:
    """Returns the text of each file the chart needs from this module, by path.

    Helm cannot read the descriptor set or this module, so the chart reads
    the EDGE_SCHEMA line and these constants from its own files instead.
    """
    constants = {
        "authz_timeout": AUTHZ_TIMEOUT,
        "upstream_timeout": UPSTREAM_TIMEOUT,
        "max_request_bytes": MAX_REQUEST_BYTES,
        "transcoded_services": TRANSCODED_SERVICES,
        "ignored_query_parameters": IGNORED_QUERY_PARAMETERS,
        "grpc_local_replies": grpc_local_reply_values(),
    }
    return {
        EDGE_SCHEMA_LUA: edge_schema_line(descriptor),
        EDGE_CONSTANTS_JSON: json.dumps(constants, indent=2) + "\n",
    }


def write_chart_files(descriptor: pathlib.Path) -> list[pathlib.Path]:
    """Writes the chart's generated files that differ from chart_files; returns the paths written."""
    written = []
    for path, text in chart_files(descriptor).items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def render(config: EdgeConfig, template: pathlib.Path = TEMPLATE) -> str:
    """Returns the Envoy configuration as YAML text."""
    values = {
        "node_id": config.node_id,
        "max_connections": config.max_connections,
        "max_heap_bytes": config.max_heap_bytes,
        "listen_host": config.listen_host,
        "listen_port": config.listen_port,
        "admin_host": config.admin_host,
        "admin_port": config.admin_port,
        "stats_host": config.stats_host,
        "stats_port": config.stats_port,
        "authz_timeout": config.authz_timeout,
        "upstream_timeout": config.upstream_timeout,
        "max_request_bytes": MAX_REQUEST_BYTES,
        "descriptor_path": str(config.descriptor),
        # A JSON string is also a YAML double-quoted scalar.
        "strict_json_source": json.dumps(strict_json_source(config.descriptor, config.strict_json_lua)),
        "transcoded_services": json.dumps(TRANSCODED_SERVICES),
        "ignored_query_parameters": json.dumps(IGNORED_QUERY_PARAMETERS),
        "gateway_discovery": "STATIC",
        "telemetry_discovery": "STATIC",
        "seda_discovery": "STATIC",
        "orbit_discovery": "STATIC",
        "billing_discovery": "STATIC",
        "gateway_endpoints": endpoints_yaml(config.gateway),
        "telemetry_endpoints": endpoints_yaml(config.telemetry),
        "seda_endpoints": endpoints_yaml(config.seda),
        "orbit_endpoints": endpoints_yaml(config.orbit),
        "billing_endpoints": endpoints_yaml(config.billing),
        # Plaintext: only the chart terminates TLS in Envoy.
        "public_transport_socket": "",
        **grpc_local_reply_values(),
    }
    return string.Template(template.read_text()).substitute(values)

"""Renders deploy/envoy/envoy.yaml.tmpl for `make run`, the tests and the bench.

The Helm chart fills the same ${name} placeholders; this module is the
local way to fill them.
"""

import dataclasses
import json
import pathlib
import string

from defrag import edgeschema
from defrag.platform.config import ROOT, descriptor_path

TEMPLATE = ROOT / "deploy" / "envoy" / "envoy.yaml.tmpl"
# The Lua script that checks REST query strings and bodies before the transcoder.
STRICT_JSON_LUA = ROOT / "deploy" / "envoy" / "strict_json.lua"

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
    authz_timeout: str = "1s"
    upstream_timeout: str = "30s"
    node_id: str = "edge-0"
    max_connections: int = 10_000
    descriptor: pathlib.Path = dataclasses.field(default_factory=descriptor_path)
    strict_json_lua: pathlib.Path = STRICT_JSON_LUA


def endpoints_yaml(endpoints: list[tuple[str, int]], indent: int = 8) -> str:
    """Returns the lb_endpoints entries for the given host and port pairs."""
    pad = " " * indent
    return "\n".join(
        f"{pad}- endpoint: {{ address: {{ socket_address: {{ address: {host}, port_value: {port} }} }} }}"
        for host, port in endpoints
    )


def strict_json_source(
    descriptor: pathlib.Path, script: pathlib.Path = STRICT_JSON_LUA, services: list[str] = TRANSCODED_SERVICES
) -> str:
    """Returns the Lua filter's source: the request schema of the services' REST routes, then the script.

    The schema takes one line, so a line number in Envoy's log is one more
    than in the script.
    """
    schema = edgeschema.build(descriptor, services, IGNORED_QUERY_PARAMETERS)
    return f"local EDGE_SCHEMA = {edgeschema.render_lua(schema)}\n{script.read_text()}"


def render(config: EdgeConfig, template: pathlib.Path = TEMPLATE) -> str:
    """Returns the Envoy configuration as YAML text."""
    values = {
        "node_id": config.node_id,
        "max_connections": config.max_connections,
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
    }
    return string.Template(template.read_text()).substitute(values)

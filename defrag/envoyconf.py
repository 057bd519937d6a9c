"""Renders deploy/envoy/envoy.yaml.tmpl for `make run`, the tests and the bench.

The Helm chart fills the same ${name} placeholders; this module is the
local way to fill them.
"""

import dataclasses
import pathlib
import string

from defrag.platform.config import ROOT, descriptor_path

TEMPLATE = ROOT / "deploy" / "envoy" / "envoy.yaml.tmpl"
# The Lua script that checks REST bodies as strict JSON before the transcoder.
STRICT_JSON_LUA = ROOT / "deploy" / "envoy" / "strict_json.lua"

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
        "strict_json_lua": str(config.strict_json_lua),
        "gateway_discovery": "STATIC",
        "telemetry_discovery": "STATIC",
        "seda_discovery": "STATIC",
        "orbit_discovery": "STATIC",
        "gateway_endpoints": endpoints_yaml(config.gateway),
        "telemetry_endpoints": endpoints_yaml(config.telemetry),
        "seda_endpoints": endpoints_yaml(config.seda),
        "orbit_endpoints": endpoints_yaml(config.orbit),
    }
    return string.Template(template.read_text()).substitute(values)

"""The extra Envoys of the bench, each returning the same fixed direct response for the telemetry method.

- bare: one route and the router, nothing else: the ceiling.
- chain: the real edge configuration with the telemetry route patched into
  the direct response, so the difference from bare is the cost of the real
  filter chain (header_mutation, grpc_json_transcoder, ext_authz with the
  gateway's full decision and metering in Redis).
- null authorizer: the chain again, but ext_authz's gRPC Check is handled
  by listeners of the same Envoy, with no Python and no Redis.
- reference authorizers: the chain calling one of bench/authorizers.py,
  which admit every call from Python, over gRPC (grpc.aio, as the gateway)
  or over Envoy's HTTP ext_authz protocol (a bare asyncio server).

The direct response is text, not a gRPC message, so a gRPC client reports
UNKNOWN for it; HTTP status 200 and the servers' counters show admission.
Every Envoy is started through the mesh's process table, so mesh.stop()
stops it and its log lands in the mesh's log folder.
"""

import base64
import socket
import sys
import time
import urllib.request

import yaml

from defrag import envoyconf
from defrag.mesh import Mesh, envoy_binary, free_port

TELEMETRY_ROUTE_PREFIX = "/defrag.telemetry.v1.TelemetryService/"
DIRECT_RESPONSE_BODY = "direct response\n"

# The null authorizer's response: CheckResponse{status: {code: 0}}, serialised.
ALLOW_ALL_CHECK_RESPONSE = b"\x0a\x00"

HTTP_CONNECTION_MANAGER = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}


def direct_response() -> dict:
    """Returns the route action that responds 200 with a short text body."""
    return {"status": 200, "body": {"inline_string": DIRECT_RESPONSE_BODY}}


def _listener(name: str, port: int, codec: str, routes: list[dict], http_filters: list[dict]) -> dict:
    manager = {
        "@type": HTTP_CONNECTION_MANAGER,
        "stat_prefix": name,
        "codec_type": codec,
        "http2_protocol_options": {"max_concurrent_streams": 1000},
        "route_config": {"name": name, "virtual_hosts": [{"name": name, "domains": ["*"], "routes": routes}]},
        "http_filters": [*http_filters, ROUTER],
    }
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}],
    }


def _cluster(name: str, port: int, http2: bool) -> dict:
    cluster = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    }
    if http2:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {"max_concurrent_streams": 100}},
            },
        }
    return cluster


def _find_http_filter(config: dict, listener_name: str, filter_name: str) -> dict:
    for listener in config["static_resources"]["listeners"]:
        if listener["name"] == listener_name:
            manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
            for http_filter in manager["http_filters"]:
                if http_filter["name"] == filter_name:
                    return http_filter["typed_config"]
    raise RuntimeError(f"no {filter_name} filter on the {listener_name} listener of {envoyconf.TEMPLATE}")


def bare_config(listen_port: int, admin_port: int) -> dict:
    """Returns an Envoy configuration whose only route returns the direct response for every request."""
    return {
        "node": {"id": "bench-bare", "cluster": "bench"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [_listener("bare", listen_port, "AUTO", [{"match": {"prefix": "/"}, "direct_response": direct_response()}], [])],
        },
    }


def chain_config(mesh: Mesh, listen_port: int, admin_port: int, stats_port: int) -> dict:
    """Returns the real edge configuration of the mesh, with the telemetry route patched into the direct response.

    The gateway cluster points at the mesh's gateways, so every request still
    gets the full decision and is metered in the mesh's Redis.
    """
    edge = mesh.envoy_config()
    edge.listen_port = listen_port
    edge.admin_port = admin_port
    edge.stats_port = stats_port
    edge.node_id = "bench-chain"
    config = yaml.safe_load(envoyconf.render(edge))

    patched = 0
    for listener in config["static_resources"]["listeners"]:
        if listener["name"] != "public":
            continue
        manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
        for host in manager["route_config"]["virtual_hosts"]:
            for route in host["routes"]:
                if route["match"].get("prefix") == TELEMETRY_ROUTE_PREFIX:
                    route.pop("route")
                    route["direct_response"] = direct_response()
                    patched += 1
    if patched != 1:
        raise RuntimeError(
            f"expected one route with prefix {TELEMETRY_ROUTE_PREFIX} on the public listener of "
            f"{envoyconf.TEMPLATE}, found {patched}; update bench/edge.py to the template"
        )
    return config


def null_authorizer_config(mesh: Mesh, listen_port: int, admin_port: int, stats_port: int, authorizer_ports: tuple[int, int]) -> dict:
    """Returns the chain configuration with ext_authz calling listeners of the same Envoy that admit every call.

    Envoy turns a direct response to a gRPC request into a gRPC error, so
    the OK CheckResponse takes two hops inside Envoy. First an HTTP/2
    listener's grpc_http1_reverse_bridge filter forwards the Check as
    HTTP/1.1. Then an HTTP/1.1 listener returns the CheckResponse as a
    direct response, which the bridge frames as the gRPC message, adding
    the grpc-status trailer. Both hops cost Envoy CPU that no external
    authorizer would.
    """
    grpc_port, backend_port = authorizer_ports
    config = chain_config(mesh, listen_port, admin_port, stats_port)
    config["node"]["id"] = "bench-null-authorizer"
    ext_authz = _find_http_filter(config, "public", "envoy.filters.http.ext_authz")
    ext_authz["grpc_service"]["envoy_grpc"]["cluster_name"] = "null_authorizer"

    bridge = {
        "name": "envoy.filters.http.grpc_http1_reverse_bridge",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_http1_reverse_bridge.v3.FilterConfig",
            "content_type": "application/x-protobuf",
            "withhold_grpc_frames": True,
        },
    }
    # Without it the direct response goes out before the request body is
    # read, and Envoy then closes the upstream connection after every Check.
    read_whole_request = {
        "name": "envoy.filters.http.buffer",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer", "max_request_bytes": 65536},
    }
    allow = {
        "match": {"prefix": "/"},
        "direct_response": {"status": 200, "body": {"inline_bytes": base64.b64encode(ALLOW_ALL_CHECK_RESPONSE).decode()}},
        "response_headers_to_add": [{
            "header": {"key": "content-type", "value": "application/x-protobuf"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        }],
    }
    forward = {"match": {"prefix": "/"}, "route": {"cluster": "null_authorizer_backend"}}
    config["static_resources"]["listeners"] += [
        _listener("null_authorizer", grpc_port, "HTTP2", [forward], [bridge]),
        _listener("null_authorizer_backend", backend_port, "HTTP1", [allow], [read_whole_request]),
    ]
    config["static_resources"]["clusters"] += [
        _cluster("null_authorizer", grpc_port, http2=True),
        _cluster("null_authorizer_backend", backend_port, http2=False),
    ]
    return config


def grpc_authorizer_config(mesh: Mesh, listen_port: int, admin_port: int, stats_port: int, authorizer_port: int) -> dict:
    """Returns the chain configuration with ext_authz calling a gRPC authorizer on authorizer_port instead of the gateway."""
    config = chain_config(mesh, listen_port, admin_port, stats_port)
    config["node"]["id"] = "bench-grpc-authorizer"
    ext_authz = _find_http_filter(config, "public", "envoy.filters.http.ext_authz")
    ext_authz["grpc_service"]["envoy_grpc"]["cluster_name"] = "reference_authorizer"
    config["static_resources"]["clusters"].append(_cluster("reference_authorizer", authorizer_port, http2=True))
    return config


def http_authorizer_config(mesh: Mesh, listen_port: int, admin_port: int, stats_port: int, authorizer_port: int) -> dict:
    """Returns the chain configuration with ext_authz calling an HTTP authorizer on authorizer_port, request body included."""
    config = chain_config(mesh, listen_port, admin_port, stats_port)
    config["node"]["id"] = "bench-http-authorizer"
    ext_authz = _find_http_filter(config, "public", "envoy.filters.http.ext_authz")
    timeout = ext_authz.pop("grpc_service")["timeout"]
    ext_authz["http_service"] = {
        "server_uri": {"uri": f"http://127.0.0.1:{authorizer_port}", "cluster": "reference_authorizer", "timeout": timeout},
    }
    config["static_resources"]["clusters"].append(_cluster("reference_authorizer", authorizer_port, http2=False))
    return config


class EnvoyProcess:
    """One Envoy started by the bench from a configuration dictionary."""

    def __init__(self, mesh: Mesh, name: str, config: dict, listen_port: int, admin_port: int, concurrency: int):
        self.mesh = mesh
        self.name = name
        self.config = config
        self.listen_port = listen_port
        self.admin_port = admin_port
        self.concurrency = concurrency

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    def start(self) -> "EnvoyProcess":
        """Writes the configuration, starts Envoy and waits until its admin port reports ready."""
        path = self.mesh.var / f"{self.name}.yaml"
        path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        # Mesh.spawn and Mesh.wait_for give the bench the mesh's logging, exit
        # detection and shutdown order.
        self.mesh.spawn(self.name, [
            envoy_binary(), "-c", str(path),
            "--concurrency", str(self.concurrency),
            "--log-level", "warn",
            "--base-id", str(self.admin_port),
            "--drain-time-s", "1",
        ])
        self.mesh.wait_for(self.name, time.monotonic() + 30, self._ready)
        return self

    def _ready(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=0.5) as reply:
            return reply.status == 200


def start_bare(mesh: Mesh, concurrency: int) -> EnvoyProcess:
    """Starts the bare direct-response Envoy on free ports."""
    listen, admin = free_port(), free_port()
    return EnvoyProcess(mesh, "envoy-bare", bare_config(listen, admin), listen, admin, concurrency).start()


def start_chain(mesh: Mesh, concurrency: int) -> EnvoyProcess:
    """Starts the real edge with the direct-response telemetry route on free ports."""
    listen, admin, stats = free_port(), free_port(), free_port()
    return EnvoyProcess(mesh, "envoy-chain", chain_config(mesh, listen, admin, stats), listen, admin, concurrency).start()


def start_null_authorizer(mesh: Mesh, concurrency: int) -> EnvoyProcess:
    """Starts the chain with the null authorizer on free ports."""
    listen, admin, stats = free_port(), free_port(), free_port()
    config = null_authorizer_config(mesh, listen, admin, stats, (free_port(), free_port()))
    return EnvoyProcess(mesh, "envoy-null-authorizer", config, listen, admin, concurrency).start()


def start_reference_authorizer(mesh: Mesh, concurrency: int, protocol: str) -> EnvoyProcess:
    """Starts bench/authorizers.py for "grpc" or "http" and the chain calling it, on free ports."""
    authorizer_port = free_port()
    name = f"{protocol}-authorizer"
    mesh.spawn(name, [sys.executable, "-m", "bench.authorizers", protocol, str(authorizer_port)])
    mesh.wait_for(name, time.monotonic() + 30, lambda: _listening(authorizer_port))
    build = grpc_authorizer_config if protocol == "grpc" else http_authorizer_config
    listen, admin, stats = free_port(), free_port(), free_port()
    config = build(mesh, listen, admin, stats, authorizer_port)
    return EnvoyProcess(mesh, f"envoy-{name}", config, listen, admin, concurrency).start()


def _listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True

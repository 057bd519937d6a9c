"""Server-side counts read from the services' Prometheus endpoints, to check what the load generators report.

The load generators see HTTP statuses only. A gRPC error travels in the
trailers of an HTTP 200, so the bench compares the client's count with
Envoy's ext_authz results, the gateway's decisions and the telemetry
service's gRPC status codes.
"""

import collections
import dataclasses
import json
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from defrag.mesh import Mesh

TELEMETRY_METHOD = "/defrag.telemetry.v1.TelemetryService/GetVectors"


@dataclasses.dataclass
class Snapshot:
    """Counter totals of one Envoy and of every gateway and telemetry process of a mesh."""

    ext_authz_ok: int
    ext_authz_not_ok: int
    gateway_allowed: int
    gateway_denied: int
    telemetry_ok: int
    telemetry_not_ok: int

    def __sub__(self, earlier: "Snapshot") -> "Snapshot":
        return Snapshot(*(getattr(self, f.name) - getattr(earlier, f.name) for f in dataclasses.fields(self)))


def samples(port: int, sample_name: str):
    """Yield the labels and integer value of every sample of that name on a /metrics endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name:
                yield sample.labels, int(sample.value)


def bucket_bound_ms(buckets: dict[float, int], share: float) -> float:
    """Return the upper bound, in ms, of the first cumulative histogram bucket that `share` of the observations had reached.

    buckets maps each bucket's upper bound in seconds to its cumulative count, +Inf included.
    """
    total = buckets[float("inf")]
    for bound in sorted(buckets):
        if buckets[bound] >= share * total:
            return bound * 1000
    return float("inf")


def ext_authz_counts(envoy_admin_port: int) -> dict[str, int]:
    """Returns the public listener's ext_authz counters (ok, denied, error, ...) from an Envoy's admin port."""
    url = f"http://127.0.0.1:{envoy_admin_port}/stats?format=json&filter=^http\\.public\\.ext_authz\\."
    with urllib.request.urlopen(url, timeout=5) as reply:
        stats = json.load(reply)["stats"]
    return {entry["name"].rsplit(".", 1)[1]: int(entry["value"]) for entry in stats if "value" in entry}


def snapshot(mesh: Mesh, envoy_admin_port: int | None) -> Snapshot:
    """Reads the ext_authz counters of one Envoy (none when the port is None) and the mesh's service counters."""
    ext_authz = ext_authz_counts(envoy_admin_port) if envoy_admin_port is not None else {}
    decisions = collections.Counter()
    for port in mesh.ports.gateway_metrics:
        for labels, value in samples(port, "defrag_gateway_decisions_total"):
            decisions[labels["result"]] += value

    codes = collections.Counter()
    for port in mesh.ports.telemetry_metrics:
        for labels, value in samples(port, "defrag_grpc_requests_total"):
            if labels["method"] == TELEMETRY_METHOD:
                codes["ok" if labels["code"] == "OK" else "not_ok"] += value

    return Snapshot(
        ext_authz_ok=ext_authz.get("ok", 0),
        ext_authz_not_ok=sum(ext_authz.get(name, 0) for name in ("denied", "error", "invalid", "failure_mode_allowed")),
        gateway_allowed=decisions["allowed"],
        gateway_denied=decisions["denied"],
        telemetry_ok=codes["ok"],
        telemetry_not_ok=codes["not_ok"],
    )

"""Metrics on every service, Envoy's stats listener, and JSON log lines with request ids."""

import json
import urllib.request
import uuid

import pytest

from conftest import LOS_ANGELES_1990, bearer, http

pytestmark = pytest.mark.integration

VECTORS = "/v1/telemetry/vectors?" + LOS_ANGELES_1990


def scrape(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
        return reply.read().decode()


def sample(text: str, name: str, **labels) -> float:
    """Returns the value of the series that has exactly these labels."""
    expected = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            series, value = line.rsplit(" ", 1)
            found = ",".join(sorted(series[len(name) + 1:-1].split(",")))
            if found == expected:
                return float(value)
    raise AssertionError(f"no {name}{{{expected}}}")


def test_gateway_exports_decisions_by_result_reason_and_tier(mesh, admin):
    _, _, key = admin.account_with_key("enterprise")
    for _ in range(4):
        http(mesh, VECTORS, bearer(key))
    http(mesh, VECTORS)

    metrics = [scrape(port) for port in mesh.ports.gateway_metrics]

    allowed = sum(sample(m, "defrag_gateway_decisions_total", result="allowed", reason="OK", tier="enterprise") for m in metrics)
    missing = sum(sample(m, "defrag_gateway_decisions_total", result="denied", reason="API_KEY_MISSING", tier="") for m in metrics)
    assert allowed >= 4
    assert missing >= 1
    # Series exist from start-up, so dashboards show 0 rather than no data.
    assert sample(metrics[0], "defrag_gateway_decisions_total", result="denied", reason="BURST_LIMIT_EXCEEDED", tier="free") >= 0
    assert "defrag_gateway_redis_seconds_bucket" in metrics[0]


def test_billing_exports_event_series_from_start(mesh):
    metrics = scrape(mesh.ports.billing_metrics[0])

    webhook = "/defrag.billing.v1.BillingService/HandleWebhook"
    assert sample(metrics, "defrag_grpc_requests_total", service="billing", method=webhook, code="OK") >= 0
    for event_type in ("customer.subscription.created", "customer.subscription.deleted", "invoice.payment_failed", "other"):
        assert sample(metrics, "defrag_billing_events_total", type=event_type, outcome="applied") >= 0
    assert sample(metrics, "defrag_billing_signature_failures_total", reason="expired") >= 0
    assert sample(metrics, "defrag_billing_unknown_price_events_total", mode="live") >= 0
    assert "defrag_billing_event_apply_seconds_bucket" in metrics
    assert sample(metrics, "defrag_billing_gateway_push_seconds_count", result="failed") >= 0


def test_telemetry_exports_requests_and_latency(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    http(mesh, VECTORS, bearer(key))

    metrics = scrape(mesh.ports.telemetry_metrics[0])

    method = "/defrag.telemetry.v1.TelemetryService/GetVectors"
    assert sample(metrics, "defrag_grpc_requests_total", service="telemetry", method=method, code="OK") >= 1
    assert sample(metrics, "defrag_grpc_requests_total", service="telemetry", method=method, code="INVALID_ARGUMENT") >= 0
    assert "defrag_grpc_request_duration_seconds_bucket" in metrics


def test_envoy_stats_come_from_the_stats_listener(mesh):
    stats = scrape(mesh.ports.envoy_stats, "/stats/prometheus")
    metrics_alias = scrape(mesh.ports.envoy_stats, "/metrics")

    assert "envoy_http_downstream_rq_total" in stats
    assert "envoy_cluster_upstream_rq_total" in metrics_alias


def test_stats_listener_serves_nothing_else(mesh):
    with pytest.raises(urllib.error.HTTPError) as raised:
        scrape(mesh.ports.envoy_stats, "/quitquitquit")

    assert raised.value.code == 404


def log_lines(mesh, prefix: str) -> list[dict]:
    lines = []
    for path in mesh.logs.glob(prefix + "*.log"):
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
    return lines


def test_request_id_and_traceparent_reach_every_log_line(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    request_id = f"test-{uuid.uuid4()}"
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    reply = http(mesh, VECTORS, {**bearer(key), "x-request-id": request_id, "traceparent": traceparent})

    assert reply.status == 200
    assert reply.json()["request_id"] == request_id
    gateway = [line for line in log_lines(mesh, "gateway") if line.get("request_id") == request_id]
    telemetry = [line for line in log_lines(mesh, "telemetry") if line.get("request_id") == request_id]
    assert gateway and gateway[0]["result"] == "allowed"
    assert telemetry and telemetry[0]["traceparent"] == traceparent
    assert telemetry[0]["code"] == "OK"


def test_error_bodies_carry_the_request_id(mesh):
    request_id = f"test-{uuid.uuid4()}"

    reply = http(mesh, VECTORS, {"x-request-id": request_id})

    assert reply.detail("ErrorInfo")["metadata"]["request_id"] == request_id

"""Metrics, Envoy's stats listener, JSON log lines with request ids, and the monitoring that the chart ships.

The chart's ServiceMonitor, PrometheusRule and dashboard ConfigMap are
rendered with Helm's engine (helm-python-sdk). kubernetes-validate has no
schema for custom resources, so the two monitoring.coreos.com/v1 kinds are
checked here against the fields and types that the Prometheus Operator's
CRDs require. Every PromQL expression of the dashboard and the alerts is parsed
with promql-parser, and each metric it names must be exported by the
running mesh.
"""

import json
import os
import pathlib
import re
import urllib.error
import urllib.request
import uuid

import helm_python
import jsonschema
import promql_parser
import pytest
import yaml

import billing_support as stripe_events
import chart_support
from chart_support import COMPONENTS, component_name, find
from conftest import AUDITED_TEXTS, LOS_ANGELES_1990, bearer, http

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


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
def test_telemetry_exports_requests_and_latency(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    http(mesh, VECTORS, bearer(key))

    metrics = scrape(mesh.ports.telemetry_metrics[0])

    method = "/defrag.telemetry.v1.TelemetryService/GetVectors"
    assert sample(metrics, "defrag_grpc_requests_total", service="telemetry", method=method, code="OK") >= 1
    assert sample(metrics, "defrag_grpc_requests_total", service="telemetry", method=method, code="INVALID_ARGUMENT") >= 0
    assert "defrag_grpc_request_duration_seconds_bucket" in metrics


@pytest.mark.integration
def test_envoy_stats_come_from_the_stats_listener(mesh):
    stats = scrape(mesh.ports.envoy_stats, "/stats/prometheus")
    metrics_alias = scrape(mesh.ports.envoy_stats, "/metrics")

    assert "envoy_http_downstream_rq_total" in stats
    assert "envoy_cluster_upstream_rq_total" in metrics_alias


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
def test_error_bodies_carry_the_request_id(mesh):
    request_id = f"test-{uuid.uuid4()}"

    reply = http(mesh, VECTORS, {"x-request-id": request_id})

    assert reply.detail("ErrorInfo")["metadata"]["request_id"] == request_id


# --- metrics added for the dashboard ----------------------------------------------------


def metrics_sum(ports: list[int], name: str, **labels) -> float:
    """Returns the sum over processes of the series that has exactly these labels."""
    return sum(sample(scrape(port), name, **labels) for port in ports)


def batch(mesh, key: str, count: int):
    instants = [{"date": f"2024-01-{day:02d}", "time": "12:00"} for day in range(1, count + 1)]
    body = json.dumps({"instants": instants, "lat": 34.05, "lon": -118.24}).encode()
    return http(mesh, "/v1/telemetry/vectors:batch", {**bearer(key), "Content-Type": "application/json"}, "POST", body)


@pytest.mark.integration
def test_telemetry_exports_compute_time_and_charts(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    ports = mesh.ports.telemetry_metrics
    single = "/defrag.telemetry.v1.TelemetryService/GetVectors"
    batched = "/defrag.telemetry.v1.TelemetryService/BatchGetVectors"
    timed = {method: metrics_sum(ports, "defrag_telemetry_compute_duration_seconds_count", method=method) for method in (single, batched)}
    charts = {method: metrics_sum(ports, "defrag_telemetry_charts_total", method=method) for method in (single, batched)}

    assert http(mesh, VECTORS, bearer(key)).status == 200
    assert batch(mesh, key, 3).status == 200

    assert metrics_sum(ports, "defrag_telemetry_compute_duration_seconds_count", method=single) == timed[single] + 1
    assert metrics_sum(ports, "defrag_telemetry_compute_duration_seconds_count", method=batched) == timed[batched] + 1
    assert metrics_sum(ports, "defrag_telemetry_charts_total", method=single) == charts[single] + 1
    assert metrics_sum(ports, "defrag_telemetry_charts_total", method=batched) == charts[batched] + 3


@pytest.mark.integration
def test_gateway_exports_quota_used_by_tier(mesh, admin):
    # The test tier "tiny" has a monthly quota of 3 calls: two calls use 1/3, then 2/3.
    _, _, key = admin.account_with_key("tiny")
    ports = mesh.ports.gateway_metrics
    name = "defrag_gateway_quota_used_ratio"
    before = {le: metrics_sum(ports, name + "_bucket", tier="tiny", le=le) for le in ("0.25", "0.5", "0.75")}
    count = metrics_sum(ports, name + "_count", tier="tiny")
    unlimited = metrics_sum(ports, name + "_count", tier="enterprise")
    _, _, enterprise_key = admin.account_with_key("enterprise")

    for _ in range(2):
        assert http(mesh, VECTORS, bearer(key)).status == 200
    assert http(mesh, VECTORS, bearer(enterprise_key)).status == 200

    assert metrics_sum(ports, name + "_count", tier="tiny") == count + 2
    assert metrics_sum(ports, name + "_bucket", tier="tiny", le="0.25") == before["0.25"]
    assert metrics_sum(ports, name + "_bucket", tier="tiny", le="0.5") == before["0.5"] + 1
    assert metrics_sum(ports, name + "_bucket", tier="tiny", le="0.75") == before["0.75"] + 2
    # Enterprise has no monthly cap, so its calls record no share.
    assert metrics_sum(ports, name + "_count", tier="enterprise") == unlimited


# --- the dashboard's and the alerts' PromQL ----------------------------------------------


ROOT = pathlib.Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "defrag"
DASHBOARD = CHART / "files" / "dashboards" / "defrag.json"
GRAFANA_LINK = ROOT / "deploy" / "grafana" / "defrag.json"
ALERTS = CHART / "files" / "alerts.yaml"
OPERATIONS = ROOT / "docs" / "operations.md"

# What Grafana puts in place of each variable before it sends a query: a
# duration for its interval macros, and the "All" value for the dashboard's
# multi-value variables, which the queries use in regex matchers only.
GRAFANA_VALUES = {
    "__rate_interval": "5m", "__interval": "1m", "__range": "1h", "namespace": ".*", "service": ".*", "method": ".*",
}
# $name, ${name} and ${name:format}.
GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
LABEL_VALUES = re.compile(r"label_values\((?P<selector>.+),\s*\w+\)", re.S)


def substitute(query: str, values: dict[str, str] = GRAFANA_VALUES) -> str:
    """Returns the query with Grafana's variables replaced as Grafana would, or fails on an unknown variable."""
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"unknown Grafana variable ${name} in {query!r}; add it to GRAFANA_VALUES"
        return values[name]

    return GRAFANA_VARIABLE.sub(value, query)


def walk_panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_queries(values: dict[str, str] = GRAFANA_VALUES) -> list[tuple[str, str]]:
    """Returns (where, PromQL) for every panel target and every variable query, variables substituted."""
    queries = []
    for panel in walk_panels(dashboard()["panels"]):
        for target in panel.get("targets", []):
            queries.append((f"panel {panel['title']!r} {target['refId']}", substitute(target["expr"], values)))
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = LABEL_VALUES.fullmatch(query)
        assert match, f"variable {variable['name']}: only label_values(selector, label) queries are checked, not {query!r}"
        queries.append((f"variable {variable['name']!r}", substitute(match["selector"], values)))
    return queries


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def alert_queries() -> list[tuple[str, str]]:
    return [(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]


def metric_names(query: str) -> set[str]:
    """Returns the metric name of every selector in the query."""
    names = set()

    def visit(node):
        if not isinstance(node, promql_parser.VectorSelector):
            return
        name = node.name or next(
            (m.value for m in node.matchers.matchers if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal), None
        )
        assert name, f"a selector without a fixed metric name cannot be checked: {node} in {query!r}"
        names.add(name)

    promql_parser.walk(promql_parser.parse(query), visit)
    return names


def exported_series(expositions: list[str]) -> set[str]:
    """Returns every series name in Prometheus text expositions (counters' _total, histograms' _bucket, _sum and _count)."""
    names = set()
    for text in expositions:
        for line in text.splitlines():
            if line and not line.startswith("#"):
                names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group())
    return names


def missing_metrics(queries: list[tuple[str, str]], exported: set[str]) -> dict[str, list[str]]:
    """Returns each queried metric that no exposition has, with the queries that name it."""
    missing: dict[str, list[str]] = {}
    for where, query in queries:
        for name in sorted(metric_names(query) - exported):
            missing.setdefault(name, []).append(where)
    return missing


def test_every_query_parses():
    queries = dashboard_queries() + alert_queries()

    for where, query in queries:
        try:
            promql_parser.parse(query)
        except ValueError as error:
            pytest.fail(f"{where}: {error}\n{query}")
    assert len(queries) >= 40


def test_metric_check_flags_unknown_names():
    exposition = (
        "# TYPE defrag_grpc_requests_total counter\n"
        'defrag_grpc_requests_total{service="seda",method="/m",code="OK"} 1.0\n'
        'defrag_grpc_request_duration_seconds_bucket{service="seda",method="/m",le="0.1"} 1.0\n'
        "envoy_server_live{} 1\n"
    )
    queries = [
        ("known", 'sum(rate(defrag_grpc_requests_total[5m])) * on() group_left() max(envoy_server_live)'),
        ("typo", "sum(rate(defrag_grpc_request_total[5m]))"),
        ("histogram without _bucket", "histogram_quantile(0.9, rate(defrag_grpc_request_duration_seconds[5m]))"),
        ("by __name__", '{__name__="defrag_no_such_metric"}'),
    ]

    missing = missing_metrics(queries, exported_series([exposition]))

    assert missing == {
        "defrag_grpc_request_total": ["typo"],
        "defrag_grpc_request_duration_seconds": ["histogram without _bucket"],
        "defrag_no_such_metric": ["by __name__"],
    }


def test_unknown_grafana_variable_fails():
    with pytest.raises(AssertionError, match=r"\$tenant"):
        substitute('sum(rate(defrag_grpc_requests_total{service=~"$tenant"}[$__rate_interval]))')


def test_dashboard_has_required_panels():
    names = set().union(*(metric_names(query) for _, query in dashboard_queries()))

    required = {
        "defrag_grpc_requests_total",  # request rate and errors per service and method
        "defrag_grpc_request_duration_seconds_bucket",  # p50 and p99 per service and method
        "defrag_gateway_decisions_total",  # decisions by reason and tier
        "defrag_gateway_charged_calls_total",  # quota use per tier
        "defrag_gateway_quota_used_ratio_bucket",
        "defrag_gateway_redis_seconds_bucket",  # Redis latency
        "defrag_billing_events_total",  # webhook outcomes
        "defrag_billing_signature_failures_total",
        "defrag_seda_band_total",  # SEDA band counts
        "defrag_telemetry_compute_duration_seconds_bucket",  # telemetry compute time
    }
    assert required <= names, f"no panel queries {sorted(required - names)}"


# Grafana's unit ids (its value formats) that the dashboard may use.
GRAFANA_UNITS = {"reqps", "cps", "cpm", "ms", "s", "short", "percentunit"}


def test_dashboard_model_is_complete():
    model = dashboard()
    variables = {variable["name"]: variable for variable in model["templating"]["list"]}
    panels = list(walk_panels(model["panels"]))

    assert model["uid"] == "defrag-api"
    assert model["schemaVersion"] >= 39
    assert model["id"] is None
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "service", "method"):
        assert variables[name]["includeAll"], name
        assert variables[name]["multi"], name
        assert variables[name]["allValue"] == ".*", name
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        if panel["type"] == "row":
            continue
        title = panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, title
        assert panel["description"], title
        assert panel["fieldConfig"]["defaults"]["unit"] in GRAFANA_UNITS, f"{title}: unit"
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], title
            assert target["legendFormat"], f"{title} {target['refId']}: no legend"
            windows = re.findall(r"\[([^\]]+)\]", target["expr"])
            assert set(windows) <= {"$__rate_interval"}, f"{title}: a range that is not $__rate_interval: {windows}"


def test_dashboard_filters_every_selector_by_namespace():
    # A value no real namespace has, so that a matcher with it can only come from $namespace.
    values = {**GRAFANA_VALUES, "namespace": "namespace-variable"}
    selectors = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            selectors.append(node)

    for where, query in dashboard_queries(values):
        if where == "variable 'namespace'":
            continue
        selectors.clear()
        promql_parser.walk(promql_parser.parse(query), visit)
        for selector in selectors:
            matchers = [(m.name, m.op, m.value) for m in selector.matchers.matchers]
            assert ("namespace", promql_parser.MatchOp.Re, "namespace-variable") in matchers, f"{where}: {selector}"


def test_dashboard_panels_do_not_overlap():
    cells: dict[tuple[int, int], str] = {}
    for panel in walk_panels(dashboard()["panels"]):
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_grafana_path_links_to_the_chart_file():
    assert GRAFANA_LINK.is_symlink()
    target = os.readlink(GRAFANA_LINK)
    assert not os.path.isabs(target), f"the link must be relative so that it works in any checkout, not {target}"
    assert GRAFANA_LINK.resolve() == DASHBOARD.resolve()


def anchors(markdown: str) -> set[str]:
    """Returns the anchors that GitHub makes of the document's headings."""
    slugs = set()
    for line in markdown.splitlines():
        heading = re.match(r"#{1,6} (.+)", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            slugs.add(text.replace(" ", "-"))
    return slugs


ALERT_FIELDS = ("summary", "description", "runbook_url")


def test_every_alert_is_complete_and_has_a_runbook():
    documented = anchors(OPERATIONS.read_text())
    names = [rule["alert"] for rule in alert_rules()]

    assert len(names) == len(set(names)), "alert names repeat"
    for rule in alert_rules():
        name = rule["alert"]
        assert re.fullmatch(r"Defrag[A-Z][A-Za-z0-9]+", name), name
        assert isinstance(rule["expr"], str), name
        assert rule["expr"].strip(), name
        assert isinstance(rule["for"], str), f"{name}: for"
        assert re.match(DURATION_PATTERN, rule["for"]), f"{name}: for"
        assert rule["for"] != "0", f"{name}: for"
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        for field in ALERT_FIELDS:
            assert isinstance(rule["annotations"].get(field), str), f"{name}: {field}"
            assert rule["annotations"][field].strip(), f"{name}: {field}"
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert path == "docs/operations.md", name
        assert anchor == name.lower(), name
        assert anchor in documented, f"{name}: docs/operations.md has no heading for #{anchor}"


def test_every_alert_says_why_its_threshold():
    lines = ALERTS.read_text().splitlines()

    for index, line in enumerate(lines):
        if line.strip().startswith("- alert:"):
            assert lines[index - 1].strip().startswith("#"), f"no comment above {line.strip()}"


def test_alerts_cover_required_signals():
    names = {rule["alert"] for rule in alert_rules()}
    metrics = {rule["alert"]: metric_names(rule["expr"]) for rule in alert_rules()}

    assert {
        "DefragServiceErrorRate", "DefragEdgeErrorRate", "DefragAuthzLatencyHigh", "DefragRedisErrors",
        "DefragWebhookSignatureFailures", "DefragRateLimitSpike", "DefragBillingUnknownPrice",
        "DefragSedaAuditWriteFailures", "DefragNoHealthyReplica",
    } <= names
    assert metrics["DefragBillingUnknownPrice"] == {"defrag_billing_unknown_price_events_total"}
    assert metrics["DefragSedaAuditWriteFailures"] == {"defrag_seda_audit_write_failures_total"}
    assert metrics["DefragWebhookSignatureFailures"] == {"defrag_billing_signature_failures_total"}
    assert 'reason="REDIS_UNAVAILABLE"' in next(rule["expr"] for rule in alert_rules() if rule["alert"] == "DefragRedisErrors")


# --- every queried metric exists in the running mesh -------------------------------------


def drive_traffic(mesh, admin) -> None:
    """Sends a few calls of each kind, so that every family has samples beyond its initial zeros."""
    _, _, key = admin.account_with_key("pro")
    assert http(mesh, VECTORS, bearer(key)).status == 200
    assert batch(mesh, key, 2).status == 200
    assert http(mesh, VECTORS).status == 401

    text = "A quiet afternoon; I read on the balcony and cooked soup."
    AUDITED_TEXTS.append(text)
    body = json.dumps({"journal_text": text}).encode()
    assert http(mesh, "/v1/seda/audit", {**bearer(key), "Content-Type": "application/json"}, "POST", body).status == 200

    event = stripe_events.fixture(stripe_events.NEW_SHAPE, "customer.created")
    event["id"] = stripe_events.new_event_id()
    assert stripe_events.deliver(mesh, event).status == 200
    assert stripe_events.deliver(mesh, event, secret="whsec_" + "0" * 48).status == 400


def scrape_everything(mesh) -> list[str]:
    """Returns the exposition of every process of the mesh and of Envoy's stats listener."""
    ports = mesh.ports
    metrics_ports = [
        *ports.gateway_metrics, *ports.telemetry_metrics, *ports.seda_metrics, *ports.orbit_metrics, *ports.billing_metrics,
    ]
    return [scrape(port) for port in metrics_ports] + [scrape(ports.envoy_stats, "/stats/prometheus")]


@pytest.mark.integration
def test_every_queried_metric_is_exported(mesh, admin):
    drive_traffic(mesh, admin)
    exported = exported_series(scrape_everything(mesh))
    queries = dashboard_queries() + alert_queries()

    missing = missing_metrics(queries, exported)

    # Prometheus makes `up` for each target itself; no process exports it.
    missing.pop("up", None)
    assert not missing, "metrics that no process exports: " + json.dumps(missing, indent=2)
    assert "defrag_no_such_metric_total" not in exported


# --- the chart's ServiceMonitor, PrometheusRule and dashboard ConfigMap ------------------


RUNBOOK_BASE = "https://git.example.com/defrag/blob/main/"
MONITORING_ON = {
    "monitoring": {
        "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}, "runbookBaseUrl": RUNBOOK_BASE},
        "dashboard": {"enabled": True, "annotations": {"grafana_folder": "defrag"}},
    },
}

# The parts of the Prometheus Operator's v1 CRD schemas (operator 0.82 to
# 0.84) that these resources use, with the same required fields, types and
# duration pattern. Unlike the CRDs, every object here forbids fields it does
# not list, because the API server would silently prune a misspelled field.
DURATION_PATTERN = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA = {
    "type": "object",
    "required": ["name", "labels"],
    "properties": {"name": {"type": "string", "minLength": 1}, "labels": STRING_MAP, "annotations": STRING_MAP},
}
LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["endpoints", "selector"],
            "properties": {
                "jobLabel": {"type": "string"},
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
                },
                "selector": LABEL_SELECTOR,
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port"],
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": DURATION_PATTERN},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION_PATTERN},
                            "honorLabels": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}
PROMETHEUS_RULE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": {"type": "string", "pattern": DURATION_PATTERN},
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["expr"],
                                    "properties": {
                                        "alert": {"type": "string"},
                                        "record": {"type": "string"},
                                        "expr": {"type": ["string", "integer"]},
                                        "for": {"type": "string", "pattern": DURATION_PATTERN},
                                        "keep_firing_for": {"type": "string", "minLength": 1, "pattern": DURATION_PATTERN},
                                        "labels": STRING_MAP,
                                        "annotations": STRING_MAP,
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def kinds(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def test_monitoring_defaults_render_only_dashboard():
    objects = chart_support.manifests()

    assert kinds(objects, "ServiceMonitor") == []
    assert kinds(objects, "PrometheusRule") == []
    assert find(objects, "ConfigMap", "defrag-dashboard")["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_dashboard_can_be_turned_off():
    objects = chart_support.manifests({"monitoring": {"dashboard": {"enabled": False}}})

    assert "defrag-dashboard" not in chart_support.names(objects, "ConfigMap")


def test_scrape_annotations_can_be_turned_off():
    objects = chart_support.manifests({"monitoring": {"scrapeAnnotations": False}})

    for workload in kinds(objects, "Deployment") + kinds(objects, "StatefulSet"):
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        assert not [key for key in annotations if key.startswith("prometheus.io/")], workload["metadata"]["name"]


@pytest.mark.parametrize("kube_version", chart_support.KUBE_VERSIONS)
def test_lint_with_monitoring_is_clean(kube_version):
    report = helm_python.lint(str(chart_support.CHART), MONITORING_ON, strict=True, kube_version=f"v{kube_version}")

    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_service_monitor_matches_crd_structure():
    monitor = find(chart_support.manifests(MONITORING_ON), "ServiceMonitor", "defrag")

    jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [chart_support.NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s", "honorLabels": True}]


def test_crd_structure_check_rejects_misspelled_field():
    monitor = find(chart_support.manifests(MONITORING_ON), "ServiceMonitor", "defrag")
    monitor = json.loads(json.dumps(monitor))
    monitor["spec"]["endpoints"][0]["honourLabels"] = True

    with pytest.raises(jsonschema.ValidationError, match="honourLabels"):
        jsonschema.validate(monitor, SERVICE_MONITOR_SCHEMA)


def test_service_monitor_scrapes_every_pod_once():
    objects = chart_support.manifests(MONITORING_ON)
    selector = find(objects, "ServiceMonitor", "defrag")["spec"]["selector"]
    selected = [service for service in kinds(objects, "Service") if chart_support.selector_matches(selector, service["metadata"]["labels"])]
    scraped = [service for service in selected if "metrics" in {port["name"] for port in service["spec"]["ports"]}]

    for component in COMPONENTS:
        deployment = find(objects, "Deployment", component_name(component))
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        ports = {port["name"]: port["containerPort"] for port in chart_support.container(objects, component)["ports"]}
        covering = [service for service in scraped if chart_support.selector_matches({"matchLabels": service["spec"]["selector"]}, pod_labels)]

        assert len(covering) == 1, f"{component}: scraped through {[s['metadata']['name'] for s in covering]}"
        port = next(port for port in covering[0]["spec"]["ports"] if port["name"] == "metrics")
        assert port["targetPort"] in ("metrics", ports["metrics"]), component
        assert "metrics" in ports, component
    assert not [s for s in selected if s["metadata"]["labels"]["app.kubernetes.io/component"] == "redis"]


def test_prometheus_rule_matches_crd_structure():
    rule = find(chart_support.manifests(MONITORING_ON), "PrometheusRule", "defrag")

    jsonschema.validate(rule, PROMETHEUS_RULE_SCHEMA)
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    names = [group["name"] for group in rule["spec"]["groups"]]
    assert len(names) == len(set(names)), "group names repeat"


def test_prometheus_rule_carries_alerts_file():
    rule = find(chart_support.manifests(MONITORING_ON), "PrometheusRule", "defrag")
    expected = yaml.safe_load(ALERTS.read_text())["groups"]
    for group in expected:
        for alert in group["rules"]:
            alert["annotations"]["runbook_url"] = RUNBOOK_BASE + alert["annotations"]["runbook_url"]

    assert rule["spec"]["groups"] == expected
    # Prometheus's own templates in the annotations pass through Helm untouched.
    assert "{{ $labels.service }}" in rule["spec"]["groups"][0]["rules"][0]["annotations"]["summary"]


def test_runbook_base_must_be_a_url_folder():
    with pytest.raises(helm_python.HelmValuesError, match="runbookBaseUrl"):
        chart_support.render({"monitoring": {"prometheusRule": {"runbookBaseUrl": "docs"}}})


def test_dashboard_configmap_holds_exactly_the_file():
    configmap = find(chart_support.manifests(MONITORING_ON), "ConfigMap", "defrag-dashboard")

    assert configmap["data"] == {"defrag.json": DASHBOARD.read_text()}
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "defrag"}
    # Client-side `kubectl apply` copies the object into an annotation, and
    # the API server caps all annotations of an object at 256 KiB.
    assert len(DASHBOARD.read_bytes()) < 200 * 1024


@pytest.mark.integration
def test_operations_doc_lists_every_defrag_metric(mesh):
    documented = OPERATIONS.read_text()
    families = set()
    for text in scrape_everything(mesh):
        for line in text.splitlines():
            if line.startswith("# TYPE defrag_"):
                families.add(line.split()[2])

    undocumented = sorted(name for name in families if not name.endswith("_created") and f"`{name}`" not in documented)

    assert len(families) > 20
    assert undocumented == []

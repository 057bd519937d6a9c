"""The Helm chart in deploy/helm/defrag, rendered offline with Helm's own engine; no cluster is needed.

The chart is rendered with values.yaml and with values-production.yaml,
linted, and every manifest is validated against the Kubernetes schemas of
the oldest and newest supported versions. Envoy checks the configuration
from the rendered ConfigMap. The rest checks behaviour: headless Services
for every upstream Envoy dials, locked-down containers, gRPC probes, the
shutdown timeline, secrets only by reference, and what the NetworkPolicies
admit, computed by a small evaluator of NetworkPolicy semantics.
"""

import asyncio
import dataclasses
import inspect
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import helm_python
import kubernetes_validate
import pytest
import redis
import yaml

import chart_support
from chart_support import COMPONENTS, NAMESPACE, SERVICES, component_name, container, env, find
from defrag import edge, envoyconf
from defrag.mesh import envoy_binary, free_ports, redis_server_binary, terminate
from defrag.platform import server
from defrag.platform.config import descriptor_path
from services.gateway import tiers as gateway_tiers
from services.gateway.methods import PUBLIC_METHODS
from services.gateway.store import Store

VALUE_SETS = {"default": None, "production": chart_support.production_values()}
# Kinds of the Prometheus Operator, whose schemas are not Kubernetes's.
CUSTOM_RESOURCE_GROUPS = ("monitoring.coreos.com/",)
# Environment variables whose values are secrets.
SECRET_VARIABLES = {
    "DEFRAG_ADMIN_TOKEN", "SEDA_AUDIT_HMAC_SECRET", "STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_TEST",
    "STRIPE_API_KEY", "STRIPE_API_KEY_TEST",
}
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")


@pytest.fixture(scope="module", params=list(VALUE_SETS))
def values_name(request):
    return request.param


@pytest.fixture(scope="module")
def objects(values_name):
    return chart_support.manifests(VALUE_SETS[values_name])


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


# --- Helm and Kubernetes checks ---------------------------------------------


@pytest.mark.parametrize("kube_version", chart_support.KUBE_VERSIONS)
def test_lint_is_clean(values_name, kube_version):
    report = helm_python.lint(str(chart_support.CHART), VALUE_SETS[values_name], strict=True, kube_version=f"v{kube_version}")

    assert report["errors"] == []
    # Severity 1 is information, such as "icon is recommended". Severities 2 and 3 are warnings and errors.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("kube_version", chart_support.KUBE_VERSIONS)
def test_manifests_match_kubernetes_schemas(objects, kube_version):
    validated = []
    for manifest in objects:
        if manifest["apiVersion"].startswith(CUSTOM_RESOURCE_GROUPS):
            continue
        kubernetes_validate.validate(manifest, kube_version, strict=True)
        validated.append(manifest["kind"])

    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "NetworkPolicy"} <= set(validated)


def test_schema_rejects_wrong_type():
    with pytest.raises(helm_python.HelmValuesError, match=r"/gateway/autoscaling/maxReplicas.*(string|integer)"):
        chart_support.render({"gateway": {"autoscaling": {"maxReplicas": "ten"}}})


def test_schema_rejects_unknown_key():
    with pytest.raises(helm_python.HelmValuesError, match=r"/telemetry.*'replica'"):
        chart_support.render({"telemetry": {"replica": 3}})


def test_schema_rejects_inline_secret():
    with pytest.raises(helm_python.HelmValuesError, match=r"/secrets/adminToken.*object"):
        chart_support.render({"secrets": {"adminToken": "s3cr3t-token-value"}})
    with pytest.raises(helm_python.HelmValuesError, match=r"/secrets/stripeApiKey.*'value'"):
        chart_support.render({"secrets": {"stripeApiKey": {"name": "stripe", "key": "api-key", "value": "rk_live_x"}}})


@pytest.mark.parametrize("url", ["rediss://:hunter2@redis.internal:6379/0", "redis://hunter2@redis.internal:6379",
                                 "redis://user:hunter2@bad host/0"])
def test_redis_url_with_credentials_is_rejected_unprinted(url):
    with pytest.raises(helm_python.HelmRenderError, match=r"redis.external.url contains user information") as raised:
        chart_support.render({"redis": {"mode": "external", "external": {"url": url}}})

    assert "hunter2" not in str(raised.value)


def test_schema_caps_service_drain_at_five_seconds():
    # DEFRAG_DRAIN_SECONDS above 5 makes the services exit with a configuration error.
    with pytest.raises(helm_python.HelmValuesError, match=r"/seda/shutdown/drainSeconds"):
        chart_support.render({"seda": {"shutdown": {"drainSeconds": 6}}})


# --- Envoy's configuration --------------------------------------------------


def placeholder_values(template: str, rendered: str) -> dict[str, list[str]]:
    """Returns what each placeholder of the template became in the rendered text; AssertionError where the rest differs."""
    parts = PLACEHOLDER.split(template)
    literals, placeholders = parts[0::2], parts[1::2]
    assert rendered.startswith(literals[0]), "the text before the first placeholder differs from the template"
    assert rendered.endswith(literals[-1]), "the text after the last placeholder differs from the template"
    values: dict[str, list[str]] = {}
    position = len(literals[0])
    for index, (name, literal) in enumerate(zip(placeholders, literals[1:]), start=1):
        assert literal, f"placeholders meet without text between them before ${{{name}}}"
        end = len(rendered) - len(literal) if index == len(placeholders) else rendered.find(literal, position)
        assert end >= position, f"the template text after ${{{name}}} is not in the rendered text"
        values.setdefault(name, []).append(rendered[position:end])
        position = end + len(literal)
    assert position == len(rendered)
    return values


def make_run_config() -> str:
    return envoyconf.render(envoyconf.EdgeConfig(
        18080, 19901, 19902, [("127.0.0.1", 50061), ("127.0.0.1", 50062)], [("127.0.0.1", 50071)],
        [("127.0.0.1", 50081)], [("127.0.0.1", 50091)], [("127.0.0.1", 50101)],
    ))


def test_chart_and_make_run_share_template(objects):
    template = envoyconf.TEMPLATE.read_text()

    local = placeholder_values(template, make_run_config())
    chart = placeholder_values(template, chart_support.envoy_config_text(objects))

    assert set(local) == set(chart) == set(PLACEHOLDER.findall(template))
    # The Lua source and the constants are the same values, spelled by two JSON encoders.
    for name in ("strict_json_source", "transcoded_services", "ignored_query_parameters"):
        assert [json.loads(v) for v in chart[name]] == [json.loads(v) for v in local[name]], name
    for name in ("max_request_bytes", "authz_timeout", "upstream_timeout"):
        assert chart[name] == local[name], name
    for upstream in ("gateway", "telemetry", "seda", "orbit", "billing"):
        assert local[f"{upstream}_discovery"] == ["STATIC"]
        assert chart[f"{upstream}_discovery"] == ["STRICT_DNS"]


def test_generated_chart_files_are_current():
    for path, text in envoyconf.chart_files(descriptor_path()).items():
        assert path.read_text() == text, (
            f"{path.relative_to(chart_support.CHART)} is stale: run `.venv/bin/python tools/build_protos.py` and commit it"
        )


def test_chart_fails_on_unfilled_placeholder(tmp_path):
    copy = tmp_path / "defrag"
    shutil.copytree(chart_support.CHART, copy)
    template = copy / "files" / "envoy" / "envoy.yaml.tmpl"
    template.write_text(template.read_text() + "# ${new_setting}\n")

    with helm_python.Chart.load(str(copy)) as chart, pytest.raises(helm_python.HelmRenderError, match=r"\$\{new_setting\}"):
        chart.render(None, name=chart_support.RELEASE, namespace=NAMESPACE)


def local_envoy_files(objects: list[dict], folder) -> tuple[str, dict]:
    """Writes the ConfigMap's files into folder with local paths; returns envoy.yaml's text and the TLS folder.

    Only paths change: the descriptor set in the image becomes build/defrag.pb,
    and the mounted ConfigMap and TLS Secret folders become folders under
    folder. Everything else is the rendered text.
    """
    configmap = find(objects, "ConfigMap", component_name("envoy"))
    deployment = find(objects, "Deployment", component_name("envoy"))
    mounts = {m["name"]: m["mountPath"] for m in container(objects, "envoy")["volumeMounts"]}
    descriptor = yaml.safe_load(configmap["data"]["envoy.yaml"])
    transcoder = next(
        f for f in descriptor["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
        if f["name"] == "envoy.filters.http.grpc_json_transcoder"
    )
    image_descriptor = transcoder["typed_config"]["proto_descriptor"]
    config_folder = folder / "config"
    tls_folder = folder / "tls"
    config_folder.mkdir()
    tls_folder.mkdir()

    def localise(text: str) -> str:
        text = text.replace(image_descriptor, str(descriptor_path()))
        text = text.replace(mounts["config"], str(config_folder))
        if "tls" in mounts:
            text = text.replace(mounts["tls"], str(tls_folder))
        return text

    for name, text in configmap["data"].items():
        (config_folder / name).write_text(localise(text))
    assert any(v["name"] == "config" for v in pod_spec(deployment)["volumes"])
    return localise(configmap["data"]["envoy.yaml"]), tls_folder


def test_envoy_accepts_chart_config(objects, tmp_path):
    config, _ = local_envoy_files(objects, tmp_path)
    path = tmp_path / "envoy.yaml"
    path.write_text(config)

    result = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(path)], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr


def test_envoy_dials_headless_services_by_dns(objects):
    config = yaml.safe_load(chart_support.envoy_config_text(objects))
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}

    assert set(clusters) == {*SERVICES, "envoy_admin"}
    for name in SERVICES:
        cluster = clusters[name]
        assert cluster["type"] == "STRICT_DNS", name
        [endpoint] = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        address = endpoint["endpoint"]["address"]["socket_address"]
        service = find(objects, "Service", component_name(name))
        assert address["address"] == f"{component_name(name)}.{NAMESPACE}.svc.cluster.local"
        assert service["spec"]["clusterIP"] == "None", f"{name}'s Service must be headless so Envoy sees every pod"
        grpc_port = next(p for p in service["spec"]["ports"] if p["port"] == address["port_value"])
        assert grpc_port["targetPort"] == "grpc"
        pod_labels = find(objects, "Deployment", component_name(name))["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()


def test_envoy_readiness_route_reaches_admin(objects):
    config = yaml.safe_load(chart_support.envoy_config_text(objects))
    stats = next(listener for listener in config["static_resources"]["listeners"] if listener["name"] == "stats")
    routes = stats["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    envoy = container(objects, "envoy")
    ports = {p["name"]: p["containerPort"] for p in envoy["ports"]}

    assert {"match": {"path": "/ready"}, "route": {"cluster": "envoy_admin"}} in routes
    assert envoy["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}
    assert stats["address"]["socket_address"]["port_value"] == ports["metrics"]
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_tls_offers_h2_and_http11():
    objects = chart_support.manifests(VALUE_SETS["production"])
    config = yaml.safe_load(chart_support.envoy_config_text(objects))
    socket_config = config["static_resources"]["listeners"][0]["filter_chains"][0]["transport_socket"]
    envoy = find(objects, "Deployment", component_name("envoy"))
    secret_volumes = [v["secret"]["secretName"] for v in pod_spec(envoy)["volumes"] if "secret" in v]

    assert socket_config["name"] == "envoy.transport_sockets.tls"
    assert socket_config["typed_config"]["common_tls_context"]["alpn_protocols"] == ["h2", "http/1.1"]
    assert secret_volumes == ["defrag-api-tls"]


def test_tls_needs_secret_name():
    with pytest.raises(helm_python.HelmRenderError, match="envoy.tls.secretName"):
        chart_support.render({"envoy": {"tls": {"enabled": True}}})


def wait_until_ready(url: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"envoy exited with {process.returncode}: {log.read_text()[-2000:]}"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"envoy was not ready in 30 s: {log.read_text()[-2000:]}")


def negotiate(port: int, protocols: list[str]) -> tuple[str, bytes]:
    """Opens a TLS connection, returns the ALPN protocol chosen and the start of the reply to an HTTP/1.1 GET /v1/usage."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(protocols)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        chosen = tls.selected_alpn_protocol()
        reply = b""
        if chosen == "http/1.1":
            tls.sendall(b"GET /v1/usage HTTP/1.1\r\nHost: api.example\r\nConnection: close\r\n\r\n")
            reply = tls.recv(64)
        return chosen, reply


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_envoy_terminates_tls_with_chart_config(tmp_path):
    # The production values with TLS, run by a real Envoy on loopback. Only
    # paths, addresses and ports are changed, so that it runs here: the
    # listeners move to 127.0.0.1 and free ports, each upstream to a closed
    # port on 127.0.0.1 (no DNS lookup leaves the machine).
    objects = chart_support.manifests(VALUE_SETS["production"])
    text, tls_folder = local_envoy_files(objects, tmp_path)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=api.example", "-keyout", str(tls_folder / "tls.key"), "-out", str(tls_folder / "tls.crt")],
        check=True, capture_output=True, timeout=60,
    )
    public, stats, admin, closed = free_ports(4)
    config = yaml.safe_load(text)
    listeners = {listener["name"]: listener for listener in config["static_resources"]["listeners"]}
    listeners["public"]["address"]["socket_address"].update(address="127.0.0.1", port_value=public)
    listeners["stats"]["address"]["socket_address"].update(address="127.0.0.1", port_value=stats)
    config["admin"]["address"]["socket_address"]["port_value"] = admin
    for cluster in config["static_resources"]["clusters"]:
        for endpoint in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]:
            address = endpoint["endpoint"]["address"]["socket_address"]
            address.update(address="127.0.0.1", port_value=admin if cluster["name"] == "envoy_admin" else closed)
    path = tmp_path / "envoy-local.yaml"
    path.write_text(yaml.safe_dump(config))
    log = tmp_path / "envoy.log"

    with open(log, "wb") as output:
        process = subprocess.Popen(
            [envoy_binary(), "-c", str(path), "--concurrency", "1", "--base-id", str(admin), "--log-level", "warn"],
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(f"http://127.0.0.1:{stats}/ready", process, log)
        h2, _ = negotiate(public, ["h2", "http/1.1"])
        http11, reply = negotiate(public, ["http/1.1"])
    finally:
        process.terminate()
        process.wait(15)

    assert h2 == "h2"
    assert http11 == "http/1.1"
    # The gateway is unreachable, so ext_authz fails closed.
    assert reply.startswith(b"HTTP/1.1 503"), reply


# --- Pods ---------------------------------------------------------------------


def test_every_container_is_locked_down(objects):
    for workload in workloads(objects):
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False, workload["metadata"]["name"]
        for item in spec.get("initContainers", []) + spec["containers"]:
            where = f"{workload['metadata']['name']}/{item['name']}"
            context = item["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context.get("runAsUser", spec["securityContext"].get("runAsUser")) != 0, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in context["capabilities"], where


def test_python_pods_write_only_to_tmp(objects):
    for component in COMPONENTS:
        item = container(objects, component)
        variables = env(item)
        tmp_mounts = [m for m in item["volumeMounts"] if m["mountPath"] == "/tmp"]

        assert len(tmp_mounts) == 1, component
        assert variables["TMPDIR"]["value"] == "/tmp", component
        assert variables["PYTHONDONTWRITEBYTECODE"]["value"] == "1", component
        assert variables["NUMBA_CACHE_DIR"]["value"].startswith("/tmp/"), component


def test_service_probes_are_grpc_on_service_port(objects):
    for component in SERVICES:
        item = container(objects, component)
        grpc_port = next(p["containerPort"] for p in item["ports"] if p["name"] == "grpc")

        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert item[probe]["grpc"] == {"port": grpc_port}, f"{component} {probe}"


def test_grace_period_covers_shutdown(objects):
    # After SIGTERM a service finishes calls in flight for run_until_signal's grace.
    in_flight_grace = inspect.signature(server.run_until_signal).parameters["grace_seconds"].default
    for component in COMPONENTS:
        spec = pod_spec(find(objects, "Deployment", component_name(component)))
        item = container(objects, component)
        pre_stop = item["lifecycle"]["preStop"]["sleep"]["seconds"]
        variables = env(item)
        if component == "envoy":
            drain = int(variables["ENVOY_DRAIN_SECONDS"]["value"])
            needed = pre_stop + drain
        else:
            drain = int(variables["DEFRAG_DRAIN_SECONDS"]["value"])
            needed = pre_stop + drain + in_flight_grace

        assert pre_stop > 0, component
        assert drain > 0, component
        assert spec["terminationGracePeriodSeconds"] > needed, component


def test_short_grace_period_fails_render():
    with pytest.raises(helm_python.HelmRenderError, match=r"telemetry.shutdown.terminationGracePeriodSeconds is 20"):
        chart_support.render({"telemetry": {"shutdown": {"terminationGracePeriodSeconds": 20}}})
    with pytest.raises(helm_python.HelmRenderError, match=r"envoy.shutdown.terminationGracePeriodSeconds is 25"):
        chart_support.render({"envoy": {"shutdown": {"terminationGracePeriodSeconds": 25}}})


def test_rollout_keeps_capacity(objects):
    for component in COMPONENTS:
        strategy = find(objects, "Deployment", component_name(component))["spec"]["strategy"]

        assert strategy["rollingUpdate"]["maxUnavailable"] == 0, component


def test_each_component_has_autoscaler_and_budget(objects):
    for component in COMPONENTS:
        deployment = find(objects, "Deployment", component_name(component))
        autoscaler = find(objects, "HorizontalPodAutoscaler", component_name(component))
        budget = find(objects, "PodDisruptionBudget", component_name(component))
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

        assert "replicas" not in deployment["spec"], f"{component}: the HPA owns the replica count"
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert autoscaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": component_name(component)}
        assert autoscaler["spec"]["minReplicas"] >= 2, component
        assert budget["apiVersion"] == "policy/v1"
        assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_resources_have_requests_and_limits(objects):
    for workload in workloads(objects):
        for item in pod_spec(workload)["containers"]:
            resources = item["resources"]

            assert set(resources["requests"]) >= {"cpu", "memory"}, item["name"]
            assert set(resources["limits"]) >= {"cpu", "memory"}, item["name"]


def test_metrics_ports_are_named_and_annotated(objects, values_name):
    scrape_annotations = (VALUE_SETS[values_name] or {}).get("monitoring", {}).get("scrapeAnnotations", True)
    for component in COMPONENTS:
        deployment = find(objects, "Deployment", component_name(component))
        ports = {p["name"]: p["containerPort"] for p in container(objects, component)["ports"]}
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})

        assert "metrics" in ports, component
        if not scrape_annotations:
            # values-production.yaml scrapes through the ServiceMonitor alone.
            assert not any(key.startswith("prometheus.io/") for key in annotations), component
            continue
        assert annotations["prometheus.io/scrape"] == "true", component
        assert annotations["prometheus.io/port"] == str(ports["metrics"]), component
        assert annotations["prometheus.io/path"] == ("/stats/prometheus" if component == "envoy" else "/metrics")


# --- Secrets and Redis -------------------------------------------------------------


def test_secrets_only_by_reference(objects, values_name):
    rendered = "\n".join(chart_support.render(VALUE_SETS[values_name]).values())

    assert [o for o in objects if o["kind"] == "Secret"] == []
    for workload in workloads(objects):
        for item in pod_spec(workload)["containers"]:
            for name, entry in env(item).items():
                if name in SECRET_VARIABLES or (name == "REDIS_URL" and values_name == "production"):
                    assert "value" not in entry, f"{item['name']}: {name} must come from a Secret"
                    assert set(entry["valueFrom"]["secretKeyRef"]) >= {"name", "key"}
    # Nothing that looks like a Stripe secret or a Redis password is written out.
    for marker in ("whsec_", "sk_live_", "rk_live_", "sk_test_", "rk_test_", "redis://:", "rediss://:"):
        assert marker not in rendered, marker


def test_secret_references_reach_pods():
    objects = chart_support.manifests(VALUE_SETS["production"])
    expected = {
        "gateway": {"DEFRAG_ADMIN_TOKEN": ("defrag-production", "admin-token"), "REDIS_URL": ("defrag-redis", "url")},
        "seda": {"SEDA_AUDIT_HMAC_SECRET": ("defrag-production", "seda-audit-hmac-secret"), "REDIS_URL": ("defrag-redis", "url")},
        "billing": {
            "DEFRAG_ADMIN_TOKEN": ("defrag-production", "admin-token"),
            "STRIPE_WEBHOOK_SECRET": ("defrag-production", "stripe-webhook-secret"),
            "STRIPE_API_KEY": ("defrag-production", "stripe-api-key"),
            "REDIS_URL": ("defrag-redis", "url"),
        },
    }
    for component, variables in expected.items():
        found = env(container(objects, component))
        for name, (secret, key) in variables.items():
            reference = found[name]["valueFrom"]["secretKeyRef"]

            assert (reference["name"], reference["key"]) == (secret, key), f"{component} {name}"
        # A reference with an empty Secret name leaves the setting out.
        assert "STRIPE_WEBHOOK_SECRET_TEST" not in found


def test_internal_redis_keeps_append_only_file():
    objects = chart_support.manifests(None)
    redis = find(objects, "StatefulSet", component_name("redis"))
    arguments = container(objects, "redis")["args"]
    [claim] = redis["spec"]["volumeClaimTemplates"]

    assert redis["spec"]["replicas"] == 1
    assert arguments[arguments.index("--appendonly") + 1] == "yes"
    assert arguments[arguments.index("--dir") + 1] == "/data"
    assert {"name": "data", "mountPath": "/data"} in container(objects, "redis")["volumeMounts"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    for component in ("gateway", "seda", "billing"):
        url = env(container(objects, component))["REDIS_URL"]["value"]
        assert url == f"redis://{component_name('redis')}.{NAMESPACE}.svc.cluster.local:6379/0", component


def kubelet_expand(text: str, variables: dict[str, str]) -> str:
    """Expands $(NAME) references the way the kubelet does in args and env values."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda match: variables.get(match[1], match[0]), text)


def test_internal_redis_password_from_secret(tmp_path):
    password = "0123456789abcdef0123456789abcdef"
    reference = {"name": "defrag-redis-auth", "key": "password"}
    objects = chart_support.manifests({"redis": {"internal": {"passwordSecret": reference}}})
    redis_container = container(objects, "redis")
    redis_env = env(redis_container)

    assert redis_env["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"] == reference
    notes = next(text for path, text in chart_support.render({"redis": {"internal": {"passwordSecret": reference}}}).items()
                 if path.endswith("NOTES.txt"))
    assert "defrag-redis-auth/password (the internal Redis's password)" in notes
    assert redis_container["args"][redis_container["args"].index("--requirepass") + 1] == "$(REDISCLI_AUTH)"
    for component in ("gateway", "seda", "billing"):
        variables = env(container(objects, component))
        names = [item["name"] for item in container(objects, component)["env"]]
        assert variables["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == reference, component
        # The kubelet expands $(REDIS_PASSWORD) only when it is defined earlier.
        assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL"), component
        assert "value" not in variables["REDIS_PASSWORD"], component

    # Run the rendered Redis arguments and the gateway's rendered URL against
    # a real server, with the Secret's value expanded as the kubelet would.
    arguments = [kubelet_expand(argument, {"REDISCLI_AUTH": password}) for argument in redis_container["args"]]
    [port] = free_ports(1)
    for flag, value in (("--port", str(port)), ("--bind", "127.0.0.1"), ("--dir", str(tmp_path))):
        arguments[arguments.index(flag) + 1] = value
    url = kubelet_expand(env(container(objects, "gateway"))["REDIS_URL"]["value"], {"REDIS_PASSWORD": password})
    url = re.sub(r"@[^/]+/", f"@127.0.0.1:{port}/", url)
    process = subprocess.Popen([redis_server_binary(), *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        anonymous = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=5)
        for _ in range(100):
            try:
                anonymous.ping()
            except redis.exceptions.AuthenticationError:  # a subclass of ConnectionError: the server is up
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        with pytest.raises(redis.exceptions.AuthenticationError):
            anonymous.ping()

        async def create_and_find():
            store = Store(url, timeout_seconds=2)
            try:
                await store.create_account("acct_password_check", "live", "pro")
                # find_key reads on the gateway's own pipelined connection, which authenticates apart from redis-py.
                return await store.get_account("acct_password_check"), await store.find_key("0" * 64)
            finally:
                await store.close()

        account, missing = asyncio.run(create_and_find())
        assert account["tier"] == "pro"
        assert missing is None
    finally:
        terminate(process, 10)


def test_external_redis_url_and_cluster_flag():
    objects = chart_support.manifests({"redis": {"mode": "external", "external": {"url": "rediss://redis.internal:6380/0", "cluster": True}}})

    assert [o for o in objects if o["metadata"]["name"] == component_name("redis")] == []
    for component in ("gateway", "seda", "billing"):
        variables = env(container(objects, component))
        assert variables["REDIS_URL"]["value"] == "rediss://redis.internal:6380/0", component
        assert variables["REDIS_CLUSTER"]["value"] == "true", component
    for component in ("telemetry", "orbit", "envoy"):
        assert "REDIS_URL" not in env(container(objects, component)), component


@pytest.mark.parametrize("encoder, expected", [(True, "on"), (False, "off")])
def test_seda_encoder_setting(encoder, expected):
    objects = chart_support.manifests({"seda": {"encoder": encoder}})

    assert env(container(objects, "seda"))["SEDA_ENCODER"]["value"] == expected


def test_external_redis_needs_url():
    with pytest.raises(helm_python.HelmRenderError, match="redis.external.url"):
        chart_support.render({"redis": {"mode": "external"}})


def test_billing_reaches_admin_service(objects):
    variables = env(container(objects, "billing"))
    gateway_ports = {p["name"]: p["containerPort"] for p in container(objects, "gateway")["ports"]}
    admin = find(objects, "Service", component_name("gateway-admin"))

    assert variables["DEFRAG_ADMIN_ADDR"]["value"] == f"{component_name('gateway-admin')}.{NAMESPACE}.svc.cluster.local:{gateway_ports['admin']}"
    assert admin["spec"]["ports"][0]["targetPort"] == "admin"
    assert env(container(objects, "gateway"))["ADMIN_HOST"]["value"] == "0.0.0.0"


def test_tiers_from_values_reach_gateway():
    tiers = {"starter": {"monthly_quota": 100, "burst_per_second": 2, "methods": ["*"]}}
    objects = chart_support.manifests({"gateway": {"tiers": tiers}})
    configmap = find(objects, "ConfigMap", component_name("gateway-tiers"))
    gateway = container(objects, "gateway")

    assert yaml.safe_load(configmap["data"]["tiers.yaml"]) == {"tiers": tiers}
    assert env(gateway)["DEFRAG_TIERS"]["value"] == "/etc/defrag/tiers/tiers.yaml"
    assert {"name": "tiers", "mountPath": "/etc/defrag/tiers", "readOnly": True} in gateway["volumeMounts"]


# --- NetworkPolicies ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Source:
    """A client of a pod: a pod with labels in a namespace, or an address outside the cluster (namespace None)."""

    name: str
    namespace: str | None
    labels: tuple[tuple[str, str], ...] = ()


def peer_matches(peer: dict, source: Source, policy_namespace: str) -> bool:
    """Returns whether one NetworkPolicyPeer matches a source."""
    if "ipBlock" in peer:
        # Pod addresses are not known here, so an ipBlock is taken to mean clients outside the cluster.
        return source.namespace is None
    if source.namespace is None:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": source.namespace}
        if not chart_support.selector_matches(peer["namespaceSelector"], namespace_labels):
            return False
    elif source.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or chart_support.selector_matches(peer["podSelector"], dict(source.labels))


def port_matches(rule_ports: list[dict] | None, number: int, name: str) -> bool:
    if not rule_ports:
        return True
    for port in rule_ports:
        if port.get("protocol", "TCP") != "TCP":
            continue
        wanted = port.get("port")
        if wanted is None or wanted == name or wanted == number:
            return True
        if isinstance(wanted, int) and wanted <= number <= port.get("endPort", wanted):
            return True
    return False


def admits(policies: list[dict], source: Source, pod_labels: dict[str, str], port_number: int, port_name: str) -> bool:
    """Returns whether the NetworkPolicies of the release namespace admit a TCP connection from source to the pod's port."""
    selecting = [
        p for p in policies
        if chart_support.selector_matches(p["spec"]["podSelector"], pod_labels) and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            sources = rule.get("from")
            if port_matches(rule.get("ports"), port_number, port_name) and (
                not sources or any(peer_matches(peer, source, NAMESPACE) for peer in sources)
            ):
                return True
    return False


def test_policy_evaluator_semantics():
    policy = {"spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"], "ingress": [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}},
                   "podSelector": {"matchExpressions": [{"key": "role", "operator": "In", "values": ["admin"]}]}}],
         "ports": [{"port": 5432}]},
        {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": "sql"}]},
    ]}}
    database = {"app": "db"}

    # namespaceSelector and podSelector in one peer must both match.
    assert admits([policy], Source("ops admin", "ops", (("role", "admin"),)), database, 5432, "sql")
    assert not admits([policy], Source("ops user", "ops", (("role", "user"),)), database, 5432, "sql")
    assert not admits([policy], Source("admin elsewhere", "dev", (("role", "admin"),)), database, 5432, "sql")
    # A podSelector alone means the policy's namespace; a named port matches the container port's name.
    assert admits([policy], Source("api", NAMESPACE, (("app", "api"),)), database, 5432, "sql")
    assert not admits([policy], Source("api elsewhere", "dev", (("app", "api"),)), database, 5432, "sql")
    assert not admits([policy], Source("api", NAMESPACE, (("app", "api"),)), database, 9187, "metrics")
    # A pod that no policy selects is open.
    assert admits([policy], Source("anyone", None), {"app": "web"}, 80, "http")


def expected_sources(component: str, port_name: str, operator: bool) -> set[str]:
    """The clients the issue allows to reach one port of a component."""
    if component == "envoy":
        return {"prometheus"} if port_name == "metrics" else {"*"}
    if component == "redis":
        return {"gateway", "seda", "billing"}
    if port_name == "metrics":
        return {"prometheus"}
    if port_name == "admin":
        return {"billing", "operator"} if operator else {"billing"}
    return {"envoy"}


def test_network_policies_admit_what_the_design_allows(objects, values_name):
    values = VALUE_SETS[values_name] or {}
    operator_namespace = values.get("networkPolicy", {}).get("operatorNamespace", "")
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    pods = {w["metadata"]["labels"]["app.kubernetes.io/component"]: w for w in workloads(objects)}
    sources = [Source(name, NAMESPACE, tuple(pod_spec_labels.items())) for name, pod_spec_labels in (
        (name, w["spec"]["template"]["metadata"]["labels"]) for name, w in pods.items())]
    sources += [
        Source("prometheus", "monitoring", (("app.kubernetes.io/name", "prometheus"),)),
        # The same labels in another namespace are not Prometheus.
        Source("prometheus elsewhere", "other", (("app.kubernetes.io/name", "prometheus"),)),
        Source("operator", operator_namespace or "defrag-operators", (("app", "defrag-cli"),)),
        # A pod in another namespace that copies billing's labels.
        Source("billing lookalike", "other", tuple(pods["billing"]["spec"]["template"]["metadata"]["labels"].items())),
        Source("neighbour", NAMESPACE, (("app", "neighbour"),)),
        Source("internet", None),
    ]

    assert policies, "networkPolicy.enabled is on by default"
    for component, workload in pods.items():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        for item in pod_spec(workload)["containers"]:
            for port in item["ports"]:
                allowed = {s.name for s in sources if admits(policies, s, labels, port["containerPort"], port["name"])}
                expected = expected_sources(component, port["name"], bool(operator_namespace))
                if expected == {"*"}:
                    expected = {s.name for s in sources}

                assert allowed == expected, f"{component} port {port['name']}"


# --- Envoy's heap limit -------------------------------------------------------


def admin_stats(admin_port: int, pattern: str) -> dict[str, int]:
    """Returns Envoy's counters and gauges whose names match the regular expression."""
    url = f"http://127.0.0.1:{admin_port}/stats?format=json&filter={urllib.parse.quote(pattern)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        stats = json.load(response)["stats"]
    return {s["name"]: s["value"] for s in stats if "value" in s}


def hold_almost_complete_bodies(port: int, count: int, body_bytes: int) -> list[socket.socket]:
    """Opens count connections that each send a POST /v1/seda/audit without an API key, all of its body but the last byte."""
    head = (
        f"POST /v1/seda/audit HTTP/1.1\r\nHost: api.example\r\nContent-Type: application/json\r\n"
        f"Content-Length: {body_bytes}\r\n\r\n"
    ).encode()
    almost_whole_body = b"{" + b" " * (body_bytes - 2)
    connections = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.setblocking(False)
        try:
            connection.send(head + almost_whole_body)
        except BlockingIOError:
            pass  # Envoy stopped reading, which is what overload protection looks like.
        connections.append(connection)
    return connections


def test_envoy_sheds_held_bodies_under_heap_limit(tmp_path):
    # 100 bodies of almost 1 MiB are 100 MiB, above a 64 MiB heap limit.
    listen, admin, stats, closed = free_ports(4)
    nowhere = [("127.0.0.1", closed)]
    heap_limit = 64 * 1024 * 1024
    config = envoyconf.EdgeConfig(listen, admin, stats, nowhere, nowhere, nowhere, nowhere, nowhere, max_heap_bytes=heap_limit)
    (tmp_path / "envoy.yaml").write_text(envoyconf.render(config))
    log = tmp_path / "envoy.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [envoy_binary(), "-c", str(tmp_path / "envoy.yaml"), "--concurrency", "1", "-l", "warning"],
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    connections = []
    try:
        wait_until_ready(f"http://127.0.0.1:{admin}/ready", process, log)
        connections = hold_almost_complete_bodies(listen, 100, envoyconf.MAX_REQUEST_BYTES - 5)

        overloaded = {}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not overloaded.get("overload.envoy.overload_actions.stop_accepting_connections.active"):
            overloaded = admin_stats(admin, r"^overload\.envoy\.overload_actions\..*\.active$")
            time.sleep(0.1)
        # Idle timeouts shrink to 2 s under pressure, so the held streams end in seconds, not the usual 60 s.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = admin_stats(admin, r"^(http\.public\.downstream_(cx_active|rq_idle_timeout)|overload\..*fixed_heap\.pressure)$")
            if after["http.public.downstream_cx_active"] == 0 and after["overload.envoy.resource_monitors.fixed_heap.pressure"] < 80:
                break
            time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as reply:
            urllib.request.urlopen(f"http://127.0.0.1:{listen}/v1/usage", timeout=5)

        assert process.poll() is None, log.read_text()[-2000:]
        assert overloaded["overload.envoy.overload_actions.stop_accepting_connections.active"] == 1, overloaded
        assert overloaded["overload.envoy.overload_actions.reduce_timeouts.active"] == 1, overloaded
        assert after["http.public.downstream_rq_idle_timeout"] == 100, after
        assert after["http.public.downstream_cx_active"] == 0, after
        assert after["overload.envoy.resource_monitors.fixed_heap.pressure"] < 80, after
        # Envoy serves again: the gateway is not running, so the response is ext_authz's 503.
        assert reply.value.code == 503
    finally:
        for connection in connections:
            connection.close()
        terminate(process, 10)


def test_chart_sets_envoy_heap_limit(objects, values_name):
    config = yaml.safe_load(chart_support.envoy_config_text(objects))
    monitors = {m["name"]: m["typed_config"] for m in config["overload_manager"]["resource_monitors"]}
    heap_mib = (VALUE_SETS[values_name] or {}).get("envoy", {}).get("maxHeapMiB", 384)

    assert monitors["envoy.resource_monitors.fixed_heap"]["max_heap_size_bytes"] == heap_mib * 1024 * 1024


def test_envoy_heap_limit_below_memory_limit():
    with pytest.raises(helm_python.HelmRenderError, match=r"envoy\.maxHeapMiB \(512 MiB\) must be below envoy\.resources\.limits\.memory \(512Mi\)"):
        chart_support.render({"envoy": {"maxHeapMiB": 512}})
    with pytest.raises(helm_python.HelmValuesError, match=r"/envoy/maxHeapMiB"):
        chart_support.render({"envoy": {"maxHeapMiB": 16}})

    objects = chart_support.manifests({"envoy": {"maxHeapMiB": 700, "resources": {"limits": {"memory": "1Gi"}}}})

    assert "max_heap_size_bytes: 734003200" in chart_support.envoy_config_text(objects)


# --- Values the services or the API server would reject ----------------------------


def schema() -> dict:
    return json.loads((chart_support.CHART / "values.schema.json").read_text())


def test_envoy_drain_bounds_match_defrag_edge():
    bounds = schema()["properties"]["envoy"]["properties"]["shutdown"]["properties"]["drainSeconds"]

    assert (bounds["minimum"], bounds["maximum"]) == (1, edge.MAX_DRAIN_SECONDS)
    for seconds in (0, edge.MAX_DRAIN_SECONDS + 1):
        with pytest.raises(helm_python.HelmValuesError, match=r"/envoy/shutdown/drainSeconds"):
            chart_support.render({"envoy": {"shutdown": {"drainSeconds": seconds}}})


@pytest.mark.parametrize("tier, path", [
    ({"pro": {"monthly_quota": 5_000_000_000, "burst_per_second": 25, "methods": ["*"]}}, "monthly_quota"),
    ({"pro": {"monthly_quota": 100, "burst_per_second": 2_000_000, "methods": ["*"]}}, "burst_per_second"),
    ({"pro plan": {"monthly_quota": 100, "burst_per_second": 25, "methods": ["*"]}}, "pro plan"),
    ({"pro": {"monthly_quota": 100, "burst_per_second": 25, "methods": ["/defrag.seda.v1.SedaService/Nope"]}}, "methods"),
])
def test_schema_rejects_tier_gateway_rejects(tier, path):
    with pytest.raises(helm_python.HelmValuesError, match=rf"/gateway/tiers.*{path}|{path}.*/gateway/tiers"):
        chart_support.render({"gateway": {"tiers": tier}})


def test_tier_rules_match_gateway(tmp_path):
    rules = schema()["properties"]["gateway"]["properties"]["tiers"]
    entry = next(iter(rules["patternProperties"].values()))["properties"]
    accepted = {"ok-tier_2": {"monthly_quota": 2**32 - 1, "burst_per_second": 1_000_000, "methods": sorted(PUBLIC_METHODS)}}
    tiers_file = tmp_path / "tiers.yaml"
    tiers_file.write_text(yaml.safe_dump({"tiers": accepted}))

    assert set(entry["methods"]["items"]["enum"]) == {*PUBLIC_METHODS, "*"}
    assert entry["monthly_quota"]["maximum"] == 2**32 - 1
    assert entry["burst_per_second"]["maximum"] == 1_000_000
    assert set(gateway_tiers.load(tiers_file, known_methods=set(PUBLIC_METHODS))) == {"ok-tier_2"}
    chart_support.render({"gateway": {"tiers": accepted}})


def test_price_under_two_tiers_fails_render():
    price_ids = {"free": [], "pro": ["price_same"], "enterprise": ["price_same"]}

    with pytest.raises(helm_python.HelmRenderError, match=r"billing\.stripe\.priceIds lists price_same under both pro and enterprise"):
        chart_support.render({"billing": {"stripe": {"priceIds": price_ids}}})


def test_redis_cluster_needs_database_zero():
    for url in ("redis://redis.internal:6379/3", "rediss://redis.internal:6380/10"):
        values = {"redis": {"mode": "external", "external": {"url": url, "cluster": True}}}
        with pytest.raises(helm_python.HelmRenderError, match=r"redis\.external\.url ends in database number [0-9]+.*Redis Cluster"):
            chart_support.render(values)
    for url in ("redis://redis.internal:6379/0", "redis://redis.internal:6379"):
        chart_support.render({"redis": {"mode": "external", "external": {"url": url, "cluster": True}}})


def test_redis_cluster_flag_needs_external_mode():
    with pytest.raises(helm_python.HelmRenderError, match=r"redis\.external\.cluster is true, but redis\.mode is internal"):
        chart_support.render({"redis": {"mode": "internal", "external": {"cluster": True}}})


def test_schema_rejects_bad_port_in_redis_url():
    with pytest.raises(helm_python.HelmValuesError, match=r"/redis/external/url"):
        chart_support.render({"redis": {"mode": "external", "external": {"url": "redis://redis.internal:70000"}}})


@pytest.mark.parametrize("values, path", [
    ({"gateway": {"podDisruptionBudget": {"maxUnavailable": "150%"}}}, "/gateway/podDisruptionBudget/maxUnavailable"),
    ({"seda": {"resources": {"requests": {"cpu": "1.5.5", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "512Mi"}}}}, "/seda/resources/requests/cpu"),
    ({"orbit": {"resources": {"requests": {"cpu": "1", "memory": "1..Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}}}, "/orbit/resources/requests/memory"),
    ({"tmpVolume": {"sizeLimit": 256}}, "/tmpVolume/sizeLimit"),
    ({"tmpVolume": {"sizeLimit": "256"}}, "/tmpVolume/sizeLimit"),
])
def test_schema_rejects_invalid_quantity(values, path):
    with pytest.raises(helm_python.HelmValuesError, match=path):
        chart_support.render(values)


def test_schema_accepts_kubernetes_quantities():
    resources = {"requests": {"cpu": "250m", "memory": "1.5e8"}, "limits": {"cpu": 1.5, "memory": "0.5Gi"}}

    objects = chart_support.manifests({"telemetry": {"resources": resources, "podDisruptionBudget": {"maxUnavailable": "100%"}}})

    assert container(objects, "telemetry")["resources"] == resources


def test_request_above_limit_fails_render():
    resources = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "512Mi"}}

    with pytest.raises(helm_python.HelmRenderError, match=r"gateway\.resources\.requests\.memory \(1Gi\) is above gateway\.resources\.limits\.memory \(512Mi\)"):
        chart_support.render({"gateway": {"resources": resources}})
    with pytest.raises(helm_python.HelmRenderError, match=r"envoy\.resources\.requests\.cpu \(3\) is above"):
        chart_support.render({"envoy": {"resources": {"requests": {"cpu": 3, "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "512Mi"}}}})


# --- Release names ------------------------------------------------------------------


def test_long_release_name_gives_valid_names():
    # Helm allows release names up to 53 characters; "<release>-defrag" is then cut to 63.
    release = "a-very-long-release-name-for-the-clinical-api-x12"
    objects = chart_support.manifests(None, release=release)
    statefulset = next(o for o in objects if o["kind"] == "StatefulSet")

    assert len(release) == 49
    assert len(statefulset["metadata"]["name"]) <= 52, statefulset["metadata"]["name"]
    for manifest in objects:
        name = manifest["metadata"]["name"]
        assert len(name) <= 63, name
        assert not name.endswith("-"), name
        if manifest["kind"] == "Service":
            assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name), name
    names_of_services = chart_support.names(objects, "Service")
    assert len(set(names_of_services)) == len(names_of_services)


def test_release_name_starting_with_digit_fails():
    with pytest.raises(helm_python.HelmRenderError, match=r'"1st-defrag".*must start with a lowercase letter.*fullnameOverride'):
        chart_support.render(None, release="1st")

    objects = chart_support.manifests({"fullnameOverride": "first"}, release="1st")

    assert component_name("gateway").replace(chart_support.RELEASE, "first") in chart_support.names(objects, "Deployment")


# --- Pod annotations and extra environment ------------------------------------------


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that rejects a mapping with the same key twice, where PyYAML keeps the last."""


def construct_unique_mapping(loader, node, deep=False):
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    repeated = {key for key in keys if keys.count(key) > 1}
    if repeated:
        raise yaml.constructor.ConstructorError(None, None, f"repeated keys {sorted(repeated)}", node.start_mark)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_unique_mapping)


def test_pod_annotations_merge_without_duplicates():
    extra = {"prometheus.io/scrape": "false", "checksum/config": "mine", "team": "edge"}
    values = {component: {"podAnnotations": extra} for component in ("envoy", "gateway", "telemetry")}
    values["gateway"]["tiers"] = {"starter": {"monthly_quota": 100, "burst_per_second": 2, "methods": ["*"]}}
    rendered = chart_support.render(values)

    for path, text in rendered.items():
        if not path.endswith("NOTES.txt"):
            list(yaml.load_all(text, Loader=UniqueKeyLoader))
    objects = chart_support.manifests(values)
    for component in ("envoy", "gateway", "telemetry"):
        deployment = find(objects, "Deployment", component_name(component))
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "false", component
        assert annotations["team"] == "edge", component
        if component == "telemetry":
            assert annotations["checksum/config"] == "mine", "telemetry has no configuration checksum of its own"
        else:
            assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/config"]), component


def test_extra_env_reaches_containers():
    values = {component: {"extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"}]} for component in COMPONENTS}
    values["billing"]["extraEnv"].append({"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})
    objects = chart_support.manifests(values)

    for component in COMPONENTS:
        assert env(container(objects, component))["HTTPS_PROXY"]["value"] == "http://proxy.internal:3128", component
    assert env(container(objects, "billing"))["TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "s", "key": "k"}


@pytest.mark.parametrize("component, name", [("envoy", "ENVOY_DRAIN_SECONDS"), ("gateway", "REDIS_URL"), ("billing", "DEFRAG_ADMIN_TOKEN"), ("seda", "TMPDIR")])
def test_extra_env_rejects_chart_names(component, name):
    with pytest.raises(helm_python.HelmRenderError, match=rf"{component}\.extraEnv sets {name}, which the chart already sets"):
        chart_support.render({component: {"extraEnv": [{"name": name, "value": "x"}]}})


def test_extra_env_rejects_repeated_and_nameless_entries():
    repeated = [{"name": "TZ", "value": "UTC"}, {"name": "TZ", "value": "CET"}]

    with pytest.raises(helm_python.HelmRenderError, match=r"orbit\.extraEnv sets TZ, which an earlier entry of orbit\.extraEnv already sets"):
        chart_support.render({"orbit": {"extraEnv": repeated}})
    with pytest.raises(helm_python.HelmValuesError, match=r"/orbit/extraEnv/0.*name"):
        chart_support.render({"orbit": {"extraEnv": [{"value": "UTC"}]}})


# --- NOTES.txt ----------------------------------------------------------------------


def test_notes_warn_about_one_replica_budgets():
    one_replica = {"autoscaling": {"enabled": False}, "replicas": 1}
    values = {
        "seda": {**one_replica, "podDisruptionBudget": {"maxUnavailable": 1}},
        "orbit": {**one_replica, "podDisruptionBudget": {"maxUnavailable": 0}},
        "billing": {"autoscaling": {"minReplicas": 1}, "podDisruptionBudget": {"maxUnavailable": "50%"}},
    }
    text = chart_support.notes(values)

    assert "WARNING: seda can run one replica, and its PodDisruptionBudget allows 1 unavailable: a node drain evicts that only pod" in text
    assert "WARNING: orbit can run one replica, and its PodDisruptionBudget allows 0 unavailable: a node drain waits forever" in text
    assert "(billing.autoscaling.minReplicas)" in text
    assert "WARNING" not in chart_support.notes(None)

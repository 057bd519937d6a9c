"""Rendering the Helm chart in deploy/helm/defrag offline, with Helm's own engine (helm-python-sdk), for the chart tests.

No cluster and no helm binary are needed: helm_python binds Helm's Go SDK.
"""

import functools
import json

import helm_python
import yaml

from defrag.platform.config import ROOT

CHART = ROOT / "deploy" / "helm" / "defrag"
PRODUCTION_VALUES = CHART / "values-production.yaml"
RELEASE = "defrag"
NAMESPACE = "defrag"

# The oldest Kubernetes the chart supports (Chart.yaml's kubeVersion: the
# preStop sleep action is beta and on by default from 1.30) and the newest
# that kubernetes-validate 1.37 ships schemas for.
KUBE_VERSIONS = ("1.30.0", "1.37.0")

# Components and the Deployment that runs each.
SERVICES = ("gateway", "telemetry", "seda", "orbit", "billing")
COMPONENTS = ("envoy", *SERVICES)


def production_values() -> dict:
    """Returns values-production.yaml as a dict."""
    return yaml.safe_load(PRODUCTION_VALUES.read_text())


def render(values: dict | None = None, namespace: str = NAMESPACE, release: str = RELEASE) -> dict[str, str]:
    """Renders the chart with the values over values.yaml; returns the text of each template by path.

    Raises helm_python.HelmValuesError when values.schema.json rejects the
    values, and helm_python.HelmRenderError when a template fails.
    """
    # The values pass through JSON, so a copy cannot change the caller's dict.
    values = json.loads(json.dumps(values)) if values is not None else None
    with helm_python.Chart.load(str(CHART)) as chart:
        return chart.render(values, name=release, namespace=namespace)


@functools.lru_cache(maxsize=8)
def _render_cached(values_json: str, namespace: str, release: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(render(json.loads(values_json), namespace, release).items()))


def manifests(values: dict | None = None, namespace: str = NAMESPACE, release: str = RELEASE) -> list[dict]:
    """Renders the chart and returns every Kubernetes object in it, in template order (NOTES.txt left out)."""
    objects = []
    for path, text in _render_cached(json.dumps(values), namespace, release):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(document for document in yaml.safe_load_all(text) if document)
    return objects


def notes(values: dict | None = None) -> str:
    """Renders the chart and returns NOTES.txt, the text Helm prints after an install."""
    return next(text for path, text in _render_cached(json.dumps(values), NAMESPACE, RELEASE) if path.endswith("NOTES.txt"))


def find(objects: list[dict], kind: str, name: str) -> dict:
    """Returns the one object of that kind and name; raises AssertionError naming what exists."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}; {kind}s: {names(objects, kind)}"
    return found[0]


def names(objects: list[dict], kind: str) -> list[str]:
    """Returns the names of every object of that kind."""
    return [o["metadata"]["name"] for o in objects if o["kind"] == kind]


def component_name(component: str) -> str:
    """Returns the resource name of a component for the release the tests render (RELEASE contains the chart name)."""
    return f"{RELEASE}-{component}"


def envoy_config_text(objects: list[dict]) -> str:
    """Returns envoy.yaml from the Envoy ConfigMap."""
    return find(objects, "ConfigMap", component_name("envoy"))["data"]["envoy.yaml"]


def container(objects: list[dict], component: str) -> dict:
    """Returns the main container of a component's Deployment or StatefulSet."""
    workload = next(
        o for o in objects
        if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == component_name(component)
    )
    return next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == component)


def env(container_spec: dict) -> dict[str, dict]:
    """Returns a container's environment entries by variable name."""
    return {entry["name"]: entry for entry in container_spec.get("env", [])}


def selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """Returns whether labels match a Kubernetes label selector; an empty selector matches all labels."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True

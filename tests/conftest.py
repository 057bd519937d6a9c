"""Fixtures: one real mesh (Envoy, Redis, two gateways, telemetry, SEDA, orbit, billing) on free ports for the session.

Billing gets webhook secrets made for the session, the fixture prices, and
a fake Stripe API on 127.0.0.1 (tests/stripe_fake.py) for the reads that
reconcile and same-second events make.
"""

import asyncio
import base64
import itertools
import json
import os
import pathlib
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request

# Before gRPC loads, as defrag/mesh.py explains: the tests start meshes while channels are open.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

import grpc  # noqa: E402
import pytest  # noqa: E402
from google.rpc import error_details_pb2, status_pb2

from defrag.keys.v1 import admin_pb2, admin_pb2_grpc
from defrag.mesh import Mesh, MeshError, Ports, free_port, redis_server_binary
from services.gateway.store import Store, StoreUnavailable
import billing_support
from redis_cluster import LocalRedisCluster, cluster_mesh  # noqa: F401 (cluster_mesh is a session fixture)
from stripe_fake import StripeFake

TESTS = pathlib.Path(__file__).parent
TEST_TIERS = TESTS / "tiers.yaml"
LOS_ANGELES_1990 = "date=1990-01-15&time=14:30&lat=34.05&lon=-118.24"

_account_numbers = itertools.count(1)

# Every plaintext key the tests receive, so the last test can check that none
# of them was logged or stored.
ISSUED_KEYS: list[str] = []
# Every journal text the tests send to SEDA, for the same check.
AUDITED_TEXTS: list[str] = []
# Every person's name the tests send to the orbit map, for the same check.
MAPPED_PEOPLE: list[str] = []


def start_mesh(
    var: pathlib.Path, gateways: int = 2, telemetry: int = 1, env: dict[str, str] | None = None, redis_url: str | None = None
) -> Mesh:
    """Starts a mesh on free ports, once more on new ports if another process took one in between.

    With redis_url, the mesh uses that Redis instead of starting its own.
    """
    try:
        ports = Ports.free(gateway_workers=gateways, telemetry_workers=telemetry)
        return Mesh(var, ports, redis_url=redis_url, tiers=TEST_TIERS, env=env).start()
    except MeshError:
        ports = Ports.free(gateway_workers=gateways, telemetry_workers=telemetry)
        return Mesh(var, ports, redis_url=redis_url, tiers=TEST_TIERS, env=env).start()


@pytest.fixture(scope="session")
def stripe_api():
    """The fake Stripe API that the session's billing service reads."""
    with StripeFake(api_key=billing_support.STRIPE_API_KEY) as fake:
        yield fake


@pytest.fixture(scope="session")
def mesh(tmp_path_factory, stripe_api):
    """Starts the whole mesh once; every integration test shares it."""
    running = start_mesh(tmp_path_factory.mktemp("var"), env=billing_support.billing_env(stripe_api.url))
    yield running
    running.stop()


@pytest.fixture
def redis_url(tmp_path):
    """A Redis server of its own for one test, on a free port; yields its URL and process."""
    port = free_port()
    server = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            asyncio.run(Store(url).ping())
            break
        except StoreUnavailable:
            time.sleep(0.05)
    yield url, server
    os.kill(server.pid, signal.SIGCONT)
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A real Redis Cluster of three primaries on free ports, started once; every node stops at the end."""
    cluster = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


class AdminClient:
    """The admin API with the mesh's token, recording every plaintext key it receives."""

    def __init__(self, mesh: Mesh):
        self.mesh = mesh
        self.channel = grpc.insecure_channel(mesh.admin_address)
        self.stub = admin_pb2_grpc.KeyAdminServiceStub(self.channel)
        self.metadata = [("authorization", f"Bearer {mesh.admin_token}")]

    def __getattr__(self, method):
        call = getattr(self.stub, method)
        return lambda request: call(request, metadata=self.metadata, timeout=10)

    def new_account(self, tier: str = "pro", mode: str = "live") -> str:
        account_id = f"t{next(_account_numbers)}_{secrets.token_hex(4)}"
        self.CreateAccount(admin_pb2.CreateAccountRequest(account_id=account_id, tier=tier, mode=mode))
        return account_id

    def new_key(self, account_id: str, **fields) -> tuple[str, str]:
        created = self.CreateKey(admin_pb2.CreateKeyRequest(account_id=account_id, **fields))
        ISSUED_KEYS.append(created.plaintext)
        return created.key.key_id, created.plaintext

    def account_with_key(self, tier: str = "pro", mode: str = "live") -> tuple[str, str, str]:
        account_id = self.new_account(tier, mode)
        key_id, key = self.new_key(account_id)
        return account_id, key_id, key

    def used(self, account_id: str) -> int:
        return self.GetUsage(admin_pb2.GetAccountRequest(account_id=account_id)).used


@pytest.fixture(scope="session")
def admin(mesh):
    client = AdminClient(mesh)
    yield client
    client.channel.close()


class Reply:
    """An HTTP response read in full."""

    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def reason(self) -> str:
        """Returns the ErrorInfo reason of an error body."""
        details = self.json()["details"]
        return next(d["reason"] for d in details if d["@type"].endswith("google.rpc.ErrorInfo"))

    def detail(self, type_name: str) -> dict:
        return next(d for d in self.json()["details"] if d["@type"].endswith(type_name))


def http(mesh: Mesh, path: str, headers: dict | None = None, method: str = "GET", body: bytes | None = None) -> Reply:
    """Sends one HTTP/1.1 request to the public listener."""
    request = urllib.request.Request(mesh.public_url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


def eventually(check, seconds: float = 10.0):
    """Retries check() until it returns a truthy value or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def public_channel(mesh):
    channel = grpc.insecure_channel(f"127.0.0.1:{mesh.ports.public}")
    yield channel
    channel.close()


def rich_status(error: grpc.RpcError) -> status_pb2.Status:
    """Returns the google.rpc.Status of a failed call, from grpc-status-details-bin."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            raw = value if isinstance(value, bytes) else base64.b64decode(value + "=" * (-len(value) % 4))
            return status_pb2.Status.FromString(raw)
    raise AssertionError(f"no grpc-status-details-bin in {error.trailing_metadata()}")


def status_detail(status: status_pb2.Status, message_type):
    for any_detail in status.details:
        if any_detail.Is(message_type.DESCRIPTOR):
            detail = message_type()
            any_detail.Unpack(detail)
            return detail
    raise AssertionError(f"no {message_type.DESCRIPTOR.full_name} in {status}")


def error_reason(error: grpc.RpcError) -> str:
    return status_detail(rich_status(error), error_details_pb2.ErrorInfo).reason

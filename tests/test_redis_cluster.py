"""The mesh and the gateway's store on a real Redis Cluster: slots, exact metering, redirects, failures, billing, SEDA.

The metering and key tests of test_metering.py and test_admin.py run on the
cluster as well; these tests cover what only a cluster has.
"""

import asyncio
import base64
import json
import logging
import os
import subprocess
import sys
import time
import uuid

import grpc
import pytest
from envoy.service.auth.v3 import external_auth_pb2_grpc
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import REGISTRY
from redis import exceptions

import billing_support as stripe_events
from conftest import AUDITED_TEXTS, ISSUED_KEYS, LOS_ANGELES_1990, AdminClient, bearer, error_reason, eventually, http
from defrag.keys.v1 import admin_pb2
from defrag.platform import redis_client
from defrag.platform.config import ROOT, ConfigError
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from redis_cluster import SLOT_COUNT, TEST_TIERS, LocalRedisCluster
from services.billing import ledger
from services.gateway import apikeys, authz, store, tiers
from services.gateway.methods import PUBLIC_METHODS
from services.gateway.pipeline import PipelineError, ScriptError
from test_metering import envoy_check_request

pytestmark = pytest.mark.integration

VECTORS = "/v1/telemetry/vectors?" + LOS_ANGELES_1990
REQUEST = telemetry_pb2.GetVectorsRequest(date="1990-01-15", time="14:30", lat=34.05, lon=-118.24)
CALM_TEXT = "Baked bread with my sister and read on the balcony until dark."
SEDA_STREAM = "dfg:seda:audit"


# --- an independent statement of the key-to-slot rule ----------------------------------


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM, bit by bit: polynomial 0x1021, initial value 0, no reflection, no final XOR.

    The Redis Cluster specification names this variant and gives its check
    value: "123456789" -> 0x31C3.
    """
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def hash_slot(key: str) -> int:
    """Return the key's slot: CRC16 of the hash tag, the text between the first { and the next }, if not empty."""
    data = key.encode()
    start = data.find(b"{")
    if start != -1:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return crc16_xmodem(data) % SLOT_COUNT


def account_keys(account_id: str) -> list[str]:
    """Return every Redis key of one account: the gateway's and billing's."""
    return [
        store.account_key(account_id),
        store.key_record(account_id, "key_abc"),
        store.keys_set(account_id),
        store.usage_key(account_id),
        store.burst_key(account_id),
        store.idempotency_key(account_id, "0" * 64),
        store.check_record(account_id, "7680865165873441478"),
        store.refund_marker(account_id, "0" * 32),
        ledger.subscriptions_key(account_id, "live"),
        ledger.subscriptions_key(account_id, "test"),
        ledger.lock_key(account_id),
    ]


def account_on_node(cluster, index: int, prefix: str) -> str:
    """Return a new account id whose slot the node of that index serves."""
    while True:
        account_id = f"{prefix}_{uuid.uuid4().hex[:10]}"
        if cluster.node_of_slot(hash_slot(store.account_key(account_id))) == index:
            return account_id


def key_not_on_node(admin, cluster, account_id: str, index: int) -> tuple[str, str]:
    """Issue keys for the account until one has its hash index on another node than that index."""
    while True:
        key_id, key = admin.new_key(account_id)
        if cluster.node_of_slot(hash_slot(store.hash_index(apikeys.digest(key)))) != index:
            return key_id, key


def node_command(cluster, index: int, *command):
    """Send one command to one node of the cluster, without redirects."""
    with cluster.nodes[index].client() as client:
        return client.execute_command(*command)


def create_account(admin, account_id: str, tier: str) -> str:
    admin.CreateAccount(admin_pb2.CreateAccountRequest(account_id=account_id, tier=tier, mode="live"))
    return account_id


@pytest.fixture(scope="module")
def cluster_admin(cluster_mesh):
    client = AdminClient(cluster_mesh)
    yield client
    client.channel.close()


# --- slots ------------------------------------------------------------------------------


def test_crc16_has_the_specified_check_value():
    assert crc16_xmodem(b"123456789") == 0x31C3


@pytest.mark.parametrize("key", [
    "123456789", "dfg:accounts", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "{user1000}.following",
    "dfg:{cus_Q1w2E3r4T5y6U7}:billing:lock", "dfg:keyhash:" + "ab" * 32, "{", "}{", "ünïcode{ключ}",
])
def test_slot_rule_matches_cluster_keyslot(redis_cluster, key):
    assert hash_slot(key) == redis_cluster.keyslot(key)


def test_account_keys_share_one_slot(redis_cluster):
    account_id = "cus_Q1w2E3r4T5y6U7"
    slot = hash_slot(account_id)

    slots = {key: redis_cluster.keyslot(key) for key in account_keys(account_id)}

    assert slots == {key: slot for key in account_keys(account_id)}


def test_index_keys_live_in_other_slots(redis_cluster):
    account_id = "cus_Q1w2E3r4T5y6U7"
    slot = redis_cluster.keyslot(store.account_key(account_id))
    digest = apikeys.digest("sk_live_" + "A" * 38)
    indexes = [store.hash_index(digest), store.id_index("key_Zx9Yw8Vu7Ts6Rq5Po4Nm"), store.ACCOUNTS,
               ledger.event_key("evt_1Nq2Wq3Eq4"), ledger.UNKNOWN_PRICES, SEDA_STREAM]

    index_slots = {key: redis_cluster.keyslot(key) for key in indexes}

    assert slot not in index_slots.values()
    assert index_slots == {key: hash_slot(key) for key in indexes}


def test_accounts_spread_over_every_primary(redis_cluster, cluster_admin):
    created = [create_account(cluster_admin, account_on_node(redis_cluster, index, "spread"), "pro") for index in range(3)]

    holders = []
    for account_id in created:
        key = store.account_key(account_id)
        # CLUSTER GETKEYSINSLOT lists the keys a node holds, whether or not it serves the slot.
        holders.append([index for index in range(3)
                        if key in node_command(redis_cluster, index, "CLUSTER", "GETKEYSINSLOT", hash_slot(key), 1000)])

    assert holders == [[0], [1], [2]]


# --- metering and keys --------------------------------------------------------------------


def test_concurrent_metering_is_exact_on_every_primary(redis_cluster, cluster_mesh, cluster_admin):
    accounts = [create_account(cluster_admin, account_on_node(redis_cluster, index, "exact"), "hundred") for index in range(3)]
    keys = [cluster_admin.new_key(account_id)[1] for account_id in accounts]

    async def flood():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{cluster_mesh.ports.public}") as channel:
            stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
            calls = [stub.GetVectors(REQUEST, metadata=[("x-api-key", key)], timeout=60) for _ in range(150) for key in keys]
            return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(flood())

    for position, account_id in enumerate(accounts):
        mine = results[position::3]
        admitted = [r for r in mine if not isinstance(r, Exception)]
        rejected = {r.code() for r in mine if isinstance(r, Exception)}
        assert len(admitted) == 100, account_id
        assert rejected == {grpc.StatusCode.RESOURCE_EXHAUSTED}, account_id
        assert cluster_admin.used(account_id) == 100
        assert node_command(redis_cluster, position, "HGET", store.usage_key(account_id), "used") == "100"


def test_tls_path_meters_exactly_on_every_primary(redis_cluster):
    """The hot path that rediss:// URLs take (redis-py's cluster client, no pipelining), on plain TCP."""
    accounts = [account_on_node(redis_cluster, index, "redispy") for index in range(3)]
    table = "hundred 100 100000 1"

    async def scenario():
        gateway = store.Store(redis_cluster.url, cluster=True)
        await gateway.fast.close()
        gateway.fast = None
        try:
            keys = []
            for account_id in accounts:
                await gateway.create_account(account_id, "live", "hundred")
                record, plaintext = await gateway.create_key(account_id, "", None)
                ISSUED_KEYS.append(plaintext)
                keys.append((record["key_id"], apikeys.digest(plaintext)))
            found = [await gateway.find_key(digest) for _, digest in keys]
            calls = [gateway.meter(account_id, key_id, 1, table, None)
                     for _ in range(150) for account_id, (key_id, _) in zip(accounts, keys)]
            decisions = await asyncio.gather(*calls)
            used = [(await gateway.usage(account_id)).used for account_id in accounts]
            return [key_id for key_id, _ in keys], found, decisions, used, set(gateway._clocks)
        finally:
            await gateway.close()

    key_ids, found, decisions, used, clocks = asyncio.run(scenario())

    assert found == list(zip(accounts, key_ids))
    for position in range(3):
        statuses = [decision.status for decision in decisions[position::3]]
        assert statuses.count(200) == 100
        assert statuses.count(429) == 50
    assert used == [100, 100, 100]
    # Each primary's clock is measured on its own.
    assert clocks == {f"127.0.0.1:{node.port}" for node in redis_cluster.nodes}


def check_reason(response) -> str:
    """Return the ErrorInfo reason of a denied gRPC Check, from its grpc-status-details-bin header."""
    for option in response.denied_response.headers:
        if option.header.key == "grpc-status-details-bin":
            raw = option.header.value
            status = status_pb2.Status.FromString(base64.b64decode(raw + "=" * (-len(raw) % 4)))
            info = error_details_pb2.ErrorInfo()
            next(detail for detail in status.details if detail.Unpack(info))
            return info.reason
    raise AssertionError("the denial has no grpc-status-details-bin header")


def test_revoked_key_rejected_on_every_replica(cluster_mesh, cluster_admin):
    _, key_id, key = cluster_admin.account_with_key("pro")
    channels = [grpc.insecure_channel(f"127.0.0.1:{port}") for port in cluster_mesh.ports.gateway]
    stubs = [external_auth_pb2_grpc.AuthorizationStub(channel) for channel in channels]
    try:
        # Each replica looks the key up once and caches the lookup.
        before = [stub.Check(envoy_check_request(key, str(1000 + index)), timeout=2) for index, stub in enumerate(stubs)]

        cluster_admin.RevokeKey(admin_pb2.RevokeKeyRequest(key_id=key_id))
        after = [stub.Check(envoy_check_request(key, str(2000 + index)), timeout=2) for index, stub in enumerate(stubs)]
    finally:
        for channel in channels:
            channel.close()

    assert len(stubs) == 2
    assert [response.status.code for response in before] == [0, 0]
    assert [response.status.code for response in after] == [16, 16]
    assert [check_reason(response) for response in after] == ["API_KEY_REVOKED", "API_KEY_REVOKED"]


def test_hot_path_follows_slot_migrations(redis_cluster):
    account_id = account_on_node(redis_cluster, 0, "moving")
    account_slot = hash_slot(account_id)
    table = "pro 50000 1000 1"
    moving: list[int] = []

    async def scenario():
        gateway = store.Store(redis_cluster.url, cluster=True)
        try:
            await gateway.create_account(account_id, "live", "pro")
            while True:
                record, plaintext = await gateway.create_key(account_id, "", None)
                ISSUED_KEYS.append(plaintext)
                index_slot = hash_slot(store.hash_index(apikeys.digest(plaintext)))
                if redis_cluster.node_of_slot(index_slot) == 0 and index_slot != account_slot:
                    break
            first = await gateway.meter(account_id, record["key_id"], 1, table, None)
            for slot in (account_slot, index_slot):
                moving.append(slot)
                redis_cluster.begin_slot_migration(slot, 0, 1)
            # The source node replies ASK for keys that moved already. A
            # script with several keys, some of which do not exist, gets
            # TRYAGAIN from the target until the migration ends.
            found = await gateway.find_key(apikeys.digest(plaintext))
            with pytest.raises(store.StoreUnavailable) as during:
                await gateway.meter(account_id, record["key_id"], 1, table, None)
            for slot in (account_slot, index_slot):
                redis_cluster.finish_slot_migration(slot, 1)
            # The source node replies MOVED, and the gateway's slot map is stale.
            moved = await gateway.meter(account_id, record["key_id"], 1, table, None)
            usage = await gateway.usage(account_id)
            node = gateway.fast.node_of(store.account_key(account_id))
            return record["key_id"], found, during.value, [first, moved], usage.used, node
        finally:
            await gateway.close()

    try:
        key_id, found, rejection, decisions, used, node = asyncio.run(scenario())
    finally:
        for slot in moving:
            redis_cluster.restore_slot(slot, home=0)

    assert found == (account_id, key_id)
    assert str(rejection).startswith("TRYAGAIN")
    # The target of the migration replies TRYAGAIN, and the gateway's log line names it.
    assert rejection.node == f"127.0.0.1:{redis_cluster.nodes[1].port}"
    assert [decision.status for decision in decisions] == [200, 200]
    assert used == 2
    assert node == f"127.0.0.1:{redis_cluster.nodes[1].port}"


# --- billing and SEDA -----------------------------------------------------------------------


def test_billing_webhook_applies_on_the_cluster(redis_cluster, cluster_mesh, cluster_admin):
    customer, subscription_id = stripe_events.new_ids()
    subscription = stripe_events.subscription(stripe_events.NEW_SHAPE, customer, subscription_id)
    created = stripe_events.subscription_event("customer.subscription.created", stripe_events.NEW_SHAPE, subscription)

    reply = stripe_events.deliver(cluster_mesh, created)

    assert reply.status == 200, reply.body
    assert reply.json()["outcome"] == "applied"
    assert cluster_admin.GetAccount(admin_pb2.GetAccountRequest(account_id=customer)).tier == "pro"
    owner = redis_cluster.node_of_slot(hash_slot(customer))
    assert node_command(redis_cluster, owner, "EXISTS", store.account_key(customer)) == 1
    assert node_command(redis_cluster, owner, "HEXISTS", ledger.subscriptions_key(customer, "test"), subscription_id) == 1
    _, key = cluster_admin.new_key(customer)
    canceled = stripe_events.subscription(stripe_events.NEW_SHAPE, customer, subscription_id, status="canceled")
    deleted = stripe_events.subscription_event("customer.subscription.deleted", stripe_events.NEW_SHAPE, canceled,
                                               created=int(time.time()) + 1)
    assert stripe_events.deliver(cluster_mesh, deleted).json()["outcome"] == "applied"
    assert http(cluster_mesh, VECTORS, bearer(key)).reason() == "API_KEY_REVOKED"


def test_seda_audit_is_written_on_the_cluster(redis_cluster, cluster_mesh, cluster_admin):
    _, _, key = cluster_admin.account_with_key("pro")
    request_id = str(uuid.uuid4())
    AUDITED_TEXTS.append(CALM_TEXT)

    reply = http(cluster_mesh, "/v1/seda/audit", {**bearer(key), "Content-Type": "application/json", "x-request-id": request_id},
                 "POST", json.dumps({"journal_text": CALM_TEXT}).encode())

    assert reply.status == 200, reply.body
    assert reply.json()["audit_logged"] is True
    owner = redis_cluster.node_of_slot(hash_slot(SEDA_STREAM))
    with redis_cluster.nodes[owner].client() as client:
        entries = [fields for _, fields in client.xrevrange(SEDA_STREAM, count=50)]
    assert request_id in [fields["request_id"] for fields in entries]


@pytest.mark.parametrize("error", [
    exceptions.ClusterDownError("The cluster is down"),
    exceptions.MasterDownError("Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
    exceptions.TryAgainError("Multiple keys request during rehashing of slot"),
    exceptions.ClusterError("TTL exhausted."),
    exceptions.SlotNotCoveredError('Slot "1" is not covered by the cluster.'),
    exceptions.RedisClusterUnreachableError("Redis Cluster cannot be connected."),
    exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:7000."),
    exceptions.TimeoutError("Timeout reading from 127.0.0.1:7000"),
    ScriptError("CLUSTERDOWN The cluster is down"),
    ScriptError("TRYAGAIN Multiple keys request during rehashing of slot"),
    ScriptError("MOVED 3999 127.0.0.1:7001"),
    ScriptError("ASK 3999 127.0.0.1:7001"),
    PipelineError("Redis did not respond within 0.5 s"),
], ids=lambda error: f"{type(error).__name__}-{str(error).split()[0]}")
def test_cluster_errors_become_store_unavailable(error):
    async def failing():
        raise error

    async def scenario():
        gateway = store.Store("redis://127.0.0.1:1", cluster=True)
        try:
            await gateway._call(failing())
        finally:
            await gateway.close()

    with pytest.raises(store.StoreUnavailable):
        asyncio.run(scenario())


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("", False), ("false", False), ("true", True), ("TRUE", True), (" false ", False)])
def test_cluster_setting_values(monkeypatch, value, expected):
    monkeypatch.setenv("REDIS_CLUSTER", value)

    assert redis_client.cluster_enabled() is expected


def test_cluster_setting_rejects_other_values(monkeypatch):
    monkeypatch.setenv("REDIS_CLUSTER", "yes")

    with pytest.raises(ConfigError) as raised:
        redis_client.cluster_enabled()

    message = str(raised.value)
    assert "REDIS_CLUSTER='yes'" in message
    assert "true" in message
    assert "false" in message


def test_cluster_client_takes_rediss_urls():
    client = redis_client.connect("rediss://user:secret@127.0.0.1:7000", True, decode_responses=True)

    assert client.connection_kwargs["connection_class"].__name__ == "SSLConnection"
    assert client.startup_nodes[0].port == 7000


def test_cluster_url_with_database_rejected():
    with pytest.raises(ConfigError) as raised:
        redis_client.connect("redis://:secret@127.0.0.1:7000/2", True)

    assert "database number" in str(raised.value)
    assert "secret" not in str(raised.value)


@pytest.mark.parametrize("service", ["gateway", "billing", "seda"])
def test_service_exits_on_an_invalid_cluster_setting(service):
    env = dict(os.environ, REDIS_URL="redis://127.0.0.1:1", REDIS_CLUSTER="maybe", DEFRAG_ADMIN_TOKEN="t" * 32,
               SEDA_AUDIT_HMAC_SECRET="s" * 32, PYTHONPATH=str(ROOT))

    result = subprocess.run([sys.executable, "-m", f"services.{service}"], capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=60)

    assert result.returncode == 2
    assert "REDIS_CLUSTER='maybe' is invalid" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# --- a node fails ---------------------------------------------------------------------------


def grpc_call(mesh, key: str):
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.public}") as channel:
        return telemetry_pb2_grpc.TelemetryServiceStub(channel).GetVectors(REQUEST, metadata=[("x-api-key", key)], timeout=10)


def test_stopped_node_fails_only_its_accounts(redis_cluster, cluster_mesh, cluster_admin):
    stopped, healthy = 2, 0
    lost = create_account(cluster_admin, account_on_node(redis_cluster, stopped, "lost"), "pro")
    kept = create_account(cluster_admin, account_on_node(redis_cluster, healthy, "kept"), "pro")
    _, lost_key = key_not_on_node(cluster_admin, redis_cluster, lost, stopped)
    _, kept_key = key_not_on_node(cluster_admin, redis_cluster, kept, stopped)
    assert http(cluster_mesh, VECTORS, bearer(lost_key)).status == 200
    assert http(cluster_mesh, VECTORS, bearer(kept_key)).status == 200

    redis_cluster.stop_node(stopped)
    try:
        # The healthy node loses its cached scripts, so the gateway must load
        # them there again while another primary is down.
        node_command(redis_cluster, healthy, "SCRIPT", "FLUSH")
        started = time.monotonic()
        rejected = http(cluster_mesh, VECTORS, bearer(lost_key))
        elapsed = time.monotonic() - started
        with pytest.raises(grpc.RpcError) as raised:
            grpc_call(cluster_mesh, lost_key)
        served = [http(cluster_mesh, VECTORS, bearer(kept_key)).status for _ in range(6)]
    finally:
        redis_cluster.restart_node(stopped)

    assert rejected.status == 503
    assert rejected.reason() == "REDIS_UNAVAILABLE"
    assert rejected.headers["retry-after"] == "1"
    assert elapsed < 5
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_reason(raised.value) == "REDIS_UNAVAILABLE"
    assert served == [200] * 6
    assert eventually(lambda: http(cluster_mesh, VECTORS, bearer(lost_key)).status == 200, 15.0)
    # The rejected calls charged nothing, and the append-only file kept the first call.
    assert cluster_admin.used(lost) == 2
    assert cluster_admin.used(kept) == 7


@pytest.fixture
def cluster_with_replica(tmp_path):
    """A cluster of its own whose first primary has a replica, and a short node timeout."""
    cluster = LocalRedisCluster(tmp_path, node_timeout_ms=1000).start()
    try:
        cluster.add_replica(0)
        yield cluster
    finally:
        cluster.stop()


def test_metering_resumes_after_a_failover(cluster_with_replica):
    cluster = cluster_with_replica
    account_id = account_on_node(cluster, 0, "failover")
    table = "pro 50000 1000 1"

    async def scenario():
        gateway = store.Store(cluster.url, cluster=True)
        try:
            await gateway.create_account(account_id, "live", "pro")
            record, plaintext = await gateway.create_key(account_id, "", None)
            ISSUED_KEYS.append(plaintext)
            before = [await gateway.meter(account_id, record["key_id"], 1, table, None) for _ in range(3)]
            # The replica has every write before the primary stops, so none is lost.
            assert node_command(cluster, 0, "WAIT", 1, 2000) == 1
            cluster.stop_node(0)
            started = time.monotonic()
            rejected = 0
            while True:
                try:
                    after = await gateway.meter(account_id, record["key_id"], 1, table, None)
                    break
                except store.StoreUnavailable:
                    rejected += 1
                    assert time.monotonic() - started < 20, "no replica took over within 20 s"
                    await asyncio.sleep(0.1)
            usage = await gateway.usage(account_id)
            return before, after, rejected, usage.used, gateway.fast.node_of(store.account_key(account_id))
        finally:
            await gateway.close()

    before, after, rejected, used, node = asyncio.run(scenario())

    assert [decision.status for decision in before] == [200, 200, 200]
    assert after.status == 200
    assert rejected >= 1
    assert used == 4
    assert node == f"127.0.0.1:{cluster.nodes[3].port}"


# Bound on the time from a replica's election (as another primary's CLUSTER
# SLOTS shows it) to the gateway's first admission on the new primary: the
# gateway reads the slot map at most once per second (REFRESH_PAUSE_SECONDS)
# and queries the stalled node last, so one pause, one refresh and one decision.
ADMITTED_AFTER_ELECTION_SECONDS = 2.0
# cluster-node-timeout of the hang test; the election follows in about two of these.
HANG_NODE_TIMEOUT_MS = 1000


@pytest.fixture
def cluster_with_replicas(tmp_path):
    """A cluster of its own with one replica per primary and a short node timeout; stop() resumes paused nodes."""
    cluster = LocalRedisCluster(tmp_path, node_timeout_ms=HANG_NODE_TIMEOUT_MS).start()
    try:
        for primary in range(3):
            cluster.add_replica(primary)
        yield cluster
    finally:
        cluster.stop()


def decision_status(response) -> str:
    """Return "allowed", or the ErrorInfo reason of a denied Check."""
    return "allowed" if response.status.code == 0 else check_reason(response)


def test_gateway_follows_failover_of_a_hung_primary(cluster_with_replicas, caplog):
    cluster = cluster_with_replicas
    hung = 0
    hung_port = cluster.nodes[hung].port
    account_id = account_on_node(cluster, hung, "hung")
    account_slot = hash_slot(account_id)
    plans = tiers.load(TEST_TIERS, known_methods=set(PUBLIC_METHODS))
    timeouts_before = REGISTRY.get_sample_value(
        "defrag_gateway_redis_errors_total", {"operation": "meter", "reason": "timeout"}) or 0.0
    stream_ids = iter(range(5000, 10_000))

    async def scenario():
        gateway = store.Store(cluster.url, cluster=True)
        servicer = authz.AuthorizationServicer(gateway, plans)

        async def check(key: str) -> str:
            return decision_status(await servicer.Check(envoy_check_request(key, str(next(stream_ids))), None))

        try:
            await gateway.create_account(account_id, "live", "pro")
            _, key = await gateway.create_key(account_id, "", None)
            ISSUED_KEYS.append(key)
            before = [await check(key) for _ in range(3)]
            # The replica has every charge before the primary hangs, so none is lost.
            assert node_command(cluster, hung, "WAIT", 1, 2000) == 1

            cluster.pause_node(hung)
            paused_at = time.monotonic()
            elected_at = None
            during = []
            try:
                while True:
                    status = await check(key)
                    now = time.monotonic()
                    if elected_at is None and cluster.primary_port_of_slot(account_slot, viewer=1) not in (hung_port, None):
                        elected_at = now
                    if status == "allowed":
                        break
                    during.append(status)
                    assert now - paused_at < 30, "the gateway did not admit a call within 30 s of the pause"
                    await asyncio.sleep(0.1)
                admitted_at = time.monotonic()
                new_primary = gateway.fast.node_of(store.account_key(account_id))
            finally:
                cluster.resume_node(hung)
            # The resumed node rejoins as a replica; the calls it held run after their deadline.
            await asyncio.to_thread(cluster.wait_until_agreed)
            usage = await gateway.usage(account_id)
            return before, during, paused_at, elected_at, admitted_at, new_primary, usage.used
        finally:
            await gateway.close()

    with caplog.at_level(logging.WARNING, logger="gateway.authz"):
        before, during, paused_at, elected_at, admitted_at, new_primary, used = asyncio.run(scenario())

    assert before == ["allowed"] * 3
    assert during and set(during) == {"REDIS_UNAVAILABLE"}
    assert elected_at is not None, "the call was admitted before another primary reported the new one"
    assert admitted_at - elected_at < ADMITTED_AFTER_ELECTION_SECONDS
    assert new_primary == f"127.0.0.1:{cluster.nodes[hung + 3].port}"
    # Three admissions before the pause and one after it; no refused call was charged.
    assert used == 4
    warnings = [record for record in caplog.records if record.getMessage() == "redis unavailable"]
    assert {record.redis_node for record in warnings} == {f"127.0.0.1:{hung_port}"}
    # At most one line per node per second.
    assert len(warnings) <= admitted_at - paused_at + 1
    # Each line counts the refusals left out since the line before, so the lines account for all but the last few.
    assert sum(record.repeats_not_logged for record in warnings) + len(warnings) <= len(during)
    timeouts = REGISTRY.get_sample_value("defrag_gateway_redis_errors_total", {"operation": "meter", "reason": "timeout"})
    assert timeouts - timeouts_before == len(during)

"""Metering replies that reach the gateway after it returned 503: the charge they show is refunded once.

Each late reply here comes from a real Redis stall. DEBUG SLEEP goes out
right behind the metering script on the same connection, in the same
write. Redis runs one connection's commands in order and writes replies
only between event-loop turns, so it always runs the script, then sleeps,
and only then writes the script's reply. Through the edge, a proxy between
the gateway and Redis adds the DEBUG SLEEP (with CLIENT REPLY SKIP, so the
client sees no extra reply).
"""

import asyncio
import datetime as dt
import json
import logging
import threading
import urllib.request
import uuid

import grpc
import hiredis
import pytest
from prometheus_client import REGISTRY

from conftest import ISSUED_KEYS, AdminClient, error_reason, eventually, start_mesh
from defrag.mesh import free_port
from defrag.platform.redis_client import Script
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from services.gateway import store as store_module
from services.gateway.refunds import ChargeRefunder
from services.gateway.store import FREE_REPLAYS, REFUND_MARKER_TTL_MS, Charge, Store, StoreUnavailable, charge_in_reply

pytestmark = pytest.mark.integration

TABLE = "pro 50000 1000 1"
# How long Redis sleeps right after the script. The store gives up after
# its 0.5 s timeout, or when the caller cancels after 0.3 s, as the
# gateway's decision budget does after about 0.35 s.
STALL_SECONDS = 0.8
CANCEL_AFTER_SECONDS = 0.3
# A fixed instant for the refund script's tests, so that every call of one
# test takes its burst unit in the same second.
NOW_MS = int(dt.datetime(2027, 6, 15, 12, tzinfo=dt.timezone.utc).timestamp() * 1000)
IDEMPOTENCY = ("d" * 64, "/defrag.telemetry.v1.TelemetryService/GetVectors body-hash")


async def new_account(store: Store) -> tuple[str, str]:
    """Creates a pro account with one key on the store's Redis; returns (account_id, key_id)."""
    account_id = f"late_{uuid.uuid4().hex[:10]}"
    await store.create_account(account_id, "live", "pro")
    record, plaintext = await store.create_key(account_id, "", None)
    ISSUED_KEYS.append(plaintext)
    return account_id, record["key_id"]


async def records(store: Store, account_id: str, charge_id: str = "-", check_id: str = "-") -> dict:
    """Returns every record that meter.lua and refund.lua write for one account."""
    redis = store.redis
    return {
        "usage": await redis.hgetall(store_module.usage_key(account_id)),
        "burst": await redis.hgetall(store_module.burst_key(account_id)),
        "idempotency": await redis.get(store_module.idempotency_key(account_id, IDEMPOTENCY[0])),
        "check": await redis.get(store_module.check_record(account_id, check_id)),
        "refund_marker": await redis.get(store_module.refund_marker(account_id, charge_id)),
    }


# --- refund.lua ----------------------------------------------------------------------------


def on_new_account(url: str, steps, **store_options):
    """Runs steps(store, account_id, key_id) for a new account on the Redis at url, and returns its result."""

    async def scenario():
        store = Store(url, **store_options)
        try:
            account_id, key_id = await new_account(store)
            return await steps(store, account_id, key_id)
        finally:
            await store.close()

    return asyncio.run(scenario())


async def charge(
    store: Store, account_id: str, key_id: str, cost: int = 1, *, idempotency=None, check_id=None,
    now_ms: int = NOW_MS, wrote_record: bool | None = None,
) -> Charge:
    """Runs a metering call that charges, and returns the Charge that a late reply of it would show."""
    decision = await store.meter(account_id, key_id, cost, TABLE, idempotency, now_ms, check_id=check_id)
    assert decision.status == 200
    assert decision.reason == "OK"
    assert not decision.replayed
    # The burst hash lives 2 s; a busy machine must not let it expire between the steps of a test.
    await store.redis.persist(store_module.burst_key(account_id))
    if wrote_record is None:
        wrote_record = idempotency is not None
    return Charge(
        account_id=account_id,
        # The id that meter.lua stored in the check record.
        charge_id=decision.charge.charge_id,
        cost=cost,
        window_start=decision.window_start,
        window_end=decision.window_end,
        second=now_ms // 1000,
        idempotency_digest=idempotency[0] if idempotency else "-",
        idempotency_record=f"{idempotency[1]}#0" if wrote_record else "",
        check_id=check_id,
    )


def test_refund_undoes_exactly_the_charge(redis_url):
    async def steps(store, account_id, key_id):
        await charge(store, account_id, key_id)
        before = await records(store, account_id)
        late = await charge(store, account_id, key_id, 3, idempotency=IDEMPOTENCY, check_id="check-1")
        charged = await records(store, account_id, check_id="check-1")
        outcome = await store.refund(late, now_ms=NOW_MS + 900)
        after = await records(store, account_id, late.charge_id, "check-1")
        ttl = await store.redis.pttl(store_module.refund_marker(account_id, late.charge_id))
        return late, before, charged, outcome, after, ttl

    late, before, charged, outcome, after, ttl = on_new_account(redis_url[0], steps)
    idempotency_record = store_module.idempotency_key(late.account_id, IDEMPOTENCY[0])

    assert charged["usage"]["used"] == "4"
    assert charged["burst"]["count"] == "2"
    assert charged["idempotency"] == IDEMPOTENCY[1] + "#0"
    assert charged["check"] == f"{late.charge_id} 3 {late.window_start} {late.window_end} {NOW_MS // 1000} {idempotency_record}"
    assert outcome == "REFUNDED"
    assert after["usage"] == before["usage"]
    assert after["burst"] == before["burst"]
    assert after["idempotency"] is None
    assert after["check"] is None
    assert after["refund_marker"] == "1"
    assert 0 < ttl <= REFUND_MARKER_TTL_MS


def test_refund_twice_changes_nothing(redis_url):
    async def steps(store, account_id, key_id):
        late = await charge(store, account_id, key_id, 2, idempotency=IDEMPOTENCY, check_id="check-1")
        first = await store.refund(late, now_ms=NOW_MS)
        once = await records(store, account_id, late.charge_id, "check-1")
        second = await store.refund(late, now_ms=NOW_MS)
        twice = await records(store, account_id, late.charge_id, "check-1")
        return first, once, second, twice

    first, once, second, twice = on_new_account(redis_url[0], steps)

    assert first == "REFUNDED"
    assert once["usage"]["used"] == "0"
    assert second == "ALREADY_REFUNDED"
    assert twice == once


def test_refund_after_window_rollover_changes_nothing(redis_url):
    end_of_june = int(dt.datetime(2027, 6, 30, 23, 59, 59, tzinfo=dt.timezone.utc).timestamp() * 1000)
    first_of_july = int(dt.datetime(2027, 7, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)

    async def steps(store, account_id, key_id):
        late = await charge(store, account_id, key_id, 2, idempotency=IDEMPOTENCY, now_ms=end_of_june)
        await charge(store, account_id, key_id, now_ms=first_of_july)
        before = await records(store, account_id)
        outcome = await store.refund(late, now_ms=first_of_july + 500)
        return before, outcome, await records(store, account_id, late.charge_id)

    before, outcome, after = on_new_account(redis_url[0], steps)

    assert before["usage"]["previous_used"] == "2"
    assert before["usage"]["used"] == "1"
    assert outcome == "WINDOW_ENDED"
    assert after == before


def test_refund_after_window_end_changes_nothing(redis_url):
    async def steps(store, account_id, key_id):
        late = await charge(store, account_id, key_id, 2)
        before = await records(store, account_id)
        outcome = await store.refund(late, now_ms=late.window_end * 1000)
        return before, outcome, await records(store, account_id, late.charge_id)

    before, outcome, after = on_new_account(redis_url[0], steps)

    assert outcome == "WINDOW_ENDED"
    assert after == before


def test_refund_after_replay_changes_nothing(redis_url):
    async def steps(store, account_id, key_id):
        late = await charge(store, account_id, key_id, 2, idempotency=IDEMPOTENCY)
        replay = await store.meter(account_id, key_id, 2, TABLE, IDEMPOTENCY, NOW_MS)
        before = await records(store, account_id)
        outcome = await store.refund(late, now_ms=NOW_MS)
        return replay, before, outcome, await records(store, account_id, late.charge_id)

    replay, before, outcome, after = on_new_account(redis_url[0], steps)

    assert replay.replayed
    assert before["idempotency"] == IDEMPOTENCY[1] + "#1"
    assert outcome == "USED_SINCE"
    assert after == before


def test_refund_after_envoy_retry_changes_nothing(redis_url):
    async def steps(store, account_id, key_id):
        late = await charge(store, account_id, key_id, 2, check_id="check-1")
        retry = await store.meter(account_id, key_id, 2, TABLE, None, NOW_MS, check_id="check-1")
        before = await records(store, account_id, check_id="check-1")
        outcome = await store.refund(late, now_ms=NOW_MS)
        return retry, before, outcome, await records(store, account_id, late.charge_id, "check-1")

    retry, before, outcome, after = on_new_account(redis_url[0], steps)

    assert retry.reason == "RETRY"
    assert before["check"] == "retried"
    assert outcome == "USED_SINCE"
    assert after == before


def test_refund_keeps_an_earlier_idempotency_record(redis_url):
    """A replay past the free ones is charged without rewriting the record, so its refund leaves the record."""

    async def steps(store, account_id, key_id):
        for _ in range(1 + FREE_REPLAYS):
            await store.meter(account_id, key_id, 1, TABLE, IDEMPOTENCY, NOW_MS)
        late = await charge(store, account_id, key_id, idempotency=IDEMPOTENCY, wrote_record=False)
        before = await records(store, account_id)
        outcome = await store.refund(late, now_ms=NOW_MS)
        return before, outcome, await records(store, account_id, late.charge_id)

    before, outcome, after = on_new_account(redis_url[0], steps)

    assert before["usage"]["used"] == "2"
    assert outcome == "REFUNDED"
    assert after["usage"]["used"] == "1"
    assert after["idempotency"] == before["idempotency"] == f"{IDEMPOTENCY[1]}#{FREE_REPLAYS}"


def meter_reply(status=200, reason="OK", replayed=0, recorded=1) -> list:
    """A reply of meter.lua, as the pipelined client reads it."""
    return [status, reason, "pro", 50000, 7, 1_800_000_000, 1_802_678_400, 50, 1, 0, replayed, recorded]


@pytest.mark.parametrize(
    "reply, cost",
    [
        (meter_reply(replayed=1, recorded=0), 1),
        (meter_reply(reason="RETRY", replayed=1, recorded=0), 1),
        (meter_reply(), 0),
        (meter_reply(status=429, reason="MONTHLY_QUOTA_EXCEEDED", recorded=0), 1),
        (meter_reply(status=503, reason="DEADLINE_EXCEEDED", recorded=0), 1),
        (hiredis.ReplyError("BUSY Redis is busy running a script"), 1),
        (meter_reply()[:11], 1),
    ],
    ids=["replayed", "envoy-retry", "free", "denied", "past-deadline", "error-reply", "old-shape"],
)
def test_charge_in_reply_ignores_uncharged_replies(reply, cost):
    assert charge_in_reply(reply, "acct", cost, NOW_MS, IDEMPOTENCY, "check-1", "a" * 32) is None


def test_charge_in_reply_describes_the_charge():
    found = charge_in_reply(meter_reply(), "acct", 3, NOW_MS + 250, IDEMPOTENCY, "check-1", "a" * 32)
    without_record = charge_in_reply(meter_reply(recorded=0), "acct", 3, NOW_MS, IDEMPOTENCY, None, "b" * 32)

    assert found.account_id == "acct"
    assert found.cost == 3
    assert (found.window_start, found.window_end) == (1_800_000_000, 1_802_678_400)
    assert found.second == NOW_MS // 1000
    assert found.idempotency_digest == IDEMPOTENCY[0]
    assert found.idempotency_record == IDEMPOTENCY[1] + "#0"
    assert found.check_id == "check-1"
    assert without_record.idempotency_record == ""
    assert without_record.check_id is None
    assert found.charge_id == "a" * 32
    assert without_record.charge_id == "b" * 32


# --- late replies on the pipelined client ----------------------------------------------------------


@pytest.fixture(params=["single", "cluster"])
def store_target(request) -> tuple[str, bool]:
    """A Redis to meter on: (url, cluster), on one server of the test's own and on the session's Redis Cluster."""
    if request.param == "single":
        return request.getfixturevalue("redis_url")[0], False
    return request.getfixturevalue("redis_cluster").url, True


async def meter_then_stall(store: Store, account_id: str, key_id: str, give_up: str, **options) -> BaseException | None:
    """Meters one call while Redis sleeps right after the script; returns the error that the call ended with.

    The metering task sends its script in its first step, because the Redis
    clock offset and the connection are ready, and the DEBUG SLEEP task runs
    right behind it, before the connection's write, so both leave in one
    write. give_up is "timeout" (the pipeline's timeout fails the call) or
    "cancel" (the caller cancels it, as the gateway's decision budget does).
    """
    call = asyncio.ensure_future(store.meter(account_id, key_id, options.pop("cost", 1), TABLE, **options))
    stall = asyncio.ensure_future(
        store.fast.execute("DEBUG", "SLEEP", STALL_SECONDS, key=store_module.account_key(account_id))
    )
    failure = None
    try:
        if give_up == "cancel":
            await asyncio.wait_for(call, CANCEL_AFTER_SECONDS)
        else:
            await call
    except (StoreUnavailable, TimeoutError) as error:
        failure = error
    await asyncio.gather(stall, return_exceptions=True)
    return failure


def refunded_count(result: str = "refunded") -> float:
    return REGISTRY.get_sample_value("defrag_gateway_late_charge_refunds_total", {"result": result}) or 0.0


@pytest.mark.parametrize("give_up", ["timeout", "cancel"])
def test_late_charge_is_refunded(store_target, give_up):
    url, cluster = store_target

    async def steps(store, account_id, key_id):
        refunder = ChargeRefunder(store)
        charges: list[Charge] = []
        arrived = asyncio.Event()

        def on_late_charge(late: Charge) -> None:
            charges.append(late)
            arrived.set()
            refunder.schedule(late, "request-1")

        await store.meter(account_id, key_id, 1, TABLE, None)
        before = (await store.usage(account_id)).used
        counted = refunded_count()

        failure = await meter_then_stall(
            store, account_id, key_id, give_up, cost=2, idempotency=IDEMPOTENCY, check_id="check-1",
            on_late_charge=on_late_charge,
        )
        await asyncio.wait_for(arrived.wait(), 10)
        await refunder.wait()
        refunded = (await store.usage(account_id)).used
        after = await records(store, account_id, charges[0].charge_id, "check-1")
        retried = await store.meter(account_id, key_id, 2, TABLE, IDEMPOTENCY)
        return failure, charges, before, refunded, after, refunded_count() - counted, retried

    outcome = on_new_account(url, steps, timeout_seconds=0.5, cluster=cluster)
    failure, charges, before, refunded, after, counted, retried = outcome

    assert isinstance(failure, StoreUnavailable if give_up == "timeout" else TimeoutError)
    assert len(charges) == 1
    assert charges[0].cost == 2
    assert charges[0].idempotency_record == IDEMPOTENCY[1] + "#0"
    assert refunded == before
    assert after["idempotency"] is None
    assert after["check"] is None
    assert after["refund_marker"] == "1"
    assert counted == 1
    assert retried.status == 200
    assert not retried.replayed
    assert retried.used == before + 2


def test_late_free_replay_is_not_refunded(redis_url):
    charges: list[Charge] = []

    async def steps(store, account_id, key_id):
        await store.meter(account_id, key_id, 1, TABLE, IDEMPOTENCY)
        failure = await meter_then_stall(
            store, account_id, key_id, "cancel", idempotency=IDEMPOTENCY, on_late_charge=charges.append
        )
        # The replay's reply comes STALL_SECONDS after it was sent.
        await asyncio.sleep(STALL_SECONDS)
        used = (await store.usage(account_id)).used
        return failure, used, await records(store, account_id)

    failure, used, after = on_new_account(redis_url[0], steps, timeout_seconds=0.5)

    assert isinstance(failure, TimeoutError)
    assert charges == []
    assert used == 1
    assert after["idempotency"] == IDEMPOTENCY[1] + "#1"


# --- through the edge ------------------------------------------------------------------------


class StallingProxy:
    """A TCP proxy to Redis that makes Redis stall right after the next run of one script.

    It sends CLIENT REPLY SKIP and DEBUG SLEEP right behind that script's
    EVALSHA in the same write. Redis runs the script, sleeps, and only then
    writes the script's reply; DEBUG SLEEP's own reply is skipped, so the
    client's replies stay in line with its commands. Every other command
    passes unchanged. The proxy runs its own event loop in a thread.
    """

    def __init__(self, redis_port: int, script_sha: str):
        self.redis_port = redis_port
        self.script_sha = script_sha.encode()
        # Set by the test's thread, read and cleared by the proxy's.
        self.stall_seconds: float | None = None
        self.stalled = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> int:
        """Starts the proxy and returns its port."""
        self.thread.start()
        opening = asyncio.start_server(self._link, "127.0.0.1", 0)
        self.server = asyncio.run_coroutine_threadsafe(opening, self.loop).result(10)
        return self.server.sockets[0].getsockname()[1]

    def stall_after_next_run(self, seconds: float) -> None:
        self.stall_seconds = seconds

    async def _link(self, client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.redis_port)

        async def to_redis():
            commands = hiredis.Reader()
            while data := await client_reader.read(65536):
                commands.feed(data)
                out = []
                while (command := commands.gets()) is not False:
                    out.append(hiredis.pack_command(tuple(command)))
                    if self.stall_seconds is not None and command[:2] == [b"EVALSHA", self.script_sha]:
                        out.append(hiredis.pack_command(("CLIENT", "REPLY", "SKIP")))
                        out.append(hiredis.pack_command(("DEBUG", "SLEEP", self.stall_seconds)))
                        self.stall_seconds = None
                        self.stalled.set()
                server_writer.write(b"".join(out))
                await server_writer.drain()
            server_writer.close()

        async def to_client():
            while data := await server_reader.read(65536):
                client_writer.write(data)
                await client_writer.drain()
            client_writer.close()

        await asyncio.gather(to_redis(), to_client(), return_exceptions=True)

    def stop(self) -> None:
        async def close():
            self.server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def stalling_mesh(tmp_path, redis_url):
    """A mesh with one gateway whose Redis connections pass through a StallingProxy."""
    url, _ = redis_url
    proxy = StallingProxy(int(url.rsplit(":", 1)[1].split("/")[0]), Script(store_module._script("meter.lua")).sha)
    port = proxy.start()
    var = tmp_path / "var"
    var.mkdir()
    running = start_mesh(var, gateways=1, env={"REDIS_CLUSTER": "false"}, redis_url=f"redis://127.0.0.1:{port}/0")
    yield running, proxy
    running.stop()
    proxy.stop()


def gateway_sample(mesh, name: str, **labels) -> float:
    """Returns one series of the gateway's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{mesh.ports.gateway_metrics[0]}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    series = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    return next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(series + " "))


def test_late_reply_through_edge_is_refunded(stalling_mesh):
    mesh, proxy = stalling_mesh
    admin = AdminClient(mesh)
    account_id, _, key = admin.account_with_key("pro")
    request = telemetry_pb2.GetVectorsRequest(date="1990-01-15", time="14:30", lat=34.05, lon=-118.24)
    request_id = str(uuid.uuid4())
    metadata = [("x-api-key", key), ("idempotency-key", str(uuid.uuid4()))]

    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.public}") as channel:
        stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
        # The first call caches the key, measures Redis's clock and loads the script.
        stub.GetVectors(request, metadata=[("x-api-key", key)], timeout=30)
        before = admin.used(account_id)

        proxy.stall_after_next_run(STALL_SECONDS)
        with pytest.raises(grpc.RpcError) as raised:
            stub.GetVectors(request, metadata=[*metadata, ("x-request-id", request_id)], timeout=30)
        refunded = eventually(lambda: admin.used(account_id) == before)

        retried = stub.GetVectors(request, metadata=metadata, timeout=30)
        after_retry = admin.used(account_id)
        replayed = stub.GetVectors(request, metadata=metadata, timeout=30)
        after_replay = admin.used(account_id)

    assert proxy.stalled.is_set()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_reason(raised.value) == "REDIS_UNAVAILABLE"
    assert refunded, f"usage stayed at {admin.used(account_id)}, not {before}"
    assert gateway_sample(mesh, "defrag_gateway_late_charge_refunds_total", result="refunded") == 1
    assert len(retried.bodies) == 10
    assert after_retry == before + 1
    assert len(replayed.bodies) == 10
    assert after_replay == before + 1
    log_lines = (mesh.logs / "gateway-0.log").read_text().splitlines()
    refund_lines = [json.loads(line) for line in log_lines if '"late charge refunded"' in line]
    assert [(line["request_id"], line["account_id"]) for line in refund_lines] == [(request_id, account_id)]
    assert set(refund_lines[0]) == {"time", "level", "service", "message", "request_id", "account_id"}
    assert refund_lines[0]["level"] == "info"
    assert not [line for line in log_lines if key in line]


def test_failed_refund_is_counted_and_logged(caplog):
    late = Charge("acct_gone", "charge-1", 1, 0, 1, 0, "-", "", None)

    async def scenario():
        # Nothing listens on a free port, so every attempt fails to connect.
        store = Store(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.2)
        refunder = ChargeRefunder(store, attempts=2, pause_seconds=0.01)
        try:
            refunder.schedule(late, "request-2")
            await refunder.wait()
        finally:
            await store.close()

    failed = refunded_count("failed")
    with caplog.at_level(logging.INFO, logger="gateway.refunds"):
        asyncio.run(scenario())

    logged = [record for record in caplog.records if record.name == "gateway.refunds"]
    assert refunded_count("failed") == failed + 1
    assert [record.levelname for record in logged] == ["WARNING"]
    assert logged[0].request_id == "request-2"
    assert logged[0].account_id == "acct_gone"
    assert logged[0].attempts == 2
    assert "cannot connect" in logged[0].error

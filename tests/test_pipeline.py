"""The gateway's pipelined Redis client against a real Redis that is frozen and resumed."""

import asyncio
import os
import signal
import time

import pytest

from services.gateway.store import Store, StoreUnavailable

pytestmark = pytest.mark.integration

TABLE = "pro 50000 1000 1"


async def new_key(store: Store) -> tuple[str, str]:
    await store.create_account("acct_pipeline", "live", "pro")
    record, _ = await store.create_key("acct_pipeline", "", None)
    return "acct_pipeline", record["key_id"]


def test_call_is_charged_only_when_admitted(redis_url):
    """A metering call queued behind an older one on a frozen Redis: 503 and no charge, or 200 and one."""
    url, server = redis_url

    async def scenario():
        store = Store(url, timeout_seconds=0.5)
        account_id, key_id = await new_key(store)
        await store.meter(account_id, key_id, 1, TABLE, None)

        os.kill(server.pid, signal.SIGSTOP)
        older = asyncio.ensure_future(store.find_key("0" * 64))
        await asyncio.sleep(0.35)
        metered = asyncio.ensure_future(store.meter(account_id, key_id, 1, TABLE, None))
        await asyncio.sleep(0.3)
        os.kill(server.pid, signal.SIGCONT)
        results = await asyncio.gather(older, metered, return_exceptions=True)
        await asyncio.sleep(0.2)
        used = (await store.usage(account_id)).used
        await store.close()
        return results[1], used

    outcome, used = asyncio.run(scenario())

    if isinstance(outcome, StoreUnavailable):
        assert used == 1
    else:
        assert outcome.status == 200
        assert used == 2


def test_late_scripts_never_charge(redis_url):
    """Every call made while Redis is frozen fails; none is charged when Redis resumes."""
    url, server = redis_url

    async def scenario():
        store = Store(url, timeout_seconds=0.3)
        account_id, key_id = await new_key(store)
        await store.meter(account_id, key_id, 1, TABLE, None)

        os.kill(server.pid, signal.SIGSTOP)
        calls = [asyncio.ensure_future(store.meter(account_id, key_id, 1, TABLE, None)) for _ in range(20)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        os.kill(server.pid, signal.SIGCONT)
        await asyncio.sleep(0.5)
        after = await store.meter(account_id, key_id, 1, TABLE, None)
        used = (await store.usage(account_id)).used
        await store.close()
        return results, after, used

    results, after, used = asyncio.run(scenario())

    assert all(isinstance(r, StoreUnavailable) for r in results)
    assert after.status == 200
    assert used == 2


class BlackholeProxy:
    """A TCP proxy to Redis that can silently stop forwarding on every connection open so far."""

    def __init__(self, redis_port: int):
        self.redis_port = redis_port
        self.links: list[dict] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _link(self, client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.redis_port)
        link = {"dead": False}
        self.links.append(link)

        async def pump(reader, writer):
            while data := await reader.read(65536):
                if not link["dead"]:
                    writer.write(data)
                    await writer.drain()

        await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer), return_exceptions=True)

    def blackhole_existing(self) -> None:
        for link in self.links:
            link["dead"] = True

    async def stop(self) -> None:
        self.server.close()


def test_silently_dead_connection_is_replaced_under_traffic(redis_url):
    url, _ = redis_url
    redis_port = int(url.rsplit(":", 1)[1].split("/")[0])

    async def scenario():
        proxy = BlackholeProxy(redis_port)
        port = await proxy.start()
        store = Store(f"redis://127.0.0.1:{port}/0", timeout_seconds=0.2)
        account_id, key_id = await new_key(store)
        await store.meter(account_id, key_id, 1, TABLE, None)

        proxy.blackhole_existing()
        outcomes = []
        started = time.monotonic()
        while time.monotonic() - started < 3.0:
            call = asyncio.ensure_future(store.meter(account_id, key_id, 1, TABLE, None))
            await asyncio.sleep(0.05)
            outcomes.append(call)
        results = await asyncio.gather(*outcomes, return_exceptions=True)
        await store.close()
        await proxy.stop()
        return results

    results = asyncio.run(scenario())

    # Calls fail while the dead connection is detected (four timeouts), then
    # succeed again on a new one, although calls never stopped coming.
    assert isinstance(results[0], StoreUnavailable)
    assert not isinstance(results[-1], Exception)
    assert results[-1].status == 200

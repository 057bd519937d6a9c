"""Monthly quota windows: the Lua arithmetic against Python's calendar, and rollover in the real script."""

import asyncio
import calendar
import datetime as dt
import random
import time

import pytest
import redis

from services.gateway import store as store_module
from services.gateway.store import Store

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc


def expected_window(now: dt.datetime, anchor_day: int, anchor_second: int) -> tuple[int, int]:
    """An independent statement of the rule: the anchor day of each month, clamped to its last day."""

    def start_in(year: int, month: int) -> dt.datetime:
        day = min(anchor_day, calendar.monthrange(year, month)[1])
        return dt.datetime(year, month, day, tzinfo=UTC) + dt.timedelta(seconds=anchor_second)

    def shift(year: int, month: int, months: int) -> tuple[int, int]:
        index = year * 12 + month - 1 + months
        return index // 12, index % 12 + 1

    year, month = now.year, now.month
    start = start_in(year, month)
    if now < start:
        year, month = shift(year, month, -1)
        start = start_in(year, month)
    return int(start.timestamp()), int(start_in(*shift(year, month, 1)).timestamp())


@pytest.fixture(scope="module")
def window_script(mesh):
    client = redis.Redis.from_url(mesh.redis_url)
    source = (store_module.LUA / "window.lua").read_text()
    script = client.register_script(source + "\nreturn {monthly_window(tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))}")
    yield lambda now, day, second: tuple(script(args=[now, day, second]))
    client.close()


@pytest.mark.parametrize(
    "now, anchor_day, expected",
    [
        ("2027-02-15T12:00:00", 31, ("2027-01-31T00:00:00", "2027-02-28T00:00:00")),
        ("2027-02-28T00:00:00", 31, ("2027-02-28T00:00:00", "2027-03-31T00:00:00")),
        ("2028-02-29T09:00:00", 31, ("2028-02-29T00:00:00", "2028-03-31T00:00:00")),
        ("2027-04-30T23:59:59", 31, ("2027-04-30T00:00:00", "2027-05-31T00:00:00")),
        ("2026-12-31T23:59:59", 1, ("2026-12-01T00:00:00", "2027-01-01T00:00:00")),
        ("2027-01-01T00:00:00", 1, ("2027-01-01T00:00:00", "2027-02-01T00:00:00")),
        ("2027-03-30T00:00:00", 30, ("2027-03-30T00:00:00", "2027-04-30T00:00:00")),
    ],
)
def test_window_of_hand_checked_dates(window_script, now, anchor_day, expected):
    moment = int(dt.datetime.fromisoformat(now).replace(tzinfo=UTC).timestamp())
    start, end = (int(dt.datetime.fromisoformat(e).replace(tzinfo=UTC).timestamp()) for e in expected)

    assert window_script(moment, anchor_day, 0) == (start, end)


def test_window_matches_the_calendar_on_random_dates(window_script):
    rng = random.Random(20261204)
    for _ in range(400):
        now = dt.datetime(1995, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=rng.randrange(0, 80 * 365 * 86400))
        anchor_day, anchor_second = rng.randint(1, 31), rng.randrange(0, 86400)

        assert window_script(int(now.timestamp()), anchor_day, anchor_second) == expected_window(now, anchor_day, anchor_second)


def run(coroutine):
    return asyncio.run(coroutine)


def test_period_from_31st_rolls_over(mesh, admin):
    from defrag.keys.v1 import admin_pb2

    account_id, key_id, _ = admin.account_with_key("tiny")
    admin.UpdateAccount(admin_pb2.UpdateAccountRequest(
        account_id=account_id, period_start="2027-01-31T10:00:00Z", period_end="2028-01-31T10:00:00Z",
    ))
    before = int(dt.datetime(2027, 2, 28, 9, 59, 59, tzinfo=UTC).timestamp() * 1000)
    after = int(dt.datetime(2027, 2, 28, 10, 0, 0, tzinfo=UTC).timestamp() * 1000)
    table = "tiny 3 50 1"

    async def meter_at(now_ms):
        store = Store(mesh.redis_url)
        try:
            return await store.meter(account_id, key_id, 1, table, None, now_ms=now_ms)
        finally:
            await store.close()

    spent = [run(meter_at(before + i)) for i in range(3)]
    rejected = run(meter_at(before + 10))
    renewed = run(meter_at(after))

    assert [d.status for d in spent] == [200, 200, 200]
    assert spent[0].window_start == int(dt.datetime(2027, 1, 31, 10, tzinfo=UTC).timestamp())
    assert rejected.status == 429
    assert rejected.reason == "MONTHLY_QUOTA_EXCEEDED"
    assert rejected.retry_after_ms == 1000 - 10
    assert renewed.status == 200
    assert renewed.used == 1
    assert renewed.window_start == after // 1000
    assert renewed.window_end == int(dt.datetime(2027, 3, 31, 10, tzinfo=UTC).timestamp())


def test_calendar_month_rollover_without_billing(mesh, admin):
    account_id, key_id, _ = admin.account_with_key("tiny")
    end_of_june = int(dt.datetime(2027, 6, 30, 23, 59, 59, tzinfo=UTC).timestamp() * 1000)
    first_of_july = int(dt.datetime(2027, 7, 1, tzinfo=UTC).timestamp() * 1000)

    async def meter_at(now_ms):
        store = Store(mesh.redis_url)
        try:
            return await store.meter(account_id, key_id, 3, "tiny 3 50 1", None, now_ms=now_ms)
        finally:
            await store.close()

    june = run(meter_at(end_of_june))
    july = run(meter_at(first_of_july))

    assert june.status == 200
    assert june.used == 3
    assert july.status == 200
    assert july.used == 3
    assert july.window_start == first_of_july // 1000


def test_script_past_its_deadline_charges_nothing(mesh, admin):
    from services.gateway.store import StoreUnavailable

    account_id, key_id, _ = admin.account_with_key("tiny")

    async def late_meter():
        store = Store(mesh.redis_url)
        try:
            return await store.meter(account_id, key_id, 1, "tiny 3 50 1", None, deadline=time.time() - 1)
        finally:
            await store.close()

    with pytest.raises(StoreUnavailable):
        run(late_meter())
    assert admin.used(account_id) == 0

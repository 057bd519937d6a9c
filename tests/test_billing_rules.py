"""Billing's pure rules: both Stripe shapes, the account a set of subscriptions calls for, settings.

The last tests drive the event processor in this process, against the
session's real Redis and the gateway's real admin API, with no Stripe API
configured, to check the same-second rule that applies without it.
"""

import asyncio
import time

import grpc
import pytest

from defrag.keys.v1 import admin_pb2
from defrag.platform.config import ConfigError
from services.billing import __main__ as billing_main
from services.billing.accounts import GatewayAdmin, account_target, owes, version_of
from services.billing.events import EventProcessor, Prices, read_envelope
from services.billing.ledger import Ledger, SubscriptionRecord
from services.billing.stripe_objects import MalformedEvent, invoice_subscription_id, subscription_state
import billing_support as stripe_events
from billing_support import FREE_PRICE, NEW_SHAPE, OLD_SHAPE, PRO_PRICE

RANKS = {"free": 0, "pro": 1, "enterprise": 2}


# --- the two shapes ------------------------------------------------------------------------


@pytest.mark.parametrize("version", [OLD_SHAPE, NEW_SHAPE])
def test_fixture_period_is_read_from_either_shape(version):
    subscription = stripe_events.fixture(version, "customer.subscription.created")["data"]["object"]
    if version == OLD_SHAPE:
        expected = (subscription["current_period_start"], subscription["current_period_end"])
    else:
        item = subscription["items"]["data"][0]
        expected = (item["current_period_start"], item["current_period_end"])

    state = subscription_state(subscription)

    assert (state.period_start, state.period_end) == expected
    assert state.price_ids == (PRO_PRICE,)
    assert state.customer_id == "cus_FixtureCustomer01"
    assert state.status == "active"


def test_items_with_different_periods_are_covered():
    subscription = stripe_events.subscription(NEW_SHAPE, "cus_A", "sub_A", period=(1_000, 2_000))
    second = dict(subscription["items"]["data"][0], current_period_start=900, current_period_end=2_100)
    subscription["items"]["data"].append(second)

    state = subscription_state(subscription)

    assert (state.period_start, state.period_end) == (900, 2_100)


@pytest.mark.parametrize("version, event_type", [
    (OLD_SHAPE, "invoice.paid"), (OLD_SHAPE, "invoice.payment_failed"),
    (NEW_SHAPE, "invoice.paid"), (NEW_SHAPE, "invoice.payment_failed"),
])
def test_invoice_subscription_is_read_from_either_shape(version, event_type):
    invoice = stripe_events.fixture(version, event_type)["data"]["object"]

    assert invoice_subscription_id(invoice) == "sub_FixtureSubscription01"


def test_invoice_outside_a_subscription_has_none():
    invoice = stripe_events.fixture(NEW_SHAPE, "invoice.paid")["data"]["object"]
    invoice["parent"] = None

    assert invoice_subscription_id(invoice) is None


def test_expanded_customer_object_is_read():
    subscription = stripe_events.subscription(NEW_SHAPE, "cus_A", "sub_A")
    subscription["customer"] = {"id": "cus_A", "object": "customer"}

    assert subscription_state(subscription).customer_id == "cus_A"


@pytest.mark.parametrize("change, field", [
    (lambda s: s.update(status="dormant"), "status"),
    (lambda s: s.update(customer="cus-with-dash"), "customer"),
    (lambda s: s.update(customer=None), "customer"),
    (lambda s: s["items"].update(data="none"), "items.data"),
    (lambda s: s["items"]["data"][0].update(current_period_start="soon"), "current_period_start"),
    (lambda s: s.update(object="invoice"), "subscription object"),
])
def test_malformed_subscription_names_the_field(change, field):
    subscription = stripe_events.subscription(NEW_SHAPE, "cus_A", "sub_A")
    change(subscription)

    with pytest.raises(MalformedEvent, match=field):
        subscription_state(subscription)


@pytest.mark.parametrize("event, field", [
    ({"object": "event"}, "id"),
    ({"object": "event", "id": "evt_1"}, "type"),
    ({"object": "event", "id": "evt_1", "type": "x", "created": "now"}, "created"),
    ({"object": "event", "id": "evt_1", "type": "x", "created": True}, "created"),
    ({"object": "event", "id": "evt_1", "type": "x", "created": 1, "data": {}}, "data.object"),
    ({"object": "charge"}, "event object"),
    ({"object": "event", "id": "evt_1", "type": "x", "created": 1, "livemode": 1}, "livemode"),
])
def test_malformed_envelope_names_the_field(event, field):
    with pytest.raises(MalformedEvent, match=field):
        read_envelope(event)


# --- the account a customer's subscriptions call for ----------------------------------------------


def record(status="active", tier="pro", time_=100, **fields) -> SubscriptionRecord:
    return SubscriptionRecord(status=status, tier=tier, period_start=10, period_end=20, time=time_, **fields)


def test_highest_granting_tier_governs():
    target = account_target({"a": record(tier="pro", time_=200), "b": record(tier="enterprise", time_=100)}, RANKS)

    assert target.tier == "enterprise"
    assert target.status == "active"
    assert target.create
    assert not target.revoke_keys


def test_all_ended_cancels_and_revokes():
    target = account_target({"a": record(status="canceled"), "b": record(status="incomplete_expired")}, RANKS)

    assert target.tier is None
    assert target.status == "canceled"
    assert target.revoke_keys
    assert not target.create


def test_paused_cancels_but_keeps_keys():
    target = account_target({"a": record(status="paused")}, RANKS)

    assert target.status == "canceled"
    assert not target.revoke_keys


def test_incomplete_only_changes_nothing():
    assert account_target({"a": record(status="incomplete")}, RANKS) is None
    assert account_target({"a": SubscriptionRecord(invoice="failed", invoice_time=5)}, RANKS) is None


@pytest.mark.parametrize("status, invoice, invoice_time, expected", [
    ("past_due", "", 0, True),
    ("unpaid", "", 0, True),
    ("active", "failed", 150, True),
    ("active", "failed", 50, False),
    ("past_due", "paid", 150, False),
    ("past_due", "paid", 50, True),
])
def test_newest_of_status_and_invoice_decides_owing(status, invoice, invoice_time, expected):
    assert owes(record(status=status, time_=100, invoice=invoice, invoice_time=invoice_time)) is expected


def test_version_is_the_newest_event_time():
    records = {"a": record(time_=100, invoice="paid", invoice_time=300), "b": record(time_=200)}

    assert version_of(records) == 300


def test_prices_pick_the_highest_known_tier():
    prices = Prices({PRO_PRICE: "pro", FREE_PRICE: "free"})
    state = subscription_state(stripe_events.subscription(NEW_SHAPE, "cus_A", "sub_A"))
    items = state.__class__(**{**state.__dict__, "price_ids": (FREE_PRICE, PRO_PRICE, "price_AddOn"),
                              "price_tiers": ("", "", "")})

    assert prices.tier_of(items, RANKS) == ("pro", ["price_AddOn"])


def test_metadata_naming_an_undefined_tier_is_unknown():
    prices = Prices({})
    subscription = stripe_events.subscription(NEW_SHAPE, "cus_A", "sub_A", price="price_X", price_metadata={"tier": "gold"})

    assert prices.tier_of(subscription_state(subscription), RANKS) == ("", ["price_X"])


# --- settings -----------------------------------------------------------------------------------


def test_price_settings_accept_lists(monkeypatch):
    monkeypatch.setenv("STRIPE_PRO_PRICE_ID", "price_A, price_B")
    monkeypatch.setenv("STRIPE_FREE_PRICE_ID", "")
    monkeypatch.setenv("STRIPE_ENTERPRISE_PRICE_ID", "price_C")

    assert billing_main.price_map() == {"price_A": "pro", "price_B": "pro", "price_C": "enterprise"}


@pytest.mark.parametrize("pro, enterprise, message", [
    ("prod_A", "", "not a Stripe price id"),
    ("price_A", "price_A", "another tier"),
])
def test_bad_price_settings_are_rejected(monkeypatch, pro, enterprise, message):
    monkeypatch.setenv("STRIPE_PRO_PRICE_ID", pro)
    monkeypatch.setenv("STRIPE_ENTERPRISE_PRICE_ID", enterprise)
    monkeypatch.delenv("STRIPE_FREE_PRICE_ID", raising=False)

    with pytest.raises(ConfigError, match=message):
        billing_main.price_map()


def test_webhook_secret_must_be_a_signing_secret(monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "sk_live_oops")

    with pytest.raises(ConfigError, match="whsec_"):
        billing_main.webhook_secrets()


def test_webhook_secrets_may_list_several(monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_TEST", "whsec_test")

    assert billing_main.webhook_secrets() == [("live", "whsec_old"), ("live", "whsec_new"), ("test", "whsec_test")]


# --- same-second events without the Stripe API ------------------------------------------------------


def apply_all(mesh, events: list[dict]) -> list[str]:
    """Applies events in order with a processor that has no Stripe API; returns their outcomes."""

    async def run() -> list[str]:
        ledger = Ledger(mesh.redis_url)
        gateway = GatewayAdmin(mesh.admin_address, mesh.admin_token)
        processor = EventProcessor(ledger, gateway, Prices({PRO_PRICE: "pro", FREE_PRICE: "free"}))
        try:
            return [(await processor.apply(event, "test")).outcome for event in events]
        finally:
            await gateway.close()
            await ledger.close()

    return asyncio.run(run())


def test_same_second_without_stripe_api_orders_by_lifecycle(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    subscription = stripe_events.subscription(NEW_SHAPE, customer, subscription_id)
    downgraded = stripe_events.subscription(NEW_SHAPE, customer, subscription_id, price=FREE_PRICE)
    created = stripe_events.subscription_event("customer.subscription.created", NEW_SHAPE, subscription, created=now)
    updated = stripe_events.subscription_event("customer.subscription.updated", NEW_SHAPE, downgraded, created=now)

    assert apply_all(mesh, [updated, created]) == ["applied", "stale"]

    account = admin.GetAccount(admin_pb2.GetAccountRequest(account_id=customer))
    assert account.tier == "free"


def test_processor_reports_gateway_down(mesh):
    customer, subscription_id = stripe_events.new_ids()
    event = stripe_events.subscription_event(
        "customer.subscription.created", NEW_SHAPE, stripe_events.subscription(NEW_SHAPE, customer, subscription_id),
    )

    async def run():
        ledger = Ledger(mesh.redis_url)
        gateway = GatewayAdmin("127.0.0.1:9", mesh.admin_token)
        processor = EventProcessor(ledger, gateway, Prices({PRO_PRICE: "pro"}))
        try:
            await processor.apply(event, "test")
        finally:
            await gateway.close()
            await ledger.close()

    from services.billing.accounts import GatewayUnavailable

    with pytest.raises(GatewayUnavailable):
        asyncio.run(run())
    # Nothing was recorded, so the retry applies it.
    assert apply_all(mesh, [event]) == ["applied"]


def lifecycle(customer: str, subscription_id: str, start: int, with_deletion: bool) -> list[dict]:
    """One subscription's events in Stripe's order, a few seconds apart."""
    def subscription_event(event_type, offset, **fields):
        subscription = stripe_events.subscription(NEW_SHAPE, customer, subscription_id,
                                                  period=(start + offset, start + offset + 30 * 86_400), **fields)
        return stripe_events.subscription_event(event_type, NEW_SHAPE, subscription, created=start + offset)

    def invoice_event(event_type, offset):
        return stripe_events.invoice_event(event_type, NEW_SHAPE, customer, subscription_id, created=start + offset)

    events = [
        subscription_event("customer.subscription.created", 0),
        subscription_event("customer.subscription.updated", 2, price=stripe_events.ENTERPRISE_PRICE),
        invoice_event("invoice.payment_failed", 4),
        subscription_event("customer.subscription.updated", 5, price=stripe_events.ENTERPRISE_PRICE, status="past_due"),
        invoice_event("invoice.paid", 6),
        subscription_event("customer.subscription.updated", 8, price=FREE_PRICE),
    ]
    if with_deletion:
        events.append(subscription_event("customer.subscription.deleted", 10, price=FREE_PRICE, status="canceled"))
    return events


def apply_with_enterprise(mesh, events: list[dict]) -> list[str]:
    async def run() -> list[str]:
        ledger = Ledger(mesh.redis_url)
        gateway = GatewayAdmin(mesh.admin_address, mesh.admin_token)
        prices = Prices({PRO_PRICE: "pro", FREE_PRICE: "free", stripe_events.ENTERPRISE_PRICE: "enterprise"})
        processor = EventProcessor(ledger, gateway, prices)
        try:
            return [(await processor.apply(event, "test")).outcome for event in events]
        finally:
            await gateway.close()
            await ledger.close()

    return asyncio.run(run())


def account_state(admin, account_id: str):
    try:
        account = admin.GetAccount(admin_pb2.GetAccountRequest(account_id=account_id))
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND
        return None
    return account.tier, account.status, account.period_start, account.period_end


@pytest.mark.parametrize("seed", range(6))
def test_shuffled_duplicates_match_in_order(mesh, admin, seed):
    import random

    shuffle = random.Random(seed)
    start = int(time.time()) - 60
    in_order, in_order_sub = stripe_events.new_ids()
    shuffled, shuffled_sub = stripe_events.new_ids()
    apply_with_enterprise(mesh, lifecycle(in_order, in_order_sub, start, with_deletion=False))
    events = lifecycle(shuffled, shuffled_sub, start, with_deletion=False)
    deliveries = events + shuffle.sample(events, 3)
    shuffle.shuffle(deliveries)

    outcomes = apply_with_enterprise(mesh, deliveries)

    assert outcomes.count("duplicate") == 3
    assert account_state(admin, shuffled) == account_state(admin, in_order)
    assert account_state(admin, in_order) == (
        "free", "active", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 8)),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 8 + 30 * 86_400)),
    )


@pytest.mark.parametrize("seed", range(4))
def test_any_order_ending_in_deletion_leaves_no_access(mesh, admin, seed):
    import random

    shuffle = random.Random(100 + seed)
    customer, subscription_id = stripe_events.new_ids()
    events = lifecycle(customer, subscription_id, int(time.time()) - 60, with_deletion=True)
    shuffle.shuffle(events)

    apply_with_enterprise(mesh, events)

    # Deleted first: the account is never created. Otherwise it is canceled.
    state = account_state(admin, customer)
    assert state is None or state[1] == "canceled"


def test_metadata_tier_ignores_case_and_spaces():
    subscription = stripe_events.subscription(NEW_SHAPE, "cus_A", "sub_A", price="price_X", price_metadata={"tier": " Pro "})

    assert Prices({}).tier_of(subscription_state(subscription), RANKS) == ("pro", [])

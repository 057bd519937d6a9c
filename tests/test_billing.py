"""Stripe webhooks through Envoy: signatures, tiers, keys, ordering, duplicates and quota periods.

Every event is a fixture of one of the two API shapes made into a new event
and signed as Stripe signs it (tests/billing_support.py). Each test uses its
own customer, so the tests share the session's mesh without touching each
other's accounts.
"""

import concurrent.futures
import json
import time
import urllib.request
from http import client as http_client

import grpc
import pytest

from defrag.keys.v1 import admin_pb2
import billing_support as stripe_events
from billing_support import API_VERSIONS, FREE_PRICE, NEW_SHAPE, OLD_SHAPE, PRO_PRICE, deliver
from conftest import AUDITED_TEXTS, ISSUED_KEYS, bearer, http

CALM_TEXT = "A calm week; I slept well and walked by the river."


def account(admin, account_id: str) -> admin_pb2.Account | None:
    try:
        return admin.GetAccount(admin_pb2.GetAccountRequest(account_id=account_id))
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND
        return None


def issue_key(admin, account_id: str) -> tuple[str, str]:
    created = admin.CreateKey(admin_pb2.CreateKeyRequest(account_id=account_id, name="billing test"))
    ISSUED_KEYS.append(created.plaintext)
    return created.key.key_id, created.plaintext


def seda_audit(mesh, key: str):
    """Calls the pro-only SEDA audit through Envoy."""
    AUDITED_TEXTS.append(CALM_TEXT)
    body = json.dumps({"journal_text": CALM_TEXT}).encode()
    return http(mesh, "/v1/seda/audit", {**bearer(key), "Content-Type": "application/json"}, "POST", body)


def created_event(version: str, customer: str, subscription_id: str, *, created: int | None = None, **fields) -> dict:
    subscription = stripe_events.subscription(version, customer, subscription_id, **fields)
    return stripe_events.subscription_event("customer.subscription.created", version, subscription, created=created)


def updated_event(version: str, customer: str, subscription_id: str, *, created: int | None = None, **fields) -> dict:
    subscription = stripe_events.subscription(version, customer, subscription_id, **fields)
    return stripe_events.subscription_event("customer.subscription.updated", version, subscription, created=created)


def deleted_event(version: str, customer: str, subscription_id: str, *, created: int | None = None, **fields) -> dict:
    subscription = stripe_events.subscription(version, customer, subscription_id, status="canceled", **fields)
    return stripe_events.subscription_event("customer.subscription.deleted", version, subscription, created=created)


def outcome(reply) -> str:
    assert reply.status == 200, reply.body
    return reply.json()["outcome"]


def metric_value(mesh, name: str, labels: dict[str, str]) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{mesh.ports.billing_metrics[0]}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name}{{{wanted}}} in billing's metrics")


# --- the lifecycle --------------------------------------------------------------------


@pytest.mark.parametrize("version", API_VERSIONS)
def test_created_pro_event_opens_pro_methods(mesh, admin, version):
    customer, subscription_id = stripe_events.new_ids()
    start, end = int(time.time()) - 600, int(time.time()) + 30 * 86_400

    reply = deliver(mesh, created_event(version, customer, subscription_id, period=(start, end)))

    assert reply.status == 200
    assert reply.json()["outcome"] == "applied"
    assert reply.json()["account_id"] == customer
    created = account(admin, customer)
    assert created.tier == "pro"
    assert created.mode == "test"
    assert created.status == "active"
    assert created.period_start == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
    assert created.period_end == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end))
    assert admin.ListKeys(admin_pb2.ListKeysRequest(account_id=customer)).keys == []
    _, key = issue_key(admin, customer)
    assert key.startswith("sk_test_")
    assert seda_audit(mesh, key).status == 200


@pytest.mark.parametrize("version", API_VERSIONS)
def test_deleted_event_revokes_the_accounts_keys(mesh, admin, version):
    customer, subscription_id = stripe_events.new_ids()
    assert outcome(deliver(mesh, created_event(version, customer, subscription_id))) == "applied"
    key_id, key = issue_key(admin, customer)
    assert seda_audit(mesh, key).status == 200

    reply = deliver(mesh, deleted_event(version, customer, subscription_id, created=int(time.time()) + 1))

    assert outcome(reply) == "applied"
    denied = seda_audit(mesh, key)
    assert denied.status == 401
    assert denied.reason() == "API_KEY_REVOKED"
    assert account(admin, customer).status == "canceled"
    kept = admin.ListKeys(admin_pb2.ListKeysRequest(account_id=customer)).keys
    assert [(k.key_id, k.status) for k in kept] == [(key_id, "revoked")]
    assert kept[0].revoked_at


def test_live_event_makes_a_live_account(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id, livemode=True)

    assert outcome(deliver(mesh, event)) == "applied"

    assert account(admin, customer).mode == "live"
    assert issue_key(admin, customer)[1].startswith("sk_live_")


def test_downgrade_to_free_makes_seda_403(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    assert outcome(deliver(mesh, created_event(NEW_SHAPE, customer, subscription_id, created=now - 5))) == "applied"
    _, key = issue_key(admin, customer)
    assert seda_audit(mesh, key).status == 200

    reply = deliver(mesh, updated_event(NEW_SHAPE, customer, subscription_id, price=FREE_PRICE, created=now))

    assert outcome(reply) == "applied"
    assert account(admin, customer).tier == "free"
    denied = seda_audit(mesh, key)
    assert denied.status == 403
    assert denied.reason() == "METHOD_NOT_IN_TIER"
    allowed = http(mesh, "/v1/telemetry/vectors?date=1990-01-15&time=14:30&lat=34.05&lon=-118.24", bearer(key))
    assert allowed.status == 200


def test_second_pro_price_and_metadata_tier_map(mesh, admin):
    by_setting, by_setting_sub = stripe_events.new_ids()
    by_metadata, by_metadata_sub = stripe_events.new_ids()

    yearly = created_event(OLD_SHAPE, by_setting, by_setting_sub, price=stripe_events.PRO_YEARLY_PRICE)
    tagged = created_event(OLD_SHAPE, by_metadata, by_metadata_sub, price="price_TestTagged01",
                           price_metadata={"tier": "enterprise"})

    assert outcome(deliver(mesh, yearly)) == "applied"
    assert outcome(deliver(mesh, tagged)) == "applied"
    assert account(admin, by_setting).tier == "pro"
    assert account(admin, by_metadata).tier == "enterprise"


def test_unknown_price_changes_nothing(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    before = metric_value(mesh, "defrag_billing_unknown_price_events_total", {"mode": "test"})
    event = created_event(NEW_SHAPE, customer, subscription_id, price="price_TestUnlisted01",
                          price_metadata={"tier": "platinum"})

    reply = deliver(mesh, event)

    assert outcome(reply) == "unknown_price"
    assert account(admin, customer) is None
    assert metric_value(mesh, "defrag_billing_unknown_price_events_total", {"mode": "test"}) == before + 1
    # Stripe gets a 200, so it stops retrying: a second delivery is a duplicate.
    assert outcome(deliver(mesh, event)) == "duplicate"


def test_other_event_types_are_ignored(mesh):
    for version in API_VERSIONS:
        event = stripe_events.fixture(version, "customer.created")
        event["id"] = stripe_events.new_event_id()

        reply = deliver(mesh, event)

        assert outcome(reply) == "ignored"
        assert reply.json()["type"] == "customer.created"


# --- invoices ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", API_VERSIONS)
def test_payment_failure_marks_past_due_and_keeps_access(mesh, admin, version):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    assert outcome(deliver(mesh, created_event(version, customer, subscription_id, created=now - 10))) == "applied"
    _, key = issue_key(admin, customer)
    failures = metric_value(mesh, "defrag_billing_payment_failures_total", {"mode": "test"})

    failed = stripe_events.invoice_event("invoice.payment_failed", version, customer, subscription_id, created=now - 5)
    assert outcome(deliver(mesh, failed)) == "applied"

    assert account(admin, customer).status == "past_due"
    assert metric_value(mesh, "defrag_billing_payment_failures_total", {"mode": "test"}) == failures + 1
    assert seda_audit(mesh, key).status == 200
    usage = http(mesh, "/v1/usage", bearer(key))
    assert usage.json()["status"] == "past_due"

    paid = stripe_events.invoice_event("invoice.paid", version, customer, subscription_id, created=now)
    assert outcome(deliver(mesh, paid)) == "applied"
    assert account(admin, customer).status == "active"


def test_invoice_before_its_subscription_is_kept(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    failed = stripe_events.invoice_event("invoice.payment_failed", NEW_SHAPE, customer, subscription_id, created=now)

    assert outcome(deliver(mesh, failed)) == "recorded"
    assert account(admin, customer) is None

    assert outcome(deliver(mesh, created_event(NEW_SHAPE, customer, subscription_id, created=now - 3))) == "applied"
    assert account(admin, customer).status == "past_due"


def test_older_payment_failure_after_payment_is_stale(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    assert outcome(deliver(mesh, created_event(OLD_SHAPE, customer, subscription_id, created=now - 20))) == "applied"
    paid = stripe_events.invoice_event("invoice.paid", OLD_SHAPE, customer, subscription_id, created=now)
    failed = stripe_events.invoice_event("invoice.payment_failed", OLD_SHAPE, customer, subscription_id, created=now - 5)

    assert outcome(deliver(mesh, paid)) == "applied"
    assert outcome(deliver(mesh, failed)) == "stale"
    assert account(admin, customer).status == "active"


# --- exactly once and in order ----------------------------------------------------------------


def test_duplicate_delivery_changes_nothing(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id)
    assert outcome(deliver(mesh, event)) == "applied"
    first = account(admin, customer)

    assert outcome(deliver(mesh, event)) == "duplicate"
    assert account(admin, customer) == first


def test_concurrent_duplicates_apply_once(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id)

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(lambda _: deliver(mesh, event), range(12)))

    outcomes = [r.json()["outcome"] if r.status == 200 else r.status for r in replies]
    assert outcomes.count("applied") == 1
    assert set(outcomes) <= {"applied", "duplicate", 409}
    for reply in replies:
        if reply.status == 409:
            assert reply.reason() == "CUSTOMER_BUSY"
            assert reply.headers["retry-after"] == "1"
    assert account(admin, customer).tier == "pro"


@pytest.mark.parametrize("version", API_VERSIONS)
def test_reordered_events_keep_the_newest_state(mesh, admin, version):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    created = created_event(version, customer, subscription_id, created=now - 20)
    updated = updated_event(version, customer, subscription_id, price=FREE_PRICE, created=now - 10)
    deleted = deleted_event(version, customer, subscription_id, created=now)

    assert outcome(deliver(mesh, updated)) == "applied"
    assert outcome(deliver(mesh, created)) == "stale"
    assert account(admin, customer).tier == "free"

    assert outcome(deliver(mesh, deleted)) == "applied"
    assert outcome(deliver(mesh, updated)) == "duplicate"
    late_update = updated_event(version, customer, subscription_id, created=now - 5)
    assert outcome(deliver(mesh, late_update)) == "stale"
    assert account(admin, customer).status == "canceled"


def test_canceled_subscription_never_becomes_active(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    assert outcome(deliver(mesh, created_event(NEW_SHAPE, customer, subscription_id, created=now - 10))) == "applied"
    assert outcome(deliver(mesh, deleted_event(NEW_SHAPE, customer, subscription_id, created=now))) == "applied"

    # Same second, and even a later one: a canceled subscription is final in Stripe.
    for created in (now, now + 5):
        revived = updated_event(NEW_SHAPE, customer, subscription_id, created=created)
        assert outcome(deliver(mesh, revived)) == "stale"
    assert account(admin, customer).status == "canceled"


def test_same_second_events_follow_stripe(mesh, admin, stripe_api):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    # Stripe has the subscription on the free price now.
    stripe_api.subscriptions = [stripe_events.subscription(NEW_SHAPE, customer, subscription_id, price=FREE_PRICE)]
    stripe_api.clear_requests()
    try:
        downgrade = updated_event(NEW_SHAPE, customer, subscription_id, price=FREE_PRICE, created=now)
        assert outcome(deliver(mesh, downgrade)) == "applied"
        # The created event of the same second arrives last, so billing reads the subscription from Stripe.
        late = created_event(NEW_SHAPE, customer, subscription_id, created=now)

        assert outcome(deliver(mesh, late)) == "applied"

        assert account(admin, customer).tier == "free"
        reads = [r for r in stripe_api.requests if r.path == f"/v1/subscriptions/{subscription_id}"]
        assert len(reads) == 1
        assert reads[0].status == 200
        assert reads[0].stripe_version == "2026-10-28.endive"
    finally:
        stripe_api.subscriptions = []


def test_same_second_404_uses_lifecycle(mesh, admin, stripe_api):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    stripe_api.subscriptions = []
    stripe_api.clear_requests()
    downgrade = updated_event(NEW_SHAPE, customer, subscription_id, price=FREE_PRICE, created=now)
    assert outcome(deliver(mesh, downgrade)) == "applied"

    late = created_event(NEW_SHAPE, customer, subscription_id, created=now)

    assert outcome(deliver(mesh, late)) == "stale"
    assert account(admin, customer).tier == "free"
    reads = [r for r in stripe_api.requests if r.path == f"/v1/subscriptions/{subscription_id}"]
    assert [r.status for r in reads] == [404]


def test_second_subscription_keeps_the_account(mesh, admin):
    customer, first_sub = stripe_events.new_ids()
    _, second_sub = stripe_events.new_ids()
    now = int(time.time())
    assert outcome(deliver(mesh, created_event(NEW_SHAPE, customer, first_sub, created=now - 20))) == "applied"
    enterprise = created_event(NEW_SHAPE, customer, second_sub, price=stripe_events.ENTERPRISE_PRICE, created=now - 10)
    assert outcome(deliver(mesh, enterprise)) == "applied"
    _, key = issue_key(admin, customer)
    assert account(admin, customer).tier == "enterprise"

    assert outcome(deliver(mesh, deleted_event(NEW_SHAPE, customer, first_sub, created=now))) == "applied"

    assert account(admin, customer).tier == "enterprise"
    assert account(admin, customer).status == "active"
    assert seda_audit(mesh, key).status == 200


def test_cancellation_stands_over_a_newer_operator_change(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    assert outcome(deliver(mesh, created_event(NEW_SHAPE, customer, subscription_id, created=now - 30))) == "applied"
    _, key = issue_key(admin, customer)
    admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=customer, tier="enterprise"))

    reply = deliver(mesh, deleted_event(NEW_SHAPE, customer, subscription_id, created=now - 10))

    assert outcome(reply) == "applied"
    assert account(admin, customer).status == "canceled"
    assert seda_audit(mesh, key).status == 401


def test_same_second_read_of_another_customer_is_503(mesh, admin, stripe_api):
    customer, subscription_id = stripe_events.new_ids()
    stranger, _ = stripe_events.new_ids()
    now = int(time.time())
    stripe_api.subscriptions = [stripe_events.subscription(NEW_SHAPE, stranger, subscription_id)]
    try:
        assert outcome(deliver(mesh, created_event(NEW_SHAPE, customer, subscription_id, created=now))) == "applied"

        reply = deliver(mesh, updated_event(NEW_SHAPE, customer, subscription_id, price=FREE_PRICE, created=now))
    finally:
        stripe_api.subscriptions = []

    assert reply.status == 503
    assert account(admin, stranger) is None
    assert account(admin, customer).tier == "pro"


def test_operator_change_stands_until_a_newer_event(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    assert outcome(deliver(mesh, created_event(NEW_SHAPE, customer, subscription_id, created=now - 30))) == "applied"
    admin.UpdateAccount(admin_pb2.UpdateAccountRequest(account_id=customer, tier="enterprise"))

    older = updated_event(NEW_SHAPE, customer, subscription_id, price=FREE_PRICE, created=now - 20)
    assert outcome(deliver(mesh, older)) == "stale"
    assert account(admin, customer).tier == "enterprise"

    newer = updated_event(NEW_SHAPE, customer, subscription_id, price=FREE_PRICE, created=now + 2)
    assert outcome(deliver(mesh, newer)) == "applied"
    assert account(admin, customer).tier == "free"


# --- the quota period ------------------------------------------------------------------------


def test_period_change_resets_the_quota_window(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    now = int(time.time())
    first_period = (now - 10 * 86_400, now + 20 * 86_400)
    tiny = {"tier": "tiny"}  # 3 calls a month in tests/tiers.yaml
    event = created_event(NEW_SHAPE, customer, subscription_id, price="price_TestTiny01", price_metadata=tiny,
                          period=first_period, created=now - 5)
    assert outcome(deliver(mesh, event)) == "applied"
    _, key = issue_key(admin, customer)
    telemetry = "/v1/telemetry/vectors?date=1990-01-15&time=14:30&lat=34.05&lon=-118.24"
    assert [http(mesh, telemetry, bearer(key)).status for _ in range(4)] == [200, 200, 200, 429]

    renewed = updated_event(NEW_SHAPE, customer, subscription_id, price="price_TestTiny01", price_metadata=tiny,
                            period=(now - 60, now + 30 * 86_400), created=now)
    assert outcome(deliver(mesh, renewed)) == "applied"

    usage = http(mesh, "/v1/usage", bearer(key)).json()
    assert usage["used"] == 0
    assert usage["window_start"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
    assert http(mesh, telemetry, bearer(key)).status == 200


# --- signatures and bodies --------------------------------------------------------------------


def test_bad_signature_gets_400_and_changes_nothing(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    body = stripe_events.encode(created_event(NEW_SHAPE, customer, subscription_id))
    before = metric_value(mesh, "defrag_billing_signature_failures_total", {"reason": "mismatch"})
    wrong_secret = stripe_events.webhook_headers(body, "whsec_" + "0" * 48)

    reply = http(mesh, "/v1/stripe/webhook", wrong_secret, "POST", body)

    assert reply.status == 400
    assert reply.reason() == "STRIPE_SIGNATURE_INVALID"
    assert "STRIPE_WEBHOOK_SECRET" in reply.json()["message"]
    assert account(admin, customer) is None
    assert metric_value(mesh, "defrag_billing_signature_failures_total", {"reason": "mismatch"}) == before + 1


def test_changed_body_fails_the_signature(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    body = stripe_events.encode(created_event(NEW_SHAPE, customer, subscription_id))
    headers = stripe_events.webhook_headers(body)

    reply = http(mesh, "/v1/stripe/webhook", headers, "POST", body.replace(b"active", b"trialing"))

    assert reply.status == 400
    assert reply.json()["details"][0]["metadata"]["signature_failure"] == "mismatch"
    assert account(admin, customer) is None


def test_replay_older_than_tolerance_gets_400(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    body = stripe_events.encode(created_event(NEW_SHAPE, customer, subscription_id))
    headers = stripe_events.webhook_headers(body, timestamp=int(time.time()) - 301)

    reply = http(mesh, "/v1/stripe/webhook", headers, "POST", body)

    assert reply.status == 400
    assert reply.json()["details"][0]["metadata"]["signature_failure"] == "expired"
    assert "300 seconds" in reply.json()["message"]
    assert account(admin, customer) is None
    # A signature within the tolerance is accepted.
    fresh = stripe_events.webhook_headers(body, timestamp=int(time.time()) - 290)
    assert outcome(http(mesh, "/v1/stripe/webhook", fresh, "POST", body)) == "applied"


@pytest.mark.parametrize("header, reason", [
    (None, "missing"),
    ("v1=abc", "malformed"),
    ("t=notanumber,v1=abc", "malformed"),
    ("t=1700000000,v0=abc", "malformed"),
])
def test_missing_or_malformed_signature_gets_400(mesh, header, reason):
    customer, subscription_id = stripe_events.new_ids()
    body = stripe_events.encode(created_event(NEW_SHAPE, customer, subscription_id))
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header

    reply = http(mesh, "/v1/stripe/webhook", headers, "POST", body)

    assert reply.status == 400
    assert reply.reason() == "STRIPE_SIGNATURE_INVALID"
    assert reply.json()["details"][0]["metadata"]["signature_failure"] == reason


def test_live_event_signed_with_test_secret_gets_400(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id, livemode=True)

    reply = deliver(mesh, event, secret=stripe_events.TEST_SECRET)

    assert reply.status == 400
    assert reply.reason() == "STRIPE_MODE_MISMATCH"
    assert account(admin, customer) is None


@pytest.mark.parametrize("body, field", [
    (b"not json", "body"),
    (b"[1, 2]", "body"),
    (b'"evt_1"', "body"),
    (b'{"object": "event", "id": "evt_1", "type": "customer.subscription.created", "created": 1, "data": {}}', "data.object"),
    (b'{"object": "event", "id": "x", "type": "invoice.paid", "created": 1, "data": {"object": {}}}', "body"),
    (b'{"object": "event", "id": "evt_1", "type": "invoice.paid", "created": 1, "data": {"object": {}}}', "data.object"),
    (b'{"object": "event", "id": "evt_1", "type": "customer.subscription.updated", "created": 1, '
     b'"data": {"object": {"object": "subscription", "status": "active"}}}', "data.object"),
])
def test_signed_non_event_body_gets_400(mesh, body, field):
    reply = http(mesh, "/v1/stripe/webhook", stripe_events.webhook_headers(body), "POST", body)

    assert reply.status == 400
    violation = reply.detail("google.rpc.BadRequest")["field_violations"][0]
    assert violation["field"] == field


def test_body_that_is_not_utf8_gets_400(mesh):
    body = b'{"id": "\xff\xfe"}'

    reply = http(mesh, "/v1/stripe/webhook", {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"}, "POST", body)

    assert reply.status == 400
    assert "UTF-8" in reply.json()["message"]


def post_with_raw_headers(mesh, headers: list[tuple[str, str | bytes]], body: bytes = b"{}") -> tuple[int, dict]:
    """POSTs to the webhook with headers sent exactly as given (repeated, or with bytes outside ASCII)."""
    connection = http_client.HTTPConnection("127.0.0.1", mesh.ports.public, timeout=10)
    connection.putrequest("POST", "/v1/stripe/webhook")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(body)))
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders(body)
    reply = connection.getresponse()
    payload = json.loads(reply.read())
    connection.close()
    return reply.status, payload


def test_repeated_signature_header_gets_400(mesh):
    signature = stripe_events.sign(b"{}", stripe_events.TEST_SECRET)

    status, payload = post_with_raw_headers(mesh, [("Stripe-Signature", signature), ("Stripe-Signature", signature)])

    assert status == 400
    assert "more than once" in payload["message"]


def test_subscription_without_items_gets_400(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id)
    del event["data"]["object"]["items"]

    reply = deliver(mesh, event)

    assert reply.status == 400
    assert reply.reason() == "STRIPE_EVENT_INVALID"
    assert "items.data" in reply.json()["message"]
    assert account(admin, customer) is None


def test_webhook_also_served_under_api_prefix(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()

    reply = deliver(mesh, created_event(OLD_SHAPE, customer, subscription_id), path="/api/v1/stripe/webhook")

    assert outcome(reply) == "applied"


def test_webhook_rejects_query_parameters_and_get(mesh):
    body = b"{}"
    with_query = http(mesh, "/v1/stripe/webhook?mode=test", stripe_events.webhook_headers(body), "POST", body)
    get = http(mesh, "/v1/stripe/webhook")

    assert with_query.status == 400
    assert "no query parameters" in with_query.json()["message"]
    assert get.status == 405
    assert get.headers["allow"] == "POST"


def test_webhook_needs_no_api_key_but_ignores_one(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    body = stripe_events.encode(created_event(NEW_SHAPE, customer, subscription_id))
    headers = {**stripe_events.webhook_headers(body), **bearer("sk_live_notarealkey")}

    reply = http(mesh, "/v1/stripe/webhook", headers, "POST", body)

    assert outcome(reply) == "applied"


# --- hostile but signed input ------------------------------------------------------------------


def signed_reply(mesh, event_or_body, extra_headers: dict | None = None, path: str = "/v1/stripe/webhook"):
    body = event_or_body if isinstance(event_or_body, bytes) else stripe_events.encode(event_or_body)
    headers = {**stripe_events.webhook_headers(body), **(extra_headers or {})}
    return http(mesh, path, headers, "POST", body)


@pytest.mark.parametrize("created", [2**63 - 1, 10**25, 253402300800, -5, "1700000000", 1.5])
def test_created_out_of_range_gets_400(mesh, admin, created):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id)
    event["created"] = created

    reply = signed_reply(mesh, event)

    assert reply.status == 400
    assert reply.reason() == "STRIPE_EVENT_INVALID"
    assert reply.detail("google.rpc.BadRequest")["field_violations"][0]["field"] == "body"
    assert "created" in reply.json()["message"]
    assert account(admin, customer) is None


def test_created_in_the_future_gets_400(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id, created=int(time.time()) + 3600)

    reply = signed_reply(mesh, event)

    assert reply.status == 400
    assert "clock" in reply.json()["message"]
    assert account(admin, customer) is None


@pytest.mark.parametrize("change, words", [
    (lambda s: s["items"]["data"][0].update(current_period_start=253402300800), "year 9999"),
    (lambda s: s["items"]["data"][0].update(current_period_end=100, current_period_start=200), "must be after"),
    (lambda s: s["items"].update(data=[]), "at least one item"),
    (lambda s: s.update(customer="acct_demo"), "not a Stripe customer id"),
    (lambda s: s.update(status=None), "status null"),
])
def test_unreadable_subscription_gets_400(mesh, admin, change, words):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id)
    change(event["data"]["object"])

    reply = signed_reply(mesh, event)

    assert reply.status == 400
    assert words in reply.json()["message"]
    assert reply.detail("google.rpc.BadRequest")["field_violations"][0]["field"] == "data.object"
    assert account(admin, customer) is None


@pytest.mark.parametrize("body, words", [
    (b'{"object": "event", "created": ' + b"9" * 5000 + b"}", "number"),
    (b'{"object": "event", "id": "evt_\\ud800x"}', "surrogate"),
])
def test_unreadable_json_values_get_400(mesh, body, words):
    reply = signed_reply(mesh, body)

    assert reply.status == 400
    assert words in reply.json()["message"]


def test_over_long_price_id_gets_400(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id, price="price_" + "Q9" * 150)

    reply = signed_reply(mesh, event)

    assert reply.status == 400
    assert "1..255 printable ASCII" in reply.json()["message"]
    assert account(admin, customer) is None


def test_livemode_that_is_not_a_boolean_gets_400(mesh):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id)
    event["livemode"] = "false"

    reply = signed_reply(mesh, event)

    assert reply.status == 400
    assert "must be true or false" in reply.json()["message"]


def test_deeply_nested_body_gets_400(mesh):
    body = b'{"object": "event", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    reply = signed_reply(mesh, body)

    assert reply.status == 400
    assert "too deeply" in reply.json()["message"]


def test_signature_from_the_future_gets_400(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    body = stripe_events.encode(created_event(NEW_SHAPE, customer, subscription_id))
    headers = stripe_events.webhook_headers(body, timestamp=int(time.time()) + 10**6)

    reply = http(mesh, "/v1/stripe/webhook", headers, "POST", body)

    assert reply.status == 400
    assert reply.json()["details"][0]["metadata"]["signature_failure"] == "future"
    assert account(admin, customer) is None


def test_webhook_rejects_compression_and_api_key(mesh, admin):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id)

    compressed = signed_reply(mesh, event, {"Content-Encoding": "gzip"})
    with_key = signed_reply(mesh, event, path="/v1/stripe/webhook?api_key=sk_live_x")

    assert compressed.status == 415
    assert compressed.reason() == "UNSUPPORTED_CONTENT_ENCODING"
    assert with_key.status == 400
    assert account(admin, customer) is None


def test_webhook_checks_the_request_id(mesh):
    customer, subscription_id = stripe_events.new_ids()
    event = created_event(NEW_SHAPE, customer, subscription_id)

    repeated = signed_reply(mesh, event, {"x-request-id": "a,b"})
    too_long = signed_reply(mesh, event, {"x-request-id": "r" * 129})

    assert repeated.status == 400
    assert repeated.reason() == "INVALID_REQUEST_ID"
    assert too_long.status == 400
    assert "over the limit of 128" in too_long.json()["message"]


def test_non_ascii_request_id_gets_400(mesh):
    signature = stripe_events.sign(b"{}", stripe_events.TEST_SECRET)

    status, payload = post_with_raw_headers(mesh, [("Stripe-Signature", signature), ("x-request-id", b"abc\xe9def")])

    assert status == 400
    assert payload["details"][0]["reason"] == "INVALID_REQUEST_ID"


def test_non_ascii_signature_rejected_unlogged(mesh):
    signature = stripe_events.sign(b"{}", stripe_events.TEST_SECRET)
    headers = [("Stripe-Signature", signature.encode() + b",x=\xe9"), ("X-Note", b"caf\xe9")]

    status, payload = post_with_raw_headers(mesh, headers)

    assert status == 400
    assert "printable ASCII" in payload["message"]
    logs = "\n".join(p.read_text() for p in mesh.logs.glob("billing-*.log"))
    assert signature.split("v1=")[1] not in logs

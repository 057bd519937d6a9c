"""Stripe events for the billing tests: fixtures made into new events, signed the way Stripe signs them.

The signature follows Stripe's documented scheme, written here without the
stripe library, so that the service's verification is checked against an
independent signer: "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'>"
under the endpoint's signing secret.
"""

import copy
import hashlib
import hmac
import itertools
import json
import pathlib
import secrets
import time

from defrag.mesh import Mesh

FIXTURES = pathlib.Path(__file__).parent / "data" / "stripe"
OLD_SHAPE = "2024-06-20"
NEW_SHAPE = "2026-10-28.endive"
API_VERSIONS = (OLD_SHAPE, NEW_SHAPE)

# Made for each test session; never a real secret.
LIVE_SECRET = "whsec_" + secrets.token_hex(24)
TEST_SECRET = "whsec_" + secrets.token_hex(24)
STRIPE_API_KEY = "sk_test_" + secrets.token_hex(24)

PRO_PRICE = "price_FixturePro01"
FREE_PRICE = "price_FixtureFree01"
ENTERPRISE_PRICE = "price_TestEnterprise01"
# A second pro price (a yearly plan), to check that a setting may list several.
PRO_YEARLY_PRICE = "price_TestProYearly01"

_numbers = itertools.count(1)


def billing_env(stripe_api_url: str) -> dict[str, str]:
    """Returns the billing settings of the session's mesh."""
    return {
        "STRIPE_WEBHOOK_SECRET": LIVE_SECRET,
        "STRIPE_WEBHOOK_SECRET_TEST": TEST_SECRET,
        "STRIPE_FREE_PRICE_ID": FREE_PRICE,
        "STRIPE_PRO_PRICE_ID": f"{PRO_PRICE}, {PRO_YEARLY_PRICE}",
        "STRIPE_ENTERPRISE_PRICE_ID": ENTERPRISE_PRICE,
        "STRIPE_API_KEY_TEST": STRIPE_API_KEY,
        "STRIPE_API_BASE": stripe_api_url,
    }


def new_ids() -> tuple[str, str]:
    """Returns a fresh (customer id, subscription id) pair."""
    suffix = f"{next(_numbers)}x{secrets.token_hex(5)}"
    return f"cus_T{suffix}", f"sub_T{suffix}"


def new_event_id() -> str:
    return f"evt_T{next(_numbers)}x{secrets.token_hex(8)}"


def fixture(version: str, event_type: str) -> dict:
    return json.loads((FIXTURES / version / f"{event_type}.json").read_text())


def subscription(
    version: str,
    customer: str,
    subscription_id: str,
    *,
    price: str = PRO_PRICE,
    status: str = "active",
    period: tuple[int, int] | None = None,
    price_metadata: dict | None = None,
    livemode: bool = False,
) -> dict:
    """Returns a subscription object in the version's shape, from the created event's fixture."""
    data = copy.deepcopy(fixture(version, "customer.subscription.created")["data"]["object"])
    data.update(id=subscription_id, customer=customer, status=status, livemode=livemode)
    start, end = period or (int(time.time()) - 3600, int(time.time()) + 30 * 86_400)
    for item in data["items"]["data"]:
        item["subscription"] = subscription_id
        for key in ("price", "plan"):
            if key in item:
                item[key]["id"] = price
                item[key]["metadata"] = dict(price_metadata or {})
                item[key]["livemode"] = livemode
        if version != OLD_SHAPE:
            item["current_period_start"], item["current_period_end"] = start, end
    if version == OLD_SHAPE:
        data["current_period_start"], data["current_period_end"] = start, end
    else:
        assert "current_period_start" not in data, "the new shape keeps the period on the items only"
    if status == "canceled":
        data["canceled_at"] = data["ended_at"] = int(time.time())
    return data


def subscription_event(event_type: str, version: str, subscription_object: dict, *, created: int | None = None,
                       event_id: str | None = None) -> dict:
    """Returns a customer.subscription.* event around the subscription object."""
    event = fixture(version, event_type)
    event["id"] = event_id or new_event_id()
    event["created"] = int(time.time()) if created is None else created
    event["livemode"] = subscription_object.get("livemode", False)
    event["data"]["object"] = subscription_object
    if event_type != "customer.subscription.updated":
        event["data"].pop("previous_attributes", None)
    return event


def invoice_event(event_type: str, version: str, customer: str, subscription_id: str, *, created: int | None = None,
                  livemode: bool = False) -> dict:
    """Returns an invoice.paid or invoice.payment_failed event for the subscription, in the version's shape."""
    event = fixture(version, event_type)
    event["id"] = new_event_id()
    event["created"] = int(time.time()) if created is None else created
    event["livemode"] = livemode
    invoice = event["data"]["object"]
    invoice["customer"] = customer
    invoice["livemode"] = livemode
    if version == OLD_SHAPE:
        invoice["subscription"] = subscription_id
    else:
        assert "subscription" not in invoice, "the new shape names the subscription under parent only"
        invoice["parent"]["subscription_details"]["subscription"] = subscription_id
    return event


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """Returns a Stripe-Signature header for the body."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def encode(event: dict) -> bytes:
    return json.dumps(event, indent=2).encode()


def webhook_headers(body: bytes, secret: str = TEST_SECRET, timestamp: int | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": sign(body, secret, timestamp)}


def deliver(mesh: Mesh, event: dict, secret: str | None = None, path: str = "/v1/stripe/webhook"):
    """Posts the event through Envoy, signed with the secret of its mode."""
    from conftest import http

    body = encode(event)
    secret = secret or (LIVE_SECRET if event.get("livemode") else TEST_SECRET)
    return http(mesh, path, webhook_headers(body, secret), method="POST", body=body)

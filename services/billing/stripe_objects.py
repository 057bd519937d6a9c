"""Reads Stripe subscriptions and invoices in the shapes of both API version families.

Before API version 2025-03-31 the current billing period lived on the
subscription (current_period_start, current_period_end) and an invoice named
its subscription in `subscription`. From 2025-03-31 the period lives on each
subscription item and an invoice names its subscription under
parent.subscription_details.subscription. Every reader here accepts both.

Pure functions over the decoded JSON: no Redis, no gRPC.
"""

import dataclasses
import datetime as dt
import json
import re

# Stripe's customer ids are cus_ and letters and digits, which the account id
# rule ([A-Za-z0-9_]{1,64}) accepts as they are. Only such ids are accepted,
# so an event can never name an account that an operator made.
CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]{1,60}")
# Times the gateway stores: up to 9999-12-31T23:59:59Z, well inside the
# integers that Redis's Lua reads exactly (2**53).
LAST_INSTANT = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc).timestamp())

# Subscription statuses that grant the plan's tier. Stripe keeps serving
# past_due and unpaid subscriptions until it ends them, and so does billing.
GRANTING = frozenset({"active", "trialing", "past_due", "unpaid"})
# Statuses after which Stripe never reactivates the subscription.
ENDED = frozenset({"canceled", "incomplete_expired"})
# Statuses that owe money: the account shows past_due while its tier stays.
OWING = frozenset({"past_due", "unpaid"})
KNOWN_STATUSES = GRANTING | ENDED | {"incomplete", "paused"}

# Order of events of one subscription that share a created second, used when
# the subscription cannot be read again from Stripe: a later lifecycle step
# wins over an earlier one.
TYPE_RANK = {"customer.subscription.created": 0, "customer.subscription.updated": 1, "customer.subscription.deleted": 2}
STATUS_RANK = {
    "incomplete": 0, "trialing": 1, "active": 2, "past_due": 3, "unpaid": 4, "paused": 5,
    "canceled": 6, "incomplete_expired": 6,
}


class MalformedEvent(ValueError):
    """A signed body is not the Stripe object its type promises; the message names the field."""

    def __init__(self, message: str, part: str = "data.object"):
        super().__init__(message)
        # Where the problem is: "body" for the event itself, "data.object" for the object it carries.
        self.part = part


@dataclasses.dataclass(frozen=True)
class SubscriptionState:
    """The fields billing reads from one subscription, as of one event."""

    subscription_id: str
    customer_id: str
    status: str
    # Price ids of the subscription's items, in item order.
    price_ids: tuple[str, ...]
    # The `tier` metadata of each price, "" where a price has none.
    price_tiers: tuple[str, ...]
    # Unix seconds; 0 when Stripe sent no period.
    period_start: int
    period_end: int


# Stripe's ids are ASCII letters, digits and underscores; a legacy plan id
# chosen by hand may hold other printable characters, but never spaces.
OBJECT_ID = re.compile(r"[\x21-\x7e]{1,255}")


def object_id(value, field: str) -> str:
    """Returns the id of a field that Stripe sends as an id string or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not OBJECT_ID.fullmatch(value):
        raise MalformedEvent(f"{field} is {shown(value)}; it must be a Stripe id: 1..255 printable ASCII characters")
    return value


def customer_account_id(value, field: str = "customer") -> str:
    """Returns the customer id, which is the account id; raises MalformedEvent unless it is cus_ and 1..60 letters or digits."""
    customer_id = object_id(value, field)
    if not CUSTOMER_ID.fullmatch(customer_id):
        raise MalformedEvent(f"{field} {shown(customer_id)} is not a Stripe customer id (cus_ and up to 60 letters or digits)")
    return customer_id


def shown(value) -> str:
    """Returns a value as JSON, cut to 80 characters, for an error message."""
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def whole_seconds(value, field: str, part: str = "data.object") -> int:
    """Returns a unix time in seconds from 1970 to 9999; raises MalformedEvent naming the field otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= LAST_INSTANT:
        raise MalformedEvent(f"{field} is {shown(value)}; it must be unix seconds from 0 to {LAST_INSTANT} (year 9999)", part)
    return value


def subscription_period(subscription: dict) -> tuple[int, int]:
    """Returns (start, end) of the current period in unix seconds, (0, 0) when there is none.

    The subscription's own fields come first (API versions before
    2025-03-31). Otherwise the items' periods are used. Items of one
    subscription normally share a period. Where they differ, the earliest
    start and the latest end cover them all.
    """
    start, end = subscription.get("current_period_start"), subscription.get("current_period_end")
    if start is not None and end is not None:
        return checked_period(whole_seconds(start, "current_period_start"), whole_seconds(end, "current_period_end"), "")

    starts, ends = [], []
    for index, item in enumerate(_items(subscription)):
        item_start, item_end = item.get("current_period_start"), item.get("current_period_end")
        if item_start is None or item_end is None:
            continue
        where = f"items.data[{index}]."
        start, end = whole_seconds(item_start, where + "current_period_start"), whole_seconds(item_end, where + "current_period_end")
        checked_period(start, end, where)
        starts.append(start)
        ends.append(end)
    if not starts:
        return 0, 0
    return min(starts), max(ends)


def checked_period(start: int, end: int, where: str) -> tuple[int, int]:
    if end <= start:
        raise MalformedEvent(f"{where}current_period_end ({end}) must be after {where}current_period_start ({start})")
    return start, end


def _items(subscription: dict) -> list[dict]:
    items = subscription.get("items")
    data = items.get("data") if isinstance(items, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise MalformedEvent("items.data must be a list of subscription items")
    if not data:
        raise MalformedEvent("items.data is empty; a Stripe subscription has at least one item")
    return data


def subscription_state(subscription: dict) -> SubscriptionState:
    """Reads a subscription object; raises MalformedEvent naming the first field that is wrong."""
    if not isinstance(subscription, dict) or subscription.get("object") != "subscription":
        raise MalformedEvent("data.object must be a subscription object")
    status = subscription.get("status")
    if status not in KNOWN_STATUSES:
        raise MalformedEvent(f"status {shown(status)} is not a Stripe subscription status ({', '.join(sorted(KNOWN_STATUSES))})")

    price_ids, price_tiers = [], []
    for index, item in enumerate(_items(subscription)):
        price = item.get("price") or item.get("plan")
        price_ids.append(object_id(price, f"items.data[{index}].price"))
        metadata = price.get("metadata") if isinstance(price, dict) else None
        tier = metadata.get("tier") if isinstance(metadata, dict) else None
        price_tiers.append(tier.strip() if isinstance(tier, str) else "")

    start, end = subscription_period(subscription)
    return SubscriptionState(
        subscription_id=object_id(subscription.get("id"), "id"),
        customer_id=customer_account_id(subscription.get("customer")),
        status=status,
        price_ids=tuple(price_ids),
        price_tiers=tuple(price_tiers),
        period_start=start,
        period_end=end,
    )


def invoice_subscription_id(invoice: dict) -> str | None:
    """Returns the id of the subscription an invoice bills, or None for an invoice outside any subscription."""
    if not isinstance(invoice, dict) or invoice.get("object") != "invoice":
        raise MalformedEvent("data.object must be an invoice object")
    legacy = invoice.get("subscription")
    if legacy:
        return object_id(legacy, "subscription")
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    if isinstance(details, dict) and details.get("subscription"):
        return object_id(details["subscription"], "parent.subscription_details.subscription")
    return None

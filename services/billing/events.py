"""Applies verified Stripe events to accounts: exactly once, in order, and whole or not at all.

Each delivery of an event for one customer runs under that customer's lock:
  1. An event id that was applied before is a duplicate and changes nothing.
  2. The event becomes a new record for its subscription, unless the stored
     record is newer (stale). A canceled subscription never changes again.
     Events of one subscription that share a created second are ordered by
     reading the subscription from Stripe when STRIPE_API_KEY is set, and
     otherwise by lifecycle (created, updated, deleted) and then status.
  3. The customer's records give the account's state, which is pushed to
     the gateway with the newest event time behind it, so the gateway
     ignores it if it already holds a newer change.
  4. Only after the push succeeded are the record and the event id saved.
A failure at 3 or 4 answers 503: Stripe delivers the event again, and the
push, which carries the same state and time, is idempotent.
"""

import dataclasses
import logging
import re
import time

from prometheus_client import Counter

from defrag.keys.v1 import admin_pb2
from services.billing import stripe_objects
from services.billing.accounts import GatewayAdmin, account_target, version_of
from services.billing.ledger import Ledger, SubscriptionRecord
from services.billing.stripe_api import StripeApi, StripeUnavailable
from services.billing.stripe_objects import TYPE_RANK, STATUS_RANK, MalformedEvent, SubscriptionState

log = logging.getLogger("billing.events")

SUBSCRIPTION_EVENTS = tuple(TYPE_RANK)
INVOICE_EVENTS = ("invoice.payment_failed", "invoice.paid")
HANDLED_EVENTS = SUBSCRIPTION_EVENTS + INVOICE_EVENTS
EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,250}")
# Stripe creates an event before it sends it, so a created time ahead of
# this server's clock can only be clock drift, and only a little of it.
CLOCK_SKEW_SECONDS = 300
OUTCOMES = ("applied", "stale", "recorded", "duplicate", "unknown_price", "mode_mismatch", "ignored")

PAYMENT_FAILURES = Counter(
    "defrag_billing_payment_failures_total",
    "invoice.payment_failed events applied; each marks the account past due.",
    ["mode"],
)
UNKNOWN_PRICE_EVENTS = Counter(
    "defrag_billing_unknown_price_events_total",
    "Subscription events whose prices match no tier, so the account's tier was not changed.",
    ["mode"],
)


for _mode in ("live", "test"):
    PAYMENT_FAILURES.labels(_mode)
    UNKNOWN_PRICE_EVENTS.labels(_mode)


class CustomerBusy(Exception):
    """Another delivery for the same customer holds its lock; Stripe should retry."""


@dataclasses.dataclass(frozen=True)
class Prices:
    """Price id to tier, from STRIPE_<TIER>_PRICE_ID settings, with price metadata as the fallback."""

    tiers_by_price: dict[str, str]

    def tier_of(self, state: SubscriptionState, tier_ranks: dict[str, int]) -> tuple[str, list[str]]:
        """Returns the highest tier the subscription's prices map to ("" for none), and the prices that map to none."""
        tiers, unknown = [], []
        by_lower_name = {name.lower(): name for name in tier_ranks}
        for price_id, metadata_tier in zip(state.price_ids, state.price_tiers):
            tier = self.tiers_by_price.get(price_id) or by_lower_name.get(metadata_tier.lower(), metadata_tier)
            if tier in tier_ranks:
                tiers.append(tier)
            else:
                unknown.append(price_id)
        if not tiers:
            return "", unknown
        return max(tiers, key=tier_ranks.__getitem__), unknown


@dataclasses.dataclass(frozen=True)
class Result:
    """Outcome of one event, and the account it concerns."""

    outcome: str
    account_id: str = ""


class EventProcessor:
    """Applies events under the rules in this module's docstring."""

    def __init__(self, ledger: Ledger, gateway: GatewayAdmin, prices: Prices, stripe_apis: dict[str, StripeApi] | None = None):
        self.ledger = ledger
        self.gateway = gateway
        self.prices = prices
        # Mode ("live" or "test") -> the API client of that mode's key.
        self.stripe_apis = stripe_apis or {}

    async def apply(self, event: dict, mode: str) -> Result:
        """Applies one verified event; raises MalformedEvent, CustomerBusy, or an unavailable error."""
        event_id, event_type, created = read_envelope(event)
        if event_type not in HANDLED_EVENTS:
            return Result("ignored")
        data = event["data"].get("object")
        if event_type in INVOICE_EVENTS:
            subscription_id = stripe_objects.invoice_subscription_id(data)
            customer_id = stripe_objects.customer_account_id(data.get("customer"))
            if subscription_id is None:
                return Result("ignored", customer_id)
            state = None
        else:
            state = stripe_objects.subscription_state(data)
            customer_id, subscription_id = state.customer_id, state.subscription_id

        if await self.ledger.seen(event_id):
            return Result("duplicate", customer_id)
        token = await self.ledger.lock(customer_id)
        if token is None:
            raise CustomerBusy(customer_id)
        try:
            # Checked again under the lock: a concurrent delivery may have finished.
            if await self.ledger.seen(event_id):
                return Result("duplicate", customer_id)
            account = await self.gateway.get_account(customer_id)
            if account is not None and account.mode != mode:
                log.error("a Stripe event's mode differs from its account's; nothing was changed", extra={
                    "event_id": event_id, "account_id": customer_id, "event_mode": mode, "account_mode": account.mode,
                })
                await self.ledger.mark_seen(event_id, "mode_mismatch")
                return Result("mode_mismatch", customer_id)
            if state is None:
                outcome = await self._apply_invoice(event_id, event_type, created, customer_id, subscription_id, mode, account)
            else:
                outcome = await self._apply_subscription(event_id, event_type, created, state, mode, account)
            await self.ledger.mark_seen(event_id, outcome)
        finally:
            await self.ledger.unlock(customer_id, token)
        log.info("event processed", extra={
            "event_id": event_id, "type": event_type, "outcome": outcome, "account_id": customer_id,
            "subscription_id": subscription_id, "mode": mode,
        })
        return Result(outcome, customer_id)

    async def _apply_subscription(
        self, event_id: str, event_type: str, created: int, state: SubscriptionState, mode: str,
        account: admin_pb2.Account | None,
    ) -> str:
        records = await self.ledger.subscriptions(state.customer_id, mode)
        current = records.get(state.subscription_id, SubscriptionRecord())
        rank = (TYPE_RANK[event_type], STATUS_RANK[state.status])

        if current.known:
            if current.status in stripe_objects.ENDED or created < current.time:
                return "stale"
            if created == current.time:
                fresh = await self.read_subscription(state, mode)
                if fresh is not None:
                    # The subscription as Stripe returns it now is at least as new as either event.
                    state = fresh
                    rank = (TYPE_RANK["customer.subscription.updated"], STATUS_RANK[state.status])
                elif rank < current.rank:
                    # No API access, or Stripe no longer has the subscription: the lifecycle order decides.
                    return "stale"

        tier_ranks = await self.gateway.tier_ranks()
        tier, unknown_prices = self.prices.tier_of(state, tier_ranks)
        if not tier and state.status not in stripe_objects.ENDED:
            await self.ledger.record_unknown_prices(unknown_prices, event_id, state.customer_id)
            UNKNOWN_PRICE_EVENTS.labels(mode).inc()
            log.error("no tier matches the subscription's prices; the account's tier is unchanged", extra={
                "event_id": event_id, "account_id": state.customer_id, "price_ids": unknown_prices,
            })
            return "unknown_price"

        record = dataclasses.replace(
            current, status=state.status, tier=tier or current.tier, period_start=state.period_start,
            period_end=state.period_end, time=created, rank=rank,
        )
        return await self._push(state.customer_id, state.subscription_id, record, records, mode, account)

    async def read_subscription(self, state: SubscriptionState, mode: str) -> SubscriptionState | None:
        """Reads the subscription from Stripe with the key of the event's mode; None without one, or on a 404."""
        api = self.stripe_apis.get(mode)
        if api is None:
            return None
        fresh = await api.subscription(state.subscription_id)
        if fresh is None:
            return None
        try:
            read = stripe_objects.subscription_state(fresh)
        except MalformedEvent as error:
            raise StripeUnavailable(f"Stripe's API returned a subscription billing cannot read: {error}") from None
        if (read.subscription_id, read.customer_id) != (state.subscription_id, state.customer_id):
            raise StripeUnavailable(
                f"Stripe's API returned {read.subscription_id} of {read.customer_id} when asked for "
                f"{state.subscription_id} of {state.customer_id}"
            )
        return read

    async def _with_live_subscriptions(
        self, customer_id: str, mode: str, records: dict[str, SubscriptionRecord], tier_ranks: dict[str, int],
    ) -> tuple[dict[str, SubscriptionRecord], bool]:
        """Adds the customer's granting subscriptions that Stripe has and billing has not seen yet.

        Each is stamped with time 0, so its own events, whenever they
        arrive, are newer and apply. Also returns whether a granting
        subscription's prices map to no tier. Without an API key for the
        mode the records are returned as they are.
        """
        api = self.stripe_apis.get(mode)
        if api is None:
            return records, False
        added, unmapped_live = dict(records), False
        for subscription in await api.customer_subscriptions(customer_id):
            try:
                state = stripe_objects.subscription_state(subscription)
            except MalformedEvent:
                continue
            seen = records.get(state.subscription_id)
            if (seen is not None and seen.known) or state.customer_id != customer_id or state.status not in stripe_objects.GRANTING:
                continue
            tier, _ = self.prices.tier_of(state, tier_ranks)
            if not tier:
                unmapped_live = True
                continue
            added[state.subscription_id] = dataclasses.replace(
                seen or SubscriptionRecord(), status=state.status, tier=tier, period_start=state.period_start,
                period_end=state.period_end, time=0,
                rank=(TYPE_RANK["customer.subscription.created"], STATUS_RANK[state.status]),
            )
        return added, unmapped_live

    async def _apply_invoice(
        self, event_id: str, event_type: str, created: int, customer_id: str, subscription_id: str, mode: str,
        account: admin_pb2.Account | None,
    ) -> str:
        records = await self.ledger.subscriptions(customer_id, mode)
        current = records.get(subscription_id, SubscriptionRecord())
        outcome = "failed" if event_type == "invoice.payment_failed" else "paid"
        # A paid invoice settles a failure from the same second, never the reverse.
        if created < current.invoice_time or (created == current.invoice_time and current.invoice == "paid"):
            return "stale"
        if outcome == "failed":
            PAYMENT_FAILURES.labels(mode).inc()
            log.warning("invoice payment failed; the account is past due until an invoice is paid", extra={
                "event_id": event_id, "account_id": customer_id, "subscription_id": subscription_id,
            })
        record = dataclasses.replace(current, invoice=outcome, invoice_time=created)
        if not record.known:
            await self.ledger.save_subscription(customer_id, mode, subscription_id, record)
            return "recorded"
        return await self._push(customer_id, subscription_id, record, records, mode, account)

    async def _push(
        self, customer_id: str, subscription_id: str, record: SubscriptionRecord,
        records: dict[str, SubscriptionRecord], mode: str, account: admin_pb2.Account | None,
    ) -> str:
        """Pushes the account state the records call for, then saves the record; returns the outcome.

        `account` is the account as read under the customer's lock, before this event.
        """
        records = {**records, subscription_id: record}
        tier_ranks = await self.gateway.tier_ranks()
        target = account_target(records, tier_ranks)
        if target is not None and target.revoke_keys:
            # Revoking keys cannot be undone, and the event of a subscription
            # that replaces this one may still be on its way: ask Stripe first.
            with_live, unmapped_live = await self._with_live_subscriptions(customer_id, mode, records, tier_ranks)
            target = account_target(with_live, tier_ranks)
            if unmapped_live and target is not None and target.revoke_keys:
                log.warning("a live subscription has a price that maps to no tier, so the account is left as it is", extra={
                    "account_id": customer_id, "subscription_id": subscription_id,
                })
                target = None
        if target is not None:
            version = version_of(records)
            if target.revoke_keys and account is not None:
                # Every subscription has ended. That applies over any operator's
                # change, however new, so the keys never outlive the last one.
                version = max(version, account.version)
            pushed = await self.gateway.push(customer_id, mode, target, version)
            if pushed is None:
                # Only an account that was never created can be missing: a
                # subscription that ended or paused before billing saw it active.
                await self.ledger.save_subscription(customer_id, mode, subscription_id, record)
                return "recorded"
            if not pushed.applied:
                # The gateway has a newer change, such as an operator's.
                await self.ledger.save_subscription(customer_id, mode, subscription_id, record)
                return "stale"
        await self.ledger.save_subscription(customer_id, mode, subscription_id, record)
        return "applied"


def read_envelope(event: dict, now: float | None = None) -> tuple[str, str, int]:
    """Returns (id, type, created) of an event; raises MalformedEvent naming the field that is wrong.

    An event created more than CLOCK_SKEW_SECONDS in the future is rejected:
    it would make every real event of its subscription look stale.
    """
    if not isinstance(event, dict) or event.get("object") != "event":
        raise MalformedEvent("the body is not a Stripe event object", part="body")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        raise MalformedEvent(f"id is {stripe_objects.shown(event_id)}; it must be a Stripe event id (evt_...)", part="body")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent(f"type is {stripe_objects.shown(event_type)}; it must be an event type such as "
                             "customer.subscription.updated", part="body")
    created = stripe_objects.whole_seconds(created, "created", part="body")
    now = time.time() if now is None else now
    if created > now + CLOCK_SKEW_SECONDS:
        raise MalformedEvent(f"created ({created}) is more than {CLOCK_SKEW_SECONDS} s after this server's clock "
                             f"({int(now)}); check the clock", part="body")
    if event.get("livemode") is not None and not isinstance(event["livemode"], bool):
        raise MalformedEvent(f"livemode is {stripe_objects.shown(event.get('livemode'))}; it must be true or false", part="body")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedEvent("data.object is missing")
    return event_id, event_type, created

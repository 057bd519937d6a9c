"""`defrag billing reconcile`: brings every account in line with the subscriptions Stripe has now.

Each customer's subscriptions of one mode, as listed by Stripe, replace
billing's records of them, stamped one second before the listing began.
A record from an event created in that second or later may be newer than
the listing, so that subscription is read from Stripe again. The account
state then follows from the same rule as the webhook's, under the same
per-customer lock, so a later delivery of an event that Stripe created
before the listing began is stale, and an operator's change from the
second the listing began on stands.
NOTE: this compares this server's clock with Stripe's event times, so a
server clock that runs ahead by s seconds also hides the events Stripe
creates within s seconds after the listing began. Keep the clock synchronised.
"""

import asyncio
import collections
import dataclasses
import logging
import time

from defrag.billing.v1 import billing_pb2
from services.billing import stripe_objects
from services.billing.accounts import account_target, rfc3339, version_of
from services.billing.events import CustomerBusy, EventProcessor
from services.billing.ledger import SubscriptionRecord
from services.billing.stripe_api import StripeApi, StripeKeyRejected, StripeUnavailable
from services.billing.stripe_objects import ENDED, GRANTING, STATUS_RANK, TYPE_RANK

log = logging.getLogger("billing.reconcile")

# A webhook delivery holds a customer's lock for well under a second, or up
# to 20 s when a dependency is slow.
LOCK_WAIT_SECONDS = 25.0


class ListingFailed(Exception):
    """Stripe's API failed while the subscriptions were listed, before any account was touched."""


@dataclasses.dataclass
class Listing:
    """Every readable subscription of the configured modes, grouped by customer, with what was left out."""

    # (customer id, mode) -> that customer's subscriptions in that mode.
    by_customer: dict[tuple[str, str], list[stripe_objects.SubscriptionState]]
    read: int
    skipped: list[billing_pb2.SkippedSubscription]


async def list_subscriptions(stripe_apis: dict[str, StripeApi]) -> Listing:
    """Lists each mode's subscriptions; one that billing cannot read is skipped and reported, not fatal."""
    listing = Listing(collections.defaultdict(list), 0, [])
    for mode, api in sorted(stripe_apis.items()):
        try:
            subscriptions = await api.all_subscriptions()
        except StripeKeyRejected:
            raise
        except StripeUnavailable as error:
            raise ListingFailed(f"{mode} mode: {error}") from None
        listing.read += len(subscriptions)
        for subscription in subscriptions:
            try:
                state = stripe_objects.subscription_state(subscription)
            except stripe_objects.MalformedEvent as error:
                subscription_id = subscription.get("id") if isinstance(subscription.get("id"), str) else ""
                customer = subscription.get("customer")
                account_id = customer if isinstance(customer, str) else ""
                listing.skipped.append(billing_pb2.SkippedSubscription(
                    subscription_id=subscription_id[:255], account_id=account_id[:64], reason=f"not readable: {error}",
                ))
                log.error("reconcile skipped a subscription it cannot read", extra={
                    "subscription_id": subscription_id[:255], "error": str(error),
                })
                continue
            listing.by_customer[(state.customer_id, mode)].append(state)
    return listing


async def run(processor: EventProcessor, stripe_apis: dict[str, StripeApi], dry_run: bool) -> billing_pb2.ReconcileResponse:
    """Reads every subscription and applies (or, for a dry run, reports) what differs."""
    # Taken before the first page is read. The snapshot is stamped one second
    # earlier, so that an event or an operator's change from this second on
    # counts as newer than it (for events, Stripe is asked again).
    read_at = int(time.time())
    listing = await list_subscriptions(stripe_apis)
    tier_ranks = await processor.gateway.tier_ranks()

    response = billing_pb2.ReconcileResponse(
        subscriptions_read=listing.read, dry_run=dry_run, skipped=listing.skipped, modes=sorted(stripe_apis),
    )
    unknown_in_stripe: dict[str, str] = {}
    resolved_prices: set[str] = set()
    for (customer_id, mode), states in sorted(listing.by_customer.items()):
        token = await wait_for_lock(processor, customer_id)
        try:
            change = await _reconcile_customer(processor, customer_id, mode, states, read_at, tier_ranks, dry_run,
                                               unknown_in_stripe, resolved_prices, response)
        finally:
            await processor.ledger.unlock(customer_id, token)
        if change is not None:
            response.changes.append(change)
            log.info("reconcile changed an account" if change.applied else "reconcile found an account to change", extra={
                "account_id": customer_id, "tier_before": change.tier_before, "tier_after": change.tier_after,
                "status_before": change.status_before, "status_after": change.status_after,
                "revoked_keys": change.revoked_keys, "dry_run": dry_run,
            })

    await _list_unknown_prices(processor, response, unknown_in_stripe, resolved_prices, dry_run)
    return response


async def wait_for_lock(processor: EventProcessor, customer_id: str) -> str:
    """Takes the customer's lock, waiting up to LOCK_WAIT_SECONDS for a webhook delivery that holds it."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        token = await processor.ledger.lock(customer_id)
        if token is not None:
            return token
        if time.monotonic() > deadline:
            raise CustomerBusy(customer_id)
        await asyncio.sleep(0.1)


async def _reconcile_customer(
    processor: EventProcessor, customer_id: str, mode: str, states: list[stripe_objects.SubscriptionState],
    read_at: int, tier_ranks: dict[str, int], dry_run: bool, unknown_in_stripe: dict[str, str],
    resolved_prices: set[str], response: billing_pb2.ReconcileResponse,
) -> billing_pb2.AccountChange | None:
    before = await processor.gateway.get_account(customer_id)
    if before is not None and before.mode != mode:
        for state in states:
            response.skipped.append(billing_pb2.SkippedSubscription(
                subscription_id=state.subscription_id, account_id=customer_id,
                reason=f"its account is a {before.mode}-mode account, and the subscription is {mode}-mode",
            ))
        return None

    records = await processor.ledger.subscriptions(customer_id, mode)
    changed: list[str] = []
    unmapped_live = False
    for state in states:
        current = records.get(state.subscription_id, SubscriptionRecord())
        if current.known and current.status in ENDED:
            continue  # an ended subscription never changes
        stamp = read_at - 1
        if current.known and current.time >= read_at:
            # An event from the second the listing began, or later, may be
            # newer than what the listing saw, so ask Stripe again.
            fresh = await processor.read_subscription(state, mode)
            if fresh is None:
                continue
            state, stamp = fresh, current.time
        tier, unknown = processor.prices.tier_of(state, tier_ranks)
        resolved_prices.update(p for p in state.price_ids if p not in unknown)
        if not tier and state.status not in ENDED:
            for price_id in unknown:
                unknown_in_stripe[price_id] = customer_id
            unmapped_live = unmapped_live or state.status in GRANTING
            continue
        records[state.subscription_id] = dataclasses.replace(
            current, status=state.status, tier=tier or current.tier, period_start=state.period_start,
            period_end=state.period_end, time=stamp,
            rank=(TYPE_RANK["customer.subscription.updated"], STATUS_RANK[state.status]),
        )
        changed.append(state.subscription_id)

    target = account_target(records, tier_ranks)
    if target is None or (before is None and not target.create):
        return None
    if target.revoke_keys and unmapped_live:
        # A live subscription with an unmapped price: keys that cannot be
        # restored are not revoked until its price maps to a tier.
        return None
    tier_after = target.tier or (before.tier if before else "")
    period_after = (rfc3339(target.period_start), rfc3339(target.period_end)) if target.period_start else None
    keys_to_revoke = await processor.gateway.active_keys(customer_id) if target.revoke_keys else 0
    same = (
        before is not None
        and before.tier == tier_after
        and before.status == target.status
        and (period_after is None or period_after == (before.period_start, before.period_end))
        and keys_to_revoke == 0
    )
    if same:
        # Records still take the snapshot, so that older events stay stale.
        if not dry_run:
            await _save(processor, customer_id, mode, records, changed)
        return None

    applied, revoked = False, keys_to_revoke
    if not dry_run:
        version = version_of(records)
        if target.revoke_keys and before is not None:
            version = max(version, before.version)
        pushed = await processor.gateway.push(customer_id, mode, target, version)
        applied = pushed is not None and pushed.applied
        revoked = pushed.revoked_keys if pushed is not None else 0
        await _save(processor, customer_id, mode, records, changed)
    return billing_pb2.AccountChange(
        account_id=customer_id, mode=mode,
        tier_before=before.tier if before else "", tier_after=tier_after,
        status_before=before.status if before else "", status_after=target.status,
        applied=applied, revoked_keys=revoked,
    )


async def _save(
    processor: EventProcessor, customer_id: str, mode: str, records: dict[str, SubscriptionRecord], changed: list[str],
) -> None:
    for subscription_id in changed:
        await processor.ledger.save_subscription(customer_id, mode, subscription_id, records[subscription_id])


async def _list_unknown_prices(
    processor: EventProcessor, response: billing_pb2.ReconcileResponse, unknown_in_stripe: dict[str, str],
    resolved_prices: set[str], dry_run: bool,
) -> None:
    """Lists prices no tier matches, from events and from Stripe; removes recorded ones that now match."""
    recorded = await processor.ledger.unknown_prices()
    for price_id, record in recorded.items():
        if price_id in resolved_prices or price_id in processor.prices.tiers_by_price:
            if not dry_run:
                await processor.ledger.forget_unknown_price(price_id)
            continue
        response.unknown_prices.append(billing_pb2.UnknownPrice(
            price_id=price_id,
            events=int(record.get("events") or 0),
            last_event_id=record.get("last_event_id", ""),
            last_seen=rfc3339(int(record["last_seen"])) if record.get("last_seen") else "",
            last_account_id=record.get("last_account_id", ""),
        ))
    for price_id, customer_id in sorted(unknown_in_stripe.items()):
        if price_id not in recorded:
            response.unknown_prices.append(billing_pb2.UnknownPrice(price_id=price_id, last_account_id=customer_id))

"""`defrag billing reconcile`: brings every account in line with the subscriptions Stripe holds now.

Each customer's subscriptions, as read from Stripe, replace billing's records
of them with the time of the read, which is newer than any event before it.
The account state then follows from the same rule as the webhook's, under
the same per-customer lock. A later event that Stripe created before the
read is stale and changes nothing.
NOTE: "newer" compares this server's clock with Stripe's event times, so a
server clock that runs ahead by s seconds also hides the events Stripe
creates within s seconds after the read. Keep the clock synchronised.
"""

import asyncio
import collections
import dataclasses
import time

from defrag.billing.v1 import billing_pb2
from services.billing import stripe_objects
from services.billing.accounts import account_target, rfc3339, version_of
from services.billing.events import CustomerBusy, EventProcessor
from services.billing.ledger import SubscriptionRecord
from services.billing.stripe_api import StripeApi
from services.billing.stripe_objects import ENDED, STATUS_RANK, TYPE_RANK

# A webhook delivery holds a customer's lock for well under a second, or up
# to 20 s when a dependency is slow.
LOCK_WAIT_SECONDS = 25.0


async def run(processor: EventProcessor, stripe_api: StripeApi, dry_run: bool) -> billing_pb2.ReconcileResponse:
    """Reads every subscription and applies (or, for a dry run, reports) what differs."""
    subscriptions = await stripe_api.all_subscriptions()
    read_at = int(time.time())
    tier_ranks = await processor.gateway.tier_ranks()

    by_customer: dict[str, list[tuple[stripe_objects.SubscriptionState, str]]] = collections.defaultdict(list)
    for subscription in subscriptions:
        state = stripe_objects.subscription_state(subscription)
        mode = "live" if subscription.get("livemode") else "test"
        by_customer[state.customer_id].append((state, mode))

    response = billing_pb2.ReconcileResponse(subscriptions_read=len(subscriptions), dry_run=dry_run)
    unknown_in_stripe: dict[str, str] = {}
    resolved_prices: set[str] = set()
    for customer_id, states in sorted(by_customer.items()):
        token = await wait_for_lock(processor, customer_id)
        try:
            change = await _reconcile_customer(processor, customer_id, states, read_at, tier_ranks, dry_run,
                                               unknown_in_stripe, resolved_prices)
        finally:
            await processor.ledger.unlock(customer_id, token)
        if change is not None:
            response.changes.append(change)

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
    processor: EventProcessor, customer_id: str, states, read_at: int, tier_ranks: dict[str, int], dry_run: bool,
    unknown_in_stripe: dict[str, str], resolved_prices: set[str],
) -> billing_pb2.AccountChange | None:
    records = await processor.ledger.subscriptions(customer_id)
    mode = states[0][1]
    for state, _ in states:
        tier, unknown = processor.prices.tier_of(state, tier_ranks)
        resolved_prices.update(p for p in state.price_ids if p not in unknown)
        if not tier and state.status not in ENDED:
            for price_id in unknown:
                unknown_in_stripe[price_id] = customer_id
            continue
        current = records.get(state.subscription_id, SubscriptionRecord())
        records[state.subscription_id] = dataclasses.replace(
            current, status=state.status, tier=tier or current.tier, period_start=state.period_start,
            period_end=state.period_end, time=read_at,
            rank=(TYPE_RANK["customer.subscription.updated"], STATUS_RANK[state.status]),
        )

    target = account_target(records, tier_ranks)
    if target is None:
        return None
    before = await processor.gateway.get_account(customer_id)
    if before is None and not target.create:
        return None
    tier_after = target.tier or (before.tier if before else "")
    period_after = (rfc3339(target.period_start), rfc3339(target.period_end)) if target.period_start else None
    same = (
        before is not None
        and before.tier == tier_after
        and before.status == target.status
        and (period_after is None or period_after == (before.period_start, before.period_end))
    )
    applied = False
    if not dry_run:
        pushed = await processor.gateway.push(customer_id, mode, target, version_of(records))
        applied = pushed is not None and pushed.applied
        for state, _ in states:
            if state.subscription_id in records:
                await processor.ledger.save_subscription(customer_id, state.subscription_id, records[state.subscription_id])
    if same:
        return None
    return billing_pb2.AccountChange(
        account_id=customer_id, mode=mode,
        tier_before=before.tier if before else "", tier_after=tier_after,
        status_before=before.status if before else "", status_after=target.status,
        applied=applied,
    )


async def _list_unknown_prices(
    processor: EventProcessor, response: billing_pb2.ReconcileResponse, unknown_in_stripe: dict[str, str],
    resolved_prices: set[str], dry_run: bool,
) -> None:
    """Lists prices no tier matches, from events and from Stripe; forgets recorded ones that now match."""
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

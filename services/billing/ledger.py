"""Billing's own records in Redis: delivered events, each customer's subscriptions, unknown prices.

Keys:
  dfg:billing:event:<event id>          an event that was applied or ignored,
                                        kept EVENT_TTL_SECONDS (Stripe retries
                                        a delivery for up to three days)
  dfg:{<customer id>}:billing:subs:<mode>
                                        hash: subscription id -> JSON record,
                                        one per mode ("live", "test"), so
                                        the modes' records never mix
  dfg:{<customer id>}:billing:lock      held while one delivery changes the
                                        customer, at most LOCK_TTL_MS
  dfg:billing:unknown_prices            set of price ids that no tier matched
  dfg:billing:unknown_price:<price id>  hash: events, last_event_id,
                                        last_seen, last_account_id

A customer's records share the account's hash tag, so they live in one
Redis Cluster slot with the account. Every command and script here touches
one key, so none crosses slots. Nothing here contains a name, an email
address or a payment detail: only ids, statuses, tiers and times.
"""

import dataclasses
import json
import secrets
import time

from defrag.platform import redis_client
from defrag.platform.redis_client import Script
from defrag.platform.redis_errors import UNAVAILABLE_ERRORS

EVENT_TTL_SECONDS = 30 * 86_400
# Longer than one delivery may take (APPLY_TIMEOUT_SECONDS in
# services/billing/service.py), so a lock outlives the delivery that holds
# it. A billing process that dies while holding one blocks that customer's
# deliveries (409, which Stripe retries) for at most this long.
LOCK_TTL_MS = 20_000
UNKNOWN_PRICES = "dfg:billing:unknown_prices"

RELEASE_LOCK = Script("""
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
""")


class LedgerUnavailable(Exception):
    """Redis could not be reached or did not respond in time."""


def event_key(event_id: str) -> str:
    return f"dfg:billing:event:{event_id}"


def subscriptions_key(customer_id: str, mode: str) -> str:
    return f"dfg:{{{customer_id}}}:billing:subs:{mode}"


def lock_key(customer_id: str) -> str:
    return f"dfg:{{{customer_id}}}:billing:lock"


def unknown_price_key(price_id: str) -> str:
    return f"dfg:billing:unknown_price:{price_id}"


@dataclasses.dataclass
class SubscriptionRecord:
    """Billing's view of one subscription: its newest state and its newest invoice outcome."""

    status: str = ""
    # The tier its prices map to; "" while no subscription event was applied.
    tier: str = ""
    period_start: int = 0
    period_end: int = 0
    # Stripe event time (unix seconds) of the state above, and the tie rank
    # (event type rank, status rank) of that event.
    time: int = 0
    rank: tuple[int, int] = (0, 0)
    # "failed" or "paid": the newest invoice event, and its time.
    invoice: str = ""
    invoice_time: int = 0

    @property
    def known(self) -> bool:
        """Whether a subscription event (not only an invoice) was applied."""
        return bool(self.status)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "SubscriptionRecord":
        fields = json.loads(text)
        fields["rank"] = tuple(fields.get("rank") or (0, 0))
        return cls(**fields)


class Ledger:
    """Async access to billing's records."""

    def __init__(self, url: str, timeout_seconds: float = 1.0, *, cluster: bool = False):
        self.redis = redis_client.connect(
            url, cluster, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds, decode_responses=True,
        )

    async def close(self) -> None:
        await self.redis.aclose()

    async def _call(self, awaitable):
        try:
            return await awaitable
        except UNAVAILABLE_ERRORS as error:
            raise LedgerUnavailable(str(error) or type(error).__name__) from None

    async def ping(self) -> None:
        await self._call(self.redis.ping())

    async def seen(self, event_id: str) -> bool:
        return bool(await self._call(self.redis.exists(event_key(event_id))))

    async def mark_seen(self, event_id: str, outcome: str) -> None:
        await self._call(self.redis.set(event_key(event_id), outcome, ex=EVENT_TTL_SECONDS))

    async def lock(self, customer_id: str) -> str | None:
        """Takes the customer's lock; returns its token, or None while another delivery holds it."""
        token = secrets.token_hex(16)
        taken = await self._call(self.redis.set(lock_key(customer_id), token, nx=True, px=LOCK_TTL_MS))
        return token if taken else None

    async def unlock(self, customer_id: str, token: str) -> None:
        """Releases the lock if this token still holds it. A failure leaves it to expire."""
        try:
            await RELEASE_LOCK.run(self.redis, [lock_key(customer_id)], [token])
        except UNAVAILABLE_ERRORS:
            pass

    async def subscriptions(self, customer_id: str, mode: str) -> dict[str, SubscriptionRecord]:
        raw = await self._call(self.redis.hgetall(subscriptions_key(customer_id, mode)))
        return {sub_id: SubscriptionRecord.from_json(text) for sub_id, text in raw.items()}

    async def save_subscription(self, customer_id: str, mode: str, subscription_id: str, record: SubscriptionRecord) -> None:
        await self._call(self.redis.hset(subscriptions_key(customer_id, mode), subscription_id, record.to_json()))

    async def record_unknown_prices(self, price_ids: list[str], event_id: str, account_id: str) -> None:
        """Counts the prices that no tier matched, for `defrag billing reconcile` to list."""
        for price_id in price_ids:
            await self._call(self.redis.sadd(UNKNOWN_PRICES, price_id))
            await self._call(self.redis.hincrby(unknown_price_key(price_id), "events", 1))
            await self._call(self.redis.hset(unknown_price_key(price_id), mapping={
                "last_event_id": event_id, "last_seen": int(time.time()), "last_account_id": account_id,
            }))

    async def unknown_prices(self) -> dict[str, dict[str, str]]:
        price_ids = await self._call(self.redis.smembers(UNKNOWN_PRICES))
        return {price_id: await self._call(self.redis.hgetall(unknown_price_key(price_id))) for price_id in sorted(price_ids)}

    async def forget_unknown_price(self, price_id: str) -> None:
        await self._call(self.redis.srem(UNKNOWN_PRICES, price_id))
        await self._call(self.redis.delete(unknown_price_key(price_id)))

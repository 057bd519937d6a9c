"""Turns a customer's subscriptions into one account state and pushes it to the gateway's admin API."""

import dataclasses
import datetime as dt
import time

import grpc
from prometheus_client import Histogram

from defrag.keys.v1 import admin_pb2, admin_pb2_grpc
from services.billing.ledger import SubscriptionRecord
from services.billing.stripe_objects import ENDED, GRANTING, OWING

# How long one admin call may take before billing gives up and replies to
# Stripe with 503, so that Stripe delivers the event again later.
PUSH_TIMEOUT_SECONDS = 3.0
# The gateway's tiers change only with its configuration file, so billing
# reads them again at most this often.
TIERS_TTL_SECONDS = 60.0


PUSH_LATENCY = Histogram(
    "defrag_billing_gateway_push_seconds",
    "Time of one account change pushed to the gateway's admin API, by result (applied, ignored as older, failed).",
    ["result"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0),
)
for _result in ("applied", "ignored", "not_found", "failed"):
    PUSH_LATENCY.labels(_result)


class GatewayUnavailable(Exception):
    """The gateway's admin API could not be reached, or failed, so nothing was changed."""


@dataclasses.dataclass(frozen=True)
class AccountTarget:
    """The account state that a customer's subscriptions call for."""

    # None keeps the account's tier (a canceled or paused account).
    tier: str | None
    status: str
    period_start: int = 0
    period_end: int = 0
    # Revoke every key: the customer has no subscription left.
    revoke_keys: bool = False
    # Create the account when it does not exist (only for a granting subscription).
    create: bool = False


def owes(record: SubscriptionRecord) -> bool:
    """Tells whether the subscription is behind on payment, by whichever of its events is newer."""
    if record.invoice and record.invoice_time > record.time:
        return record.invoice == "failed"
    return record.status in OWING


def account_target(records: dict[str, SubscriptionRecord], tier_ranks: dict[str, int]) -> AccountTarget | None:
    """Returns the state the account should have, or None when its subscriptions call for no change.

    The subscription that grants the highest tier governs (the newest one
    among equals). With none granting, an account whose subscriptions have
    all ended is canceled and its keys are revoked. A paused one is
    canceled with its keys kept, so that resuming restores it. A customer
    with only incomplete subscriptions (a first payment still pending) gets
    no account change.
    """
    known = [r for r in records.values() if r.known]
    granting = [r for r in known if r.status in GRANTING and r.tier in tier_ranks]
    if granting:
        best = max(granting, key=lambda r: (tier_ranks[r.tier], r.time))
        return AccountTarget(
            tier=best.tier,
            status="past_due" if owes(best) else "active",
            period_start=best.period_start,
            period_end=best.period_end,
            create=True,
        )
    if known and all(r.status in ENDED for r in known):
        return AccountTarget(tier=None, status="canceled", revoke_keys=True)
    if any(r.status == "paused" for r in known):
        return AccountTarget(tier=None, status="canceled")
    return None


def version_of(records: dict[str, SubscriptionRecord]) -> int:
    """Returns the newest Stripe event time behind the records, which the gateway orders changes by."""
    return max((max(r.time, r.invoice_time) for r in records.values()), default=0)


def rfc3339(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class GatewayAdmin:
    """The gateway's admin API, as billing uses it."""

    def __init__(self, address: str, token: str):
        self.address = address
        # A gateway that restarts is found again within a second or two, not
        # after gRPC's default back-off of up to two minutes.
        self.channel = grpc.aio.insecure_channel(address, options=[
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ])
        self.stub = admin_pb2_grpc.KeyAdminServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),)
        self._ranks: dict[str, int] = {}
        self._ranks_read_at = 0.0

    async def close(self) -> None:
        await self.channel.close()

    async def _call(self, method: str, request):
        try:
            # wait_for_ready: while the gateway reconnects, the call waits up to
            # its timeout instead of failing at once.
            return await getattr(self.stub, method)(
                request, metadata=self.metadata, timeout=PUSH_TIMEOUT_SECONDS, wait_for_ready=True,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                raise
            raise GatewayUnavailable(f"{method} failed with {error.code().name}: {error.details()}") from None

    async def tier_ranks(self) -> dict[str, int]:
        """Returns each tier's rank, higher for more: by monthly quota, no cap highest."""
        if self._ranks and time.monotonic() - self._ranks_read_at < TIERS_TTL_SECONDS:
            return self._ranks
        listed = await self._call("ListTiers", admin_pb2.ListTiersRequest())
        ordered = sorted(listed.tiers, key=lambda t: (t.quota_unlimited, t.monthly_quota, len(t.methods), t.name))
        self._ranks = {tier.name: rank for rank, tier in enumerate(ordered)}
        self._ranks_read_at = time.monotonic()
        return self._ranks

    async def get_account(self, account_id: str) -> admin_pb2.Account | None:
        try:
            return await self._call("GetAccount", admin_pb2.GetAccountRequest(account_id=account_id))
        except grpc.aio.AioRpcError:
            return None

    async def active_keys(self, account_id: str) -> int:
        """Returns how many of the account's keys are active (0 for an account that does not exist)."""
        try:
            listed = await self._call("ListKeys", admin_pb2.ListKeysRequest(account_id=account_id))
        except grpc.aio.AioRpcError:
            return 0
        return sum(1 for key in listed.keys if key.status == "active")

    async def push(self, account_id: str, mode: str, target: AccountTarget, event_time: int) -> admin_pb2.UpdateAccountResponse | None:
        """Applies the target with the Stripe event time; returns None when the account does not exist and may not be created."""
        request = admin_pb2.UpdateAccountRequest(
            account_id=account_id, status=target.status, source_event_time=event_time, revoke_keys=target.revoke_keys,
        )
        if target.tier is not None:
            request.tier = target.tier
        if target.period_start and target.period_end > target.period_start:
            request.period_start = rfc3339(target.period_start)
            request.period_end = rfc3339(target.period_end)
        if target.create:
            request.create_mode = mode
        started = time.perf_counter()
        result = "failed"
        try:
            reply = await self._call("UpdateAccount", request)
            result = "applied" if reply.applied else "ignored"
            return reply
        except grpc.aio.AioRpcError:
            result = "not_found"
            return None
        finally:
            PUSH_LATENCY.labels(result).observe(time.perf_counter() - started)

"""GET /v1/usage: the caller's tier, quota, use and window, free on every tier."""

import grpc

from defrag.keys.v1 import usage_pb2, usage_pb2_grpc
from defrag.platform.errors import ApiError
from services.gateway.store import NotFound, Store, StoreUnavailable, rfc3339
from services.gateway.tiers import Tier


def store_unavailable() -> ApiError:
    """Returns the 503 that every gateway method gives while Redis cannot be reached."""
    return ApiError(
        grpc.StatusCode.UNAVAILABLE, "REDIS_UNAVAILABLE", "the quota store is unavailable; retry after 1 second",
        retry_after_seconds=1,
    )


async def read_usage(store: Store, tiers: dict[str, Tier], account_id: str) -> usage_pb2.Usage:
    """Builds the Usage message of one account; raises ApiError for a missing account or Redis."""
    try:
        account = await store.get_account(account_id)
        state = await store.usage(account_id)
    except NotFound:
        raise ApiError(grpc.StatusCode.NOT_FOUND, "ACCOUNT_NOT_FOUND", f"account {account_id!r} does not exist; create it first") from None
    except StoreUnavailable:
        raise store_unavailable() from None

    tier = tiers.get(account["tier"])
    usage = usage_pb2.Usage(
        account_id=account_id,
        mode=account.get("mode", "live"),
        tier=account["tier"],
        status=account.get("status", "active"),
        used=min(state.used, 2**32 - 1),
        window_start=rfc3339(state.window_start),
        resets_at=rfc3339(state.window_end),
        burst_per_second=tier.burst_per_second if tier else 0,
        period_start=rfc3339(account.get("period_start")),
        period_end=rfc3339(account.get("period_end")),
    )
    if tier is None or tier.monthly_quota is None:
        usage.quota_unlimited = tier is not None
    else:
        usage.monthly_quota = tier.monthly_quota
        usage.remaining = max(0, tier.monthly_quota - state.used)
    return usage


class UsageServicer(usage_pb2_grpc.UsageServiceServicer):
    """Serves the public usage method behind ext_authz, which sets x-defrag-account-id."""

    def __init__(self, store: Store, tiers: dict[str, Tier]):
        self.store = store
        self.tiers = tiers

    async def GetUsage(self, request, context):
        metadata = dict(context.invocation_metadata() or ())
        account_id = metadata.get("x-defrag-account-id")
        if not account_id:
            raise ApiError(
                grpc.StatusCode.UNAUTHENTICATED, "API_KEY_MISSING",
                "no API key; call through the public listener with 'Authorization: Bearer <key>'",
            )
        return await read_usage(self.store, self.tiers, account_id)

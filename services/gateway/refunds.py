"""Refunds of charges whose metering reply reached the gateway after it had returned 503.

Redis can run the metering script before its deadline and then stall (a
slow command, a fork, a pause) before the reply goes out. The gateway has
then returned 503 REDIS_UNAVAILABLE, so the call never reached the service,
but the account was charged. When the pipelined client still receives that
reply, LateChargeRefunder undoes the charge with refund.lua.
"""

import asyncio
import logging

from prometheus_client import Counter
from redis.exceptions import RedisError

from services.gateway.pipeline import ScriptError
from services.gateway.store import Charge, Store, StoreUnavailable

log = logging.getLogger("gateway.refunds")

LATE_CHARGE_REFUNDS = Counter(
    "defrag_gateway_late_charge_refunds_total",
    "Charges whose metering reply came after the gateway had returned 503 REDIS_UNAVAILABLE, by result: "
    "refunded; window_ended (the quota window is over, so the charge is kept); used_since (a replay or Envoy's "
    "repeat of the call was admitted after the charge, so the charge is kept); failed (the refund did not run).",
    ["result"],
)
# refund.lua's outcomes, by the result label they count under. ALREADY_REFUNDED
# means that an earlier attempt for the same charge ran although its reply was lost.
RESULTS = {
    "REFUNDED": "refunded",
    "ALREADY_REFUNDED": "refunded",
    "WINDOW_ENDED": "window_ended",
    "USED_SINCE": "used_since",
}
FAILED = "failed"
KEPT_MESSAGES = {
    "window_ended": "late charge kept, because its quota window has ended",
    "used_since": "late charge kept, because a replay or retry of the call was admitted since",
}
# Attempts to run one refund while Redis is unavailable; refund.lua's marker
# makes a second run of a refund that did run change nothing.
REFUND_ATTEMPTS = 3
REFUND_RETRY_PAUSE_SECONDS = 1.0


class LateChargeRefunder:
    """Refunds late charges in background tasks, then counts and logs each outcome."""

    def __init__(self, store: Store, attempts: int = REFUND_ATTEMPTS, pause_seconds: float = REFUND_RETRY_PAUSE_SECONDS):
        self.store = store
        self.attempts = attempts
        self.pause_seconds = pause_seconds
        self._tasks: set[asyncio.Task] = set()
        for result in [*RESULTS.values(), FAILED]:
            LATE_CHARGE_REFUNDS.labels(result)

    def schedule(self, charge: Charge, request_id: str) -> None:
        """Starts the refund of one late charge and returns at once; the event loop must be running."""
        task = asyncio.get_running_loop().create_task(self._refund(charge, request_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Waits until every refund started so far has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _refund(self, charge: Charge, request_id: str) -> None:
        ids = {"request_id": request_id, "account_id": charge.account_id}
        outcome, error, attempts = "", "", 0
        while attempts < self.attempts:
            if attempts:
                await asyncio.sleep(self.pause_seconds)
            attempts += 1
            try:
                outcome = await self.store.refund(charge)
            except StoreUnavailable as unavailable:
                error = str(unavailable) or "Redis is unavailable"
                continue
            except (ScriptError, RedisError) as failure:
                # An error reply from the script itself: another run would fail alike.
                error = f"{type(failure).__name__}: {failure}"
            break

        result = RESULTS.get(outcome)
        if result is None:
            LATE_CHARGE_REFUNDS.labels(FAILED).inc()
            if outcome:
                error = f"refund.lua returned {outcome[:40]!r}"
            log.warning(
                "refunding a late charge failed, so the account may stay charged for a call that was not admitted",
                extra={**ids, "error": error[:200], "attempts": attempts},
            )
            return
        LATE_CHARGE_REFUNDS.labels(result).inc()
        log.info("late charge refunded" if result == "refunded" else KEPT_MESSAGES[result], extra=ids)

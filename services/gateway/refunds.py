"""Refunds of charges for calls that never reached a service.

Two causes share one mechanism, refund.lua through Store.refund:

- A late charge. Redis can run the metering script before its deadline and
  then stall (a slow command, a fork, a pause) before the reply goes out.
  The gateway has then returned 503 REDIS_UNAVAILABLE, so the call never
  reached the service, but the account was charged. When the pipelined
  client still receives that reply, the gateway refunds the charge.
- An undelivered call. The gateway admitted and charged the call, and then
  Envoy found no service replica to take it (none healthy, no connection,
  a full connection pool) and returned 503 itself. Envoy's access log
  reports such a call to the gateway (services/gateway/undelivered.py).

Each cause has its own counter and log messages, so that an operator can
tell a Redis stall from a service outage.
"""

import asyncio
import dataclasses
import logging

from prometheus_client import Counter
from redis.exceptions import RedisError

from defrag.platform.logs import RepeatLimiter
from services.gateway.pipeline import ScriptError
from services.gateway.store import Charge, Store, StoreUnavailable

log = logging.getLogger("gateway.refunds")

LATE_CHARGE_REFUNDS = Counter(
    "defrag_gateway_late_charge_refunds_total",
    "Charges whose metering reply came after the gateway had returned 503 REDIS_UNAVAILABLE, by result: "
    "refunded; window_ended (the quota window is over, so the charge is kept); used_since (a replay or Envoy's "
    "repeat of the call was admitted after the charge, so the charge is kept); failed (no attempt got refund.lua's "
    "reply in time; each attempt has a deadline, so the charge is kept unless Redis ran one in time and its reply "
    "was lost, which the gateway logs when that reply arrives late).",
    ["result"],
)
UNDELIVERED_CALL_REFUNDS = Counter(
    "defrag_gateway_undelivered_call_refunds_total",
    "Charged calls that Envoy answered with 503 because no service replica could take them (response flags UH, "
    "UF or UO), by result: refunded; window_ended (the quota window is over, so the charge is kept); used_since "
    "(a replay or Envoy's repeat of the call was admitted after the charge, or Envoy's log entry came after the "
    "10 s check record expired, so the charge is kept); sent_upstream (Envoy sent request bytes to a replica "
    "before the failure, so the call may have run and the charge is kept); invalid (the entry's charge could "
    "not be read, or does not match the charge that its check record stores, so nothing is refunded); failed (no "
    "attempt got refund.lua's reply in time; each attempt has a deadline, so the charge is kept unless Redis ran "
    "one in time and its reply was lost, which the gateway logs when that reply arrives late).",
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
# refund.lua's outcome for a charge that differs from its check record, such
# as a forged access log entry. It counts under the cause's mismatch_result,
# and as failed for a cause without one.
CHARGE_MISMATCH = "CHARGE_MISMATCH"
# At most one warning per interval about charges that do not match their check record.
MISMATCH_LOG_INTERVAL_SECONDS = 60.0
# Attempts to run one refund while Redis is unavailable; refund.lua's marker
# makes a second run of a refund that did run change nothing.
REFUND_ATTEMPTS = 3
REFUND_RETRY_PAUSE_SECONDS = 1.0


@dataclasses.dataclass(frozen=True)
class RefundCause:
    """Why a charge is refunded: the counter of its outcomes and the words of its log lines."""

    counter: Counter
    # The charge as the log lines name it, such as "late charge".
    subject: str
    # The warning when a refund did not run.
    failure_message: str
    # Result labels that the caller counts itself, initialised with the others.
    extra_results: tuple[str, ...] = ()
    # The result label of CHARGE_MISMATCH, or None to count it as failed.
    mismatch_result: str | None = None

    def messages(self) -> dict[str, str]:
        """Return the log message of each result but "failed"."""
        return {
            "refunded": f"{self.subject} refunded",
            "window_ended": f"{self.subject} kept, because its quota window has ended",
            "used_since": f"{self.subject} kept, because a replay or retry of the call was admitted since",
        }


LATE_CHARGE = RefundCause(
    LATE_CHARGE_REFUNDS, "late charge",
    "refunding a late charge failed, so the account may stay charged for a call that was not admitted",
)
UNDELIVERED_CALL = RefundCause(
    UNDELIVERED_CALL_REFUNDS, "undelivered call",
    "refunding an undelivered call failed, so the account may stay charged for a call that no service replica received",
    extra_results=("sent_upstream", "invalid"),
    mismatch_result="invalid",
)


class ChargeRefunder:
    """Refunds charges of one cause in background tasks, then counts and logs each outcome."""

    def __init__(
        self,
        store: Store,
        cause: RefundCause = LATE_CHARGE,
        attempts: int = REFUND_ATTEMPTS,
        pause_seconds: float = REFUND_RETRY_PAUSE_SECONDS,
    ):
        self.store = store
        self.cause = cause
        self.messages = cause.messages()
        self.attempts = attempts
        self.pause_seconds = pause_seconds
        self.mismatch_logs = RepeatLimiter(MISMATCH_LOG_INTERVAL_SECONDS)
        self._tasks: set[asyncio.Task] = set()
        for result in [*RESULTS.values(), FAILED, *cause.extra_results]:
            cause.counter.labels(result)

    def schedule(self, charge: Charge, request_id: str) -> None:
        """Starts the refund of one charge and returns at once; the event loop must be running."""
        task = asyncio.get_running_loop().create_task(self._refund(charge, request_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Waits until every refund started so far has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _refund(self, charge: Charge, request_id: str) -> None:
        ids = {"request_id": request_id, "account_id": charge.account_id}
        # The result counted so far, which a late reply's log line reports.
        counted = {"result": ""}

        def on_late_outcome(reply) -> None:
            if reply == "REFUNDED":
                self._log_late_refund(ids, counted["result"])

        outcome, error, attempts = "", "", 0
        while attempts < self.attempts:
            if attempts:
                await asyncio.sleep(self.pause_seconds)
            attempts += 1
            try:
                outcome = await self.store.refund(charge, on_late_outcome=on_late_outcome)
            except StoreUnavailable as unavailable:
                error = str(unavailable) or "Redis is unavailable"
                continue
            except (ScriptError, RedisError) as failure:
                # An error reply from the script itself: another run would fail alike.
                error = f"{type(failure).__name__}: {failure}"
            break

        if outcome == CHARGE_MISMATCH and self.cause.mismatch_result is not None:
            counted["result"] = self.cause.mismatch_result
            self.cause.counter.labels(self.cause.mismatch_result).inc()
            skipped = self.mismatch_logs.allow()
            if skipped is not None:
                log.warning(
                    f"{self.cause.subject} not refunded, because it does not match the charge that its check record stores",
                    extra={**ids, "repeats_not_logged": skipped},
                )
            return
        result = RESULTS.get(outcome)
        if result is None:
            counted["result"] = FAILED
            self.cause.counter.labels(FAILED).inc()
            if outcome:
                error = f"refund.lua returned {outcome[:40]!r}"
            log.warning(
                self.cause.failure_message,
                extra={**ids, "error": error[:200], "attempts": attempts},
            )
            return
        counted["result"] = result
        self.cause.counter.labels(result).inc()
        log.info(self.messages[result], extra=ids)

    def _log_late_refund(self, ids: dict, counted: str) -> None:
        """Log that an attempt which timed out did refund: a warning when the refund was counted as failed."""
        message = f"{self.cause.subject} refunded by an attempt whose reply came after the refunder stopped waiting"
        if counted == FAILED:
            log.warning(message, extra={**ids, "counted": counted})
        else:
            log.info(message, extra={**ids, "counted": counted or "not yet"})

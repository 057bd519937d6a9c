"""The billing service's gRPC shell: Stripe webhook intake and the operator's reconcile call."""

import asyncio
import json
import logging
import time

import grpc
import stripe
from prometheus_client import Counter, Histogram

from defrag.billing.v1 import billing_pb2, billing_pb2_grpc
from defrag.platform.admin_token import check_admin_token
from defrag.platform.errors import ApiError, FieldViolation, invalid_argument
from defrag.platform.server import MAX_ID_LENGTH
from services.billing import events, reconcile
from services.billing.accounts import GatewayAdmin, GatewayUnavailable
from services.billing.events import CustomerBusy, EventProcessor
from services.billing.ledger import Ledger, LedgerUnavailable
from services.billing.stripe_api import StripeApi, StripeKeyRejected, StripeUnavailable
from services.billing.stripe_objects import MalformedEvent

log = logging.getLogger("billing")

# Stripe's own default: a signature older than five minutes is a replay.
SIGNATURE_TOLERANCE_SECONDS = 300
# The edge's body limit, 1 MiB and a gRPC frame header (413 above it);
# Stripe's events are far smaller. A native gRPC call, which the edge does
# not measure, gets 400 above it.
MAX_EVENT_BYTES = 1024 * 1024 + 5
# Maximum time for one event, below the route's 20 s timeout in Envoy
# and the customer lock's lifetime (services/billing/ledger.py).
APPLY_TIMEOUT_SECONDS = 15.0
SIGNATURE_FAILURE_REASONS = ("missing", "malformed", "mismatch", "expired", "future")

EVENTS = Counter(
    "defrag_billing_events_total",
    "Stripe events received with a valid signature, by event type and outcome "
    "(applied, stale, recorded, duplicate, unknown_price, mode_mismatch, ignored, busy, unavailable, malformed).",
    ["type", "outcome"],
)
SIGNATURE_FAILURES = Counter(
    "defrag_billing_signature_failures_total",
    "Webhook deliveries rejected with 400 because the Stripe-Signature header was missing, malformed, wrong or expired.",
    ["reason"],
)
APPLY_LATENCY = Histogram(
    "defrag_billing_event_apply_seconds",
    "Time to apply one verified event, gateway push and Redis writes included, by event type.",
    ["type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
OTHER_TYPE = "other"


def signature_failure_reason(error: stripe.SignatureVerificationError) -> str:
    """Classifies the stripe library's verification error for the metric and the message."""
    text = str(error.user_message or error)
    if text.startswith("No Stripe-Signature header"):
        return "missing"
    if text.startswith("Timestamp outside the tolerance zone"):
        return "expired"
    if text.startswith("No signatures found matching"):
        return "mismatch"
    return "malformed"


def signature_timestamp(header: str) -> int:
    """Returns the first t= value of a verified Stripe-Signature header, read as the stripe library reads it."""
    for part in header.split(","):
        name, _, value = part.partition("=")
        if name == "t":
            return int(value)
    raise ValueError("no t= in a verified Stripe-Signature header")


SIGNATURE_MESSAGES = {
    "missing": "the Stripe-Signature header is missing; deliveries must come from a Stripe webhook endpoint",
    "malformed": "the Stripe-Signature header is malformed; it must be t=<unix seconds>,v1=<hex HMAC-SHA256>",
    "mismatch": (
        "no v1 signature in Stripe-Signature matches the body under the configured signing secret; check that "
        "STRIPE_WEBHOOK_SECRET (or STRIPE_WEBHOOK_SECRET_TEST) is this endpoint's secret and that nothing rewrote the body"
    ),
    "expired": (
        f"the Stripe-Signature timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} seconds old, so the delivery "
        "is treated as a replay; check the server clock, or let Stripe deliver the event again"
    ),
    "future": (
        f"the Stripe-Signature timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} seconds ahead of this server's "
        "clock; check the server clock"
    ),
}


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    """Verifies each delivery's signature, then hands the event to the processor."""

    def __init__(self, processor: EventProcessor | None, secrets: list[tuple[str, str]]):
        # (mode, signing secret) for each configured secret; mode is "live" or "test".
        self.processor = processor
        self.secrets = secrets
        for event_type in (*events.HANDLED_EVENTS, OTHER_TYPE):
            APPLY_LATENCY.labels(event_type)
            for outcome in events.OUTCOMES:
                EVENTS.labels(event_type, outcome)
        for reason in SIGNATURE_FAILURE_REASONS:
            SIGNATURE_FAILURES.labels(reason)

    def verify(self, payload: str, header: str) -> str:
        """Returns the mode whose secret signed the payload; raises a 400 ApiError otherwise."""
        reason = "mismatch"
        for mode, secret in self.secrets:
            try:
                stripe.WebhookSignature.verify_header(payload, header, secret, SIGNATURE_TOLERANCE_SECONDS)
            except stripe.SignatureVerificationError as error:
                reason = signature_failure_reason(error)
                if reason != "mismatch":
                    break
                continue
            # The library rejects only old timestamps; one far ahead of this
            # clock would keep a captured delivery replayable for as long.
            if signature_timestamp(header) <= time.time() + SIGNATURE_TOLERANCE_SECONDS:
                return mode
            reason = "future"
            break
        SIGNATURE_FAILURES.labels(reason).inc()
        log.warning("webhook signature rejected", extra={"reason": reason})
        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "STRIPE_SIGNATURE_INVALID", SIGNATURE_MESSAGES[reason],
                       metadata={"signature_failure": reason})

    async def HandleWebhook(self, request, context):
        if not self.secrets or self.processor is None:
            raise ApiError(
                grpc.StatusCode.UNAVAILABLE, "WEBHOOK_NOT_CONFIGURED",
                "the webhook has no signing secret configured; set STRIPE_WEBHOOK_SECRET (and STRIPE_WEBHOOK_SECRET_TEST "
                "for a test-mode endpoint) and restart billing. Stripe delivers the event again later",
                retry_after_seconds=60,
            )
        check_request_id(context)
        if len(request.data) > MAX_EVENT_BYTES:
            raise invalid_argument([FieldViolation("body", f"is {len(request.data)} bytes, over the {MAX_EVENT_BYTES}-byte limit for a Stripe event")])
        try:
            payload = request.data.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_argument([FieldViolation("body", "is not UTF-8 text; Stripe sends JSON in UTF-8")]) from None
        headers = [value for key, value in context.invocation_metadata() or () if key == "stripe-signature"]
        if len(headers) > 1:
            SIGNATURE_FAILURES.labels("malformed").inc()
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "STRIPE_SIGNATURE_INVALID",
                           "Stripe-Signature was sent more than once; Stripe sends one header with every signature in it",
                           metadata={"signature_failure": "malformed"})
        mode = self.verify(payload, headers[0] if headers else "")

        event, label = self.read_event(payload, mode)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(APPLY_TIMEOUT_SECONDS):
                result = await self.processor.apply(event, mode)
        except MalformedEvent as error:
            raise self.unreadable(event, label, error) from None
        except CustomerBusy:
            EVENTS.labels(label, "busy").inc()
            raise ApiError(
                grpc.StatusCode.ABORTED, "CUSTOMER_BUSY",
                "another event for this customer is being applied; Stripe delivers this one again later",
                retry_after_seconds=1,
            ) from None
        except (GatewayUnavailable, LedgerUnavailable, StripeUnavailable, TimeoutError) as error:
            EVENTS.labels(label, "unavailable").inc()
            cause = dependency_name(error)
            log.error("event not applied; replying 503 so that Stripe retries", extra={
                "event_id": event["id"], "type": event["type"], "error": str(error) or cause,
            })
            raise ApiError(
                grpc.StatusCode.UNAVAILABLE, "BILLING_DEPENDENCY_UNAVAILABLE",
                f"the event was not applied, because {cause}; nothing changed, and Stripe delivers the event again later",
                retry_after_seconds=5,
            ) from None
        APPLY_LATENCY.labels(label).observe(time.perf_counter() - started)
        EVENTS.labels(label, result.outcome).inc()
        return billing_pb2.WebhookReply(
            received=True, event_id=event["id"], type=event["type"], outcome=result.outcome, account_id=result.account_id,
        )

    def read_event(self, payload: str, mode: str) -> tuple[dict, str]:
        """Parses a verified payload and checks its envelope and mode; returns the event and its metric label."""
        try:
            event = json.loads(payload)
        except json.JSONDecodeError as error:
            EVENTS.labels(OTHER_TYPE, "malformed").inc()
            raise invalid_argument([FieldViolation("body", f"is not JSON ({error.msg} at line {error.lineno}, column {error.colno})")]) from None
        except RecursionError:
            EVENTS.labels(OTHER_TYPE, "malformed").inc()
            raise invalid_argument([FieldViolation("body", "nests arrays or objects too deeply to be a Stripe event")]) from None
        except ValueError as error:
            # Python's limit on the digits of an integer (4,300 by default).
            EVENTS.labels(OTHER_TYPE, "malformed").inc()
            raise invalid_argument([FieldViolation("body", f"holds a number billing cannot read ({error})")]) from None
        try:
            json.dumps(event, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            EVENTS.labels(OTHER_TYPE, "malformed").inc()
            raise invalid_argument([FieldViolation(
                "body", "is invalid: a \\u escape encodes an unpaired UTF-16 surrogate, which is no character. Stripe never sends one",
            )]) from None
        envelope = event if isinstance(event, dict) else {}
        label = envelope.get("type") if envelope.get("type") in events.HANDLED_EVENTS else OTHER_TYPE
        try:
            events.read_envelope(event)
        except MalformedEvent as error:
            raise self.unreadable(envelope, label, error) from None
        if event.get("livemode") is not None and event["livemode"] != (mode == "live"):
            EVENTS.labels(label, "malformed").inc()
            raise invalid_argument([FieldViolation(
                "livemode", f"is {str(event['livemode']).lower()}, but the event is signed with the {mode}-mode secret; "
                "point each Stripe endpoint at the secret of its own mode",
            )], reason="STRIPE_MODE_MISMATCH")
        return event, label

    @staticmethod
    def unreadable(envelope: dict, label: str, error: MalformedEvent) -> ApiError:
        """Counts and logs a signed event billing cannot read, and returns its 400."""
        EVENTS.labels(label, "malformed").inc()
        # Stripe signed it, so a shape billing cannot read may mean an API version it does not know.
        log.error("signed event not readable; replying 400", extra={
            "event_id": str(envelope.get("id", ""))[:80], "type": str(envelope.get("type", ""))[:80],
            "error": str(error), "api_version": str(envelope.get("api_version", ""))[:40],
        })
        return invalid_argument([FieldViolation(error.part, str(error))], reason="STRIPE_EVENT_INVALID")


def check_request_id(context) -> None:
    """Applies the gateway's x-request-id rule, which this route, outside ext_authz, would otherwise skip."""
    values = [value for key, value in context.invocation_metadata() or () if key == "x-request-id"]
    if not values:
        return
    value = values[0]
    if len(values) > 1 or "," in value:
        problem = "has more than one value (a repeated header or a comma)"
    elif len(value) > MAX_ID_LENGTH:
        problem = f"is {len(value)} characters long, over the limit of {MAX_ID_LENGTH}"
    elif not (value.isascii() and value.isprintable()):
        problem = "is not printable ASCII"
    else:
        return
    raise ApiError(
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST_ID",
        f"x-request-id {problem}. Send one UUID, or leave the header out and the edge makes one",
        violations=[FieldViolation("x-request-id", problem)],
    )


def dependency_name(error: Exception) -> str:
    """Names what failed, for a 503's message."""
    if isinstance(error, GatewayUnavailable):
        return "the gateway's admin API is unavailable"
    if isinstance(error, LedgerUnavailable):
        return "Redis is unavailable"
    if isinstance(error, StripeKeyRejected):
        return "Stripe rejected billing's API key for this mode"
    if isinstance(error, StripeUnavailable):
        return "Stripe's API is unavailable"
    return f"applying it took over {APPLY_TIMEOUT_SECONDS:g} s"


class BillingAdminServicer(billing_pb2_grpc.BillingAdminServiceServicer):
    """The operator's calls; each checks the admin token first."""

    def __init__(self, processor: EventProcessor | None, stripe_apis: dict[str, StripeApi], token: str):
        self.processor = processor
        self.stripe_apis = stripe_apis
        self.token = token.encode()

    async def Reconcile(self, request, context):
        check_admin_token(context, self.token)
        if not self.stripe_apis or self.processor is None:
            raise ApiError(
                grpc.StatusCode.FAILED_PRECONDITION, "STRIPE_API_NOT_CONFIGURED",
                "reconcile reads subscriptions from Stripe's API; set STRIPE_API_KEY (live) or STRIPE_API_KEY_TEST "
                "(test) for billing and restart it",
            )
        try:
            return await reconcile.run(self.processor, self.stripe_apis, dry_run=request.dry_run)
        except CustomerBusy as busy:
            raise ApiError(
                grpc.StatusCode.ABORTED, "CUSTOMER_BUSY",
                f"an event for customer {busy} was being applied for too long; run reconcile again",
                retry_after_seconds=5,
            ) from None
        except StripeKeyRejected as error:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, "STRIPE_API_KEY_REJECTED",
                           f"reconcile changed nothing: {error}") from None
        except reconcile.ListingFailed as error:
            raise ApiError(
                grpc.StatusCode.UNAVAILABLE, "BILLING_DEPENDENCY_UNAVAILABLE",
                f"reconcile changed nothing, because the subscriptions could not be listed: {error}; run it again later",
                retry_after_seconds=5,
            ) from None
        except (GatewayUnavailable, LedgerUnavailable, StripeUnavailable) as error:
            raise ApiError(
                grpc.StatusCode.UNAVAILABLE, "BILLING_DEPENDENCY_UNAVAILABLE",
                f"reconcile stopped, because {dependency_name(error)} ({error}); accounts done before "
                "the failure are up to date, and running it again finishes the rest",
                retry_after_seconds=5,
            ) from None

def register(servicer: BillingServicer, admin: BillingAdminServicer, server: grpc.aio.Server):
    billing_pb2_grpc.add_BillingServiceServicer_to_server(servicer, server)
    billing_pb2_grpc.add_BillingAdminServiceServicer_to_server(admin, server)
    return [billing_pb2.DESCRIPTOR.services_by_name["BillingService"], billing_pb2.DESCRIPTOR.services_by_name["BillingAdminService"]]

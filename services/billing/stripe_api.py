"""Reads subscriptions from Stripe's API, for ties between events and for `defrag billing reconcile`.

The stripe library's client is synchronous, so each call runs in a worker
thread. Requests carry the pinned API version, so the objects read here
have the shape the webhook endpoint is configured for. A key reads one
mode's objects only, so billing keeps one client per configured key.
"""

import asyncio
import time
from collections.abc import Iterator

import stripe

# The stripe library (16.1.0) retries connection errors, 409s and 5xx, and
# any reply with Stripe-Should-Retry: true, with back-off. A 429 without
# that header is retried here, after its Retry-After, up to RATE_LIMIT_RETRIES
# times. REQUEST_TIMEOUT_SECONDS bounds each socket read, not a whole reply.
NETWORK_RETRIES = 1
REQUEST_TIMEOUT_SECONDS = 4.0
RATE_LIMIT_RETRIES = 2
MAX_RATE_LIMIT_WAIT_SECONDS = 5.0
PAGE_SIZE = 100


class StripeUnavailable(Exception):
    """Stripe's API could not be reached, or failed; the message names the failure."""


class StripeKeyRejected(StripeUnavailable):
    """Stripe rejected the API key (401 or 403): retrying will not help until the key is fixed."""


class StripeApi:
    """The few Stripe endpoints billing reads, with one key of one mode."""

    def __init__(self, api_key: str, api_version: str, base_url: str | None = None):
        addresses = {"api": base_url} if base_url else None
        self.client = stripe.StripeClient(
            api_key, stripe_version=api_version, base_addresses=addresses, max_network_retries=NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=REQUEST_TIMEOUT_SECONDS),
        )

    async def subscription(self, subscription_id: str) -> dict | None:
        """Returns one subscription as plain JSON data, or None when Stripe has no such subscription (404)."""
        def read():
            try:
                return self.client.v1.subscriptions.retrieve(subscription_id).to_dict()
            except stripe.InvalidRequestError as error:
                if error.http_status == 404:
                    return None
                raise

        return await asyncio.to_thread(self._call, read)

    async def all_subscriptions(self) -> list[dict]:
        """Returns every subscription of the key's mode, of any status, newest first."""
        return await asyncio.to_thread(self._call, lambda: list(self._pages()))

    async def customer_subscriptions(self, customer_id: str) -> list[dict]:
        """Returns every subscription of one customer, of any status."""
        return await asyncio.to_thread(self._call, lambda: list(self._pages(customer=customer_id)))

    def _pages(self, **filters) -> Iterator[dict]:
        page = self.client.v1.subscriptions.list(params={"status": "all", "limit": PAGE_SIZE, **filters})
        for subscription in page.auto_paging_iter():
            yield subscription.to_dict()

    @staticmethod
    def _call(read):
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                return read()
            except stripe.RateLimitError as error:
                if attempt == RATE_LIMIT_RETRIES:
                    raise StripeUnavailable("Stripe's API kept rate-limiting the requests (429)") from None
                time.sleep(retry_after(error))
            except stripe.AuthenticationError:
                raise StripeKeyRejected("Stripe rejected the API key (401); set a valid secret or restricted key") from None
            except stripe.PermissionError:
                raise StripeKeyRejected("the API key may not read subscriptions (403); give it read access to them") from None
            except stripe.StripeError as error:
                status = f" ({error.http_status})" if error.http_status else ""
                raise StripeUnavailable(f"Stripe's API failed{status}: {type(error).__name__}") from None
        raise AssertionError("unreachable")


def retry_after(error: stripe.StripeError) -> float:
    """Returns the wait in seconds that a 429's Retry-After requests, at most MAX_RATE_LIMIT_WAIT_SECONDS, 1 without one."""
    headers = error.headers or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "1")
    try:
        return min(max(float(value), 0.0), MAX_RATE_LIMIT_WAIT_SECONDS)
    except ValueError:
        return 1.0

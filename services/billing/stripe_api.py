"""Reads subscriptions from Stripe's API, for ties between events and for `defrag billing reconcile`.

The stripe library's client is synchronous, so each call runs in a worker
thread. Requests carry the pinned API version, so the objects read here
have the shape the webhook endpoint is configured for.
"""

import asyncio
from collections.abc import Iterator

import stripe

# The library retries connection errors, 409s, 429s and 5xx with back-off.
# One retry and a 4 s timeout per request keep a same-second read inside
# the webhook route's 20 s timeout (deploy/envoy/envoy.yaml.tmpl) next to
# the gateway calls; the library's own default timeout is 80 s.
NETWORK_RETRIES = 1
REQUEST_TIMEOUT_SECONDS = 4.0
PAGE_SIZE = 100


class StripeUnavailable(Exception):
    """Stripe's API could not be reached or rejected the call; the message says which."""


class StripeApi:
    """The few Stripe endpoints billing reads."""

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
        """Returns every subscription in the account, of any status, newest first."""
        return await asyncio.to_thread(self._call, lambda: list(self._pages()))

    def _pages(self) -> Iterator[dict]:
        page = self.client.v1.subscriptions.list(params={"status": "all", "limit": PAGE_SIZE})
        for subscription in page.auto_paging_iter():
            yield subscription.to_dict()

    @staticmethod
    def _call(read):
        try:
            return read()
        except stripe.AuthenticationError:
            raise StripeUnavailable("Stripe rejected STRIPE_API_KEY (401); set a valid secret or restricted key") from None
        except stripe.PermissionError:
            raise StripeUnavailable("STRIPE_API_KEY may not read subscriptions (403); give the key read access to them") from None
        except stripe.StripeError as error:
            status = f" ({error.http_status})" if error.http_status else ""
            raise StripeUnavailable(f"Stripe's API failed{status}: {type(error).__name__}") from None

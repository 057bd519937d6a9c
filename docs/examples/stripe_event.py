"""Sends one signed Stripe event to the local webhook, as Stripe would, to check a billing set-up without Stripe.

    STRIPE_WEBHOOK_SECRET_TEST=whsec_... python3 docs/examples/stripe_event.py created cus_Demo1 price_Pro1
    STRIPE_WEBHOOK_SECRET_TEST=whsec_... python3 docs/examples/stripe_event.py deleted cus_Demo1 price_Pro1

The secret must be the one billing runs with. The event is a test-mode
customer.subscription.<created|updated|deleted> event in the shape of API
version 2025-03-31 and later, for the subscription sub_<customer id>, with a
one-month period that started an hour ago. DEFRAG_URL is the public
listener, http://127.0.0.1:8080 by default. It prints the webhook's reply,
and exits with status 1 on an error reply.
"""

import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8080"
ACTIONS = ("created", "updated", "deleted")


def event(action: str, customer: str, price: str) -> dict:
    """Builds a test-mode subscription event; the period lives on the item, as from API version 2025-03-31."""
    now = int(time.time())
    item = {
        "id": f"si_{customer[4:]}", "object": "subscription_item",
        "current_period_start": now - 3600, "current_period_end": now - 3600 + 30 * 86_400,
        "price": {"id": price, "object": "price", "metadata": {}},
    }
    subscription = {
        "id": f"sub_{customer[4:]}", "object": "subscription", "customer": customer, "livemode": False,
        "status": "canceled" if action == "deleted" else "active",
        "items": {"object": "list", "data": [item]},
    }
    return {
        "id": f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": "2026-10-28.endive",
        "created": now, "livemode": False, "type": f"customer.subscription.{action}", "data": {"object": subscription},
    }


def signature(body: bytes, secret: str) -> str:
    """Signs the body as Stripe does: HMAC-SHA256 of "<unix seconds>.<body>" under the endpoint's secret."""
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ACTIONS or not argv[1].startswith("cus_") or not argv[2].startswith("price_"):
        print(f"usage: stripe_event.py {{{'|'.join(ACTIONS)}}} cus_CUSTOMER price_PRICE", file=sys.stderr)
        return 2
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET_TEST", "")
    if not secret.startswith("whsec_"):
        print("set STRIPE_WEBHOOK_SECRET_TEST to the test-mode signing secret that billing runs with", file=sys.stderr)
        return 2

    body = json.dumps(event(*argv)).encode()
    url = os.environ.get("DEFRAG_URL", DEFAULT_URL).rstrip("/") + "/v1/stripe/webhook"
    headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature(body, secret)}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            print(reply.status, reply.read().decode())
            return 0
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode(), file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"cannot reach {url}: {error.reason}; is `make run` running?", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Run the billing service: `python -m services.billing`.

Settings (environment):
  BILLING_PORT                 gRPC port, default 50101 (0 picks a free port)
  BILLING_METRICS_PORT         Prometheus /metrics port, default 9151
  DEFRAG_BIND_HOST             address for both listeners, default 127.0.0.1
  REDIS_URL                    Redis for billing's records (required);
                               redis:// or rediss://, with REDIS_CLUSTER any
                               one node
  REDIS_CLUSTER                true when REDIS_URL names a node of a Redis
                               Cluster, default false (one Redis server)
  DEFRAG_ADMIN_ADDR            the gateway's admin API, host:port (required)
  DEFRAG_ADMIN_TOKEN           the admin API's token (required); the
                               reconcile call requires it too
  STRIPE_WEBHOOK_SECRET        signing secret (whsec_...) of the live-mode
                               endpoint; its events make live accounts.
                               Several may be listed, separated by commas,
                               while a secret is rotated.
  STRIPE_WEBHOOK_SECRET_TEST   signing secret of the test-mode endpoint; its
                               events make test accounts. With neither
                               setting, every delivery gets 503.
  STRIPE_FREE_PRICE_ID, STRIPE_PRO_PRICE_ID, STRIPE_ENTERPRISE_PRICE_ID
                               price ids (price_...) of each tier; several
                               may be given, separated by commas (monthly
                               and yearly prices, live and test prices). A
                               price not listed maps to the tier named by
                               its `tier` metadata.
  STRIPE_API_KEY               live-mode secret or restricted key
                               (sk_live_ or rk_live_) with read access to
                               subscriptions, for reconcile and for
                               ordering live events of the same second
  STRIPE_API_KEY_TEST          the same for test mode (sk_test_ or rk_test_)
  STRIPE_API_VERSION           API version of the requests, and the one to
                               give the webhook endpoint; default: the
                               version the stripe library pins
  STRIPE_API_BASE              Stripe's API address, default
                               https://api.stripe.com (the tests point it
                               at a local server)
  DEFRAG_LOG_LEVEL             log level, default INFO
"""

import logging
import re

import stripe

from defrag.platform import redis_client
from defrag.platform.config import ConfigError, env_int, env_str
from defrag.platform.server import run_service, run_until_signal, start
from services.billing import service
from services.billing.accounts import GatewayAdmin
from services.billing.events import EventProcessor, Prices
from services.billing.ledger import Ledger
from services.billing.stripe_api import StripeApi

PRICE_SETTINGS = {"STRIPE_FREE_PRICE_ID": "free", "STRIPE_PRO_PRICE_ID": "pro", "STRIPE_ENTERPRISE_PRICE_ID": "enterprise"}
PRICE_ID = re.compile(r"(price|plan)_[A-Za-z0-9_]{1,250}")


def price_map() -> dict[str, str]:
    """Reads the STRIPE_<TIER>_PRICE_ID settings; raises ConfigError for a value that is not a price id."""
    tiers: dict[str, str] = {}
    for name, tier in PRICE_SETTINGS.items():
        for price_id in filter(None, (part.strip() for part in env_str(name, "").split(","))):
            if not PRICE_ID.fullmatch(price_id):
                raise ConfigError(f"{name} lists {price_id[:80]!r}, which is not a Stripe price id (price_...); fix the value")
            if tiers.get(price_id, tier) != tier:
                raise ConfigError(f"{name} lists {price_id}, which another tier's setting lists too; give each price one tier")
            tiers[price_id] = tier
    return tiers


def webhook_secrets() -> list[tuple[str, str]]:
    """Reads the signing secrets as (mode, secret) pairs; a setting may list several, separated by commas."""
    secrets = []
    for mode, name in (("live", "STRIPE_WEBHOOK_SECRET"), ("test", "STRIPE_WEBHOOK_SECRET_TEST")):
        for value in filter(None, (part.strip() for part in env_str(name, "").split(","))):
            if not value.startswith("whsec_"):
                raise ConfigError(f"{name} lists a value that does not start with whsec_; copy the endpoint's signing secret from Stripe")
            secrets.append((mode, value))
    return secrets


def stripe_clients() -> dict[str, StripeApi]:
    """Makes one Stripe API client per configured key, by mode; raises ConfigError for a key of the wrong kind."""
    base_url = env_str("STRIPE_API_BASE", "").strip() or None
    if base_url and not base_url.startswith(("https://", "http://")):
        raise ConfigError(f"STRIPE_API_BASE={base_url[:80]!r} is not an http(s) URL; leave it unset for Stripe's own API")
    version = env_str("STRIPE_API_VERSION", stripe.api_version)
    clients = {}
    for mode, name in (("live", "STRIPE_API_KEY"), ("test", "STRIPE_API_KEY_TEST")):
        key = env_str(name, "").strip()
        if not key:
            continue
        if not key.startswith((f"sk_{mode}_", f"rk_{mode}_")):
            raise ConfigError(f"{name} must be a {mode}-mode secret or restricted key (sk_{mode}_ or rk_{mode}_); "
                              "a publishable key (pk_) cannot read subscriptions")
        clients[mode] = StripeApi(key, version, base_url)
    return clients


async def serve() -> None:
    port = env_int("BILLING_PORT", 50101, minimum=0, maximum=65535)
    metrics_port = env_int("BILLING_METRICS_PORT", 9151, minimum=1, maximum=65535)
    host = env_str("DEFRAG_BIND_HOST", "127.0.0.1")
    token = env_str("DEFRAG_ADMIN_TOKEN")
    secrets = webhook_secrets()
    prices = Prices(price_map())
    stripe_apis = stripe_clients()

    redis_url, cluster = env_str("REDIS_URL"), redis_client.cluster_enabled()
    ledger = Ledger(redis_url, cluster=cluster)
    await redis_client.check_server_mode(redis_url, cluster)
    gateway = GatewayAdmin(env_str("DEFRAG_ADMIN_ADDR"), token)
    processor = EventProcessor(ledger, gateway, prices, stripe_apis)
    webhook = service.BillingServicer(processor, secrets)
    admin = service.BillingAdminServicer(processor, stripe_apis, token)

    # The stripe library logs every request at INFO; its errors reach billing's own log lines.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    running = await start("billing", port, lambda server: service.register(webhook, admin, server),
                          host=host, metrics_port=metrics_port)
    if not secrets:
        service.log.warning("no webhook signing secret is set; every delivery gets 503 until STRIPE_WEBHOOK_SECRET is set")

    async def close() -> None:
        await gateway.close()
        await ledger.close()

    await run_until_signal(running, on_stop=close)


def main() -> int:
    return run_service("billing", serve)


if __name__ == "__main__":
    raise SystemExit(main())

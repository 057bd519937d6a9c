"""The Stripe webhook through Envoy: time to apply an event, a duplicate, and a rejected signature.

It starts a mesh (one gateway, one billing process) with a signing secret
made for the run, then sends signed customer.subscription.created events
over REST on one keep-alive connection, one at a time:
  applied    a new customer each time: verify, lock, Redis, the gateway's
             admin API (read and one atomic update), then the records
  duplicate  the same event again: verify and one Redis read
  rejected   a wrong signature: Envoy, the transcoder and the verification
The rejected row is the floor of the route, so the applied/rejected ratio
is the cost of applying an event relative to receiving one. Stripe sends
events one customer at a time and retries slow ones, so latency matters
more here than throughput.

Run it alone with `python -m bench.billing`; `make bench` runs it too.
"""

import hashlib
import hmac
import http.client
import json
import pathlib
import secrets
import statistics
import sys
import time

from bench import cpu, standalone
from bench.counters import bucket_bound_ms, samples
from bench.session import BENCH_TIERS
from defrag.mesh import Mesh, Ports
from defrag.platform.config import ROOT

DEFAULT_VAR = ROOT / "var" / "bench-billing"
PRICE = "price_BenchPro01"
APPLY_METRIC = "defrag_billing_event_apply_seconds_bucket"
KINDS = ("applied", "duplicate", "rejected")


def created_event(number: int, now: int) -> bytes:
    """Returns a customer.subscription.created event of the 2025-03-31 shape for customer number `number`."""
    subscription = {
        "id": f"sub_Bench{number}", "object": "subscription", "customer": f"cus_Bench{number}", "status": "active",
        "livemode": False,
        "items": {"object": "list", "data": [{
            "id": f"si_Bench{number}", "object": "subscription_item",
            "current_period_start": now - 3600, "current_period_end": now + 30 * 86_400,
            "price": {"id": PRICE, "object": "price", "metadata": {}},
        }]},
    }
    event = {"id": f"evt_Bench{number}", "object": "event", "type": "customer.subscription.created", "created": now,
             "livemode": False, "api_version": "2026-10-28.endive", "data": {"object": subscription}}
    return json.dumps(event).encode()


def signature(body: bytes, secret: str) -> str:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def percentile(values: list[float], cut: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[cut - 1]


def measure(var: pathlib.Path, seconds: float) -> dict:
    """Start the mesh and time each kind of delivery for `seconds`; return latencies in ms and the service's buckets."""
    secret = "whsec_" + secrets.token_hex(24)
    env = {"STRIPE_WEBHOOK_SECRET_TEST": secret, "STRIPE_PRO_PRICE_ID": PRICE}
    mesh = Mesh(var, Ports.free(gateway_workers=1), tiers=BENCH_TIERS, env=env)
    mesh.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", mesh.ports.public, timeout=10)
        numbers = iter(range(1, 10**9))

        def deliver(body: bytes, header: str, expected: int) -> float:
            started = time.perf_counter()
            connection.request("POST", "/v1/stripe/webhook", body, {"Content-Type": "application/json", "Stripe-Signature": header})
            reply = connection.getresponse()
            reply.read()
            elapsed = (time.perf_counter() - started) * 1000
            if reply.status != expected:
                raise RuntimeError(f"the webhook replied {reply.status}, expected {expected}; see {mesh.logs}")
            return elapsed

        def load(kind: str, duration: float) -> list[float]:
            repeated = created_event(0, int(time.time()))
            latencies = []
            deadline = time.perf_counter() + duration
            while time.perf_counter() < deadline:
                if kind == "applied":
                    body = created_event(next(numbers), int(time.time()))
                    latencies.append(deliver(body, signature(body, secret), 200))
                elif kind == "duplicate":
                    latencies.append(deliver(repeated, signature(repeated, secret), 200))
                else:
                    latencies.append(deliver(repeated, signature(repeated, "whsec_wrong"), 400))
            return latencies

        load("applied", 1.0)
        load("duplicate", 0.5)
        load("rejected", 0.5)
        before = {float(l["le"]): v for l, v in samples(mesh.ports.billing_metrics[0], APPLY_METRIC)
                  if l["type"] == "customer.subscription.created"}
        results = {"applied": load("applied", seconds)}
        after = {float(l["le"]): v for l, v in samples(mesh.ports.billing_metrics[0], APPLY_METRIC)
                 if l["type"] == "customer.subscription.created"}
        results["duplicate"] = load("duplicate", seconds)
        results["rejected"] = load("rejected", seconds)
        connection.close()
        peak_rss_mib = {name: cpu.peak_rss_mib(process.pid) for name, process in mesh.processes.items()}
    finally:
        mesh.stop()
    return {"seconds": seconds, "latencies": results, "peak_rss_mib": peak_rss_mib,
            "service_buckets": {bound: after[bound] - before.get(bound, 0) for bound in after}}


def result_line(result: dict) -> str:
    parts = []
    for kind in KINDS:
        values = result["latencies"][kind]
        parts.append(f"{kind} {len(values) / result['seconds']:,.0f}/s p50 {percentile(values, 50):.2f} ms p99 {percentile(values, 99):.2f} ms")
    return "billing webhook, 1 in flight: " + "; ".join(parts)


def markdown(result: dict) -> list[str]:
    """Return the billing section of BENCHMARKS.md."""
    latencies = result["latencies"]
    floor = percentile(latencies["rejected"], 50)
    lines = [
        "## Stripe webhook",
        "",
        "`bench/billing.py`: signed `customer.subscription.created` events (2025-03-31 shape) over REST through Envoy,",
        "one at a time on one keep-alive connection, to one billing process and one gateway. \"applied\" is a new customer",
        "each time (signature, lock, Redis, the gateway's admin API, records); \"duplicate\" delivers one event again;",
        "\"rejected\" has a wrong signature, the floor of the route. The ratio is each row's p50 over the rejected p50,",
        "measured in the same run. \"In the service\" is the bucket of billing's apply histogram. No target is set: Stripe",
        "waits seconds for a reply, so these figures show headroom, not a limit.",
        "",
        "| delivery | events/s | p50 ms | p99 ms | p50 / rejected p50 |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        values = latencies[kind]
        p50 = percentile(values, 50)
        lines.append(f"| {kind} | {len(values) / result['seconds']:,.0f} | {p50:.2f} | {percentile(values, 99):.2f} | {p50 / floor:.2f} |")
    buckets = result["service_buckets"]
    lines.append(f"| applied, in the service (histogram bucket) | | <= {bucket_bound_ms(buckets, 0.5):g} | <= {bucket_bound_ms(buckets, 0.99):g} | |")
    peaks = sorted(result["peak_rss_mib"].items(), key=lambda item: -item[1])
    lines += ["", "Peak resident memory of each process after these loads (VmHWM, MiB): "
              + "; ".join(f"{name} {mib:.0f}" for name, mib in peaks) + "."]
    return lines


def main(argv: list[str] | None = None) -> int:
    return standalone.main(
        "bench.billing", __doc__.splitlines()[0], DEFAULT_VAR, 5.0, "length of each kind's load",
        measure, lambda result: [result_line(result)], markdown, argv,
    )


if __name__ == "__main__":
    sys.exit(main())

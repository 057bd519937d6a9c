"""The SEDA service alone under gRPC load: audit latency for a 2,000-character text, and health checks meanwhile.

It starts a private Redis and one SEDA process on free 127.0.0.1 ports and
calls Audit straight on the service's port (no Envoy, no gateway). The
client measures each call, which includes one loopback gRPC hop and the
Python client. The service's own time comes from its request-duration
histogram, so it is known only to a bucket's upper bound. A second task
sends a gRPC health check every 20 ms during the load and records how long
each took, which shows whether scoring blocks the event loop. It measures
the service as shipped and then with SEDA_ENCODER=off (the rules and the
n-gram model alone), one process after the other in the same run.

Run it alone with `python -m bench.seda`; `make bench` runs it too.
"""

import asyncio
import dataclasses
import pathlib
import statistics
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import cpu, standalone
from bench.counters import bucket_bound_ms, samples
from bench.session import BENCH_TIERS
from defrag.mesh import Mesh, Ports
from defrag.platform.config import ROOT
from defrag.seda.v1 import seda_pb2, seda_pb2_grpc

DEFAULT_VAR = ROOT / "var" / "bench-seda"
TEXT_LENGTH = 2_000
# Calls in flight at once: one shows the latency of a lone call, eight a
# service that has a queue.
IN_FLIGHT_LEVELS = (1, 8)
HEALTH_INTERVAL_SECONDS = 0.02
TARGET_P99_MS = 10.0
# SEDA_ENCODER values, as shipped first.
ENCODER_SETTINGS = ("on", "off")
AUDIT_METHOD = "/defrag.seda.v1.SedaService/Audit"

# Ordinary journal sentences with some distress, each used once. The scorer reads a repeated
# sentence once, so a text of repeats would time a text shorter than its length.
SENTENCES = (
    "Woke up early again and could not get back to sleep. ",
    "Work was a lot today and I felt overwhelmed by the inbox. ",
    "Called my sister in the evening, which helped a little. ",
    "I keep wondering whether any of this is going to get better. ",
    "Made soup, watched the rain, tried to read for a while. ",
    "The bus was late twice this week and I missed the first meeting on Tuesday. ",
    "My manager asked for the quarterly figures by Friday, so the evenings are gone. ",
    "Went for a short walk at lunch and the park smelled of cut grass. ",
    "I forgot to reply to three messages from friends and now it feels awkward. ",
    "The landlord finally fixed the heating, which is one less thing to think about. ",
    "Spent too long scrolling before bed and regretted it in the morning. ",
    "My knee aches on the stairs, I should book the physio again. ",
    "Tried the new bakery on the corner; the rye bread was worth the queue. ",
    "I feel a bit flat most afternoons, like the colour has drained out of things. ",
    "Mum sent photos of the garden and the tomatoes are finally turning red. ",
    "Paid the electricity bill and the number made me wince. ",
    "Started a jigsaw of a lighthouse that has far too much sky in it. ",
    "The neighbour's dog barked for an hour and I could not concentrate on anything. ",
    "Booked a dentist appointment I have been putting off since spring. ",
    "Watched a documentary about octopuses and felt calm for the first time in days. ",
    "I keep making lists and then losing them under other lists. ",
    "A colleague said my presentation was clear, which I did not expect. ",
    "Cleaned the kitchen properly and found a spoon I thought was lost. ",
    "The evenings are getting darker and I notice my mood dipping with them. ",
    "Planning to try the swimming pool on Saturday if the lanes are quiet. ",
    "Read two chapters of the novel my friend lent me and liked the main character. ",
    "I should drink more water and less coffee, I say this every week. ",
    "Tomorrow I will try to leave the laptop closed after seven. ",
    "The train home was packed and someone played music without headphones the whole way. ",
    "Ordered a new notebook because the old one is full of half-finished plans. ",
)


def journal_text(length: int = TEXT_LENGTH) -> str:
    """Return a text of exactly `length` code points of distinct SENTENCES; raise ValueError when they are too short."""
    text = "".join(SENTENCES)
    if len(text) < length:
        raise ValueError(f"SENTENCES hold {len(text)} code points, fewer than {length}: add sentences")
    return text[:length]


@dataclasses.dataclass
class SedaResult:
    """One measured load on the SEDA service."""

    encoder: str  # the SEDA_ENCODER setting
    in_flight: int
    seconds: float
    latencies_ms: list[float]
    health_ms: list[float]
    health_failures: int
    # Calls per histogram bucket (upper bound in seconds) during the load, as the service measured them.
    service_buckets: dict[float, int]
    # The SEDA process's peak resident memory since it started, read after this load (MiB).
    peak_rss_mib: float = 0.0

    @property
    def calls_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, values: list[float], cut: int) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[cut - 1]

    @property
    def p50_ms(self) -> float:
        return self.percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return self.percentile(self.latencies_ms, 99)

    @property
    def health_p99_ms(self) -> float:
        return self.percentile(self.health_ms, 99)

    @property
    def health_max_ms(self) -> float:
        return max(self.health_ms)

    def service_bound_ms(self, share: float) -> float:
        """Return the upper bound, in ms, of the first bucket by which `share` of the calls had finished."""
        return bucket_bound_ms(self.service_buckets, share)


def audit_buckets(metrics_port: int) -> dict[float, int]:
    """Return the service's cumulative Audit duration buckets: upper bound in seconds -> calls."""
    found = samples(metrics_port, "defrag_grpc_request_duration_seconds_bucket")
    return {float(labels["le"]): value for labels, value in found if labels["method"] == AUDIT_METHOD}


async def _call_until(stub, request, deadline: float, latencies: list[float]) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        await stub.Audit(request, metadata=[("x-request-id", "bench")], timeout=10)
        latencies.append((time.perf_counter() - started) * 1000)


async def _check_health_until(channel, deadline: float, waits: list[float]) -> int:
    """Send health checks until the deadline, record each wait, and return how many failed or were not SERVING."""
    stub = health_pb2_grpc.HealthStub(channel)
    check = health_pb2.HealthCheckRequest(service="defrag.seda.v1.SedaService")
    failures = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            reply = await stub.Check(check, timeout=0.5)
            failures += reply.status != health_pb2.HealthCheckResponse.SERVING
        except grpc.aio.AioRpcError:
            failures += 1
        waits.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(HEALTH_INTERVAL_SECONDS)
    return failures


async def _load(encoder: str, address: str, metrics_port: int, in_flight: int, seconds: float,
                warm_up_seconds: float) -> SedaResult:
    request = seda_pb2.AuditRequest(journal_text=journal_text(), locale="en-US", context="journal_prompt")
    # Separate channels, so the health checks do not queue behind audits on one HTTP/2 connection.
    async with grpc.aio.insecure_channel(address) as load_channel, grpc.aio.insecure_channel(address) as health_channel:
        stub = seda_pb2_grpc.SedaServiceStub(load_channel)
        await _call_until(stub, request, time.perf_counter() + warm_up_seconds, [])

        latencies: list[float] = []
        waits: list[float] = []
        before = audit_buckets(metrics_port)
        started = time.perf_counter()
        deadline = started + seconds
        health = asyncio.create_task(_check_health_until(health_channel, deadline, waits))
        await asyncio.gather(*(_call_until(stub, request, deadline, latencies) for _ in range(in_flight)))
        failures = await health
        elapsed = time.perf_counter() - started
        after = audit_buckets(metrics_port)
    buckets = {bound: after[bound] - before.get(bound, 0) for bound in after}
    return SedaResult(encoder, in_flight, elapsed, latencies, waits, failures, buckets)


def measure(var: pathlib.Path, seconds: float, warm_up_seconds: float = 1.0) -> list[SedaResult]:
    """Run each load of IN_FLIGHT_LEVELS on each of ENCODER_SETTINGS, each setting with its own Redis and SEDA process."""
    results = []
    for encoder in ENCODER_SETTINGS:
        mesh = Mesh(var / f"encoder-{encoder}", Ports.free(gateway_workers=1, telemetry_workers=1, seda_workers=1),
                    tiers=BENCH_TIERS, env={"SEDA_ENCODER": encoder})
        mesh.logs.mkdir(parents=True, exist_ok=True)
        try:
            mesh.start_redis()
            mesh.start_seda(0)
            mesh.wait_ready(envoy=False)
            address = f"127.0.0.1:{mesh.ports.seda[0]}"
            metrics_port = mesh.ports.seda_metrics[0]
            for level in IN_FLIGHT_LEVELS:
                result = asyncio.run(_load(encoder, address, metrics_port, level, seconds, warm_up_seconds))
                result.peak_rss_mib = cpu.peak_rss_mib(mesh.processes["seda-0"].pid)
                results.append(result)
        finally:
            mesh.stop()
    return results


def result_line(result: SedaResult) -> str:
    return (
        f"SEDA Audit, encoder {result.encoder}, {TEXT_LENGTH} characters, {result.in_flight} in flight: "
        f"{result.calls_per_second:,.0f} calls/s  "
        f"p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms  "
        f"in the service p50 <= {result.service_bound_ms(0.5):g} ms, p99 <= {result.service_bound_ms(0.99):g} ms  "
        f"health checks: {len(result.health_ms)}, "
        f"{result.health_failures} failed, p99 {result.health_p99_ms:.2f} ms, max {result.health_max_ms:.2f} ms"
    )


def markdown(results: list[SedaResult]) -> list[str]:
    """Return the SEDA section of BENCHMARKS.md."""
    lines = [
        "## SEDA audit",
        "",
        f"`bench/seda.py`: Audit of a {TEXT_LENGTH:,}-character English journal text over gRPC, straight to one SEDA",
        "process (no Envoy, no gateway) with its audit record written to a private Redis. The client measures latency",
        "over loopback, including the Python gRPC client. \"In the service\" is the bucket of the service's own",
        "request-duration histogram that the share of calls had reached. A health check goes to the same process",
        f"every 20 ms during each load, on a channel of its own. Target: p99 under {TARGET_P99_MS:g} ms with one call in flight.",
        "Peak RSS is the SEDA process's most resident memory since it started (VmHWM), read after each load.",
        "Each setting of SEDA_ENCODER runs in a process of its own, one after the other in the same run: `on` as shipped,",
        "`off` with the rules and the n-gram model alone (lower recall: docs/seda-method.md). The ratio is each row's",
        "p99 over the p99 of `off` at the same number of calls in flight.",
        "",
        "| SEDA_ENCODER | calls in flight | calls/s | p50 ms | p99 ms | p99 / off | in the service: p50, p99 ms | health checks | not serving or failed | health p99 ms | health max ms | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    off_p99 = {r.in_flight: r.p99_ms for r in results if r.encoder == "off"}
    for result in results:
        ratio = f"{result.p99_ms / off_p99[result.in_flight]:.1f}" if result.in_flight in off_p99 else ""
        lines.append(
            f"| {result.encoder} | {result.in_flight} | {result.calls_per_second:,.0f} | {result.p50_ms:.2f} "
            f"| {result.p99_ms:.2f} | {ratio} "
            f"| <= {result.service_bound_ms(0.5):g}, <= {result.service_bound_ms(0.99):g} "
            f"| {len(result.health_ms)} | {result.health_failures} | {result.health_p99_ms:.2f} | {result.health_max_ms:.2f} "
            f"| {result.peak_rss_mib:.0f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    return standalone.main(
        "bench.seda", __doc__.splitlines()[0], DEFAULT_VAR, 10.0, "length of each measured load",
        measure, lambda results: [result_line(r) for r in results], markdown, argv,
    )


if __name__ == "__main__":
    sys.exit(main())

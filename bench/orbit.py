"""The orbit service alone: time of a 12-person map in the service, over gRPC and in process.

It starts one orbit process on free 127.0.0.1 ports and calls Map straight
on its port (no Envoy, no gateway), one call in flight. The service's own
time comes from its compute histogram (charts, geometry and response,
measured in the worker thread), known to a bucket's upper bound. The
in-process rows time each step of the same map with perf_counter in this
process, which gives exact medians and 99th percentiles.

Run it alone with `python -m bench.orbit`; `make bench` runs it too.
"""

import asyncio
import dataclasses
import gc
import pathlib
import statistics
import sys
import time

import grpc

from bench import cpu, standalone
from bench.counters import bucket_bound_ms, samples
from bench.session import BENCH_TIERS
from defrag.common.v1 import common_pb2
from defrag.mesh import Mesh, Ports
from defrag.orbit.v1 import orbit_pb2, orbit_pb2_grpc
from defrag.platform.config import ROOT
from services.orbit import geometry, service

DEFAULT_VAR = ROOT / "var" / "bench-orbit"
PEOPLE = 12
TARGET_MS = 20.0
COMPUTE_METRIC = "defrag_orbit_compute_duration_seconds_bucket"

# Twelve births over six decades and four continents; every third without a time.
PLACES = ((51.51, -0.13), (40.71, -74.01), (19.08, 72.88), (-33.87, 151.21), (35.68, 139.69), (-23.55, -46.63))


def map_request(count: int = PEOPLE) -> orbit_pb2.MapRequest:
    request = orbit_pb2.MapRequest()
    for index in range(count):
        lat, lon = PLACES[index % len(PLACES)]
        birth = common_pb2.BirthData(date=f"{1955 + 5 * index}-{1 + index % 12:02d}-{3 + 2 * index:02d}", lat=lat, lon=lon)
        if index % 3:
            birth.time = f"{(7 * index) % 24:02d}:{(13 * index) % 60:02d}"
        request.people.add(name=f"Person {index + 1}", role=service.ROLES[index % len(service.ROLES)], birth_data=birth)
    return request


def percentile(values: list[float], cut: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[cut - 1]


@dataclasses.dataclass
class OrbitResult:
    seconds: float
    latencies_ms: list[float]
    # Maps per histogram bucket (upper bound in seconds) during the load, as the service measured them.
    service_buckets: dict[float, int]
    # Step name -> per-map times in ms, measured in this process.
    steps_ms: dict[str, list[float]]
    aspects: int
    response_bytes: int
    # The orbit process's peak resident memory since it started, read after the load (MiB).
    peak_rss_mib: float = 0.0

    def service_bound_ms(self, share: float) -> float:
        """Return the upper bound, in ms, of the first bucket by which `share` of the maps had finished."""
        return bucket_bound_ms(self.service_buckets, share)


def compute_buckets(metrics_port: int) -> dict[float, int]:
    return {float(labels["le"]): value for labels, value in samples(metrics_port, COMPUTE_METRIC)}


def time_steps(request: orbit_pb2.MapRequest, seconds: float) -> dict[str, list[float]]:
    """Time each step of one map in this process, repeatedly for `seconds`."""
    steps: dict[str, list[float]] = {"validate": [], "charts": [], "geometry": [], "response": [], "serialize": [], "total": []}
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        marks = [time.perf_counter()]
        people = service.read_request(request)
        marks.append(time.perf_counter())
        natals = [service.natal_points(person) for person in people]
        marks.append(time.perf_counter())
        orbit_map = geometry.map_people(natals)
        marks.append(time.perf_counter())
        response = service.build_response("bench", people, natals, orbit_map)
        marks.append(time.perf_counter())
        response.SerializeToString()
        marks.append(time.perf_counter())
        for name, start, end in zip(steps, marks, marks[1:]):
            steps[name].append((end - start) * 1000)
        steps["total"].append((marks[-1] - marks[0]) * 1000)
    return steps


async def _load(address: str, metrics_port: int, seconds: float, warm_up_seconds: float) -> tuple[float, list[float], dict[float, int], int]:
    request = map_request()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = orbit_pb2_grpc.OrbitServiceStub(channel)
        warm_up_deadline = time.perf_counter() + warm_up_seconds
        while time.perf_counter() < warm_up_deadline:
            reply = await stub.Map(request, timeout=10)
        before = compute_buckets(metrics_port)
        latencies = []
        started = time.perf_counter()
        while time.perf_counter() < started + seconds:
            call_started = time.perf_counter()
            await stub.Map(request, metadata=[("x-request-id", "bench")], timeout=10)
            latencies.append((time.perf_counter() - call_started) * 1000)
        elapsed = time.perf_counter() - started
        after = compute_buckets(metrics_port)
    return elapsed, latencies, {bound: after[bound] - before.get(bound, 0) for bound in after}, reply.ByteSize()


def measure(var: pathlib.Path, seconds: float, warm_up_seconds: float = 1.0) -> OrbitResult:
    """Start one orbit process, load it with 12-person maps, then time the steps in process."""
    mesh = Mesh(var, Ports.free(gateway_workers=1, telemetry_workers=1, seda_workers=1, orbit_workers=1), tiers=BENCH_TIERS)
    mesh.logs.mkdir(parents=True, exist_ok=True)
    try:
        mesh.start_orbit(0)
        mesh.wait_ready(envoy=False)
        elapsed, latencies, buckets, response_bytes = asyncio.run(
            _load(f"127.0.0.1:{mesh.ports.orbit[0]}", mesh.ports.orbit_metrics[0], seconds, warm_up_seconds))
        peak_rss_mib = cpu.peak_rss_mib(mesh.processes["orbit-0"].pid)
    finally:
        mesh.stop()
    request = map_request()
    # As the service does after its warm-up (services/orbit/__main__.py).
    time_steps(request, 1.0)
    gc.collect()
    gc.freeze()
    steps = time_steps(request, seconds)
    gc.unfreeze()
    aspects = sum(len(pair.aspects) for pair in geometry.map_people(
        [service.natal_points(person) for person in service.read_request(request)]).pairs)
    return OrbitResult(elapsed, latencies, buckets, steps, aspects, response_bytes, peak_rss_mib)


def result_line(result: OrbitResult) -> str:
    total = result.steps_ms["total"]
    return (
        f"orbit Map, {PEOPLE} people, 1 in flight: {len(result.latencies_ms) / result.seconds:,.0f} maps/s  "
        f"client p50 {percentile(result.latencies_ms, 50):.2f} ms  p99 {percentile(result.latencies_ms, 99):.2f} ms  "
        f"in the service p50 <= {result.service_bound_ms(0.5):g} ms, p99 <= {result.service_bound_ms(0.99):g} ms  "
        f"in process p50 {percentile(total, 50):.2f} ms  p99 {percentile(total, 99):.2f} ms"
    )


def markdown(result: OrbitResult) -> list[str]:
    """Return the orbit section of BENCHMARKS.md."""
    lines = [
        "## Orbit map",
        "",
        f"`bench/orbit.py`: Map of {PEOPLE} people (8 with a birth time, 4 without; 66 pairs, {result.aspects:,} aspects,",
        f"{result.response_bytes:,} bytes of protobuf) over gRPC, straight to one orbit process, one call in flight. \"In the",
        "service\" is the bucket of the service's compute histogram (charts, geometry and response in the worker thread)",
        "that the share of maps had reached. The in-process rows time each step of the same map in the bench's own",
        f"process. Target: a {PEOPLE}-person map in under {TARGET_MS:g} ms in the service. We know of no library or API that",
        "computes the same map, so there is no peer row; the position engine's own peers are in the engine section.",
        "",
        "| measured | maps/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| client, over loopback gRPC | {len(result.latencies_ms) / result.seconds:,.0f} | {percentile(result.latencies_ms, 50):.2f} "
        f"| {percentile(result.latencies_ms, 99):.2f} |",
        f"| in the service (histogram bucket) | | <= {result.service_bound_ms(0.5):g} | <= {result.service_bound_ms(0.99):g} |",
    ]
    for name, values in result.steps_ms.items():
        lines.append(f"| in process: {name} | | {percentile(values, 50):.2f} | {percentile(values, 99):.2f} |")
    lines += ["", f"Peak resident memory of the orbit process after the load (VmHWM): {result.peak_rss_mib:.0f} MiB."]
    return lines


def main(argv: list[str] | None = None) -> int:
    return standalone.main(
        "bench.orbit", __doc__.splitlines()[0], DEFAULT_VAR, 10.0, "length of the load and of the in-process timing",
        measure, lambda result: [result_line(result)], markdown, argv,
    )


if __name__ == "__main__":
    sys.exit(main())

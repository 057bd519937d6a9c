"""The position engine against its peers, in one process on one core, and the telemetry workers' memory.

Run by `make bench` (bench/run.py), or alone: `python -m bench.engine`.

Single chart: ten bodies seen from a place with speed, plus Placidus
houses, at a different instant each call (pyswisseph caches the last
instant, so repeating one would flatter it). The three engines take turns
in short rounds, so a noisy neighbour slows them alike. The report gives
the median round of each and the ratios.
- defrag: defrag.sky.compute_charts for one instant, as arrays before
  protobuf. It computes every field the API returns: topocentric RA/Dec,
  azimuth/altitude, ecliptic longitude and latitude of date, sign, speed,
  retrograde and stationary flags, the angles, Placidus cusps and the house
  of each body, nodes and Moon phase.
- pyswisseph (Moshier mode with no files, AGPL so used for benchmarks only), the same
  fields: for each body swe.calc_ut geocentric with speed, swe.calc_ut
  topocentric equatorial and swe.azalt; the mean and true nodes; swe.pheno_ut
  for the Moon's phase; swe.houses. The row "fewer fields" calls only
  swe.calc_ut (topocentric, with speed) per body and swe.houses, the
  cheapest call sequence one could call a chart.
- astronomy-engine, the fields it has: Equator (topocentric, of date),
  Horizon, and the geocentric ecliptic position now and an hour later (for
  the speed, as it has no velocity call) for each body, and the Moon's
  Illumination. It has no houses and no node longitudes.

Batch: compute_charts for 366 daily instants, in charts per second.

Memory: two telemetry worker processes start as `make run` starts them, and
each gets a batch request. Then the proportional set size (PSS) of each comes
from /proc/PID/smaps_rollup, split into file-backed pages (the memory-mapped
ephemeris and libraries, shared) and anonymous pages (private).
"""

import dataclasses
import datetime as dt
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

from defrag import mesh as mesh_module
from defrag import sky
from defrag.platform.config import ROOT

PLACE = sky.Observer(51.5074, -0.1278, 11.0)
# Instants spread over 1900..2100 so every call touches a different part of the ephemeris.
_FIRST_JD, _LAST_JD = 2415020.5, 2488069.5


@dataclasses.dataclass(frozen=True)
class EngineResult:
    name: str
    microseconds_per_chart: float  # median of the rounds
    rounds: int


@dataclasses.dataclass(frozen=True)
class MemoryResult:
    pss_mb: float
    pss_file_mb: float
    pss_anon_mb: float
    rss_mb: float


@dataclasses.dataclass(frozen=True)
class EngineReport:
    single: list[EngineResult]
    batch_charts_per_second: float
    batch_milliseconds: float
    service_microseconds_per_chart: float
    memory: list[MemoryResult]
    seconds: float


def _instants(count: int, seed: int) -> list[float]:
    return np.random.default_rng(seed).uniform(_FIRST_JD, _LAST_JD, count).tolist()


def _defrag_chart():
    options = sky.Options()
    sky.compute_charts(np.array([2451545.0]), "utc", PLACE, options)

    def chart(jd: float) -> None:
        sky.compute_charts(np.array([jd]), "utc", PLACE, options)

    return chart


def _swisseph_chart(full: bool):
    import swisseph as swe

    swe.set_topo(PLACE.lon, PLACE.lat, PLACE.elevation_meters)
    bodies = [swe.SUN, swe.MOON, swe.MERCURY, swe.VENUS, swe.MARS, swe.JUPITER, swe.SATURN, swe.URANUS, swe.NEPTUNE, swe.PLUTO]
    geocentric = swe.FLG_MOSEPH | swe.FLG_SPEED
    topocentric = swe.FLG_MOSEPH | swe.FLG_TOPOCTR | swe.FLG_EQUATORIAL
    place = (PLACE.lon, PLACE.lat, PLACE.elevation_meters)

    def minimal(jd: float) -> None:
        for body in bodies:
            swe.calc_ut(jd, body, geocentric | swe.FLG_TOPOCTR)
        swe.houses(jd, PLACE.lat, PLACE.lon, b"P")

    def every_field(jd: float) -> None:
        for body in bodies:
            swe.calc_ut(jd, body, geocentric)
            equatorial, _ = swe.calc_ut(jd, body, topocentric)
            swe.azalt(jd, swe.EQU2HOR, place, 0.0, 0.0, equatorial)
        swe.calc_ut(jd, swe.MEAN_NODE, geocentric)
        swe.calc_ut(jd, swe.TRUE_NODE, geocentric)
        swe.pheno_ut(jd, swe.MOON, swe.FLG_MOSEPH)
        swe.houses(jd, PLACE.lat, PLACE.lon, b"P")

    return every_field if full else minimal


def _astronomy_engine_chart():
    import astronomy

    observer = astronomy.Observer(PLACE.lat, PLACE.lon, PLACE.elevation_meters)
    bodies = [getattr(astronomy.Body, name.capitalize()) for name in sky.BODIES]
    # astronomy-engine has no velocity call, so the speed comes from a second position one hour later.
    hour = 1.0 / 24.0

    def chart(jd: float) -> None:
        now = astronomy.Time(jd - 2451545.0)
        later = astronomy.Time(jd + hour - 2451545.0)
        for body in bodies:
            equator = astronomy.Equator(body, now, observer, True, True)
            astronomy.Horizon(now, observer, equator.ra, equator.dec, astronomy.Refraction.Airless)
            astronomy.Ecliptic(astronomy.GeoVector(body, now, True))
            astronomy.Ecliptic(astronomy.GeoVector(body, later, True))
        astronomy.Illumination(astronomy.Body.Moon, now)

    return chart


def measure_single(seconds: float) -> list[EngineResult]:
    """Alternate the engines in rounds of 50 charts for about `seconds` in all, and return the median round of each."""
    engines = {
        "defrag": _defrag_chart(),
        "pyswisseph": _swisseph_chart(full=True),
        "pyswisseph, fewer fields": _swisseph_chart(full=False),
        "astronomy-engine": _astronomy_engine_chart(),
    }
    rounds: dict[str, list[float]] = {name: [] for name in engines}
    deadline = time.monotonic() + seconds
    round_number = 0
    while time.monotonic() < deadline or round_number < 3:
        # A new set of instants each round, the same for every engine.
        instants = _instants(50, seed=round_number + 2)
        for name, chart in engines.items():
            started = time.perf_counter()
            for jd in instants:
                chart(jd)
            rounds[name].append((time.perf_counter() - started) / len(instants) * 1e6)
        round_number += 1
    return [EngineResult(name, statistics.median(values), len(values)) for name, values in rounds.items()]


def measure_batch(seconds: float) -> tuple[float, float]:
    """Measure charts per second and milliseconds per 366-instant batch, the median of repeated batches."""
    options = sky.Options()
    durations = []
    deadline = time.monotonic() + seconds
    start = 2451545.0
    while time.monotonic() < deadline or len(durations) < 3:
        jd = start + np.arange(366.0)
        started = time.perf_counter()
        sky.compute_charts(jd, "utc", PLACE, options)
        durations.append(time.perf_counter() - started)
        start += 366.0 if start < 2480000.0 else -30000.0
    median = statistics.median(durations)
    return 366.0 / median, median * 1e3


def measure_service_chart(seconds: float) -> float:
    """Measure microseconds per single chart through the service's validation and protobuf building, without gRPC."""
    from defrag.telemetry.v1 import telemetry_pb2
    from services.telemetry import service

    request = telemetry_pb2.GetVectorsRequest(date="1990-01-15", time="14:30", lat=34.05, lon=-118.24)
    servicer = service.TelemetryServicer()

    class _Context:
        def invocation_metadata(self):
            return ()

    import asyncio

    async def run() -> float:
        context = _Context()
        await servicer.GetVectors(request, context)
        count = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            await servicer.GetVectors(request, context)
            count += 1
        return (time.perf_counter() - started) / count * 1e6

    return asyncio.run(run())


def measure_memory(var: pathlib.Path) -> list[MemoryResult]:
    """Start two telemetry workers, send each a 366-instant batch, and read their PSS."""
    import grpc

    from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc

    var.mkdir(parents=True, exist_ok=True)
    ports = mesh_module.free_ports(4)
    processes = []
    results = []
    try:
        for index in range(2):
            environment = dict(os.environ, TELEMETRY_PORT=str(ports[2 * index]), TELEMETRY_METRICS_PORT=str(ports[2 * index + 1]), DEFRAG_LOG_LEVEL="WARNING")
            # The child keeps its own copy of the log's file descriptor, so this one closes at once.
            with open(var / f"telemetry-{index}.log", "wb") as log:
                processes.append(subprocess.Popen([sys.executable, "-m", "services.telemetry"], cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT))
        request = telemetry_pb2.BatchGetVectorsRequest(
            instants=[telemetry_pb2.Instant(date=(dt.date(2020, 1, 1) + dt.timedelta(days=day)).isoformat(), time="12:00") for day in range(366)],
            lat=PLACE.lat,
            lon=PLACE.lon,
        )
        for index, process in enumerate(processes):
            with grpc.insecure_channel(f"127.0.0.1:{ports[2 * index]}") as channel:
                grpc.channel_ready_future(channel).result(timeout=60)
                telemetry_pb2_grpc.TelemetryServiceStub(channel).BatchGetVectors(request, timeout=60)
        for process in processes:
            results.append(_memory_of(process.pid))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
    return results


def _memory_of(pid: int) -> MemoryResult:
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024.0
    return MemoryResult(fields["Pss"], fields.get("Pss_File", 0.0), fields.get("Pss_Anon", 0.0), fields["Rss"])


def measure(seconds: float, var: pathlib.Path) -> EngineReport:
    started = time.monotonic()
    single = measure_single(seconds)
    charts_per_second, batch_ms = measure_batch(seconds / 2)
    service_us = measure_service_chart(seconds / 4)
    memory = measure_memory(var)
    return EngineReport(single, charts_per_second, batch_ms, service_us, memory, time.monotonic() - started)


def render(result: EngineReport) -> str:
    by_name = {item.name: item for item in result.single}
    ours = by_name["defrag"].microseconds_per_chart
    lines = [
        "## Position engine against its peers (one process, one core)",
        "",
        f"Measured in {result.seconds:.0f} s by `bench/engine.py` (see its docstring for exactly what each engine computes).",
        "Single charts at 50 instants a round spread over 1900..2100, the engines taking turns; the median round.",
        "",
        "| engine | µs per chart | charts/s | ratio (peer time / defrag time) | target |",
        "|---|---|---|---|---|",
    ]

    targets = {"pyswisseph": 3.0, "astronomy-engine": 10.0}
    # The "fewer fields" row has no target because it computes less than a chart.
    for item in result.single:
        ratio = item.microseconds_per_chart / ours
        target = targets.get(item.name)
        verdict = "" if target is None else f">= {target:g}: {'met' if ratio >= target else 'NOT met'}"
        lines.append(
            f"| {item.name} | {item.microseconds_per_chart:.0f} | {1e6 / item.microseconds_per_chart:.0f} | "
            f"{ratio:.2f} | {verdict} |"
        )

    batch_verdict = "met" if result.batch_charts_per_second >= 20000 else "NOT met"
    lines += [
        "",
        f"- Batch: 366 daily charts in {result.batch_milliseconds:.1f} ms, **{result.batch_charts_per_second:,.0f} charts/s** "
        f"on one core (target 20,000: {batch_verdict}).",
        f"- A single chart through the service's validation and protobuf building, without gRPC: "
        f"{result.service_microseconds_per_chart:.0f} µs.",
        "- Memory of two telemetry workers after a 366-instant batch each (target: at most 200 MB PSS per worker):",
        "",
        "| worker | PSS MB | of which file-backed (shared ephemeris, libraries) | anonymous | RSS MB |",
        "|---|---|---|---|---|",
    ]

    for index, item in enumerate(result.memory):
        lines.append(f"| {index + 1} | {item.pss_mb:.0f} | {item.pss_file_mb:.0f} | {item.pss_anon_mb:.0f} | {item.rss_mb:.0f} |")
    lines.append("")
    lines.append(f"Python {platform.python_version()}, NumPy {np.__version__}.")
    return "\n".join(lines) + "\n"


def main() -> int:
    result = measure(20.0, ROOT / "var" / "bench-engine")
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

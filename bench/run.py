"""Measure the edge, the gateway, the telemetry service and its engine in one run and write BENCHMARKS.md: `make bench`.

For each configuration (gateway, telemetry and Envoy process counts) it
starts a fresh mesh on free 127.0.0.1 ports. It measures three targets over
REST (wrk) and native gRPC (h2load):
  a  a bare Envoy whose route returns a direct response: the ceiling.
  b  the real filter chain with the telemetry route patched into that
     direct response, so each request still gets the gateway's full
     decision and metering in Redis.
  c  the whole mesh serving the telemetry call.
The best configuration then runs again with WARNING logs, beside reference
authorizers (see bench/edge.py). The telemetry handler is also called in a
loop in this process, before and after the loads, for the compute rate of
one core. The position engine is compared with pyswisseph and
astronomy-engine in one process first (bench/engine.py). Last,
bench/seda.py loads one SEDA process on its own, bench/orbit.py one
orbit process with 12-person maps, and bench/billing.py the Stripe webhook.
"""

import argparse
import pathlib
import shutil
import sys
import time

from bench import billing, engine, inprocess, load, orbit, report, seda
from bench.session import GRPC_REQUEST, PROTOCOLS, REFERENCE_TARGETS, TARGETS, Config, LoadShape, Measurement, Session
from defrag.platform.config import ROOT

DEFAULT_VAR = ROOT / "var" / "bench"

# Gateway and Envoy process counts tried by default, all with INFO logs. The
# best one runs again with WARNING logs, beside the reference authorizers.
DEFAULT_CONFIGS = "1:1:2,2:1:2,3:1:2,2:1:1"


def parse_configs(text: str, log_level: str) -> list[Config]:
    """Parses "GATEWAYS:TELEMETRY:ENVOY_CONCURRENCY,..." into configurations."""
    configs = []
    for item in text.split(","):
        try:
            gateways, telemetry, concurrency = (int(part) for part in item.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid configuration {item!r}: write GATEWAYS:TELEMETRY:ENVOY_CONCURRENCY, for example 2:1:2"
            ) from None
        if min(gateways, telemetry, concurrency) < 1:
            raise argparse.ArgumentTypeError(f"invalid configuration {item!r}: every count must be at least 1")
        configs.append(Config(gateways, telemetry, concurrency, log_level))
    return configs


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run, in whole seconds (default 10)")
    parser.add_argument("--warm-up", type=int, default=2, help="unmeasured load before each run, in whole seconds; 0 skips it (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="connections of wrk and h2load, one request in flight on each (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="threads of wrk and h2load (default 2)")
    parser.add_argument("--compute-seconds", type=float, default=5.0, help="length of each in-process compute run, in seconds (default 5)")
    parser.add_argument("--engine-seconds", type=float, default=30.0, help="length of the position engine's comparison with its peers, in seconds (default 30)")
    parser.add_argument("--seda-seconds", type=float, default=10.0, help="length of each SEDA load, in seconds; 0 skips SEDA (default 10)")
    parser.add_argument("--billing-seconds", type=float, default=5.0, help="length of each Stripe webhook load, in seconds; 0 skips billing (default 5)")
    parser.add_argument("--orbit-seconds", type=float, default=10.0, help="length of the orbit load and its in-process timing, in seconds; 0 skips orbit (default 10)")

    parser.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help=f"configurations to try, as GATEWAYS:TELEMETRY:ENVOY_CONCURRENCY separated by commas (default {DEFAULT_CONFIGS})",
    )
    parser.add_argument(
        "--no-reference-run",
        action="store_true",
        help="skip the last run: the best configuration with WARNING logs, beside the reference authorizers",
    )

    parser.add_argument(
        "--var",
        type=pathlib.Path,
        default=DEFAULT_VAR,
        help=f"working folder for the meshes' data, configurations and logs; emptied at the start (default {DEFAULT_VAR})",
    )
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="Markdown file to write (default BENCHMARKS.md)")
    parser.add_argument("--no-write", action="store_true", help="print the results without writing the Markdown file")

    arguments = parser.parse_args(argv)
    try:
        arguments.configs = parse_configs(arguments.configs, "INFO")
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    if min(arguments.seconds, arguments.compute_seconds, arguments.connections, arguments.threads) <= 0 or arguments.warm_up < 0:
        parser.error("--seconds, --compute-seconds, --connections and --threads must be positive and --warm-up not negative")
    if arguments.seda_seconds < 0 or arguments.orbit_seconds < 0:
        parser.error("--seda-seconds and --orbit-seconds must not be negative")
    if arguments.connections < arguments.threads:
        parser.error("--connections must be at least --threads, because wrk and h2load give each thread a connection")
    return arguments


def measure_config(config: Config, shape: LoadShape, var: pathlib.Path, targets: list[str]) -> list[Measurement]:
    """Starts a mesh for the configuration and measures the targets over both protocols."""
    measurements = []
    with Session(config, var / config.slug, shape, targets) as session:
        for protocol in PROTOCOLS:
            for target in targets:
                measurement = session.measure(target, protocol)
                measurements.append(measurement)
                print(report.progress_line(measurement), flush=True)
    return measurements


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    load.ensure_tools()
    shape = LoadShape(arguments.seconds, arguments.warm_up, arguments.connections, arguments.threads)
    shutil.rmtree(arguments.var, ignore_errors=True)
    arguments.var.mkdir(parents=True)
    started = time.monotonic()

    engine_result = engine.measure(arguments.engine_seconds, arguments.var / "engine")
    engine_text = engine.render(engine_result)
    print(engine_text, flush=True)

    compute = [inprocess.measure(GRPC_REQUEST, arguments.compute_seconds)]
    print(report.compute_line(compute[0]), flush=True)

    measurements: list[Measurement] = []
    for config in arguments.configs:
        print(f"--- {config.label}", flush=True)
        measurements += measure_config(config, shape, arguments.var, list(TARGETS))

    best = report.best_config(measurements)
    if not arguments.no_reference_run:
        quiet = Config(best.gateway_workers, best.telemetry_workers, best.envoy_concurrency, "WARNING")
        print(f"--- {quiet.label}, with the reference authorizers", flush=True)
        measurements += measure_config(quiet, shape, arguments.var, ["a", "b", *REFERENCE_TARGETS])

    compute.append(inprocess.measure(GRPC_REQUEST, arguments.compute_seconds))
    print(report.compute_line(compute[1]), flush=True)

    seda_results = []
    if arguments.seda_seconds > 0:
        print("--- SEDA service alone", flush=True)
        seda_results = seda.measure(arguments.var / "seda", arguments.seda_seconds)
        for result in seda_results:
            print(seda.result_line(result), flush=True)
    service_lines = seda.markdown(seda_results) if seda_results else []
    if arguments.orbit_seconds > 0:
        print("--- orbit service alone", flush=True)
        orbit_result = orbit.measure(arguments.var / "orbit", arguments.orbit_seconds)
        print(orbit.result_line(orbit_result), flush=True)
        service_lines += ["", *orbit.markdown(orbit_result)] if service_lines else orbit.markdown(orbit_result)
    if arguments.billing_seconds > 0:
        print("--- Stripe webhook", flush=True)
        billing_result = billing.measure(arguments.var / "billing", arguments.billing_seconds)
        print(billing.result_line(billing_result), flush=True)
        service_lines += ["", *billing.markdown(billing_result)] if service_lines else billing.markdown(billing_result)
    elapsed = time.monotonic() - started

    text = report.render(measurements, compute, best, shape, elapsed, service_lines) + "\n" + engine_text
    if arguments.no_write:
        print(text)
    else:
        report.write(arguments.output, text)
        print(f"wrote {arguments.output} ({elapsed:.0f} s)")

    failed = [m for m in measurements if not m.check_passed]
    for measurement in failed:
        print(f"check failed: {measurement.config.label}, {measurement.target} {measurement.protocol}: {measurement.check}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

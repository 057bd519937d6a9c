"""Profile the gateway under the b load (real filter chain, direct response): `python -m bench.profile`.

It starts one bench configuration, drives REST (wrk) or gRPC (h2load) load
at the chain Envoy, and meanwhile
  - reads every process's CPU time from /proc, to show where the cores go;
  - samples gateway-0 with py-spy (`--py-spy PATH`; not a project
    dependency, install it anywhere, for example
    `pip install --target /tmp/pyspy py-spy`), and prints the functions with
    the most samples, by own time and including callees.
Nothing here runs in `make bench`.
"""

import argparse
import collections
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time

from bench import cpu
from bench.session import Config, LoadShape, Session
from defrag.platform.config import ROOT

def child_pids(pid: int) -> list[int]:
    """Returns the direct children of a process (wrk and h2load run as children of subprocess.run)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                found.append(int(entry.name))
    return found


def function_of(frame: str) -> str:
    """Returns "name (file)" for a py-spy frame "name (file:line)", so the lines of one function add up."""
    name, _, location = frame.partition(" (")
    return f"{name} ({location.rsplit(':', 1)[0]})" if location else name


def summarize_stacks(collapsed: str, top: int) -> list[str]:
    """Returns the functions with the most samples in py-spy's collapsed output, by own and inclusive samples."""
    own = collections.Counter()
    inclusive = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [function_of(frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return ["py-spy recorded no samples"]
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "including callees:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="path of the py-spy executable (default: py-spy on PATH)")
    parser.add_argument("--protocol", choices=("REST", "gRPC"), default="REST", help="load over wrk (REST) or h2load (gRPC)")
    parser.add_argument("--seconds", type=int, default=10, help="length of the profiled load, in whole seconds (default 10)")
    parser.add_argument("--gateways", type=int, default=1, help="gateway processes (default 1)")
    parser.add_argument("--envoy-concurrency", type=int, default=2, help="Envoy worker threads (default 2)")
    parser.add_argument("--log-level", default="INFO", help="DEFRAG_LOG_LEVEL of the services (default INFO)")
    parser.add_argument("--native", action="store_true", help="also sample C and C++ frames (py-spy --native)")
    parser.add_argument("--gil", action="store_true", help="sample only the thread holding the GIL (py-spy --gil)")
    parser.add_argument("--top", type=int, default=25, help="functions to list (default 25)")
    parser.add_argument("--var", type=pathlib.Path, default=ROOT / "var" / "bench-profile", help="working folder, emptied first")
    arguments = parser.parse_args(argv)
    if not arguments.py_spy:
        parser.error("py-spy not found: install it (pip install --target /tmp/pyspy py-spy) and pass --py-spy /tmp/pyspy/bin/py-spy")

    config = Config(arguments.gateways, 1, arguments.envoy_concurrency, arguments.log_level)
    shape = LoadShape(arguments.seconds + 4, 1, 32, 2)
    shutil.rmtree(arguments.var, ignore_errors=True)
    arguments.var.mkdir(parents=True)
    collapsed_path = arguments.var / "gateway-0.collapsed"

    with Session(config, arguments.var / config.slug, shape, ["b"]) as session:
        processes = {name: process.pid for name, process in session.mesh.processes.items()}
        outcome = {}

        def drive_load() -> None:
            try:
                outcome["result"] = session.measure("b", arguments.protocol)
            except Exception as error:  # reported below, after the mesh has stopped
                outcome["error"] = error

        loader = threading.Thread(target=drive_load)
        loader.start()
        # Let the warm-up pass and the measured load settle before sampling.
        time.sleep(2.0 + shape.warm_up_seconds)
        # The mesh's processes are children of this process too.
        generators = [pid for pid in child_pids(os.getpid()) if pid not in processes.values()]
        meter = cpu.Meter({**processes, **{f"load generator {pid}": pid for pid in generators}})
        meter.start()
        command = [
            arguments.py_spy, "record", "--pid", str(processes["gateway-0"]), "--duration", str(arguments.seconds),
            "--rate", "200", "--format", "raw", "--output", str(collapsed_path),
        ]
        # py-spy samples native frames only while it pauses the process.
        command.append("--native" if arguments.native else "--nonblocking")
        if arguments.gil:
            command.append("--gil")
        sampler = subprocess.run(command, capture_output=True, text=True)
        usage = meter.stop()
        loader.join()

    if sampler.returncode != 0:
        print(f"py-spy failed with exit code {sampler.returncode}: {sampler.stderr.strip()[:1000]}", file=sys.stderr)
        return 1
    if "error" in outcome:
        print(f"the load on row b failed: {outcome['error']}", file=sys.stderr)
        return 1
    measurement = outcome["result"]
    print(f"{config.label}; b {arguments.protocol}: {measurement.result.requests_per_second:.0f} req/s, {measurement.check}")
    print(f"\nCPU use while sampling, in cores; the machine has {os.cpu_count()} and {usage.machine_busy:.2f} were busy:")
    for name, cores in sorted(usage.by_process.items(), key=lambda item: -item[1]):
        print(f"  {cores:5.2f}  {name}")
    print("\ngateway-0, sampled by py-spy:")
    print("\n".join(summarize_stacks(collapsed_path.read_text(), arguments.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bounded load from wrk (REST over HTTP/1.1 keep-alive) and h2load (native gRPC over HTTP/2), and their results.

Every run targets one 127.0.0.1 URL of a process the bench started, for a
fixed number of seconds, with a fixed number of connections.
"""

import dataclasses
import pathlib
import re
import shutil
import statistics
import subprocess

# Debian packages of the two load generators.
TOOL_PACKAGES = {"wrk": "wrk", "h2load": "nghttp2-client"}

# wrk prints latencies with a unit suffix.
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclasses.dataclass
class LoadResult:
    """One measured run of a load generator."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    # Responses with an HTTP status of 2xx.
    ok_responses: int
    # Responses with another status, plus socket errors, reset streams and timeouts.
    failed: int


def ensure_tools() -> None:
    """Installs wrk and h2load with apt-get when either is missing; raises RuntimeError if that fails."""
    missing = [TOOL_PACKAGES[tool] for tool in TOOL_PACKAGES if shutil.which(tool) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"{', '.join(missing)} missing and apt-get not found; install them with the system's package manager")
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True)
    still_missing = [tool for tool in TOOL_PACKAGES if shutil.which(tool) is None]
    if still_missing:
        raise RuntimeError(f"{', '.join(still_missing)} still not on PATH after apt-get install")


def tool_version(tool: str) -> str:
    """Returns the first line of `wrk --version` or `h2load --version`."""
    completed = subprocess.run([tool, "--version"], capture_output=True, text=True)
    return (completed.stdout or completed.stderr).strip().splitlines()[0]


def _milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def run_wrk(url: str, headers: dict[str, str], seconds: int, connections: int, threads: int) -> LoadResult:
    """Runs wrk with latency percentiles and parses its report; raises RuntimeError when wrk fails."""
    command = ["wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    completed = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 30)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed with exit code {completed.returncode} on {url}: {completed.stderr.strip()[:500]}")
    return parse_wrk(completed.stdout)


def parse_wrk(report: str) -> LoadResult:
    """Parses the text report of `wrk --latency`."""
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", report, re.MULTILINE))
    total = re.search(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m),", report, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", report, re.MULTILINE)
    if total is None or rate is None or set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"cannot parse the wrk report:\n{report}")
    requests = int(total.group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    bad_status = int(non_2xx.group(1)) if non_2xx else 0
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return LoadResult(
        requests=requests,
        seconds=_milliseconds(total.group(2) + total.group(3)) / 1000,
        requests_per_second=float(rate.group(1)),
        p50_ms=_milliseconds(percentiles["50"]),
        p99_ms=_milliseconds(percentiles["99"]),
        ok_responses=requests - bad_status,
        failed=bad_status + errors,
    )


def grpc_frame(message: bytes) -> bytes:
    """Returns one uncompressed gRPC length-prefixed frame holding the serialised message."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def run_h2load(
    url: str,
    headers: dict[str, str],
    body_file: pathlib.Path,
    seconds: int,
    connections: int,
    streams: int,
    threads: int,
    log_file: pathlib.Path,
) -> LoadResult:
    """Runs h2load for a fixed time, POSTing body_file as a gRPC call; latencies come from its per-request log."""
    log_file.unlink(missing_ok=True)
    command = [
        "h2load", "-D", str(seconds), "-c", str(connections), "-m", str(streams), "-t", str(threads),
        "-d", str(body_file), "--log-file", str(log_file),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    completed = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 30)
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()[:500]
        raise RuntimeError(f"h2load failed with exit code {completed.returncode} on {url}: {output}")
    return parse_h2load(completed.stdout, log_file.read_text() if log_file.exists() else "")


def parse_h2load(report: str, log: str) -> LoadResult:
    """Parses h2load's text report and its --log-file lines (start in µs, HTTP status, duration in µs)."""
    finished = re.search(r"^finished in ([\d.]+)(ms|s), ([\d.]+) req/s", report, re.MULTILINE)
    counts = re.search(
        r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
        report,
        re.MULTILINE,
    )
    codes = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", report, re.MULTILINE)
    if finished is None or counts is None or codes is None:
        raise RuntimeError(f"cannot parse the h2load report:\n{report}")

    durations_ms = sorted(int(line.split("\t")[2]) / 1000 for line in log.splitlines() if line.count("\t") == 2)
    if len(durations_ms) < 2:
        raise RuntimeError(f"h2load logged {len(durations_ms)} requests; the report was:\n{report}")
    cut_points = statistics.quantiles(durations_ms, n=100, method="inclusive")

    # h2load's "failed" includes non-2xx/3xx responses, errored streams and timeouts.
    done, failed = int(counts.group(3)), int(counts.group(5))
    status_2xx = int(codes.group(1))
    seconds = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
    return LoadResult(
        requests=done,
        seconds=seconds,
        requests_per_second=float(finished.group(3)),
        p50_ms=cut_points[49],
        p99_ms=cut_points[98],
        ok_responses=status_2xx,
        failed=failed,
    )

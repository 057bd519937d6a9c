"""CPU time and peak memory of processes, and CPU time of the whole machine, read from /proc (Linux only)."""

import dataclasses
import os
import pathlib

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """Returns the user plus system CPU time of a process, in seconds; 0 when it has exited."""
    try:
        text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command name, which may hold spaces: utime and stime
    # are the 14th and 15th fields of the whole line.
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    """Returns the most resident memory the process has held since it started (VmHWM), in MiB; 0 when it has exited."""
    try:
        text = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_seconds() -> tuple[float, float]:
    """Returns (busy, total) CPU seconds of all cores since boot, from the first line of /proc/stat."""
    values = [int(v) for v in pathlib.Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    total = sum(values[:8])  # guest time is already counted in user time
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@dataclasses.dataclass
class Usage:
    """CPU use over one interval, in cores (CPU seconds per wall-clock second)."""

    by_process: dict[str, float]
    machine_busy: float
    # Peak resident memory of each process since it started, read at the end of the interval.
    peak_rss_mib: dict[str, float] = dataclasses.field(default_factory=dict)


class Meter:
    """Measures the CPU use of named processes and of the machine between start() and stop()."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self._process_start: dict[str, float] = {}
        self._machine_start = (0.0, 0.0)

    def start(self) -> None:
        self._process_start = {name: process_seconds(pid) for name, pid in self.pids.items()}
        self._machine_start = machine_seconds()

    def stop(self) -> Usage:
        busy, total = machine_seconds()
        start_busy, start_total = self._machine_start
        # Total CPU seconds grow by the number of cores each wall-clock second.
        wall = (total - start_total) / os.cpu_count() or 1e-9
        by_process = {
            name: (process_seconds(pid) - self._process_start[name]) / wall for name, pid in self.pids.items()
        }
        peak = {name: peak_rss_mib(pid) for name, pid in self.pids.items()}
        return Usage(by_process, (busy - start_busy) / wall, peak)

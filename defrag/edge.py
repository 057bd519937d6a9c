"""Runs Envoy as the mesh's edge in a container: `defrag-edge --config PATH`.

Envoy runs as a child with flags for a container and writes its own log
lines to stderr, which this process leaves to it. On SIGTERM or SIGINT
this process drains Envoy (a second signal ends the drain early):

1. POST /healthcheck/fail on Envoy's admin port, so /ready returns 503
   and the pod leaves its Services;
2. POST /drain_listeners?graceful&skip_exit: from then on every HTTP/1.1
   response carries Connection: close and every HTTP/2 connection gets a
   GOAWAY. The listeners keep accepting the connections that a load
   balancer still sends, because `skip_exit` keeps them open past Envoy's
   drain time (checked on Envoy 1.40);
3. after ENVOY_DRAIN_SECONDS it stops Envoy with SIGTERM and exits 0.

The admin port is reached on 127.0.0.1. When Envoy exits by itself, this
process exits with Envoy's code (128 + the signal number when a signal
killed it), at once and during a drain too.

Settings (a flag overrides its environment variable):
  --config, ENVOY_CONFIG            Envoy's configuration file (required)
  --admin-port, ENVOY_ADMIN_PORT    Envoy's admin port; default: the
                                    config's admin.address.socket_address.port_value
  --concurrency, ENVOY_CONCURRENCY  Envoy's worker threads, 1..256; default:
                                    the container's CPU limit rounded up,
                                    at most the CPUs this process may use
  ENVOY_DRAIN_SECONDS               seconds from SIGTERM to stopping Envoy,
                                    1..3600, default 15
  ENVOY_DRAIN_STRATEGY              immediate (default: every connection is
                                    asked to close at once) or gradual (a
                                    share that grows over the drain time)
  ENVOY_LOG_LEVEL                   Envoy's log level, default warning
  DEFRAG_LOG_LEVEL                  this process's log level, default INFO
Arguments after `--` go to Envoy unchanged.

Exit codes: 0 after a drain, 2 for an invalid setting, 1 when Envoy
cannot start or does not stop, otherwise Envoy's own code.
"""

import argparse
import dataclasses
import logging
import math
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

from defrag import mesh
from defrag.platform import logs
from defrag.platform.config import ConfigError, env_int, env_str

log = logging.getLogger("edge")

DEFAULT_DRAIN_SECONDS = 15
MAX_DRAIN_SECONDS = 3600
MAX_CONCURRENCY = 256
DRAIN_STRATEGIES = ("immediate", "gradual")
LOG_LEVELS = ("trace", "debug", "info", "warning", "warn", "error", "critical", "off")
# Envoy's log lines as JSON objects, like this process's own. In spdlog's
# pattern, %j escapes the message for JSON and %z is the time's UTC offset.
ENVOY_LOG_FORMAT = '{"time":"%Y-%m-%dT%T.%e%z","level":"%l","service":"envoy","logger":"%n","message":"%j"}'
ADMIN_TIMEOUT_SECONDS = 2.0
# Seconds that Envoy gets to exit after SIGTERM before it is killed; it took milliseconds in the tests.
STOP_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.1
CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated settings of one run."""

    config: pathlib.Path
    admin_port: int
    concurrency: int
    drain_seconds: int
    drain_strategy: str
    log_level: str
    envoy_args: list[str]


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="defrag-edge",
        description="Run Envoy as the defrag edge; on SIGTERM drain it for ENVOY_DRAIN_SECONDS, then stop it.",
    )
    parser.add_argument("--config", help="Envoy's configuration file (default: ENVOY_CONFIG)")
    parser.add_argument("--admin-port", type=int,
                        help="Envoy's admin port on 127.0.0.1 (default: ENVOY_ADMIN_PORT, else the config's admin address)")
    parser.add_argument("--concurrency", type=int,
                        help="Envoy's worker threads (default: ENVOY_CONCURRENCY, else the container's CPU limit)")
    parser.add_argument("envoy_args", nargs="*", help="arguments for Envoy, after --")
    return parser.parse_args(argv)


def read_settings(argv: list[str]) -> Settings:
    """Reads the flags and the environment; raises ConfigError naming the setting at fault."""
    arguments = parse_arguments(argv)

    path = arguments.config or env_str("ENVOY_CONFIG", "")
    if not path:
        raise ConfigError("no Envoy configuration: pass --config PATH or set ENVOY_CONFIG")
    config = pathlib.Path(path)
    if not config.is_file():
        raise ConfigError(f"the Envoy configuration {config} does not exist or is not a file: fix --config or ENVOY_CONFIG")

    if arguments.admin_port is not None:
        admin_port = check_range("--admin-port", arguments.admin_port, 1, 65535)
    else:
        admin_port = env_int("ENVOY_ADMIN_PORT", 0, 0, 65535) or admin_port_of(config)

    if arguments.concurrency is not None:
        concurrency = check_range("--concurrency", arguments.concurrency, 1, MAX_CONCURRENCY)
    else:
        concurrency = env_int("ENVOY_CONCURRENCY", 0, 0, MAX_CONCURRENCY) or default_concurrency()

    drain_seconds = env_int("ENVOY_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS, 1, MAX_DRAIN_SECONDS)
    drain_strategy = env_str("ENVOY_DRAIN_STRATEGY", "immediate")
    if drain_strategy not in DRAIN_STRATEGIES:
        raise ConfigError(f"ENVOY_DRAIN_STRATEGY={drain_strategy!r} is not one of {', '.join(DRAIN_STRATEGIES)}: set one of them")
    log_level = env_str("ENVOY_LOG_LEVEL", "warning")
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"ENVOY_LOG_LEVEL={log_level!r} is not one of {', '.join(LOG_LEVELS)}: set one of them")

    return Settings(config, admin_port, concurrency, drain_seconds, drain_strategy, log_level, arguments.envoy_args)


def check_range(name: str, value: int, minimum: int, maximum: int) -> int:
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} {value} is outside {minimum}..{maximum}: pass a value in that range")
    return value


def admin_port_of(config: pathlib.Path) -> int:
    """Returns the admin port that an Envoy configuration file sets; raises ConfigError without one."""
    try:
        document = yaml.safe_load(config.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the Envoy configuration {config}: {error}") from None
    try:
        address = document["admin"]["address"]["socket_address"]
        port = int(address["port_value"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            f"the Envoy configuration {config} has no admin.address.socket_address.port_value: "
            "add an admin listener on 127.0.0.1, or pass --admin-port"
        ) from None
    host = str(address.get("address", ""))
    if host not in ("127.0.0.1", "0.0.0.0", "localhost"):
        raise ConfigError(
            f"the Envoy configuration {config} binds its admin port to {host!r}, which defrag-edge "
            "cannot reach on 127.0.0.1: bind it to 127.0.0.1"
        )
    return check_range(f"the admin port in {config}", port, 1, 65535)


def cgroup_cpu_limit(root: pathlib.Path = CGROUP_ROOT) -> int | None:
    """Returns this container's CPU limit rounded up to whole CPUs, or None when it has none.

    Reads cgroup v2's cpu.max ("max 100000" or "<quota> <period>" in
    microseconds), else cgroup v1's cpu.cfs_quota_us (-1 means no limit)
    and cpu.cfs_period_us.
    """
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        quota = period = None
        for folder in (root / "cpu", root / "cpu,cpuacct"):
            try:
                quota = (folder / "cpu.cfs_quota_us").read_text().strip()
                period = (folder / "cpu.cfs_period_us").read_text().strip()
                break
            except OSError:
                continue
    if quota is None or quota in ("max", "-1"):
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def default_concurrency(root: pathlib.Path = CGROUP_ROOT) -> int:
    """Returns the CPUs this process may use, capped by the container's CPU limit.

    Envoy would otherwise start one worker per CPU of the node, which a
    container limited to fewer CPUs runs throttled.
    """
    usable = len(os.sched_getaffinity(0))
    limit = cgroup_cpu_limit(root)
    return max(1, min(usable, limit) if limit else usable)


def envoy_command(settings: Settings) -> list[str]:
    return [
        mesh.envoy_binary(),
        "--config-path", str(settings.config),
        "--concurrency", str(settings.concurrency),
        # A container is replaced, never hot restarted; without hot restart
        # Envoy needs no shared memory and no base id.
        "--disable-hot-restart",
        "--drain-time-s", str(settings.drain_seconds),
        "--drain-strategy", settings.drain_strategy,
        "--log-level", settings.log_level,
        "--log-format", ENVOY_LOG_FORMAT,
        *settings.envoy_args,
    ]


def start_envoy(settings: Settings) -> subprocess.Popen:
    """Starts Envoy in its own session, so a terminal's Ctrl-C reaches only this process, which drains it.

    Linux sends Envoy SIGTERM when this process dies, so it never
    outlives it.
    """
    return subprocess.Popen(envoy_command(settings), start_new_session=True, preexec_fn=mesh.die_with_parent)


def exit_code(returncode: int) -> int:
    """Returns a shell's exit code for a child's return code (negative: killed by that signal)."""
    return 128 - returncode if returncode < 0 else returncode


def admin_post(port: int, path: str) -> None:
    """POSTs to Envoy's admin endpoint; raises OSError when it fails."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST")
    with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT_SECONDS) as reply:
        reply.read()


class Signals:
    """The SIGTERM and SIGINT signals received so far."""

    def __init__(self):
        self.received: list[str] = []

    def install(self) -> None:
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._handle)

    def _handle(self, number, frame) -> None:
        self.received.append(signal.Signals(number).name)


def wait_for_signal(envoy: subprocess.Popen, signals: Signals) -> int | None:
    """Waits for a signal or Envoy's exit; returns Envoy's return code if it exited first."""
    while not signals.received:
        code = envoy.poll()
        if code is not None:
            return code
        time.sleep(POLL_SECONDS)
    return None


def drain(envoy: subprocess.Popen, settings: Settings, signals: Signals) -> int | None:
    """Asks Envoy to drain, then waits the drain time; returns Envoy's return code if it exited meanwhile."""
    deadline = time.monotonic() + settings.drain_seconds
    log.info("draining", extra={"signal": signals.received[0], "drain_seconds": settings.drain_seconds,
                                "drain_strategy": settings.drain_strategy})
    for path in ("/healthcheck/fail", "/drain_listeners?graceful&skip_exit"):
        try:
            admin_post(settings.admin_port, path)
        except (OSError, urllib.error.URLError) as error:
            # Waiting still lets calls in flight finish while the pod leaves its Services.
            log.error("Envoy's admin endpoint failed; waiting the drain time without it",
                      extra={"path": path, "admin_port": settings.admin_port, "error": str(error)})

    while time.monotonic() < deadline:
        code = envoy.poll()
        if code is not None:
            return code
        if len(signals.received) > 1:
            log.info("a second signal ends the drain early", extra={"signal": signals.received[-1]})
            break
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    return envoy.poll()


def stop(envoy: subprocess.Popen) -> int:
    """Stops Envoy with SIGTERM, kills it if it outlasts STOP_TIMEOUT_SECONDS; returns this process's exit code."""
    envoy.send_signal(signal.SIGTERM)
    try:
        code = envoy.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        envoy.kill()
        envoy.wait()
        log.error("Envoy did not stop within the timeout after SIGTERM; killed it",
                  extra={"timeout_seconds": STOP_TIMEOUT_SECONDS})
        return 1
    if code in (0, -signal.SIGTERM):
        log.info("stopped")
        return 0
    log.error("Envoy exited with an error while stopping", extra={"exit_code": exit_code(code)})
    return exit_code(code)


def report_exit(code: int) -> int:
    """Logs an exit of Envoy that this process did not ask for and returns the exit code to pass on."""
    if code == 0:
        log.info("Envoy exited by itself", extra={"exit_code": 0})
    else:
        log.error("Envoy exited by itself; exiting with its code", extra={"exit_code": exit_code(code)})
    return exit_code(code)


def main(argv: list[str] | None = None) -> int:
    logs.setup("edge", env_str("DEFRAG_LOG_LEVEL", "INFO"))
    try:
        settings = read_settings(sys.argv[1:] if argv is None else argv)
    except ConfigError as error:
        log.error("invalid configuration: %s", error)
        return 2

    # Before Envoy starts, so that a SIGTERM during its start-up is not lost.
    signals = Signals()
    signals.install()
    try:
        envoy = start_envoy(settings)
    except OSError as error:
        log.error("cannot start Envoy: %s", error, extra={"command": envoy_command(settings)[0]})
        return 1
    log.info("started", extra={"pid": envoy.pid, "config": str(settings.config), "admin_port": settings.admin_port,
                               "concurrency": settings.concurrency, "drain_seconds": settings.drain_seconds})

    code = wait_for_signal(envoy, signals)
    if code is not None:
        return report_exit(code)
    code = drain(envoy, settings, signals)
    if code is not None:
        return report_exit(code)
    return stop(envoy)


if __name__ == "__main__":
    raise SystemExit(main())

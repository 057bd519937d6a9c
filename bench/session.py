"""One bench configuration: a mesh, the extra Envoys, a key, the checks before the load, and the measured runs."""

import dataclasses
import json
import pathlib
import time
import urllib.error
import urllib.request

import grpc

from bench import counters, cpu, edge, load
from defrag.keys.v1 import admin_pb2, admin_pb2_grpc
from defrag.mesh import Mesh, Ports
from defrag.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc

BENCH_DIR = pathlib.Path(__file__).resolve().parent
BENCH_TIERS = BENCH_DIR / "tiers.yaml"

REST_PATH = "/v1/telemetry/vectors?date=1990-01-15&time=14:30&lat=34.05&lon=-118.24"
GRPC_PATH = counters.TELEMETRY_METHOD
GRPC_REQUEST = telemetry_pb2.GetVectorsRequest(date="1990-01-15", time="14:30", lat=34.05, lon=-118.24)

# Targets of every configuration, in the order they are measured.
TARGETS = {
    "a": "bare Envoy, direct response",
    "b": "real filter chain and gateway, direct response",
    "c": "whole mesh, telemetry service",
}
# Targets measured once, beside a and b of the best configuration: the same
# chain and direct response, with ext_authz handled by something other
# than the gateway.
REFERENCE_TARGETS = {
    "null": "chain, ext_authz handled inside Envoy (no Python, no Redis)",
    "grpc-ref": "chain, Python grpc.aio authorizer that admits every call",
    "http-ref": "chain, Python asyncio authorizer over ext_authz HTTP that admits every call",
}
PROTOCOLS = ("REST", "gRPC")
# Longer than the p99 of every target measured so far.
SETTLE_SECONDS = 0.5


@dataclasses.dataclass(frozen=True)
class Config:
    """Process counts and log level of one mesh under test."""

    gateway_workers: int
    telemetry_workers: int
    envoy_concurrency: int
    log_level: str = "INFO"

    @property
    def label(self) -> str:
        return (
            f"gateway x{self.gateway_workers}, telemetry x{self.telemetry_workers}, "
            f"Envoy concurrency {self.envoy_concurrency}, log {self.log_level}"
        )

    @property
    def slug(self) -> str:
        return f"g{self.gateway_workers}-t{self.telemetry_workers}-e{self.envoy_concurrency}-{self.log_level.lower()}"


@dataclasses.dataclass(frozen=True)
class LoadShape:
    """Shape of every measured run: length, warm-up and concurrency."""

    seconds: int
    warm_up_seconds: int
    connections: int
    threads: int


@dataclasses.dataclass
class Measurement:
    """One measured run and the server-side check of its responses."""

    config: Config
    target: str
    protocol: str
    result: load.LoadResult
    check: str
    check_passed: bool
    cpu: cpu.Usage


class CheckFailed(Exception):
    """A request before the load did not get the expected reply; the message shows what came back."""


class Session:
    """A running mesh with the extra Envoys beside it, and a key of the bench tier."""

    def __init__(self, config: Config, var: pathlib.Path, shape: LoadShape, targets: list[str]):
        self.config = config
        self.var = var
        self.shape = shape
        self.targets = targets
        self.mesh = Mesh(
            var,
            Ports.free(gateway_workers=config.gateway_workers, telemetry_workers=config.telemetry_workers),
            tiers=BENCH_TIERS,
            envoy_concurrency=config.envoy_concurrency,
            env={"DEFRAG_LOG_LEVEL": config.log_level},
        )
        self.key = ""
        self.urls: dict[str, str] = {}
        self.envoy_admin_ports: dict[str, int] = {}
        self.grpc_body = var / "get_vectors.grpc"

    def __enter__(self) -> "Session":
        self.mesh.start()
        mesh_processes = set(self.mesh.processes)
        try:
            self._start_envoys()
            self.key = self._create_key()
            self.grpc_body.write_bytes(load.grpc_frame(GRPC_REQUEST.SerializeToString()))
            self.check_replies()
        except BaseException:
            self._stop(mesh_processes)
            raise
        self._mesh_processes = mesh_processes
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop(self._mesh_processes)

    def _stop(self, mesh_processes: set[str]) -> None:
        # Mesh.stop() stops only the processes it started itself, so the
        # bench's Envoys and authorizers go first.
        for name in [name for name in self.mesh.processes if name not in mesh_processes]:
            self.mesh.stop_process(name)
        self.mesh.stop()

    def _start_envoys(self) -> None:
        concurrency = self.config.envoy_concurrency
        starters = {
            "a": lambda: edge.start_bare(self.mesh, concurrency),
            "b": lambda: edge.start_chain(self.mesh, concurrency),
            "null": lambda: edge.start_null_authorizer(self.mesh, concurrency),
            "grpc-ref": lambda: edge.start_reference_authorizer(self.mesh, concurrency, "grpc"),
            "http-ref": lambda: edge.start_reference_authorizer(self.mesh, concurrency, "http"),
        }
        for target in self.targets:
            if target == "c":
                self.urls["c"] = self.mesh.public_url
                self.envoy_admin_ports["c"] = self.mesh.ports.envoy_admin
            else:
                envoy = starters[target]()
                self.urls[target] = envoy.url
                self.envoy_admin_ports[target] = envoy.admin_port

    def _create_key(self) -> str:
        metadata = [("authorization", f"Bearer {self.mesh.admin_token}")]
        with grpc.insecure_channel(self.mesh.admin_address) as channel:
            admin = admin_pb2_grpc.KeyAdminServiceStub(channel)
            admin.CreateAccount(
                admin_pb2.CreateAccountRequest(account_id="bench", tier="bench", mode="live"), metadata=metadata, timeout=10
            )
            created = admin.CreateKey(admin_pb2.CreateKeyRequest(account_id="bench", name="bench"), metadata=metadata, timeout=10)
        return created.plaintext

    # --- checks before the load -------------------------------------------

    def check_replies(self) -> None:
        """Sends one REST request to each target and gRPC calls to b and c; raises CheckFailed on an unexpected reply."""
        for target, url in self.urls.items():
            status, headers, body = self._rest(url)
            if status != 200:
                raise CheckFailed(f"REST {target} at {url}: HTTP {status}: {body[:300]!r}")
            if target != "c" and body.decode() != edge.DIRECT_RESPONSE_BODY:
                raise CheckFailed(f"REST {target} at {url}: expected the direct response, got {body[:300]!r}")
            if target == "b" and "ratelimit" not in headers:
                raise CheckFailed(f"REST b at {url}: no RateLimit header, so the gateway did not admit the call: {headers}")
            if target == "c" and len(json.loads(body)["bodies"]) != 10:
                raise CheckFailed(f"REST c at {url}: expected 10 bodies, got {body[:300]!r}")

        if "c" in self.urls:
            # A native gRPC call through the whole mesh must end with status OK and ten bodies.
            with grpc.insecure_channel(self.urls["c"].removeprefix("http://")) as channel:
                stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
                reply, call = stub.GetVectors.with_call(GRPC_REQUEST, metadata=self._grpc_metadata(), timeout=10)
                if call.code() != grpc.StatusCode.OK or len(reply.bodies) != 10:
                    raise CheckFailed(f"gRPC c: status {call.code()}, {len(reply.bodies)} bodies")

        if "b" in self.urls:
            # The direct response is text, not a gRPC message, so a gRPC client
            # reports UNKNOWN; the RateLimit header shows that the gateway admitted it.
            with grpc.insecure_channel(self.urls["b"].removeprefix("http://")) as channel:
                stub = telemetry_pb2_grpc.TelemetryServiceStub(channel)
                try:
                    stub.GetVectors(GRPC_REQUEST, metadata=self._grpc_metadata(), timeout=10)
                except grpc.RpcError as error:
                    metadata = (*(error.initial_metadata() or ()), *(error.trailing_metadata() or ()))
                    admitted = any(key == "ratelimit" for key, _ in metadata)
                    if error.code() != grpc.StatusCode.UNKNOWN or not admitted:
                        raise CheckFailed(f"gRPC b: {error.code()} {error.details()}, metadata {metadata}") from None
                else:
                    raise CheckFailed("gRPC b: the direct response decoded as a gRPC message; check bench/edge.py")

    def _rest(self, url: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url + REST_PATH, headers={"Authorization": f"Bearer {self.key}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()

    def _grpc_metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.key}")]

    # --- measured runs ----------------------------------------------------

    def _run(self, target: str, protocol: str, seconds: int) -> load.LoadResult:
        shape = self.shape
        if protocol == "REST":
            return load.run_wrk(
                self.urls[target] + REST_PATH,
                {"Authorization": f"Bearer {self.key}"},
                seconds,
                shape.connections,
                shape.threads,
            )
        headers = {"content-type": "application/grpc", "te": "trailers", "authorization": f"Bearer {self.key}"}
        return load.run_h2load(
            self.urls[target] + GRPC_PATH,
            headers,
            self.grpc_body,
            seconds,
            shape.connections,
            1,
            shape.threads,
            self.var / f"h2load-{target}.log",
        )

    def _snapshot(self, target: str) -> counters.Snapshot:
        return counters.snapshot(self.mesh, self.envoy_admin_ports[target] if target != "a" else None)

    def measure(self, target: str, protocol: str) -> Measurement:
        """Warms up, then runs the measured load and compares the client's count with the servers' counters."""
        if self.shape.warm_up_seconds:
            self._run(target, protocol, self.shape.warm_up_seconds)
            # Let requests left in flight by the warm-up finish before counting.
            time.sleep(SETTLE_SECONDS)
        before = self._snapshot(target)
        meter = cpu.Meter({name: process.pid for name, process in self.mesh.processes.items()})
        meter.start()
        result = self._run(target, protocol, self.shape.seconds)
        usage = meter.stop()
        delta = self._snapshot(target) - before
        check, passed = check_counts(target, result, delta, self.shape.connections)
        return Measurement(self.config, target, protocol, result, check, passed, usage)


def check_counts(target: str, result: load.LoadResult, delta: counters.Snapshot, connections: int) -> tuple[str, bool]:
    """Compares the client's 2xx count with the servers' counters; returns a summary and whether they agree."""
    # A request still in flight when the load generator stops is counted by
    # the servers but not by the client, so a server may count up to one
    # more per connection.
    ok = result.ok_responses

    def close_to_ok(count: int) -> bool:
        return ok <= count <= ok + connections

    client = f"{ok} 2xx, {result.failed} failed"
    envoy = f"ext_authz ok {delta.ext_authz_ok}, not ok {delta.ext_authz_not_ok}"
    gateway = f"gateway admitted {delta.gateway_allowed}, denied {delta.gateway_denied}"
    nothing_failed = result.failed == 0 and ok > 0

    if target == "a":
        passed = nothing_failed and delta.gateway_allowed == 0 and delta.gateway_denied == 0
        return f"{client}; gateway saw none", passed
    if target in REFERENCE_TARGETS:
        passed = nothing_failed and delta.ext_authz_not_ok == 0 and close_to_ok(delta.ext_authz_ok) and delta.gateway_allowed == 0
        return f"{client}; {envoy}; gateway saw none", passed

    passed = (
        nothing_failed
        and delta.gateway_denied == 0
        and delta.ext_authz_not_ok == 0
        and close_to_ok(delta.gateway_allowed)
        and close_to_ok(delta.ext_authz_ok)
    )
    if target == "b":
        return f"{client}; {envoy}; {gateway}", passed
    passed = passed and delta.telemetry_not_ok == 0 and close_to_ok(delta.telemetry_ok)
    telemetry = f"telemetry grpc-status OK {delta.telemetry_ok}, other {delta.telemetry_not_ok}"
    return f"{client}; {envoy}; {gateway}; {telemetry}", passed

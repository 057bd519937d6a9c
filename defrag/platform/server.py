"""Start-up, health, metrics, request logs and graceful shutdown for every gRPC service."""

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

import grpc
from google.protobuf import descriptor as pb_descriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_status import rpc_status
from prometheus_client import Counter, Histogram, start_http_server

from defrag.platform import logs
from defrag.platform.config import ConfigError, env_int, env_str
from defrag.platform.errors import ApiError

log = logging.getLogger("defrag.server")

REQUESTS = Counter(
    "defrag_grpc_requests_total",
    "gRPC calls handled, by service, method and gRPC status code.",
    ["service", "method", "code"],
)
LATENCY = Histogram(
    "defrag_grpc_request_duration_seconds",
    "Time spent handling a gRPC call in the service, by method.",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

# Codes whose series exist from start-up, so a dashboard shows 0 rather than no data.
INITIAL_CODES = ("OK", "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL")

# Health checks are not logged, and the gateway logs its own decisions with the request id.
MAX_ID_LENGTH = 128

QUIET_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.", "/envoy.service.auth.v3.Authorization/")

# Large enough for a year of telemetry instants; the gateway enforces the
# per-method byte limits before a request reaches a service.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
MAX_METADATA_BYTES = 64 * 1024


def method_paths(services: Iterable[pb_descriptor.ServiceDescriptor]) -> list[str]:
    """Returns "/package.Service/Method" for every method of the services."""
    return [f"/{s.full_name}/{m.name}" for s in services for m in s.methods]


def grpc_status(error: ApiError, request_id: str) -> grpc.Status:
    """Returns the error as a gRPC status, with retry-after metadata when the error sets a retry delay.

    Envoy's transcoder turns the trailers of an error into response headers,
    so a REST caller gets the Retry-After header as well.
    """
    status = rpc_status.to_status(error.to_status(request_id))
    if error.retry_after_seconds is None:
        return status
    metadata = (*status.trailing_metadata, ("retry-after", str(error.retry_after_seconds)))
    return status._replace(trailing_metadata=metadata)


class ObservingInterceptor(grpc.aio.ServerInterceptor):
    """Counts, times and logs every unary call, and turns ApiError into a rich status."""

    def __init__(self, service: str):
        self.service = service
        # Wrapped handlers by method path, built once: the hot path (the
        # gateway's Check) must not pay for a new handler on every call.
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(self, continuation, details):
        method = details.method
        wrapped = self._handlers.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def observed(request, context):
            return await self._observe(inner, method, request, context)

        wrapped = grpc.unary_unary_rpc_method_handler(
            observed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._handlers[method] = wrapped
        return wrapped

    async def _observe(self, inner, method, request, context):
        started = time.perf_counter()
        metadata = dict(context.invocation_metadata() or ())
        # Client-supplied ids are logged and echoed only up to a bounded length.
        request_id = metadata.get("x-request-id", "")[:MAX_ID_LENGTH]
        code = "OK"
        try:
            return await inner(request, context)
        except ApiError as error:
            code = error.code.name
            await context.abort_with_status(grpc_status(error, request_id))
        except (asyncio.CancelledError, grpc.aio.AbortError):
            code = context.code().name if context.code() else "CANCELLED"
            raise
        except Exception as error:  # a bug: reply in the shared shape and log the request id, never the input
            code = "INTERNAL"
            log.exception("unhandled error", extra={"request_id": request_id, "method": method})
            failure = ApiError(
                grpc.StatusCode.INTERNAL,
                "INTERNAL",
                f"internal error ({type(error).__name__}); retry, and report the request id if it persists",
            )
            await context.abort_with_status(rpc_status.to_status(failure.to_status(request_id)))
        finally:
            elapsed = time.perf_counter() - started
            REQUESTS.labels(self.service, method, code).inc()
            LATENCY.labels(self.service, method).observe(elapsed)
            if not method.startswith(QUIET_METHODS):
                log.info(
                    "request",
                    extra={
                        "method": method,
                        "code": code,
                        "duration_ms": round(elapsed * 1000, 3),
                        "request_id": request_id,
                        "traceparent": metadata.get("traceparent", "")[:MAX_ID_LENGTH],
                        "account_id": metadata.get("x-defrag-account-id", ""),
                        "key_id": metadata.get("x-defrag-key-id", ""),
                    },
                )


class Service:
    """A running gRPC server with health, metrics and a SIGTERM handler."""

    def __init__(self, name: str, server: grpc.aio.Server, health: HealthServicer, port: int):
        self.name = name
        self.server = server
        self.health = health
        self.port = port

    async def stop(self, grace_seconds: float, drain_seconds: float = 0.0) -> None:
        """Reports NOT_SERVING, keeps serving for drain_seconds, then stops accepting and finishes in-flight calls.

        The drain gives a load balancer that health-checks this process (Envoy
        does, every second) time to stop sending calls before the port closes.
        """
        await self.health.enter_graceful_shutdown()
        if drain_seconds > 0:
            await asyncio.sleep(drain_seconds)
        await self.server.stop(grace_seconds)


async def start(
    name: str,
    port: int,
    register: Callable[[grpc.aio.Server], Iterable[pb_descriptor.ServiceDescriptor]],
    *,
    host: str = "127.0.0.1",
    metrics_port: int | None = None,
    extra: Callable[[grpc.aio.Server], Awaitable[None] | None] | None = None,
    channel_options: Sequence[tuple[str, int]] = (),
) -> Service:
    """Starts a gRPC server on host:port (0 picks a free port) and returns it.

    `register` adds the servicers and returns their descriptors, which name
    the health entries and the metric series created at start-up.
    `channel_options` are gRPC core arguments added to the defaults.
    """
    server = grpc.aio.server(
        interceptors=[ObservingInterceptor(name)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # A REST call's path and query string reach the service as metadata
            # (x-envoy-original-path, which Envoy's error pages also read), and the
            # gateway admits queries up to 16 KiB, past gRPC's 8 KiB default.
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.so_reuseport", 0),
            *channel_options,
        ],
    )
    services = list(register(server))
    if extra is not None:
        result = extra(server)
        if asyncio.iscoroutine(result):
            await result

    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    for service in services:
        await health.set(service.full_name, health_pb2.HealthCheckResponse.SERVING)

    for method in method_paths(services):
        LATENCY.labels(name, method)
        for code in INITIAL_CODES:
            REQUESTS.labels(name, method, code)

    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"{name}: cannot listen on {host}:{port}; choose a free port")
    await server.start()
    if metrics_port is not None:
        try:
            start_http_server(metrics_port, addr=host)
        except OSError as error:
            await server.stop(0)
            raise OSError(f"{name}: cannot serve metrics on {host}:{metrics_port} ({error}); choose a free port") from None
    log.info("started", extra={"port": bound, "metrics_port": metrics_port})
    return Service(name, server, health, bound)


# Envoy's health checks run every second and take a process out after two
# failures, so three seconds of NOT_SERVING suffice before the port closes.
DEFAULT_DRAIN_SECONDS = 3.0


async def run_until_signal(service: Service, grace_seconds: float = 10.0, on_stop=None) -> None:
    """Serves until SIGTERM or SIGINT, then drains (DEFRAG_DRAIN_SECONDS) and finishes in-flight calls."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    await stopping.wait()
    # At most 5 s: with the 10 s grace it stays inside the 15 s that the
    # local runner waits before it kills a process.
    drain_seconds = env_int("DEFRAG_DRAIN_SECONDS", int(DEFAULT_DRAIN_SECONDS), 0, 5)
    log.info("stopping", extra={"drain_seconds": drain_seconds, "grace_seconds": grace_seconds})
    await service.stop(grace_seconds, drain_seconds)
    if on_stop is not None:
        await on_stop()
    log.info("stopped")


def run_service(name: str, serve: Callable[[], Awaitable[None]]) -> int:
    """Set up JSON logs, run serve() on uvloop when it is installed, and return the process's exit code.

    The code is 2 for an invalid setting, 1 when a listener cannot start
    and 0 after a clean stop. DEFRAG_LOG_LEVEL sets the log level.
    """
    service_log = logs.setup(name, env_str("DEFRAG_LOG_LEVEL", "INFO"))
    try:
        import uvloop
    except ImportError:
        uvloop = None

    try:
        if uvloop is not None:
            uvloop.run(serve())
        else:
            service_log.info("uvloop is not installed; using the default asyncio event loop")
            asyncio.run(serve())
    except ConfigError as error:
        service_log.error("invalid configuration: %s", error)
        return 2
    except OSError as error:
        service_log.error("cannot start: %s", error)
        return 1
    return 0

"""Starts one gateway process: ext_authz, usage and Envoy's access log service (public port) and, when configured, the admin API.

Environment:
  REDIS_URL              Redis with the keys, accounts and usage (required);
                         redis:// or rediss://, with REDIS_CLUSTER any one node
  REDIS_CLUSTER          true when REDIS_URL names a node of a Redis Cluster,
                         default false (one Redis server)
  REDIS_TIMEOUT_MS       Redis connect and reply timeout, 50..60000, default 500
  GATEWAY_PORT           ext_authz, usage, reflection and Envoy's access log
                         service, default 50051
  GATEWAY_METRICS_PORT   Prometheus /metrics, default 9101
  ADMIN_PORT             admin API port; unset or 0 serves no admin API
  ADMIN_HOST             admin API address, default 127.0.0.1
  DEFRAG_ADMIN_TOKEN     token the admin API requires (required with ADMIN_PORT)
  DEFRAG_TIERS           tiers file, default config/tiers.yaml
  DEFRAG_BIND_HOST       address of the public port, default 127.0.0.1
  DEFRAG_LOG_LEVEL       log level, default INFO (one line per decision)
"""

import asyncio
import contextlib
import logging
import sys

from prometheus_client import Gauge

from defrag.keys.v1 import admin_pb2, admin_pb2_grpc, usage_pb2, usage_pb2_grpc
from defrag.platform import logs, redis_client, server
from defrag.platform.config import ConfigError, env_int, env_str
from services.gateway import authz, reflection, tiers, undelivered
from services.gateway.admin import KeyAdminServicer
from services.gateway.methods import PUBLIC_METHODS
from services.gateway.store import Store, StoreUnavailable
from services.gateway.usage import UsageServicer

# How often the gateway reads INFO memory from each Redis primary.
MEMORY_SAMPLE_SECONDS = 15.0
# At most one warning per interval while the samples keep failing.
MEMORY_FAILURE_LOG_SECONDS = 300.0
# Envoy pings every gateway connection each second and closes one whose ping
# gets no ack within 1 s (connection_keepalive in the Envoy template), so that
# its access log stream leaves a hung replica. gRPC's default server policy
# responds to pings that often with GOAWAY (too many pings), which would
# close every idle connection after two pings.
ENVOY_PING_OPTIONS = (
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 500),
    ("grpc.http2.max_ping_strikes", 0),
)

REDIS_MEMORY_USED = Gauge(
    "defrag_redis_memory_used_bytes",
    "Memory that Redis uses for data and overhead (used_memory of INFO memory), by node (host:port of each primary).",
    ["node"],
)
REDIS_MEMORY_MAX = Gauge(
    "defrag_redis_memory_max_bytes",
    "The maxmemory limit of each Redis primary, by node (host:port); 0 when Redis has no limit.",
    ["node"],
)

memory_log = logging.getLogger("gateway.redis_memory")


async def sample_redis_memory(store: Store, interval_seconds: float = MEMORY_SAMPLE_SECONDS) -> None:
    """Sets the Redis memory gauges every interval, until cancelled; decisions never wait for it.

    A node that is no longer a primary loses its series at the next sample.
    """
    sampled: set[str] = set()
    failures = logs.RepeatLimiter(MEMORY_FAILURE_LOG_SECONDS)
    while True:
        try:
            memory = await asyncio.wait_for(store.memory_by_node(), interval_seconds)
        except (StoreUnavailable, TimeoutError) as error:
            skipped = failures.allow()
            if skipped is not None:
                memory_log.warning("reading Redis memory use failed; the gauges keep their last values",
                                   extra={"error": (str(error) or "timed out")[:200], "repeats_not_logged": skipped})
        else:
            for node, (used, limit) in memory.items():
                REDIS_MEMORY_USED.labels(node).set(used)
                REDIS_MEMORY_MAX.labels(node).set(limit)
            for node in sampled - memory.keys():
                REDIS_MEMORY_USED.remove(node)
                REDIS_MEMORY_MAX.remove(node)
            sampled = set(memory)
        await asyncio.sleep(interval_seconds)


async def main() -> None:
    log = logs.setup("gateway", env_str("DEFRAG_LOG_LEVEL", "INFO"))
    try:
        plans = tiers.load(known_methods=set(PUBLIC_METHODS))
        redis_url, cluster = env_str("REDIS_URL"), redis_client.cluster_enabled()
        store = Store(redis_url, timeout_seconds=env_int("REDIS_TIMEOUT_MS", 500, 50, 60_000) / 1000, cluster=cluster)
        await redis_client.check_server_mode(redis_url, cluster)
        admin_port = env_int("ADMIN_PORT", 0, 0, 65535)
        token = env_str("DEFRAG_ADMIN_TOKEN") if admin_port else ""
        port = env_int("GATEWAY_PORT", 50051, 0, 65535)
        metrics_port = env_int("GATEWAY_METRICS_PORT", 9101, 0, 65535)
    except ConfigError as error:
        log.error("invalid configuration", extra={"error": str(error)})
        sys.exit(2)

    def register_public(grpc_server):
        descriptors = authz.add_to_server(authz.AuthorizationServicer(store, plans), grpc_server)
        descriptors += undelivered.add_to_server(undelivered.AccessLogReceiver(store), grpc_server)
        usage_pb2_grpc.add_UsageServiceServicer_to_server(UsageServicer(store, plans), grpc_server)
        reflection.enable(grpc_server)
        return [*descriptors, usage_pb2.DESCRIPTOR.services_by_name["UsageService"]]

    def register_admin(grpc_server):
        admin_pb2_grpc.add_KeyAdminServiceServicer_to_server(KeyAdminServicer(store, plans, token), grpc_server)
        return [admin_pb2.DESCRIPTOR.services_by_name["KeyAdminService"]]

    admin = None
    try:
        public = await server.start(
            "gateway", port, register_public, host=env_str("DEFRAG_BIND_HOST", "127.0.0.1"), metrics_port=metrics_port,
            channel_options=ENVOY_PING_OPTIONS,
        )
        if admin_port:
            admin = await server.start("gateway-admin", admin_port, register_admin, host=env_str("ADMIN_HOST", "127.0.0.1"))
    except OSError as error:
        log.error("cannot start", extra={"error": str(error)})
        sys.exit(1)

    memory_sampler = asyncio.create_task(sample_redis_memory(store))

    async def stop_admin():
        memory_sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await memory_sampler
        if admin is not None:
            await admin.stop(5)
        await store.close()

    await server.run_until_signal(public, on_stop=stop_admin)


def run() -> None:
    """Runs main() on uvloop when it is installed; the `defrag-gateway` command."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


if __name__ == "__main__":
    run()

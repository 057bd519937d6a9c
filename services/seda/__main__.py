"""Run the SEDA service: `python -m services.seda`.

Settings (environment):
  REDIS_URL                  Redis that contains the audit stream (required);
                             redis:// or rediss://, with REDIS_CLUSTER any one node
  REDIS_CLUSTER              true when REDIS_URL names a node of a Redis Cluster,
                             default false (one Redis server)
  SEDA_AUDIT_HMAC_SECRET     secret for input_hash, at least 32 bytes (required)
  SEDA_AUDIT_RETENTION_DAYS  days an audit record is kept, 1..3650, default 30
  SEDA_REDIS_TIMEOUT_MS      Redis connect and reply timeout, 10..5000, default 250
  SEDA_SCORING_THREADS       worker threads that run the scorer, 1..64, default 2
  SEDA_ENCODER               on (default) or off: off scores with the rules and
                             the n-gram model alone, 10 to 20 times faster with
                             lower recall, and adds -no-encoder to model_version
  SEDA_PORT                  gRPC port, default 50081 (0 picks a free port)
  SEDA_METRICS_PORT          Prometheus /metrics port, default 9131
  DEFRAG_BIND_HOST           address for both listeners, default 127.0.0.1
  DEFRAG_LOG_LEVEL           log level, default INFO (one line per call)
"""

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from redis import exceptions as redis_errors

from defrag.platform import redis_client
from defrag.platform.config import env_choice, env_int, env_str
from defrag.platform.server import run_service, run_until_signal, start
from services.seda import scorer
from services.seda.audit import AuditLog, read_secret
from services.seda.service import SedaServicer, register

log = logging.getLogger("seda")

# Every write trims the stream only by whole nodes, so this exact trim bounds how long an expired record stays.
TRIM_INTERVAL_SECONDS = 3600.0


async def trim_periodically(audit_log: AuditLog) -> None:
    """Remove expired audit records every TRIM_INTERVAL_SECONDS, logging failures and going on."""
    while True:
        try:
            removed = await audit_log.trim()
            log.info("trimmed the audit stream", extra={"removed": removed})
        except (redis_errors.RedisError, OSError) as error:
            log.warning("trimming the audit stream failed; retrying in an hour", extra={"error": str(error)[:200]})
        await asyncio.sleep(TRIM_INTERVAL_SECONDS)


async def serve() -> None:
    secret = read_secret(env_str("SEDA_AUDIT_HMAC_SECRET"))
    redis_url = env_str("REDIS_URL")
    redis_cluster = redis_client.cluster_enabled()
    retention_days = env_int("SEDA_AUDIT_RETENTION_DAYS", 30, 1, 3650)
    timeout_seconds = env_int("SEDA_REDIS_TIMEOUT_MS", 250, 10, 5000) / 1000
    threads = env_int("SEDA_SCORING_THREADS", 2, 1, 64)
    use_encoder = env_choice("SEDA_ENCODER", ("on", "off"), "on") == "on"
    port = env_int("SEDA_PORT", 50081, minimum=0, maximum=65535)
    metrics_port = env_int("SEDA_METRICS_PORT", 9131, minimum=1, maximum=65535)
    host = env_str("DEFRAG_BIND_HOST", "127.0.0.1")

    # One call before serving, so the first request does not pay for the scorer's set-up.
    scorer.assess("warm-up")
    audit_log = AuditLog(redis_url, retention_days, timeout_seconds, cluster=redis_cluster)
    await redis_client.check_server_mode(redis_url, redis_cluster)
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="seda-scorer")
    servicer = SedaServicer(audit_log, secret, executor, use_encoder)

    service = await start("seda", port, lambda server: register(server, servicer), host=host, metrics_port=metrics_port)
    log.info("audit stream settings", extra={"retention_days": retention_days, "redis_timeout_seconds": timeout_seconds})
    log.info("scorer settings", extra={"model_version": scorer.model_version(use_encoder)})
    trimming = asyncio.create_task(trim_periodically(audit_log))

    async def close() -> None:
        trimming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trimming
        executor.shutdown(wait=True)
        await audit_log.close()

    await run_until_signal(service, on_stop=close)


def main() -> int:
    return run_service("seda", serve)


if __name__ == "__main__":
    raise SystemExit(main())

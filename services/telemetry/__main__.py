"""Run the telemetry service: `python -m services.telemetry`.

Settings (environment):
  TELEMETRY_PORT          gRPC port, default 50052 (0 picks a free port)
  TELEMETRY_METRICS_PORT  Prometheus /metrics port, default 9102
  DEFRAG_BIND_HOST        address for both listeners, default 127.0.0.1
  DEFRAG_LOG_LEVEL        log level, default INFO (one line per call)
"""

from defrag import sky
from defrag.platform.config import env_int, env_str
from defrag.platform.server import run_service, run_until_signal, start
from services.telemetry.service import register


async def serve() -> None:
    port = env_int("TELEMETRY_PORT", 50052, minimum=0, maximum=65535)
    metrics_port = env_int("TELEMETRY_METRICS_PORT", 9102, minimum=1, maximum=65535)
    host = env_str("DEFRAG_BIND_HOST", "127.0.0.1")

    sky.warm_up()
    service = await start("telemetry", port, register, host=host, metrics_port=metrics_port)
    await run_until_signal(service)


def main() -> int:
    return run_service("telemetry", serve)


if __name__ == "__main__":
    raise SystemExit(main())

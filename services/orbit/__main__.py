"""Run the orbit service: `python -m services.orbit`.

Settings (environment):
  ORBIT_PORT          gRPC port, default 50091 (0 picks a free port)
  ORBIT_METRICS_PORT  Prometheus /metrics port, default 9141
  DEFRAG_BIND_HOST    address for both listeners, default 127.0.0.1
  DEFRAG_LOG_LEVEL    log level, default INFO (one line per call)
"""

from defrag.platform.config import env_int, env_str
from defrag.platform.server import run_service, run_until_signal, start
from defrag import sky
from services.orbit import service


async def serve() -> None:
    port = env_int("ORBIT_PORT", 50091, minimum=0, maximum=65535)
    metrics_port = env_int("ORBIT_METRICS_PORT", 9141, minimum=1, maximum=65535)
    host = env_str("DEFRAG_BIND_HOST", "127.0.0.1")

    sky.warm_up()
    server = await start("orbit", port, service.register, host=host, metrics_port=metrics_port)
    await run_until_signal(server)


def main() -> int:
    return run_service("orbit", serve)


if __name__ == "__main__":
    raise SystemExit(main())

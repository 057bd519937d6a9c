"""`make run`: the whole mesh on this machine until Ctrl-C.

Environment: REDIS_URL (use your own Redis instead of the embedded one),
REDIS_CLUSTER (true when REDIS_URL names a node of a Redis Cluster),
DEFRAG_GATEWAY_WORKERS (default 2), DEFRAG_TELEMETRY_WORKERS (default 1),
DEFRAG_SEDA_WORKERS (default 1), DEFRAG_ORBIT_WORKERS (default 1), DEFRAG_TIERS (tiers file),
DEFRAG_PORT_OFFSET (default 0: added to every port, so that a second copy or
another program can keep the defaults),
SEDA_AUDIT_HMAC_SECRET (secret of the audit hashes; without it a random one
is made once and kept in var/seda.env), and billing's Stripe settings
(STRIPE_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET_TEST, STRIPE_<TIER>_PRICE_ID,
STRIPE_API_KEY; see docs/billing.md). Without a webhook secret the webhook
answers 503.
"""

import collections
import os
import pathlib
import signal
import sys
import threading
import time

from defrag.mesh import Mesh, MeshError, Ports
from defrag.platform.config import ROOT, ConfigError, env_int

# A process that crashes more often than this is not restarted again, and
# the whole mesh stops.
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0


def main() -> int:
    try:
        gateways = env_int("DEFRAG_GATEWAY_WORKERS", 2, 1, 10)
        telemetry = env_int("DEFRAG_TELEMETRY_WORKERS", 1, 1, 10)
        seda = env_int("DEFRAG_SEDA_WORKERS", 1, 1, 10)
        orbit = env_int("DEFRAG_ORBIT_WORKERS", 1, 1, 10)
        offset = env_int("DEFRAG_PORT_OFFSET", 0, 0, 60000)
        ports = Ports.defaults(gateways, telemetry, seda, orbit).shifted(offset)
    except ConfigError as error:
        print(f"make run: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"make run: DEFRAG_PORT_OFFSET={offset}: {error}; set a smaller offset", file=sys.stderr)
        return 2

    # Logs, the append-only file and the admin token file are for this user only.
    os.umask(0o077)
    var = ROOT / "var"
    tiers = os.environ.get("DEFRAG_TIERS")
    mesh = Mesh(var, ports, redis_url=os.environ.get("REDIS_URL") or None,
                tiers=pathlib.Path(tiers) if tiers else None)
    busy = mesh.ports_in_use()
    if busy:
        print(f"make run: ports {', '.join(map(str, busy))} on 127.0.0.1 are already in use; "
              "stop the process that uses them (perhaps another make run) and try again, "
              "or move every port up with DEFRAG_PORT_OFFSET (for example DEFRAG_PORT_OFFSET=1000 make run)",
              file=sys.stderr)
        return 1
    print("starting Redis, gateway, telemetry, SEDA, orbit, billing and Envoy (logs in var/log/) ...", flush=True)
    try:
        mesh.start()
    except MeshError as error:
        print(f"make run: {error}", file=sys.stderr)
        return 1

    print(f"""
defrag is running at {mesh.public_url}

Create a key (it is printed once, on the last line):
  .venv/bin/defrag keys create --account acct_demo --tier pro

Then call the API:
  curl -H "Authorization: Bearer $KEY" "{mesh.public_url}/v1/telemetry/vectors?date=1990-01-15&time=14:30&lat=34.05&lon=-118.24"
  curl -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" -d '{{"journal_text": "A calm week; I slept well.", "locale": "en-US"}}' {mesh.public_url}/v1/seda/audit
  curl -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" -d '{{"people": [{{"name": "Ana", "role": "parent", "birth_data": {{"date": "1980-03-02", "time": "08:15", "lat": 51.5, "lon": -0.12}}}}, {{"name": "Ben", "role": "child", "birth_data": {{"date": "2012-07-19", "lat": 51.5, "lon": -0.12}}}}]}}' {mesh.public_url}/v1/orbit/map

Stripe webhook {mesh.public_url}/v1/stripe/webhook ({webhook_state()}; see docs/billing.md)
Admin API {mesh.admin_address} (token in var/admin.env), Envoy stats http://127.0.0.1:{mesh.ports.envoy_stats}/stats/prometheus
Press Ctrl-C to stop.""", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    healthy = supervise(mesh, stop)
    if not healthy:
        print("make run: stopping the mesh; see var/log/", file=sys.stderr)
    print("stopping ...", flush=True)
    mesh.stop()
    print("stopped.", flush=True)
    return 0 if healthy else 1


def webhook_state() -> str:
    """Summarises the billing settings that make run passes on, without their values."""
    modes = [mode for mode, name in (("live", "STRIPE_WEBHOOK_SECRET"), ("test", "STRIPE_WEBHOOK_SECRET_TEST"))
             if os.environ.get(name)]
    if not modes:
        return "replies 503 until STRIPE_WEBHOOK_SECRET is set"
    keys = [mode for mode, name in (("live", "STRIPE_API_KEY"), ("test", "STRIPE_API_KEY_TEST")) if os.environ.get(name)]
    api = f"Stripe API key for {' and '.join(keys)}" if keys else "no Stripe API key, so no reconcile"
    return f"signing secret for {' and '.join(modes)}; {api}"


def supervise(mesh: Mesh, stop: threading.Event) -> bool:
    """Restarts any process that exits until stop is set; returns False when one keeps crashing."""
    restarts: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
    while not stop.wait(1.0):
        for name, process in list(mesh.processes.items()):
            if process.poll() is None:
                continue
            recent = restarts[name]
            now = time.monotonic()
            while recent and now - recent[0] > RESTART_WINDOW_SECONDS:
                recent.popleft()
            if len(recent) >= MAX_RESTARTS:
                print(f"make run: {name} exited {MAX_RESTARTS + 1} times in {RESTART_WINDOW_SECONDS:g} s; stopping", file=sys.stderr)
                return False
            recent.append(now)
            print(f"make run: {name} exited with code {process.returncode}; restarting it (see var/log/{name}.log)",
                  file=sys.stderr, flush=True)
            try:
                mesh.restart(name)
            except MeshError as error:
                print(f"make run: {error}", file=sys.stderr)
    return True


if __name__ == "__main__":
    sys.exit(main())

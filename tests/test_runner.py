"""The local runner: restarts of crashed processes, and children that end with their parent."""

import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import LOS_ANGELES_1990, AdminClient, bearer, http, start_mesh
from defrag.mesh import Ports, last_log_line
from defrag.run import supervise

pytestmark = pytest.mark.integration


def test_crashed_service_is_restarted(tmp_path):
    mesh = start_mesh(tmp_path, gateways=1)
    stop = threading.Event()
    supervisor = threading.Thread(target=supervise, args=(mesh, stop))
    supervisor.start()
    try:
        _, _, key = AdminClient(mesh).account_with_key("pro")
        first = mesh.processes["telemetry-0"]

        first.kill()
        deadline = time.monotonic() + 30
        while mesh.processes["telemetry-0"] is first and time.monotonic() < deadline:
            time.sleep(0.2)
        replaced = mesh.processes["telemetry-0"] is not first
        reply = None
        while time.monotonic() < deadline:
            reply = http(mesh, "/v1/telemetry/vectors?" + LOS_ANGELES_1990, bearer(key))
            if reply.status == 200:
                break
            time.sleep(0.3)
    finally:
        stop.set()
        supervisor.join()
        mesh.stop()

    assert replaced
    assert reply is not None and reply.status == 200


def is_running(pid: int) -> bool:
    """Tells whether the process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = pathlib.Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def test_children_end_when_the_runner_is_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    runner = textwrap.dedent(f"""
        import pathlib, subprocess, sys, time
        from defrag.mesh import die_with_parent
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=die_with_parent)
        pathlib.Path({str(pid_file)!r}).write_text(str(child.pid))
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", runner])
    deadline = time.monotonic() + 20
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    child_pid = int(pid_file.read_text())

    parent.kill()
    parent.wait(10)
    alive = True
    while alive and time.monotonic() < deadline:
        alive = is_running(child_pid)
        time.sleep(0.1)

    assert not alive


def test_port_offset_moves_every_port():
    ports = Ports.defaults(gateway_workers=2).shifted(1000)

    assert (ports.public, ports.envoy_admin, ports.envoy_stats, ports.admin_api, ports.redis) == (9080, 10901, 10902, 51050, 7380)
    assert ports.gateway == [51061, 51062]
    assert ports.gateway_metrics == [10111, 10112]
    assert (ports.telemetry, ports.seda, ports.orbit) == ([51071], [51081], [51091])
    assert (ports.telemetry_metrics, ports.seda_metrics, ports.orbit_metrics) == ([10121], [10131], [10141])
    assert (ports.billing, ports.billing_metrics) == ([51101], [10151])


def test_port_offset_past_last_port_raises():
    with pytest.raises(ValueError, match="past 65535"):
        Ports.defaults().shifted(15445)


@pytest.mark.parametrize(("offset", "fragment"), [("20000", "past 65535"), ("-1", "outside 0..60000"), ("ten", "not an integer")])
def test_runner_rejects_bad_port_offset(offset, fragment):
    environment = dict(os.environ, DEFRAG_PORT_OFFSET=offset)
    result = subprocess.run([sys.executable, "-m", "defrag.run"], cwd=pathlib.Path(__file__).resolve().parent.parent,
                            env=environment, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "DEFRAG_PORT_OFFSET" in result.stderr
    assert fragment in result.stderr


def test_start_error_names_the_log_message(tmp_path):
    log = tmp_path / "seda-0.log"
    log.write_text('{"level":"info","message":"starting"}\n'
                   '{"level":"error","message":"invalid configuration: SEDA_ENCODER=\'yes\' is not one of on, off"}\n')

    assert last_log_line(log) == ": invalid configuration: SEDA_ENCODER='yes' is not one of on, off"
    assert last_log_line(tmp_path / "missing.log") == ""

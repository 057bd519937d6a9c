"""A real Redis Cluster of three primaries on loopback, and a second mesh of the session that uses it.

The wheel ships Redis 6.2 without redis-cli, so the cluster is built by
hand: each node starts with cluster mode on and its own nodes file, gets a
third of the 16384 slots with CLUSTER ADDSLOTS (6.2 has no ADDSLOTSRANGE),
and node 0 introduces the others with CLUSTER MEET. The cluster is ready
when every node reports cluster_state:ok and the same slot map.

Redis 6.2 always listens for the cluster bus on the client port + 10000,
so both ports of each node must be free.

A test module runs every test on both kinds of Redis with
`redis_kind, mesh, admin, public_channel = on_single_and_cluster()`: on the
single-server mesh of the session first, then on the cluster mesh.
"""

import dataclasses
import os
import pathlib
import random
import signal
import socket
import subprocess
import time

import grpc
import pytest
import redis

import billing_support
from defrag.mesh import Mesh, MeshError, Ports, die_with_parent, redis_server_binary, terminate

SLOT_COUNT = 16384
# Redis 6.2 puts the cluster bus on the client port plus this offset.
BUS_PORT_OFFSET = 10000
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
# Client ports are drawn from here, so that port + BUS_PORT_OFFSET stays
# below Linux's default ephemeral range (32768..60999) and below 65536.
PORT_RANGE = (12000, 22000)
TEST_TIERS = pathlib.Path(__file__).parent / "tiers.yaml"
REDIS_KINDS = ["single", "cluster"]


class ClusterStartError(Exception):
    """The cluster did not form in time; the message lists each node's view."""


def free_node_ports(count: int) -> list[int]:
    """Return count client ports on 127.0.0.1 whose cluster bus ports are free too.

    The probes stay bound until every port is chosen, so no port is handed
    out twice.
    """
    probes: list[socket.socket] = []
    chosen: list[int] = []
    try:
        for port in random.sample(range(*PORT_RANGE), 400):
            pair = []
            try:
                for candidate in (port, port + BUS_PORT_OFFSET):
                    probe = socket.socket()
                    pair.append(probe)
                    probe.bind(("127.0.0.1", candidate))
            except OSError:
                for probe in pair:
                    probe.close()
                continue
            probes += pair
            chosen.append(port)
            if len(chosen) == count:
                return chosen
        raise ClusterStartError(f"found only {len(chosen)} of {count} free port pairs in {PORT_RANGE}")
    finally:
        for probe in probes:
            probe.close()


def slot_ranges(primaries: int) -> list[range]:
    """Split the 16384 slots into contiguous, nearly equal ranges, one per primary."""
    bounds = [SLOT_COUNT * index // primaries for index in range(primaries + 1)]
    return [range(bounds[index], bounds[index + 1]) for index in range(primaries)]


@dataclasses.dataclass
class Node:
    """One redis-server of the cluster."""

    port: int
    directory: pathlib.Path
    slots: range
    process: subprocess.Popen | None = None

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=timeout, socket_connect_timeout=timeout)


class LocalRedisCluster:
    """Three (or more) cluster primaries, each in its own directory, and replicas that add_replica starts."""

    def __init__(self, directory: pathlib.Path, primaries: int = 3, node_timeout_ms: int = 3000):
        self.directory = directory
        # How long a node may go without replying before the others count it
        # as failing, and a replica may take over its slots.
        self.node_timeout_ms = node_timeout_ms
        ports = free_node_ports(primaries)
        self.nodes = [
            Node(port, directory / f"node-{index}", slots)
            for index, (port, slots) in enumerate(zip(ports, slot_ranges(primaries)))
        ]

    @property
    def url(self) -> str:
        """A redis:// URL of one node; a cluster client discovers the rest from it."""
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    # --- start ------------------------------------------------------------

    def start(self) -> "LocalRedisCluster":
        """Start every node, assign the slots, join the nodes and wait for agreement; stop all on failure."""
        try:
            for node in self.nodes:
                self._spawn(node)
            for node in self.nodes:
                self._wait_for_ping(node, time.monotonic() + READY_TIMEOUT_SECONDS)
            for index, node in enumerate(self.nodes):
                with node.client() as client:
                    # Distinct epochs spare the nodes a round of collision handling.
                    client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
                    client.execute_command("CLUSTER", "ADDSLOTS", *node.slots)
            with self.nodes[0].client() as first:
                for node in self.nodes[1:]:
                    first.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
            self.wait_until_agreed()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, node: Node) -> None:
        node.directory.mkdir(parents=True, exist_ok=True)
        log = open(node.directory / "redis.log", "ab")
        node.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port", str(node.port),
                "--bind", "127.0.0.1",
                "--protected-mode", "yes",
                "--dir", str(node.directory),
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(node.directory / "nodes.conf"),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                # A stopped primary without a replica leaves only its own
                # slots unserved, so the tests can show the other nodes
                # still serving their accounts.
                "--cluster-require-full-coverage", "no",
                # The append-only file keeps a node's data across the
                # restart of the node-failure test.
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
        )
        log.close()

    def _wait_for_ping(self, node: Node, deadline: float) -> None:
        while True:
            if node.process is not None and node.process.poll() is not None:
                raise ClusterStartError(
                    f"redis-server on port {node.port} exited with code {node.process.returncode}; "
                    f"see {node.directory / 'redis.log'}"
                )
            try:
                with node.client(timeout=0.5) as client:
                    if client.ping():
                        return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise ClusterStartError(f"redis-server on port {node.port} did not answer PING in time")
            time.sleep(0.05)

    def wait_until_agreed(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Wait until every running node reports cluster_state:ok and the same slot map; raise ClusterStartError."""
        deadline = time.monotonic() + timeout
        while True:
            views = self._views()
            maps = {view["slots"] for view in views.values()}
            if all(view["state"] == "ok" for view in views.values()) and len(maps) == 1 and None not in maps:
                return
            if time.monotonic() > deadline:
                described = "; ".join(
                    f"port {port}: state {view['state']}, {view['assigned']} slots assigned, {view['known']} nodes known"
                    for port, view in views.items()
                )
                raise ClusterStartError(
                    f"the cluster did not agree within {timeout:g} s ({len(maps)} different slot maps): {described}"
                )
            time.sleep(0.1)

    def _views(self) -> dict[int, dict]:
        """Return each running node's cluster state and slot map (ranges and owner ports)."""
        views = {}
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            view = {"state": "unreachable", "assigned": "?", "known": "?", "slots": None}
            try:
                with node.client(timeout=1.0) as client:
                    info = dict(
                        line.split(":", 1) for line in client.execute_command("CLUSTER", "INFO").splitlines() if ":" in line
                    )
                    view.update(state=info["cluster_state"], assigned=info["cluster_slots_assigned"],
                                known=info["cluster_known_nodes"])
                    slots = client.execute_command("CLUSTER", "SLOTS")
            except redis.RedisError:
                views[node.port] = view
                continue
            # Each entry of CLUSTER SLOTS is [first slot, last slot, [host, port, node id], replicas...].
            view["slots"] = tuple(sorted((int(entry[0]), int(entry[1]), int(entry[2][1])) for entry in slots))
            if int(info["cluster_slots_assigned"]) != SLOT_COUNT or int(info["cluster_known_nodes"]) != len(self.nodes):
                view["slots"] = None
            views[node.port] = view
        return views

    def add_replica(self, primary: int) -> int:
        """Start one more node as a replica of the primary, wait until it has the primary's data, return its index."""
        node = Node(free_node_ports(1)[0], self.directory / f"node-{len(self.nodes)}", range(0))
        self.nodes.append(node)
        self._spawn(node)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        self._wait_for_ping(node, deadline)
        primary_id = self.node_id(primary)
        with node.client() as client:
            client.execute_command("CLUSTER", "MEET", "127.0.0.1", self.nodes[primary].port)
            while primary_id not in client.execute_command("CLUSTER", "NODES"):
                if time.monotonic() > deadline:
                    raise ClusterStartError(f"the node on port {node.port} did not learn of the primary in time")
                time.sleep(0.05)
            client.execute_command("CLUSTER", "REPLICATE", primary_id)
            while client.info("replication").get("master_link_status") != "up":
                if time.monotonic() > deadline:
                    raise ClusterStartError(f"the replica on port {node.port} did not sync with its primary in time")
                time.sleep(0.05)
        self.wait_until_agreed()
        return len(self.nodes) - 1

    # --- queries ----------------------------------------------------------

    def node_of_slot(self, slot: int) -> int:
        """Return the index of the node that serves the slot, as start() assigned it."""
        return next(index for index, node in enumerate(self.nodes) if slot in node.slots)

    def keyslot(self, key: str) -> int:
        """Return the slot of the key as CLUSTER KEYSLOT computes it."""
        with self.nodes[0].client() as client:
            return int(client.execute_command("CLUSTER", "KEYSLOT", key))

    # --- slot migration ---------------------------------------------------

    def node_id(self, index: int) -> str:
        with self.nodes[index].client() as client:
            return client.execute_command("CLUSTER", "MYID")

    def begin_slot_migration(self, slot: int, source: int, target: int) -> None:
        """Mark the slot as moving from source to target and move every key it holds.

        Until finish_slot_migration, the source replies ASK for the slot's
        keys, which are all on the target now.
        """
        with self.nodes[target].client() as client:
            client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", self.node_id(source))
        with self.nodes[source].client() as client:
            client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", self.node_id(target))
            keys = client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000)
            if keys:
                client.execute_command("MIGRATE", "127.0.0.1", self.nodes[target].port, "", 0, 5000, "REPLACE", "KEYS", *keys)

    def finish_slot_migration(self, slot: int, target: int) -> None:
        """Give the slot to the target on every node, then wait until the nodes agree; later commands get MOVED."""
        target_id = self.node_id(target)
        for index in [target, *(i for i in range(len(self.nodes)) if i != target)]:
            with self.nodes[index].client() as client:
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        self.wait_until_agreed()

    def move_slot(self, slot: int, source: int, target: int) -> None:
        self.begin_slot_migration(slot, source, target)
        self.finish_slot_migration(slot, target)

    def restore_slot(self, slot: int, home: int) -> None:
        """Give the slot and its keys back to home after a migration, whether it finished or not."""
        with self.nodes[home].client() as client:
            owner_port = next(int(entry[2][1]) for entry in client.execute_command("CLUSTER", "SLOTS")
                              if int(entry[0]) <= slot <= int(entry[1]))
        owner = next(index for index, node in enumerate(self.nodes) if node.port == owner_port)
        if owner != home:
            self.move_slot(slot, owner, home)
            return
        # A node may MIGRATE keys of a slot that it does not serve only while
        # the slot is still marked as moving, so the keys go back first.
        for index, node in enumerate(self.nodes):
            with node.client() as client:
                keys = client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000) if index != home else []
                if keys:
                    client.execute_command("MIGRATE", "127.0.0.1", self.nodes[home].port, "", 0, 5000, "REPLACE", "KEYS", *keys)
        for node in self.nodes:
            with node.client() as client:
                client.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")

    # --- stop -------------------------------------------------------------

    def stop_node(self, index: int) -> None:
        """Stop one node with SIGTERM, which makes it write its append-only file; kill it after a timeout."""
        terminate(self.nodes[index].process, STOP_TIMEOUT_SECONDS)

    def pause_node(self, index: int) -> None:
        """Freeze one node with SIGSTOP: its kernel still accepts connections and data, but nothing replies.

        stop() resumes a paused node before it stops it, so a test that pauses
        a node inside the cluster's fixture cannot leave it frozen.
        """
        os.kill(self.nodes[index].process.pid, signal.SIGSTOP)

    def resume_node(self, index: int) -> None:
        """Let a node paused with pause_node run again (SIGCONT)."""
        process = self.nodes[index].process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)

    def primary_port_of_slot(self, slot: int, viewer: int) -> int | None:
        """Return the port of the slot's primary in the slot map of the node with index viewer, or None without a reply."""
        try:
            with self.nodes[viewer].client(timeout=0.5) as client:
                entries = client.execute_command("CLUSTER", "SLOTS")
        except redis.RedisError:
            return None
        return next((int(entry[2][1]) for entry in entries if int(entry[0]) <= slot <= int(entry[1])), None)

    def restart_node(self, index: int) -> None:
        """Start a stopped node again from its nodes file and data, and wait until the cluster agrees."""
        node = self.nodes[index]
        if node.process is not None and node.process.poll() is None:
            return
        self._spawn(node)
        self._wait_for_ping(node, time.monotonic() + READY_TIMEOUT_SECONDS)
        self.wait_until_agreed()

    def stop(self) -> None:
        """Stop every node; each keeps running for at most STOP_TIMEOUT_SECONDS."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                os.kill(node.process.pid, signal.SIGCONT)
                node.process.send_signal(signal.SIGTERM)
        for index in range(len(self.nodes)):
            self.stop_node(index)


@pytest.fixture(scope="session")
def cluster_mesh(redis_cluster, tmp_path_factory, stripe_api):
    """A second mesh for the session whose gateways, SEDA and billing use the Redis Cluster."""
    var = tmp_path_factory.mktemp("cluster-var")
    env = {**billing_support.billing_env(stripe_api.url), "REDIS_CLUSTER": "true"}

    def start() -> Mesh:
        return Mesh(var, Ports.free(), redis_url=redis_cluster.url, tiers=TEST_TIERS, env=env).start()

    try:
        running = start()
    except MeshError:
        # Another process took one of the free ports in between.
        running = start()
    yield running
    running.stop()


def on_single_and_cluster():
    """Return module fixtures redis_kind, mesh, admin and public_channel that run each test on one server, then on the cluster.

    The parameter belongs to redis_kind, not to mesh. A parametrized fixture
    named mesh would give its parameter to the session's mesh, which it
    overrides, and pytest would then restart that mesh for every module.
    """
    from conftest import AdminClient

    @pytest.fixture(scope="module", params=REDIS_KINDS, name="redis_kind")
    def redis_kind_fixture(request):
        return request.param

    @pytest.fixture(scope="module", name="mesh")
    def mesh_fixture(redis_kind, request):
        # Inside a fixture named mesh, "mesh" is the session fixture that this one overrides.
        return request.getfixturevalue("mesh" if redis_kind == "single" else "cluster_mesh")

    @pytest.fixture(scope="module", name="admin")
    def admin_fixture(mesh):
        client = AdminClient(mesh)
        yield client
        client.channel.close()

    @pytest.fixture(scope="module", name="public_channel")
    def public_channel_fixture(mesh):
        channel = grpc.insecure_channel(f"127.0.0.1:{mesh.ports.public}")
        yield channel
        channel.close()

    return redis_kind_fixture, mesh_fixture, admin_fixture, public_channel_fixture

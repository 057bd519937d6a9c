"""Redis connections for the gateway's hot path that pipeline concurrent commands.

Commands issued by concurrent decisions within one event-loop turn go out in
one write, and replies come back in order, so a burst of N decisions costs
one round trip and a few system calls instead of N. Parsing and packing use
hiredis (C). Admin operations keep using redis-py.

A watchdog fails each command that has waited longer than the timeout, so
a frozen Redis gives the caller an error in bounded time rather than a
hang. A connection stays open while it has commands in flight, so late
replies still line up with their commands. A caller that passes
on_late_reply gets the reply of a command that it stopped waiting for
(timed out or cancelled), because a script may have written before Redis
stalled. When nothing has come back on a connection for DEAD_AFTER_TIMEOUTS
timeouts, it is retired and new commands go to a new connection. The old
one is closed only once every command sent on it has timed out, so no
script sent on it can still run within its deadline. Replies that arrive
after that close are lost.

On a Redis Cluster, ClusterPipelinedRedis keeps one such client per primary
and sends each command to the primary that serves its key's slot. A command
that times out, or that its caller stops waiting for, starts a refresh of
the slot map, so that the client follows a failover even when the old
primary hangs without closing its connections.
"""

import asyncio
import collections
import math
import time
import urllib.parse
from collections.abc import Callable

import hiredis
from redis.crc import key_slot

from defrag.platform.redis_client import Script

# A connection on which the oldest waiting command has waited this many
# timeouts is presumed dead and retired.
DEAD_AFTER_TIMEOUTS = 4
# After a failed connect, callers fail at once for this long instead of
# queueing one connect attempt after another.
RECONNECT_PAUSE_SECONDS = 0.25
# A Redis Cluster's slot map is read again at most this often after
# redirects and unreachable nodes.
REFRESH_PAUSE_SECONDS = 1.0
SLOT_COUNT = 16384

# Called with the reply (a hiredis.ReplyError for an error reply) of a
# command whose caller stopped waiting for it, in a later turn of the event loop.
LateReplyHandler = Callable[[object], None]


class PipelineError(Exception):
    """Redis could not be reached, failed, or did not respond in time.

    `node` is the host:port of the Redis node, or "" when no node is known.
    `timed_out` is true when the node did not reply in time.
    """

    def __init__(self, message: str, node: str = "", *, timed_out: bool = False):
        super().__init__(message)
        self.node = node
        self.timed_out = timed_out


class ScriptError(Exception):
    """Redis ran the command and returned an error reply; `node` is the host:port of the node that replied."""

    def __init__(self, message: str, node: str = ""):
        super().__init__(message)
        self.node = node


class _Connection(asyncio.Protocol):
    """One TCP connection to the node named host:port and the commands waiting on it, in send order."""

    def __init__(self, node: str):
        self.node = node
        self.reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self.transport: asyncio.Transport | None = None
        self.pending: collections.deque[tuple[float, asyncio.Future, LateReplyHandler | None]] = collections.deque()
        self.outgoing: list[bytes] = []
        self.flush_scheduled = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes):
        self.reader.feed(data)
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            if not self.pending:
                self.close(PipelineError(f"Redis at {self.node} sent a reply that no command was waiting for", self.node))
                return
            _, future, on_late_reply = self.pending.popleft()
            if not future.done():
                future.set_result(reply)
            elif on_late_reply is not None:
                future.get_loop().call_soon(on_late_reply, reply)

    def connection_lost(self, error):
        self.fail_pending(PipelineError(f"connection to Redis at {self.node} lost: {error or 'closed by the server'}", self.node))

    def send(self, command, on_late_reply: LateReplyHandler | None = None) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((time.monotonic(), future, on_late_reply))
        self.outgoing.append(hiredis.pack_command(command))
        if not self.flush_scheduled:
            self.flush_scheduled = True
            loop.call_soon(self.flush)
        return future

    def flush(self) -> None:
        self.flush_scheduled = False
        data, self.outgoing = b"".join(self.outgoing), []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def expire(self, timeout: float, now: float) -> None:
        """Fails every command that has waited longer than the timeout, keeping its place in the queue."""
        for sent, future, _ in self.pending:
            if now - sent <= timeout:
                break
            if not future.done():
                future.set_exception(PipelineError(f"Redis at {self.node} did not respond within {timeout:g} s", self.node, timed_out=True))

    def fail_pending(self, error: Exception) -> None:
        while self.pending:
            future = self.pending.popleft()[1]
            if not future.done():
                future.set_exception(error)
        self.outgoing = []

    def close(self, error: Exception) -> None:
        if self.transport is not None:
            self.transport.abort()
        self.fail_pending(error)

    @property
    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing()


def _checked(reply, node: str):
    """Returns the reply, or raises ScriptError for an error reply."""
    if isinstance(reply, hiredis.ReplyError):
        raise ScriptError(str(reply), node)
    return reply


async def _checked_reply(future: asyncio.Future, node: str, on_late_reply: LateReplyHandler | None):
    """Awaits a command's reply and returns it, raising ScriptError for an error reply.

    A reply that arrives after the caller was cancelled goes to on_late_reply.
    """
    try:
        reply = await future
    except asyncio.CancelledError:
        _pass_on_unread_reply(future, on_late_reply)
        raise
    return _checked(reply, node)


def _pass_on_unread_reply(future: asyncio.Future, on_late_reply: LateReplyHandler | None) -> None:
    """Passes a reply that arrived but that a cancelled caller never read to on_late_reply.

    A task cancelled in the turn between the reply's arrival and its own
    wake-up raises CancelledError with the reply already in the future, so
    _Connection.data_received did not pass it on.
    """
    if on_late_reply is not None and future.done() and not future.cancelled() and future.exception() is None:
        future.get_loop().call_soon(on_late_reply, future.result())


class PipelinedRedis:
    """Pipelined connections to a redis:// URL: one in use, and any being retired."""

    def __init__(self, url: str, timeout_seconds: float):
        parts = _split_url(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.name = f"{self.host}:{self.port}"
        self.password = urllib.parse.unquote(parts.password) if parts.password else None
        self.username = urllib.parse.unquote(parts.username) if parts.username else None
        database = parts.path.lstrip("/") or "0"
        if not database.isascii() or not database.isdigit():
            raise ValueError("the path of the URL must be empty or a database number, such as /0")
        self.db = int(database)
        self.timeout = timeout_seconds
        self._current: _Connection | None = None
        self._retiring: list[_Connection] = []
        self._connecting: asyncio.Lock | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._connect_error: tuple[float, str] | None = None

    async def _connect(self) -> _Connection:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._current is not None and not self._current.closed:
                return self._current
            if self._connect_error and time.monotonic() - self._connect_error[0] < RECONNECT_PAUSE_SECONDS:
                raise PipelineError(self._connect_error[1], self.name)
            loop = asyncio.get_running_loop()
            try:
                _, connection = await asyncio.wait_for(
                    loop.create_connection(lambda: _Connection(self.name), self.host, self.port), self.timeout
                )
            except (OSError, asyncio.TimeoutError) as error:
                message = f"cannot connect to Redis at {self.name}: {error or 'timed out'}"
                self._connect_error = (time.monotonic(), message)
                raise PipelineError(message, self.name) from None
            self._connect_error = None
            await self._authenticate(connection)
            self._current = connection
            if self._watchdog is None:
                self._arm_watchdog()
            return connection

    async def _authenticate(self, connection: _Connection) -> None:
        setup = []
        if self.password:
            setup.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            setup.append(("SELECT", self.db))
        for command in setup:
            try:
                reply = await asyncio.wait_for(connection.send(command), self.timeout)
            except asyncio.TimeoutError:
                reply = "no reply"
            if not reply == "OK":
                connection.close(PipelineError(f"Redis at {self.name} rejected {command[0]}", self.name))
                raise PipelineError(f"Redis at {self.name} rejected {command[0]}: {reply}", self.name)

    def _arm_watchdog(self) -> None:
        self._watchdog = asyncio.get_running_loop().call_later(min(self.timeout, 0.1), self._check_timeouts)

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        current = self._current
        if current is not None:
            current.expire(self.timeout, now)
            if current.pending and now - current.pending[0][0] > DEAD_AFTER_TIMEOUTS * self.timeout:
                # Nothing came back for several timeouts: send new commands
                # on a new connection, and keep this one until its commands
                # have all timed out.
                self._current = None
                self._retiring.append(current)
        for connection in list(self._retiring):
            connection.expire(self.timeout, now)
            if not connection.pending or now - connection.pending[-1][0] > self.timeout:
                connection.close(PipelineError(f"connection to Redis at {self.name} retired", self.name))
                self._retiring.remove(connection)
        self._arm_watchdog()

    async def _connection(self) -> _Connection:
        connection = self._current
        if connection is None or connection.closed:
            connection = await self._connect()
        return connection

    def node_of(self, key: str) -> str:
        """Returns the name of the node that serves the key: "" for the one server."""
        return ""

    def address_of(self, key: str) -> str:
        """Returns the host:port of the server, for logs."""
        return self.name

    @property
    def busy(self) -> bool:
        """True while a command sent on any connection still waits for its reply or its timeout."""
        return any(connection.pending for connection in [self._current, *self._retiring] if connection is not None)

    async def execute(self, *command, key: str | None = None, on_late_reply: LateReplyHandler | None = None):
        """Sends one command and returns its reply; raises PipelineError or ScriptError.

        `key` picks the node on a cluster; one server ignores it. When the
        caller stops waiting (a timeout, or its task is cancelled) and the
        reply still comes on the open connection, on_late_reply gets it.
        """
        connection = await self._connection()
        return await _checked_reply(connection.send(command, on_late_reply), self.name, on_late_reply)

    async def execute_asking(self, *command, on_late_reply: LateReplyHandler | None = None):
        """Sends ASKING and the command back to back on one connection, as an ASK redirect requires."""
        connection = await self._connection()
        asking = connection.send(("ASKING",))
        future = connection.send(command, on_late_reply)
        try:
            _checked(await asking, self.name)
        except BaseException:
            # The caller no longer waits for the command, so its reply goes
            # to on_late_reply: later, or now if it came with ASKING's.
            if not future.cancel():
                _pass_on_unread_reply(future, on_late_reply)
            raise
        return await _checked_reply(future, self.name, on_late_reply)

    async def run_script(
        self, script: Script, keys: list[str], args: list, on_late_reply: LateReplyHandler | None = None
    ) -> list:
        """Runs a Lua script by its SHA-1, loading it first if the server does not have it.

        on_late_reply gets the script's reply if it comes after the caller stopped waiting (see execute).
        """
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args, on_late_reply=on_late_reply)
        except ScriptError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        await self.execute("SCRIPT", "LOAD", script.source)
        return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args, on_late_reply=on_late_reply)

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for connection in [self._current, *self._retiring]:
            if connection is not None:
                connection.close(PipelineError("closed", self.name))
        self._current = None
        self._retiring = []


def _split_url(url: str) -> urllib.parse.SplitResult:
    """Splits a redis:// URL; raises ValueError, whose message never contains the URL (it may contain a password)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "redis":
        raise ValueError(f"the pipelined client takes redis:// URLs, not {parts.scheme[:20]}://")
    try:
        parts.port
    except ValueError:
        raise ValueError("the port of the URL is not a number from 0 to 65535") from None
    return parts


def _redirect(error: ScriptError, fallback_host: str) -> tuple[str, int, str] | None:
    """Returns (kind, slot, node) of a MOVED or ASK reply ("MOVED 3999 10.0.0.7:6381"), else None."""
    parts = str(error).split()
    if len(parts) != 3 or parts[0] not in ("MOVED", "ASK"):
        return None
    host, _, port = parts[2].rpartition(":")
    # Redis sends an empty host when the node does not know its own address;
    # that means the host of the node that sent the reply.
    return parts[0], int(parts[1]), f"{host or fallback_host}:{port}"


class ClusterPipelinedRedis:
    """Pipelined connections to the primaries of a Redis Cluster, one PipelinedRedis per primary.

    Each command goes to the primary that serves its key's slot, by a slot
    map read with CLUSTER SLOTS. A MOVED reply updates the map's slot and
    starts a refresh of the whole map. An ASK reply (a slot being migrated)
    sends ASKING and the command to the named node. Either way the command
    is sent once more and no more, so a second redirect is raised as a
    ScriptError. A node that cannot be reached, does not reply in time, or
    whose command the caller cancels also starts a refresh, because a
    replica may have taken its place. Such a node is asked for the slot map
    last, after the nodes that replied.
    """

    def __init__(self, url: str, timeout_seconds: float):
        self._parts = _split_url(url)
        if self._parts.path.strip("/") not in ("", "0"):
            raise ValueError("a Redis Cluster has only database 0, so the path of the URL must be empty or /0")
        self._seed = f"{self._parts.hostname or '127.0.0.1'}:{self._parts.port or 6379}"
        self.timeout = timeout_seconds
        self._slots: list[str | None] = [None] * SLOT_COUNT
        self._nodes: dict[str, PipelinedRedis] = {}
        self._refreshing: asyncio.Lock | None = None
        self._refreshed_at = -math.inf
        self._background: set[asyncio.Task] = set()
        self._refresh_task: asyncio.Task | None = None
        # When each node last failed or stalled a command (time.monotonic()).
        self._stalled_at: dict[str, float] = {}

    def _node(self, name: str) -> PipelinedRedis:
        node = self._nodes.get(name)
        if node is None:
            host, _, port = name.rpartition(":")
            netloc = f"[{host}]:{port}" if ":" in host else name
            if self._parts.username or self._parts.password:
                netloc = self._parts.netloc.rpartition("@")[0] + "@" + netloc
            node = self._nodes[name] = PipelinedRedis(f"redis://{netloc}/0", self.timeout)
        return node

    def node_of(self, key: str) -> str | None:
        """Returns the name (host:port) of the primary that serves the key, or None before the slot map is read."""
        return self._slots[key_slot(key.encode())]

    def address_of(self, key: str) -> str:
        """Returns the host:port of the key's primary for logs, or "" before the slot map is read."""
        return self.node_of(key) or ""

    async def refresh(self) -> None:
        """Reads the slot map with CLUSTER SLOTS from a known primary or the URL's node; raises PipelineError."""
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        started = time.monotonic()
        async with self._refreshing:
            if self._refreshed_at >= started:
                return
            known = dict.fromkeys([*filter(None, self._slots), self._seed])
            # A stalled node costs a whole timeout, so it is asked last.
            candidates = sorted(known, key=lambda name: self._stalled_at.get(name, -math.inf))
            failures = []
            for name in candidates:
                try:
                    reply = await self._node(name).execute("CLUSTER", "SLOTS")
                except (PipelineError, ScriptError) as error:
                    failures.append(f"{name}: {error}")
                    continue
                self._apply_slot_map(reply, name.rpartition(":")[0])
                self._refreshed_at = time.monotonic()
                return
            raise PipelineError(f"no Redis Cluster node returned its slot map ({'; '.join(failures)[:300]})")

    def _apply_slot_map(self, reply: list, answering_host: str) -> None:
        slots: list[str | None] = [None] * SLOT_COUNT
        for first, last, primary, *_replicas in reply:
            host, port = primary[0], primary[1]
            name = f"{host or answering_host}:{port}"
            slots[int(first):int(last) + 1] = [name] * (int(last) - int(first) + 1)
        self._slots = slots
        self._forget_idle_nodes(set(slots))

    def _forget_idle_nodes(self, primaries: set[str | None]) -> None:
        """Closes the clients of nodes that no longer serve a slot and wait for no reply.

        A node that still has commands in flight keeps its client until a
        later refresh, so those commands time out as usual and none of them
        fails before its deadline.
        """
        for name, node in list(self._nodes.items()):
            if name not in primaries and name != self._seed and not node.busy:
                del self._nodes[name]
                self._stalled_at.pop(name, None)
                task = asyncio.ensure_future(node.close())
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    def _refresh_soon(self) -> None:
        """Starts a background refresh unless one is running or the last one ended within REFRESH_PAUSE_SECONDS."""
        if self._refresh_task is not None or time.monotonic() - self._refreshed_at < REFRESH_PAUSE_SECONDS:
            return
        task = self._refresh_task = asyncio.ensure_future(self._refresh_quietly())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _node_stalled(self, name: str) -> None:
        """Notes that a node failed a command or left it unanswered, and starts a refresh of the slot map."""
        self._stalled_at[name] = time.monotonic()
        self._refresh_soon()

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except PipelineError:
            # The next failed command starts another refresh. Until then the old map stays in use.
            self._refreshed_at = time.monotonic()
        finally:
            self._refresh_task = None

    async def _routed(self, key: str, send, send_asking):
        """Runs send(node) on the key's primary, following one MOVED or ASK redirect."""
        slot = key_slot(key.encode())
        name = self._slots[slot]
        if name is None:
            await self.refresh()
            name = self._slots[slot]
            if name is None:
                raise PipelineError(f"no Redis Cluster node serves slot {slot}")
        try:
            return await send(self._node(name))
        except (PipelineError, asyncio.CancelledError):
            # A caller that gives up before the pipeline's own timeout (the
            # gateway's decision budget is shorter) cancels the command, so
            # a hung primary shows up here as cancellations and never as
            # PipelineError. Either way the map may name a new primary now.
            self._node_stalled(name)
            raise
        except ScriptError as error:
            redirect = _redirect(error, name.rpartition(":")[0])
            if redirect is None:
                raise
            kind, _, target = redirect
        if kind == "ASK":
            return await send_asking(self._node(target))
        self._slots[slot] = target
        self._refresh_soon()
        return await send(self._node(target))

    async def execute(self, *command, key: str):
        """Sends one command to the primary that serves the key's slot and returns its reply."""
        return await self._routed(key, lambda node: node.execute(*command), lambda node: node.execute_asking(*command))

    async def run_script(
        self, script: Script, keys: list[str], args: list, on_late_reply: LateReplyHandler | None = None
    ) -> list:
        """Runs a Lua script on the primary that serves its keys' slot, loading it there if that node lacks it.

        on_late_reply gets the script's reply if it comes after the caller
        stopped waiting (see PipelinedRedis.execute).
        """
        return await self._routed(
            keys[0],
            lambda node: node.run_script(script, keys, args, on_late_reply),
            # Scripts are cached per node, so the node of an ASK gets the source.
            lambda node: node.execute_asking("EVAL", script.source, len(keys), *keys, *args, on_late_reply=on_late_reply),
        )

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        for node in self._nodes.values():
            await node.close()

"""A Redis connection for the gateway's hot path that pipelines concurrent commands.

Commands issued by concurrent decisions within one event-loop turn go out in
one write, and replies come back in order, so a burst of N decisions costs
one round trip and a few system calls instead of N. Parsing and packing use
hiredis (C). Admin operations keep using redis-py.

A watchdog fails each command that has waited longer than the timeout, so
a frozen Redis gives the caller an error in bounded time rather than a
hang. A connection stays open while it has commands in flight, so late
replies still line up with their commands. When nothing has come back on
it for DEAD_AFTER_TIMEOUTS timeouts, it is retired and new commands go to a
new connection. The old one is closed only once every command sent on it
has timed out, so no script sent on it can still run within its deadline.
"""

import asyncio
import collections
import hashlib
import time
import urllib.parse

import hiredis

# A connection on which the oldest waiting command has waited this many
# timeouts is presumed dead and retired.
DEAD_AFTER_TIMEOUTS = 4
# After a failed connect, callers fail at once for this long instead of
# queueing one connect attempt after another.
RECONNECT_PAUSE_SECONDS = 0.25


class PipelineError(Exception):
    """Redis could not be reached, failed, or did not respond in time."""


class ScriptError(Exception):
    """Redis ran the command and returned an error reply."""


class _Connection(asyncio.Protocol):
    """One TCP connection and the commands waiting on it, in send order."""

    def __init__(self):
        self.reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self.transport: asyncio.Transport | None = None
        self.pending: collections.deque[tuple[float, asyncio.Future]] = collections.deque()
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
                self.close(PipelineError("Redis sent a reply that no command was waiting for"))
                return
            future = self.pending.popleft()[1]
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, error):
        self.fail_pending(PipelineError(f"connection to Redis lost: {error or 'closed by the server'}"))

    def send(self, command) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((time.monotonic(), future))
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
        for sent, future in self.pending:
            if now - sent <= timeout:
                break
            if not future.done():
                future.set_exception(PipelineError(f"Redis did not respond within {timeout:g} s"))

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


class Script:
    """A Lua script's source and SHA-1, computed once."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


class PipelinedRedis:
    """Pipelined connections to a redis:// URL: one in use, and any being retired."""

    def __init__(self, url: str, timeout_seconds: float):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "redis":
            raise ValueError(f"the pipelined client takes redis:// URLs, not {parts.scheme}://")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.password = urllib.parse.unquote(parts.password) if parts.password else None
        self.username = urllib.parse.unquote(parts.username) if parts.username else None
        self.db = int(parts.path.lstrip("/") or 0)
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
                raise PipelineError(self._connect_error[1])
            loop = asyncio.get_running_loop()
            try:
                _, connection = await asyncio.wait_for(
                    loop.create_connection(_Connection, self.host, self.port), self.timeout
                )
            except (OSError, asyncio.TimeoutError) as error:
                message = f"cannot connect to Redis at {self.host}:{self.port}: {error or 'timed out'}"
                self._connect_error = (time.monotonic(), message)
                raise PipelineError(message) from None
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
                connection.close(PipelineError(f"Redis rejected {command[0]}"))
                raise PipelineError(f"Redis rejected {command[0]}: {reply}")

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
                connection.close(PipelineError("connection to Redis retired"))
                self._retiring.remove(connection)
        self._arm_watchdog()

    async def execute(self, *command):
        """Sends one command and returns its reply; raises PipelineError or ScriptError."""
        connection = self._current
        if connection is None or connection.closed:
            connection = await self._connect()
        reply = await connection.send(command)
        if isinstance(reply, hiredis.ReplyError):
            raise ScriptError(str(reply))
        return reply

    async def run_script(self, script: Script, keys: list[str], args: list) -> list:
        """Runs a Lua script by its SHA-1, loading it first if the server does not have it."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except ScriptError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        await self.execute("SCRIPT", "LOAD", script.source)
        return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for connection in [self._current, *self._retiring]:
            if connection is not None:
                connection.close(PipelineError("closed"))
        self._current = None
        self._retiring = []

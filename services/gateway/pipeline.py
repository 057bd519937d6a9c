"""A Redis connection for the gateway's hot path that pipelines concurrent commands.

Commands issued by concurrent decisions within one event-loop turn go out in
one write, and replies come back in order, so a burst of N decisions costs
one round trip and a few system calls instead of N. Parsing and packing use
hiredis (C). Admin operations keep using redis-py.

A watchdog fails each command that has waited longer than the timeout, so
a frozen Redis gives the caller an error in bounded time rather than a
hang. The connection stays open, so late replies still line up with their
commands. It is dropped only when every waiting command has timed out and
the oldest has waited DEAD_AFTER_TIMEOUTS timeouts.
"""

import asyncio
import collections
import hashlib
import time
import urllib.parse

import hiredis


# A connection whose commands have all timed out, the oldest this many
# timeouts ago, is presumed dead and replaced.
DEAD_AFTER_TIMEOUTS = 4
# After a failed connect, callers fail at once for this long instead of
# queueing one connect attempt after another.
RECONNECT_PAUSE_SECONDS = 0.25


class PipelineError(Exception):
    """Redis could not be reached, failed, or did not respond in time."""


class ScriptError(Exception):
    """Redis ran the command and returned an error reply."""


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: "PipelinedRedis"):
        self.owner = owner
        self.reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes):
        self.reader.feed(data)
        pending = self.owner.pending
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            if not pending:
                self.owner.fail(PipelineError("Redis sent a reply that no command was waiting for"))
                return
            future = pending.popleft()[1]
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, error):
        self.owner.fail(PipelineError(f"connection to Redis lost: {error or 'closed by the server'}"))


class Script:
    """A Lua script's source and SHA-1, computed once."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


class PipelinedRedis:
    """One pipelined connection to a redis:// URL, reconnecting on demand."""

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
        self.pending: collections.deque[tuple[float, asyncio.Future]] = collections.deque()
        self._protocol: _Protocol | None = None
        self._outgoing: list[bytes] = []
        self._flush_scheduled = False
        self._connecting: asyncio.Lock | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._connect_error: tuple[float, str] | None = None

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._protocol is not None:
                return self._protocol
            if self._connect_error and time.monotonic() - self._connect_error[0] < RECONNECT_PAUSE_SECONDS:
                raise PipelineError(self._connect_error[1])
            loop = asyncio.get_running_loop()
            try:
                _, protocol = await asyncio.wait_for(
                    loop.create_connection(lambda: _Protocol(self), self.host, self.port), self.timeout
                )
            except (OSError, asyncio.TimeoutError) as error:
                message = f"cannot connect to Redis at {self.host}:{self.port}: {error or 'timed out'}"
                self._connect_error = (time.monotonic(), message)
                raise PipelineError(message) from None
            self._connect_error = None
            self._protocol = protocol
            self._arm_watchdog()
            setup = []
            if self.password:
                setup.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
            if self.db:
                setup.append(("SELECT", self.db))
            for command in setup:
                reply = await self._send(protocol, command)
                if isinstance(reply, hiredis.ReplyError):
                    self.fail(PipelineError(f"Redis rejected {command[0]}: {reply}"))
                    raise PipelineError(f"Redis rejected {command[0]}: {reply}")
            return protocol

    def _send(self, protocol: _Protocol, command) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((time.monotonic(), future))
        self._outgoing.append(hiredis.pack_command(command))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush, protocol)
        return future

    def _flush(self, protocol: _Protocol) -> None:
        self._flush_scheduled = False
        data, self._outgoing = b"".join(self._outgoing), []
        if protocol is self._protocol and protocol.transport is not None and not protocol.transport.is_closing():
            protocol.transport.write(data)

    def _arm_watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(min(self.timeout, 0.1), self._check_timeouts)

    def _check_timeouts(self) -> None:
        if self._protocol is None:
            return
        now = time.monotonic()
        for sent, future in self.pending:
            if now - sent <= self.timeout:
                break
            if not future.done():
                future.set_exception(PipelineError(f"Redis did not respond within {self.timeout:g} s"))
        if self.pending and now - self.pending[-1][0] > self.timeout and \
                now - self.pending[0][0] > DEAD_AFTER_TIMEOUTS * self.timeout:
            self.fail(PipelineError(f"no reply from Redis for {DEAD_AFTER_TIMEOUTS * self.timeout:g} s; reconnecting"))
            return
        self._arm_watchdog()

    def fail(self, error: Exception) -> None:
        """Drops the connection and fails every command still waiting for a reply."""
        protocol, self._protocol = self._protocol, None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.abort()
        while self.pending:
            future = self.pending.popleft()[1]
            if not future.done():
                future.set_exception(error)
        self._outgoing = []

    async def execute(self, *command):
        """Sends one command and returns its reply; raises PipelineError or ScriptError."""
        protocol = self._protocol or await self._connect()
        reply = await self._send(protocol, command)
        if isinstance(reply, hiredis.ReplyError):
            raise ScriptError(str(reply))
        return reply

    async def run_script(self, script: "Script", keys: list[str], args: list) -> list:
        """Runs a Lua script by its SHA-1, loading it first if the server does not have it."""
        sha, source = script.sha, script.source
        try:
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)
        except ScriptError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        await self.execute("SCRIPT", "LOAD", source)
        return await self.execute("EVALSHA", sha, len(keys), *keys, *args)

    async def close(self) -> None:
        self.fail(PipelineError("closed"))
